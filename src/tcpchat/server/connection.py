"""One client socket: bytes in to the hub, the outbox out to the socket, and its timers.

Each connection is an ``asyncio.Protocol``. Bytes read go through the ``LineDecoder`` and
``parse_line`` to the hub, and what the hub answers goes to the server's ``route``. Lines for the
client wait in its ``Outbox`` and go to the transport only while the transport is willing
(asyncio's flow control: above ``max_outbox`` bytes the kernel would not take it calls
``pause_writing``). A client whose transport stays paused for ``SEND_STALL_S`` is not reading and
is dropped; a client that reads is never dropped for a burst the server itself queued.

Bytes read pass the connection's ``TelnetFilter`` before the decoder: its answers to telnet go
out through the outbox as they are. Until a connection sends a line end, its ``LegacyWatch`` may
ask for a silence timer, which turns a 1.0 client's connection to legacy mode (each read is a line,
what is written is made ASCII).
"""

from __future__ import annotations

import asyncio
import logging
import socket
import time
from typing import Callable, Protocol, cast

from ..core import codes
from ..core.codes import TEXT, UNTRUSTED_PROXY, is_irc
from ..core.commands import BadLine, Quit
from ..core.events import Event
from ..core.framing import Frame, LineDecoder, Neutralised
from ..core.hub import Hub
from ..core.legacy import LegacyWatch, ascii_safe_bytes
from ..core.limits import (
    LEGACY_SILENCE_S,
    SEND_STALL_S,
    SOCKET_SNDBUF_BYTES,
    TCP_KEEPCNT,
    TCP_KEEPIDLE_S,
    TCP_KEEPINTVL_S,
)
from ..core.output import Out, ToSessions
from ..core.parse import parse_line
from ..core.proxy import begins_with_header
from ..core.session import Session, State
from ..core.telnet import TelnetFilter
from .admission import Admission, format_peer, origin_of, refusal_line
from .config import ServerConfig
from .fanout import Broadcasts
from .held import Held, HoldsLines
from .journal import Visit
from .logs import LOGGER_NAME, SessionLog, received
from .outbox import Outbox, Phase

log = logging.getLogger(LOGGER_NAME)
# The origin of a connection whose place was given back before it was made (cut short for
# another's TLS handshake, gate.py): if its handshake ended in that same loop turn after all, it
# is closed at once, not counted in again.
GIVEN_BACK = ""


class Host(Protocol):
    """What a connection needs from the server that owns it (``app.ChatServer``)."""

    config: ServerConfig
    hub: Hub
    admission: Admission
    broadcasts: Broadcasts
    connections: set[Connection]
    burst_cap: int
    hard_cap: int

    def route(self, out: Out) -> None: ...
    def after_route(self, action: Callable[[], None]) -> None: ...
    def mark_dirty(self, conn: Connection) -> None: ...
    def forget(self, conn: Connection) -> None: ...
    def penalise(self, origin: str) -> None: ...
    def journal(self, conn: Connection, out: Out, command: object = None) -> None: ...


# A run of telnet commands with no line between, as the hub takes it (``core/telnet.py``).
_TELNET_FLOOD = BadLine(codes.TELNET_FLOOD)


