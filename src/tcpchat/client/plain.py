"""The plain interactive mode: the chat in any console, without raw mode.

Where the terminal cannot be put in raw mode (no ``termios``, as on Windows; a terminal that
refuses its settings; ``TERM=dumb``), or when asked for (``--plain``), the interactive client
reads whole lines with the system's own line input (``console.LineReader``: the tty's erase and
kill keys, the Windows console's editing and history) and prints events as they come, followed
by a prompt. The session is the full client's (``ui.ChatApp``): the name and password prompts,
``/r``, ``/help``, confirmations, pacing, reconnecting, Ctrl+C and Ctrl+D; the words, colours
(where the terminal takes them) and wrapping are ``render.py``'s.

What is typed is echoed by the system, not drawn by us, so events cannot be printed around it as
the full client does. When events arrive while a prompt is showing, a terminal that takes ANSI
sequences has the prompt's row erased and the events printed in its place, then the prompt
again; a dumb one gets them on the next row. Either way the line being typed stays whole in the
system's buffer (Enter sends all of it; on Linux and macOS Ctrl+R shows it again), and every
event is printed whole on rows of its own.
"""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from collections.abc import Iterable, Mapping
from types import FrameType
from typing import Any, BinaryIO, Callable, Optional, TextIO

from ..core import events as ev
from . import render
from .config import ClientConfig
from .console import LineReader, ansi_console
from .core import CLIENT_COMMANDS
from .link import ServerLink
from .render import HANGING_INDENT, NO_WRAP, WRAP, wrap
from .terminal import Display
from .ui import ChatApp

# The keys of the plain mode, listed by /help after the client's commands.
PLAIN_KEY_HELP = (
    ("Enter", "send the line (editing and history are your terminal's own)"),
    ("Ctrl+D, Ctrl+C", "leave, as /quit does (on Windows Ctrl+Z then Enter, or Ctrl+C)"),
)

ERASE_ROW = "\r\x1b[K"

# A prompt to show and whether what is typed at it is secret; None when no line is wanted.
Wanted = Optional[tuple[str, bool]]


class PlainScreen:
    """Prints lines as they come and a prompt after them, and reads lines when one is wanted.

    ``wanted()`` says which prompt to show now and whether its answer is secret (None: no line
    is wanted, as while joining); each line typed goes to ``on_line``, the end of input to
    ``on_end``. ``ansi``: the terminal takes ANSI sequences (a prompt's row can be erased).
    ``out`` and ``stdin`` are stdout's bytes and stdin unless given.
    """

    def __init__(
        self,
        wanted: Callable[[], Wanted],
        on_line: Callable[[str], None],
        on_end: Callable[[], None],
        ansi: bool,
        out: BinaryIO | None = None,
        encoding: str | None = None,
        stdin: TextIO | None = None,
    ) -> None:
        self.wanted = wanted
        self.on_line = on_line
        self.ansi = ansi
        self.out = sys.stdout.buffer if out is None else out
        self.encoding = encoding or sys.stdout.encoding or "utf-8"
        self.reader = LineReader(self._entered, on_end, self._interrupted, stdin)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._pending: list[str] = []
        self._flush_scheduled = False
        self._prompt = ""  # the prompt on the screen, the cursor after it (and what is typed)
        self._reading = False  # a line is asked of the reader and not come yet
        self._ended = False  # the input ended: nothing more is read
        self._interrupt: Callable[[], None] | None = None
        self._loop_signals: list[int] = []
        self._handlers: dict[int, Any] = {}  # signal -> Python's handler before ours

    # --- mode ---------------------------------------------------------------------------

    def start(self, signals: Mapping[int, Callable[[], None]] | None = None) -> None:
        """Take the given signals (SIGINT is Ctrl+C here: the terminal stays in its own mode)
        and start reading."""
        self._loop = asyncio.get_running_loop()
        for sig, handler in (signals or {}).items():
            self._take_signal(sig, handler)
        self._interrupt = (signals or {}).get(signal.SIGINT)
        self.reader.start()
        self.redraw()

    def _take_signal(self, sig: int, handler: Callable[[], None]) -> None:
        assert self._loop is not None
        loop = self._loop
        try:
            loop.add_signal_handler(sig, handler)
            self._loop_signals.append(sig)
        except (NotImplementedError, RuntimeError):
            # Windows: its event loop takes no signal handlers, but Python's own run between
            # two steps of the loop, which a signal wakes.
            def relay(signum: int, frame: FrameType | None) -> None:
                loop.call_soon_threadsafe(handler)

            self._handlers[sig] = signal.signal(sig, relay)

    def stop(self) -> None:
        """Print what is left, end on an empty row, give back the signals and the echo."""
        if self._loop is not None:
            loop, self._loop = self._loop, None
            self._flush()
            for sig in self._loop_signals:
                loop.remove_signal_handler(sig)
            self._loop_signals.clear()
            for sig, previous in self._handlers.items():
                signal.signal(sig, previous if previous is not None else signal.SIG_DFL)
            self._handlers.clear()
        self.reader.close()
        if self._prompt:
            self._write(self._off_prompt())
            self._prompt = ""

    def suspend(self) -> None:
        """Nothing to do: Ctrl+Z is the terminal's own here."""

    def clear_screen(self) -> None:
        """Nothing to do: no key asks for it here."""

    # --- input --------------------------------------------------------------------------

    def _entered(self, line: str) -> None:
        self._reading = False
        self._prompt = ""  # Enter took the cursor to a new row
        self.on_line(line)
        if self._loop is None:
            return
        if self.ansi:
            self.redraw()  # the prompt at once; the answer to the line will erase it
        else:
            # A prompt now would stay behind, alone on its row, above the answer to the line:
            # it comes with the answer.
            self._read_if_wanted()

    def _interrupted(self) -> None:
        self._reading, self._ended = False, True
        if self._interrupt is not None:
            self._interrupt()

    def _read_if_wanted(self) -> None:
        wanted = self.wanted()
        if wanted is not None and not self._reading and not self._ended:
            self._reading = True
            self.reader.request(secret=wanted[1])

    # --- output -------------------------------------------------------------------------

    def columns(self) -> int:
        try:
            return os.get_terminal_size(self.out.fileno()).columns or 80  # 0: never set
        except (OSError, ValueError, AttributeError):
            return 80

    def show(self, lines: Iterable[str]) -> None:
        """Print ``lines`` (soon, in one write with the prompt after them), each wrapped to the
        width the terminal has then, as the full client wraps them."""
        self._pending.extend(lines)
        if not self._flush_scheduled and self._loop is not None:
            self._flush_scheduled = True
            self._loop.call_soon(self._flush)
        elif self._loop is None:
            self._flush()

    def bell(self) -> None:
        """Ring after the lines being shown (so the bell comes with its message)."""
        self.show(["\a"])

    def redraw(self) -> None:
        """Show the prompt if a line is wanted and it is not there yet, and read that line."""
        if self._loop is None:
            return
        if not self._pending:
            self._write(self._prompt_text())
        self._read_if_wanted()

    def _flush(self) -> None:
        self._flush_scheduled = False
        if not self._pending:
            return
        # Wrapped here, not by the terminal, for the reason the full client gives
        # (Terminal._flush): no row of a message can pass for a line of its own.
        columns = self.columns() - 1
        rows = [row for line in self._pending for row in wrap(line, columns, HANGING_INDENT)]
        self._pending.clear()
        text = "".join(row if row == "\a" else row + "\n" for row in rows)
        if self.ansi:
            text = NO_WRAP + text + WRAP
        before = self._off_prompt() if self._prompt else ""
        self._prompt = ""
        self._write(before + text + (self._prompt_text() if self._loop is not None else ""))
        self._read_if_wanted()

    def _off_prompt(self) -> str:
        """How to leave the prompt's row for the start of a row of our own: erase it where the
        terminal can; else go on to the next one."""
        return ERASE_ROW if self.ansi else "\n"

    def _prompt_text(self) -> str:
        """The prompt to write now, if one is wanted and another is not showing already."""
        wanted = self.wanted()
        prompt = wanted[0] if wanted is not None else ""
        if prompt == self._prompt:
            return ""
        text = (self._off_prompt() if self._prompt else "") + prompt
        self._prompt = prompt
        return text

    def _write(self, text: str) -> None:
        if not text:
            return
        try:
            self.out.write(text.encode(self.encoding, "replace"))
            self.out.flush()
        except (OSError, ValueError):
            pass


