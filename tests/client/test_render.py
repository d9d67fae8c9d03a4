"""How the interactive client shows events: pure functions, compared as strings."""

from __future__ import annotations

import io
import re
import time

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tcpchat.client import render
from tcpchat.client.render import Style
from tcpchat.core import events as ev
from tcpchat.core import sentences
from tcpchat.core.wire import render_text

PLAIN = Style(colour=False)
COLOUR = Style(colour=True)
T = 1_800_000_000.0
HHMM = time.strftime("%H:%M", time.localtime(T))


def show(event: ev.Event, me: str = "alice", style: Style = PLAIN) -> str | None:
    return render.render_event(event, me, style)


def test_messages_public_action_private() -> None:
    assert show(ev.Message(T, 1, "bob", None, False, "hi")) == f"{HHMM} <bob> hi"
    assert show(ev.Message(T, 2, "bob", None, True, "waves")) == f"{HHMM} * bob waves"
    assert show(ev.Message(T, 3, "bob", "alice", False, "psst")) == f"{HHMM} [PM from bob] psst"


def test_own_messages_show_once_delivered_with_a_compact_confirmation() -> None:
    assert show(ev.Delivered(T, 1, None, False, "hello", 3)) == f"{HHMM} <alice> hello \u27133"
    assert show(ev.Delivered(T, 1, None, True, "waves", 1)) == f"{HHMM} * alice waves \u27131"
    assert show(ev.Delivered(T, 1, "bob", False, "psst", 1)) == f"{HHMM} [PM to bob] psst \u2713"
    assert (
        show(ev.Delivered(T, 1, None, False, "anyone?", 0))
        == f"{HHMM} <alice> anyone? \u2717 nobody else is online"
    )


def test_without_unicode_the_marks_are_ascii() -> None:
    style = Style(colour=False, unicode=False)
    line = show(ev.Delivered(T, 1, None, False, "hello", 2), style=style)
    assert line == f"{HHMM} <alice> hello ok2"


def test_notices_and_errors() -> None:
    assert show(ev.Joined(T, "carol", 3)) == f"{HHMM} --> carol joined (3 online)"
    assert (
        show(ev.Left(T, "carol", "quit: bye", 2)) == f"{HHMM} <-- carol left: quit: bye (2 online)"
    )
    assert show(ev.Renamed(T, "bob", "robert", False)) == f"{HHMM} *** bob is now known as robert."
    assert show(ev.Error(T, "no_such_user", "No such user: x.")) == f"{HHMM} !!! No such user: x."
    assert show(ev.UserList(T, ("alice", "bob"))) == f"{HHMM} *** 2 users online: alice, bob"


def test_what_a_person_need_not_see_is_not_shown() -> None:
    assert show(ev.PingRequest(T, "abc")) is None
    assert show(ev.ModeChanged(T, "json")) is None
    assert show(ev.Prompt(T, "name")) is None


def test_names_have_stable_colours_and_colour_can_be_off() -> None:
    assert render.name_colour("bob") == render.name_colour("BOB") == render.name_colour("bob")
    assert len({render.name_colour(n) for n in ["a", "b", "c", "d", "e", "f", "g", "h"]}) > 2
    coloured = show(ev.Message(T, 1, "bob", None, False, "hi"), style=COLOUR)
    assert coloured is not None and f"\x1b[{render.name_colour('bob')}mbob\x1b[0m" in coloured
    plain = show(ev.Message(T, 1, "bob", None, False, "hi"))
    assert plain is not None and "\x1b" not in plain


def test_text_from_the_network_is_neutralised_again() -> None:
    line = show(ev.Message(T, 1, "bob", None, False, "\x1b[2Jgotcha"), style=COLOUR)
    assert line is not None and "\x1b[2J" not in line


def test_colour_is_off_with_no_color_dumb_terminal_or_no_terminal() -> None:
    class Tty(io.StringIO):
        def isatty(self) -> bool:
            return True

    tty = Tty()
    assert render.colour_wanted(True, {"TERM": "xterm"}, tty)
    assert not render.colour_wanted(False, {"TERM": "xterm"}, tty)
    assert not render.colour_wanted(True, {"TERM": "xterm", "NO_COLOR": "1"}, tty)
    assert not render.colour_wanted(True, {"TERM": "dumb"}, tty)
    assert not render.colour_wanted(True, {"TERM": "xterm"}, io.StringIO())


# --- wrapping to the terminal's width ----------------------------------------------------------


def width(row: str) -> int:
    return sum(render.cell_width(c) for c in re.sub(r"\x1b\[[0-9;]*m", "", row))


def test_characters_take_the_columns_a_terminal_gives_them() -> None:
    assert [render.cell_width(c) for c in "aé Ж"] == [1, 1, 1, 1]
    assert [render.cell_width(c) for c in "日本語"] == [2, 2, 2]
    assert render.cell_width("\uff21") == 2  # fullwidth A
    assert render.cell_width("\U0001f600") == 2  # an emoji
    assert render.cell_width("\u0301") == render.cell_width("\u0941") == 0  # combining marks
    assert render.cell_width("\ufe0f") == 1  # emoji presentation makes the emoji before it wide


def test_a_line_that_fits_is_one_row_unchanged() -> None:
    line = f"{HHMM} <bob> hello"
    assert render.wrap(line, 40) == [line]
    assert render.wrap(line, len(line)) == [line]
    assert render.wrap("日本語" * 5, 30) == ["日本語" * 5]


