"""Unit tests of the chat domain: several fake sessions through one hub, no sockets, no clock."""

from __future__ import annotations

from collections.abc import Iterable

import pytest

from tcpchat.core import events as ev
from tcpchat.core.framing import LineDecoder
from tcpchat.core.hub import Hub
from tcpchat.core.hub_names import NOT_IRC
from tcpchat.core.limits import HubLimits
from tcpchat.core.output import Close, Instruction, ToAll, ToSessions
from tcpchat.core.parse import parse_line
from tcpchat.core.roster import Roster
from tcpchat.core.session import Session, State


class Chat:
    """A hub plus an inbox per session: ``line(user, text)`` acts like typing, time is ours."""

    def __init__(self, **limits: object) -> None:
        self.hub = Hub(HubLimits(**limits))  # type: ignore[arg-type]
        self.now = 1000.0
        self.inbox: dict[int, list[ev.Event]] = {}
        self.users: dict[str, Session] = {}
        self.closed: list[Session] = []  # sessions the hub said to close

    def route(self, out: Iterable[Instruction]) -> None:
        """Carry out the hub's instructions as a transport would, right away."""
        for item in out:
            if isinstance(item, ToAll):
                recipients = [s for s in self.hub.roster.everyone() if s is not item.skip]
            elif isinstance(item, ToSessions):
                recipients = list(item.to)
            else:
                self.closed += [item.session] if isinstance(item, Close) else []
                continue
            for session in recipients:
                self.inbox.setdefault(session.id, []).append(item.event)

    def connect(self) -> Session:
        session, out = self.hub.connect("127.0.0.1:1", self.now)
        self.route(out)
        return session

    def join(self, name: str) -> Session:
        session = self.connect()
        self.line(session, name)
        assert session.state is State.ACTIVE, self.take(session)
        self.users[name] = session
        self.take(session)
        return session

    def line(self, session: Session, text: str) -> None:
        command = parse_line(text)
        assert command is not None
        self.route(self.hub.handle(session, command, self.now))

    def take(self, session: Session) -> list[ev.Event]:
        return self.inbox.pop(session.id, [])

    def drain(self) -> None:
        self.inbox.clear()


def kinds(events: list[ev.Event]) -> list[str]:
    return [type(e).__name__ for e in events]


def only(events: list[ev.Event], kind: type) -> list[ev.Event]:
    return [e for e in events if isinstance(e, kind)]


@pytest.fixture
def chat() -> Chat:
    return Chat()


# --- joining ---------------------------------------------------------------------------------


def test_connect_greets_and_asks_for_a_name(chat: Chat) -> None:
    s = chat.connect()
    assert kinds(chat.take(s)) == ["Welcome", "Prompt"]
    assert s.state is State.NAME


def test_join_registers_and_announces_to_everyone_else(chat: Chat) -> None:
    alice = chat.join("alice")
    bob = chat.connect()
    chat.take(bob)
    chat.line(bob, "bob")
    (registered,) = chat.take(bob)
    assert registered == ev.Registered(chat.now, "bob", ("alice", "bob"))
    assert chat.take(alice) == [ev.Joined(chat.now, "bob", 2)]


def test_taken_name_is_an_error_with_a_new_prompt_not_a_disconnect(chat: Chat) -> None:
    chat.join("Alice")
    s = chat.connect()
    chat.take(s)
    chat.line(s, "aLiCe")
    error, prompt = chat.take(s)
    assert isinstance(error, ev.Error) and error.code == "name_taken"
    assert isinstance(prompt, ev.Prompt)
    assert s.state is State.NAME
    chat.line(s, "bob")
    assert s.state is State.ACTIVE


