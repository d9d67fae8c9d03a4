"""Unit tests of the sans-I/O wire format: framing, parsing, rendering, with byte literals."""

from __future__ import annotations

import json
import re
from datetime import datetime, timezone
from pathlib import Path

import pytest

from tcpchat.core import codes
from tcpchat.core import commands as cmd
from tcpchat.core import events as ev
from tcpchat.core.cluster import LINK_BACK, LINK_LOST
from tcpchat.core.framing import InvalidUtf8, LineDecoder, LineTooLong
from tcpchat.core.limits import MAX_BLANK_RUN
from tcpchat.core.parse import parse_line
from tcpchat.core.text import neutralise, neutralise_line
from tcpchat.core.wire import event_fields, parse_event, render, render_text

T = 1764000000.25  # 2025-11-24T16:00:00.250Z


# --- framing ---------------------------------------------------------------------------------


def test_lines_split_across_packets_are_joined() -> None:
    d = LineDecoder()
    assert d.feed(b"hel") == []
    assert d.feed(b"lo wor") == []
    assert d.feed(b"ld\n") == ["hello world"]


def test_several_lines_in_one_packet_come_out_in_order() -> None:
    assert LineDecoder().feed(b"one\ntwo\nthree\npart") == ["one", "two", "three"]


def test_crlf_and_lf_both_end_a_line() -> None:
    assert LineDecoder().feed(b"a\r\nb\nc\r\n") == ["a", "b", "c"]


def test_a_cr_split_from_its_lf_is_still_removed() -> None:
    d = LineDecoder()
    assert d.feed(b"abc\r") == []
    assert d.feed(b"\n") == ["abc"]


def test_line_exactly_at_the_limit_is_accepted() -> None:
    d = LineDecoder(max_line=8)
    assert d.feed(b"12345678\r\n") == ["12345678"]
    assert d.feed(b"12345678\n") == ["12345678"]


def test_overlong_line_with_newline_is_one_error_and_the_next_line_works() -> None:
    d = LineDecoder(max_line=8)
    assert d.feed(b"123456789\nok\n") == [LineTooLong(), "ok"]


def test_overlong_line_without_newline_is_discarded_up_to_the_next_newline() -> None:
    d = LineDecoder(max_line=8)
    assert d.feed(b"x" * 12) == [LineTooLong()]
    assert d.buffered == 0
    assert d.feed(b"y" * 5) == []  # the same line goes on: nothing kept, no new error yet
    assert d.buffered == 0
    assert d.feed(b"zz\nnext\n") == ["next"]


def test_an_endless_line_counts_again_for_every_max_line_bytes() -> None:
    d = LineDecoder(max_line=8)
    assert d.feed(b"x" * 10) == [LineTooLong()]  # 1 byte past the limit (9 with a CR)
    assert d.feed(b"y" * 80) == [LineTooLong(more=True)] * 10  # 81 bytes dropped: 10 more parts
    assert d.buffered == 0


def test_overlong_line_arriving_byte_by_byte_reports_once() -> None:
    d = LineDecoder(max_line=4)
    out = []
    for byte in b"abcdefg\nok\n":
        out += d.feed(bytes([byte]))
    assert out == [LineTooLong(), "ok"]


def test_invalid_utf8_is_an_error_item_not_an_exception() -> None:
    assert LineDecoder().feed(b"\xff\xfe\nfine\n") == [InvalidUtf8(), "fine"]


def test_multibyte_character_split_across_packets_decodes() -> None:
    data = "Привет\n".encode()
    d = LineDecoder()
    assert d.feed(data[:3]) == []
    assert d.feed(data[3:]) == ["Привет"]


def test_eof_flushes_a_last_line_without_newline() -> None:
    d = LineDecoder()
    assert d.feed(b"bye") == []
    assert d.feed_eof() == ["bye"]
    assert d.feed_eof() == []


def test_control_characters_are_neutralised_at_the_entrance() -> None:
    (line,) = LineDecoder().feed(b"a\x1b[2Jb\x07c\x00d\te\xc2\x9bf\n")
    assert line == "a\ufffd[2Jb\ufffdc\ufffdd e\ufffdf"


