"""The quick ways of the IRC port's commonest lines: ``IrcClient`` reads a channel's PRIVMSG and
PING as ``parse_message`` reads them and answers every line the same with them as without them;
a room's message is written as ``irc_wire.line`` writes it."""

from __future__ import annotations

import itertools
from typing import Any

import pytest

from tcpchat.core import codes
from tcpchat.core import commands as cmd
from tcpchat.core import events as ev
from tcpchat.core.hub import Hub
from tcpchat.core.irc import CloseLink, IrcClient
from tcpchat.core.irc_queries import IrcNetwork
from tcpchat.core.irc_render import IrcFormat, Renderer, irc_mode
from tcpchat.core.irc_wire import (
    fits,
    line,
    parse_message,
    quick_ping,
    quick_privmsg,
    split_text,
    strip_formatting,
    user_text,
)
from tcpchat.core.limits import HubLimits
from tcpchat.core.output import Instruction, Offline, Online, ToAll, ToSessions
from tcpchat.core.session import Session, State
from tcpchat.core.text import neutralise_line

NOW = 1_000_000.0

# Lines the quick reading takes, and lines it leaves to parse_message (None).
PRIVMSGS = {
    "PRIVMSG #lobby :hello there": ("#lobby", "hello there"),
    "PRIVMSG #lobby ::-) a smile": ("#lobby", ":-) a smile"),
    "PRIVMSG #lobby  :two spaces": ("#lobby", "two spaces"),
    "PRIVMSG #lobby :a :colon inside": ("#lobby", "a :colon inside"),
    "PRIVMSG #общий :привет": ("#общий", "привет"),
    "PRIVMSG #lobby :\x01ACTION waves\x01": None,  # CTCP
    "NOTICE #lobby :hello": None,
    "PRIVMSG ann :hello": None,  # a nick
    "PRIVMSG #lobby,#ops :hello": None,  # two targets
    "PRIVMSG #lobby hello": None,  # the trailing parameter without its ':'
    "PRIVMSG #lobby :": None,  # no text
    "PRIVMSG #lobby": None,
    "PRIVMSG #lobby extra :hello": None,  # a third parameter
    "PRIVMSG #a\xa0b :hello": None,  # a blank that str.split cuts at
    "@+typing=active PRIVMSG #lobby :hello": None,  # tags
    ":ivy!u@h PRIVMSG #lobby :hello": None,  # a source
    "privmsg #lobby :hello": None,  # the verb in lower case
    " PRIVMSG #lobby :hello": None,
}
PINGS = {
    "PING :12345": "12345",
    "PING 12345": "12345",
    "PING :two words": "two words",
    "PING ::x": ":x",
    "PING lag-check_1.0": "lag-check_1.0",
    "PING": None,
    "PING ": None,
    "PING :": None,  # an empty token is answered with the server's name: the general way
    "PING a b": None,  # a second parameter
    "PING  x": None,
    "PING a\u3000b": None,
    "ping :x": None,
    "@label=1 PING :x": None,
    "PONG :x": None,
}


@pytest.mark.parametrize(("text", "expected"), PRIVMSGS.items())
def test_quick_privmsg_reads_what_parse_message_reads(
    text: str, expected: tuple[str, str] | None
) -> None:
    assert quick_privmsg(text) == expected
    if expected is not None:
        message = parse_message(text)
        assert message is not None
        assert (message.verb, message.params, message.tags) == ("PRIVMSG", expected, "")


@pytest.mark.parametrize(("text", "expected"), PINGS.items())
def test_quick_ping_reads_what_parse_message_reads(text: str, expected: str | None) -> None:
    assert quick_ping(text) == expected
    if expected is not None:
        message = parse_message(text)
        assert message is not None
        assert (message.verb, message.params[0], message.tags) == ("PING", expected, "")


def test_fits_is_parse_messages_512_bytes() -> None:
    for text in ("x" * 510, "x" * 511, "é" * 255, "é" * 256, "€" * 127, "€" * 170):
        message = parse_message(text)
        assert message is not None
        assert fits(text) == (message.body_bytes <= 512)


