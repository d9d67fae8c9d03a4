"""Unit tests of rooms in the hub: joining, leaving, topics, big rooms, history and search through
the archive seam; several fake sessions through one hub, no sockets, no clock."""

from __future__ import annotations

import unicodedata
from collections.abc import Callable, Iterable
from typing import TypeVar

import pytest

from tcpchat.core import codes, names, rooms, roster
from tcpchat.core import events as ev
from tcpchat.core.archive import KeptTopic, SearchRefused
from tcpchat.core.hub import Hub
from tcpchat.core.limits import MAX_ROOMS_PER_USER, REGISTERED_NAMES_SHOWN, HubLimits
from tcpchat.core.output import Close, Instruction, Offline, Online, ToAll, ToSessions
from tcpchat.core.rooms import Room, Rooms, room_key
from tcpchat.core.session import Session
from tcpchat.core.wire import render

from .test_hub import Chat

T = TypeVar("T")


class ListArchive:
    """The archive seam as a list: what the hub keeps, found again by the same rules."""

    search_kind = "like"

    def __init__(self, last: int = 0) -> None:
        self.kept: list[tuple[str | None, ev.Message]] = []
        self.topics: dict[str, KeptTopic] = {}
        self.last = last
        self.mark = 0  # the cluster's log kept up to here

    def last_id(self) -> int:
        return self.last

    def keep(self, room_key: str | None, message: ev.Message) -> None:
        self.kept.append((room_key, message))

    def recent(self, room_key: str, limit: int, before_id: int | None = None) -> list[ev.Message]:
        found = [
            m for k, m in self.kept if k == room_key and (before_id is None or m.id < before_id)
        ]
        return found[-limit:]

    def search(self, room_key: str, text: str, limit: int, origin: str = "") -> list[ev.Message]:
        words = text.casefold().split()
        found = [
            m for k, m in self.kept if k == room_key and all(w in m.text.casefold() for w in words)
        ]
        return found[-limit:]

    def topic(self, room_key: str) -> KeptTopic | None:
        return self.topics.get(room_key)

    def keep_topic(self, room_key: str, kept: KeptTopic) -> None:
        self.topics[room_key] = kept

    def log_mark(self) -> int:
        return self.mark

    def mark_log(self, entry_id: int) -> None:
        self.mark = max(self.mark, entry_id)

    def backlog(self) -> int:
        return 0  # written as kept

    def flush(self, timeout: float) -> bool:
        return True


class RoomChat(Chat):
    """``Chat`` with a transport that honours #lobby membership (``Online``/``Offline``) and the
    sender a room's message skips, as the server's does."""

    def __init__(self, archive: ListArchive | None = None, **limits: object) -> None:
        super().__init__()
        limits.setdefault("flood_burst", 1000.0)  # these tests type faster than people
        self.archive = archive if archive is not None else ListArchive()
        self.hub = Hub(HubLimits(**limits), self.archive)  # type: ignore[arg-type]
        self.lobby: dict[Session, None] = {}

    def route(self, out: Iterable[Instruction]) -> None:
        for item in out:
            if isinstance(item, Online):
                self.lobby[item.session] = None
            elif isinstance(item, Offline):
                self.lobby.pop(item.session, None)
            elif isinstance(item, Close):
                self.closed.append(item.session)
                self.lobby.pop(item.session, None)
            else:
                if isinstance(item, ToAll):
                    recipients = [s for s in self.lobby if s is not item.skip]
                else:
                    assert isinstance(item, ToSessions)
                    recipients = [s for s in item.to if s is not item.skip]
                for session in recipients:
                    self.inbox.setdefault(session.id, []).append(item.event)


def text(events: list[ev.Event]) -> list[str]:
    return [render(e, "text").decode().rstrip("\n") for e in events]


@pytest.fixture
def chat() -> RoomChat:
    return RoomChat()


