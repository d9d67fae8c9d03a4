"""The interactive terminal client: a chat session between the server link and the terminal.

``run_interactive`` connects (a refused connection is one line from the caller and exit 1),
takes over the terminal, asks for a name if needed, then shows events above the input line and
sends what you type, paced to the server's flood limits. It answers pings, handles the client's
own commands (``/r``, ``/help``, ``/quit``), guards against large pastes, and reconnects with
backoff when the connection drops. The terminal is restored on every way out.
"""

from __future__ import annotations

import asyncio
import signal
import sys
from collections import deque
from pathlib import Path
from typing import Callable

from ..config import ClientConfig
from ..core import events as ev
from ..core.commands import COMMANDS
from ..core.errors import ConnectError
from ..core.limits import BACKOFF_FIRST_S, BACKOFF_MAX_S, PASTE_ASK_LINES, QUIT_WAIT_S
from ..core.names import fold
from ..core.text import neutralise
from . import render
from .history import history_path, load_history, save_history
from .lineedit import CLEAR, EOF, INTERRUPT, PASTE, SUBMIT, SUSPEND, Key, LineEditor
from .link import NameRefused, Pacer, ServerLink, await_name_prompt, is_message, join, read_password
from .terminal import Terminal, visible_width

CLIENT_HELP = (
    ("/r TEXT", "reply privately to whoever last sent you a private message"),
    ("Tab", "complete a command or a name (again: the next match)"),
    ("Up, Down, Ctrl+R", "input history, kept between sessions; reverse search"),
    ("Ctrl+D, Ctrl+C", "leave, as /quit does"),
)
# Server commands that make no sense in this client (it speaks JSON mode itself).
_HIDDEN = ("mode", "pong", "pass")


def command_words() -> list[str]:
    """Every command the client knows, for Tab: its own and the server's."""
    words = {"/r"}
    for spec in COMMANDS:
        if spec.name not in _HIDDEN:
            words.update("/" + w for w in (spec.name, *spec.aliases) if w != "?")
    return sorted(words)


def complete(line: str, cursor: int, names: list[str], me: str) -> tuple[int, list[str]]:
    """Tab completion: a command at the start of the line, else a name online.

    A name that starts the line gets ": " after it (the way to address someone in a chat);
    a name after /w or /msg, or elsewhere, gets a space."""
    start = cursor
    while start > 0 and not line[start - 1].isspace():
        start -= 1
    word = line[start:cursor]
    before = line[:start]
    if not before.strip() and word.startswith("/"):
        return start, [w + " " for w in command_words() if w.startswith(word.lower())]
    prefix = fold(word.lstrip("@"))
    at = "@" if word.startswith("@") else ""
    others = [n for n in names if fold(n) != fold(me)]
    matches = sorted((n for n in others if fold(n).startswith(prefix)), key=fold)
    suffix = ": " if not before.strip() and not at else " "
    return start, [at + n + suffix for n in matches]


