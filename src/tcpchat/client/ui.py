"""The interactive terminal client: the asyncio and terminal glue around the client core.

``run_interactive`` connects (a refused connection is one line from the caller and exit 1),
takes over the terminal, asks for a name if needed, then shows events above the input line and
sends what you type, paced to the server's flood limits. What a typed line means and what an
event means (the roster, ``/r``, which line an answer confirms) is decided by ``ClientCore``;
here are the terminal and the paste guard; the prompts before the chat and reconnecting with
backoff are in ``joining.py``. The terminal is restored on every way out.
"""

from __future__ import annotations

import asyncio
import signal
import sys
from collections import deque
from pathlib import Path
from typing import Callable

from ..core import events as ev
from ..core.errors import ConnectError
from ..core.limits import PASTE_ASK_LINES, QUIT_WAIT_S
from . import render
from .config import ClientConfig
from .core import (
    CLIENT_COMMANDS,
    ClientCore,
    Leave,
    LocalHelp,
    Refuse,
    Send,
    for_people,
)
from .history import append_history, history_path, load_history
from .joining import Joining, sentence
from .keys import Key
from .lineedit import CLEAR, EOF, INTERRUPT, KEY_HELP, PASTE, SUBMIT, SUSPEND, LineEditor
from .link import Pacer, ServerLink
from .terminal import Display, Terminal, fit_input_row

# The input row's status while our lines wait long for their confirmation.
WAITING = "waiting for the server"


