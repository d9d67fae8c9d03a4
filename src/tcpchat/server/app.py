"""The asyncio transport of the server: accept, read, route what the hub returns, write, stop.

It only moves bytes and time. Each connection is an ``asyncio.Protocol``: bytes go through the
``LineDecoder`` and ``parse_line`` to the hub. A ``Delivery`` to everyone online is queued once in
the shared ``Broadcasts`` (``fanout.py``); any other is rendered once per mode and appended to each
recipient's outbox. At the flush (the end of the loop iteration, or ``FLUSH_INTERVAL_S`` after the
previous flush while messages keep coming) every client takes the broadcasts it has not seen and
its outbox is written in one write, so fan-out never awaits a peer; a session whose queued bytes
pass ``max_outbox`` is dropped instead of slowing anyone else.
"""

from __future__ import annotations

import asyncio
import logging
import signal
import socket
import ssl
import time
from typing import Any, Callable, cast

from .. import __version__
from ..config import ServerConfig
from ..core import codes
from ..core import events as ev
from ..core.codes import TEXT
from ..core.errors import ConfigError
from ..core.framing import Frame, LineDecoder
from ..core.hub import Hub, HubLimits, Session
from ..core.limits import (
    FD_RESERVE,
    FLUSH_INTERVAL_S,
    OUTBOX_BURST_FACTOR,
    OUTBOX_HOLD_FACTOR,
    REFUSAL_LOG_INTERVAL_S,
    SEND_STALL_S,
    SHUTDOWN_FLUSH_S,
    SOCKET_SNDBUF_BYTES,
    SWEEP_INTERVAL_S,
    TCP_KEEPCNT,
    TCP_KEEPIDLE_S,
    TCP_KEEPINTVL_S,
)
from ..core.parse import parse_line
from ..core.wire import plural, render
from .admission import Admission, Tally, format_peer, origin_of
from .fanout import Broadcasts
from .listeners import Listener, bind
from .logs import LOGGER_NAME, SessionLog, clip, report_suppressed

log = logging.getLogger(LOGGER_NAME)


