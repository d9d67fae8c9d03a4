"""Who may connect: connections counted per origin and in all, before any work is done for them.

The listener (``listeners.py``) asks ``Admission.admit`` right after ``accept()``, before a TLS
handshake or a session exists, and ``release`` gives the place back when the connection ends,
however it ends. An *origin* is what one attacker cannot easily multiply: an IPv4 address, or the
/64 network of an IPv6 address (one host usually gets a whole /64, so counting single IPv6
addresses would not limit it at all). Plain data and no clock: the caller passes ``now``.
"""

from __future__ import annotations

import ipaddress

from ..core import limits

# What a connection from a proxy of --proxy-from counts under while its PROXY header is read
# (not an address, so it meets no address's limit; the total counts it).
PROXY_HEADER = "(PROXY header)"


def origin_of(ip: str, v6_prefix: int = limits.IPV6_ORIGIN_PREFIX) -> str:
    """The origin an address counts under: the IPv4 address itself (also when it arrives as
    ``::ffff:a.b.c.d``), the ``/v6_prefix`` network of an IPv6 address, or ``ip`` unchanged when
    it is not an address (a Unix socket, a test)."""
    try:
        address = ipaddress.ip_address(ip.split("%", 1)[0])
    except ValueError:
        return ip
    if isinstance(address, ipaddress.IPv6Address):
        mapped = address.ipv4_mapped
        if mapped is not None:
            return str(mapped)
        if v6_prefix < 128:
            network = ipaddress.IPv6Network((address, v6_prefix), strict=False)
            return str(network)
    return str(address)


def refusal_line(refusal: str, irc: bool = False) -> bytes:
    """What the peer of a plain listener is told when it is refused: one line (``irc``: an IRC
    ``ERROR``), before its connection is closed."""
    return (f"ERROR :Closing link: {refusal}\r\n" if irc else f"!!! {refusal}\n").encode()


def format_peer(peer: object) -> str:
    """A peer address for the log: ``127.0.0.1:5000``, ``[::1]:5000``, or ``?``."""
    if not isinstance(peer, tuple) or len(peer) < 2:
        return "?"
    host, port = str(peer[0]), peer[1]
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


class Admission:
    """Counts connections from the moment they are accepted until they are gone.

    ``total`` includes connections still in their TLS handshake, so a flood of silent handshakes
    meets the same limits as a flood of silent plain connections; ``handshakes`` counts those,
    whose memory the server bounds by ``max_handshakes`` whatever the number of attacking
    addresses (the oldest is cut short to make room for a new one).
    """

    __slots__ = (
        "max_total",
        "max_per_origin",
        "max_handshakes",
        "total",
        "per_origin",
        "handshakes",
        "closed",
    )

    def __init__(
        self, max_total: int, max_per_origin: int, max_handshakes: int = limits.MAX_TLS_HANDSHAKES
    ) -> None:
        self.max_total = max_total
        self.max_per_origin = max_per_origin
        self.max_handshakes = max_handshakes
        self.total = 0
        self.per_origin: dict[str, int] = {}
        self.handshakes = 0
        self.closed = False  # the server is stopping: nobody new

    def refusal(self, origin: str | None, tls: bool = False) -> str | None:
        """Why a connection from ``origin`` (``tls``: one that starts with a TLS handshake;
        None: from no address yet) cannot be taken now, a sentence for the peer; None if it
        can."""
        if self.closed:
            return "The server is shutting down."
        if self.total >= self.max_total:
            return f"Server full ({self.max_total} connections). Try again later."
        return None if origin is None else self.over_its_limit(origin)

    def over_its_limit(self, origin: str) -> str | None:
        """Why ``origin`` may not open another connection, whatever the total; None if it may."""
        if self.per_origin.get(origin, 0) >= self.max_per_origin:
            return f"Too many connections from your address (limit {self.max_per_origin})."
        return None

    @property
    def handshakes_full(self) -> bool:
        """True when ``max_handshakes`` TLS handshakes are in progress: before another is
        admitted, the oldest must go (``Listener.evict_oldest``)."""
        return self.handshakes >= self.max_handshakes

    def admit(self, origin: str, tls: bool = False) -> str | None:
        """Count a connection from ``origin`` in (and its TLS handshake), or say why it is
        refused (then nothing is counted)."""
        refusal = self.refusal(origin, tls)
        if refusal is None:
            self.enter(origin)
            self.handshakes += tls
        return refusal

    def admit_header(self) -> str | None:
        """Count a connection from a proxy in while its PROXY header is read, under
        ``PROXY_HEADER``: the total applies, no address's limit (the header names the address,
        whose limits apply once it is read). Or say why it is refused."""
        refusal = self.refusal(None)
        if refusal is None:
            self.enter(PROXY_HEADER)
        return refusal

    def handshake_over(self) -> None:
        """A TLS handshake counted by ``admit`` finished, or failed."""
        self.handshakes = max(self.handshakes - 1, 0)

    def enter(self, origin: str) -> None:
        """Count a connection in without checking the limits (one already accepted elsewhere)."""
        self.total += 1
        self.per_origin[origin] = self.per_origin.get(origin, 0) + 1

    def release(self, origin: str) -> None:
        """A connection counted in by ``admit`` or ``enter`` is gone."""
        count = self.per_origin.get(origin, 0)
        if count <= 0:
            return
        self.total -= 1
        if count == 1:
            del self.per_origin[origin]
        else:
            self.per_origin[origin] = count - 1


class Tally:
    """Counts occurrences of something worth a log line, and says when to write one: the first
    at once, then at most one per ``interval`` seconds, carrying the count of those in between.

    A storm of refusals or failed accepts then costs the log one line per interval, not one per
    event.
    """

    __slots__ = ("interval", "_logged_at", "_unlogged")

    def __init__(self, interval: float) -> None:
        self.interval = interval
        self._logged_at: float | None = None
        self._unlogged = 0

    def tick(self, now: float) -> int | None:
        """Count one. Returns None when this one should not be logged, else how many were not
        logged since the last line (the caller writes one line that mentions them)."""
        if self._logged_at is not None and now - self._logged_at < self.interval:
            self._unlogged += 1
            return None
        skipped, self._unlogged = self._unlogged, 0
        self._logged_at = now
        return skipped