def test_names_registered_from_one_address_are_rate_limited_not_refused_for_good() -> None:
    """A loop of connect, name, quit from one address would tell everyone a join and a leave
    each time: past its burst the address waits, with a prompt to send the name again."""
    chat = Chat(arrivals=3)
    for name in ("a1", "a2", "a3"):
        chat.line(chat.join(name), "/quit")
    s = chat.connect()
    chat.take(s)
    chat.line(s, "has space!")  # a refused name takes no arrival
    chat.take(s)
    chat.line(s, "a4")
    error, prompt = chat.take(s)
    assert isinstance(error, ev.Error) and error.code == "rate_limited"
    assert error.text.endswith("send your name again in 5 s.")
    assert isinstance(prompt, ev.Prompt) and s.state is State.NAME
    other, _ = chat.hub.connect("10.0.0.9:1", chat.now)  # another address: its own share
    chat.line(other, "b1")
    assert other.state is State.ACTIVE
    chat.now += 5.0
    chat.line(s, "a4")
    assert s.state is State.ACTIVE


def test_names_are_unique_after_nfkc_case_folding(chat: Chat) -> None:
    chat.join("alice")
    s = chat.connect()
    chat.line(s, "ＡＬＩＣＥ")  # full-width letters
    assert only(chat.take(s), ev.Error)[0].code == "name_taken"  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("name", "code"),
    [
        ("two words", "name_invalid"),
        ("x" * 33, "name_invalid"),
        ("<bob>", "name_invalid"),
        ("-dash", "name_invalid"),
        ("аlice", "name_invalid"),  # Cyrillic a + Latin lice
        ("Server", "name_reserved"),
        ("ALL", "name_reserved"),
    ],
)
def test_invalid_names_are_refused_with_the_reason(chat: Chat, name: str, code: str) -> None:
    s = chat.connect()
    chat.take(s)
    chat.line(s, name)
    events = chat.take(s)
    assert only(events, ev.Error)[0].code == code  # type: ignore[attr-defined]
    assert s.state is State.NAME


def test_an_irc_client_at_the_chat_port_is_told_where_irc_is(chat: Chat) -> None:
    """irssi pointed at the chat port sent CAP LS 302, NICK and USER, each refused as a name,
    and waited for ever for an IRC answer (a newcomer's review): told at once, and closed."""
    for line in ("CAP LS 302", "NICK ivy", "USER ivy 0 * :Ivy", "PASS secret"):
        s = chat.connect()
        chat.take(s)
        chat.line(s, line)
        assert chat.take(s) == [ev.Bye(chat.now, "an IRC client at the chat port", NOT_IRC)]
        assert s.state is State.CLOSED
    later = chat.connect()
    chat.line(later, "bad name")
    chat.line(later, "NICK bob")  # not a first line: a name refused as any other
    assert later.state is State.NAME
    other = chat.connect()
    chat.line(other, "NICKy")  # a name, not IRC
    assert other.state is State.ACTIVE
    locked = Chat(password="secret")  # irssi with a server password sends PASS first
    s = locked.connect()
    locked.line(s, "PASS secret")
    assert locked.take(s)[-1] == ev.Bye(locked.now, "an IRC client at the chat port", NOT_IRC)
    assert len(locked.hub.guard) == 0  # not counted as a wrong guess


@pytest.mark.parametrize("name", ["Алиса", "李雷", "José", "o'k".replace("'", "_"), "a.b-c_9"])
def test_names_in_any_script_are_accepted(chat: Chat, name: str) -> None:
    assert chat.join(name).name == name


def test_commands_that_need_a_name_are_refused_before_one(chat: Chat) -> None:
    s = chat.connect()
    chat.take(s)
    chat.line(s, "/users")
    error, prompt = chat.take(s)
    assert isinstance(error, ev.Error) and error.code == "not_registered"
    assert isinstance(prompt, ev.Prompt)


def test_too_many_refused_names_end_the_session(chat: Chat) -> None:
    s = chat.connect()
    for _ in range(chat.hub.config.max_name_tries):
        chat.line(s, "bad name")
    assert isinstance(chat.take(s)[-1], ev.Bye)
    assert s.state is State.CLOSED


# --- messages --------------------------------------------------------------------------------


