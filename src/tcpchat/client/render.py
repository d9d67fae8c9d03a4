"""How the interactive client shows events: pure functions from an event to a line of text.

Nothing here writes to a terminal. ``Style`` decides whether colours (SGR sequences) are used;
``render_event`` turns one server event into the line to print (or None for events a person
does not need to see), with the words of ``core/sentences.py`` and the client's decoration (time
stamps, colours, check marks, the ``[#room]`` of a message from a room you do not talk in, the
dimmed lines of history between separators); ``render_seen`` does so for an event as the client
core took it; ``prompt`` is the input line's prompt (``alice@#ops>``); ``wrap`` breaks a line
into the rows of a terminal. Every piece of
text from the network was neutralised by ``wire.parse_event`` and is neutralised again here, so
nothing that reaches the screen can carry an escape sequence of its own.
"""

from __future__ import annotations

import os
import re
import time
import unicodedata
import zlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Callable, TextIO

from ..core import events as ev
from ..core import sentences
from ..core.names import fold, name_key
from ..core.rooms import LOBBY_KEY, room_key
from ..core.text import is_wide, neutralise
from .core import Seen, mentions

# Colours that read well on dark and light backgrounds; a name always gets the same one.
NAME_COLOURS = ("31", "32", "33", "34", "35", "36", "91", "92", "93", "94", "95", "96")
DIM = "2"
BOLD = "1"
RED = "31"
GREEN = "32"
YELLOW = "33"
MAGENTA = "35"
CYAN = "36"
MENTION = "1;93"


def colour_wanted(enabled: bool, environ: Mapping[str, str], stream: TextIO) -> bool:
    """Colours unless --no-color, NO_COLOR (any non-empty value), TERM=dumb or not a terminal."""
    if not enabled or environ.get("NO_COLOR") or environ.get("TERM", "") in ("", "dumb"):
        return False
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False


def can_encode(text: str, encoding: str | None) -> bool:
    try:
        text.encode(encoding or "ascii")
        return True
    except (LookupError, UnicodeEncodeError):
        return False


@dataclass(frozen=True)
class Style:
    """Colour on or off, and whether the terminal can show a check mark."""

    colour: bool = True
    unicode: bool = True

    def paint(self, text: str, sgr: str) -> str:
        return f"\x1b[{sgr}m{text}\x1b[0m" if self.colour and sgr and text else text

    def name(self, name: str, bold: bool = False) -> str:
        sgr = name_colour(name)
        return self.paint(name, f"{BOLD};{sgr}" if bold else sgr)

    @property
    def check(self) -> str:
        return "\u2713" if self.unicode else "ok"

    @property
    def cross(self) -> str:
        return "\u2717" if self.unicode else "x"

    @property
    def rule(self) -> str:
        return "\u2500\u2500" if self.unicode else "--"


def name_colour(name: str) -> str:
    """A stable colour for a name: the same in every session and on every machine, and the same
    for every way of writing it in another case."""
    return NAME_COLOURS[zlib.crc32(fold(name).encode("utf-8")) % len(NAME_COLOURS)]


def clock(ts: float, localtime: Callable[[float], time.struct_time] = time.localtime) -> str:
    """HH:MM in local time for a server timestamp (the local clock if the server sent none)."""
    return time.strftime("%H:%M", localtime(ts if ts > 0 else time.time()))


def _names(names: Iterable[str], style: Style, me: str) -> str:
    mine = name_key(me)
    return ", ".join(style.name(n, bold=name_key(n) == mine) for n in names)


def notice(text: str, style: Style, ts: float = 0.0, sgr: str = DIM) -> str:
    """A line from the client or the server about the chat itself: ``12:01 *** text``."""
    return f"{style.paint(clock(ts), DIM)} {style.paint('*** ' + neutralise(text), sgr)}"


def error(text: str, style: Style, ts: float = 0.0) -> str:
    """A line saying something went wrong: ``12:01 !!! text`` in red."""
    return f"{style.paint(clock(ts), DIM)} {style.paint('!!! ' + neutralise(text), RED)}"


def prompt(me: str, room: str | None, style: Style) -> str:
    """The input line's prompt: ``alice> `` while you talk in #lobby, ``alice@#ops> `` in another
    room, ``alice (no room)> `` in none; "" before you have a name."""
    if not me:
        return ""
    who = style.name(me, bold=True)
    if room is None:
        return f"{who}{style.paint(' (no room)', YELLOW)}> "
    if room_key(room) == LOBBY_KEY:
        return f"{who}> "
    return f"{who}@{style.paint(neutralise(room), BOLD)}> "


