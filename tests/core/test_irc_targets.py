"""The IRC adapter's lists of targets and what a list costs (``core/irc.py``), sans I/O: too many
targets are answered with one 407, ``JOIN 0`` is one line however many channels it leaves, and
the server's own name is nobody's nick."""

from __future__ import annotations

import pytest

from tcpchat.core import codes, irc_wire
from tcpchat.core import commands as cmd
from tcpchat.core import events as ev
from tcpchat.core.limits import HubLimits
from tcpchat.core.output import ToSessions
from tests.core.test_irc import NOW, Harness

TOO_MANY = "Too many targets: only the first 8 were taken"


def test_targets_past_the_limit_get_one_407_after_the_first_eight_are_carried_out() -> None:
    """As ngircd answers a PRIVMSG to more than its 25 recipients: the first ones are served,
    then one 407 names the first target left out (and nothing is said of the others)."""
    chat = Harness()
    ann = chat.registered("ann")
    channels = ",".join(f"#c{i}" for i in range(12))
    joined = chat.send(ann, f"JOIN {channels}")
    assert joined.count(" 366 ") == 8 and joined.count(" 407 ") == 1
    assert joined.endswith(f":irc.test 407 ann #c8 :{TOO_MANY}\r\n"), joined
    assert [room.name for room in ann.session.rooms][1:] == [f"#c{i}" for i in range(8)]

    names = chat.send(ann, f"NAMES {channels}")
    assert names.count(" 366 ") == 8 and names.count(" 407 ") == 1
    assert names.endswith(f":irc.test 407 ann #c8 :{TOO_MANY}\r\n"), names

    nicks = ",".join(f"n{i}" for i in range(20))
    sent = chat.send(ann, f"PRIVMSG {nicks} :hi")
    assert sent.count(" 401 ") == 8 and sent.count(" 407 ") == 1
    assert sent.endswith(f":irc.test 407 ann n8 :{TOO_MANY}\r\n"), sent
    # ngircd answers a NOTICE's excess too: the sender learns that part of it went nowhere.
    assert chat.send(ann, f"NOTICE {nicks} :hi") == f":irc.test 407 ann n8 :{TOO_MANY}\r\n"

    parted = chat.send(ann, f"PART {channels}")
    assert parted.count(" PART ") == 8
    assert parted.endswith(f":irc.test 407 ann #c8 :{TOO_MANY}\r\n"), parted


def test_eight_targets_or_repeats_of_one_are_not_too_many() -> None:
    chat = Harness()
    ann, bob = chat.registered("ann"), chat.registered("bob")
    assert " 407 " not in chat.send(ann, "NAMES " + ",".join(f"#c{i}" for i in range(8)))
    assert " 407 " not in chat.send(ann, "PRIVMSG " + ",".join(["bob"] * 30) + " :hi")
    assert " 407 " not in chat.send(ann, "JOIN " + ",".join(["#ops"] * 30))
    assert [room.name for room in bob.session.rooms] == ["#lobby"]
    # A repeat written otherwise (case, a look-alike) is the same target: one answer, no 407.
    spellings = ["#lobby", "#LOBBY", "#Lobby", "#lObby", "#loBby", "#lobBy", "#lobbY", "#LObby"]
    names = chat.send(ann, "NAMES " + ",".join(spellings + ["#LOBby"]))
    assert names.count(" 353 ") == 1 and names.count(" 366 ") == 1 and " 407 " not in names
    assert chat.send(ann, "PRIVMSG BOB,Bob,bob,bOb :once").count("407") == 0


def test_join_0_leaves_every_channel_for_the_price_of_one_line() -> None:
    """A user in 12 channels (more than the flood burst) leaves them all with one JOIN 0, and
    has the rest of the burst left for what follows."""
    chat = Harness()
    ann = chat.registered("ann")
    chat.send(ann, "JOIN #a0,#a1,#a2,#a3,#a4,#a5", "JOIN #b0,#b1,#b2,#b3,#b4,#b5")
    assert len(ann.session.rooms) == 13
    chat.hub.config = HubLimits(flood_burst=3, flood_rate=0.001, flood_max_refused=2)
    left = chat.send(ann, "JOIN 0")
    assert "Slow down" not in left and left.count(" PART ") == 13, left
    assert ann.session.rooms == []
    assert "Slow down" not in chat.send(ann, "JOIN #again", "PRIVMSG #again :back")
    assert "Slow down" in chat.send(ann, "PRIVMSG #again :one too many")


def test_join_0_tells_the_others_in_each_channel() -> None:
    chat = Harness()
    ann, bob = chat.registered("ann"), chat.registered("bob")
    chat.send(bob, "JOIN #ops")
    chat.send(ann, "JOIN #ops,#dev")
    steps = ann.receive("JOIN 0", NOW)
    told = [
        item.event
        for step in steps
        for item in getattr(step, "out", [])
        if isinstance(item, ToSessions) and bob.session in item.to
    ]
    assert [(e.name, e.room) for e in told if isinstance(e, ev.Left)] == [("ann", "#ops")]


def test_the_servers_own_name_is_nobodys_nick_nor_a_look_alike_of_it() -> None:
    """Otherwise ``vm!~u@vm`` could pass for the server ``vm`` in a client's window."""
    chat = Harness(server_name="vm")
    for nick in ("vm", "VM", "vm_", "ｖｍ"):
        answer = chat.send(chat.irc(), f"NICK {nick}", "USER u 0 * :Real")
        assert answer.startswith(f":vm 432 * {nick} :The name "), (nick, answer)
    ivy = chat.registered("ivy")
    renamed = chat.send(ivy, "NICK Vm")
    assert renamed == ':vm 432 ivy Vm :The name "Vm" is reserved. Choose another one.\r\n'
    assert ivy.session.name == "ivy"


def test_the_servers_own_name_is_refused_to_native_users_too() -> None:
    chat = Harness(server_name="vm")
    session, _ = chat.hub.connect("127.0.0.1:2", NOW)
    out = chat.hub.handle(session, cmd.Say("VM", "VM"), NOW)
    errors = [i.event for i in out if isinstance(i, ToSessions) and isinstance(i.event, ev.Error)]
    assert [(e.code, e.text) for e in errors] == [
        (codes.NAME_RESERVED, 'The name "VM" is reserved. Choose another one.')
    ]
    out = chat.hub.handle(session, cmd.Say("vmware", "vmware"), NOW)
    assert any(isinstance(i, ToSessions) and isinstance(i.event, ev.Registered) for i in out)


def test_a_target_longer_than_any_name_is_kept_without_its_keys_made(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The review: 150 x U+FDFA made its NFKC key (0.4 ms a 512-byte line) before anything
    said it could be nobody's."""
    real = irc_wire.name_key

    def guarded(text: str) -> str:
        assert len(text) <= 4 * 32, "made the key of a target longer than any name"
        return real(text)

    monkeypatch.setattr(irc_wire, "name_key", guarded)
    long = "\ufdfa" * 150
    assert irc_wire.targets(f"#a,#A,{long}").taken == ["#a", long]