def test_public_message_goes_to_everyone_else_then_confirms(chat: Chat) -> None:
    alice, bob, carol = chat.join("alice"), chat.join("bob"), chat.join("carol")
    chat.drain()
    chat.line(alice, "hello")
    (msg,) = chat.take(bob)
    assert isinstance(msg, ev.Message) and (msg.sender, msg.text, msg.to) == (
        "alice",
        "hello",
        None,
    )
    assert chat.take(carol) == [msg]
    (delivered,) = chat.take(alice)
    # Alice's second line (her name was the first): the confirmation says which line it answers.
    assert delivered == ev.Delivered(chat.now, msg.id, None, False, "hello", 2, line=2)


def test_delivery_comes_after_the_message_was_queued_for_all(chat: Chat) -> None:
    alice = chat.join("alice")
    chat.join("bob")
    out = chat.hub.handle(alice, parse_line("hi"), chat.now)  # type: ignore[arg-type]
    assert [type(d.event) for d in out] == [ev.Message, ev.Delivered]


def test_alone_the_sender_is_told_nobody_got_it(chat: Chat) -> None:
    alice = chat.join("alice")
    chat.line(alice, "anyone?")
    (delivered,) = chat.take(alice)
    assert isinstance(delivered, ev.Delivered) and delivered.recipients == 0


def test_message_ids_increase(chat: Chat) -> None:
    alice = chat.join("alice")
    chat.line(alice, "one")
    chat.line(alice, "two")
    first, second = chat.take(alice)
    assert isinstance(first, ev.Delivered) and isinstance(second, ev.Delivered)
    assert second.id == first.id + 1


def test_action_is_a_public_message_marked_as_action(chat: Chat) -> None:
    alice, bob = chat.join("alice"), chat.join("bob")
    chat.drain()
    chat.line(alice, "/me waves")
    (msg,) = chat.take(bob)
    assert isinstance(msg, ev.Message) and msg.action and msg.text == "waves"


def test_whisper_reaches_only_its_recipient_and_confirms(chat: Chat) -> None:
    alice, bob, carol = chat.join("alice"), chat.join("bob"), chat.join("carol")
    chat.drain()
    chat.line(alice, "/w BOB psst")
    (msg,) = chat.take(bob)
    assert isinstance(msg, ev.Message) and msg.to == "bob" and msg.text == "psst"
    assert chat.take(carol) == []
    (delivered,) = chat.take(alice)
    assert isinstance(delivered, ev.Delivered) and delivered.to == "bob"


def test_whisper_to_unknown_name_is_an_error_to_the_sender(chat: Chat) -> None:
    alice, bob = chat.join("alice"), chat.join("bob")
    chat.drain()
    chat.line(alice, "/w zed hi")
    (error,) = chat.take(alice)
    assert isinstance(error, ev.Error) and error.code == "no_such_user" and "zed" in error.text
    assert chat.take(bob) == []


def test_whisper_to_yourself_is_an_error(chat: Chat) -> None:
    alice = chat.join("alice")
    chat.line(alice, "/w ALICE hi")
    (error,) = chat.take(alice)
    assert isinstance(error, ev.Error) and error.code == "self_whisper"


def test_users_lists_everyone_sorted(chat: Chat) -> None:
    chat.join("carol")
    alice = chat.join("alice")
    chat.join("Bob")
    chat.drain()
    chat.line(alice, "/users")
    assert chat.take(alice) == [ev.UserList(chat.now, ("alice", "Bob", "carol"))]


def test_help_lists_every_command_with_usage(chat: Chat) -> None:
    alice = chat.join("alice")
    chat.line(alice, "/help")
    (help_event,) = chat.take(alice)
    assert isinstance(help_event, ev.Help)
    usages = [u for u, _ in help_event.commands]
    for usage in ("/w NAME TEXT", "/users", "/quit [REASON]", "/nick NAME", "/me ACTION"):
        assert usage in usages


def test_unknown_command_points_at_help(chat: Chat) -> None:
    alice = chat.join("alice")
    chat.line(alice, "/dance")
    (error,) = chat.take(alice)
    assert isinstance(error, ev.Error) and error.code == "unknown_command"
    assert "/help" in error.text


