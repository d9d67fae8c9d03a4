"""The client core, sans I/O: event objects and typed lines in, decisions out; no sockets."""

from __future__ import annotations

from tcpchat.client import core
from tcpchat.client.core import ClientCore, Leave, LocalHelp, Refuse, Send, Sent
from tcpchat.core import events as ev
from tcpchat.core.limits import MAX_LINE_BYTES

T = 1_800_000_000.0
WELCOME = ev.Welcome(T, "2.0.0", 1, MAX_LINE_BYTES, 10.0, 2.0)
# The handshake used lines 1 (/mode json) and 2 (/nick alice): the user's lines start at 3.
FIRST = 3


def joined(name: str = "alice", users: tuple[str, ...] = ("alice", "bob")) -> ClientCore:
    c = ClientCore(name)
    c.joined(ev.Registered(T, name, users), WELCOME)
    return c


def send(c: ClientCore, number: int, line: str) -> str:
    """Type ``line``, and send it as line ``number`` as the link would; returns what went."""
    todo = c.typed(line)
    assert isinstance(todo, Send), todo
    c.sent(number, todo.text)
    return todo.text


def delivered(line: int, to: str | None = None, text: str = "hi", id: int = 1) -> ev.Delivered:
    return ev.Delivered(T, id, to, False, text, 1, line)


# --- confirmations are tied to lines by the server's line number --------------------------------


def test_own_name_nick_then_whisper_marks_the_whisper_delivered() -> None:
    """The bug of issue 12: the usage error answers the /nick line, not the whisper after it."""
    c = joined()
    send(c, FIRST, "/nick alice")
    send(c, FIRST + 1, "/w bob hi")
    error = c.receive(ev.Error(T, "usage", "You already have that name.", FIRST))
    assert error.answers is None and not error.failed
    confirmed = c.receive(delivered(FIRST + 1, to="bob"))
    assert confirmed.answers == Sent(FIRST + 1, "/w bob hi") and not confirmed.failed
    assert c.pending == {}


def test_an_error_naming_a_message_line_marks_that_message_not_sent() -> None:
    c = joined()
    send(c, FIRST, "/w nobody are you there")
    send(c, FIRST + 1, "hello")
    refused = c.receive(ev.Error(T, "no_such_user", "No such user: nobody.", FIRST))
    assert refused.answers == Sent(FIRST, "/w nobody are you there") and refused.failed
    assert list(c.pending) == [FIRST + 1]
    assert c.receive(delivered(FIRST + 1)).answers == Sent(FIRST + 1, "hello")
    assert c.refused == 1


def test_answers_find_their_line_whatever_the_order() -> None:
    c = joined()
    for n, line in enumerate(["one", "two", "three"], start=FIRST):
        send(c, n, line)
    assert c.receive(delivered(FIRST + 2)).answers == Sent(FIRST + 2, "three")
    assert c.receive(delivered(FIRST)).answers == Sent(FIRST, "one")
    assert list(c.pending) == [FIRST + 1]


def test_lines_numbered_by_the_link_between_messages_do_not_shift_the_answers() -> None:
    """A /pong the link sent for a ping took a number: the next message is one further on."""
    c = joined()
    send(c, FIRST, "before")
    send(c, FIRST + 2, "after")  # FIRST + 1 was "/pong token", sent by the link itself
    assert c.receive(delivered(FIRST + 2)).answers == Sent(FIRST + 2, "after")
    assert c.receive(delivered(FIRST)).answers == Sent(FIRST, "before")


def test_lines_answered_otherwise_are_not_pending() -> None:
    c = joined()
    for n, line in enumerate(["/users", "/nick alicia", "/ping x", "/help", "/who"], start=FIRST):
        send(c, n, line)
    assert c.pending == {}


def test_an_answer_without_a_line_number_confirms_nothing() -> None:
    c = joined()
    send(c, FIRST, "hello")
    assert c.receive(delivered(0)).answers is None
    assert c.receive(ev.Error(T, "usage", "x", 0)).answers is None
    assert list(c.pending) == [FIRST]


def test_which_lines_await_delivered_comes_from_the_command_table() -> None:
    for line in ("hello", "//slash", "/w bob hi", "/msg bob hi", "/WHISPER bob hi", "/me waves"):
        assert core.is_message(line), line
    for line in ("/users", "/names", "/nick x", "/quit", "/ping", "/help", "/nosuch", "   "):
        assert not core.is_message(line), line
    assert core.is_message("/w\tbob hi")  # the server reads a tab as a space