class ChatApp(Joining):
    """One interactive session; ``run`` returns the exit code."""

    def __init__(self, config: ClientConfig, style: render.Style, history: Path | None) -> None:
        self.config = config
        self.style = style
        self.history_file = history
        self.core = ClientCore(config.name)
        self.link: ServerLink | None = None
        self.pacer = Pacer.default()
        self.outbox: deque[str] = deque()  # typed lines waiting for the pacer
        self.outbox_ready = asyncio.Event()
        self.status = ""
        self.question = ""  # a prompt that replaces the name prompt (name, paste guard)
        self.secret = False  # the answer to the question is not shown (a password)
        self.answer: asyncio.Future[str] | None = None
        self.password = ""  # the server password, once known: a reconnect uses it again
        self.paste: list[str] = []
        self.welcomed = False
        self.failure: Exception | None = None
        self.quitting = False
        self.exit_code = 0
        self.session: asyncio.Future[int] | None = None
        self.editor = LineEditor(
            load_history(history) if history else [],
            completer=lambda line, cursor: self.core.completions(line, cursor),
            on_remember=self._keep,
        )
        self.term: Display = self._display()

    def _display(self) -> Display:
        """The screen of this session (the plain mode brings its own)."""
        return Terminal(self.on_key, self.view)

    # --- the session -------------------------------------------------------------------

    async def run(self, link: ServerLink) -> int:
        quit_signals: dict[int, Callable[[], None]] = {
            signal.SIGINT: lambda: self.leave(130),
            signal.SIGTERM: lambda: self.leave(143),
        }
        if hasattr(signal, "SIGHUP"):  # not on Windows, where the plain mode runs this too
            quit_signals[signal.SIGHUP] = lambda: self.leave(129)
        self.term.start(quit_signals)
        sender = asyncio.ensure_future(self._send_loop())
        self.session = asyncio.ensure_future(self._session(link))
        try:
            return await self.session
        except asyncio.CancelledError:
            if self.failure is not None:
                raise self.failure from None
            return self.exit_code
        except ConnectError as exc:  # a sentence here, in the chat's own lines
            self.term.show([render.error(sentence(exc), self.style)])
            return 1
        finally:
            sender.cancel()
            await asyncio.gather(sender, return_exceptions=True)
            if self.link is not None:
                await self.link.close()
            self.term.stop()

    async def _session(self, link: ServerLink) -> int:
        self.link = link
        link, registered = await self._first_join(link)
        while True:
            self._joined(link, registered)
            await self._pump(link)
            self.link = None
            for sent in self.core.disconnected():
                self.show(
                    render.error(
                        f"Not confirmed before the connection closed (it may still arrive): "
                        f"{sent.text}",
                        self.style,
                    )
                )
            await link.close()
            if self.quitting:
                return self.exit_code
            silent = f"The server has not answered for {link.silent:.0f} s." if link.silent else ""
            if not self.config.reconnect:
                told = f"{silent} Disconnected." if silent else "Disconnected from the server."
                self.show(render.notice(told, self.style))
                return 0 if self.core.shutdown_seen else 1
            link, registered = await self._reconnect(silent)
            self.link = link

    def _joined(self, link: ServerLink, registered: ev.Registered) -> None:
        seen = self.core.joined(registered, link.welcome)
        self.pacer = Pacer.for_link(link)
        link.on_stall = self._stalled
        self.show(render.render_seen(seen, self.core.me, self.style))
        # After a reconnect: back into your rooms, before anything typed since.
        self.outbox.extendleft(reversed(self.core.rejoin()))
        self.outbox_ready.set()
        self.term.redraw()

    async def _pump(self, link: ServerLink) -> None:
        """Show every event until the connection closes."""
        while True:
            event = await link.receive()
            if event is None:
                return
            self.on_event(event)

    def _stalled(self) -> None:
        """Our lines have long waited for their confirmation: say so once, and in the status
        until they are confirmed (or the link gives up on the server)."""
        count = len(self.core.pending)
        lines = "your line is" if count == 1 else f"your {count} lines are"
        self.show(
            render.notice(
                f"Waiting for the server ({lines} not confirmed yet).",
                self.style,
                sgr=render.YELLOW,
            )
        )
        self._set_status(WAITING)

    def _set_status(self, status: str) -> None:
        self.status = status
        self.term.redraw()

    def _keep(self, line: str) -> None:
        """A line entered into the history: into the file at once, so a crash keeps it."""
        if self.history_file is not None:
            append_history(self.history_file, line)

    # --- events ------------------------------------------------------------------------

    def on_event(self, event: ev.Event) -> None:
        """Show ``event`` as the core understands it; ring, redraw as it says."""
        seen = self.core.receive(event)
        if self.link is not None:
            self.link.awaiting(len(self.core.pending))
        if self.status == WAITING and not self.core.pending:
            self._set_status("")
        if isinstance(event, ev.Help):
            self.show(*self._help(for_people(event.commands)))
            return
        self.show(render.render_seen(seen, self.core.me, self.style))
        if self.config.bell and seen.bell:
            self.term.bell()
        if seen.renamed_me or seen.moved:
            self.term.redraw()

    def _help(self, server: tuple[tuple[str, str], ...]) -> list[str]:
        return render.help_table(CLIENT_COMMANDS + KEY_HELP, server, self.style)

    def show(self, *lines: str | None) -> None:
        self.term.show(line for line in lines if line is not None)

    # --- input -------------------------------------------------------------------------

    def view(self, columns: int) -> tuple[str, str, int]:
        """What the input row shows: prompt, the visible part of the line, cursor column."""
        if self.question:
            prompt = self.style.paint(self.question, render.BOLD)
            if self.secret:  # nothing of a password shows, not even its length
                return fit_input_row(prompt, columns)[0], "", 0
        elif self.editor.searching is not None:
            failing = "failing " if self.editor.search_failed else ""
            prompt = f"({failing}reverse-i-search '{self.editor.searching}') "
        else:
            status = self.style.paint(f"[{self.status}] ", render.YELLOW) if self.status else ""
            prompt = status + (render.prompt(self.core.me, self.core.current, self.style) or "> ")
        prompt, room = fit_input_row(prompt, columns)
        line, cursor = self.editor.view(room)
        return prompt, line, cursor

    def on_key(self, key: Key) -> None:
        try:
            self._on_key(key)
        except Exception as exc:  # a bug: end the session; run() re-raises it after cleanup
            self.failure = exc
            self._abort()

    def _on_key(self, key: Key) -> None:
        if self.paste and isinstance(key, str):
            self._confirm_paste(key)
            return
        outcome = self.editor.press(key)
        if outcome == SUBMIT:
            self.submit(self.editor.take(remember=self.answer is None))
        elif outcome == PASTE:
            self._pasted(self.editor.take_paste())
        elif outcome == EOF:
            self.leave(0)
        elif outcome == INTERRUPT:
            self.leave(130)
        elif outcome == CLEAR:
            self.term.clear_screen()
            return
        elif outcome == SUSPEND:
            self.term.suspend()
            return
        if outcome is not None:
            self.term.redraw()

    def _pasted(self, lines: list[str]) -> None:
        lines = [line for line in lines if line.strip()]
        if self.answer is not None:
            for line in lines:
                self.submit(line)
            return
        if self.paste:  # the rest of a paste already asked about (read in several parts)
            lines = self.paste + lines
        elif len(lines) <= PASTE_ASK_LINES:
            for line in lines:
                self.editor.remember(line)  # sent as if typed, so kept as if typed
                self.submit(line)
            return
        self.paste = lines
        self.question = f"Send {len(lines)} pasted lines? [y/N] "

    def _confirm_paste(self, key: str) -> None:
        lines, self.paste = self.paste, []
        self.question = ""
        if key.lower() == "y":
            self.show(render.notice(f"Sending {len(lines)} lines.", self.style))
            for line in lines:
                self.editor.remember(line)
                self.submit(line)
        else:
            # Not thrown away: back in the input as one line, to edit and send or clear.
            joined = " ".join(line.strip() for line in lines)
            rest = self.editor.text
            self.editor.set(f"{joined} {rest}" if rest else joined, len(joined))
            told = f"Paste of {len(lines)} lines not sent: it is in the input as one line"
            self.show(render.notice(f"{told} (Ctrl+U clears it).", self.style))
        self.term.redraw()

    async def ask(self, question: str, secret: bool = False) -> str:
        """Ask for one line in the input row (a name, a password: ``secret`` hides what is
        typed); returns it stripped, maybe empty, for the caller to judge."""
        self.question, self.secret = question, secret
        self.answer = asyncio.get_running_loop().create_future()
        self.term.redraw()
        try:
            return (await self.answer).strip()
        finally:
            self.answer = None
            self.question, self.secret = "", False
            self.term.redraw()

    def submit(self, line: str) -> None:
        """A line typed (or pasted): the answer to a question, or what the core makes of it."""
        if self.answer is not None:
            if not self.answer.done():
                self.answer.set_result(line)
            return
        todo = self.core.typed(line)
        if isinstance(todo, Leave):
            self.leave(0, todo.line)
        elif isinstance(todo, LocalHelp):
            self.show(*self._help(todo.rows))
        elif isinstance(todo, Refuse):
            kept = self.give_back(line) if todo.keep else ""
            self.show(render.error(todo.reason + kept, self.style))
        elif isinstance(todo, Send):
            self.outbox.append(todo.text)
            self.outbox_ready.set()

    def give_back(self, line: str) -> str:
        """Keep a refused ``line`` to edit and send later: in the input, or, where something is
        typed there already (the rest of a paste), in the input history, so that neither is
        lost. Returns what to tell the user ("" where the input is not ours: the plain mode)."""
        editor = self.editor
        if not editor.text:
            editor.set(line)
            self.term.redraw()
            return " Your line was kept."
        editor.keep(line)
        return " Your line is in the input history (Up)."

    async def _send_loop(self) -> None:
        """Send queued lines in order, no faster than the server's flood limits allow."""
        while True:
            await self.outbox_ready.wait()
            while self.outbox:
                await self.pacer.wait(self.outbox[0])
                if not self.outbox:
                    break
                line = self.outbox.popleft()
                link = self.link
                if link is None or not self.core.registered:
                    self.show(render.error(f"Not connected: not sent: {line}", self.style))
                    continue
                self.core.sent(link.send(line), line)
                link.awaiting(len(self.core.pending))
                try:
                    await link.drain()
                except (OSError, RuntimeError):
                    pass
            self.outbox_ready.clear()

    def leave(self, code: int, quit_line: str = "/quit") -> None:
        """Quit: tell the server (it announces it), wait briefly for its goodbye, close."""
        loop = asyncio.get_running_loop()
        if self.quitting:  # a second Ctrl+C: go now
            self._abort()
            return
        self.quitting = True
        self.exit_code = code
        self.outbox.clear()
        if self.answer is not None and not self.answer.done():
            self._abort()
            return
        if self.link is not None and self.core.registered:
            self.link.send(quit_line)
            loop.call_later(QUIT_WAIT_S, self._abort)
        else:
            self._abort()

    def _abort(self) -> None:
        if self.session is not None and not self.session.done():
            self.session.cancel()


async def run_interactive(config: ClientConfig) -> int:
    """The interactive client; returns the exit code. A failure to connect at all raises
    ConnectError (one line from the caller, exit 1) before the terminal is touched."""
    style = render.style_for(config.color, sys.stdout)
    link = await ServerLink.open(config)
    app = ChatApp(config, style, history_path())
    try:
        return await app.run(link)
    finally:
        await link.close()
