"""The scenarios, and which of them each server runs. Fan-out throughput, latency at a fixed
rate (the steady load), both also in a mixed room (half native, half IRC clients), and capacity
are here; rooms and the join storm in ``rooms.py`` and
``storm.py``, history replay and search in ``replay.py``. Each runs against one started server
and returns a ``Result`` of named figures. Specs are parsed in ``specs.py``.
"""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
import time
from array import array
from collections.abc import Awaitable
from pathlib import Path
from typing import Callable

from ..server.store_db import DB_FILE
from . import redis_log, replay, rooms, storm
from .cluster import RunningCluster, command
from .dialects import OURS_IRC, ChatDialect, Dialect
from .measure import (
    MIN_WAIT_S,
    PACE_S,
    Clock,
    Result,
    check,
    close,
    join,
    loss_figures,
    node_of_index,
    wait,
)
from .peer import Peer, Progress, Sender
from .servers import Running, Target, keeps_history
from .specs import (
    Capacity,
    Cross,
    Fanout,
    Latency,
    Mixed,
    MixedLatency,
    Pause,
    RedisLog,
    Replay,
    Rooms,
    Spec,
    Storm,
    parse_spec,
)
from .stats import Spread, Tally

__all__ = [
    "Capacity",
    "Cross",
    "Fanout",
    "Latency",
    "Mixed",
    "MixedLatency",
    "Pause",
    "RedisLog",
    "Replay",
    "Result",
    "Rooms",
    "Spec",
    "Storm",
    "applies",
    "after_stop",
    "parse_spec",
    "prepare",
    "run",
    "server_args",
]

# Where storing history may cost something: messages are said. Elsewhere a server without
# history would only repeat the run of the same server with it.
_HISTORY_COMPARED = frozenset({"fanout", "latency", "rooms"})
# What our server's IRC port runs: the one-room scenarios, and the mixed room (which needs it).
_IRC_RUNS = frozenset({"fanout", "latency", "mixed", "mixed-latency"})
_MIXED = frozenset({"mixed", "mixed-latency"})
# Cluster targets run the one-room scenarios (across their nodes) and the cluster's own; a single
# node in cluster mode the fan-out and the latency, to compare with the standalone server.
_CLUSTER_RUNS = frozenset({"fanout", "latency", "cross", "pause"})
_TWO_NODES = frozenset({"cross", "pause"})

# Who speaks what in a mixed room: even client indices native (JSON), odd ones IRC, so that
# senders (indices 0 to S-1) are half of each kind.
NATIVE = ChatDialect()


def mixed_dialect(index: int) -> Dialect:
    return OURS_IRC if index % 2 else NATIVE


DialectOf = Callable[[int], Dialect]


def applies(spec: Spec, target: Target) -> str:
    """Why ``target`` does not run ``spec``, or '' if it does."""
    if target.kind == "redis" or isinstance(spec, RedisLog):
        if target.kind != "redis" or not isinstance(spec, RedisLog):
            return "the Redis log's throughput is measured on the redis target only"
        return ""
    if target.nodes:
        if spec.kind not in _CLUSTER_RUNS:
            return "cluster targets run fanout, latency, cross and pause only"
        if spec.kind in _TWO_NODES and target.nodes < 2:
            return "needs two nodes (ours-cluster2-*)"
        return ""
    if isinstance(spec, Cross):
        if target.kind != "ours" or target.irc or not target.history:
            return "one to thousands: our native server with history, single or cluster"
        return ""
    if spec.kind == "pause":
        return "a cluster scenario: cluster targets only (ours-cluster2-*)"
    if isinstance(spec, Replay):
        if target.kind != "ours" or not target.history:
            return "replays history: only our server with history on"
        if not keeps_history():
            return "this server keeps no history yet"
    if target.kind == "ours" and not target.history and spec.kind not in _HISTORY_COMPARED:
        return "no message is stored here: the same as with history"
    if spec.kind in _MIXED and not target.irc:
        return "a mixed room needs our server's IRC port (ours-irc-*)"
    if target.irc and spec.kind not in _IRC_RUNS:
        return "the IRC port runs the one-room and mixed-room scenarios only"
    return ""