class World:
    """A hub with IRC clients ivy, joe and ann (ivy and joe also in #ops, which ivy talks in
    last) and a native user, sam; ``quick``: whether ivy's client may take the quick way."""

    def __init__(self, quick: bool, burst: float = 1000) -> None:
        self.hub = Hub(HubLimits(flood_burst=burst, flood_rate=burst))
        self.network = IrcNetwork("irc.test", NOW)
        self.render = Renderer(self.network.format)
        self.clients = {nick: self._irc(nick) for nick in ("joe", "ann", "ivy")}
        sam, _ = self.hub.connect("127.0.0.1:9", NOW)
        self.hub.handle(sam, cmd.Say("sam"), NOW)
        self.ivy = self.clients["ivy"]
        if not quick:
            self.ivy._quick = lambda line, now: None  # type: ignore[method-assign]
        self.receive("JOIN #ops", "joe")
        self.receive("JOIN #ops")

    def _irc(self, nick: str) -> IrcClient:
        session, _ = self.hub.connect("127.0.0.1:1", NOW, mode=codes.IRC)
        client = IrcClient(self.network, self.hub, session)
        client.receive(f"NICK {nick}", NOW)
        client.receive(f"USER {nick} 0 * :Real", NOW)
        assert session.state is State.ACTIVE
        return client

    def receive(self, text: str, nick: str = "ivy", now: float = NOW) -> list[Any]:
        """What ``nick``'s client makes of ``text``: who is sent which bytes, in order (a line
        to everyone in #lobby as one entry), what else the transport is told, and the events
        the hub made (a PING's PONG aside, which is its bytes only)."""
        wire: list[Any] = []
        events: list[ev.Event] = []
        for step in self.clients[nick].receive(text, now):
            if isinstance(step, bytes):
                wire.append((nick, step))
            elif isinstance(step, CloseLink):
                wire.append(("close link", step.reason))
            else:
                wire += [entry for item in step.out for entry in self._plain(item)]
                for item in step.out + (step.unseen or []):
                    event = getattr(item, "event", None)
                    if event is not None and not isinstance(event, ev.PongReply):
                        events.append(event)
        return [entry for entry in wire if entry[-1] != b""] + events

    def _plain(self, item: Instruction) -> list[Any]:
        if isinstance(item, ToAll):
            return [("all but", _who(item.skip), self.render(item.event, codes.IRC))]
        if isinstance(item, ToSessions):
            return [
                (s.name, self.render(item.event, s.mode, False, s.name))
                for s in item.to
                if s is not item.skip
            ]
        if isinstance(item, (Online, Offline)):
            return [(type(item).__name__, item.session.name)]
        return [("close", item.session.name, item.reason)]


def _who(session: Session | None) -> str | None:
    return None if session is None else session.name


LINES = [
    "PRIVMSG #ops :hello",
    "PRIVMSG #lobby :hello in the lobby",
    "PRIVMSG #OPS :the name as another case",
    "PRIVMSG #lobby :\x01ACTION waves\x01",
    "PRIVMSG #lobby :\x01VERSION\x01",
    "NOTICE #ops :a notice",
    "PRIVMSG joe :a whisper",
    "PRIVMSG ivy :to myself",
    "PRIVMSG #ops,#lobby :two rooms",
    "PRIVMSG #ops,joe :a room and a nick",
    "PRIVMSG #ops hello",
    "PRIVMSG #ops :",
    "PRIVMSG #ops :    ",
    "PRIVMSG #nowhere :no such channel",
    "PRIVMSG #ops :" + "x" * 600,
    "PRIVMSG #ops :" + "é" * 250,
    "@+typing=active PRIVMSG #ops :tagged",
    "@time=x :ivy!u@h PRIVMSG #ops :with a source",
    "PING :12345",
    "PING 12345",
    "PING :",
    "PING",
    "PING a b",
]


