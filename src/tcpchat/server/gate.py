"""The server's side of the listeners' ``Gate``: who may connect, counted before any work is done.

``Admitting`` is the part of ``ChatServer`` (``app.py``) that each accepted socket meets first:
the hub's and the abuse penalties' refusals, the connection limits (``admission.py``), the cap on
TLS handshakes in progress (the oldest is cut short for a new one, its place given back at once),
the pause of every listener near the open-file limit, and the refusals' log (one line a second
in a storm). The IRC listeners' gate (``irc.py``) goes through the same methods.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import socket
import time

from ..core.guard import Strikes
from ..core.hub import Hub
from ..core.limits import (
    ABUSE_FORGET_S,
    ABUSE_PENALTY_MAX_S,
    ABUSE_PENALTY_S,
    REFUSAL_LOG_INTERVAL_S,
)
from .admission import PROXY_HEADER, Admission, Tally, format_peer, origin_of, refusal_line
from .config import ServerConfig
from .connection import GIVEN_BACK, Connection
from .listeners import Listener
from .logs import LOGGER_NAME

log = logging.getLogger(LOGGER_NAME)

# Why a TLS connection is refused when the handshakes in progress are at their cap and none can
# be cut short for it (they all began this instant): for the log, a TLS peer is told nothing.
TLS_BUSY = "Too many TLS handshakes in progress."


class Admitting:
    """Counts connections in and out for ``ChatServer``; ``hub`` is set by it before a listener
    starts, ``listeners`` filled as they open."""

    config: ServerConfig
    hub: Hub

    def __init__(self, config: ServerConfig) -> None:
        self.admission = Admission(config.max_connections, config.max_per_ip)
        # Sessions ended for abuse, per origin: each delays the origin's next connection.
        self.penalties = Strikes(
            0, ABUSE_PENALTY_S, ABUSE_PENALTY_MAX_S, forget_after=ABUSE_FORGET_S
        )
        # Open files the connections may use before the listeners pause (0: no limit known).
        self.fd_budget = 0
        self.listeners: list[Listener] = []
        self._listening = True
        self._refusals = Tally(REFUSAL_LOG_INTERVAL_S)

    def admit_socket(
        self, sock: socket.socket, peer: object, tls: bool, proxy: bool = False, irc: bool = False
    ) -> str | None:
        """Count an accepted socket in before anything is done for it, or refuse it: the peer of
        a plain listener is told why in one line (``irc``: an IRC ``ERROR``). Returns the origin
        it counts under (``proxy``: a proxy's, whose PROXY header is to be read: PROXY_HEADER)."""
        if not isinstance(peer, tuple) or not peer:
            return None  # not an internet socket
        origin = PROXY_HEADER if proxy else origin_of(str(peer[0]), self.config.ipv6_prefix)
        now = time.time()
        if proxy:
            refusal = self.admission.admit_header()
        else:
            refusal = (
                self.hub.refusal(origin, now)
                or self._penalty(origin, now)
                or self.admission.over_its_limit(origin)  # (before cutting another one short)
                or (TLS_BUSY if tls and not self._evict_handshake() else None)
                or self.admission.admit(origin, tls)
            )
        if refusal is not None:
            self._log_refusal(format_peer(peer), refusal)
            if not tls:
                with contextlib.suppress(OSError):
                    sock.send(refusal_line(refusal, irc))
            return None
        if self.fd_budget and self.admission.total >= self.fd_budget:
            self._pause_listeners()
        return origin

    def header_read(self) -> None:
        self._release(PROXY_HEADER)

    def abandon(self, protocol: asyncio.Protocol) -> None:
        if isinstance(protocol, Connection) and protocol.transport is None and protocol.origin:
            if protocol.tls:
                self.admission.handshake_over()
            self._release(protocol.origin)
            protocol.origin = GIVEN_BACK  # once, by whoever comes first

    def handshake_wait(self) -> bool:
        if not self.admission.handshakes_full:
            return False
        listeners = self.listeners
        return not any(each.in_handshake for each in listeners) and any(
            each.has_fresh for each in listeners
        )

    def _evict_handshake(self) -> bool:
        """Room for a TLS handshake: below the cap, or the oldest one in progress is cut short
        and its place given back now; False if there is none to cut."""
        if not self.admission.handshakes_full:
            return True
        found = [(oldest, each) for each in self.listeners if (oldest := each.oldest_handshake())]
        if not found:
            return False
        (_, task), listener = min(found, key=lambda pair: pair[0][0])
        self.abandon(listener.cut_short(task))
        return True

    def penalise(self, origin: str) -> None:
        """A session from ``origin`` was ended for abuse: its next connection waits."""
        self.penalties.failed(origin, time.time())

    def _penalty(self, origin: str, now: float) -> str | None:
        wait = self.penalties.wait(origin, now)
        if not wait:
            return None
        return f"Disconnected for abuse from your address: try again in {math.ceil(wait)} s."

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
