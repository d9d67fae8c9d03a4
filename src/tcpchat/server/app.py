"""The server: listeners, the hub, routing its instructions to connections, flushing, stopping.

``ChatServer`` owns everything. Its listeners (``listeners.py``) count each connection in at
accept (``gate.py``, ``admission.py``); each connection (``connection.py``) reads lines into the
hub and passes the hub's instructions (``core/output.py``) to ``route``. An event for everyone
online is queued once in the shared ``Broadcasts`` (``fanout.py``); any other is rendered once per
mode and added to each recipient's ``Outbox``. At the flush (the end of the loop iteration, or
``FLUSH_INTERVAL_S`` after the previous one while messages keep coming) every client takes the
broadcasts it has not seen and its outbox goes out in one write, so fan-out never awaits a peer.
"""

from __future__ import annotations

import asyncio
import logging
import socket
import ssl
import time
from typing import TYPE_CHECKING, Callable

from .. import __version__
from ..config import read_password
from ..core import codes
from ..core import events as ev
from ..core.archive import Archive
from ..core.codes import TEXT, is_irc
from ..core.hub import Hub
from ..core.irc_queries import IrcNetwork
from ..core.irc_render import Renderer
from ..core.irc_render import personal as irc_personal
from ..core.limits import (
    ARRIVALS_BURST,
    OUTBOX_BURST_FACTOR,
    OUTBOX_HOLD_FACTOR,
    SHUTDOWN_FLUSH_S,
    SWEEP_INTERVAL_S,
    HubLimits,
)
from ..core.output import (
    Claim,
    Offline,
    Online,
    Out,
    Publish,
    Refresh,
    Release,
    ToAll,
    ToSessions,
    Whisper,
)
from ..core.proxy import Proxies
from ..core.sentences import plural
from .admission import format_peer
from .config import ServerConfig
from .connection import Connection
from .fanout import Broadcasts
from .gate import Admitting
from .irc import IrcGate
from .journal import journal
from .listeners import Gate, Listener
from .logs import LOGGER_NAME, report_suppressed
from .outbox import flush_delay
from .ports import Ports, start_listening

if TYPE_CHECKING:
    from .cluster.link import ClusterLink

log = logging.getLogger(LOGGER_NAME)