def test_join_makes_a_room_announces_it_and_makes_it_current(chat: RoomChat) -> None:
    alice, bob = chat.join("alice"), chat.join("bob")
    chat.drain()
    chat.line(alice, "/join ops")
    assert text(chat.take(alice)) == ["*** You joined #ops. 1 user here: alice."]
    assert chat.take(bob) == []
    chat.line(bob, "/join #OPS")
    assert text(chat.take(bob)) == ["*** You joined #ops. 2 users here: alice, bob."]
    assert text(chat.take(alice)) == ["*** bob joined #ops. 2 users in #ops."]
    assert alice.current is not None and alice.current.name == "#ops"


def test_a_plain_line_goes_to_the_current_room_only_and_the_confirmation_names_it(
    chat: RoomChat,
) -> None:
    alice, bob, cid = chat.join("alice"), chat.join("bob"), chat.join("cid")
    chat.line(alice, "/join #ops")
    chat.line(bob, "/join #ops")
    chat.drain()
    chat.line(alice, "deploy at noon")
    assert text(chat.take(alice)) == ["*** Delivered to #ops (1 user)."]
    (said,) = chat.take(bob)
    assert isinstance(said, ev.Message) and said.room == "#ops"
    assert text([said]) == ["<alice> deploy at noon"]
    assert chat.take(cid) == []  # cid is only in #lobby


def test_a_message_from_a_room_you_do_not_talk_in_says_its_room_in_text_mode(
    chat: RoomChat,
) -> None:
    alice, bob = chat.join("alice"), chat.join("bob")
    chat.line(alice, "/join #ops")
    chat.line(bob, "/join #ops")
    chat.line(bob, "/join #lobby")  # bob is in both and talks in #lobby again
    chat.drain()
    chat.line(alice, "hi ops")
    (said,) = chat.take(bob)
    assert render(said, "text", elsewhere=True) == b"[#ops] <alice> hi ops\n"


def test_lobby_events_are_those_of_a_chat_without_rooms(chat: RoomChat) -> None:
    alice = chat.join("alice")
    bob = chat.join("bob")
    assert chat.take(alice) == [ev.Joined(chat.now, "bob", 2)]
    chat.line(bob, "hello")
    assert chat.take(alice) == [ev.Message(chat.now, 1, "bob", None, False, "hello")]
    assert chat.take(bob) == [ev.Delivered(chat.now, 1, None, False, "hello", 1, 2)]


def test_switching_to_a_room_you_are_in_joins_nothing(chat: RoomChat) -> None:
    alice, bob = chat.join("alice"), chat.join("bob")
    chat.line(alice, "/join #ops")
    chat.drain()
    chat.line(alice, "/join #lobby")
    assert text(chat.take(alice)) == [
        "*** You are talking in #lobby now. 2 users here: alice, bob."
    ]
    assert chat.take(bob) == []
    chat.line(alice, "back in the lobby")
    assert text(chat.take(bob)) == ["<alice> back in the lobby"]


def test_part_leaves_the_room_tells_the_rest_and_falls_back_to_the_last_room(
    chat: RoomChat,
) -> None:
    alice, bob = chat.join("alice"), chat.join("bob")
    chat.line(alice, "/join #ops")
    chat.line(bob, "/join #ops")
    chat.drain()
    chat.line(alice, "/part done for today")
    assert text(chat.take(alice)) == ["*** You left #ops. You are talking in #lobby."]
    assert text(chat.take(bob)) == ["*** alice left #ops (part: done for today). 1 user in #ops."]
    chat.line(bob, "/part #ops")
    assert text(chat.take(bob)) == ["*** You left #ops. You are talking in #lobby."]
    assert chat.hub.rooms.find("#ops") is None  # forgotten once empty


def test_part_of_the_lobby_stops_its_messages_and_a_plain_line_then_says_where_to_go(
    chat: RoomChat,
) -> None:
    alice, bob = chat.join("alice"), chat.join("bob")
    chat.drain()
    chat.line(alice, "/part")
    assert text(chat.take(alice)) == [
        "*** You left #lobby. You are in no room now: /join a room to talk."
    ]
    assert text(chat.take(bob)) == ["*** alice left #lobby. 1 user in #lobby."]
    chat.line(bob, "anyone?")
    assert chat.take(alice) == []
    chat.drain()
    chat.line(alice, "hello?")
    (error,) = chat.take(alice)
    assert isinstance(error, ev.Error) and error.code == codes.NOT_IN_ROOM
    chat.line(alice, "/w bob still here")  # whispers cross rooms
    assert text(chat.take(bob)) == ["[PM from alice] still here"]
    chat.drain()
    chat.line(alice, "/join #lobby")  # back: not a login, so the notice names the room
    assert text(chat.take(bob)) == ["*** alice joined #lobby. 2 users in #lobby."]