class Connection(asyncio.Protocol):
    """One client socket. Reads lines into the hub; its outbox is a list of rendered lines.

    Once its session is online it also reads the server's shared ``Broadcasts``: ``cursor`` is
    how many of them are already in its outbox (-1: not online), ``mode`` the mode they were
    rendered in so far.

    Lines go to the transport only while it is willing (asyncio's flow control: above
    ``max_outbox`` bytes not yet taken by the kernel it calls ``pause_writing``); meanwhile they
    wait in the outbox, where the lines of a broadcast are the same bytes objects for every
    recipient. A client whose transport stays paused for ``SEND_STALL_S`` is not reading and is
    dropped; a client that reads is never dropped for a burst the server itself queued.
    """

    __slots__ = (
        "server",
        "transport",
        "session",
        "decoder",
        "origin",
        "log",
        "outbox",
        "outbox_bytes",
        "closing",
        "reason",
        "ending",
        "left",
        "cursor",
        "mode",
        "paused",
        "stall",
        "sent_total",
        "receipts",
    )

    def __init__(self, server: ChatServer, origin: str | None = None) -> None:
        self.server = server
        self.transport: asyncio.Transport | None = None
        self.session: Session | None = None
        self.decoder = LineDecoder(server.config.max_line)
        self.origin = origin  # counted in by the listener; None: not counted yet
        self.log: logging.LoggerAdapter = log  # type: ignore[type-arg, assignment]
        self.outbox: list[bytes] = []
        self.outbox_bytes = 0
        self.closing = False  # no more reading; close once the outbox is written
        self.reason = ""  # why it was dropped; set only by drop()
        self.ending = ""  # why it is closing after its last words (quit, timeout, shutdown)
        self.left = False  # the hub has been told this session is gone
        self.cursor = -1
        self.mode = TEXT
        self.paused = False  # the transport holds max_outbox bytes the kernel did not take
        self.stall: asyncio.TimerHandle | None = None
        # Private messages queued for this client whose sender was told "Delivered": (where the
        # message ends in the stream of bytes for this client, its delivery). Once the kernel has
        # taken that many (sent_total minus what the transport still holds), it has left us.
        self.sent_total = 0
        self.receipts: list[tuple[int, ev.Delivery]] = []

    # --- asyncio callbacks -------------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's transports are not asyncio.Transport subclasses but offer the same methods.
        transport = cast(asyncio.Transport, transport)
        self.transport = transport
        peer = transport.get_extra_info("peername")
        address = format_peer(peer)
        if self.origin is None:  # not accepted by our listener (tests): count it in now
            self.origin = origin_of(str(peer[0]) if peer else "?", self.server.config.ipv6_prefix)
            self.server.admission.enter(self.origin)
        self.server.connections.add(self)
        _tune_socket(transport.get_extra_info("socket"))
        transport.set_write_buffer_limits(high=self.server.config.max_outbox)
        session, out = self.server.hub.connect(address, time.time(), self.origin)
        session.link = self
        self.session = session
        self.log = SessionLog(log, {"sid": session.id, "peer": address, "ip": self.origin})
        self.log.info("connected (%d connections)", len(self.server.connections))
        self.server.route(out)

    def data_received(self, data: bytes) -> None:
        if self.closing:
            return
        self._process(self.decoder.feed(data))

    def eof_received(self) -> bool:
        if not self.closing:
            self._process(self.decoder.feed_eof())
        # The transport closes once this returns (after writing what it holds), so what is queued
        # for this client goes to it now, not at the next flush: `printf 'ann\n/users\n' | nc -N`.
        self.flush()
        return False  # close our side too

    def pause_writing(self) -> None:
        self.paused = True
        if self.stall is None and not self.reason:
            self.stall = asyncio.get_running_loop().call_later(
                SEND_STALL_S, self.drop, codes.SEND_QUEUE_EXCEEDED
            )

    def resume_writing(self) -> None:
        self.paused = False
        if self.stall is not None:
            self.stall.cancel()
            self.stall = None
        self.flush()

    def connection_lost(self, exc: Exception | None) -> None:
        if self.stall is not None:
            self.stall.cancel()
            self.stall = None
        self.server.forget(self)
        if self.session is None or self.left:
            return
        reason = self.ending or (codes.CONNECTION_CLOSED if exc is None else codes.CONNECTION_LOST)
        level = logging.INFO if codes.is_ordinary(reason) else logging.WARNING
        detail = f": {exc}" if exc is not None else ""
        self.log.log(level, "disconnected (%s)%s", reason, detail)
        # What the transport still held is gone with it, but how much that was is no longer known:
        # only the messages never handed to it count as not delivered.
        self._leave(reason, self.sent_total)

    # --- reading -------------------------------------------------------------------------------

    def _process(self, frames: list[Frame]) -> None:
        hub, session = self.server.hub, self.session
        assert session is not None
        debug = log.isEnabledFor(logging.DEBUG)
        for frame in frames:
            if debug:
                self.log.debug("< %r", frame)
            out = hub.handle(session, parse_line(frame), time.time())
            self.server.journal(self, out)
            self.server.route(out)
            if self.closing:
                break

    # --- writing -------------------------------------------------------------------------------

    def go_online(self, mode: str) -> None:
        """The session joined the roster: from now on it gets the broadcasts made after this."""
        self.cursor = len(self.server.broadcasts)
        self.mode = mode

    def catch_up(self) -> None:
        """Queue the broadcasts this client has not seen yet, before anything queued after."""
        shared = self.server.broadcasts
        if 0 <= self.cursor < len(shared):
            if not self.reason:
                for data in shared.since(self.cursor, self.mode, self.session):
                    self.outbox.append(data)
                    self.outbox_bytes += len(data)
            self.cursor = len(shared)

    def send(self, data: bytes, receipt: ev.Delivery | None = None) -> None:
        """Queue ``data``; never blocks. It is written at the next flush. ``receipt``: the
        delivery of a private message whose sender was told it was delivered."""
        if self.closing:
            return  # dropped, or its last words are queued
        idle = not self.outbox
        if self.cursor >= 0:
            # Broadcasts made before this event go first; a mode change applies from here on.
            self.catch_up()
            if self.session is not None:
                self.mode = self.session.mode
        self.outbox.append(data)  # often the same bytes object as for every other recipient
        self.outbox_bytes += len(data)
        if receipt is not None:
            self.receipts.append((self.sent_total + self.outbox_bytes, receipt))
        if self.outbox_bytes > self.server.burst_cap:
            self.flush()  # a burst: give the kernel what it takes now rather than hold it all
        elif idle:
            self.server.mark_dirty(self)

    def flush(self) -> None:
        """Write everything queued for this client (its share of the broadcasts included) in one
        write, unless its transport is paused; close if this connection is closing and all is
        written."""
        self.catch_up()
        if self.outbox:
            if not self.paused:
                lines, self.outbox, self.outbox_bytes = self.outbox, [], 0
                self.write(lines)
            elif self.outbox_bytes > self.server.hard_cap:
                self.drop(codes.SEND_QUEUE_EXCEEDED)  # not reading, and queued a lot meanwhile
        elif self.closing and self.transport is not None and not self.transport.is_closing():
            self.transport.close()

    def write(self, lines: list[bytes]) -> None:
        """Hand ``lines`` to the transport in one write (the caller has taken them from, or never
        put them in, the outbox); close if this connection is closing and nothing is left."""
        transport = self.transport
        if transport is None or transport.is_closing() or not lines:
            return
        data = b"".join(lines) if len(lines) > 1 else lines[0]
        self.sent_total += len(data)
        transport.write(data)
        if self.receipts:
            taken = self.sent_total - transport.get_write_buffer_size()
            self.receipts = [(end, d) for end, d in self.receipts if end > taken]
        if self.closing and not self.outbox:
            transport.close()

    def close_after_flush(self, reason: str) -> None:
        """Stop reading; close once what is queued is written (the transport keeps flushing)."""
        self.catch_up()  # what was broadcast before it still goes out; nothing after
        self.closing = True
        self.ending = self.ending or reason
        self.cursor = -1
        self.server.mark_dirty(self)

    def drop(self, reason: str) -> None:
        """Close now, discarding what is queued: the client could not keep up or misbehaved.
        Its session leaves the chat at once, and the senders of private messages it never got
        are told."""
        transport = self.transport
        if transport is None or self.reason:
            return
        self.closing = True
        self.reason = reason
        if self.stall is not None:
            self.stall.cancel()
            self.stall = None
        unsent = self.outbox_bytes + transport.get_write_buffer_size()
        taken = self.sent_total - transport.get_write_buffer_size()
        self.outbox = []
        self.outbox_bytes = 0
        self.cursor = -1
        self.log.warning("dropping client: %s (%d bytes queued)", reason, unsent)
        transport.abort()
        self.server.after_route(lambda: self._leave(reason, taken))

    def _leave(self, reason: str, taken: int) -> None:
        """Tell the hub this session is gone (once), with the private messages it never got:
        those that ended past ``taken`` bytes."""
        if self.left or self.session is None:
            return
        self.left = True
        server, now = self.server, time.time()
        for end, delivery in self.receipts:
            if end > taken:
                server.route(server.hub.undelivered(delivery, reason, now))
        self.receipts = []
        server.route(server.hub.disconnect(self.session, reason, now))


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


