"""The client's connection to a server: connect, number the lines sent, read events, handshake.

``ServerLink`` speaks the JSON mode of the protocol over asyncio streams, numbers every line it
sends as the server counts them (so an answer's ``line`` names one), and hands back typed events
(``wire.parse_event``); ``join`` does the handshake up to the ``registered`` event; ``Pacer``
keeps a script under the server's flood limits; ``probe`` is the health check. Pipe mode
(``pipe.py``) and the interactive terminal client (``ui.py``) are both built on these.

The link watches the server (``liveness.Liveness``, ``--server-timeout``) with a timer of the
event loop: it pings a server that has been silent for a while, tells ``on_stall`` when a line
has long awaited its confirmation, and ends the connection (``receive`` returns None,
``silent`` says why) when no answer comes either, so every caller treats a hung server as
one that closed.
"""

from __future__ import annotations

import asyncio
import errno
import os
import socket
import ssl
import time
from collections.abc import AsyncIterator, Awaitable
from typing import Callable

from ..core import codes
from ..core import events as ev
from ..core.errors import ConnectError
from ..core.flood import line_cost, refilled
from ..core.limits import (
    CLIENT_READ_LIMIT_BYTES,
    CLOSE_WAIT_S,
    FLOOD_BURST,
    FLOOD_RATE_PER_S,
    GREETING_WAIT_S,
    HANDSHAKE_WAIT_S,
    PACER_HEADROOM_LINES,
)
from ..core.wire import parse_event
from .config import ClientConfig
from .core import GREETED, REFUSED, greeting_kind
from .liveness import Dead, Liveness, Ping, Stalled

# Asks a person for the server password; its argument is why it is asked again ("" the first
# time), the server's own words.
PasswordAsker = Callable[[str], Awaitable[str]]

# How much of a foreign server's first words the one-line message quotes.
GREETING_QUOTE_CHARS = 60


def address(host: str, port: int) -> str:
    """``host:port`` as people write it: an IPv6 address in brackets (``[::1]:54321``)."""
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


class NameRefused(ConnectError):
    """The server refused the name; ``event`` says why."""

    def __init__(self, event: ev.Error) -> None:
        super().__init__(event.text)
        self.event = event


