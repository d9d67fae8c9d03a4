"""The three scenarios: fan-out throughput, latency at a fixed rate, capacity. Each runs against
one started server and returns a ``Result`` of named figures.

Specs are written ``KIND:KEY=VALUE,...`` (``fanout:C=100,S=10,M=500``) with the keys
C clients, S senders, M messages per sender, P text bytes, W window, R messages per second in
all, D seconds, K connections, J joins in flight.
"""

from __future__ import annotations

import asyncio
import resource
import time
from array import array
from dataclasses import dataclass, field, fields
from typing import Any, Union

from .peer import Peer, Progress, Sender, join_all
from .servers import RunningServer
from .stats import Loss, Spread, Tally

# Joins in flight at once (J); connections waiting to be accepted stay under the backlog.
JOIN_CONCURRENCY = 100
JOIN_TIMEOUT_S = 60.0
# All joins of one scenario: keeps `make bench` bounded when a server slows down with its size.
JOIN_ALL_TIMEOUT_S = 150.0
SETTLE_QUIET_S = 0.3
SETTLE_LIMIT_S = 60.0
PACE_S = 0.001
# Generous per message, bounded in all: a run that loses messages ends, it does not hang.
MIN_WAIT_S = 20.0


@dataclass(frozen=True)
class Fanout:
    """C clients join; S of them each send M messages of P bytes, at most W unacknowledged."""

    C: int = 100
    S: int = 10
    M: int = 500
    P: int = 100
    W: int = 8
    J: int = JOIN_CONCURRENCY
    kind: str = field(default="fanout", init=False)

    @property
    def title(self) -> str:
        return f"fanout C={self.C} S={self.S} M={self.M} P={self.P} W={self.W}"


@dataclass(frozen=True)
class Latency:
    """C clients join; S of them send R messages a second in all, for D seconds."""

    C: int = 100
    S: int = 10
    R: int = 1000
    D: float = 5.0
    P: int = 100
    J: int = JOIN_CONCURRENCY
    kind: str = field(default="latency", init=False)

    @property
    def title(self) -> str:
        return f"latency C={self.C} R={self.R}/s D={self.D:g}s P={self.P}"


@dataclass(frozen=True)
class Capacity:
    """K clients join; then one message must reach the K-1 others."""

    K: int = 1000
    P: int = 100
    J: int = JOIN_CONCURRENCY
    kind: str = field(default="capacity", init=False)

    @property
    def title(self) -> str:
        return f"capacity K={self.K}"


Spec = Union[Fanout, Latency, Capacity]
_KINDS: dict[str, type[Fanout] | type[Latency] | type[Capacity]] = {
    "fanout": Fanout,
    "latency": Latency,
    "capacity": Capacity,
}


def parse_spec(text: str) -> Spec:
    """``fanout:C=100,S=10,M=500`` -> Fanout(C=100, S=10, M=500). ValueError with the reason."""
    kind, _, rest = text.strip().partition(":")
    cls = _KINDS.get(kind.strip().lower())
    if cls is None:
        raise ValueError(f"unknown scenario {kind!r} (fanout, latency, capacity)")
    known = {f.name for f in fields(cls) if f.init}
    values: dict[str, Any] = {}
    for item in filter(None, (part.strip() for part in rest.split(","))):
        key, sep, value = item.partition("=")
        key = key.strip().upper()
        if not sep or key not in known:
            raise ValueError(f"{kind}: unknown setting {item!r} (known: {', '.join(known)})")
        number = float(value) if key == "D" else int(value)
        if number <= 0:
            raise ValueError(f"{kind}: {key} must be positive")
        values[key] = number
    spec: Spec = cls(**values)
    if isinstance(spec, (Fanout, Latency)) and not 1 <= spec.S < spec.C:
        raise ValueError(f"{kind}: need 1 <= S < C")
    if isinstance(spec, Capacity) and spec.K < 2:
        raise ValueError("capacity: need K >= 2")
    return spec


@dataclass
class Result:
    """The figures of one scenario against one server; ``error`` says why a run failed."""

    scenario: str
    kind: str
    target: str
    figures: dict[str, float] = field(default_factory=dict)
    error: str = ""