class ChatServer:
    """Owns the listeners, the hub and every connection; ``run`` serves until ``stop``."""

    def __init__(self, config: ServerConfig) -> None:
        self.config = config
        self.hub = Hub(
            HubLimits(
                password=_read_password(config.password_file),
                max_line=config.max_line,
                flood_burst=config.flood_burst,
                flood_rate=config.flood_rate,
                handshake_timeout=config.handshake_timeout,
                ping_interval=config.ping_interval,
                ping_timeout=config.ping_timeout,
            )
        )
        # What may be queued for one client before it is offered to the kernel (its own outbox,
        # and the shared queue of broadcasts): past this a flush starts early.
        self.burst_cap = config.max_outbox * OUTBOX_BURST_FACTOR
        # What may wait for a client whose transport is paused before it is dropped at once
        # instead of after SEND_STALL_S (mostly broadcast bytes shared with everyone else).
        self.hard_cap = config.max_outbox * OUTBOX_HOLD_FACTOR
        self.admission = Admission(config.max_connections, config.max_per_ip)
        # Open files the connections may use before the listeners pause (0: no limit known).
        self.fd_budget = 0
        self.connections: set[Connection] = set()
        self.listeners: list[Listener] = []
        self.addresses: list[tuple[str, int, bool]] = []  # (host, port, tls)
        self.broadcasts = Broadcasts()  # to everyone online, since the last flush
        self._dirty: list[Connection] = []
        self._flush_handle: asyncio.Handle | None = None  # the flush to come, if any
        self._flushed_at = 0.0
        self._routing = 0  # depth of route() calls in progress
        self._after_route: list[Callable[[], None]] = []
        self._listening = True
        self._refusals = Tally(REFUSAL_LOG_INTERVAL_S)
        self._stop = asyncio.Event()
        self._all_closed = asyncio.Event()

    # --- admission (the listeners' Gate) -------------------------------------------------------

    def admit_socket(self, sock: socket.socket, peer: object, tls: bool) -> str | None:
        """Count an accepted socket in before anything is done for it, or refuse it: the peer of
        a plain listener is told why in one line. Returns the origin it counts under."""
        if not isinstance(peer, tuple) or not peer:
            return None  # not an internet socket
        origin = origin_of(str(peer[0]), self.config.ipv6_prefix)
        refusal = self.hub.guard.refusal(origin, time.time()) or self.admission.admit(origin)
        if refusal is not None:
            self._log_refusal(format_peer(peer), refusal)
            if not tls:
                try:
                    sock.send(f"!!! {refusal}\n".encode())
                except OSError:
                    pass
            return None
        if self.fd_budget and self.admission.total >= self.fd_budget:
            self._pause_listeners()
        return origin

    def make_protocol(self, origin: str) -> Connection:
        return Connection(self, origin)

    def abandon(self, protocol: asyncio.Protocol) -> None:
        if isinstance(protocol, Connection) and protocol.transport is None and protocol.origin:
            self._release(protocol.origin)

    def _log_refusal(self, address: str, reason: str) -> None:
        """Log a refused connection; during a storm, one line a second with a count."""
        skipped = self._refusals.tick(time.monotonic())
        if skipped is not None:
            more = f" ({skipped} more refused since the last report)" if skipped else ""
            log.warning("[%s] refused: %s%s", address, reason, more)

    def _release(self, origin: str) -> None:
        self.admission.release(origin)
        if not self._listening and self.admission.total < self.fd_budget:
            self._listening = True
            for listener in self.listeners:
                listener.resume()

    def _pause_listeners(self) -> None:
        if self._listening:
            log.warning(
                "%d connections: near the open-file limit; new connections wait until some close",
                self.admission.total,
            )
            self._listening = False
            for listener in self.listeners:
                listener.pause()

    def forget(self, conn: Connection) -> None:
        if conn in self.connections:
            self.connections.remove(conn)
            if conn.origin is not None:
                self._release(conn.origin)
        if self.admission.closed and not self.connections:
            self._all_closed.set()

    # --- routing -------------------------------------------------------------------------------

    def route(self, deliveries: list[ev.Delivery]) -> None:
        """Queue each event once for everyone online, or render it once per mode and queue the
        bytes for each recipient. What a drop during routing sets off (the dropped session
        leaving) runs once this is done, so the hub's answers are routed in the order it gave."""
        self._routing += 1
        try:
            self._route(deliveries)
        finally:
            self._routing -= 1
        while self._after_route and not self._routing:
            self._after_route.pop(0)()

    def after_route(self, action: Callable[[], None]) -> None:
        """Run ``action`` once the routing in progress is done (now, if there is none)."""
        self._after_route.append(action)
        if not self._routing:
            self.route([])

    def _route(self, deliveries: list[ev.Delivery]) -> None:
        everyone = self.hub.roster.everyone()
        for delivery in deliveries:
            event, skip = delivery.event, delivery.skip
            rendered: dict[str, bytes] = {}
            if isinstance(event, (ev.Bye, ev.Shutdown)):
                self._route_last_words(delivery, rendered)
                continue
            if delivery.to is everyone:
                # Exactly the sessions online now, which are the connections reading broadcasts.
                shared = self.broadcasts
                shared.add(event, skip)
                if shared.size_bound > self.burst_cap:
                    self._flush()  # bounds the shared queue and each client's share of it
                elif len(shared) == 1:
                    self._schedule_flush()
                continue
            for session in delivery.to:
                # Private events, and the rare broadcast to an older roster (several leaves in one
                # sweep): once per recipient.
                if session is skip or session.link is None:
                    continue
                data = rendered.get(session.mode)
                if data is None:
                    data = rendered[session.mode] = render(event, session.mode)
                session.link.send(data, delivery if delivery.confirmed is not None else None)
            if isinstance(event, ev.Registered):
                for session in delivery.to:
                    if session.link is not None:
                        session.link.go_online(session.mode)

    def _route_last_words(self, delivery: ev.Delivery, rendered: dict[str, bytes]) -> None:
        """A ``Bye`` or ``Shutdown``: send it, then close each recipient once it is written."""
        event = delivery.event
        reason = event.reason if isinstance(event, ev.Bye) else codes.SERVER_SHUTDOWN
        for session in delivery.to:
            conn: Connection | None = session.link
            if conn is None or session is delivery.skip:
                continue
            data = rendered.get(session.mode)
            if data is None:
                data = rendered[session.mode] = render(event, session.mode)
            conn.send(data)
            conn.close_after_flush(reason)

    def mark_dirty(self, conn: Connection) -> None:
        self._dirty.append(conn)
        self._schedule_flush()

    def _schedule_flush(self) -> None:
        """Flush at the end of this loop iteration, or FLUSH_INTERVAL_S after the last flush if
        that is later: under a steady stream of messages each write then carries several."""
        if self._flush_handle is None:
            wait = self._flushed_at + FLUSH_INTERVAL_S - time.monotonic()
            loop = asyncio.get_running_loop()
            if wait > 0:
                self._flush_handle = loop.call_later(wait, self._flush)
            else:
                self._flush_handle = loop.call_soon(self._flush)

    def _flush(self) -> None:
        """One write per socket for everything queued since the last flush."""
        if self._flush_handle is not None:
            self._flush_handle.cancel()  # when called directly, before its time
            self._flush_handle = None
        self._flushed_at = time.monotonic()
        shared = self.broadcasts
        if shared:
            for session in self.hub.roster.everyone():
                conn: Connection | None = session.link
                if conn is None:
                    continue
                if conn.cursor == 0 and not conn.outbox and not conn.paused:
                    # The usual case, kept to one call: nothing else queued for this client.
                    conn.write(shared.since(0, conn.mode, session))
                elif conn.cursor >= 0:
                    conn.flush()
                conn.cursor = 0 if conn.cursor >= 0 else -1
            shared.clear()
        dirty, self._dirty = self._dirty, []
        for conn in dirty:
            conn.flush()

    def journal(self, conn: Connection, out: list[ev.Delivery]) -> None:
        """Log what a command from ``conn`` did, from the events the hub sent back to it."""
        session = conn.session
        if session is None:
            return
        for delivery in out:
            if delivery.to != (session,):
                continue
            event = delivery.event
            if isinstance(event, ev.Delivered):
                target = event.to or f"ALL ({plural(event.recipients, 'user')})"
                kind = " (action)" if event.action else ""
                if self.config.log_text:
                    text = clip(event.text)
                    conn.log.info("%s -> %s%s: %s", session.name, target, kind, text)
                else:
                    conn.log.info(
                        "%s -> %s%s: %d characters", session.name, target, kind, len(event.text)
                    )
            elif isinstance(event, ev.Registered):
                conn.log.info("registered as %s (%d online)", event.name, len(event.users))
            elif isinstance(event, ev.Renamed):
                conn.log.info("renamed %s -> %s", event.old, event.new)
            elif isinstance(event, ev.Error):
                # A wrong password is INFO: guessing is slowed per address (guard.py); what
                # matters is the disconnect when an address is banned.
                level = logging.WARNING if event.code in codes.LIMIT_ERRORS else logging.INFO
                text = clip(event.text, echo=True)  # may echo what the user typed
                conn.log.log(level, "user error %s: %s", event.code, text)

    # --- life ----------------------------------------------------------------------------------

    async def start(self) -> None:
        """Open the listeners. Raises OSError (for example, port in use) or ConfigError."""
        cfg = self.config
        tls = _tls_context(cfg.tls_cert, cfg.tls_key) if cfg.tls_cert else None
        plans: list[tuple[int, ssl.SSLContext | None]] = []
        if tls is not None and cfg.tls_port:
            plans = [(cfg.port, None), (cfg.tls_port, tls)]
        else:
            plans = [(cfg.port, tls)]
        for port, context in plans:
            for sock in bind(cfg.host, port):
                listener = Listener(sock, self, context, cfg.tls_handshake_timeout)
                self.listeners.append(listener)
                address = sock.getsockname()
                self.addresses.append((str(address[0]), int(address[1]), context is not None))
        for host, port, is_tls in self.addresses:
            log.info(
                "tcp-chat %s listening on %s%s",
                __version__,
                format_peer((host, port)),
                " (TLS)" if is_tls else "",
            )

    async def serve(self) -> None:
        """Run until ``stop`` is called, sweeping for timeouts once a second; then shut down."""
        sweeper = asyncio.ensure_future(self._sweep())
        try:
            await self._stop.wait()
        finally:
            sweeper.cancel()
            await asyncio.gather(sweeper, return_exceptions=True)
            await self._shutdown()

    def stop(self) -> None:
        self._stop.set()

    async def _sweep(self) -> None:
        while True:
            await asyncio.sleep(SWEEP_INTERVAL_S)
            try:
                self.route(self.hub.sweep(time.time()))
                report_suppressed()
            except Exception:
                log.exception("sweep failed")

    async def _shutdown(self) -> None:
        log.info("stopping: %d connections", len(self.connections))
        self.admission.closed = True
        for listener in self.listeners:
            listener.close()
        self.route(self.hub.shutdown(time.time()))
        for conn in list(self.connections):
            conn.close_after_flush(codes.SERVER_SHUTDOWN)
        if self.connections:
            try:
                await asyncio.wait_for(self._all_closed.wait(), SHUTDOWN_FLUSH_S)
            except asyncio.TimeoutError:
                log.warning(
                    "%d connections did not flush in time; closing them", len(self.connections)
                )
                for conn in list(self.connections):
                    if conn.transport is not None:
                        conn.transport.abort()
        for listener in self.listeners:
            await listener.wait_closed()
        report_suppressed(everything=True)
        log.info("stopped")