class ServerLink:
    """One connection to a tcp-chat server in JSON mode.

    ``open`` connects; ``send`` queues a line and returns its number; ``receive`` returns the next
    event, or None when the connection is closed. ``raw`` keeps the last JSON line read, for
    ``--json`` output.
    """

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer
        self.raw = b""
        self.welcome: ev.Welcome | None = None
        # Lines sent, every one counted as the server counts them (docs/PROTOCOL.md section 5):
        # the number of the last one is what an answer to it names in ``line``. The handshake's
        # lines count against the flood limit too.
        self.sent = 0
        # What all those lines cost of the server's flood budget (``flood.line_cost``).
        self.spent = 0.0
        # The watch on the server while ``receive`` waits (None: no watch).
        self.live: Liveness | None = None
        # Called when a line has long awaited its confirmation (``awaiting`` counts them).
        self.on_stall: Callable[[], None] | None = None
        # Seconds the server had been silent when the watch gave up on it (0: it did not).
        self.silent = 0.0
        self._timer: asyncio.TimerHandle | None = None  # when the watch looks next
        self._reading = False  # a receive waits for a line: only then does the watch look

    @classmethod
    async def open(cls, config: ClientConfig, known: bool = False) -> ServerLink:
        """Connect and switch to JSON mode. Raises ConnectError with a one-line reason.
        ``known``: this address spoke tcp-chat to us before (a reconnect), so a silence there is
        a server not answering, not a port of another kind."""
        context = _tls_context(config) if config.tls else None
        try:
            reader, writer = await asyncio.wait_for(
                asyncio.open_connection(
                    config.host, config.port, ssl=context, limit=CLIENT_READ_LIMIT_BYTES
                ),
                HANDSHAKE_WAIT_S,
            )
        except asyncio.TimeoutError:
            raise ConnectError(
                f"cannot connect to {address(config.host, config.port)}: timed out"
            ) from None
        except ssl.SSLError as exc:
            where = address(config.host, config.port)
            why = exc.reason or exc
            # Not a certificate refused: the other end may not speak TLS at all (its reason then
            # depends on the OpenSSL: WRONG_VERSION_NUMBER, record layer failure, ...).
            plain = not isinstance(exc, ssl.SSLCertVerificationError)
            hint = " (a plain port? leave out --tls)" if plain else ""
            raise ConnectError(f"TLS handshake with {where} failed: {why}{hint}") from None
        except OSError as exc:
            raise ConnectError(
                f"cannot connect to {address(config.host, config.port)}: {connect_failure(exc)}"
            ) from None
        link = cls(reader, writer)
        try:
            await link._greeted(f"{address(config.host, config.port)}", known)
        except BaseException:
            await link.close()
            raise
        link.send("/mode json")
        if config.server_timeout > 0:
            link.live = Liveness(config.server_timeout, time.monotonic())
        return link

    async def _greeted(self, where: str, known: bool = False) -> None:
        """Read the server's first line and check it is a tcp-chat 2 greeting, before anything
        is sent: another server (the 1.0 one takes the first line it gets as a user's name and
        shows it to everyone) must not see a byte from us. Raises ConnectError saying what the
        server said instead."""
        said = b""
        closed = False
        try:
            said = await asyncio.wait_for(self.reader.readuntil(b"\n"), GREETING_WAIT_S)
        except asyncio.TimeoutError:
            # Whatever came without a line end (the 1.0 server's prompt has none) is still in
            # the buffer: read it, without waiting, for the message.
            try:
                said = await asyncio.wait_for(self.reader.read(GREETING_QUOTE_CHARS * 4), 0.01)
            except (asyncio.TimeoutError, OSError):
                said = b""
        except asyncio.IncompleteReadError as exc:
            said, closed = exc.partial, True
        except (OSError, asyncio.LimitOverrunError, ValueError):
            said, closed = b"", True
        text = said.decode("utf-8", "replace").strip()
        kind = greeting_kind(text)
        if kind == GREETED:
            return
        if kind == REFUSED:
            raise ConnectError(f"{where} refused the connection: {text[4:]}")
        if not text:
            if closed:
                raise ConnectError(f"{where} closed the connection without a word")
            # A TLS port waits for our handshake, an IRC port for our NICK; a hung server
            # (stopped, overloaded) accepts the connection and says nothing either.
            if known:
                raise ConnectError(
                    f"{where} said nothing within {GREETING_WAIT_S:g} s: the "
                    "server is not answering"
                )
            raise ConnectError(
                f"{where} said nothing within {GREETING_WAIT_S:g} s: a TLS port needs --tls "
                "(and an IRC port an IRC client), or the server is not answering"
            )
        quote = text if len(text) <= GREETING_QUOTE_CHARS else text[:GREETING_QUOTE_CHARS] + "..."
        raise ConnectError(f"{where} does not speak tcp-chat 2 (it said: {quote!r})")

    def send(self, line: str) -> int:
        """Queue ``line`` (one line: the caller never passes a newline) and return its number on
        this connection, which a ``delivered`` or ``error`` answering it names. Call ``drain``
        after a batch."""
        self.sent += 1
        self.spent += line_cost(line)
        self.writer.write(line.encode("utf-8") + b"\n")
        return self.sent

    async def drain(self) -> None:
        await self.writer.drain()

    def awaiting(self, count: int) -> None:
        """``count`` lines sent on this link await their confirmation (``ClientCore.pending``):
        tell the watch, after sending one and after each answer."""
        if self.live is not None:
            self.live.awaiting(count, time.monotonic())
            self._watch()  # the notice may now be due sooner than the timer

    async def receive(self) -> ev.Event | None:
        """The next event; JSON lines of unknown types are skipped, text lines too (the first
        lines come in text mode, before the server saw our ``/mode json``). Pings are answered
        here and not returned, so every caller stays alive by reading; the answers to our own
        pings are not returned either. None: the connection is closed, or the server stopped
        answering (``silent``)."""
        while True:
            self._reading = True
            if self._timer is None:
                self._watch()
            try:
                line = await self.reader.readline()
            except (OSError, ValueError, asyncio.IncompleteReadError):
                return None
            finally:
                self._reading = False
            if not line:
                return None
            if self.live is not None:
                self.live.heard(time.monotonic())
            if not line.startswith(b"{"):
                continue
            event = parse_event(line)
            if event is None:
                continue
            if isinstance(event, ev.PingRequest):
                self.send(f"/pong {event.token}")
                continue
            if isinstance(event, ev.PongReply) and self.live and self.live.ours(event.token):
                continue
            self.raw = line
            if isinstance(event, ev.Welcome):
                self.welcome = event
            return event

    def _watch(self) -> None:
        """Set the timer for when the watch has something to do next, while a ``receive``
        waits (what nobody reads yet is not the server's silence). A line heard only puts that
        later, so the timer is set again only when it fires, when a ``receive`` finds none set,
        or when a line sent makes the "waiting" notice due sooner."""
        if self.live is None or not self._reading or self.writer.transport.is_closing():
            return
        if self._timer is not None:
            self._timer.cancel()
        delay = max(self.live.due() - time.monotonic(), 0.0)
        self._timer = asyncio.get_running_loop().call_later(delay, self._look)

    def _look(self) -> None:
        """The timer: ping, tell ``on_stall``, or give up on the server (the connection is
        aborted, so the read under way ends and ``receive`` returns None)."""
        self._timer = None
        if self.live is None or not self._reading:
            return  # set again by the next receive
        for action in self.live.check(time.monotonic()):
            if isinstance(action, Ping):
                self.send(f"/ping {action.token}")
            elif isinstance(action, Stalled) and self.on_stall is not None:
                self.on_stall()
            elif isinstance(action, Dead):
                self.silent = action.silent
                self.writer.transport.abort()  # what waits to be sent would hold the socket
                return
        self._watch()

    async def close(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        self.writer.close()
        try:
            await asyncio.wait_for(self.writer.wait_closed(), CLOSE_WAIT_S)
        except (OSError, asyncio.TimeoutError, ssl.SSLError):
            pass


def connect_failure(exc: OSError) -> str:
    """Why a connection failed, in a few words a person understands."""
    if isinstance(exc, socket.gaierror):
        return "unknown host"
    if isinstance(exc, ConnectionRefusedError):
        return "connection refused (is the server running?)"
    found = {getattr(e, "errno", None) for e in _causes(exc)}
    if found == {errno.ECONNREFUSED}:
        return "connection refused (is the server running?)"
    if exc.errno is not None:
        return os.strerror(exc.errno).lower()
    return str(exc) or type(exc).__name__


def _causes(exc: OSError) -> list[BaseException]:
    """asyncio reports every address it tried (IPv6 and IPv4) as one 'Multiple exceptions'."""
    found: list[BaseException] = []
    for arg in exc.args:
        if isinstance(arg, BaseException):
            found.append(arg)
    return found or [exc]


async def join(
    link: ServerLink,
    name: str,
    password: str = "",
    prompted: bool = False,
    ask: PasswordAsker | None = None,
) -> ev.Registered:
    """Answer the prompts with ``password`` and ``name`` until registered.

    ``prompted``: the caller already read the name prompt, so the name goes out at once.
    ``ask``: how to ask a person for the password when ``password`` is empty or wrong.
    Raises NameRefused if the server answers the name's line with an error, whatever its code
    (the caller may ask for another and call again with ``prompted=True``), ConnectError if the
    server closes or stops answering.
    """
    name_line = link.send(f"/nick {name}") if prompted else 0
    async for event in _handshake(link, password, ask):
        if isinstance(event, ev.Registered):
            return event
        if isinstance(event, ev.Prompt) and event.field == "name" and not name_line:
            name_line = link.send(f"/nick {name}")
        elif isinstance(event, ev.Error) and name_line and event.line == name_line:
            raise NameRefused(event)
    raise ConnectError("the server closed the connection")


async def await_name_prompt(
    link: ServerLink, password: str = "", ask: PasswordAsker | None = None
) -> None:
    """Read the start of a session up to the name prompt (answering a password prompt), so
    the caller can show the welcome (``link.welcome``) and ask for a name before ``join``
    (with ``prompted=True``). Raises ConnectError like ``join``."""
    async for event in _handshake(link, password, ask):
        if isinstance(event, ev.Prompt) and event.field == "name":
            return
    raise ConnectError("the server closed the connection")


async def _handshake(
    link: ServerLink, password: str, ask: PasswordAsker | None = None
) -> AsyncIterator[ev.Event]:
    """The events before registration, with the password prompt answered here (from
    ``password``, else from ``ask``, again after a wrong one as long as the server asks); ends
    in ConnectError when the server refuses, closes or stops answering."""
    deadline = time.monotonic() + HANDSHAKE_WAIT_S
    why = ""  # the server's reason to ask for the password again
    while True:
        left = deadline - time.monotonic()
        try:
            event = await asyncio.wait_for(link.receive(), max(left, 0.01))
        except asyncio.TimeoutError:
            raise ConnectError("the server did not answer the handshake") from None
        if event is None:
            raise ConnectError("the server closed the connection")
        if isinstance(event, ev.Prompt) and event.field == "password":
            if ask is not None and (why or not password):
                password = await ask(why)
                # A person took their time: the server's own deadline is what counts now.
                deadline = time.monotonic() + HANDSHAKE_WAIT_S
            elif not password:
                raise ConnectError(
                    "the server wants a password (--password-file or TCPCHAT_PASSWORD)"
                )
            link.send(f"/pass {password}")
        elif isinstance(event, ev.Error) and event.code == codes.BAD_PASSWORD:
            if ask is None:
                raise ConnectError("wrong password")
            why = event.text
        elif isinstance(event, (ev.Bye, ev.Shutdown)):
            raise ConnectError(event.text)
        else:
            yield event


def read_password(config: ClientConfig) -> str:
    """The server password: the first line of ``--password-file``, else ``TCPCHAT_PASSWORD``."""
    if not config.password_file:
        return os.environ.get("TCPCHAT_PASSWORD", "")
    try:
        with open(config.password_file, encoding="utf-8") as f:
            return f.readline().rstrip("\r\n")
    except OSError as exc:
        raise ConnectError(
            f"cannot read password file {config.password_file}: {exc.strerror}"
        ) from None


def _tls_context(config: ClientConfig) -> ssl.SSLContext:
    context = ssl.create_default_context(cafile=config.tls_ca or None)
    if config.tls_insecure:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    return context


class Pacer:
    """A token bucket matching the server's flood limits, so a script never gets rate_limited:
    each line is charged what the server charges for it (``flood.line_cost``), by the server's
    own refill rule. Call ``wait(line)`` just before sending each line, the client's own
    ``/quit`` too."""

    def __init__(self, burst: float, rate: float, now: float | None = None) -> None:
        self.burst = max(1.0, burst - PACER_HEADROOM_LINES)
        self.rate = rate
        self.tokens = self.burst
        self.at = time.monotonic() if now is None else now

    @classmethod
    def default(cls) -> Pacer:
        """A pacer for the default flood limits, until the server's welcome says its own."""
        return cls(FLOOD_BURST, FLOOD_RATE_PER_S)

    @classmethod
    def for_link(cls, link: ServerLink) -> Pacer:
        """A pacer for the server's limits (from its welcome), counting what the lines the
        handshake sent already cost."""
        welcome = link.welcome
        pacer = cls(welcome.flood_burst, welcome.flood_rate) if welcome else cls.default()
        pacer.tokens = max(0.0, pacer.burst - link.spent)
        return pacer

    def take(self, line: str, now: float) -> float:
        """Charge ``line``, to be sent at ``now`` or later; returns how many seconds to wait
        before sending it (0: at once). Sans I/O: ``wait`` sleeps for it."""
        cost = line_cost(line)
        self.tokens = refilled(self.tokens, self.at, now, self.burst, self.rate)
        self.at = now
        # Below zero the bucket is in debt: the line goes once the refill has paid it back.
        self.tokens -= cost
        return max(0.0, -self.tokens / self.rate)

    async def wait(self, line: str) -> None:
        """Wait until the server will take ``line`` without refusing it for flooding."""
        delay = self.take(line, time.monotonic())
        if delay > 0:
            await asyncio.sleep(delay)


async def probe(config: ClientConfig) -> int:
    """Health check: connect, ping, expect pong. Never joins, so nobody sees it."""
    link = await ServerLink.open(config)
    link.send("/ping probe")
    try:
        while True:
            event = await asyncio.wait_for(link.receive(), HANDSHAKE_WAIT_S)
            if event is None:
                return 1
            if isinstance(event, ev.PongReply):
                link.send("/quit")
                return 0
    except asyncio.TimeoutError:
        return 1
    finally:
        await link.close()