def tag(room: str | None, style: Style) -> str:
    """What goes before an event of a room you do not talk in: ``[#ops] `` (dim); else ""."""
    return (
        "" if room is None else style.paint(sentences.elsewhere_mark(neutralise(room)), DIM) + " "
    )


def delivered(event: ev.Delivered, me: str, style: Style, elsewhere: str | None = None) -> str:
    """Your own message, shown once the server confirmed it, with who got it; ``elsewhere``: the
    room it was said in, when you talk in another one by now."""
    if event.recipients == 0:
        mark = style.paint(
            f"{style.cross} {sentences.nobody_else(event.room, event.local)}", YELLOW
        )
    elif event.to is not None:
        mark = style.paint(style.check, GREEN)
    else:
        mark = style.paint(f"{style.check}{event.recipients}", GREEN)
    said = sentences.own_message(
        event,
        me,
        name=lambda n: style.name(n, bold=n == me),
        words=lambda w: style.paint(w, MAGENTA),
        text=neutralise,
    )
    return f"{style.paint(clock(event.time), DIM)} {tag(elsewhere, style)}{said} {mark}"


def message(event: ev.Message, me: str, style: Style, elsewhere: str | None = None) -> str:
    """A message for you: public, action or private; a mention of your name stands out.
    ``elsewhere``: the room it was said in, when you talk in another one. A message from the
    history is dimmed, with its original date, time and id."""
    if event.history:
        return history_message(event, style)

    def text(said: str) -> str:
        said = neutralise(said)
        if event.to is not None:
            return style.paint(said, BOLD)
        return style.paint(said, MENTION) if mentions(said, me) else said

    said = sentences.message(
        event,
        name=lambda n: style.name(neutralise(n)),
        words=lambda w: style.paint(w, f"{BOLD};{MAGENTA}"),
        text=text,
    )
    return f"{style.paint(clock(event.time), DIM)} {tag(elsewhere, style)}{said}"


def history_message(
    event: ev.Message,
    style: Style,
    localtime: Callable[[float], time.struct_time] = time.localtime,
) -> str:
    """An earlier message, all dim: ``2026-12-01 12:00 #412 <bob> hi`` (local time, as every
    time the client shows; ``/history before 412`` pages back from it)."""
    stamp = time.strftime("%Y-%m-%d %H:%M", localtime(event.time))
    said = sentences.message(event, name=neutralise, text=neutralise)
    return style.paint(f"{stamp} #{event.id} {said}", DIM)


def separator(words: str, style: Style, ts: float = 0.0) -> str:
    """A line that opens or closes a block of history:
    ``12:01 ── history of #ops: 2 messages ──``."""
    return style.paint(f"{clock(ts)} {style.rule} {neutralise(words)} {style.rule}", DIM)


def in_room(event: ev.InRoom, me: str, style: Style) -> str:
    """The answer to /join as a short block: the room, who is there, the topic."""
    indent = " " * HANGING_INDENT
    head = notice(sentences.in_room_head(event), style, event.time, CYAN)
    who = sentences.in_room_intro(event) + _names(event.users, style, me)
    lines = [head, indent + who + sentences.in_room_more(event)]
    if event.topic:
        lines.append(indent + neutralise(sentences.topic_line(event.topic)))
    return "\n".join(lines)


def room_list(event: ev.RoomList, style: Style) -> str:
    """The answer to /rooms: a table, one room a row, its members and topic aligned."""
    if not event.rooms:
        return notice(sentences.ROOMS_NONE, style, event.time)
    indent = " " * HANGING_INDENT
    rows = [(neutralise(r), n, neutralise(t)) for r, n, t in event.rooms]
    lines = [notice(sentences.room_list_intro(event), style, event.time)]
    lines += [indent + row for row in sentences.room_rows(rows)]
    return "\n".join(lines)


def help_table(
    client_rows: Iterable[tuple[str, str]], server_rows: Iterable[tuple[str, str]], style: Style
) -> list[str]:
    """The /help answer: the client's own commands, then the server's."""
    rows = [(neutralise(u), neutralise(h)) for u, h in [*client_rows, *server_rows]]
    lines = [notice(sentences.HELP_INTRO, style)]
    lines += [notice(f"  {row}", style) for row in sentences.help_rows(rows)]
    return lines