def test_bad_usage_shows_the_usage(chat: Chat) -> None:
    alice = chat.join("alice")
    chat.line(alice, "/w bob")
    (error,) = chat.take(alice)
    assert isinstance(error, ev.Error) and error.code == "usage" and "/w NAME TEXT" in error.text


# --- rename, leave, modes ---------------------------------------------------------------------


def test_rename_is_announced_and_frees_the_old_name(chat: Chat) -> None:
    alice, bob = chat.join("alice"), chat.join("bob")
    chat.drain()
    chat.line(alice, "/nick Алиса")
    assert chat.take(alice) == [ev.Renamed(chat.now, "alice", "Алиса", True)]
    assert chat.take(bob) == [ev.Renamed(chat.now, "alice", "Алиса", False)]
    assert chat.hub.roster.find("alice") is None
    assert chat.hub.roster.find("алиса") is alice


def test_rename_to_a_taken_name_is_refused(chat: Chat) -> None:
    alice = chat.join("alice")
    chat.join("bob")
    chat.drain()
    chat.line(alice, "/nick Bob")
    (error,) = chat.take(alice)
    assert isinstance(error, ev.Error) and error.code == "name_taken"
    assert alice.name == "alice"


def test_changing_only_the_case_of_your_name_is_allowed(chat: Chat) -> None:
    alice = chat.join("alice")
    chat.line(alice, "/nick Alice")
    assert chat.take(alice) == [ev.Renamed(chat.now, "alice", "Alice", True)]


def test_quit_says_goodbye_and_announces_the_reason(chat: Chat) -> None:
    alice, bob = chat.join("alice"), chat.join("bob")
    chat.drain()
    chat.line(alice, "/quit off to lunch")
    assert chat.take(alice) == [ev.Bye(chat.now, "quit: off to lunch", "Goodbye, alice.")]
    assert chat.take(bob) == [ev.Left(chat.now, "alice", "quit: off to lunch", 1)]
    assert alice.state is State.CLOSED
    assert chat.hub.disconnect(alice, "connection closed", chat.now) == []  # no second notice


def test_abrupt_disconnect_is_announced(chat: Chat) -> None:
    alice, bob = chat.join("alice"), chat.join("bob")
    chat.drain()
    chat.route(chat.hub.disconnect(alice, "connection closed", chat.now))
    assert chat.take(bob) == [ev.Left(chat.now, "alice", "connection closed", 1)]
    assert chat.hub.roster.find("alice") is None
    assert alice.id not in chat.hub.sessions


def test_disconnect_before_a_name_announces_nothing(chat: Chat) -> None:
    alice = chat.join("alice")
    s = chat.connect()
    chat.drain()
    chat.route(chat.hub.disconnect(s, "connection closed", chat.now))
    assert chat.take(alice) == []


def test_mode_switch_before_the_name_repeats_the_greeting(chat: Chat) -> None:
    s = chat.connect()
    chat.take(s)
    chat.line(s, "/mode json")
    assert kinds(chat.take(s)) == ["ModeChanged", "Welcome", "Prompt"]
    assert s.mode == "json"


def test_ping_is_answered_with_the_same_token(chat: Chat) -> None:
    s = chat.connect()
    chat.take(s)
    chat.line(s, "/ping abc")
    assert chat.take(s) == [ev.PongReply(chat.now, "abc")]


def test_shutdown_tells_every_session_including_unnamed_ones(chat: Chat) -> None:
    alice = chat.join("alice")
    s = chat.connect()
    chat.drain()
    chat.route(chat.hub.shutdown(chat.now))
    assert kinds(chat.take(alice)) == ["Shutdown"]
    assert kinds(chat.take(s)) == ["Shutdown"]
    assert len(chat.hub.roster) == 0 and not chat.hub.sessions


# --- limits (hardening) ------------------------------------------------------------------------


