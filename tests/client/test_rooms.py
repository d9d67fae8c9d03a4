"""Your rooms at this end (client/rooms.py, driven through the client core): where you talk,
the rooms you are in and have seen, replays shown once, the way back into your rooms after a
reconnect, Tab for rooms. Event objects in, no sockets."""

from __future__ import annotations

import pytest

from tcpchat.client import completion, core, rooms
from tcpchat.client.core import ClientCore, Send
from tcpchat.core import events as ev
from tcpchat.core.limits import MAX_LINE_BYTES

T = 1_800_000_000.0
WELCOME = ev.Welcome(T, "2.1.0", 1, MAX_LINE_BYTES, 10.0, 2.0)
FIRST = 3  # the handshake used lines 1 and 2


def joined(name: str = "alice", users: tuple[str, ...] = ("alice", "bob")) -> ClientCore:
    c = ClientCore(name)
    c.joined(ev.Registered(T, name, users), WELCOME)
    return c


def in_room(room: str, joined: bool = True, users: tuple[str, ...] = ("alice",)) -> ev.InRoom:
    return ev.InRoom(T, room, len(users), users, "", joined)


def said(
    id: int, text: str = "hi", room: str | None = None, sender: str = "bob", history: bool = False
) -> ev.Message:
    return ev.Message(T, id, sender, None, False, text, room, history)


def replay(c: ClientCore, room: str, *messages: ev.Message) -> list[core.Seen]:
    """A replay as the server sends it on joining ``room``: what the core made of each event."""
    begin = ev.HistoryBegin(T, room, "replay", len(messages))
    end = ev.HistoryEnd(T, room, "replay", len(messages))
    return [c.receive(e) for e in (begin, *messages, end)]


def shown(seen: list[core.Seen]) -> list[ev.Event]:
    return [e for s in seen for e in s.events()]


# --- where you talk ------------------------------------------------------------------------------


def test_after_registering_you_talk_in_the_lobby() -> None:
    c = ClientCore("alice")
    seen = c.joined(ev.Registered(T, "alice", ("alice",)), WELCOME)
    assert seen.moved
    assert (c.current, c.rooms) == ("#lobby", ["#lobby"])
    assert c.where.known() == ["#lobby"]


def test_join_makes_a_room_current_and_part_follows_the_server() -> None:
    c = joined()
    assert c.receive(in_room("#ops")).moved
    assert (c.current, c.rooms) == ("#ops", ["#lobby", "#ops"])
    c.receive(in_room("#dev"))
    c.receive(in_room("#OPS", joined=False))  # only a switch: the room is not added twice
    assert (c.current, c.rooms) == ("#OPS", ["#lobby", "#ops", "#dev"])
    assert c.receive(ev.Parted(T, "#ops", "#dev")).moved
    assert (c.current, c.rooms) == ("#dev", ["#lobby", "#dev"])
    c.receive(ev.Parted(T, "#lobby", "#dev"))
    c.receive(ev.Parted(T, "#dev", None))
    assert (c.current, c.rooms) == (None, [])


def test_rooms_seen_come_from_joins_messages_notices_and_the_room_list() -> None:
    c = joined()
    c.receive(in_room("#ops"))
    c.receive(said(1, room="#dev"))
    c.receive(ev.Topic(T, "#qa", "tests", "bob"))
    c.receive(ev.Joined(T, "carol", 2, "#design"))
    assert c.where.known() == ["#design", "#dev", "#lobby", "#ops", "#qa"]
    # /rooms says which rooms exist now: an emptied room is gone; yours stay.
    c.receive(ev.RoomList(T, (("#lobby", 3, ""), ("#music", 2, "jazz"))))
    assert c.where.known() == ["#lobby", "#music", "#ops"]


def test_a_message_from_a_room_you_do_not_talk_in_is_marked_with_it() -> None:
    c = joined()
    c.receive(in_room("#ops"))
    assert c.receive(said(1, room="#ops")).elsewhere is None
    assert c.receive(said(2)).elsewhere == "#lobby"  # no room on the wire: #lobby
    c.receive(in_room("#lobby", joined=False))
    assert c.receive(said(3)).elsewhere is None
    assert c.receive(said(4, room="#ops")).elsewhere == "#ops"
    private = ev.Message(T, 5, "bob", "alice", False, "psst")
    assert c.receive(private).elsewhere is None  # private messages belong to no room


