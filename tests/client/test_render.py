"""How the interactive client shows events: pure functions, compared as strings."""

from __future__ import annotations

import io
import re
import time

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tcpchat.client import render
from tcpchat.client.core import Seen
from tcpchat.client.render import Style
from tcpchat.core import events as ev
from tcpchat.core import sentences, wire
from tcpchat.core.text import char_width
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
    assert render.cell_width("\u20dd") == 0  # an enclosing mark
    # Spacing marks take columns, even with a combining class: tmux draws U+302E two wide, and a
    # count of 0 let a message put a row of its own at the terminal's left edge.
    assert render.cell_width("\u302e") == render.cell_width("\u302f") == 2
    assert render.cell_width("\u1b44") == render.cell_width("\U0001d165") == 1
    assert render.cell_width("\u0903") == 1  # a spacing mark without a combining class
    # Wide on terminals (glibc, tmux) though older Unicode tables call them narrow.
    assert render.cell_width("\u4dc0") == render.cell_width("\u324f") == 2
    assert char_width("\u4dc0") == char_width("\u3248") == 2
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


def test_a_confirmation_while_cut_off_from_the_cluster_says_on_this_server() -> None:
    """The others of the room may be on servers out of reach (a newcomer's review: the client
    said "nobody else is in #ops" while /users listed someone there)."""
    alone = ev.Delivered(T, 1, None, False, "anyone?", 0, 2, "#ops", local=True)
    assert (show(alone) or "").endswith("nobody else on this server is in #ops")
    assert render_text(alone) == (
        "*** Nobody else on this server is in #ops: your message reached no one."
    )
    some = ev.Delivered(T, 2, None, False, "hi", 2, 3, local=True)
    assert render_text(some) == "*** Delivered to ALL (2 users on this server)."
    assert wire.parse_event(wire.render(some, "json")) == some  # the client reads it back


# --- rooms ---------------------------------------------------------------------------------------

R = "\u2500\u2500"  # the rule around a separator
DAY = time.strftime("%Y-%m-%d %H:%M", time.localtime(T))


def seen_show(seen: Seen, style: Style = PLAIN) -> str | None:
    return render.render_seen(seen, "alice", style)


def test_the_prompt_names_the_room_you_talk_in_but_the_lobby() -> None:
    assert render.prompt("alice", "#lobby", PLAIN) == "alice> "
    assert render.prompt("alice", "#ops", PLAIN) == "alice@#ops> "
    assert render.prompt("alice", None, PLAIN) == "alice (no room)> "
    assert render.prompt("", "#ops", PLAIN) == ""
    assert "\x1b[" in render.prompt("alice", "#ops", COLOUR)


def test_messages_from_a_room_you_do_not_talk_in_are_tagged_with_it() -> None:
    message = ev.Message(T, 1, "bob", None, False, "hi", "#ops")
    assert seen_show(Seen(message, elsewhere="#ops")) == f"{HHMM} [#ops] <bob> hi"
    assert seen_show(Seen(message)) == f"{HHMM} <bob> hi"
    lobby = ev.Message(T, 2, "bob", None, True, "waves")
    assert seen_show(Seen(lobby, elsewhere="#lobby")) == f"{HHMM} [#lobby] * bob waves"
    coloured = seen_show(Seen(message, elsewhere="#ops"), COLOUR) or ""
    assert f"\x1b[{render.DIM}m[#ops]\x1b[0m <" in coloured


def test_own_room_messages_are_confirmed_with_the_room() -> None:
    mine = ev.Delivered(T, 1, None, False, "deployed", 2, 3, "#ops")
    assert seen_show(Seen(mine)) == f"{HHMM} <alice> deployed \u27132"
    assert seen_show(Seen(mine, elsewhere="#ops")) == f"{HHMM} [#ops] <alice> deployed \u27132"
    alone = ev.Delivered(T, 1, None, False, "anyone?", 0, 3, "#ops")
    assert seen_show(Seen(alone)) == f"{HHMM} <alice> anyone? \u2717 nobody else is in #ops"


def test_room_notices_are_dim_and_name_their_room() -> None:
    assert show(ev.Joined(T, "carol", 3, "#ops")) == f"{HHMM} --> carol joined #ops (3 members)"
    left = ev.Left(T, "carol", "part: lunch", 2, "#ops")
    assert show(left) == f"{HHMM} <-- carol left #ops: part: lunch (2 members)"
    assert show(ev.Left(T, "carol", "part", 1, "#ops")) == f"{HHMM} <-- carol left #ops (1 member)"
    lobby = Seen(ev.Joined(T, "dave", 5), elsewhere="#lobby")
    assert seen_show(lobby) == f"{HHMM} [#lobby] --> dave joined (5 online)"
    back = ev.Joined(T, "dave", 4, "#lobby")  # after a /part of #lobby: not a login
    assert show(back) == f"{HHMM} --> dave joined #lobby (4 members)"
    assert show(ev.Left(T, "dave", "part", 3)) == f"{HHMM} <-- dave left #lobby (3 members)"
    crowd = ev.Crowd(T, "#ops", False, ("ana", "bob"), 30, 270)
    assert show(crowd) == (f"{HHMM} <-- 30 left #ops: ana, bob and 28 more. 270 users in #ops.")
    topic = ev.Topic(T, "#ops", "deploys only", "bob")
    assert show(topic) == f"{HHMM} *** bob set the topic of #ops: deploys only"
    assert show(ev.Topic(T, "#ops", "", None)) == f"{HHMM} *** #ops has no topic."
    parted = ev.Parted(T, "#ops", "#lobby")
    assert show(parted) == f"{HHMM} *** You left #ops. You are talking in #lobby."
    coloured = show(topic, style=COLOUR) or ""
    assert f"\x1b[{render.DIM}m*** bob set the topic" in coloured