def test_part_names_a_room_without_its_hash_as_join_does(chat: RoomChat) -> None:
    """The protocol review: "/part ops" from #dev left #dev with the reason "ops", and
    "/part dev lunch" then left #lobby. A first word naming a room you are in is that room."""
    alice, bob = chat.join("alice"), chat.join("bob")
    for room in ("#ops", "#dev"):
        chat.line(alice, f"/join {room}")
        chat.line(bob, f"/join {room}")
    chat.drain()
    chat.line(alice, "/part ops")
    assert text(chat.take(alice)) == ["*** You left #ops. You are talking in #dev."]
    assert text(chat.take(bob)) == ["*** alice left #ops. 1 user in #ops."]
    chat.line(alice, "/part DEV lunch time")
    assert text(chat.take(bob)) == ["*** alice left #dev (part: lunch time). 1 user in #dev."]
    # A first word that is no room of yours is the reason, for the room you talk in.
    chat.line(bob, "/join #ops")
    chat.drain()
    chat.line(bob, "/part nowhere to be")
    assert text(chat.take(bob)) == ["*** You left #ops. You are talking in #dev."]


def test_a_part_of_the_lobby_names_it_in_json_and_a_quit_does_not(chat: RoomChat) -> None:
    """A JSON client told a leave without a room took a /part of #lobby for a logoff."""
    alice, bob = chat.join("alice"), chat.join("bob")
    chat.drain()
    chat.line(alice, "/part brb")
    (parted,) = chat.take(bob)
    assert isinstance(parted, ev.Left) and parted.room == "#lobby"
    assert render(parted, "json").endswith(b',"room":"#lobby"}\n')
    chat.line(alice, "/join #lobby")
    chat.drain()
    chat.line(alice, "/quit")
    (quit_,) = chat.take(bob)
    assert isinstance(quit_, ev.Left) and quit_.room is None


def test_online_counts_the_chat_once_someone_left_the_lobby(chat: RoomChat) -> None:
    """The protocol review: with alice out of #lobby by /part, carol's quit said "1 user online"
    and "/users #lobby" "1 user online" while two were."""
    alice, bob, carol = chat.join("alice"), chat.join("bob"), chat.join("carol")
    chat.line(alice, "/part")
    chat.drain()
    chat.line(carol, "/quit done")
    assert text(chat.take(bob)) == ["*** carol left (quit: done). 2 users online."]
    chat.line(bob, "/users #lobby")
    assert text(chat.take(bob)) == ["*** 1 user in #lobby: bob."]
    chat.line(bob, "/users")
    assert text(chat.take(bob)) == ["*** 2 users online: alice, bob."]
    dave = chat.join("dave")
    assert dave is not None
    assert text(chat.take(bob)) == ["*** dave joined. 3 users online."]


def test_parting_a_room_you_are_not_in_is_an_error(chat: RoomChat) -> None:
    alice = chat.join("alice")
    chat.line(alice, "/part #nowhere")
    (error,) = chat.take(alice)
    assert isinstance(error, ev.Error) and error.code == codes.NOT_IN_ROOM
    assert error.text == "You are not in #nowhere."


def test_a_quit_tells_every_room_of_the_leaver(chat: RoomChat) -> None:
    alice, bob = chat.join("alice"), chat.join("bob")
    chat.line(alice, "/join #ops")
    chat.line(bob, "/join #ops")
    chat.drain()
    chat.line(alice, "/quit bye")
    assert text(chat.take(bob)) == [
        "*** alice left (quit: bye). 1 user online.",
        "*** alice left #ops (quit: bye). 1 user in #ops.",
    ]