def test_flood_beyond_the_burst_is_refused_then_disconnected() -> None:
    chat = Chat(flood_burst=3, flood_rate=1.0, flood_max_refused=2)
    alice, bob = chat.join("alice"), chat.join("bob")
    chat.now += 10
    chat.drain()
    for i in range(3):
        chat.line(alice, f"m{i}")
    assert len(only(chat.take(bob), ev.Message)) == 3
    assert kinds(chat.take(alice)) == ["Delivered"] * 3
    chat.line(alice, "too fast")
    (error,) = chat.take(alice)
    assert isinstance(error, ev.Error) and error.code == "rate_limited"
    assert chat.take(bob) == []
    chat.line(alice, "again")
    chat.line(alice, "and again")
    assert isinstance(chat.take(alice)[-1], ev.Bye)
    assert only(chat.take(bob), ev.Left)[0].reason == "flooding"  # type: ignore[attr-defined]


def test_flood_budget_refills_with_time() -> None:
    chat = Chat(flood_burst=2, flood_rate=1.0)
    alice = chat.join("alice")
    chat.now += 10
    chat.take(alice)
    chat.line(alice, "a")
    chat.line(alice, "b")
    chat.line(alice, "c")
    assert kinds(chat.take(alice)) == ["Delivered", "Delivered", "Error"]
    chat.now += 1.0
    chat.line(alice, "d")
    assert kinds(chat.take(alice)) == ["Delivered"]


def test_overlong_lines_are_errors_until_the_budget_then_disconnect() -> None:
    chat = Chat(max_bad_lines=3)
    alice = chat.join("alice")
    from tcpchat.core.framing import LineTooLong

    for _ in range(2):
        chat.route(chat.hub.handle(alice, parse_line(LineTooLong()), chat.now))  # type: ignore[arg-type]
    assert [e.code for e in chat.take(alice)] == ["line_too_long"] * 2  # type: ignore[attr-defined]
    chat.route(chat.hub.handle(alice, parse_line(LineTooLong()), chat.now))  # type: ignore[arg-type]
    assert isinstance(chat.take(alice)[-1], ev.Bye)


def test_unknown_command_budget_disconnects() -> None:
    chat = Chat(max_unknown=3)
    alice = chat.join("alice")
    for _ in range(3):
        chat.line(alice, "/nope")
    assert isinstance(chat.take(alice)[-1], ev.Bye)
    assert alice.state is State.CLOSED


def test_handshake_timeout_closes_a_silent_connection() -> None:
    chat = Chat(handshake_timeout=30.0)
    s = chat.connect()
    chat.take(s)
    chat.now += 29
    chat.route(chat.hub.sweep(chat.now))
    assert chat.take(s) == []
    chat.now += 1
    chat.route(chat.hub.sweep(chat.now))
    (bye,) = chat.take(s)
    assert isinstance(bye, ev.Bye) and bye.reason == "timed out"


def test_quiet_json_session_is_pinged_then_dropped_without_answer() -> None:
    chat = Chat(ping_interval=60.0, ping_timeout=30.0)
    alice = chat.join("alice")
    bob = chat.join("bob")
    chat.line(alice, "/mode json")
    chat.drain()
    chat.now += 60
    chat.route(chat.hub.sweep(chat.now))
    (ping,) = chat.take(alice)
    assert isinstance(ping, ev.PingRequest)
    assert chat.take(bob) == []  # text-mode sessions are never pinged
    chat.now += 30
    chat.route(chat.hub.sweep(chat.now))
    assert isinstance(chat.take(alice)[-1], ev.Bye)
    assert only(chat.take(bob), ev.Left)[0].reason == "timed out"  # type: ignore[attr-defined]


def test_answering_the_ping_keeps_the_session() -> None:
    chat = Chat(ping_interval=60.0, ping_timeout=30.0)
    alice = chat.join("alice")
    chat.line(alice, "/mode json")
    chat.now += 60
    chat.route(chat.hub.sweep(chat.now))
    (ping,) = [e for e in chat.take(alice) if isinstance(e, ev.PingRequest)]
    chat.now += 5
    chat.line(alice, f"/pong {ping.token}")
    chat.now += 40
    chat.route(chat.hub.sweep(chat.now))
    assert alice.state is State.ACTIVE