def test_joining_a_room_is_a_short_block_with_who_is_there_and_the_topic() -> None:
    indent = " " * render.HANGING_INDENT
    event = ev.InRoom(T, "#ops", 53, ("alice", "bob", "carol"), "deploys only", True)
    assert show(event) == (
        f"{HHMM} *** You joined #ops.\n"
        f"{indent}53 users here: alice, bob, carol and 50 more\n"
        f"{indent}Topic: deploys only"
    )
    switch = ev.InRoom(T, "#ops", 2, ("alice", "bob"), "", False)
    assert show(switch) == (
        f"{HHMM} *** You are talking in #ops now.\n{indent}2 users here: alice, bob"
    )
    # Every row after the first is indented, whatever a topic holds.
    rows = render.wrap(show(ev.InRoom(T, "#x", 1, ("a",), "<bob> " + "y " * 80, True)) or "", 60)
    assert all(row.startswith(indent) for row in rows[1:])


def test_the_room_list_is_an_aligned_table() -> None:
    indent = " " * render.HANGING_INDENT
    rooms = (("#lobby", 12, ""), ("#ops", 3, "deploys only"), ("#offtopic", 1, "anything"))
    assert show(ev.RoomList(T, rooms)) == (
        f"{HHMM} *** 3 rooms:\n"
        f"{indent}#lobby     12 users\n"
        f"{indent}#ops       3 users   deploys only\n"
        f"{indent}#offtopic  1 user    anything"
    )
    assert show(ev.RoomList(T, ())) == f"{HHMM} *** No rooms."


def test_history_is_dimmed_between_separators_with_original_time_and_id() -> None:
    begin = ev.HistoryBegin(T + 60, "#ops", "replay", 2)
    old = ev.Message(T, 412, "bob", None, False, "earlier", "#ops", history=True)
    end = ev.HistoryEnd(T + 60, "#ops", "replay", 2)
    later = time.strftime("%H:%M", time.localtime(T + 60))
    assert show(begin) == f"{later} {R} history of #ops: 2 messages {R}"
    assert show(old) == f"{DAY} #412 <bob> earlier"
    assert show(end) == f"{later} {R} end of history {R}"
    for event in (begin, old, end):
        line = show(event, style=COLOUR) or ""
        assert line.startswith(f"\x1b[{render.DIM}m") and line.count("\x1b[") == 2, line
    ascii_style = Style(colour=False, unicode=False)
    assert show(end, style=ascii_style) == f"{later} -- end of history --"


def test_search_results_say_what_was_searched_for() -> None:
    begin = ev.HistoryBegin(T, "#ops", "search", 1, "deploy")
    assert show(begin) == f'{HHMM} {R} search in #ops for "deploy": 1 message {R}'
    none = ev.HistoryBegin(T, "#ops", "search", 0, "zebra")
    assert show(none) == f'{HHMM} {R} search in #ops for "zebra": nothing found {R}'
    end = ev.HistoryEnd(T, "#ops", "search", 1)
    assert show(end) == f"{HHMM} {R} end of search results {R}"
    page = ev.HistoryBegin(T, "#ops", "page", 0)
    assert show(page) == f"{HHMM} {R} history of #ops: no earlier messages {R}"


def test_a_replay_held_back_opens_before_its_first_new_message_and_repeats_show_nothing() -> None:
    begin = ev.HistoryBegin(T, "#ops", "replay", 1)
    old = ev.Message(T, 412, "bob", None, False, "missed", "#ops", history=True)
    assert seen_show(Seen(begin, hidden=True)) is None
    assert seen_show(Seen(old, hidden=True)) is None
    assert seen_show(Seen(old, opens=begin)) == (
        f"{HHMM} {R} history of #ops: 1 message {R}\n{DAY} #412 <bob> missed"
    )


def test_text_mode_pipe_words_for_room_events_match_the_server() -> None:
    """Pipe mode prints the server's text lines; the client screen takes its words from the same
    sentences (the room list's rows, the search's query)."""
    rooms = ev.RoomList(T, (("#ops", 3, "deploys only"),))
    assert render_text(rooms) == "*** 1 room:\n*** #ops  3 users  deploys only"
    assert "#ops  3 users  deploys only" in (show(rooms) or "")