class PlainApp(ChatApp):
    """The terminal client's session (``ChatApp``) on a ``PlainScreen``: lines come whole from
    the system's line input instead of the line editor."""

    def __init__(self, config: ClientConfig, style: render.Style, ansi: bool) -> None:
        self.ansi = ansi
        self.chatting = False  # joined once: from then on a line is always wanted
        self.said_shown = False  # said that a password will show as it is typed
        super().__init__(config, style, history=None)

    def _display(self) -> Display:
        self.screen = PlainScreen(self.wanted, self.submit, self._input_ended, self.ansi)
        return self.screen

    def wanted(self) -> Wanted:
        """The prompt for the line wanted now: a question's (a name, a password), else your
        name's and room's (``alice@#ops>``) once joined (also while reconnecting, so that Ctrl+D
        is read); None while nothing can be typed (joining, leaving)."""
        if self.answer is not None:
            return self.style.paint(self.question, render.BOLD), self.secret
        if self.chatting and not self.quitting:
            return render.prompt(self.core.me, self.core.current, self.style) or "> ", False
        return None

    async def ask(self, question: str, secret: bool = False) -> str:
        if secret and not self.said_shown and not self.screen.reader.can_hide:
            self.said_shown = True
            self.show(render.notice("This terminal cannot hide what you type here.", self.style))
        return await super().ask(question, secret)

    def _joined(self, link: ServerLink, registered: ev.Registered) -> None:
        self.chatting = True
        super()._joined(link, registered)

    def _input_ended(self) -> None:
        """Ctrl+D (Ctrl+Z, Enter on Windows): leave, as in the full client."""
        if not self.quitting:
            self.leave(0)

    def give_back(self, line: str) -> str:
        return ""  # the line was the system's: it cannot be put back

    def _help(self, server: tuple[tuple[str, str], ...]) -> list[str]:
        return render.help_table(CLIENT_COMMANDS + PLAIN_KEY_HELP, server, self.style)


async def run_plain(config: ClientConfig) -> int:
    """The plain interactive client; returns the exit code. A failure to connect at all raises
    ConnectError (one line from the caller, exit 1)."""
    ansi, restore = ansi_console(sys.stdout, os.environ)
    try:
        colour = ansi and config.color and not os.environ.get("NO_COLOR")
        style = render.Style(colour=colour, unicode=render.use_unicode(sys.stdout))
        link = await ServerLink.open(config)
        app = PlainApp(config, style, ansi)
        try:
            return await app.run(link)
        finally:
            await link.close()
    finally:
        restore()