def render_event(
    event: ev.Event, me: str, style: Style, elsewhere: str | None = None
) -> str | None:
    """The line to show for ``event`` (several lines joined by newlines for a block); None for
    what a person need not see (pings, modes, prompts, help: the UI merges help with its own
    commands). ``elsewhere``: the room to mark it with (``Seen.elsewhere``)."""
    if isinstance(event, ev.Message):
        return message(event, me, style, elsewhere)
    if isinstance(event, ev.Delivered):
        return delivered(event, me, style, elsewhere)
    t = event.time
    stamp = style.paint(clock(t), DIM) + " " + tag(elsewhere, style)

    def dim(words: str) -> str:
        return style.paint(words, DIM)

    if isinstance(event, ev.Joined):
        return f"{stamp}{style.paint('-->', GREEN)} " + sentences.joined_brief(
            event, style.name, dim
        )
    if isinstance(event, ev.Left):
        return f"{stamp}{dim('<--')} " + sentences.left_brief(event, style.name, dim)
    if isinstance(event, ev.Crowd):
        arrow = style.paint("-->", GREEN) if event.joined else dim("<--")
        return f"{stamp}{arrow} {dim(neutralise(sentences.crowd(event)))}"
    if isinstance(event, ev.InRoom):
        return in_room(event, me, style)
    if isinstance(event, ev.Parted):
        return notice(sentences.parted(event), style, t, CYAN)
    if isinstance(event, ev.Topic):
        return notice(sentences.topic(event), style, t)
    if isinstance(event, ev.RoomList):
        return room_list(event, style)
    if isinstance(event, ev.HistoryBegin):
        return separator(sentences.history_begin_brief(event), style, t)
    if isinstance(event, ev.HistoryEnd):
        return separator(sentences.history_end_brief(event), style, t)
    if isinstance(event, ev.Renamed):
        return notice(sentences.renamed(event), style, t, CYAN if event.you else DIM)
    if isinstance(event, ev.Error):
        return error(event.text, style, t)
    if isinstance(event, ev.Undelivered):
        return error(sentences.undelivered(event), style, t)
    if isinstance(event, ev.Welcome):
        return notice(sentences.welcome(event), style, t, CYAN)
    if isinstance(event, ev.Registered):
        head = notice(sentences.registered_intro(event), style, t)
        return head + _names(event.users, style, me)
    if isinstance(event, ev.UserList):
        head = notice(sentences.user_list_intro(event), style, t)
        return head + _names(event.users, style, me)
    if isinstance(event, ev.PongReply):
        return notice(sentences.pong_brief(event), style, t)
    if isinstance(event, (ev.Shutdown, ev.Notice, ev.Bye)):
        return notice(event.text, style, t, YELLOW)
    return None  # Prompt, ModeChanged, PingRequest, Help


def render_seen(seen: Seen, me: str, style: Style) -> str | None:
    """The line for an event as the client core took it (``ClientCore.receive``): as
    ``render_event``, marked with the room it belongs to when you talk in another, after the
    opening of a replay held back for it, nothing for a replayed message shown before; followed,
    when it refused one of your lines or reports a message of yours undelivered, by that line:
    ``(not sent: /w dave hi)``."""
    if seen.hidden:
        return None
    line = render_event(seen.event, me, style, seen.elsewhere)
    if seen.opens is not None and line is not None:
        line = f"{render_event(seen.opens, me, style)}\n{line}"
    if line is None or not seen.failed or seen.answers is None:
        return line
    what = "not delivered" if isinstance(seen.event, ev.Undelivered) else "not sent"
    return f"{line} {style.paint(f'({what}: {neutralise(seen.answers.text)})', DIM)}"


def use_unicode(stream: TextIO) -> bool:
    return can_encode("\u2713\u2717", getattr(stream, "encoding", None))


def style_for(enabled: bool, stream: TextIO, environ: Mapping[str, str] = os.environ) -> Style:
    """The style for ``stream`` given --color/--no-color and the environment."""
    return Style(colour=colour_wanted(enabled, environ, stream), unicode=use_unicode(stream))