async def run(spec: Spec, server: RunningServer) -> Result:
    result = Result(spec.title, spec.kind, server.target.name)
    try:
        if isinstance(spec, Fanout):
            await _fanout(spec, server, result)
        elif isinstance(spec, Latency):
            await _latency(spec, server, result)
        else:
            await _capacity(spec, server, result)
    except (OSError, RuntimeError, asyncio.TimeoutError) as exc:
        result.error = f"{type(exc).__name__}: {exc}"
    return result


class _Clock:
    """Wall time, server CPU and generator CPU over one measured stretch."""

    def __init__(self, server: RunningServer) -> None:
        self.server = server
        self.start = time.monotonic()
        self.server_cpu = server.cpu_seconds()
        self.own_cpu = _own_cpu()

    def figures(self, end: float) -> dict[str, float]:
        elapsed = max(end - self.start, 1e-9)
        user, system = self.server.cpu_seconds()
        user, system = user - self.server_cpu[0], system - self.server_cpu[1]
        return {
            "seconds": elapsed,
            "server_cpu_s": user + system,
            "server_cpu_pct": 100 * (user + system) / elapsed,
            "server_sys_share_pct": 100 * system / (user + system) if user + system else 0.0,
            "generator_cpu_pct": 100 * (_own_cpu() - self.own_cpu) / elapsed,
        }


def _own_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


async def _join(peers: list[Peer], server: RunningServer, result: Result, spec: Spec) -> None:
    start = time.monotonic()
    # The kernel drops SYNs past the listener's backlog and the client then retries after 1 s,
    # 3 s, 7 s...: keep fewer connections than that waiting for the server's first bytes.
    unanswered = max(1, min(spec.J, server.target.backlog - 2))
    took, failures = await join_all(
        "127.0.0.1", server.port, peers, spec.J, unanswered, JOIN_TIMEOUT_S, JOIN_ALL_TIMEOUT_S
    )
    result.figures["join_s"] = time.monotonic() - start
    result.figures["joined"] = len(took)
    spread = Spread.of(took)
    result.figures["join_p50_ms"] = spread.p50 * 1000
    result.figures["join_p99_ms"] = spread.p99 * 1000
    if failures:
        more = f" (and {len(failures) - 3} more)" if len(failures) > 3 else ""
        raise RuntimeError(f"{len(failures)} clients did not join: {failures[:3]}{more}")
    await _settle(peers)


async def _settle(peers: list[Peer]) -> None:
    """Wait until nothing has arrived for a moment: the join notices are all read."""
    deadline = time.monotonic() + SETTLE_LIMIT_S
    last = -1
    while time.monotonic() < deadline:
        seen = sum(peer.bytes_in for peer in peers)
        if seen == last:
            return
        last = seen
        await asyncio.sleep(SETTLE_QUIET_S)


async def _wait(progress: Progress, seconds: float) -> None:
    try:
        await asyncio.wait_for(progress.done.wait(), seconds)
    except asyncio.TimeoutError:
        progress.fail(f"timed out after {seconds:.0f}s")


def _loss_figures(result: Result, loss: Loss) -> None:
    result.figures.update(
        expected=loss.expected,
        received=loss.received,
        lost=loss.lost,
        duplicates=loss.duplicates,
        disorder=loss.disorder,
    )


def _check(
    peers: list[Peer], senders: int, messages: int, latencies: array[int] | None = None
) -> Loss:
    total = Loss(0, 0, 0, 0, 0)
    for peer in peers:
        if peer.tally is not None:
            total += peer.tally.check(senders, messages, peer.index, latencies)
    return total


def _close(peers: list[Peer]) -> None:
    for peer in peers:
        peer.close()