def server_args(spec: Spec, target: Target) -> list[str]:
    """Our server's flags that ``spec`` asks for (after the benchmark's own)."""
    if isinstance(spec, Storm) and spec.B and target.kind == "ours":
        return ["--big-room", str(spec.B)]
    return []


def prepare(spec: Spec, workdir: Path) -> Path | None:
    """What ``spec`` needs before its servers start: for a replay, a filled data directory
    (shared by the servers that run it). Slow; run it off the event loop."""
    if isinstance(spec, Replay):
        return replay.prepare(spec, workdir)
    return None


def after_stop(server: Running, result: Result) -> None:
    """Once ``server`` has stopped (SIGTERM): the messages its history kept (``stored``), which
    must be every message said (``said``), if the run counted them."""
    if server.data_dir is None or "said" not in result.figures:
        return
    path = server.data_dir / DB_FILE
    try:
        with contextlib.closing(sqlite3.connect(str(path))) as db:
            (count,) = db.execute("SELECT count(*) FROM messages").fetchone()
    except sqlite3.Error as exc:
        result.error = result.error or f"cannot read the history at {path}: {exc}"
        return
    result.figures["stored"] = count
    if count < result.figures["said"] and not result.error:
        result.error = f"history lost {result.figures['said'] - count:.0f} messages at SIGTERM"


async def run(spec: Spec, server: Running) -> Result:
    result = Result(spec.title, spec.kind, server.target.name)
    try:
        dialect = server.target.dialect
        if isinstance(spec, Fanout):
            await _fanout(spec, server, result, lambda _: dialect)
        elif isinstance(spec, Latency):
            await _latency(spec, server, result, lambda _: dialect)
        elif isinstance(spec, Mixed):
            await _fanout(spec, server, result, mixed_dialect)
        elif isinstance(spec, MixedLatency):
            await _latency(spec, server, result, mixed_dialect)
        elif isinstance(spec, Capacity):
            await _capacity(spec, server, result)
        elif isinstance(spec, Rooms):
            await rooms.run(spec, server, result)
        elif isinstance(spec, Storm):
            await storm.run(spec, server, result)
        elif isinstance(spec, Cross):
            latency = Latency(C=spec.K, S=1, R=spec.R, D=spec.D, P=spec.P, J=spec.J)
            nodes = server.nodes

            def placed(index: int) -> int:
                return min(index, 1) % nodes  # the sender on node a, every receiver on node b

            # Times from the kernel: when each receiver's socket was handed the message.
            await _latency(latency, server, result, lambda _: dialect, placed, stamped=True)
        elif isinstance(spec, Pause):
            latency = Latency(C=spec.C, S=spec.S, R=spec.R, D=spec.D, P=spec.P, J=spec.J)
            pause = _redis_pause(server, spec.X)
            await _latency(latency, server, result, lambda _: dialect, during=pause)
        elif isinstance(spec, RedisLog):
            await redis_log.run(spec, server, result)
        else:
            await replay.run(spec, server, result)
    except (OSError, RuntimeError, asyncio.TimeoutError) as exc:
        result.error = f"{type(exc).__name__}: {exc}"
    return result