@pytest.mark.parametrize(
    "room",
    ["#", "#a!", "#" + "x" * 32, "#оps1x", "#\u200bops", "#Aмир"],
)
def test_bad_room_names_are_refused_with_the_rule(chat: RoomChat, room: str) -> None:
    alice = chat.join("alice")
    chat.line(alice, f"/join {room}")
    (error,) = chat.take(alice)
    assert isinstance(error, ev.Error) and error.code == codes.ROOM_INVALID, error


def test_room_names_in_any_script_and_the_same_room_in_any_case(chat: RoomChat) -> None:
    alice, bob = chat.join("alice"), chat.join("bob")
    chat.line(alice, "/join #Общий_чат-2")
    chat.line(bob, "/join #общий_ЧАТ-2")
    assert text(chat.take(bob))[0] == "*** You joined #Общий_чат-2. 2 users here: alice, bob."


def test_a_room_that_looks_like_another_is_refused(chat: RoomChat) -> None:
    alice, bob = chat.join("alice"), chat.join("bob")
    chat.line(alice, "/join #Il")
    chat.take(alice)
    for who in (bob, alice):  # whether in #Il or not: one answer to one name
        chat.line(who, "/join #lI")  # capital i and small L swapped: looks the same
        (error,) = chat.take(who)
        assert isinstance(error, ev.Error) and error.code == codes.ROOM_INVALID
        assert "looks too much like #Il" in error.text


def test_rooms_per_user_and_per_server_are_capped(chat: RoomChat) -> None:
    alice = chat.join("alice")
    for n in range(MAX_ROOMS_PER_USER - 1):  # #lobby is one
        chat.line(alice, f"/join #r{n}")
    chat.drain()
    chat.line(alice, "/join #onemore")
    (error,) = chat.take(alice)
    assert isinstance(error, ev.Error) and error.code == codes.TOO_MANY_ROOMS
    small = RoomChat(max_rooms=2)
    bob = small.join("bob")
    small.line(bob, "/join #one")
    small.drain()
    small.line(bob, "/join #two")
    (error,) = small.take(bob)
    assert isinstance(error, ev.Error) and error.code == codes.TOO_MANY_ROOMS
    assert "join one of them" in error.text


def test_rooms_lists_every_room_with_members_and_topic(chat: RoomChat) -> None:
    alice, bob = chat.join("alice"), chat.join("bob")
    chat.line(alice, "/join #ops")
    chat.line(alice, "/topic deploys only")
    chat.drain()
    chat.line(bob, "/rooms")
    assert text(chat.take(bob)) == [
        "*** 2 rooms:\n*** #lobby  2 users\n*** #ops    1 user   deploys only"
    ]


def test_topic_is_shown_set_announced_and_cleared(chat: RoomChat) -> None:
    alice, bob = chat.join("alice"), chat.join("bob")
    chat.line(alice, "/join #ops")
    chat.line(bob, "/join #ops")
    chat.drain()
    chat.line(bob, "/topic")
    assert text(chat.take(bob)) == ["*** #ops has no topic."]
    chat.line(alice, "/topic deploys only")
    assert text(chat.take(bob)) == ["*** alice set the topic of #ops: deploys only"]
    assert text(chat.take(alice)) == ["*** alice set the topic of #ops: deploys only"]
    chat.line(alice, "/topic -")
    assert text(chat.take(bob)) == ["*** alice cleared the topic of #ops."]
    chat.drain()
    chat.line(alice, "/topic -")  # nothing to clear: not announced (a newcomer's review)
    assert text(chat.take(alice)) == ["!!! #ops has no topic to clear."]
    assert chat.take(bob) == []
    chat.line(alice, "/topic " + "x" * 391)
    (error,) = chat.take(alice)
    assert isinstance(error, ev.Error) and "at most 390" in error.text