class Connection(HoldsLines, asyncio.Protocol):
    """One client socket and its session."""

    MODE = TEXT  # what its session reads until it asks for another (``/mode``)
    server: Host

    __slots__ = (
        "server",
        "transport",
        "session",
        "decoder",
        "origin",
        "tls",
        "peer",
        "via",
        "fresh",
        "log",
        "outbox",
        "ending",
        "dropped",
        "left",
        "stall",
        "telnet",
        "legacy",
        "silence",
        "visit",
    )

    def __init__(
        self,
        server: Host,
        origin: str | None = None,
        tls: bool = False,
        peer: tuple[str, int] | None = None,
        via: str = "",
    ) -> None:
        self.server = server
        self.peer = peer  # the client's address as its proxy's header gave it; None: the socket's
        self.via = via  # the proxy's address, if it came through one
        self.transport: asyncio.Transport | None = None
        self.session: Session | None = None
        self.decoder = LineDecoder(server.config.max_line)
        self.origin = origin  # counted in by the listener; None: not counted yet; or GIVEN_BACK
        self.tls = tls  # it began with a TLS handshake, counted in by the listener too
        self.log: logging.LoggerAdapter = log  # type: ignore[type-arg, assignment]
        self.outbox = Outbox()
        self.ending = ""  # why it closes after its last words (quit, timeout, shutdown)
        self.dropped = ""  # why it was dropped, discarding what was queued
        self.left = False  # the hub has been told this session is gone
        self.stall: asyncio.TimerHandle | None = None
        self.telnet = TelnetFilter()
        self.legacy = LegacyWatch(server.config.legacy)
        self.silence: asyncio.TimerHandle | None = None  # the 1.0 client's signature, awaited
        self.visit = Visit(self.log, 0)  # replaced when the connection is made
        self.held: Held | None = None  # lines that wait for the cluster (``_hold``)
        self.patient = True  # False once a wait ran out: lines are then read as they come
        self.fresh = True  # nothing read yet (``proxy_header``)

    # --- asyncio callbacks -------------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's transports are not asyncio.Transport subclasses but offer the same methods.
        transport = cast(asyncio.Transport, transport)
        if self.origin == GIVEN_BACK:  # cut short in its handshake, which ended the same turn
            transport.abort()
            return
        self.transport = transport
        server = self.server
        peer = self.peer or transport.get_extra_info("peername")
        address = format_peer(peer)
        if self.origin is None:  # not accepted by our listener (tests): count it in now
            self.origin = origin_of(str(peer[0]) if peer else "?", server.config.ipv6_prefix)
            server.admission.enter(self.origin)
        server.connections.add(self)
        if self.tls:
            server.admission.handshake_over()
        _tune_socket(transport.get_extra_info("socket"))
        transport.set_write_buffer_limits(high=server.config.max_outbox)
        session, out = server.hub.connect(address, time.time(), self.origin, self.MODE)
        session.link = self
        self.session = session
        self.log = SessionLog(log, {"sid": session.id, "peer": address, "ip": self.origin})
        self.visit = Visit(self.log, len(server.connections), self.via)
        server.route(out)

    def data_received(self, data: bytes) -> None:
        if not self.outbox.open or (self.fresh and self.proxy_header(data)):
            return
        telnet = self.telnet
        clean = telnet.feed(data)
        if telnet.pending:
            replies, discard = telnet.take()
            if replies:
                self.send(replies)  # raw telnet, in order with the lines before it
            if discard:
                self.decoder.discard()
        if telnet.floods and not self._telnet_floods():
            return
        legacy = self.legacy
        if legacy.legacy:
            # A 1.0 client: each read is one line (it sends one per typed line, with no end).
            if clean and not clean.endswith(b"\n"):
                clean += b"\n"
        elif legacy.watching:
            frames = self.decoder.feed(clean)
            self._watch(b"\n" in clean)
            self._take(frames)
            return
        self._take(self.decoder.feed(clean))

    def _telnet_floods(self) -> bool:
        """Runs of telnet commands with no line between: each is a bad line (they end the
        session as over-long lines do). False if the session ended."""
        server, session, telnet = self.server, self.session, self.telnet
        assert session is not None
        floods, telnet.floods = telnet.floods, 0
        for _ in range(floods):
            try:
                server.route(server.hub.handle(session, _TELNET_FLOOD, time.time()))
            except Exception:
                self._failed()
            if not self.outbox.open or self.dropped:
                return False
        return True

    def _take(self, frames: list[Frame]) -> None:
        """``_process`` with a net under it. An exception there is our bug; asyncio would log
        its traceback and go on, once per connection, so a line that makes the server fail,
        sent in a loop, would fill the log. Logged here, and the connection dropped as
        ``SERVER_ERROR``, which makes its address wait before it comes back."""
        try:
            self._process(frames)
        except Exception:
            self._failed()

    def _failed(self) -> None:
        """Our bug, met on what the client sent (in ``except``): logged, the client dropped."""
        self.log.exception("failed on what the client sent")
        self.drop(codes.SERVER_ERROR)

    def proxy_header(self, data: bytes) -> bool:
        """Look at the first bytes read: True if they are a proxy's PROXY header, which this
        server was not told to believe from this address (--proxy-from); the connection is then
        told so and closed (a proxy set up before its servers were, or seen from elsewhere)."""
        self.fresh = False
        if not begins_with_header(data):
            return False
        self.send(refusal_line(f"{UNTRUSTED_PROXY}.", is_irc(self.MODE)))
        self.close_after_flush(UNTRUSTED_PROXY)
        return True

    def _watch(self, line_end: bool) -> None:
        """(Re)start or stop the timer that tells a 1.0 client by its silence after a line
        with no end."""
        if self.silence is not None:
            self.silence.cancel()
            self.silence = None
        if self.legacy.after_read(line_end, self.decoder.buffered, self.telnet.seen):
            loop = asyncio.get_running_loop()
            self.silence = loop.call_later(LEGACY_SILENCE_S, self._silent)

    def _silent(self) -> None:
        """Bytes with no line end, then silence: a 1.0 client. Its held bytes are its line."""
        self.silence = None
        if not self.outbox.open or not self.legacy.silence(self.decoder.buffered):
            return
        self.log.info("legacy 1.0 client: each read is a line, output made ASCII")
        self._take(self.decoder.feed(b"\n"))

    def eof_received(self) -> bool:
        if self.outbox.open:
            self._take(self.decoder.feed_eof())
        # (Not over TLS: asyncio's TLS transport writes nothing once the client ended its side.)
        if self.patient and not self.tls and (self.held or self._claiming() or self._in_flight()):
            self._hold([])
            assert self.held is not None
            self.held.ended = True  # closed once the cluster answered (``_release``)
            return True
        # The transport closes once this returns (after writing what it holds), so what is queued
        # for this client goes to it now, not at the next flush: `printf 'ann\n/users\n' | nc -N`.
        self.flush()
        return False  # close our side too

    def pause_writing(self) -> None:
        self.outbox.paused = True
        if self.stall is None and not self.dropped:
            loop = asyncio.get_running_loop()
            self.stall = loop.call_later(SEND_STALL_S, self.drop, codes.SEND_QUEUE_EXCEEDED)

    def resume_writing(self) -> None:
        self.outbox.paused = False
        self._cancel_stall()
        self.flush()

    def answered(self, event: Event) -> bool:
        """The hub's later answer to this connection (cluster mode): True if the connection
        took it itself (an IRC client's welcome); the native protocol renders it as it is."""
        return False

    def connection_lost(self, exc: Exception | None) -> None:
        self._cancel_stall()
        if self.silence is not None:
            self.silence.cancel()
            self.silence = None
        self.server.forget(self)
        if self.held is not None and self.held.timer is not None:
            self.held.timer.cancel()
        if self.session is None or self.left:
            return
        ending = codes.CONNECTION_CLOSED if exc is None else codes.CONNECTION_LOST
        reason = self.ending or ending
        detail = f": {exc}" if exc is not None else ""
        self.visit.ended(self.session.name, reason, detail)
        # What the transport still held is gone with it, but how much that was is no longer known:
        # only the messages never handed to it count as not delivered.
        self._leave(reason, self.outbox.discard(0))

    # --- reading -------------------------------------------------------------------------------

    def _process(self, frames: list[Frame]) -> None:
        server, hub, session = self.server, self.server.hub, self.session
        assert session is not None
        debug = log.isEnabledFor(logging.DEBUG)
        for index, frame in enumerate(frames):
            if session.state is State.CLAIMING and self.patient:
                self._hold(frames[index:])
                return
            command = parse_line(frame)
            if type(command) is Quit and self.patient and hub.in_flight(session):
                self._hold(frames[index:])  # its "Delivered" before "Goodbye", as on one server
                return
            self.visit.line(command)
            if debug:  # the text only where --log-text allows it, never a password
                secret = session.state is State.PASSWORD
                self.log.debug("< %s", received(frame, server.config.log_text, secret))
            out = hub.handle(session, command, time.time())
            # The log keeps what was really sent (escaped there), not what others were shown.
            sent = parse_line(frame.raw) if type(frame) is Neutralised else command
            server.journal(self, out, sent)
            server.route(out)
            if not self.outbox.open:
                break

    # --- writing -------------------------------------------------------------------------------

    def go_online(self) -> None:
        """The session joined: from now on it gets the broadcasts made after this."""
        assert self.session is not None
        self.outbox.go_online(self.server.broadcasts.count, self.session.mode)

    def go_outside(self) -> None:
        """The session left #lobby: it gets the broadcasts made before this, and no more."""
        outbox = self.outbox
        had = outbox.size
        outbox.go_outside(self.server.broadcasts, self.session)
        if outbox.size > had:
            self.server.mark_dirty(self)

    def send(self, data: bytes, receipt: ToSessions | None = None) -> None:
        """Queue ``data`` (``receipt``: the private message it carries); never blocks. It is
        written at the next flush, or now if a burst has queued a lot."""
        outbox = self.outbox
        if self.held is not None:  # an answer (the cluster's to the name?): after this callback,
            asyncio.get_running_loop().call_soon(self._release)  # what waits is read if it may
        if not outbox.open or not data:
            return  # dropped, or its last words are queued; or an event with nothing to show
        # Broadcasts made before this event go first; a mode change applies from here on.
        outbox.catch_up(self.server.broadcasts, self.session)
        if self.session is not None:
            outbox.mode = self.session.mode
        if outbox.add(data, receipt):
            self.server.mark_dirty(self)
        elif outbox.size > self.server.burst_cap:
            self.flush()  # a burst: give the kernel what it takes now rather than hold it all

    def flush(self) -> None:
        """Write everything queued (its share of the broadcasts included) in one write, unless the
        transport is paused; close once all is written if the connection is closing."""
        lines = self.outbox.take(self.server.broadcasts, self.session)
        if lines:
            self.write(lines)
        elif self.outbox.paused and self.outbox.size > self.server.hard_cap:
            self.drop(codes.SEND_QUEUE_EXCEEDED)  # not reading, and much is waiting meanwhile
        elif self.outbox.phase is Phase.CLOSING and not self.outbox.lines:
            self._close_transport()

    def write(self, lines: list[bytes]) -> None:
        """Hand ``lines`` (taken from the outbox) to the transport in one write."""
        transport = self.transport
        if transport is None or transport.is_closing():
            return
        data = b"".join(lines) if len(lines) > 1 else lines[0]
        if self.legacy.legacy:
            # Its decode('ascii') would raise on anything else. Line by line: the lines are the
            # room's, shared, so each is converted once for all its 1.0 users. The outbox counts
            # the bytes as queued, so it is told of those; a receipt may be placed a few bytes off.
            transport.write(b"".join(map(ascii_safe_bytes, lines)))
        else:
            transport.write(data)
        outbox = self.outbox
        # What the transport still holds matters only to the receipts: not asked for otherwise.
        outbox.written(len(data), transport.get_write_buffer_size() if outbox.receipts else 0)
        if outbox.phase is Phase.CLOSING and not outbox.lines:
            transport.close()

    def close_after_flush(self, reason: str) -> None:
        """Stop reading; close once what is queued is written (the transport keeps flushing)."""
        self.outbox.catch_up(self.server.broadcasts, self.session)  # what came before still goes
        self.outbox.close()
        self.ending = self.ending or reason
        self.server.mark_dirty(self)

    def drop(self, reason: str) -> None:
        """Close now, discarding what is queued: the client could not keep up or misbehaved.
        Its session leaves the chat at once, and the senders of private messages it never got
        are told."""
        transport = self.transport
        if transport is None or self.dropped:
            return
        self.dropped = reason
        self._cancel_stall()
        buffered = transport.get_write_buffer_size()
        unsent = self.outbox.size + buffered
        lost = self.outbox.discard(buffered)
        self.visit.announce()
        self.log.warning("dropping client: %s (%d bytes queued)", reason, unsent)
        transport.abort()
        self.server.after_route(lambda: self._leave(reason, lost))

    def _leave(self, reason: str, lost: list[ToSessions]) -> None:
        """Tell the hub this session is gone (once), and which private messages it never got."""
        if self.left or self.session is None:
            return
        self.left = True
        server, now = self.server, time.time()
        if reason in codes.ABUSE_ENDINGS and self.origin is not None:
            server.penalise(self.origin)
        for item in lost:
            server.route(server.hub.undelivered(item, reason, now))
        server.route(server.hub.disconnect(self.session, reason, now))

    def _close_transport(self) -> None:
        if self.transport is not None and not self.transport.is_closing():
            self.transport.close()

    def _cancel_stall(self) -> None:
        if self.stall is not None:
            self.stall.cancel()
            self.stall = None


def _tune_socket(sock: socket.socket | None) -> None:
    """Let the kernel find dead peers of text-mode sessions (which never answer pings), and cap
    what it buffers for a client that does not read."""
    if sock is None:
        return
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, SOCKET_SNDBUF_BYTES)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1)
        if hasattr(socket, "TCP_KEEPIDLE"):
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPIDLE, TCP_KEEPIDLE_S)
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPINTVL, TCP_KEEPINTVL_S)
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPCNT, TCP_KEEPCNT)
    except OSError:
        pass  # not a TCP socket; both are niceties