async def _fanout(
    spec: Fanout | Mixed, server: Running, result: Result, dialect_of: DialectOf
) -> None:
    """C clients, client ``i`` speaking ``dialect_of(i)``; S of them send M each."""
    expected = spec.S * spec.M * (spec.C - 1)
    echoed = sum(spec.M for i in range(spec.S) if dialect_of(i).echoes)
    progress = Progress(expected + echoed)
    peers = [
        Peer(
            i,
            dialect_of(i),
            Tally(),
            progress,
            Sender(i, spec.M, spec.W, spec.P) if i < spec.S else None,
        )
        for i in range(spec.C)
    ]
    try:
        await join(peers, server, result, spec.J)
        bytes_before = sum(peer.bytes_in for peer in peers)
        clock = Clock(server)
        for peer in peers[: spec.S]:
            peer.windowed = True
            peer.pump()
        await wait(progress, max(MIN_WAIT_S, expected / 20_000))
        end = progress.finished_at or time.monotonic()
        result.figures.update(clock.figures(end))
        elapsed = result.figures["seconds"]
        loss = check(peers, spec.S, spec.M)
        loss_figures(result, loss)
        result.figures["deliveries_per_s"] = loss.received / elapsed
        result.figures["messages_per_s"] = spec.S * spec.M / elapsed
        result.figures["said"] = spec.S * spec.M
        cpu = result.figures["server_cpu_s"]
        result.figures["deliveries_per_cpu_s"] = loss.received / cpu if cpu > 0 else 0.0
        received = sum(peer.bytes_in for peer in peers) - bytes_before
        result.figures["mib_per_s"] = received / elapsed / 2**20
        rss, hwm = server.memory_kib()
        result.figures["rss_mib"] = rss / 1024
        if progress.failure:
            result.error = progress.failure
    finally:
        close(peers)


def _redis_pause(server: Running, seconds: float) -> Callable[[], Awaitable[None]]:
    """What the pause scenario does halfway: ``CLIENT PAUSE`` of the cluster's Redis (writes)."""

    async def pause() -> None:
        if not isinstance(server, RunningCluster):
            raise RuntimeError("the pause scenario needs a cluster target")
        await command(server.redis_port, "CLIENT", "PAUSE", round(seconds * 1000), "WRITE")

    return pause


async def _latency(
    spec: Latency | MixedLatency,
    server: Running,
    result: Result,
    dialect_of: DialectOf,
    node_of: Callable[[int], int] | None = None,
    during: Callable[[], Awaitable[None]] | None = None,
    stamped: bool = False,
) -> None:
    """C clients, client ``i`` speaking ``dialect_of(i)`` on node ``node_of(i)``; S of them send
    R a second in all. ``during`` is run once halfway through the sending. ``stamped``: a
    message is received when the kernel queued it to the client's socket (``Peer.stamp_arrivals``),
    not when the generator read it."""
    placed = node_of or node_of_index(server.nodes)
    per_sender = max(1, round(spec.R * spec.D / spec.S))
    total = per_sender * spec.S
    expected = total * (spec.C - 1)
    echoed = sum(per_sender for i in range(spec.S) if dialect_of(i).echoes)
    progress = Progress(expected + echoed)
    samples: array[int] = array("q")
    peers = [
        Peer(
            i,
            dialect_of(i),
            Tally(),
            progress,
            Sender(i, per_sender, 0, spec.P) if i < spec.S else None,
        )
        for i in range(spec.C)
    ]
    midway: asyncio.Task[None] | None = None
    try:
        await join(peers, server, result, spec.J, placed)
        if stamped:
            for peer in peers:
                peer.stamp_arrivals()
        clock = Clock(server)
        start = time.monotonic()
        deadline = start + spec.D * 3 + MIN_WAIT_S
        sent = 0
        while sent < total and not progress.done.is_set() and time.monotonic() < deadline:
            if during is not None and midway is None and sent >= total // 2:
                midway = asyncio.ensure_future(during())
            due = min(total, int((time.monotonic() - start) * spec.R) + 1)
            while sent < due:
                peers[sent % spec.S].send_one()
                sent += 1
            # Event loops time in whole milliseconds: a shorter sleep would spin.
            await asyncio.sleep(PACE_S)
        sending = time.monotonic() - start
        if midway is not None:
            await midway  # its error (Redis refused the pause) fails the run
        await wait(progress, max(MIN_WAIT_S, spec.D * 2))
        end = progress.finished_at or time.monotonic()
        result.figures.update(clock.figures(end))
        result.figures["rate"] = sent / max(sending, 1e-9)
        result.figures["said"] = sent
        loss = check(peers, spec.S, per_sender, samples)
        loss_figures(result, loss)
        # The steady load's cost: the server's CPU time (user and kernel) per message delivered.
        cpu = result.figures["server_cpu_s"]
        result.figures["cpu_us_per_delivery"] = cpu * 1e6 / loss.received if loss.received else 0
        spread = Spread.of(samples)
        result.figures["p50_ms"] = spread.p50 / 1000
        result.figures["p99_ms"] = spread.p99 / 1000
        result.figures["max_ms"] = spread.max / 1000
        if isinstance(spec, MixedLatency):
            _latency_by_kind(result, peers, spec.S, per_sender)
        if server.nodes > 1:
            _latency_across(result, peers, spec.S, per_sender, placed)
        if progress.failure:
            result.error = progress.failure
    finally:
        if midway is not None and not midway.done():
            midway.cancel()
        close(peers)


