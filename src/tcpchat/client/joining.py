"""Getting into the chat, for the terminal client (``ui.ChatApp``): the password and name
prompts, a server that goes away while a name is being chosen, and reconnecting with backoff.

While the name prompt waits for a person, the connection is watched: a server that stops or
dies there is told at once, not when Enter is pressed. The name typed then goes out on a new
connection, tried at once and then (unless ``--no-reconnect``) 1, 2, 4 ... 30 s apart. A server
that only stopped waiting for a name (its ``--handshake-timeout``) is not worth a word: the
name goes out on a new connection all the same.
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import Awaitable
from typing import Callable, TypeVar

from ..core import codes
from ..core import events as ev
from ..core.errors import ConnectError
from ..core.limits import BACKOFF_FIRST_S, BACKOFF_MAX_S
from . import render
from .config import ClientConfig
from .core import ClientCore, Leave, LocalHelp, UseName
from .link import NameRefused, ServerLink, address, await_name_prompt, join, read_password

T = TypeVar("T")


def sentence(exc: ConnectError) -> str:
    """A connection failure as a sentence among the chat's lines: capitalised."""
    text = str(exc)
    return text[:1].upper() + text[1:]


class Joining:
    """The prompts before the chat, and reconnecting; ``ChatApp`` supplies the screen."""

    config: ClientConfig
    style: render.Style
    core: ClientCore
    link: ServerLink | None
    password: str
    welcomed: bool

    def show(self, *lines: str | None) -> None:
        raise NotImplementedError

    async def ask(self, question: str, secret: bool = False) -> str:
        raise NotImplementedError

    def leave(self, code: int, quit_line: str = "/quit") -> None:
        raise NotImplementedError

    def _help(self, server: tuple[tuple[str, str], ...]) -> list[str]:
        raise NotImplementedError

    def _set_status(self, status: str) -> None:
        raise NotImplementedError

    # --- the first join ----------------------------------------------------------------

    async def _first_join(self, link: ServerLink) -> tuple[ServerLink, ev.Registered]:
        self.password = read_password(self.config)
        name = self.config.name
        prompted = False
        if not name:
            await await_name_prompt(link, self.password, self._ask_password)
            prompted = True
        while True:
            self._welcome(link)
            if not name:
                name = await self._ask_name_on(link)
            try:
                registered = await join(
                    link, name, self.password, prompted=prompted, ask=self._ask_password
                )
                self._welcome(link)
                return link, registered
            except NameRefused as exc:
                # The server awaits a name again (whether or not it prompts again, which it
                # does not after a usage error): the next one goes out as soon as it is typed.
                self._welcome(link)
                self.show(render.error(exc.event.text, self.style))
                name, prompted = "", True
            except ConnectError:
                if not prompted:
                    raise
                # The server closed while a name was chosen: the name goes to a new connection.
                await link.close()
                link = self.link = await self._open_again()
                prompted = False

    async def _ask_name_on(self, link: ServerLink) -> str:
        """Ask for a name while watching ``link``, so that a server gone meanwhile is told."""
        watch = asyncio.ensure_future(self._watch_name_prompt(link))
        try:
            return await self._ask_name()
        finally:
            watch.cancel()
            await asyncio.gather(watch, return_exceptions=True)

    async def _watch_name_prompt(self, link: ServerLink) -> None:
        """Read ``link`` while the name prompt waits (nothing comes there but the end of the
        connection); say at once why it ended, unless the server only stopped waiting."""
        event = await link.receive()
        while event is not None and not isinstance(event, (ev.Bye, ev.Shutdown)):
            event = await link.receive()
        if isinstance(event, ev.Bye) and event.reason == codes.TIMED_OUT:  # no name in time
            return
        where = address(self.config.host, self.config.port)
        said = f" ({event.text.rstrip('.')})" if event is not None else ""
        if not self.config.reconnect:  # as after a session: 0 when the server said it stops
            self.show(render.notice(f"Disconnected from {where}{said}.", self.style))
            self.leave(0 if isinstance(event, ev.Shutdown) else 1)
            return
        self.show(
            render.notice(
                f"Connection to {where} lost{said}. Type your name to connect again "
                "(Ctrl+C to quit).",
                self.style,
                sgr=render.YELLOW,
            )
        )

    async def _ask_name(self) -> str:
        """Ask for a name until one is typed; ``/help`` and ``/quit`` work here too."""
        while True:
            todo = self.core.named(await self.ask("Your name: "))
            if isinstance(todo, UseName):
                return todo.name
            if isinstance(todo, Leave):
                self.leave(0)
                # leave() cancels this session: the next wait ends it.
                await asyncio.sleep(0)
            elif isinstance(todo, LocalHelp):
                self.show(*self._help(todo.rows))
            else:
                self.show(render.error(todo.reason, self.style))

    async def _ask_password(self, why: str) -> str:
        """Ask for the server password without showing what is typed; ``why`` (the server's
        words after a wrong one) is shown first."""
        if why:
            self.show(render.error(why, self.style))
        if self.link is not None:
            self._welcome(self.link)
        self.password = await self.ask("Password: ", secret=True)
        return self.password

    def _welcome(self, link: ServerLink) -> None:
        """The server's welcome, once per run, as soon as it has arrived."""
        if link.welcome is not None and not self.welcomed:
            self.welcomed = True
            self.show(render.render_event(link.welcome, self.core.me, self.style))

    async def _open_again(self) -> ServerLink:
        """A new connection for a name typed after the server closed: at once, then with
        backoff (unless ``--no-reconnect``: the failure ends the client)."""
        try:
            return await ServerLink.open(self.config, known=True)
        except ConnectError as exc:
            if not self.config.reconnect:
                raise
            self._failed(exc, BACKOFF_FIRST_S)
        link = await self._retry(lambda: ServerLink.open(self.config, True), BACKOFF_FIRST_S)
        where = address(self.config.host, self.config.port)
        self.show(render.notice(f"Connected to {where}.", self.style, sgr=render.GREEN))
        return link

    # --- reconnecting ------------------------------------------------------------------

    async def _reconnect(self, why: str = "") -> tuple[ServerLink, ev.Registered]:
        """Try again and again, 1, 2, 4 ... 30 s apart, until back in under the same name.
        ``why``: a sentence that says why the connection ended, if not by the server."""
        where = address(self.config.host, self.config.port)
        lost = why or f"Connection to {where} lost."
        self.show(
            render.notice(
                f"{lost} Reconnecting in {BACKOFF_FIRST_S:.0f} s (Ctrl+C to quit).",
                self.style,
                sgr=render.YELLOW,
            )
        )
        back = await self._retry(self._rejoin, BACKOFF_FIRST_S)
        self.show(render.notice(f"Reconnected to {where}.", self.style, sgr=render.GREEN))
        return back

    async def _rejoin(self) -> tuple[ServerLink, ev.Registered]:
        """One try to connect and join under the name we had."""
        link = await ServerLink.open(self.config, known=True)
        try:
            return link, await join(link, self.core.me, self.password)
        except NameRefused as exc:
            await link.close()
            why = f"{exc.event.text.rstrip('.')} (the server may still hold the old connection)"
            raise ConnectError(why) from None
        except ConnectError:
            await link.close()
            raise

    async def _retry(self, attempt: Callable[[], Awaitable[T]], delay: float) -> T:
        """``attempt`` after ``delay`` seconds, then twice as long each time up to
        ``BACKOFF_MAX_S``, until it does not raise ConnectError; each failure is told."""
        while True:
            await self._count_down(delay)
            self._set_status("reconnecting")
            delay = min(delay * 2, BACKOFF_MAX_S)
            try:
                done = await attempt()
            except ConnectError as exc:
                self._failed(exc, delay)
            else:
                self._set_status("")
                return done

    def _failed(self, exc: ConnectError, delay: float) -> None:
        self.show(
            render.notice(f"{sentence(exc).rstrip('.')}. Next try in {delay:.0f} s.", self.style)
        )

    async def _count_down(self, delay: float) -> None:
        """Wait ``delay`` seconds, the status saying how many are left, second by second."""
        end = asyncio.get_running_loop().time() + delay
        while True:
            left = end - asyncio.get_running_loop().time()
            if left <= 0:
                return
            self._set_status(f"reconnecting in {math.ceil(left)} s")
            # Wake at the next whole second left, so the count changes as a clock's does.
            await asyncio.sleep(left - math.ceil(left) + 1 if left % 1 else 1.0)