def test_undelivered_names_the_private_message_by_its_id() -> None:
    c = joined()
    send(c, FIRST, "/w bob psst")
    send(c, FIRST + 1, "/w bob are you there")
    c.receive(delivered(FIRST, to="bob", id=7))
    c.receive(delivered(FIRST + 1, to="bob", id=8))
    lost = c.receive(ev.Undelivered(T, 8, "bob", "send queue exceeded"))
    assert lost.answers == Sent(FIRST + 1, "/w bob are you there") and lost.failed
    assert c.undelivered == 1
    assert c.receive(ev.Undelivered(T, 99, "bob", "timed out")).answers is None


def test_lines_unanswered_when_the_connection_ends_are_handed_back() -> None:
    c = joined()
    send(c, FIRST, "one")
    send(c, FIRST + 1, "two")
    c.receive(delivered(FIRST))
    assert c.disconnected() == [Sent(FIRST + 1, "two")]
    assert c.pending == {} and not c.registered
    assert isinstance(c.typed("hello"), Refuse)


# --- typed lines --------------------------------------------------------------------------------


def test_r_replies_to_the_last_private_sender_even_after_a_rename() -> None:
    c = joined(users=("alice", "bob", "carol"))
    assert c.typed("/r hi") == Refuse("Nobody has sent you a private message yet.")
    c.receive(ev.Message(T, 1, "bob", "alice", False, "first"))
    c.receive(ev.Message(T, 2, "carol", "alice", False, "psst"))
    assert c.typed("/r  got it ") == Send("/w carol got it")
    assert c.typed("/reply ok") == Send("/w carol ok")
    assert c.typed("/r") == Refuse("Usage: /r TEXT")
    c.receive(ev.Renamed(T, "carol", "caroline", False))
    assert c.typed("/r still there?") == Send("/w caroline still there?")


def test_public_messages_do_not_change_who_r_answers() -> None:
    c = joined()
    c.receive(ev.Message(T, 1, "bob", None, False, "hi all"))
    assert isinstance(c.typed("/r hi"), Refuse)


def test_quit_and_its_aliases_leave_with_the_reason() -> None:
    c = joined()
    assert c.typed("/quit see you") == Leave("/quit see you")
    assert c.typed("/EXIT") == Leave("/quit")
    assert c.typed("/bye  later ") == Leave("/quit later")
    assert ClientCore().typed("/quit") == Leave("/quit")  # before joining too


def test_help_before_joining_is_answered_here_without_the_plumbing() -> None:
    todo = ClientCore().typed("/?")
    assert isinstance(todo, LocalHelp)
    usages = [usage.split()[0] for usage, _ in todo.rows]
    assert "/w" in usages and "/quit" in usages
    assert not {"/mode", "/pong", "/pass"} & set(usages)
    assert joined().typed("/help") == Send("/help")


def test_the_servers_help_is_shown_without_the_plumbing() -> None:
    rows = (("/w NAME TEXT", "whisper"), ("/mode json|text", "m"), ("/pong TOKEN", "p"))
    assert core.for_people(rows) == (("/w NAME TEXT", "whisper"),)


def test_plumbing_commands_are_not_for_people() -> None:
    c = joined()
    assert c.typed("/mode text") == Refuse("/mode is not for people; this client handles it.")
    assert c.typed("/PONG 5") == Refuse("/pong is not for people; this client handles it.")
    assert isinstance(c.typed("/pass secret"), Refuse)


def test_lines_that_cannot_go_now_are_refused_and_kept() -> None:
    assert ClientCore("alice").typed("hello") == Refuse("Not connected: nothing was sent.", True)
    too_long = "x" * (MAX_LINE_BYTES + 1)
    assert joined().typed(too_long) == Refuse(
        f"Too long to send ({MAX_LINE_BYTES + 1} bytes; the server takes {MAX_LINE_BYTES}).", True
    )


def test_refusals_count_as_failures_of_the_run_and_blank_lines_are_nothing() -> None:
    c = joined()
    assert c.typed("   ") is None
    assert c.typed("\u200b\u3000\u200b") is None  # nothing shows: the server ignores it too
    c.typed("/mode text")
    assert c.refused == 1


def test_lines_are_sent_stripped_and_read_as_the_server_reads_them() -> None:
    assert joined().typed("  hello there  ") == Send("hello there")
    assert joined().typed("/mode\ttext") == Refuse(
        "/mode is not for people; this client handles it."
    )
    assert joined().typed("a\x1b[2Jb") == Send("a\ufffd[2Jb")


# --- events -------------------------------------------------------------------------------------


def test_the_roster_follows_registered_users_join_leave_and_rename() -> None:
    c = joined(users=("alice", "bob"))
    c.receive(ev.Joined(T, "Carol", 3))
    c.receive(ev.Joined(T, "dave", 4))
    c.receive(ev.Left(T, "bob", "quit", 3))
    c.receive(ev.Renamed(T, "dave", "David", False))
    assert c.names() == ["alice", "Carol", "David"]
    c.receive(ev.UserList(T, ("alice", "erin")))
    assert c.names() == ["alice", "erin"]