def _kind(dialect: Dialect) -> str:
    return "irc" if dialect.name == "irc" else "native"


def _latency_by_kind(result: Result, peers: list[Peer], senders: int, messages: int) -> None:
    """p50 and p99 from each kind of sender to each kind of receiver (``irc_to_native_p99_ms``).
    The loss was accounted for over all senders; this only sorts the latencies."""
    kinds = [_kind(peer.dialect) for peer in peers]
    for source in ("native", "irc"):
        heard = frozenset(i for i in range(senders) if kinds[i] == source)
        for sink in ("native", "irc"):
            samples: array[int] = array("q")
            for peer in peers:
                if peer.tally is not None and kinds[peer.index] == sink:
                    # Messages of the other kind count as strangers here: ignored.
                    peer.tally.check(senders, messages, peer.index, samples, heard)
            spread = Spread.of(samples)
            result.figures[f"{source}_to_{sink}_p50_ms"] = spread.p50 / 1000
            result.figures[f"{source}_to_{sink}_p99_ms"] = spread.p99 / 1000


def _latency_across(
    result: Result,
    peers: list[Peer],
    senders: int,
    messages: int,
    node_of: Callable[[int], int],
) -> None:
    """p50 and p99 from a sender on one node to receivers on another (``cross_p99_ms``), and
    between sender and receivers on the same node (``local_p99_ms``), if there were any."""
    for label, across in (("cross", True), ("local", False)):
        samples: array[int] = array("q")
        for peer in peers:
            if peer.tally is None:
                continue
            here = node_of(peer.index)
            heard = frozenset(i for i in range(senders) if (node_of(i) != here) == across)
            if heard - {peer.index}:
                peer.tally.check(senders, messages, peer.index, samples, heard)
        if samples:
            spread = Spread.of(samples)
            result.figures[f"{label}_p50_ms"] = spread.p50 / 1000
            result.figures[f"{label}_p99_ms"] = spread.p99 / 1000


async def _capacity(spec: Capacity, server: Running, result: Result) -> None:
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
        await join(peers, server, result, spec.J)
        rss, _ = server.memory_kib()
        result.figures["rss_mib"] = rss / 1024
        result.figures["kib_per_conn"] = (rss - base) / spec.K
        start = time.monotonic()
        peers[0].send_one()
        await wait(progress, MIN_WAIT_S + spec.K / 1000)
        end = progress.finished_at or time.monotonic()
        result.figures["reach_ms"] = (end - start) * 1000
        loss = check(peers, 1, 1)
        result.figures["reached"] = loss.received
        result.figures["lost"] = loss.lost
        _, hwm = server.memory_kib()
        result.figures["hwm_mib"] = hwm / 1024
        if progress.failure:
            result.error = progress.failure
    finally:
        close(peers)