def test_bidi_overrides_and_line_separators_are_neutralised() -> None:
    assert neutralise("x\u202ey\u2028z\u2066") == "x\ufffdy\ufffdz\ufffd"


def test_a_run_of_spaces_is_cut_so_it_cannot_push_text_to_the_next_row() -> None:
    line = b"lol" + b" " * 67 + b"<alice> my password is hunter2\n"
    assert MAX_BLANK_RUN == 8
    assert LineDecoder().feed(line) == ["lol" + " " * 8 + "<alice> my password is hunter2"]


def test_spaces_up_to_the_cap_are_kept() -> None:
    assert LineDecoder().feed(b"Done.  Next one.\n") == ["Done.  Next one."]
    assert LineDecoder().feed(b"a" + b" " * 8 + b"b\n") == ["a" + " " * 8 + "b"]
    assert LineDecoder().feed(b"a" + b" " * 9 + b"b\n") == ["a" + " " * 8 + "b"]
    assert LineDecoder().feed("Готово.  Дальше.\n".encode()) == ["Готово.  Дальше."]


def test_tabs_become_spaces_and_are_cut_like_them() -> None:
    assert LineDecoder().feed(b"a\t\tb" + b"\t" * 20 + b"c\n") == ["a  b" + " " * 8 + "c"]


@pytest.mark.parametrize(
    "blank",
    [
        "\u00a0",  # no-break space
        "\u1680",  # Ogham space mark
        "\u2000",  # en quad
        "\u2007",  # figure space
        "\u200a",  # hair space
        "\u202f",  # narrow no-break space
        "\u205f",  # medium mathematical space
        "\u3000",  # ideographic space (two columns)
        "\u2800",  # braille pattern blank
        "\u3164",  # Hangul filler
        "\u115f",  # Hangul choseong filler
        "\u1160",  # Hangul jungseong filler
        "\uffa0",  # halfwidth Hangul filler
        "\U0001d159",  # musical symbol null notehead
        "\u200b",  # zero width space: no column in most terminals, one in some
        "\u00ad",  # soft hyphen
        "\U000e0020",  # tag space
    ],
)
def test_blank_look_alikes_are_runs_of_blanks_too(blank: str) -> None:
    (line,) = LineDecoder().feed(("lol" + blank * 67 + "<alice> hi\n").encode())
    assert line == "lol" + blank * MAX_BLANK_RUN + "<alice> hi"


def test_a_run_mixing_blanks_is_one_run() -> None:
    padding = "\u00a0\u2800 \u3164\u3000\u200b\u2003\uffa0" * 10
    (line,) = LineDecoder().feed(("x" + padding + "<alice> hi\n").encode())
    assert line == "x" + padding[:MAX_BLANK_RUN] + "<alice> hi"


def test_combining_marks_on_blanks_do_not_break_a_run() -> None:
    for mark in ("\u034f", "\u0301", "\ufe0f", "\U000e0100", "\U0001d167"):
        (line,) = LineDecoder().feed(("x" + (" " + mark) * 30 + "y\n").encode())
        assert line == "x" + (" " + mark) * MAX_BLANK_RUN + "y", mark


def test_visible_padding_and_single_blanks_between_words_are_kept() -> None:
    text = "lol" + "." * 67 + " <alice> " + "\u00a0".join(["10", "km"]) + " \u2800 é\u0301"
    assert neutralise_line(text) == text
    assert neutralise_line("plain text") == "plain text"


def test_a_long_ascii_line_is_checked_as_thoroughly_as_a_short_one() -> None:
    # Lines over a few hundred bytes take a faster path; the result must not differ.
    words = b"word " * 100
    assert LineDecoder().feed(words + b"\n") == [words.decode()]
    assert LineDecoder().feed(words + b" " * 20 + b"x\n") == [words.decode() + " " * 7 + "x"]
    assert LineDecoder().feed(words + b"\x1b[2J\n") == [words.decode() + "\ufffd[2J"]