def test_a_room_keeps_its_topic_and_spelling_in_the_archive_after_it_empties(
    chat: RoomChat,
) -> None:
    alice, bob = chat.join("alice"), chat.join("bob")
    chat.line(alice, "/join #Ops")
    chat.line(alice, "/topic deploys only")
    set_at = chat.now
    chat.line(alice, "/part")
    chat.drain()
    chat.now += 60.0
    chat.line(bob, "/join #ops")
    (joined,) = chat.take(bob)
    assert isinstance(joined, ev.InRoom) and (joined.room, joined.topic) == ("#Ops", "deploys only")
    room = chat.hub.rooms.find("#ops")
    assert room is not None and (room.topic_by, room.topic_at) == ("alice", set_at)  # IRC's 333


def test_a_kept_spelling_that_looks_like_a_room_in_use_is_not_taken_back(chat: RoomChat) -> None:
    """#Ian is kept (empty); #lan is in use. /join #ian (the same room as #Ian, but no
    look-alike of #lan) makes #ian: taking the kept spelling back would make two rooms that
    look the same, lock everyone out of #lan and split who is where between nodes."""
    alice, bob, cid = chat.join("alice"), chat.join("bob"), chat.join("cid")
    chat.line(alice, "/join #Ian")
    chat.line(alice, "/topic kept")
    chat.line(alice, "/part")
    chat.line(bob, "/join #lan")
    chat.drain()
    chat.line(alice, "/join #ian")
    (joined,) = chat.take(alice)
    assert isinstance(joined, ev.InRoom) and (joined.room, joined.topic) == ("#ian", "kept")
    chat.line(cid, "/join #lan")
    (joined,) = chat.take(cid)
    assert isinstance(joined, ev.InRoom) and joined.room == "#lan"
    chat.line(cid, "/users #lan")
    assert text(chat.take(cid)) == ["*** 2 users in #lan: bob, cid."]
    chat.line(alice, "/part")
    chat.line(bob, "/part")
    chat.line(cid, "/part")
    chat.drain()
    chat.line(cid, "/join #lan")  # both empty and forgotten: each name is free again
    (joined,) = chat.take(cid)
    assert isinstance(joined, ev.InRoom) and joined.room == "#lan"


def test_a_room_added_never_takes_another_rooms_look_alike_key() -> None:
    rooms: Rooms[str] = Rooms()
    lan = Room[str]("#lan")
    rooms.add(lan)
    rooms.add(Room[str]("#Ian"))  # whose look-alike keys are #ian and #lan
    assert rooms.find("#lan") is lan


def test_users_of_a_room(chat: RoomChat) -> None:
    alice, bob = chat.join("alice"), chat.join("bob")
    chat.join("cid")
    chat.line(alice, "/join #ops")
    chat.line(bob, "/join #ops")
    chat.drain()
    chat.line(alice, "/users #ops")
    assert text(chat.take(alice)) == ["*** 2 users in #ops: alice, bob."]
    chat.line(alice, "/users #nope")
    (error,) = chat.take(alice)
    assert isinstance(error, ev.Error) and error.code == codes.NO_SUCH_ROOM


@pytest.mark.parametrize(
    ("line", "code"),
    [
        ("/w {} hi", codes.NO_SUCH_USER),
        ("/users #{}", codes.NO_SUCH_ROOM),
        ("/part #{}", codes.NOT_IN_ROOM),
        ("/join #{}", codes.ROOM_INVALID),
        ("/nick {}", codes.NAME_INVALID),
    ],
)
def test_a_name_too_long_for_anyone_is_answered_before_it_is_normalised(
    chat: RoomChat, monkeypatch: pytest.MonkeyPatch, line: str, code: str
) -> None:
    """U+FDFA is one letter that NFKC makes eighteen: the keys of 1,350 of them took 17 ms of
    the event loop and stayed in look_keys' cache (about 200 KB a line)."""
    alice = chat.join("alice")
    chat.drain()

    def guarded(real: Callable[[str], T]) -> Callable[[str], T]:
        def check(text: str) -> T:
            assert len(text) <= 4 * 32, f"normalised a {len(text)}-character lookup"
            return real(text)

        return check

    for module in (names, roster, rooms):
        for function in ("name_key", "look_keys"):
            if hasattr(module, function):
                monkeypatch.setattr(module, function, guarded(getattr(module, function)))
    chat.line(alice, line.format("\ufdfa" * 1350))
    (error,) = chat.take(alice)
    assert isinstance(error, ev.Error) and error.code == code
    # Decomposed (NFD), a name at the limit is still found: it is measured composed.
    chat.join("é" * 32)
    chat.drain()
    chat.line(alice, "/w " + unicodedata.normalize("NFD", "é" * 32) + " hi")
    assert [type(event) for event in chat.take(alice)] == [ev.Delivered]


