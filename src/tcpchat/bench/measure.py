"""What every scenario shares: its ``Result``, the clock over a measured stretch (wall time,
server CPU, generator CPU), joining the clients, waiting for the counts, and the accounting of
loss."""

from __future__ import annotations

import asyncio
import resource
import time
from array import array
from collections.abc import Sequence
from collections.abc import Set as AbstractSet
from dataclasses import dataclass, field
from typing import Callable

from .cluster import NODE_NAMES
from .peer import Peer, Progress, join_all
from .servers import Running
from .stats import Loss, Spread

JOIN_TIMEOUT_S = 60.0
# All joins of one scenario: keeps `make bench` bounded when a server slows down with its size.
JOIN_ALL_TIMEOUT_S = 150.0
SETTLE_QUIET_S = 0.3
SETTLE_LIMIT_S = 60.0
PACE_S = 0.001
# Generous per message, bounded in all: a run that loses messages ends, it does not hang.
MIN_WAIT_S = 20.0


@dataclass
class Result:
    """The figures of one scenario against one server; ``error`` says why a run failed."""

    scenario: str
    kind: str
    target: str
    figures: dict[str, float] = field(default_factory=dict)
    error: str = ""


class Clock:
    """Wall time, server CPU and generator CPU over one measured stretch."""

    def __init__(self, server: Running) -> None:
        self.server = server
        self.start = time.monotonic()
        self.server_cpu = server.cpu_seconds()
        self.redis_cpu = _redis_cpu(server)
        self.own_cpu = _own_cpu()
        self.node_cpu = _node_cpu(server)

    def figures(self, end: float) -> dict[str, float]:
        elapsed = max(end - self.start, 1e-9)
        user, system = self.server.cpu_seconds()
        user, system = user - self.server_cpu[0], system - self.server_cpu[1]
        figures = {
            "seconds": elapsed,
            "server_cpu_s": user + system,
            "server_cpu_pct": 100 * (user + system) / elapsed,
            "server_sys_share_pct": 100 * system / (user + system) if user + system else 0.0,
            "generator_cpu_pct": 100 * (_own_cpu() - self.own_cpu) / elapsed,
        }
        if self.redis_cpu is not None:
            # A cluster's server side is its nodes and its Redis: Redis's part of it, alone.
            redis = (_redis_cpu(self.server) or 0.0) - self.redis_cpu
            figures["redis_cpu_pct"] = 100 * redis / elapsed
        for name, now, then in zip(NODE_NAMES, _node_cpu(self.server), self.node_cpu):
            figures[f"node_{name}_cpu_pct"] = 100 * (now - then) / elapsed
        return figures


def _node_cpu(server: Running) -> list[float]:
    """CPU seconds of each node of a cluster (none for a single server)."""
    return [sum(node.cpu_seconds()) for node in getattr(server, "servers", ())]


def _redis_cpu(server: Running) -> float | None:
    """CPU seconds of a cluster's Redis (None for a single server)."""
    reading = getattr(server, "redis_cpu_seconds", None)
    return sum(reading()) if reading is not None and server.nodes else None


def _own_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def node_of_index(nodes: int) -> Callable[[int], int]:
    """Clients split over ``nodes`` in turn: client ``i`` on node ``i % nodes``."""
    return lambda index: index % nodes


async def join(
    peers: list[Peer],
    server: Running,
    result: Result,
    joins_in_flight: int,
    node_of: Callable[[int], int] | None = None,
) -> None:
    """Connect and join every peer (``join_s``, ``joined``, ``join_p50_ms``, ``join_p99_ms``),
    then wait until the notices of all those joins are read. RuntimeError if some failed.
    On a cluster, peer ``i`` joins node ``node_of(i)`` (default: the nodes in turn)."""
    placed = node_of or node_of_index(server.nodes)
    start = time.monotonic()
    # The kernel drops SYNs past the listener's backlog and the client then retries after 1 s,
    # 3 s, 7 s...: keep fewer connections than that waiting for the server's first bytes.
    unanswered = max(1, min(joins_in_flight, server.target.backlog - 2))
    took, failures = await join_all(
        "127.0.0.1",
        lambda peer: server.port_for(peer.dialect, placed(peer.index)),
        peers,
        joins_in_flight,
        unanswered,
        JOIN_TIMEOUT_S,
        JOIN_ALL_TIMEOUT_S,
    )
    result.figures["join_s"] = time.monotonic() - start
    result.figures["joined"] = len(took)
    spread = Spread.of(took)
    result.figures["join_p50_ms"] = spread.p50 * 1000
    result.figures["join_p99_ms"] = spread.p99 * 1000
    if failures:
        more = f" (and {len(failures) - 3} more)" if len(failures) > 3 else ""
        raise RuntimeError(f"{len(failures)} clients did not join: {failures[:3]}{more}")
    await settle(peers)


async def settle(peers: Sequence[Peer]) -> None:
    """Wait until nothing has arrived for a moment: the join notices are all read."""
    deadline = time.monotonic() + SETTLE_LIMIT_S
    last = -1
    while time.monotonic() < deadline:
        seen = sum(peer.bytes_in for peer in peers)
        if seen == last:
            return
        last = seen
        await asyncio.sleep(SETTLE_QUIET_S)


async def wait(progress: Progress, seconds: float) -> None:
    """Until ``progress`` is done, or fail it after ``seconds``."""
    try:
        await asyncio.wait_for(progress.done.wait(), seconds)
    except asyncio.TimeoutError:
        progress.fail(f"timed out after {seconds:.0f}s")


def loss_figures(result: Result, loss: Loss) -> None:
    result.figures.update(
        expected=loss.expected,
        received=loss.received,
        lost=loss.lost,
        duplicates=loss.duplicates,
        disorder=loss.disorder,
    )


def check(
    peers: Sequence[Peer],
    senders: int,
    messages: int,
    latencies: array[int] | None = None,
    heard: Sequence[AbstractSet[int] | None] = (),
) -> Loss:
    """The sum of every peer's accounting; ``heard[i]``: the senders peer ``i`` hears."""
    total = Loss(0, 0, 0, 0, 0)
    for peer in peers:
        if peer.tally is not None:
            expect = heard[peer.index] if heard else None
            total += peer.tally.check(senders, messages, peer.index, latencies, expect)
    return total


def close(peers: Sequence[Peer]) -> None:
    for peer in peers:
        peer.close()