def test_only_lobby_notices_are_marked_when_you_talk_elsewhere() -> None:
    """Another room's notices name it in their words (``bob joined #ops``); #lobby's do not."""
    c = joined()
    assert c.receive(ev.Joined(T, "carol", 3)).elsewhere is None
    c.receive(in_room("#ops"))
    assert c.receive(ev.Joined(T, "dave", 4)).elsewhere == "#lobby"
    assert c.receive(ev.Left(T, "dave", "quit", 3)).elsewhere == "#lobby"
    assert c.receive(ev.Joined(T, "erin", 2, "#dev")).elsewhere is None
    crowd = ev.Crowd(T, "#lobby", True, ("x", "y"), 2, 300)
    assert c.receive(crowd).elsewhere == "#lobby"


def test_your_own_message_is_marked_when_you_talk_in_another_room_by_then() -> None:
    c = joined()
    c.receive(in_room("#ops"))
    send = c.typed("deploy done")
    assert isinstance(send, Send)
    c.sent(FIRST, send.text)
    c.receive(in_room("#dev"))
    seen = c.receive(ev.Delivered(T, 9, None, False, "deploy done", 2, FIRST, "#ops"))
    assert seen.answers is not None and seen.elsewhere == "#ops"
    assert c.pending == {}


def test_someone_who_parts_a_room_is_still_online_for_tab() -> None:
    c = joined(users=("alice", "bob", "carol"))
    c.receive(ev.Left(T, "bob", "part: lunch", 1, "#ops"))
    c.receive(ev.Left(T, "carol", "part", 1, "#ops"))
    assert c.names() == ["alice", "bob", "carol"]
    c.receive(ev.Left(T, "bob", "quit", 2))
    assert c.names() == ["alice", "carol"]
    c.receive(in_room("#ops", users=("alice", "dave")))
    c.receive(ev.UserList(T, ("alice", "erin"), "#ops"))  # a room's members add to the roster
    assert c.names() == ["alice", "carol", "dave", "erin"]


# --- history shown once ----------------------------------------------------------------------


def test_a_replay_of_messages_not_shown_is_shown_whole() -> None:
    c = joined()
    c.receive(in_room("#ops"))
    seen = replay(c, "#ops", said(1, room="#ops", history=True), said(2, room="#ops", history=True))
    events = shown(seen)
    assert [type(e) for e in events] == [ev.HistoryBegin, ev.Message, ev.Message, ev.HistoryEnd]
    assert isinstance(events[0], ev.HistoryBegin) and events[0].count == 2
    assert not any(s.bell or s.elsewhere for s in seen)


def test_a_replay_drops_what_was_shown_live_and_says_how_many_are_left() -> None:
    c = joined()
    c.receive(in_room("#ops"))
    c.receive(said(10, room="#ops"))
    c.receive(ev.Delivered(T, 11, None, False, "mine", 1, 0, "#ops"))  # your own, shown too
    c.receive(ev.Parted(T, "#ops", "#lobby"))
    c.receive(in_room("#ops"))
    seen = replay(
        c,
        "#ops",
        said(10, room="#ops", history=True),
        said(11, room="#ops", sender="alice", history=True),
        said(12, "missed", room="#ops", history=True),
    )
    events = shown(seen)
    assert [type(e) for e in events] == [ev.HistoryBegin, ev.Message, ev.HistoryEnd]
    assert isinstance(events[0], ev.HistoryBegin) and events[0].count == 1
    assert isinstance(events[1], ev.Message) and events[1].id == 12


def test_a_replay_of_nothing_new_shows_nothing_at_all() -> None:
    c = joined()
    c.receive(in_room("#ops"))
    c.receive(said(10, room="#ops"))
    assert shown(replay(c, "#ops", said(10, room="#ops", history=True))) == []


def test_history_and_search_you_ask_for_are_shown_even_if_seen() -> None:
    c = joined()
    c.receive(in_room("#ops"))
    c.receive(said(10, "deploy", room="#ops"))
    for kind, query in (("page", ""), ("search", "deploy")):
        begin = c.receive(ev.HistoryBegin(T, "#ops", kind, 1, query))
        again = c.receive(said(10, "deploy", room="#ops", history=True))
        end = c.receive(ev.HistoryEnd(T, "#ops", kind, 1))
        assert shown([begin, again, end]) == [begin.event, again.event, end.event]