@pytest.mark.parametrize("text", LINES)
def test_a_line_is_answered_the_same_the_quick_way_and_the_general_way(text: str) -> None:
    quick, general = World(quick=True), World(quick=False)
    assert quick.receive(text) == general.receive(text)
    # The same again, after each is a sign of life and has cost the same.
    assert quick.receive(text) == general.receive(text)
    ivy, other = quick.ivy.session, general.ivy.session
    assert (ivy.lines, ivy.tokens, ivy.refused, ivy.last_seen) == (
        other.lines,
        other.tokens,
        other.refused,
        other.last_seen,
    )


def test_a_message_to_a_channel_one_has_left_is_404_either_way() -> None:
    quick, general = World(quick=True), World(quick=False)
    for world in (quick, general):
        world.receive("PART #ops")
    answer = quick.receive("PRIVMSG #ops :still here?")
    assert answer == general.receive("PRIVMSG #ops :still here?")
    assert answer == [("ivy", b":irc.test 404 ivy #ops :Cannot send to channel\r\n")]


def test_flood_control_refuses_quick_lines_as_it_refuses_the_others() -> None:
    quick, general = World(quick=True, burst=3), World(quick=False, burst=3)
    for world in (quick, general):
        world.ivy.session.tokens = 3.0
        world.ivy.session.tokens_at = NOW
    lines = ["PRIVMSG #ops :one", "PING :1", "PRIVMSG #ops :two", "PING :2", "PING :3"] * 4
    for n, text in enumerate(lines):
        assert quick.receive(text, now=NOW + n / 1000) == general.receive(text, now=NOW + n / 1000)
    assert quick.ivy.session.refused == general.ivy.session.refused > 0


def _privmsg_by_line(event: ev.Message, mode: str) -> bytes:
    """A message as ``irc_wire.line`` writes it, piece by piece: what the renderer's own
    writing of the commonest line must give."""
    flags = mode[len(codes.IRC) + 1 :]
    verb = "NOTICE" if event.notice else "PRIVMSG"
    target = event.to or event.room or "#lobby"
    source = f"{event.sender}!~u@irc.test"
    tags = []
    if "t" in flags:
        tags.append("time=1970-01-12T13:46:40.000Z")
    if "m" in flags:
        tags.append(f"msgid={event.id}")
    room = 512 - len(f":{source} {verb} {target} :\r\n".encode()) - 9 * event.action
    lines = []
    for piece in split_text(event.text, max(room, 64)):
        body = f"\x01ACTION {piece}\x01" if event.action else piece
        lines.append(line(verb, target, body, source=source, tags=";".join(tags), text=True))
    return b"".join(lines)


@pytest.mark.parametrize("text", ["hi", "x" * 100, "x" * 470, "x" * 480, "é" * 200, "a " * 400])
def test_a_message_is_written_as_line_writes_it(text: str) -> None:
    fmt = IrcFormat("irc.test")
    for action, notice, to, room in itertools.product(
        (False, True), (False, True), (None, "ivy"), (None, "#" + "o" * 31)
    ):
        event = ev.Message(NOW, 7, "ann", to, action, text, room, notice=notice)
        for caps in ((), ("server-time",), ("message-tags",), ("server-time", "message-tags")):
            mode = irc_mode(set(caps))
            assert fmt.render(event, mode) == _privmsg_by_line(event, mode)


@pytest.mark.parametrize(
    "text",
    ["hello", "a" + " " * 20 + "b", "tab\there", "del\x7f", "\x02bold\x02", "\x0304red", "é"],
)
def test_user_text_of_printable_ascii_is_what_both_steps_make_of_it(text: str) -> None:
    assert user_text(text) == neutralise_line(strip_formatting(text))


def test_with_echo_message_the_sender_reads_its_message_back_either_way() -> None:
    quick, general = World(quick=True), World(quick=False)
    for world in (quick, general):
        world.receive("CAP REQ :echo-message server-time")
    answer = quick.receive("PRIVMSG #lobby :hello")
    assert answer == general.receive("PRIVMSG #lobby :hello")
    echo = b"@time=1970-01-12T13:46:40.000Z :ivy!~u@irc.test PRIVMSG #lobby :hello\r\n"
    assert ("ivy", echo) in answer
