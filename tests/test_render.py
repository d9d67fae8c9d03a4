"""How the interactive client shows events: pure functions, compared as strings."""

from __future__ import annotations

import io
import time

from tcpchat import events as ev
from tcpchat import render
from tcpchat.render import Style

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


def test_mentions_and_bell() -> None:
    assert render.mentions("alice: hi", "alice")
    assert render.mentions("hi @Alice!", "alice")
    assert render.mentions("привет, Алиса", "алиса")
    assert not render.mentions("malice", "alice")
    assert not render.mentions("alice_2 hi", "alice")
    assert render.wants_bell(ev.Message(T, 1, "bob", "alice", False, "psst"), "alice")
    assert render.wants_bell(ev.Message(T, 1, "bob", None, False, "alice?"), "alice")
    assert not render.wants_bell(ev.Message(T, 1, "bob", None, False, "hi all"), "alice")
    assert not render.wants_bell(ev.Joined(T, "alice2", 2), "alice")


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