def test_joining_a_room_replays_its_history_between_brackets(chat: RoomChat) -> None:
    alice, bob = chat.join("alice"), chat.join("bob")
    chat.line(alice, "/join #ops")
    chat.now = 1_764_590_401.0  # 2025-12-01 12:00:01 UTC
    chat.line(alice, "first")
    chat.line(alice, "/me waves")
    chat.drain()
    chat.line(bob, "/join #ops")
    assert text(chat.take(bob)) == [
        "*** You joined #ops. 2 users here: alice, bob.",
        "*** History of #ops: the last 2 messages, oldest first.",
        "[2025-12-01 12:00:01 UTC #1] <alice> first",
        "[2025-12-01 12:00:01 UTC #2] * alice waves",
        "*** End of history of #ops.",
    ]


def test_history_pages_back_and_search_finds_words_in_the_current_room(chat: RoomChat) -> None:
    alice = chat.join("alice")
    chat.line(alice, "/join #ops")
    for n in range(1, 6):
        chat.line(alice, f"deploy number {n}")
    chat.line(alice, "/join #lobby")
    chat.line(alice, "deploy in the lobby")
    chat.line(alice, "/join #ops")
    chat.drain()
    chat.line(alice, "/history before 4 2")
    events = chat.take(alice)
    assert [m.id for m in events if isinstance(m, ev.Message)] == [2, 3]
    assert all(m.history for m in events if isinstance(m, ev.Message))
    chat.line(alice, "/search DEPLOY 5")
    events = chat.take(alice)
    assert text(events)[0] == '*** Search in #ops for "DEPLOY 5": 1 message, oldest first.'
    assert [m.text for m in events if isinstance(m, ev.Message)] == ["deploy number 5"]
    chat.line(alice, "/search nothing like it")
    assert text(chat.take(alice)) == [
        '*** Search in #ops for "nothing like it": nothing found.',
        "*** End of search results.",
    ]


def test_a_search_the_archive_stops_is_an_error_to_the_searcher_alone(chat: RoomChat) -> None:
    """The archive stops a search past its time, or while searches have used their share of
    the server's time (server/store_search.py): the searcher reads why, as a search_busy
    error; nothing else changes."""
    alice = chat.join("alice")
    chat.line(alice, "/join #ops")
    chat.drain()

    def refused(room_key: str, text: str, limit: int, origin: str = "") -> list[ev.Message]:
        raise SearchRefused("That search took too long and was stopped: search for rarer words.")

    chat.archive.search = refused  # type: ignore[method-assign]
    chat.line(alice, "/search the-the-the-the")
    (error,) = chat.take(alice)
    assert isinstance(error, ev.Error) and error.code == codes.SEARCH_BUSY
    assert render(error, codes.TEXT) == (
        b"!!! That search took too long and was stopped: search for rarer words.\n"
    )


def test_ids_go_on_from_the_archive_and_private_messages_are_offered_to_it() -> None:
    archive = ListArchive(last=41)
    chat = RoomChat(archive)
    alice, bob = chat.join("alice"), chat.join("bob")
    chat.line(alice, "hello")
    chat.line(alice, "/w bob psst")
    assert [(k, m.id) for k, m in archive.kept] == [(room_key("#lobby"), 42), (None, 43)]
    assert [m.text for m in archive.recent(room_key("#lobby"), 5)] == ["hello"]
    assert chat.take(bob)


def test_without_history_the_commands_say_so() -> None:
    chat = RoomChat()
    chat.hub = Hub(HubLimits())  # no archive: NoArchive
    alice = chat.join("alice")
    chat.line(alice, "/history")
    (error,) = chat.take(alice)
    assert isinstance(error, ev.Error) and error.code == codes.HISTORY_OFF