def test_a_line_that_neutralising_makes_longer_than_the_limit_is_too_long() -> None:
    # Each control character becomes U+FFFD, three bytes in UTF-8.
    d = LineDecoder(max_line=8)
    assert d.feed(b"\x00\x00ab\n") == ["\ufffd\ufffdab"]  # 8 bytes once neutralised
    assert d.feed(b"\x00\x00\x00\n") == [LineTooLong()]  # 9 bytes
    assert d.feed(b"\xc2\x9b" * 3 + b"\n") == [LineTooLong()]  # C1 controls: 2 bytes each, then 3
    assert d.feed(b"ok\n") == ["ok"]
    assert d.feed(b"\x07" * 4) == []
    assert d.feed_eof() == [LineTooLong()]


def test_a_line_of_control_bytes_at_the_limit_is_refused_not_tripled() -> None:
    assert LineDecoder().feed(b"\x01" * 4000 + b"\n") == [LineTooLong()]
    (line,) = LineDecoder().feed(b"\x01" * 1365 + b"\n")
    assert len(line.encode("utf-8")) == 4095


# --- parsing ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("hello", cmd.Say("hello")),
        ("  padded  ", cmd.Say("padded")),
        ("//help me", cmd.Say("/help me")),
        ("/w bob hi there", cmd.Whisper("bob", "hi there")),
        ("/msg bob  hi", cmd.Whisper("bob", "hi")),
        ("/W Bob hi", cmd.Whisper("Bob", "hi")),
        ("/me waves", cmd.Action("waves")),
        ("/users", cmd.ListUsers()),
        ("/who", cmd.ListUsers()),
        ("/nick Алиса", cmd.Nick("Алиса")),
        ("/help", cmd.ShowHelp()),
        ("/quit", cmd.Quit("")),
        ("/quit gone fishing", cmd.Quit("gone fishing")),
        ("/mode json", cmd.SetMode("json")),
        ("/mode TEXT", cmd.SetMode("text")),
        ("/ping 42", cmd.Ping("42")),
        ("/pong 42", cmd.Pong("42")),
        ("/pass s3cret words", cmd.Password("s3cret words")),
        ("/frobnicate x", cmd.UnknownCommand("frobnicate")),
        ("/w bob", cmd.BadUsage("/w NAME TEXT")),
        ("/w", cmd.BadUsage("/w NAME TEXT")),
        ("/me", cmd.BadUsage("/me ACTION")),
        ("/nick two words", cmd.Nick("two words")),  # refused by the name rules, not the usage
        ("/mode xml", cmd.BadUsage("/mode json|text")),
    ],
)
def test_lines_parse_into_commands(line: str, expected: cmd.Command) -> None:
    assert parse_line(line) == expected


def test_blank_lines_are_blank_commands_that_the_hub_charges() -> None:
    assert parse_line("") == cmd.Blank()
    assert parse_line("   ") == cmd.Blank()


def test_a_password_keeps_its_spaces_and_a_plain_line_keeps_the_line_as_sent() -> None:
    assert parse_line("/pass  two words ") == cmd.Password(" two words ")
    said = parse_line("  hello  ")
    assert said == cmd.Say("hello") and isinstance(said, cmd.Say) and said.line == "  hello  "


def test_framing_errors_become_bad_line_commands() -> None:
    assert parse_line(LineTooLong()) == cmd.BadLine("line_too_long")
    assert parse_line(InvalidUtf8()) == cmd.BadLine("invalid_utf8")


# --- rendering -------------------------------------------------------------------------------


def test_text_mode_marks_every_kind_of_line_distinctly() -> None:
    assert render_text(ev.Message(T, 1, "alice", None, False, "hi")) == "<alice> hi"
    assert render_text(ev.Message(T, 1, "alice", None, True, "waves")) == "* alice waves"
    assert render_text(ev.Message(T, 1, "alice", "bob", False, "psst")) == "[PM from alice] psst"
    assert (
        render_text(ev.Delivered(T, 1, None, False, "hi", 3)) == "*** Delivered to ALL (3 users)."
    )
    assert render_text(ev.Delivered(T, 1, None, False, "hi", 1)) == "*** Delivered to ALL (1 user)."
    assert render_text(ev.Delivered(T, 1, "bob", False, "hi", 1)) == "*** Delivered to bob."
    assert "reached no one" in render_text(ev.Delivered(T, 1, None, False, "hi", 0))
    assert (
        render_text(ev.Error(T, "no_such_user", "No such user: zed.")) == "!!! No such user: zed."
    )
    assert render_text(ev.Joined(T, "carol", 3)) == "*** carol joined. 3 users online."
    # Back in #lobby after a /part: not a login, so the notice names the room and its count.
    rejoined = render_text(ev.Joined(T, "carol", 3, "#lobby"))
    assert rejoined == "*** carol joined #lobby. 3 users in #lobby."
    assert render_text(ev.Left(T, "carol", "quit", 2)) == "*** carol left (quit). 2 users online."
    # A /part of #lobby: carol is still online, in other rooms; the notice says where she left.
    parted = render_text(ev.Left(T, "carol", "part: brb", 1))
    assert parted == "*** carol left #lobby (part: brb). 1 user in #lobby."