def _read_password(path: str) -> str | None:
    if not path:
        return None
    try:
        with open(path, encoding="utf-8") as f:
            password = f.readline().rstrip("\r\n")
    except OSError as exc:
        raise ConfigError(f"cannot read password file {path}: {exc.strerror}") from None
    if not password:
        raise ConfigError(f"password file {path} is empty")
    return password


def _tls_context(cert: str, key: str) -> ssl.SSLContext:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    try:
        context.load_cert_chain(cert, key)
    except (OSError, ssl.SSLError) as exc:
        raise ConfigError(f"cannot load TLS certificate {cert} / key {key}: {exc}") from None
    return context


def raise_file_limit(wanted: int) -> int:
    """Lift the soft limit on open files towards ``wanted`` (up to the hard limit).

    Each connection is a file; the usual soft limit of 1024 would refuse users long before
    ``max_connections``. Returns the soft limit now in force.
    """
    try:
        import resource
    except ImportError:  # not on POSIX
        return wanted
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = wanted if hard == resource.RLIM_INFINITY else min(wanted, hard)
    if soft != resource.RLIM_INFINITY and soft < target:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
            soft = target
        except (ValueError, OSError):
            pass
    return int(soft)


async def run(config: ServerConfig) -> None:
    """Start the server, serve until SIGINT or SIGTERM, then stop cleanly."""
    # Connections, listeners, log files and a margin for the interpreter itself.
    files = raise_file_limit(config.max_connections + 64)
    if files < config.max_connections + 16:
        log.warning(
            "open-file limit %d is below --max-connections %d; raise it (ulimit -n)",
            files,
            config.max_connections,
        )
    server = ChatServer(config)
    server.fd_budget = max(files - FD_RESERVE, 1)
    loop = asyncio.get_running_loop()
    loop.set_exception_handler(_log_loop_error)
    await server.start()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, _on_signal, server, signum)
    try:
        await server.serve()
    finally:
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(signum)


def _log_loop_error(loop: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
    """An exception escaped a callback: that is our bug. Log it with its traceback, go on."""
    exc = context.get("exception")
    message = context.get("message", "unhandled error in the event loop")
    log.error("%s", message, exc_info=exc if isinstance(exc, BaseException) else None)


def _on_signal(server: ChatServer, signum: int) -> None:
    log.info("received %s", signal.Signals(signum).name)
    server.stop()
