"""The terminal under an event loop: raw input, lines printed above the input line, redraw.

``Terminal.start`` puts the terminal in a raw-ish mode (no echo, no line buffering, Ctrl+C as
a key) and reads keys with ``loop.add_reader``; ``stop`` restores it exactly as it was, and is
safe to call twice. ``show`` prints lines above the input line, wrapped to the terminal's width
with a hanging indent, and redraws the prompt, the text being typed and the cursor, so incoming
messages never garble what you type. Every redraw first erases the input row as the screen
shows it now, which after a resize may be several rows (``back_to_input_row``). When the
window's size changes, the screen is painted again from the lines printed last, wrapped to the
new size (``repaint.py``): the terminal's own re-wrapping of old rows is not left on it.

``termios`` (POSIX only) is imported where raw mode is taken, so this module loads everywhere;
``raw_mode_available`` says whether it can be taken here (the plain mode, ``plain.py``, is used
where it cannot).
"""

from __future__ import annotations

import asyncio
import os
import re
import signal
import sys
from collections.abc import Iterable, Mapping
from typing import Any, BinaryIO, Callable, Protocol

from ..core.limits import ESC_WAIT_S, TYPED_LINES_PER_READ
from ..core.text import char_width, text_width
from .keys import Key, KeyDecoder, Paste
from .lineedit import clip
from .render import HANGING_INDENT, NO_WRAP, WRAP, wrap
from .repaint import Printed, repaint, screenful

# Reads this close after a paste's are its rest: a person types no answer that fast.
PASTE_GAP_S = 0.05
BRACKETED_PASTE_ON = "\x1b[?2004h"
BRACKETED_PASTE_OFF = "\x1b[?2004l"
# To the start of the cursor's row, and erase that row. (Not "erase to the end of the screen",
# which tmux takes at the top left corner for a clear screen and pushes the screen into the
# scrollback, whence a resize brings it back.)
ERASE_ROW = "\r\x1b[K"
_SGR = re.compile(r"\x1b\[[0-9;]*m")


def raw_mode_available(fd: int, environ: Mapping[str, str]) -> bool:
    """Whether ``Terminal`` can run on ``fd``: ``termios`` exists (not on Windows), ``fd`` is a
    terminal that gives its settings, and ``TERM`` is not ``dumb`` (a terminal that cannot move
    its cursor, where the input row could not be redrawn)."""
    if environ.get("TERM") == "dumb":
        return False
    try:
        import termios
    except ImportError:
        return False
    try:
        termios.tcgetattr(fd)
    except (termios.error, OSError):
        return False
    return True


def visible_width(text: str) -> int:
    """Columns ``text`` takes, colour sequences excluded."""
    return text_width(_SGR.sub("", text))


def back_to_input_row(drawn: tuple[str, int] | None, columns: int) -> str:
    """What erases the input row drawn last and leaves the cursor at the start of its first row,
    on a terminal now ``columns`` wide. ``drawn``: the row's text as drawn (no colours) and the
    cursor's column in it (None: no input row on the screen).

    Most terminals (tmux, GNOME Terminal and every VTE, Konsole, iTerm2, kitty, Windows Terminal)
    wrap their lines again when the window gets narrower: a row drawn on a wider window becomes
    several, the cursor on the one where its character went (``rewrapped``). Erasing the
    cursor's row alone left the others on the screen, a stale copy of the line above (and below)
    the new one at every resize. ``Terminal`` writes a space after the line, so that the cursor is
    never past the end of what was written, where terminals disagree on its row. A terminal that
    cuts its rows instead (xterm, st) leaves the cursor on the input row's one row: there the rows
    of messages just above it are erased too, as many as a wrapping terminal would have added.
    """
    if drawn is None or columns < 1:
        return ERASE_ROW
    up, below = rewrapped(*drawn, columns)
    # Those under it first, and back (saved and restored: a row down may stop at the bottom),
    # then up a row at a time (a row up stops at the top, where the rest is in the scrollback).
    under = "\x1b7" + "\x1b[B\x1b[2K" * below + "\x1b8" if below > 0 else ""
    return ERASE_ROW + under + "\x1b[A\x1b[2K" * up