def test_a_rename_of_yourself_changes_your_name_and_says_so() -> None:
    c = joined()
    seen = c.receive(ev.Renamed(T, "alice", "alicia", True))
    assert seen.renamed_me and c.me == "alicia"
    assert not c.receive(ev.Renamed(T, "bob", "robert", False)).renamed_me
    assert c.me == "alicia"


def test_bell_for_private_messages_and_mentions_from_others_only() -> None:
    c = joined()
    assert c.receive(ev.Message(T, 1, "bob", "alice", False, "psst")).bell
    assert c.receive(ev.Message(T, 2, "bob", None, False, "alice?")).bell
    assert not c.receive(ev.Message(T, 3, "bob", None, False, "hi all")).bell
    assert not c.receive(ev.Message(T, 4, "ALICE", None, False, "alice")).bell
    assert not c.receive(ev.Joined(T, "alice2", 2)).bell


def test_mentions_are_whole_words_in_any_case() -> None:
    assert core.mentions("alice: hi", "alice")
    assert core.mentions("hi @Alice!", "alice")
    assert core.mentions("привет, Алиса", "алиса")
    assert not core.mentions("malice", "alice")
    assert not core.mentions("alice_2 hi", "alice")


def test_shutdown_is_remembered_until_the_next_session() -> None:
    c = joined()
    c.receive(ev.Shutdown(T, "Server is shutting down."))
    assert c.shutdown_seen
    c.disconnected()
    c.joined(ev.Registered(T, "alice", ("alice",)), WELCOME)
    assert not c.shutdown_seen


# --- Tab completion -----------------------------------------------------------------------------


def test_tab_completes_commands_at_the_start_of_the_line() -> None:
    start, words = core.complete("/wh", 3, [], "alice")
    assert (start, words) == (0, ["/whisper ", "/who "])
    assert "/r " in core.complete("/", 1, [], "alice")[1]
    assert "/mode " not in core.complete("/", 1, [], "alice")[1]


def test_tab_completes_names_but_not_your_own() -> None:
    names = ["alice", "bob", "Bobby", "Борис"]
    assert core.complete("b", 1, names, "alice") == (0, ["bob: ", "Bobby: "])
    assert core.complete("/w b", 4, names, "alice") == (3, ["bob ", "Bobby "])
    assert core.complete("hi бо", 5, names, "alice") == (3, ["Борис "])
    assert core.complete("hi @bo", 6, names, "alice") == (3, ["@bob ", "@Bobby "])
    assert core.complete("a", 1, names, "alice") == (0, [])
    assert core.complete("a", 1, names, "ALICE") == (0, [])


def test_tab_after_a_space_offers_a_name_only_where_a_name_goes() -> None:
    """The UX review: "/w bob " then Tab gave "/w bob bob"; irssi offers nothing there."""
    names = ["alice", "bob", "Борис"]
    assert core.complete("/w bob ", 7, names, "alice") == (7, [])
    assert core.complete("hi ", 3, names, "alice") == (3, [])
    assert core.complete("/w ", 3, names, "alice") == (3, ["bob ", "Борис "])
    assert core.complete("", 0, names, "alice") == (0, ["bob: ", "Борис: "])


def test_the_first_line_tells_a_tcp_chat_2_server_from_another() -> None:
    assert core.greeting_kind("*** Welcome to tcp-chat 2.0.0. Type /help.") == core.GREETED
    assert core.greeting_kind("*** Welcome to tcp-chat 3.1.0. 2 users online.") == core.GREETED
    assert core.greeting_kind("!!! Server full (10 connections).") == core.REFUSED
    assert core.greeting_kind("Welcome! Enter your name:") == core.FOREIGN
    assert core.greeting_kind("*** Welcome to tcp-chat 1.0.") == core.FOREIGN
    assert core.greeting_kind("SSH-2.0-OpenSSH_9.6") == core.FOREIGN


def test_at_the_name_prompt_help_and_quit_are_commands_and_an_empty_name_is_asked_again() -> None:
    c = ClientCore()
    assert c.named("  alice ") == core.UseName("alice")
    assert c.named("john smith") == core.UseName("john smith")  # the server says what is wrong
    assert c.named("/nick bob") == core.UseName("bob")
    assert isinstance(c.named("/help"), LocalHelp)
    assert c.named("/quit") == Leave("/quit")
    assert c.named("   ") == Refuse(core.NAME_NEEDED)
    assert c.named("/nick") == Refuse(core.NAME_NEEDED)
    refused = c.named("/users")
    assert isinstance(refused, Refuse) and refused.reason.startswith("/users works once")