class ChatServer(Admitting):
    """Owns the listeners, the hub and every connection; ``run`` serves until ``stop``."""

    speaks_irc = False  # as a listener's gate: a refused peer is told in a chat line

    def __init__(
        self, config: ServerConfig, archive: Archive | None = None, node: str | None = None
    ) -> None:
        """``archive``: where the hub keeps room messages (``store.open_archive``); None keeps
        nothing. ``node``: this server's name in its cluster; the cluster's link
        (``cluster/link.py``) is set in ``cluster_link`` before the server starts."""
        self.config = config
        server_name = config.server_name or socket.gethostname()
        limits = HubLimits(
            password=read_password(config.password_file),
            max_line=config.max_line,
            flood_burst=config.flood_burst,
            flood_rate=config.flood_rate,
            handshake_timeout=config.handshake_timeout,
            ping_interval=config.ping_interval,
            ping_timeout=config.ping_timeout,
            big_room=config.big_room,
            max_rooms=config.max_rooms,
            history_replay=config.history_replay,
            arrivals=max(ARRIVALS_BURST, config.max_per_ip),
        )
        # With IRC on, nobody may be called server_name (IRC shows users as nick!u@host beside it)
        irc = config.irc_port >= 0 or config.irc_tls_port >= 0
        self.hub = Hub(limits, archive, node, server_name if irc else "")
        self.cluster_link: ClusterLink | None = None
        # Queued for one client (its outbox, its share of the broadcasts): past it, flush early.
        self.burst_cap = config.max_outbox * OUTBOX_BURST_FACTOR
        # What may wait for a client whose transport is paused before it is dropped at once
        # instead of after SEND_STALL_S (mostly broadcast bytes shared with everyone else).
        self.hard_cap = config.max_outbox * OUTBOX_HOLD_FACTOR
        super().__init__(config)
        self.connections: set[Connection] = set()
        self.proxies = Proxies(config.proxy_from)  # whose connections begin with a PROXY header
        self.addresses: list[tuple[str, int, bool]] = []  # (host, port, tls)
        self.irc_addresses: list[tuple[str, int, bool]] = []  # the IRC listeners' ones
        # The IRC listener's shared state, and the rendering of every mode (IRC ones included).
        self.irc = IrcNetwork(server_name, time.time())
        self.render = Renderer(self.irc.format)
        self.broadcasts = Broadcasts(self.render)  # to everyone online, since the last flush
        self._dirty: list[Connection] = []
        self._flush_handle: asyncio.Handle | None = None  # the flush to come, if any
        self._flushed_at = 0.0
        self._routing = 0  # depth of route() calls in progress
        self._after_route: list[Callable[[], None]] = []
        self._stop = asyncio.Event()
        self._all_closed = asyncio.Event()

    # --- the listeners' Gate (admission: gate.py) ------------------------------------------------

    def make_protocol(
        self, origin: str, tls: bool, peer: tuple[str, int] | None = None, via: str = ""
    ) -> Connection:
        return Connection(self, origin, tls, peer, via)

    def forget(self, conn: Connection) -> None:
        if conn in self.connections:
            self.connections.remove(conn)
            if conn.origin is not None:
                self._release(conn.origin)
        if self.admission.closed and not self.connections:
            self._all_closed.set()

    # --- routing -------------------------------------------------------------------------------

    def route(self, out: Out) -> None:
        """Queue each event once for everyone online, or render it once per mode and queue the
        bytes for each recipient. What a drop during routing sets off (the dropped session
        leaving) runs once this is done, so the hub's answers are routed in the order it gave."""
        self._routing += 1
        try:
            self._route(out)
        finally:
            self._routing -= 1
        while self._after_route and not self._routing:
            self._after_route.pop(0)()

    def after_route(self, action: Callable[[], None]) -> None:
        """Run ``action`` once the routing in progress is done (now, if there is none)."""
        self._after_route.append(action)
        if not self._routing:
            self.route([])

    def _route(self, out: Out) -> None:
        for item in out:
            if isinstance(item, ToAll):
                # Queued once for everyone online; each takes its share at the flush.
                shared = self.broadcasts
                shared.add(item.event, item.skip)
                if shared.size_bound > self.burst_cap:
                    self._flush()  # bounds the shared queue and each client's share of it
                elif shared.count == 1:
                    self._schedule_flush()
            elif isinstance(item, ToSessions):
                self._send(item)
            elif isinstance(item, (Publish, Whisper, Claim, Release, Refresh)):
                if self.cluster_link is not None:
                    self.cluster_link.send(item)
            elif item.session.link is not None:
                if isinstance(item, Online):
                    item.session.link.go_online()
                elif isinstance(item, Offline):
                    item.session.link.go_outside()
                else:
                    item.session.link.close_after_flush(item.reason)

    def _send(self, item: ToSessions) -> None:
        """Render ``item``'s event once per mode and queue the same bytes for each recipient.
        A room's message in text mode is rendered a second way, with its room first, for those
        who talk in another room."""
        rendered: dict[tuple[str, bool], bytes] = {}
        receipt = item if item.confirmed is not None else None
        event, skip = item.event, item.skip
        render = self.render
        personal = irc_personal(event)  # its IRC lines name their reader: not shared
        said = isinstance(event, ev.Message) and event.to is None  # said in a room
        room = event.room if isinstance(event, ev.Message) else None
        for session in item.to:
            conn: Connection | None = session.link
            if conn is None or session is skip:
                continue
            mode, current = session.mode, session.current
            if personal and is_irc(mode):
                conn.send(render(event, mode, False, session.name), receipt)
                continue
            elsewhere = said and mode == TEXT and current is not None and current.label != room
            view = (mode, elsewhere)
            data = rendered.get(view)
            if data is None:
                data = rendered[view] = render(event, *view)
            conn.send(data, receipt)

    def mark_dirty(self, conn: Connection) -> None:
        self._dirty.append(conn)
        self._schedule_flush()

    def _schedule_flush(self) -> None:
        """Flush at the end of this loop iteration, or FLUSH_INTERVAL_S after the last flush if
        that is later (``outbox.flush_delay``).

        Both times are the loop's own clock: uvloop's counts whole milliseconds, cached at the
        start of each iteration, and rounds a timer's delay to whole milliseconds, so a delay
        reckoned with ``time.monotonic`` (0.4 ms, say) became no delay and flushes came more
        often than the interval allows (docs/BENCHMARKS.md, rooms and history)."""
        if self._flush_handle is None:
            loop = asyncio.get_running_loop()
            now = loop.time()
            wait = flush_delay(self._flushed_at, now)
            if wait > 0:
                self._flush_handle = loop.call_at(now + wait, self._flush)
            else:
                self._flush_handle = loop.call_soon(self._flush)

    def _flush(self) -> None:
        """One write per socket for everything queued since the last flush."""
        if self._flush_handle is not None:
            self._flush_handle.cancel()  # when called directly, before its time
            self._flush_handle = None
        self._flushed_at = asyncio.get_running_loop().time()
        shared = self.broadcasts
        if shared:
            for session in self.hub.roster.everyone():
                conn: Connection | None = session.link
                if conn is not None:
                    conn.flush()
                    conn.outbox.rewind()
            shared.clear()
        dirty, self._dirty = self._dirty, []
        for conn in dirty:
            conn.flush()

    def route_cluster(self, out: Out) -> None:
        """Route what the hub answered the cluster's link. Answers to one of this server's users
        (a message confirmed, a name granted or refused) are logged first, as they are when the
        hub gives them at once."""
        rest: Out = []
        logged = log.isEnabledFor(logging.INFO)  # else only refusals (WARNING) are logged
        for item in out:
            if type(item) is ToSessions and len(item.to) == 1 and item.to[0].link is not None:
                conn: Connection = item.to[0].link
                if logged or type(item.event) is ev.Error:
                    self.journal(conn, [item])
                if conn.answered(item.event):
                    continue  # said in the connection's own words (an IRC client's welcome)
            rest.append(item)
        self.route(rest)

    def journal(self, conn: Connection, out: Out, command: object = None) -> None:
        """Log what ``command`` from ``conn`` did (``journal.py``)."""
        if conn.session is not None:
            journal(conn.log, conn.session, out, self.config.log_text, command)

    # --- life ----------------------------------------------------------------------------------

    async def start(self, ports: Ports) -> None:
        """Listen on ``ports`` (``reserve_ports``) and accept. Raises ListenError (another
        program took a port since it was bound)."""
        for sock, context in ports.chat:
            self._listen(sock, self, context)
            address = sock.getsockname()
            self.addresses.append((str(address[0]), int(address[1]), context is not None))
        for host, port, is_tls in self.addresses:
            log.info(
                "tcp-chat %s listening on %s%s",
                __version__,
                format_peer((host, port)),
                " (TLS)" if is_tls else "",
            )
        if self.config.proxy_from:
            log.info("connections from %s begin with a PROXY header", self.config.proxy_from)
        gate = IrcGate(self)  # the IRC listeners (--irc-port, --irc-tls-port): docs/IRC.md
        for sock, context in ports.irc:
            self._listen(sock, gate, context)
            host, bound = sock.getsockname()[:2]
            self.irc_addresses.append((str(host), int(bound), context is not None))
            kind = " (IRC, TLS)" if context is not None else " (IRC)"
            log.info(
                "IRC listening on %s%s as %s",
                format_peer((host, bound)),
                kind,
                self.irc.format.name,
            )

    def _listen(self, sock: socket.socket, gate: Gate, context: ssl.SSLContext | None) -> None:
        start_listening(sock)
        timeout = self.config.tls_handshake_timeout
        self.listeners.append(Listener(sock, gate, context, timeout, proxies=self.proxies))

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
        log.info("stopping: %s", plural(len(self.connections), "connection"))
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