def test_joins_and_leaves_of_a_big_room_come_as_one_notice_a_sweep() -> None:
    chat = RoomChat(big_room=3)
    users = [chat.join(f"u{n}") for n in range(8)]
    chat.drain()
    chat.route(chat.hub.sweep(chat.now))  # #lobby is big too: its joins were gathered
    assert text(chat.take(users[0])) == ["*** 5 joined: u3, u4, u5, u6, u7. 8 users online."]
    chat.drain()
    for user in users:
        chat.line(user, "/join #big")
    first = chat.take(users[0])
    # Joins 1-3 are announced one by one; from the 4th the room is big.
    joined = [e for e in first if isinstance(e, ev.Joined)]
    assert [e.name for e in joined] == ["u1", "u2"]
    chat.drain()
    chat.route(chat.hub.sweep(chat.now))
    (crowd,) = chat.take(users[0])
    assert isinstance(crowd, ev.Crowd) and crowd.joined and crowd.count == 5
    assert text([crowd]) == ["*** 5 joined #big: u3, u4, u5, u6, u7. 8 users in #big."]
    for user in users[:3]:
        chat.line(user, "/quit")
    chat.drain()
    chat.route(chat.hub.sweep(chat.now))
    assert text(chat.take(users[7])) == [
        "*** 3 left: u0, u1, u2. 5 users online.",
        "*** 3 left #big: u0, u1, u2. 5 users in #big.",
    ]
    chat.route(chat.hub.sweep(chat.now))
    assert chat.take(users[7]) == []  # nothing gathered: nothing said


def test_the_lobbys_crowd_notice_counts_the_users_online() -> None:
    """The review: with alice out of #lobby by /part, a gathered join said "4 users online"
    while five were."""
    chat = RoomChat(big_room=3)
    users = [chat.join(f"u{n}") for n in range(4)]
    chat.route(chat.hub.sweep(chat.now))
    chat.line(users[0], "/part")
    chat.join("zed")
    chat.drain()
    chat.route(chat.hub.sweep(chat.now))
    assert text(chat.take(users[1])) == ["*** 1 joined: zed. 5 users online."]


def test_a_crowd_notice_lists_the_first_names_in_text_and_counts_the_rest() -> None:
    crowd = ev.Crowd(0.0, "#big", True, tuple(f"u{n}" for n in range(12)), 40, 250)
    line = render(crowd, "text").decode()
    assert line.startswith("*** 40 joined #big: u0, u1,") and "u9 and 30 more. 250 users" in line


def test_a_big_chat_lists_the_first_names_to_a_newcomer_and_counts_the_rest() -> None:
    chat = RoomChat()
    for n in range(REGISTERED_NAMES_SHOWN + 4):
        chat.join(f"u{n:03d}")
    last = chat.connect()
    chat.take(last)
    chat.line(last, "zed")
    (registered,) = [e for e in chat.take(last) if isinstance(e, ev.Registered)]
    assert len(registered.users) == REGISTERED_NAMES_SHOWN and registered.more == 5
    assert text([registered])[0].endswith(", u199 and 5 more.")
    assert "You are zed. 205 users online: u000, u001," in text([registered])[0]


def test_the_lobby_keeps_its_topic_across_restarts_and_its_history_has_no_room_name() -> None:
    archive = ListArchive()
    chat = RoomChat(archive)
    alice = chat.join("alice")
    chat.line(alice, "/topic welcome all")
    chat.line(alice, "hello")
    again = RoomChat(archive)  # a new hub on the same archive: a restart
    lobby = again.hub.rooms.lobby
    assert (lobby.topic, lobby.topic_by, lobby.topic_at) == ("welcome all", "alice", chat.now)
    bob = again.join("bob")
    again.line(bob, "/topic")
    assert text(again.take(bob)) == ["*** Topic of #lobby: welcome all"]
    again.line(bob, "/history")
    replayed = [e for e in again.take(bob) if isinstance(e, ev.Message)]
    assert [(m.text, m.room, m.history) for m in replayed] == [("hello", None, True)]