def rewrapped(text: str, column: int, columns: int) -> tuple[int, int]:
    """``text``, drawn on one row with the cursor at ``column``, wrapped again by a terminal now
    ``columns`` wide: how many of its rows are above the cursor's, and how many below. A wide
    character that does not fit at the end of a row goes whole to the next, as terminals put it
    (counted by columns alone, a line of Chinese left a row of it behind)."""
    row = x = at = 0
    cursor_row = -1
    for c in text:
        width = char_width(c)
        if width == 0:
            continue
        if x + width > columns and x > 0:
            row, x = row + 1, 0
        if at == column:
            cursor_row = row
        x += width
        at += width
    if cursor_row < 0:  # past the end of what was written: on its last row, as near as any
        cursor_row = row
    return cursor_row, row - cursor_row


def fit_prompt(prompt: str, columns: int) -> str:
    """``prompt`` if it takes at most half the row, else its start in plain text cut to that
    (a question: its end, where the choice is): wider than the row, the input row wrapped and
    every redraw left a row of it behind."""
    room = max(columns // 2, 4)
    if visible_width(prompt) <= room:
        return prompt
    plain = _SGR.sub("", prompt).rstrip()
    if plain.endswith(">"):
        return clip(plain[:-1], room - 3) + "…> "
    tail = clip(plain[::-1], room - 2)[::-1]
    return "…" + tail + " "


def fit_input_row(prompt: str, columns: int) -> tuple[str, int]:
    """The prompt as it fits a row ``columns`` wide (``fit_prompt``), and the columns left for
    the line: with the space after the line, never wider than the row. On a row of a few cells
    the line goes first and the prompt is left out: at 4 columns a cut prompt and its line
    wrapped, and the cursor showed on another row than its letter."""
    prompt = fit_prompt(prompt, columns)
    room = columns - visible_width(prompt) - 1
    if room < 1:
        return "", max(columns - 1, 0)
    return prompt, room


class Display(Protocol):
    """What a session draws on: ``Terminal`` (raw mode), or the plain mode's screen
    (``plain.PlainScreen``) where the terminal cannot be put in raw mode."""

    def start(self, signals: Mapping[int, Callable[[], None]] | None = None) -> None: ...
    def stop(self) -> None: ...
    def show(self, lines: Iterable[str]) -> None: ...
    def bell(self) -> None: ...
    def redraw(self) -> None: ...
    def clear_screen(self) -> None: ...
    def suspend(self) -> None: ...


class Terminal:
    """Owns the tty: ``on_key`` is called with each key; ``view`` gives (prompt, line,
    cursor column within line) for the input row, called on every redraw. Rows after the first
    of a line that needs several start with ``indent`` spaces."""

    def __init__(
        self,
        on_key: Callable[[Key], None],
        view: Callable[[int], tuple[str, str, int]],
        fd: int | None = None,
        out: BinaryIO | None = None,
        encoding: str | None = None,
        indent: int = HANGING_INDENT,
    ) -> None:
        self.fd = sys.stdin.fileno() if fd is None else fd
        self.out = sys.stdout.buffer if out is None else out
        self.encoding = encoding or sys.stdout.encoding or "utf-8"
        self.on_key = on_key
        self.view = view
        self.indent = indent
        self.decoder = KeyDecoder(sys.stdin.encoding or "utf-8")
        self._saved: list[Any] | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._esc_timer: asyncio.TimerHandle | None = None
        self._pending: list[str] = []
        self._flush_scheduled = False
        self._keys_read: bool | None = None  # in a read's keys: None; else a redraw waits
        self._pasting_until = 0.0  # (loop time) a read before this goes on the paste before it
        self._signals: list[int] = []
        self._hangup: Callable[[], None] | None = None
        # The input row drawn last: its text (no colours) and the cursor's column in it, on a
        # row as wide as the terminal then was; None while no input row is on the screen.
        self._drawn: tuple[str, int] | None = None
        # The lines printed last, to paint the screen again after a resize; the size (columns,
        # rows) its rows were last laid out for; a repaint waiting for the loop.
        self._printed = Printed()
        self._size: tuple[int, int] | None = None
        self._resize: asyncio.Handle | None = None

    # --- mode --------------------------------------------------------------------------

    def start(self, signals: Mapping[int, Callable[[], None]] | None = None) -> None:
        """Raw mode, bracketed paste, key reader, SIGWINCH redraw and the given handlers."""
        import termios

        self._loop = asyncio.get_running_loop()
        self._saved = termios.tcgetattr(self.fd)
        self._raw()
        self._write(BRACKETED_PASTE_ON)
        self._loop.add_reader(self.fd, self._readable)
        # The terminal going away reads as an end of input: it is then what a hang-up is.
        self._hangup = (signals or {}).get(getattr(signal, "SIGHUP", -1))
        handlers = {signal.SIGWINCH: self._resized, **(signals or {})}
        for sig, handler in handlers.items():
            self._loop.add_signal_handler(sig, handler)
            self._signals.append(sig)
        self._size = self.size()
        self.redraw()

    def _raw(self) -> None:
        import termios

        mode = termios.tcgetattr(self.fd)
        mode[0] &= ~(termios.ICRNL | termios.INLCR | termios.IGNCR | termios.IXON)
        mode[3] &= ~(termios.ICANON | termios.ECHO | termios.ISIG | termios.IEXTEN)
        mode[6][termios.VMIN] = 1
        mode[6][termios.VTIME] = 0
        termios.tcsetattr(self.fd, termios.TCSANOW, mode)

    def stop(self) -> None:
        """Leave the input row empty, the cursor at the start of a fresh line, and the terminal
        as it was before ``start``. Idempotent."""
        if self._loop is not None:
            self._flush()
            self._loop.remove_reader(self.fd)
            for sig in self._signals:
                self._loop.remove_signal_handler(sig)
            self._signals.clear()
            if self._esc_timer is not None:
                self._esc_timer.cancel()
            if self._resize is not None:
                self._resize.cancel()
                self._resize = None
            self._loop = None
        if self._saved is not None:
            import termios  # there since start() took the settings

            self._write(self._erase_input_row() + BRACKETED_PASTE_OFF)
            try:
                termios.tcsetattr(self.fd, termios.TCSADRAIN, self._saved)
            except termios.error:
                pass
            self._saved = None

    def suspend(self) -> None:
        """Ctrl+Z: give the terminal back, stop until resumed (fg), then take it again."""
        import termios

        if self._saved is None:
            return
        self._write(self._erase_input_row() + BRACKETED_PASTE_OFF)
        termios.tcsetattr(self.fd, termios.TCSADRAIN, self._saved)
        os.kill(os.getpid(), signal.SIGTSTP)
        self._raw()
        self._write(BRACKETED_PASTE_ON)
        self._repaint()  # the window may have changed size while we were stopped

    # --- input -------------------------------------------------------------------------

    def _readable(self) -> None:
        try:
            data = os.read(self.fd, 4096)
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            data = b""
        if not data:  # the terminal went away (hang-up): stop reading it, and leave
            if self._loop is not None:
                self._loop.remove_reader(self.fd)
            if self._hangup is not None:
                self._hangup()
            else:
                self.on_key("ctrl-d")
            return
        keys = self.decoder.feed(data)
        if self._esc_timer is not None:
            self._esc_timer.cancel()
            self._esc_timer = None
        if self.decoder.waiting and self._loop is not None:
            self._esc_timer = self._loop.call_later(ESC_WAIT_S, self.decoder.flush)
        # One redraw for the keys of a read (a long line redrawn after each of 4,096 keys
        # pasted took seconds).
        self._keys_read = False
        try:
            now = self._loop.time() if self._loop is not None else 0.0
            keys = _as_paste(keys, now < self._pasting_until)
            if keys and isinstance(keys[-1], Paste) and self._loop is not None:
                self._pasting_until = now + PASTE_GAP_S
            for key in keys:
                self.on_key(key)
        finally:
            wanted, self._keys_read = self._keys_read, None
            if wanted:
                self.redraw()

    # --- output ------------------------------------------------------------------------

    def columns(self) -> int:
        return self.size()[0]

    def size(self) -> tuple[int, int]:
        """The terminal's columns and rows (80 by 24 where it does not say, or says 0: a pty
        whose size was never set)."""
        try:
            size = os.get_terminal_size(self.fd)
        except OSError:
            return 80, 24
        return size.columns or 80, size.lines or 24

    def show(self, lines: Iterable[str]) -> None:
        """Print ``lines`` above the input line (soon, in one write with the redraw), each wrapped
        to the width the terminal has then."""
        self._pending.extend(lines)
        if not self._flush_scheduled and self._loop is not None:
            self._flush_scheduled = True
            self._loop.call_soon(self._flush)
        elif self._loop is None:
            self._flush()

    def _flush(self) -> None:
        self._flush_scheduled = False
        if not self._pending:
            return
        # The client wraps lines itself rather than leave it to the terminal, which breaks words
        # and starts each row at the left edge, where padded text would pass for a line of its
        # own. The last column stays free: a character a terminal draws wider than counted
        # then still does not make it wrap.
        columns = self.columns() - 1
        rows = [row for line in self._pending for row in wrap(line, columns, self.indent)]
        text = NO_WRAP + "".join(row if row == "\a" else row + "\r\n" for row in rows) + WRAP
        self._printed.add(self._pending)
        self._pending.clear()
        if self._saved is None:
            self._write(text)
        else:
            self._write(self._erase_input_row() + text + self._input_row())

    def bell(self) -> None:
        """Ring after the lines being shown (so the bell comes with its message)."""
        self.show(["\a"])

    def clear_screen(self) -> None:
        self._drawn = None
        self._printed.clear()  # not painted again at a resize
        self._write("\x1b[H\x1b[2J" + self._input_row())

    def redraw(self) -> None:
        if self._keys_read is not None:
            self._keys_read = True  # once the read's keys are all taken
        elif self._saved is not None:
            self._write(self._input_row())

    def _resized(self) -> None:
        """SIGWINCH: paint the screen again soon, once for all the signals of a burst (a window
        being dragged sends many)."""
        if self._resize is None and self._loop is not None:
            self._resize = self._loop.call_soon(self._repaint)

    def _repaint(self) -> None:
        """The screen erased and the last lines printed that fit shown again, wrapped to the new
        size, then the input row: the terminal may have wrapped the old rows again at its left
        edge (narrower) or brought rows back from its scrollback (wider, taller). Back at the
        size the screen was painted for, the input row alone is drawn again."""
        self._resize = None
        if self._saved is None:
            return
        size = self.size()
        if size == self._size:
            self.redraw()
            return
        self._size = size
        # Every line that fits the new size, older ones too: a taller or wider window is filled
        # by the terminal with rows from its scrollback (tmux takes them out of it), and rows
        # erased there and not painted again would be lost. Lines on their way go with the rest
        # (their bell too), as the flush would print them.
        bell = "\a" if "\a" in self._pending else ""
        self._printed.add(self._pending)
        self._pending.clear()
        columns, height = size
        rows = screenful(self._printed.newest_first(), columns - 1, height - 1, self.indent)
        self._drawn = None
        self._write(repaint(rows, height) + bell + self._input_row())

    def _erase_input_row(self) -> str:
        """Erase the input row as it shows now (after a resize, maybe several rows), leaving
        the cursor at the start of its first row."""
        drawn, self._drawn = self._drawn, None
        return back_to_input_row(drawn, self.columns())

    def _input_row(self) -> str:
        """The input row drawn anew where the old one was. The space after the line keeps the
        cursor inside what was written (``back_to_input_row``); the cursor then goes to its
        column counted from the row's start (CHA), where terminals agree on where it lands."""
        erase = self._erase_input_row()
        prompt, line, cursor = self.view(self.columns())
        column = visible_width(prompt) + cursor
        self._drawn = (_SGR.sub("", prompt) + line + " ", column)
        return f"{erase}{prompt}{line} \x1b[{column + 1}G"

    def _write(self, text: str) -> None:
        try:
            self.out.write(text.encode(self.encoding, "replace"))
            self.out.flush()
        except (OSError, ValueError):
            pass


def _as_paste(keys: list[Key], going_on: bool = False) -> list[Key]:
    """Many lines in one read, without bracketed paste, are a paste too (the paste guard
    must see them): printable keys and Enters become one Paste. So is the rest of a paste
    (``going_on``: read within ``PASTE_GAP_S`` of its last part), however few lines it has: a
    terminal hands a big paste over in reads of 4 KB, and the first key of a last part of one
    line was taken for the answer to "Send N pasted lines?", its Enter sent the line. A key
    alone in its read is typed (that answer)."""
    enters = sum(1 for k in keys if k == "enter")
    if enters <= TYPED_LINES_PER_READ and not (going_on and len(keys) > 1):
        return keys
    if not all(isinstance(k, str) and (len(k) == 1 or k in ("enter", "tab")) for k in keys):
        return keys
    return [Paste("".join("\n" if k == "enter" else " " if k == "tab" else str(k) for k in keys))]