def test_the_text_lines_protocol_md_shows_are_the_ones_the_server_writes() -> None:
    """Section 4's table of text lines against the lines these events render, both ways: every
    event's line is an example there, and every example there is one of those lines. A sentence
    changed in the code and not in the document, or the other way round, fails this."""
    doc = (Path(__file__).parents[2] / "docs" / "PROTOCOL.md").read_text(encoding="utf-8")
    table = doc[doc.index("| JSON `type` (§5) | Text line |") : doc.index("## 5. JSON mode")]
    shown = set(re.findall(r"`([^`]+)`", table))
    examples = {
        line
        for row in table.splitlines()[2:]
        for line in re.findall(r"`([^`]+)`", row.split(" | ", 1)[-1])
        if line.startswith(("***", "!!!", "<", "* ", "["))
    }
    ops = "#ops"
    events: list[ev.Event] = [
        ev.Welcome(T, "2.0.0", 1, 4096, 10, 2),
        ev.Prompt(T, "name"),
        ev.Prompt(T, "password"),
        ev.Registered(T, "alice", ("alice", "bob")),
        ev.Joined(T, "bob", 2),
        ev.Joined(T, "bob", 2, ops),
        ev.Joined(T, "bob", 2, "#lobby"),
        ev.Left(T, "bob", "quit: bye", 1),
        ev.Left(T, "bob", "part: lunch", 1, ops),
        ev.Left(T, "bob", "part", 1, ops),
        ev.Left(T, "bob", "part", 1),
        ev.Renamed(T, "alice", "alicia", False),
        ev.Renamed(T, "alice", "alicia", True),
        ev.Message(T, 1, "alice", None, False, "hello"),
        ev.Message(T, 1, "alice", None, True, "waves"),
        ev.Message(T, 1, "alice", "bob", False, "psst"),
        ev.Delivered(T, 1, None, False, "hi", 1),
        ev.Delivered(T, 1, "bob", False, "hi", 1),
        ev.Delivered(T, 1, None, False, "hi", 0),
        ev.Delivered(T, 1, None, False, "hi", 0, room=ops),
        ev.Undelivered(T, 1, "bob", "send queue exceeded"),
        ev.UserList(T, ("alice", "bob")),
        ev.UserList(T, ("alice",), ops),
        ev.InRoom(T, ops, 1, ("alice",), "deploys only", True),
        ev.InRoom(T, ops, 2, ("alice", "bob"), "", False),
        ev.Help(T, (("/quit", "leave"),)),
        ev.Bye(T, codes.TIMED_OUT, "You did not choose a name in time. Goodbye."),
        ev.Parted(T, ops, "#lobby"),
        ev.RoomList(T, (("#lobby", 2, ""), (ops, 1, "deploys only"))),
        ev.Topic(T, ops, "deploys only", "alice"),
        ev.Topic(T, ops, "", "alice"),
        ev.Topic(T, ops, "deploys only", None),
        ev.Topic(T, ops, "", None),
        ev.Crowd(T, ops, True, ("ana", "bob", "cid"), 37, 250),
        ev.HistoryBegin(T, ops, "replay", 3),
        ev.HistoryBegin(T, "#lobby", "page", 2),
        ev.HistoryEnd(T, "#lobby", "page", 2),
        ev.HistoryBegin(T, ops, "search", 3, "deploys"),
        ev.HistoryEnd(T, ops, "search", 3),
        ev.Error(T, "no_such_user", "No such user: nobody. Type /users to see who is online."),
        ev.ModeChanged(T, "text"),
        ev.PongReply(T, "tok"),
        ev.Shutdown(T, "Server is shutting down."),
        ev.Notice(T, "cluster_down", LINK_LOST),
        ev.Notice(T, "cluster_up", LINK_BACK),
        ev.Bye(T, "quit", "Goodbye, alice."),
    ]
    said = datetime(2026, 12, 3, 16, 33, 7, tzinfo=timezone.utc).timestamp()
    rendered = {render_text(event).split("\n")[0] for event in events}
    rendered.add(render_text(ev.Message(T, 1, "alice", None, False, "hi", ops), elsewhere=True))
    rendered.add(render_text(ev.Message(said, 1, "alice", None, False, "hello", history=True)))
    rooms = render_text(ev.RoomList(T, (("#lobby", 2, ""), (ops, 1, "deploys only"))))
    rendered.add(rooms.split("\n")[2])
    assert rendered <= shown, sorted(rendered - shown)
    assert examples <= rendered, sorted(examples - rendered)