def test_the_ids_kept_are_bounded() -> None:
    c = joined()
    for i in range(1, rooms.SHOWN_PER_ROOM + 2):
        c.receive(said(i))
    # The oldest was forgotten: a replay would show it again, the newest not.
    assert len(shown(replay(c, "#lobby", said(1, history=True)))) == 3
    assert shown(replay(c, "#lobby", said(rooms.SHOWN_PER_ROOM + 1, history=True))) == []
    # So are the ids of the room least recently heard from, past so many rooms.
    c.receive(said(10_000, room="#first"))
    for i in range(rooms.SHOWN_ROOMS):
        c.receive(said(10_001 + i, room=f"#r{i}"))
    assert len(shown(replay(c, "#first", said(10_000, room="#first", history=True)))) == 3
    last = rooms.SHOWN_ROOMS - 1
    assert shown(replay(c, f"#r{last}", said(10_001 + last, room=f"#r{last}", history=True))) == []


# --- back into your rooms after a reconnect ----------------------------------------------------


def reconnected(c: ClientCore) -> list[str]:
    c.disconnected()
    c.joined(ev.Registered(T, c.me, (c.me,)), WELCOME)
    return c.rejoin()


def test_the_first_connection_rejoins_nothing() -> None:
    assert joined().rejoin() == []


def test_a_reconnect_rejoins_your_rooms_in_order_and_talks_where_you_talked() -> None:
    c = joined()
    for room in ("#ops", "#dev", "#qa"):
        c.receive(in_room(room))
    c.receive(in_room("#dev", joined=False))
    assert reconnected(c) == ["/join #ops", "/join #dev", "/join #qa", "/join #dev"]
    assert c.rejoin() == []  # taken once
    # Until the answers come, registering put you in #lobby.
    assert (c.current, c.rooms) == ("#lobby", ["#lobby"])


@pytest.mark.parametrize(
    ("moves", "plan"),
    [
        ([], []),  # in #lobby only: registering is enough
        ([in_room("#ops")], ["/join #ops"]),
        ([in_room("#ops"), in_room("#lobby", joined=False)], ["/join #ops", "/join #lobby"]),
        (
            [in_room("#ops"), in_room("#dev"), ev.Parted(T, "#lobby", "#dev")],
            ["/join #ops", "/join #dev", "/part #lobby"],
        ),
        (
            [in_room("#ops"), ev.Parted(T, "#lobby", "#ops"), in_room("#dev")],
            ["/join #ops", "/join #dev", "/part #lobby"],
        ),
        (
            [in_room("#ops"), in_room("#dev"), ev.Parted(T, "#lobby", "#dev")]
            + [in_room("#ops", joined=False)],
            ["/join #ops", "/join #dev", "/part #lobby", "/join #ops"],
        ),
        ([ev.Parted(T, "#lobby", None)], ["/part #lobby"]),  # in no room
    ],
)
def test_the_rejoin_plan_restores_the_rooms_and_the_current_one(
    moves: list[ev.Event], plan: list[str]
) -> None:
    c = joined()
    for event in moves:
        c.receive(event)
    assert reconnected(c) == plan


def test_replays_after_a_reconnect_show_only_what_was_missed() -> None:
    c = joined()
    c.receive(in_room("#ops"))
    c.receive(said(1, room="#ops"))
    c.receive(said(2, room="#ops"))
    assert reconnected(c) == ["/join #ops"]
    c.receive(in_room("#ops"))
    seen = replay(
        c,
        "#ops",
        said(1, room="#ops", history=True),
        said(2, room="#ops", history=True),
        said(3, "said while you were away", room="#ops", history=True),
    )
    assert [e.id for e in shown(seen) if isinstance(e, ev.Message)] == [3]


# --- Tab ---------------------------------------------------------------------------------------


def test_new_commands_are_completed() -> None:
    words = completion.command_words()
    for command in ("/join", "/part", "/rooms", "/topic", "/history", "/search"):
        assert command in words


def test_tab_completes_rooms_after_join_users_and_part() -> None:
    c = joined()
    c.receive(in_room("#ops"))
    c.receive(ev.RoomList(T, (("#lobby", 3, ""), ("#ops", 2, ""), ("#offtopic", 4, ""))))
    assert c.completions("/join o", 7) == (6, ["#offtopic ", "#ops "])
    assert c.completions("/j #OP", 6) == (3, ["#ops "])
    assert c.completions("/users #l", 9) == (7, ["#lobby "])
    # /part offers the rooms you are in.
    assert c.completions("/part ", 6) == (6, ["#lobby ", "#ops "])
    assert c.completions("/leave o", 8) == (7, ["#ops "])
    # A word that starts with # is a room anywhere; the reason of a /part is not.
    assert c.completions("come to #of", 11) == (8, ["#offtopic "])
    assert c.completions("/part #ops b", 12) == (11, ["bob "])
    assert c.completions("/w b", 4) == (3, ["bob "])