async def _fanout(spec: Fanout, server: RunningServer, result: Result) -> None:
    dialect = server.target.dialect
    expected = spec.S * spec.M * (spec.C - 1)
    progress = Progress(expected + (spec.S * spec.M if dialect.echoes else 0))
    peers = [
        Peer(
            i,
            dialect,
            Tally(),
            progress,
            Sender(i, spec.M, spec.W, spec.P) if i < spec.S else None,
        )
        for i in range(spec.C)
    ]
    try:
        await _join(peers, server, result, spec)
        bytes_before = sum(peer.bytes_in for peer in peers)
        clock = _Clock(server)
        for peer in peers[: spec.S]:
            peer.windowed = True
            peer.pump()
        await _wait(progress, max(MIN_WAIT_S, expected / 20_000))
        end = progress.finished_at or time.monotonic()
        result.figures.update(clock.figures(end))
        elapsed = result.figures["seconds"]
        loss = _check(peers, spec.S, spec.M)
        _loss_figures(result, loss)
        result.figures["deliveries_per_s"] = loss.received / elapsed
        result.figures["messages_per_s"] = spec.S * spec.M / elapsed
        cpu = result.figures["server_cpu_s"]
        result.figures["deliveries_per_cpu_s"] = loss.received / cpu if cpu > 0 else 0.0
        received = sum(peer.bytes_in for peer in peers) - bytes_before
        result.figures["mib_per_s"] = received / elapsed / 2**20
        rss, hwm = server.memory_kib()
        result.figures["rss_mib"] = rss / 1024
        if progress.failure:
            result.error = progress.failure
    finally:
        _close(peers)


async def _latency(spec: Latency, server: RunningServer, result: Result) -> None:
    dialect = server.target.dialect
    per_sender = max(1, round(spec.R * spec.D / spec.S))
    total = per_sender * spec.S
    expected = total * (spec.C - 1)
    progress = Progress(expected + (total if dialect.echoes else 0))
    samples: array[int] = array("q")
    peers = [
        Peer(
            i,
            dialect,
            Tally(),
            progress,
            Sender(i, per_sender, 0, spec.P) if i < spec.S else None,
        )
        for i in range(spec.C)
    ]
    try:
        await _join(peers, server, result, spec)
        clock = _Clock(server)
        start = time.monotonic()
        deadline = start + spec.D * 3 + MIN_WAIT_S
        sent = 0
        while sent < total and not progress.done.is_set() and time.monotonic() < deadline:
            due = min(total, int((time.monotonic() - start) * spec.R) + 1)
            while sent < due:
                peers[sent % spec.S].send_one()
                sent += 1
            # Event loops time in whole milliseconds: a shorter sleep would spin.
            await asyncio.sleep(PACE_S)
        sending = time.monotonic() - start
        await _wait(progress, max(MIN_WAIT_S, spec.D * 2))
        end = progress.finished_at or time.monotonic()
        result.figures.update(clock.figures(end))
        result.figures["rate"] = sent / max(sending, 1e-9)
        loss = _check(peers, spec.S, per_sender, samples)
        _loss_figures(result, loss)
        spread = Spread.of(samples)
        result.figures["p50_ms"] = spread.p50 / 1000
        result.figures["p99_ms"] = spread.p99 / 1000
        result.figures["max_ms"] = spread.max / 1000
        if progress.failure:
            result.error = progress.failure
    finally:
        _close(peers)


async def _capacity(spec: Capacity, server: RunningServer, result: Result) -> None:
    dialect = server.target.dialect
    progress = Progress(spec.K - 1 + (1 if dialect.echoes else 0))
    peers = [
        Peer(
            i,
            dialect,
            Tally(),
            progress,
            Sender(0, 1, 1, spec.P) if i == 0 else None,
        )
        for i in range(spec.K)
    ]
    try:
        base, _ = server.memory_kib()
        result.figures["rss_base_mib"] = base / 1024
        await _join(peers, server, result, spec)
        rss, _ = server.memory_kib()
        result.figures["rss_mib"] = rss / 1024
        result.figures["kib_per_conn"] = (rss - base) / spec.K
        start = time.monotonic()
        peers[0].send_one()
        await _wait(progress, MIN_WAIT_S + spec.K / 1000)
        end = progress.finished_at or time.monotonic()
        result.figures["reach_ms"] = (end - start) * 1000
        loss = _check(peers, 1, 1)
        result.figures["reached"] = loss.received
        result.figures["lost"] = loss.lost
        _, hwm = server.memory_kib()
        result.figures["hwm_mib"] = hwm / 1024
        if progress.failure:
            result.error = progress.failure
    finally:
        _close(peers)