def test_render_ends_every_line_with_a_single_newline() -> None:
    data = render(ev.Help(T, (("/help", "show help"), ("/quit", "leave"))), "text")
    assert data.endswith(b"\n") and not data.endswith(b"\n\n")
    assert all(line.startswith(b"*** ") for line in data.splitlines())


def test_json_mode_is_one_object_per_line_with_type_and_time() -> None:
    data = render(ev.Message(T, 7, "Алиса", None, False, "привет\ufffd"), "json")
    assert data.count(b"\n") == 1
    obj = json.loads(data)
    assert obj == {
        "type": "message",
        "time": "2025-11-24T16:00:00.250Z",
        "id": 7,
        "from": "Алиса",
        "to": None,
        "private": False,
        "action": False,
        "text": "привет\ufffd",
    }


def test_delivered_in_json_references_the_message_id_and_count() -> None:
    obj = json.loads(render(ev.Delivered(T, 7, None, False, "hi", 2), "json"))
    assert (obj["type"], obj["id"], obj["recipients"], obj["to"]) == ("delivered", 7, 2, None)


ALL_EVENTS: list[ev.Event] = [
    ev.Welcome(T, "0.1.0", 2, 4096, 10.0, 2.0),
    ev.Prompt(T, "name"),
    ev.ModeChanged(T, "json"),
    ev.Registered(T, "bob", ("alice", "bob")),
    ev.Joined(T, "carol", 3),
    ev.Left(T, "carol", "quit: bye", 2),
    ev.Renamed(T, "a", "b", True),
    ev.Message(T, 1, "alice", "bob", False, "x"),
    ev.Delivered(T, 1, "bob", False, "x", 1),
    ev.UserList(T, ("alice", "bob")),
    ev.Help(T, (("/help", "show"),)),
    ev.Error(T, "usage", "Usage: /w NAME TEXT"),
    ev.PingRequest(T, "5"),
    ev.PongReply(T, "5"),
    ev.Shutdown(T, "Server is shutting down."),
    ev.Bye(T, "quit", "Goodbye, bob."),
]


@pytest.mark.parametrize("event", ALL_EVENTS, ids=lambda e: type(e).__name__)
def test_every_event_renders_in_both_modes_and_json_parses_back(event: ev.Event) -> None:
    assert render(event, "text").endswith(b"\n")
    line = render(event, "json")
    assert parse_event(line) == event
    assert event_fields(event)["type"]


def test_parse_event_ignores_unknown_and_malformed_lines() -> None:
    assert parse_event(b'{"type":"future-thing","time":"x"}') is None
    assert parse_event(b"not json") is None
    assert parse_event(b'{"type":"message"}') is None
    assert parse_event(b"[1,2]") is None


def test_parse_event_neutralises_what_a_hostile_server_sends() -> None:
    event = parse_event(
        b'{"type":"message","id":1,"from":"x","to":null,"action":false,"text":"a\\u001b[2J"}'
    )
    assert isinstance(event, ev.Message) and event.text == "a\ufffd[2J"
