"""Unit tests of the command parsing that bounds what a user makes the server repeat."""

from __future__ import annotations

from tcpchat.core import commands as cmd
from tcpchat.core import events as ev
from tcpchat.core.hub import Hub
from tcpchat.core.limits import MAX_QUIT_REASON_CHARS
from tcpchat.core.output import ToAll, ToSessions
from tcpchat.core.parse import parse_line


def test_a_quit_reason_within_the_limit_is_kept_whole() -> None:
    reason = "r" * MAX_QUIT_REASON_CHARS
    assert parse_line(f"/quit {reason}") == cmd.Quit(reason)


def test_a_long_quit_reason_is_cut_to_the_limit_with_an_ellipsis() -> None:
    command = parse_line("/quit " + "x" * 4000)
    assert isinstance(command, cmd.Quit)
    assert len(command.reason) == MAX_QUIT_REASON_CHARS
    assert command.reason == "x" * (MAX_QUIT_REASON_CHARS - 1) + "…"


def test_others_see_the_cut_reason_in_the_leave_notice() -> None:
    hub = Hub()
    alice, _ = hub.connect("127.0.0.1:1", 1.0)
    bob, _ = hub.connect("127.0.0.1:2", 1.0)
    for session, name in ((alice, "alice"), (bob, "bob")):
        command = parse_line(name)
        assert command is not None
        hub.handle(session, command, 1.0)
    quit_command = parse_line("/quit " + "gone " * 1000)
    assert quit_command is not None
    out = hub.handle(alice, quit_command, 2.0)
    events = [d.event for d in out if isinstance(d, (ToAll, ToSessions))]
    (left,) = [e for e in events if isinstance(e, ev.Left)]
    assert left.reason == "quit: " + ("gone " * 100)[: MAX_QUIT_REASON_CHARS - 1].rstrip() + "…"
    (bye,) = [e for e in events if isinstance(e, ev.Bye)]
    assert bye.reason == left.reason


def test_a_line_of_which_nothing_shows_is_blank_and_an_action_of_it_is_refused() -> None:
    """Zero-width spaces, a soft hyphen, the braille blank, Hangul fillers, ideographic spaces:
    sent, such a line reads as an empty one from its sender (a newcomer's review: ``/me`` of two
    zero-width spaces showed as ``* evil``). A visible character anywhere makes it a message."""
    invisible = ["\u200b\u200b", "\u00ad", "\u2800 \u2800", "\u3164", "\u3000\u3000", "\u2060"]
    invisible += ["\ufe0f\ufe0f", "\u034f", "\u180b \u17b4", "\U000e0100"]  # ignorable marks
    for text in invisible:
        assert parse_line(text) == cmd.Blank(), repr(text)
        assert parse_line(f"/me {text}") == cmd.BadUsage("/me ACTION"), repr(text)
        assert parse_line(f"/w bob {text}") == cmd.BadUsage("/w NAME TEXT"), repr(text)
    for text in ["\u200bhi", "é", "\u2800x", "\u0301", "ж"]:
        assert isinstance(parse_line(text), cmd.Say), repr(text)


def test_history_takes_ascii_digits_only_and_any_id_however_big() -> None:
    """``str.isdigit`` takes ``²`` and ``٣``, which ``int`` refuses or reads as 3: a usage error
    here, not an exception (``/history ²`` at the name prompt killed the connection with a
    traceback in the log, a review found). An id past SQLite's 64-bit integers names nothing
    older than the biggest one does."""
    USAGE = "/history [N] | /history before ID [N]"  # noqa: N806
    for rest in ("²", "before ²", "before 1 ²", "٣", "before ٣ 5", "+5", "-1", "0", "101"):
        assert parse_line(f"/history {rest}") == cmd.BadUsage(USAGE), rest
    assert parse_line("/history before 9223372036854775808") == cmd.ShowHistory(20, 2**63 - 1)
    assert parse_line("/history before " + "9" * 4000 + " 3") == cmd.ShowHistory(3, 2**63 - 1)
    assert parse_line("/history before 12 3") == cmd.ShowHistory(3, 12)
    assert parse_line("/history before " + "0" * 30 + "42 " + "0" * 20 + "5") == cmd.ShowHistory(
        5, 42
    )
