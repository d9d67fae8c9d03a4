"""The screen painted again after a resize, from the lines the client printed last.

Rows already printed belong to the terminal, and most terminals (tmux, VTE, Konsole, iTerm2,
kitty) wrap them again when the window changes size: a row wider than the new width goes on at
the left edge of the next, where the rest of a message could pass for a line of its own, and
growing windows bring rows back from the scrollback (tmux). So ``Terminal`` keeps the lines it
printed (``Printed``: logical lines, before wrapping, colours included; the last ``KEEP_LINES``
of them, ``KEEP_CHARS`` characters at most) and, when the size changes, erases the screen and
prints the last lines that fit (``screenful``), wrapped to the new width with the hanging
indent, then the input row. What the scrollback holds by then is the terminal's.

The screen is erased a row at a time (``erase_screen``), not with "erase the whole screen":
tmux (scroll-on-clear, on by default) pushes a screen cleared that way into the scrollback,
and every resize of a drag would add a screenful of rows the terminal had re-wrapped, forged
ones included, and a copy of the input row.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable, Iterator

from .render import HANGING_INDENT, NO_WRAP, WRAP, wrap

# More lines than any screen shows, as long as each takes a row; a screen of long lines needs
# fewer. The characters bound keeps a run of long messages from holding much memory.
KEEP_LINES = 500
KEEP_CHARS = 256 * 1024
BELL = "\a"


class Printed:
    """The last lines printed above the input row, oldest first, bounded by ``lines`` lines and
    ``chars`` characters (the newest line is kept whatever its length)."""

    def __init__(self, lines: int = KEEP_LINES, chars: int = KEEP_CHARS) -> None:
        self._lines: deque[str] = deque(maxlen=max(lines, 1))
        self._chars = 0
        self._limit = chars

    def add(self, lines: Iterable[str]) -> None:
        for line in lines:
            if line == BELL:  # rung, not printed
                continue
            if len(self._lines) == self._lines.maxlen:
                self._chars -= len(self._lines[0])  # the deque drops it
            self._lines.append(line)
            self._chars += len(line)
            while self._chars > self._limit and len(self._lines) > 1:
                self._chars -= len(self._lines.popleft())

    def clear(self) -> None:
        """The screen was cleared (Ctrl+L): nothing printed so far is on it."""
        self._lines.clear()
        self._chars = 0

    def lines(self) -> list[str]:
        """Oldest first."""
        return list(self._lines)

    def newest_first(self) -> Iterator[str]:
        return reversed(self._lines)

    def chars(self) -> int:
        """Characters held, colour sequences included."""
        return self._chars


def screenful(
    newest_first: Iterable[str], columns: int, rows: int, indent: int = HANGING_INDENT
) -> list[str]:
    """The rows to print, top to bottom, for the last lines (given newest first) that fit whole
    in ``rows`` rows ``columns`` wide, each wrapped with its hanging indent. A newest line taller
    than all the rows shows its last rows (each after its first is indented)."""
    shown: list[list[str]] = []
    used = 0
    for line in newest_first:
        if used >= rows:
            break
        wrapped = wrap(line, columns, indent)
        if used + len(wrapped) > rows:
            if not shown:
                shown.append(wrapped[len(wrapped) - rows :])
            break
        shown.append(wrapped)
        used += len(wrapped)
    return [row for wrapped in reversed(shown) for row in wrapped]


def erase_screen(height: int) -> str:
    """Erase every row of a screen ``height`` rows high, one at a time, and go to its top left
    corner (nothing goes to the scrollback: see the module's note)."""
    return "\x1b[H" + "\x1b[2K\x1b[B" * max(height - 1, 0) + "\x1b[2K\x1b[H"


def repaint(rows: Iterable[str], height: int) -> str:
    """What erases a screen ``height`` rows high and prints ``rows`` from its top, each ending
    with a new line (so that the input row goes under them), autowrap off."""
    return erase_screen(height) + NO_WRAP + "".join(row + "\r\n" for row in rows) + WRAP