# Rows after the first of a wrapped line start this far in, under what follows the time stamp
# ("12:01 "): only the first row of an event touches the left edge, so no text inside an event
# can pass for an event of its own, however it is padded.
HANGING_INDENT = 6
# Autowrap (DECAWM) off, then on again: printed between them, a row the terminal finds wider
# than the client counted loses its end at the right edge instead of going on at the left edge
# of a row of its own, where it could pass for a line.
NO_WRAP = "\x1b[?7l"
WRAP = "\x1b[?7h"
_SGR = re.compile(r"(\x1b\[[0-9;]*m)")
RESET = "\x1b[0m"


def cell_width(c: str) -> int:
    """Columns a terminal gives ``c``: 2 for East Asian wide and fullwidth characters (CJK, most
    emoji), 0 for non-spacing and enclosing marks, else 1.

    Where terminals disagree it errs wide: a row wrapped a column early is harmless, but a row
    wider than counted would be wrapped by the terminal itself, at its left edge (``NO_WRAP``
    keeps that from happening, at the price of the row's end). So spacing marks take their
    columns even where they have a combining class (U+302E, viramas such as U+1B44: tmux draws
    them one or two columns wide).
    """
    if c < "\u0300":  # ASCII and Latin-1 (neutralised text holds no control character)
        return 1
    if c == "\ufe0f":  # emoji presentation: many terminals then draw the character before it wide
        return 1
    category = unicodedata.category(c)
    if category in ("Mn", "Me"):
        return 0
    if category == "Cn":  # unassigned in this Python's Unicode: most likely a newer emoji
        return 2
    return 2 if is_wide(c) else 1


def wrap(line: str, columns: int, indent: int = HANGING_INDENT) -> list[str]:
    """``line`` (as ``render_event`` makes it, colours included) as the rows to print on a
    terminal ``columns`` wide: broken at spaces, inside a word only when the word is wider than a
    row, and every row after the first starting with ``indent`` spaces. Colour sequences take no
    column; a colour that spans a break ends with its row and starts again on the next. The caller
    prints each row on a line of its own.
    """
    return [row for part in line.split("\n") for row in _wrap_one(part, columns, indent)]


def _pieces(line: str, widths: dict[str, int]) -> list[tuple[bool, list[tuple[str, int]]]]:
    """The line as words and gaps (runs of spaces: True), each a list of (text, columns); a
    colour sequence is part of a word and takes -1 columns, which marks it."""
    pieces: list[tuple[bool, list[tuple[str, int]]]] = []
    for i, text in enumerate(_SGR.split(line)):
        tokens = [(text, -1)] if i % 2 else [(c, widths[c]) for c in text]
        for token in tokens:
            space = token[0] == " "
            if pieces and pieces[-1][0] == space:
                pieces[-1][1].append(token)
            else:
                pieces.append((space, [token]))
    return pieces


def _wrap_one(line: str, columns: int, indent: int) -> list[str]:
    plain = _SGR.sub("", line) if "\x1b" in line else line
    if plain.isascii() and len(plain) <= columns or columns < 2:
        return [line]
    widths = {c: cell_width(c) for c in set(plain)}
    if sum(widths[c] for c in plain) <= columns:
        return [line]
    indent = min(indent, columns // 4)
    pieces = _pieces(line, widths)
    rows: list[str] = []
    row: list[str] = []
    used = 0  # columns taken on this row
    filled = False  # whether this row holds any text yet (beyond the indent)
    active: list[str] = []  # colour sequences in force

    def new_row() -> None:
        nonlocal row, used, filled
        rows.append("".join(row) + (RESET if active else ""))
        row = [" " * indent, *active]
        used, filled = indent, False

    def put(tokens: list[tuple[str, int]], breaking: bool = False) -> None:
        nonlocal used, filled, active
        for text, width in tokens:
            if width < 0:
                active = [] if text == RESET else [*active, text]
            elif breaking and filled and used + width > columns:
                new_row()
            if width > 0:
                filled = True
            row.append(text)
            used += max(width, 0)

    gap: list[tuple[str, int]] = []
    for is_gap, tokens in pieces:
        if is_gap:
            gap = tokens
            continue
        if not filled and rows:  # a row after the first never starts with spaces
            gap = []
        width = sum(w for _, w in tokens if w > 0)
        if used + len(gap) + width <= columns:
            put(gap + tokens)
        elif width <= columns - indent:
            new_row()
            put(tokens)
        else:  # wider than any row: break it, starting on this row if there is room
            if used + len(gap) < columns:
                put(gap)
            else:
                new_row()
            put(tokens, breaking=True)
        gap = []
    rows.append("".join(row))
    return rows