class ChatApp:
    """One interactive session; ``run`` returns the exit code."""

    def __init__(self, config: ClientConfig, style: render.Style, history: Path | None) -> None:
        self.config = config
        self.style = style
        self.history_file = history
        self.me = config.name
        self.users: dict[str, str] = {}  # folded name -> name as shown
        self.last_private = ""
        self.link: ServerLink | None = None
        self.registered = False
        self.pacer = Pacer.default()
        self.outbox: deque[str] = deque()
        self.outbox_ready = asyncio.Event()
        self.pending: deque[str] = deque()  # message lines waiting for delivered or an error
        self.status = ""
        self.question = ""  # a prompt that replaces the name prompt (name, paste guard)
        self.answer: asyncio.Future[str] | None = None
        self.paste: list[str] = []
        self.shutdown_seen = False
        self.welcomed = False
        self.failure: Exception | None = None
        self.quitting = False
        self.exit_code = 0
        self.session: asyncio.Future[int] | None = None
        self.editor = LineEditor(
            load_history(history) if history else [],
            completer=lambda line, cursor: complete(
                line, cursor, list(self.users.values()), self.me
            ),
        )
        self.term = Terminal(self.on_key, self.view)

    # --- the session -------------------------------------------------------------------

    async def run(self, link: ServerLink) -> int:
        quit_signals: dict[int, Callable[[], None]] = {
            signal.SIGINT: lambda: self.leave(130),
            signal.SIGTERM: lambda: self.leave(143),
            signal.SIGHUP: lambda: self.leave(129),
        }
        self.term.start(quit_signals)
        sender = asyncio.ensure_future(self._send_loop())
        self.session = asyncio.ensure_future(self._session(link))
        try:
            return await self.session
        except asyncio.CancelledError:
            if self.failure is not None:
                raise self.failure from None
            return self.exit_code
        except ConnectError as exc:
            self.term.show([render.error(str(exc), self.style)])
            return 1
        finally:
            sender.cancel()
            await asyncio.gather(sender, return_exceptions=True)
            if self.link is not None:
                await self.link.close()
            self.term.stop()
            if self.history_file is not None:
                save_history(self.history_file, self.editor.history)

    async def _session(self, link: ServerLink) -> int:
        self.link = link
        link, registered = await self._first_join(link)
        while True:
            self._joined(registered)
            await self._pump(link)
            self.registered = False
            self.link = None
            for line in self.pending:
                self.show(
                    render.error(f"Not confirmed before the connection closed: {line}", self.style)
                )
            self.pending.clear()
            await link.close()
            if self.quitting:
                return self.exit_code
            if not self.config.reconnect:
                self.show(render.notice("Disconnected from the server.", self.style))
                return 0 if self.shutdown_seen else 1
            link, registered = await self._reconnect()
            self.link = link

    async def _first_join(self, link: ServerLink) -> tuple[ServerLink, ev.Registered]:
        password = read_password(self.config)
        name = self.config.name
        prompted = False
        if not name:
            await await_name_prompt(link, password)
            prompted = True
        while True:
            self._welcome(link)
            if not name:
                name = await self.ask("Your name: ")
            try:
                registered = await join(link, name, password, prompted=prompted)
                self._welcome(link)
                return link, registered
            except NameRefused as exc:
                self._welcome(link)
                self.show(render.error(exc.event.text, self.style))
                name, prompted = "", False
            except ConnectError:
                if not prompted:
                    raise
                # Choosing a name took longer than the server waits: connect again.
                link = self.link = await ServerLink.open(self.config)
                prompted = False

    def _welcome(self, link: ServerLink) -> None:
        """The server's welcome, once per run, as soon as it has arrived."""
        if link.welcome is not None and not self.welcomed:
            self.welcomed = True
            self.show(render.render_event(link.welcome, self.me, self.style))

    def _joined(self, registered: ev.Registered) -> None:
        self.me = registered.name
        self.registered = True
        self.users = {fold(n): n for n in registered.users}
        if self.link is not None:
            self.pacer = Pacer.for_link(self.link)
        self.show(render.render_event(registered, self.me, self.style))
        self.term.redraw()

    async def _pump(self, link: ServerLink) -> None:
        """Show every event until the connection closes."""
        while True:
            event = await link.receive()
            if event is None:
                return
            self.on_event(event)

    async def _reconnect(self) -> tuple[ServerLink, ev.Registered]:
        """Try again and again, 1, 2, 4 ... 30 s apart, until back in under the same name."""
        where = f"{self.config.host}:{self.config.port}"
        password = read_password(self.config)
        delay = BACKOFF_FIRST_S
        self.show(
            render.notice(
                f"Connection to {where} lost. Reconnecting in {delay:.0f} s (Ctrl+D to quit).",
                self.style,
                sgr=render.YELLOW,
            )
        )
        while True:
            self._set_status(f"reconnecting in {delay:.0f} s")
            await asyncio.sleep(delay)
            self._set_status("reconnecting")
            delay = min(delay * 2, BACKOFF_MAX_S)
            link: ServerLink | None = None
            try:
                link = await ServerLink.open(self.config)
                registered = await join(link, self.me, password)
            except NameRefused as exc:
                why = f"{exc.event.text} (the server may still hold the old connection)"
            except ConnectError as exc:
                why = str(exc)[:1].upper() + str(exc)[1:]
            else:
                self._set_status("")
                self.shutdown_seen = False
                self.show(render.notice(f"Reconnected to {where}.", self.style, sgr=render.GREEN))
                return link, registered
            if link is not None:
                await link.close()
            self.show(
                render.notice(f"{why}. Next try in {delay:.0f} s.".replace("..", "."), self.style)
            )

    def _set_status(self, status: str) -> None:
        self.status = status
        self.term.redraw()

    # --- events ------------------------------------------------------------------------

    def on_event(self, event: ev.Event) -> None:
        if isinstance(event, ev.Joined):
            self.users[fold(event.name)] = event.name
        elif isinstance(event, ev.Left):
            self.users.pop(fold(event.name), None)
        elif isinstance(event, ev.Renamed):
            self.users.pop(fold(event.old), None)
            self.users[fold(event.new)] = event.new
            if event.you:
                self.me = event.new
            if fold(self.last_private) == fold(event.old):
                self.last_private = event.new
        elif isinstance(event, ev.UserList):
            self.users = {fold(n): n for n in event.users}
        elif isinstance(event, ev.Message) and event.to is not None:
            self.last_private = event.sender
        elif isinstance(event, ev.Shutdown):
            self.shutdown_seen = True
        elif isinstance(event, ev.Help):
            self.show(*self._help(event.commands))
            return
        unsent = ""
        if isinstance(event, ev.Delivered) and self.pending:
            self.pending.popleft()
        elif isinstance(event, ev.Error) and self.pending and _refuses(event, self.pending[0]):
            unsent = self.pending.popleft()
        line = render.render_event(event, self.me, self.style)
        if line is not None:
            if unsent:
                line += " " + self.style.paint(f"(not sent: {neutralise(unsent)})", render.DIM)
            self.show(line)
        if self.config.bell and render.wants_bell(event, self.me):
            self.term.bell()
        if isinstance(event, ev.Renamed):
            self.term.redraw()

    def _help(self, server: tuple[tuple[str, str], ...]) -> list[str]:
        rows = [(u, h) for u, h in server if u.split()[0].lstrip("/") not in _HIDDEN]
        return render.help_table(CLIENT_HELP, rows, self.style)

    def show(self, *lines: str | None) -> None:
        self.term.show(line for line in lines if line is not None)

    # --- input -------------------------------------------------------------------------

    def view(self, columns: int) -> tuple[str, str, int]:
        """What the input row shows: prompt, the visible part of the line, cursor column."""
        if self.question:
            prompt = self.style.paint(self.question, render.BOLD)
        elif self.editor.searching is not None:
            prompt = f"(reverse-i-search '{self.editor.searching}') "
        else:
            who = self.style.name(self.me, bold=True) if self.me else ""
            status = self.style.paint(f"[{self.status}] ", render.YELLOW) if self.status else ""
            prompt = f"{status}{who}> "
        line, cursor = self.editor.view(columns - visible_width(prompt) - 1)
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
            self.submit(self.editor.take())
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
        if len(lines) <= PASTE_ASK_LINES or self.answer is not None:
            for line in lines:
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
            self.show(render.notice(f"Paste of {len(lines)} lines not sent.", self.style))
        self.term.redraw()

    async def ask(self, question: str) -> str:
        """Ask for one line (the name) in the input row; returns it stripped and non-empty."""
        while True:
            self.question = question
            self.answer = asyncio.get_running_loop().create_future()
            self.term.redraw()
            try:
                text = (await self.answer).strip()
            finally:
                self.answer = None
                self.question = ""
            if text:
                self.term.redraw()
                return text

    def submit(self, line: str) -> None:
        """A line typed (or pasted): the client's own commands, or off to the server."""
        if self.answer is not None:
            if not self.answer.done():
                self.answer.set_result(line)
                # The name is not chat history.
                if self.editor.history and self.editor.history[-1] == line:
                    self.editor.history.pop()
            return
        text = line.strip()
        if not text:
            return
        word, _, rest = text.partition(" ")
        word = word.lower()
        if word in ("/quit", "/exit", "/bye"):
            self.leave(0, rest.strip())
            return
        if word in ("/r", "/reply"):
            if not self.last_private:
                self.show(render.error("Nobody has sent you a private message yet.", self.style))
                return
            if not rest.strip():
                self.show(render.error("Usage: /r TEXT", self.style))
                return
            text = f"/w {self.last_private} {rest.strip()}"
        elif word in ("/help", "/?") and not self.registered:
            rows = [(s.usage, s.help) for s in COMMANDS]
            self.show(*self._help(tuple(rows)))
            return
        elif word in ("/mode", "/pass", "/pong"):
            self.show(
                render.error(f"{word} is not for people; this client handles it.", self.style)
            )
            return
        if self.link is None or not self.registered:
            # Keep what was typed, so it can be sent once we are back.
            self.show(render.error("Not connected: nothing was sent.", self.style))
            self.editor.set(line)
            self.term.redraw()
            return
        limit = self.link.welcome.max_line if self.link.welcome else 0
        if limit and len(text.encode("utf-8")) > limit:
            size = len(text.encode("utf-8"))
            self.show(
                render.error(
                    f"Too long to send ({size} bytes; the server takes {limit}). "
                    "Your line was kept.",
                    self.style,
                )
            )
            self.editor.set(line)
            self.term.redraw()
            return
        self.outbox.append(text)
        self.outbox_ready.set()

    async def _send_loop(self) -> None:
        """Send queued lines in order, no faster than the server's flood limits allow."""
        while True:
            await self.outbox_ready.wait()
            while self.outbox:
                await self.pacer.wait()
                if not self.outbox:
                    break
                line = self.outbox.popleft()
                link = self.link
                if link is None or not self.registered:
                    self.show(render.error(f"Not connected: not sent: {line}", self.style))
                    continue
                if is_message(line):
                    self.pending.append(line)
                link.send(line)
                try:
                    await link.drain()
                except (OSError, RuntimeError):
                    pass
            self.outbox_ready.clear()

    def leave(self, code: int, reason: str = "") -> None:
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
        if self.link is not None and self.registered:
            self.link.send(f"/quit {neutralise(reason)}".rstrip())
            loop.call_later(QUIT_WAIT_S, self._abort)
        else:
            self._abort()

    def _abort(self) -> None:
        if self.session is not None and not self.session.done():
            self.session.cancel()


def _refuses(error: ev.Error, line: str) -> bool:
    """Whether ``error`` answers the message ``line`` (rather than some other command)."""
    if error.code in ("no_such_user", "self_whisper"):
        return True
    return error.code == "usage" and line.startswith("/")


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
