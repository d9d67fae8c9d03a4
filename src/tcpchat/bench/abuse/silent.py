"""Silent connections (issue 11, finding 1): thousands of TCP connections that never send a
byte, to the TLS listener or the plain one, from one address or from many.

The attack opens them all, holds them for the phase and watches each one: when did the server
close it (a refusal or a timeout), if at all. Meanwhile a new ordinary user tries to join every
two seconds, on the plain port and, with TLS, on the TLS port too.
"""

from __future__ import annotations

import asyncio
import math
import socket
import ssl
import time

from . import defaults
from .net import Refused, connect_socket, join, sources
from .phase import USERS, Arena, Attack
from .targets import ATTACKER_STOPPED_S, HELD_ALLOWED, JOIN_WORST_MS

SILENT_CONNECTIONS = 5000
CONNECTS_IN_FLIGHT = 250
CHECK_EVERY_S = 0.25  # how often every silent socket is looked at (the precision of "closed")
PROBE_EVERY_S = 2.0
PROBE_TIMEOUT_S = 3.0


class Silent:
    """One silent connection: its socket, when it was opened, when the server closed it."""

    __slots__ = ("sock", "opened", "closed", "refusal")

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.opened = time.monotonic()
        self.closed = math.inf
        self.refusal = b""  # what the server said before closing, if anything

    def look(self, now: float) -> None:
        """Take what the server sent; note the time if it has closed the connection."""
        while True:
            try:
                data = self.sock.recv(65536)
            except (BlockingIOError, InterruptedError):
                return
            except OSError:  # reset
                self.closed = now
                return
            if not data:
                self.closed = now
                return
            if not self.refusal:
                self.refusal = data[:80]


def excess_refused_after(delays: list[float], total: int, allowed: int) -> float:
    """Seconds until the server had closed every connection beyond the ``allowed`` ones it may
    hold (the quickest closures count first); 0.0 if none was beyond, inf if never."""
    excess = total - allowed
    if excess <= 0:
        return 0.0
    ordered = sorted(delays)
    return ordered[excess - 1] if len(ordered) >= excess else math.inf


def silent(
    count: int = SILENT_CONNECTIONS,
    addresses: int = 1,
    tls: bool = False,
    max_per_ip: int = defaults.MAX_CONNECTIONS_PER_IP,
    max_connections: int = defaults.MAX_CONNECTIONS,
) -> Attack:
    """``count`` silent connections from ``addresses`` loopback addresses to the TLS port (or
    the plain one), under the server's ``max_per_ip`` and ``max_connections``."""

    async def attack(arena: Arena) -> None:
        phase = arena.phase
        port = arena.tls_port if tls else arena.port
        froms = sources(addresses)
        allowed = min(count, addresses * max_per_ip, max_connections - USERS)
        phase.fact(HELD_ALLOWED, allowed)
        held: list[Silent] = []
        failed = 0
        gate = asyncio.Semaphore(CONNECTS_IN_FLIGHT)

        async def open_one(k: int) -> None:
            nonlocal failed
            async with gate:
                if arena.over():
                    return
                try:
                    held.append(Silent(await connect_socket(port, froms[k % addresses])))
                except (OSError, asyncio.TimeoutError):
                    failed += 1

        async def watch() -> None:
            while not arena.over():
                now = time.monotonic()
                for conn in held:
                    if math.isinf(conn.closed):
                        conn.look(now)
                await arena.pause(CHECK_EVERY_S)

        watcher = asyncio.ensure_future(watch())
        started = time.monotonic()
        probes = asyncio.ensure_future(_probe(arena, tls))
        try:
            await asyncio.gather(*(open_one(k) for k in range(count)))
            phase.note(f"{len(held)} opened in {time.monotonic() - started:.1f} s")
            if failed:
                phase.count("connects that failed", failed)
            await arena.pause(math.inf)
            await asyncio.gather(watcher, probes)
        finally:
            watcher.cancel()
            probes.cancel()
            for conn in held:
                conn.sock.close()
        delays = [c.closed - c.opened for c in held if not math.isinf(c.closed)]
        quick = sum(1 for d in delays if d <= 2.0)
        # What the server said to the connections it closed (the held ones only got a welcome).
        refusals = {
            c.refusal.split(b"\n", 1)[0].decode("utf-8", "replace")
            for c in held
            if c.refusal and not math.isinf(c.closed)
        }
        phase.note(
            f"closed by the server: {len(delays)} of {len(held)} ({quick} within 2 s), "
            f"held to the end: {len(held) - len(delays)}"
        )
        if refusals:
            phase.note("it said: " + " / ".join(sorted(refusals))[:160])
        phase.fact(ATTACKER_STOPPED_S, excess_refused_after(delays, len(held), allowed))

    return attack


async def _probe(arena: Arena, tls: bool) -> None:
    """A new ordinary user joins every PROBE_EVERY_S (plain port, and TLS port with TLS)."""
    phase = arena.phase
    await arena.pause(1.0)  # the silent connections are mostly open by then
    times: dict[str, list[float]] = {"plain": [], "TLS": []}
    k = 0
    while not arena.over():
        ports: list[tuple[str, int, ssl.SSLContext | None]] = [("plain", arena.port, None)]
        if tls:
            ports.append(("TLS", arena.tls_port, arena.tls))
        for kind, port, context in ports:
            k += 1
            start = time.monotonic()
            try:
                _, writer = await join(port, f"newcomer{k}", tls=context, timeout=PROBE_TIMEOUT_S)
                times[kind].append((time.monotonic() - start) * 1000)
                writer.close()
            except (Refused, OSError, asyncio.TimeoutError):
                times[kind].append(math.inf)
        await arena.pause(PROBE_EVERY_S)
    worst = -1.0
    for kind, measured in times.items():
        if not measured:
            continue
        ok = [t for t in measured if not math.isinf(t)]
        worst = max(worst, max(measured))
        best = f", worst {max(ok):.0f} ms" if ok else ""
        phase.note(f"new users ({kind}): {len(ok)} of {len(measured)} got in{best}")
    if worst >= 0:
        phase.fact(JOIN_WORST_MS, worst)