def test_password_is_asked_before_the_name() -> None:
    chat = Chat(password="sesame", max_password_tries=2)
    s = chat.connect()
    assert chat.take(s)[-1] == ev.Prompt(chat.now, "password")
    chat.line(s, "/users")
    assert only(chat.take(s), ev.Error)[0].code == "not_registered"  # type: ignore[attr-defined]
    chat.line(s, "/pass sesame")
    assert chat.take(s) == [ev.Prompt(chat.now, "name")]
    chat.line(s, "alice")
    assert s.state is State.ACTIVE


def test_wrong_passwords_disconnect_after_the_budget() -> None:
    chat = Chat(password="sesame", max_password_tries=2)
    s = chat.connect()
    chat.take(s)
    chat.line(s, "/pass nope")
    assert [type(e) for e in chat.take(s)] == [ev.Error, ev.Prompt]
    chat.line(s, "guess")
    assert isinstance(chat.take(s)[-1], ev.Bye)
    assert s.state is State.CLOSED


def test_a_last_try_that_was_not_compared_is_not_called_wrong() -> None:
    """The protocol review: the right password, sent while the address had to wait, was the
    connection's last try and got "Wrong password. Goodbye."."""
    chat = Chat(password="sesame", max_password_tries=3)
    guesser = chat.connect()
    chat.take(guesser)
    for _ in range(3):  # the free wrong tries of the address
        chat.line(guesser, "/pass nope")
    s = chat.connect()
    chat.take(s)
    chat.line(s, "/pass nope")  # the fourth wrong one: the next is not compared for 1 s
    chat.line(s, "/pass nope")
    assert [e.code for e in only(chat.take(s), ev.Error)] == ["bad_password", "password_wait"]  # type: ignore[attr-defined]
    chat.line(s, "/pass sesame")
    (bye,) = only(chat.take(s), ev.Bye)
    assert bye.reason == "password tries used up while waiting"  # type: ignore[attr-defined]
    assert "not checked" in bye.text and "wait 1 s" in bye.text  # type: ignore[attr-defined]


def test_before_the_password_the_greeting_says_nothing_about_the_chat() -> None:
    chat = Chat(password="sesame")
    welcome = only(chat.take(chat.connect()), ev.Welcome)[0]
    assert welcome.online is None  # type: ignore[attr-defined]


def test_the_password_is_compared_exactly_as_sent_spaces_included() -> None:
    chat = Chat(password=" two words ")
    s = chat.connect()
    chat.take(s)
    chat.line(s, "two words")
    assert only(chat.take(s), ev.Error)[0].code == "bad_password"  # type: ignore[attr-defined]
    chat.line(s, " two words ")
    assert chat.take(s) == [ev.Prompt(chat.now, "name")]


def test_wrong_passwords_from_one_address_slow_down_across_reconnects_then_ban() -> None:
    chat = Chat(password="sesame", max_password_tries=100)
    sessions = [chat.connect() for _ in range(3)]  # same origin: 127.0.0.1:1
    for s in sessions:
        chat.take(s)
    compared = 0
    for attempt in range(200):  # bounded: every try either compared or told to wait
        s = sessions[attempt % 3]
        chat.line(s, "/pass guess")
        codes = [e.code for e in only(chat.take(s), ev.Error)]  # type: ignore[attr-defined]
        if codes == ["bad_password"]:
            compared += 1
        elif codes == ["password_wait"]:
            chat.now += 0.5  # a guesser hammering twice a second
        else:
            break  # the ban closed the session
    # 10 wrong tries, 3 of them free, the rest 1, 2, 4 ... s apart: about 2 minutes, then a ban.
    assert compared == 9
    assert chat.hub.refusal("127.0.0.1:1", chat.now) is not None
    assert chat.hub.refusal("127.0.0.1:1", chat.now + 3600) is None


