"""Listening sockets that count a connection in before any work is done for it.

asyncio's own ``create_server`` calls the protocol only after the TLS handshake, so silent TLS
connections were held (about 256 KiB each in ``sslproto``) outside every connection limit, and at
the open-file limit its accept loop logged one traceback per failed ``accept()`` (tens of thousands
a second). Here the server accepts itself: each accepted socket is first counted in by the
``Gate`` (refused and closed at once if a limit is reached), then handed to the loop with
``connect_accepted_socket``, with a TLS handshake deadline of its own. A failed accept pauses the
listener for a moment and is logged once per interval with a count. Each loop turn accepts up to
``ACCEPT_BATCH`` connections, which keeps joins fast under uvloop (one accept per loop turn
there) without holding everyone else's lines back during a storm. A connection from a proxy of
``--proxy-from`` is counted in while its PROXY header is read (``proxied.py``), then admitted
under the address the header gives.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import socket
import ssl
import time
from typing import Callable, Protocol

from ..core.limits import (
    ACCEPT_BATCH,
    ACCEPT_ERROR_LOG_INTERVAL_S,
    ACCEPT_PAUSE_S,
)
from ..core.proxy import HEADER_MAX_BYTES, Proxies, ProxyHeaderError
from .admission import Tally, format_peer, refusal_line
from .logs import LOGGER_NAME
from .proxied import read_header

log = logging.getLogger(LOGGER_NAME)
# What a connection from a proxy's address is told when it does not begin with a PROXY header.
NO_HEADER = (
    "Connections from this address must begin with a PROXY protocol header "
    "(the server's --proxy-from): connect through the proxy."
)
# The order in which connections are admitted to their TLS handshakes, on every listener.
_ADMITTED = itertools.count()


class Gate(Protocol):
    """What a listener needs from the server for each accepted socket."""

    speaks_irc: bool  # its peers speak IRC: a refusal is an IRC ``ERROR`` line

    def admit_socket(
        self, sock: socket.socket, peer: object, tls: bool, proxy: bool = False
    ) -> str | None:
        """Count the connection from ``peer`` (as ``accept`` gave it) in; returns the origin it
        counts under, or None if it was refused (the gate has told the peer and logged it; the
        listener closes it). ``proxy``: ``peer`` is a proxy's, its PROXY header still to be read
        (only the total applies until then)."""

    def make_protocol(
        self, origin: str, tls: bool, peer: tuple[str, int] | None = None, via: str = ""
    ) -> asyncio.Protocol:
        """The protocol object for an admitted connection (``tls``: after its handshake;
        ``peer``: its client's address as a PROXY header gave it, None: the socket's; ``via``:
        the address of the proxy it came through, for the log)."""

    def header_read(self) -> None:
        """The PROXY header of a connection counted in with ``proxy`` is read, or failed."""

    def handshake_wait(self) -> bool:
        """Whether a TLS connection accepted now would find the handshakes at their cap with
        none to cut short for it, while some accepted this loop turn (on any listener) begin at
        the next and can be cut short then: it had better wait in the backlog a turn."""

    def abandon(self, protocol: asyncio.Protocol) -> None:
        """``protocol``'s connection failed before or while starting (a TLS handshake that
        failed or timed out, a peer already gone); give its place back unless the protocol
        started and will do so itself."""


class Listener:
    """Accepts on ``sock``, admits through ``gate``, and starts each admitted connection (with a
    TLS handshake of at most ``handshake_timeout`` seconds when ``context`` is set)."""

    def __init__(
        self,
        sock: socket.socket,
        gate: Gate,
        context: ssl.SSLContext | None,
        handshake_timeout: float,
        clock: Callable[[], float] = time.monotonic,
        proxies: Proxies | None = None,
    ) -> None:
        self.sock = sock
        self.tls = context is not None
        self._gate = gate
        self._context = context
        self._handshake_timeout = handshake_timeout
        self._clock = clock
        self._loop = asyncio.get_running_loop()
        # Connections still starting (for TLS: in their handshake), each with its protocol once
        # it is admitted, and when (its place among every listener's admissions); until then
        # (reading a PROXY header) it is never the one cut short for a TLS handshake.
        self._starting: dict[asyncio.Future[None], tuple[int, asyncio.Protocol] | None] = {}
        # Those not started yet, with their sockets: cancelled now, they would run none of their
        # code (neither give their place back nor close their socket).
        self._fresh: dict[asyncio.Future[None], socket.socket] = {}
        self._reading = False
        self._paused_until = 0.0
        self._errors = Tally(ACCEPT_ERROR_LOG_INTERVAL_S)
        self._proxies = proxies if proxies else None  # whose PROXY header is read first
        self._bad_headers = Tally(ACCEPT_ERROR_LOG_INTERVAL_S)
        self.resume()

    @property
    def sockets(self) -> list[socket.socket]:
        return [self.sock]

    def pause(self) -> None:
        """Stop accepting: new connections wait in the kernel's backlog."""
        if self._reading:
            self._loop.remove_reader(self.sock.fileno())
            self._reading = False

    def resume(self) -> None:
        """Accept again (unless closed, or pausing after a failed accept)."""
        if self._reading or self.sock.fileno() < 0 or self._clock() < self._paused_until:
            return
        self._loop.add_reader(self.sock.fileno(), self._accept)
        self._reading = True

    def _accept(self) -> None:
        for _ in range(ACCEPT_BATCH):  # the rest at the next turn: the loop stays responsive
            if self.tls and self._gate.handshake_wait():
                return  # the rest waits in the backlog for a turn
            try:
                conn, peer = self.sock.accept()
            except (BlockingIOError, InterruptedError, ConnectionAbortedError):
                return
            except OSError as exc:
                self._accept_failed(exc)
                return
            proxy = self._proxies is not None and self._proxies.trusted(peer)
            origin = self._gate.admit_socket(conn, peer, self.tls, proxy)
            if origin is None:
                conn.close()
            else:
                self._start(conn, peer, origin, proxy)
            if not self._reading:
                return  # the gate paused us: the rest waits in the backlog

    def _accept_failed(self, exc: OSError) -> None:
        """Out of files, memory or buffers: stop for a moment instead of failing in a loop."""
        skipped = self._errors.tick(self._clock())
        if skipped is not None:
            more = f" ({skipped} more since the last report)" if skipped else ""
            log.warning("cannot accept connections: %s; pausing%s", exc.strerror or exc, more)
        self.pause()
        self._paused_until = self._clock() + ACCEPT_PAUSE_S
        self._loop.call_later(ACCEPT_PAUSE_S, self.resume)

    def _start(self, conn: socket.socket, peer: object, origin: str, proxy: bool) -> None:
        conn.setblocking(False)
        task = asyncio.ensure_future(self._adopt(conn, peer, origin, proxy))
        self._starting[task] = None
        self._fresh[task] = conn
        task.add_done_callback(self._finished)

    def _finished(self, task: asyncio.Future[None]) -> None:
        self._starting.pop(task, None)
        self._fresh.pop(task, None)

    def oldest_handshake(self) -> tuple[int, asyncio.Future[None]] | None:
        """The connection here longest in its TLS handshake, with its place among the
        admissions of every listener (the gate cuts the oldest of all short); None if none."""
        if not self.tls:
            return None
        found = [(s[0], t) for t, s in self._starting.items() if s and _handshaking(t, s[1])]
        return min(found, key=lambda each: each[0]) if found else None

    def cut_short(self, task: asyncio.Future[None]) -> asyncio.Protocol:
        """Cut short the handshake that ``task`` (from ``oldest_handshake``) runs, to make room
        for a new one: its protocol, whose place the gate gives back at once. A real client
        finishes its handshake in milliseconds, so what is oldest is what is silent, and a flood
        of silent handshakes cannot keep a new client out."""
        started = self._starting.pop(task)
        assert started is not None
        task.cancel()
        return started[1]

    @property
    def in_handshake(self) -> bool:
        """Whether a connection is in its TLS handshake here (``oldest_handshake`` finds one)."""
        return self.tls and any(s and _handshaking(t, s[1]) for t, s in self._starting.items())

    @property
    def has_fresh(self) -> bool:
        """Whether TLS connections accepted this loop turn have not begun yet."""
        return self.tls and bool(self._fresh)

    async def _adopt(self, conn: socket.socket, peer: object, origin: str, proxy: bool) -> None:
        """Start the connection (``proxy``: its PROXY header to be read first, then admitted
        under the address it names)."""
        told, via = None, ""
        task = asyncio.current_task()
        if task is not None:
            self._fresh.pop(task, None)
        if proxy:
            unwrapped = await self._unwrap(conn, peer)
            if unwrapped is not None:
                told, via = unwrapped
            if self.tls and self._gate.handshake_wait():
                await asyncio.sleep(0)  # those accepted this turn begin: one can be cut short
            admitted = self._gate.admit_socket(conn, told, self.tls) if told else None
            if admitted is None:
                conn.close()
                return
            origin = admitted
        protocol = self._gate.make_protocol(origin, self.tls, told, via)
        if task in self._starting:  # admitted: in its TLS handshake from here on
            self._starting[task] = (next(_ADMITTED), protocol)
        try:
            if self._context is None:
                await self._loop.connect_accepted_socket(lambda: protocol, conn)
            else:
                await self._loop.connect_accepted_socket(
                    lambda: protocol,
                    conn,
                    ssl=self._context,
                    ssl_handshake_timeout=self._handshake_timeout,
                )
        except (OSError, ssl.SSLError, asyncio.TimeoutError, asyncio.CancelledError) as exc:
            # A handshake that failed, timed out or was cut short by the shutdown, or a peer
            # already gone. Logged under the client's address, so its log budget applies.
            self._gate.abandon(protocol)
            if self._context is not None and not isinstance(exc, asyncio.CancelledError):
                why = str(exc) or type(exc).__name__
                # A proxy's own connection (its health check) closes before any handshake.
                level = logging.DEBUG if proxy and not via else logging.WARNING
                where = format_peer(told or peer)
                log.log(level, "[%s] TLS handshake failed: %s", where, why, extra={"ip": origin})
            conn.close()

    async def _unwrap(
        self, conn: socket.socket, proxy: object
    ) -> tuple[tuple[str, int], str] | None:
        """The client's address from the PROXY header on ``conn`` and the proxy's (for the log),
        or the proxy's address and "" for a header without one (a health check); None, logged,
        if there was no good header in time."""
        try:
            told = await asyncio.wait_for(read_header(conn), self._handshake_timeout)
        except (OSError, ProxyHeaderError, asyncio.TimeoutError) as exc:
            self._no_header(conn, proxy, exc)
            return None
        except asyncio.CancelledError:  # the server is stopping
            return None
        finally:
            self._gate.header_read()
        if not isinstance(proxy, tuple):
            return None
        own = (str(proxy[0]), int(proxy[1]))
        if told is None or told == own:  # HAProxy's v1 health checks name the proxy itself
            if _closed_by_peer(conn):
                # A health check the proxy gave up on (no greeting within its timeout) while
                # this server stood still waited in the kernel's backlog with every later one:
                # served now, they would all count at once under the proxy's address.
                log.debug(
                    "[%s] closed: the proxy's own connection (a health check) was closed by the "
                    "proxy before it was served",
                    format_peer(proxy),
                )
                return None
            return own, ""
        return told, format_peer(proxy)

    def _no_header(self, conn: socket.socket, proxy: object, exc: Exception) -> None:
        """``conn``, from ``proxy``'s address, sent no good PROXY header (``exc`` says how): it
        is told why, if it can be, and that is logged (one line per interval, with a count)."""
        if isinstance(exc, (ProxyHeaderError, asyncio.TimeoutError)) and not self.tls:
            # Someone on the proxy's machine, or a proxy without send-proxy.
            with contextlib.suppress(OSError):
                conn.send(refusal_line(NO_HEADER, self._gate.speaks_irc))
                # What was only peeked at: closed unread, the peer would get a reset, which may
                # cost it the line.
                conn.recv(HEADER_MAX_BYTES)
        skipped = self._bad_headers.tick(self._clock())
        if skipped is not None:
            why = "none in time" if isinstance(exc, asyncio.TimeoutError) else exc
            more = f" ({skipped} more since the last report)" if skipped else ""
            log.warning(
                "[%s] closed: no PROXY header (--proxy-from): %s%s", format_peer(proxy), why, more
            )

    def close(self) -> None:
        """Stop listening and cut short the connections still starting (the sockets of those
        not started yet are closed here: they would not close them themselves)."""
        self.pause()
        if self.sock.fileno() >= 0:
            self.sock.close()
        for conn in self._fresh.values():
            conn.close()
        for task, started in self._starting.items():
            # One whose handshake ended is a session, which the server's stop ends. Cancelled
            # now, uvloop would close its transport without telling the protocol.
            if started is None:
                task.cancel()
            elif _handshaking(task, started[1]):
                # Given back now: should its handshake end in this very turn, its connection is
                # closed as it is made, not a session the stop has already gone past.
                self._gate.abandon(started[1])
                task.cancel()

    async def wait_closed(self) -> None:
        if self._starting:
            await asyncio.gather(*self._starting, return_exceptions=True)


def _closed_by_peer(sock: socket.socket) -> bool:
    """Whether the peer of ``sock`` (non-blocking) has closed it already: reset (as HAProxy
    ends its health checks, also one that got no answer within its ``timeout check``), or
    ended with nothing left to read. A check that still waits for its answer is neither."""
    try:
        if sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR):
            return True
        return sock.recv(1, socket.MSG_PEEK) == b""
    except (BlockingIOError, InterruptedError):
        return False
    except OSError:
        return True


def _handshaking(task: asyncio.Future[None], protocol: asyncio.Protocol | None) -> bool:
    """Whether the connection ``task`` starts is in its TLS handshake: admitted (its protocol
    made), not done, and not connected yet (a handshake that ended this very loop turn has had
    its ``connection_made``, which set the protocol's transport, before the task resumes)."""
    return protocol is not None and not task.done() and getattr(protocol, "transport", None) is None