def test_long_lines_break_at_spaces_with_a_hanging_indent_under_the_time_stamp() -> None:
    line = "12:01 <bob> the quick brown fox jumps over the lazy dog and keeps on running"
    assert render.wrap(line, 30) == [
        "12:01 <bob> the quick brown",
        "      fox jumps over the lazy",
        "      dog and keeps on running",
    ]


def test_a_word_wider_than_a_row_is_broken_filling_the_row_first() -> None:
    line = "12:01 <bob> see " + "x" * 40 + " ok"
    rows = render.wrap(line, 30)
    assert rows == [
        "12:01 <bob> see " + "x" * 14,
        "      " + "x" * 24,
        "      " + "x" * 2 + " ok",
    ]


def test_padding_cannot_push_text_to_the_start_of_a_row() -> None:
    # Visible filler sized so that, wrapped by an 80-column terminal, a row would start with
    # "12:01 <alice>": the client's own wrap indents it instead.
    forged = "12:01 <alice> my password is hunter2"
    line = "12:01 <mallory> lol " + "x" * 59 + " " + forged
    for columns in (40, 79, 80, 100, 132):
        rows = render.wrap(line, columns)
        assert rows[0].startswith("12:01 <mallory>")
        assert all(row.startswith(" " * render.HANGING_INDENT) for row in rows[1:]), rows
        assert all(width(row) <= columns for row in rows), rows


def test_wide_characters_count_two_columns_and_marks_none() -> None:
    line = "12:01 <bob> " + "日本語のテキスト" * 6
    rows = render.wrap(line, 30)
    assert [width(row) for row in rows] == [30, 30, 30, 30, 12]  # 9 characters, then 12 a row
    assert "".join(row.strip() for row in rows) == line
    accented = "12:01 <bob> " + "e\u0301" * 50  # e with a combining acute, 50 columns
    rows = render.wrap(accented, 30)
    assert all(width(row) <= 30 for row in rows)
    assert all(not row.strip().startswith("\u0301") for row in rows)  # marks stay on their letter
    assert sum(row.count("\u0301") for row in rows) == 50


def test_colours_take_no_column_and_carry_over_a_break() -> None:
    line = show(ev.Message(T, 1, "bob", None, False, "alice: " + "word " * 12), style=COLOUR)
    assert line is not None and "\x1b[1;93m" in line  # the mention colour
    rows = render.wrap(line, 30)
    assert len(rows) > 2
    assert all(width(row) <= 30 for row in rows)
    for row in rows[:-1]:
        assert row.endswith("\x1b[0m")  # no colour left on at the end of a row
    for row in rows[1:]:
        assert row.startswith(" " * render.HANGING_INDENT + "\x1b[1;93m")  # and on again


def test_each_line_of_several_is_wrapped_on_its_own() -> None:
    assert render.wrap("a b\nc", 10) == ["a b", "c"]


words = st.lists(
    st.text(alphabet=st.sampled_from("ab日é\u0301😀-.<>"), min_size=1, max_size=30),
    min_size=1,
    max_size=30,
)


@settings(max_examples=300, deadline=None)
@given(words=words, columns=st.integers(min_value=8, max_value=120))
def test_every_row_fits_and_only_the_first_touches_the_left_edge(
    words: list[str], columns: int
) -> None:
    line = "12:01 " + " ".join(words)
    rows = render.wrap(line, columns)
    assert all(width(row) <= columns for row in rows), rows
    indent = min(render.HANGING_INDENT, columns // 4)
    assert all(row.startswith(" " * indent) and row[indent] != " " for row in rows[1:]), rows
    # Nothing is lost but the spaces a row was broken at.
    assert "".join(row.replace(" ", "") for row in rows) == line.replace(" ", "")


# --- the words come from core.sentences, as in the server's text mode --------------------------

SAME_WORDS: list[ev.Event] = [
    ev.Renamed(T, "bob", "robert", False),
    ev.Renamed(T, "alice", "alicia", True),
    ev.Welcome(T, "2.1.0", 3, 4096, 10.0, 2.0),
    ev.Welcome(T, "2.1.0", None, 4096, 10.0, 2.0),
    ev.Undelivered(T, 7, "bob", "timed out"),
    ev.Error(T, "usage", "Usage: /w NAME TEXT"),
    ev.Shutdown(T, "Server is shutting down."),
]


@pytest.mark.parametrize("event", SAME_WORDS, ids=lambda e: type(e).__name__)
def test_text_mode_and_the_client_say_the_same_words(event: ev.Event) -> None:
    """Only the decoration differs: ``*** ``/``!!! `` in nc, a time stamp and colours here."""
    shown = show(event)
    assert shown is not None
    assert shown == f"{HHMM} {render_text(event)}"


def test_names_online_follow_the_same_intro_as_in_text_mode() -> None:
    event = ev.Registered(T, "bob", ("alice", "bob"))
    assert show(event, me="bob") == f"{HHMM} {render_text(event)}".rstrip(".")


def test_a_confirmation_to_nobody_says_so_in_both_forms() -> None:
    event = ev.Delivered(T, 1, None, False, "anyone?", 0)
    assert (show(event) or "").endswith(sentences.NOBODY_ELSE)
    assert render_text(event) == "*** Nobody else is online: your message reached no one."