def test_cheap_lines_cost_tokens_too_so_a_ping_flood_is_refused_then_dropped() -> None:
    chat = Chat()
    flooder = chat.join("mallory")
    codes = []
    for n in range(500):  # all at one instant: the bucket never refills
        chat.line(flooder, "/ping" if n % 2 else "")
        events = chat.take(flooder)
        codes += [getattr(e, "code", type(e).__name__) for e in events]
        if flooder.state is State.CLOSED:
            break
    assert flooder.state is State.CLOSED
    assert "rate_limited" in codes and codes[-1] == "Bye"
    # The burst of 10 tokens less the name line, a quarter each: 36 cheap lines (half of them
    # pings), then refusals until the limit.
    assert codes.count("PongReply") == 18
    assert codes.count("rate_limited") == HubLimits().flood_max_refused


def test_a_discarded_private_message_is_reported_to_its_sender(chat: Chat) -> None:
    alice, bob = chat.join("alice"), chat.join("bob")
    chat.take(alice)
    out = chat.hub.handle(alice, parse_line("/w bob hi"), chat.now)
    to_bob = next(d for d in out if isinstance(d, ToSessions) and d.to == (bob,))
    assert to_bob.confirmed is alice
    notice = chat.hub.undelivered(to_bob, "send queue exceeded", chat.now)
    assert [d.event for d in notice] == [
        ev.Undelivered(chat.now, to_bob.event.id, "bob", "send queue exceeded")  # type: ignore[union-attr]
    ]
    assert notice[0] == ToSessions((alice,), notice[0].event)
    chat.line(alice, "/quit")
    assert chat.hub.undelivered(to_bob, "send queue exceeded", chat.now) == []


def test_a_public_message_asks_for_no_receipt(chat: Chat) -> None:
    alice, _ = chat.join("alice"), chat.join("bob")
    out = chat.hub.handle(alice, parse_line("hello"), chat.now)
    assert all(getattr(d, "confirmed", None) is None for d in out)
    assert [type(d) for d in out] == [ToAll, ToSessions]


def test_every_answer_names_the_line_it_answers_counting_every_line(chat: Chat) -> None:
    alice, _ = chat.join("alice"), chat.join("bob")
    chat.take(alice)
    for text in ("/nick alice", "", "/w bob hi", "/ping", "/w nobody hi"):
        chat.line(alice, text)
    answers = [e for e in chat.take(alice) if isinstance(e, (ev.Error, ev.Delivered))]
    # The name was line 1; "/nick alice" (already yours) line 2, the blank line 3, and so on.
    assert [(type(e).__name__, e.line) for e in answers] == [
        ("Error", 2),
        ("Delivered", 4),
        ("Error", 6),
    ]


def test_a_line_that_goes_on_and_on_is_still_one_line_for_the_numbering() -> None:
    chat = Chat(max_line=100)
    alice, _ = chat.join("alice"), chat.join("bob")
    chat.take(alice)
    decoder = LineDecoder(100)
    frames = decoder.feed(b"x" * 450) + decoder.feed(b"\n/w bob hi\n")
    assert [type(f).__name__ for f in frames][:4] == ["LineTooLong"] * 4  # one line, four parts
    for frame in frames:
        chat.route(chat.hub.handle(alice, parse_line(frame), chat.now))
    answers = [e for e in chat.take(alice) if isinstance(e, (ev.Error, ev.Delivered))]
    # The name was line 1, the endless line 2 (each of its parts answered as line 2), the
    # whisper line 3.
    assert [e.line for e in answers] == [2, 2, 2, 2, 3]


# --- refusals before registration: one error, then a fresh prompt ------------------------------


def _refused(events: list[ev.Event], prompt: str = "name") -> str:
    """The code of the one error in ``events``, which must be followed by a fresh prompt."""
    assert [type(e) for e in events] == [ev.Error, ev.Prompt], events
    assert events[1] == ev.Prompt(events[1].time, prompt)
    return events[0].code  # type: ignore[attr-defined, no-any-return]


@pytest.mark.parametrize("line", ["", "   "])
def test_an_empty_name_is_refused_with_a_fresh_prompt(chat: Chat, line: str) -> None:
    s = chat.connect()
    chat.take(s)
    chat.line(s, line)
    assert _refused(chat.take(s)) == "name_invalid"


def test_empty_names_do_not_use_up_the_refused_name_budget() -> None:
    chat = Chat(max_name_tries=2)
    s = chat.connect()
    for _ in range(5):
        chat.line(s, "")
    assert s.state is State.NAME
    chat.line(s, "alice")
    assert s.state is State.ACTIVE


def test_blank_lines_stay_harmless_once_active(chat: Chat) -> None:
    alice = chat.join("alice")
    chat.line(alice, "  ")
    assert chat.take(alice) == []


@pytest.mark.parametrize(
    ("line", "code"),
    [
        ("/nick", "usage"),
        ("/nick   ", "usage"),
        ("/users", "not_registered"),
        ("/w bob hi", "not_registered"),
        ("/frobnicate", "unknown_command"),
        ("a b", "name_invalid"),
    ],
)
def test_every_refusal_at_the_name_prompt_is_followed_by_a_prompt(
    chat: Chat, line: str, code: str
) -> None:
    s = chat.connect()
    chat.take(s)
    chat.line(s, line)
    assert _refused(chat.take(s)) == code


@pytest.mark.parametrize(
    ("data", "code"), [(b"\xff\xfe\n", "invalid_utf8"), (b"x" * 5000 + b"\n", "line_too_long")]
)
def test_a_bad_name_line_is_refused_with_a_fresh_prompt(chat: Chat, data: bytes, code: str) -> None:
    s = chat.connect()
    chat.take(s)
    for frame in LineDecoder(chat.hub.config.max_line).feed(data):
        chat.route(chat.hub.handle(s, parse_line(frame), chat.now))
    assert _refused(chat.take(s)) == code


def test_help_and_quit_work_before_a_name(chat: Chat) -> None:
    s = chat.connect()
    chat.take(s)
    chat.line(s, "/help")
    assert kinds(chat.take(s)) == ["Help"]
    chat.line(s, "/quit")
    assert kinds(chat.take(s)) == ["Bye"]
    assert s.state is State.CLOSED


@pytest.mark.parametrize(("line", "code"), [("", "not_registered"), ("/users", "not_registered")])
def test_every_refusal_at_the_password_prompt_is_followed_by_a_prompt(line: str, code: str) -> None:
    chat = Chat(password="sesame", max_password_tries=2)
    s = chat.connect()
    chat.take(s)
    chat.line(s, line)
    assert _refused(chat.take(s), "password") == code
    assert s.password_tries == 0  # an empty line is not a guess


def test_a_line_refused_as_too_fast_before_the_name_gets_a_prompt() -> None:
    chat = Chat(flood_burst=1, flood_rate=0.001)
    s = chat.connect()
    chat.take(s)
    chat.line(s, "/ping")
    chat.line(s, "/ping")
    chat.line(s, "/ping")
    chat.line(s, "/ping")
    chat.take(s)
    chat.line(s, "alice")
    assert _refused(chat.take(s)) == "rate_limited"


def test_a_sweep_that_drops_many_sessions_does_not_rebuild_the_roster_per_leave(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    chat = Chat()
    sessions = [chat.join(f"user{n}") for n in range(200)]
    for session in sessions:
        chat.line(session, "/mode json")
        session.pinged_at = chat.now  # pinged, and silent since
    built = []
    original = Roster.everyone

    def counting(self: Roster) -> tuple[Session, ...]:
        built.append(1)
        return original(self)

    monkeypatch.setattr(Roster, "everyone", counting)
    out = chat.hub.sweep(chat.now + HubLimits().ping_timeout)
    assert len(chat.hub.roster) == 0
    assert sum(isinstance(item, ToAll) for item in out) == 199  # one leave notice each
    assert built == []  # the leaves go to all as they are routed: no tuple per leave
