"""The room scenario: N rooms of C users, everyone in the lobby too, senders talking in each room
and in the lobby at once. Deliveries a second, and per receiver: every message of its rooms once
and in order, and none of a room it is not in.

Clients are numbered so that a sender's marker index is its client index: first the S senders of
each room (room by room), then the L lobby senders (in the lobby only), then the other members of
each room. On IRC the lobby is ``#bench`` and rooms are channels (``JOIN #bench,#r3``).
"""

from __future__ import annotations

import time

from .measure import MIN_WAIT_S, Clock, Result, check, close, join, loss_figures, wait
from .peer import Peer, Progress, Sender
from .servers import Running
from .specs import Rooms
from .stats import Tally


def room_name(number: int) -> str:
    return f"#r{number}"


def layout(spec: Rooms) -> list[tuple[str | None, frozenset[int]]]:
    """For each client in index order: the room it talks in (None: the lobby) and the senders it
    hears (its room's and the lobby's)."""
    lobby = frozenset(range(spec.N * spec.S, spec.N * spec.S + spec.L))
    heard = [lobby | frozenset(range(r * spec.S, (r + 1) * spec.S)) for r in range(spec.N)]
    clients: list[tuple[str | None, frozenset[int]]] = []
    clients += [(room_name(i // spec.S), heard[i // spec.S]) for i in range(spec.N * spec.S)]
    clients += [(None, lobby)] * spec.L
    others = spec.C - spec.S
    clients += [(room_name(j // others), heard[j // others]) for j in range(spec.N * others)]
    return clients


async def run(spec: Rooms, server: Running, result: Result) -> None:
    dialect = server.target.dialect
    clients = layout(spec)
    senders = spec.N * spec.S + spec.L
    expected = sum(len(hears - {i}) for i, (_, hears) in enumerate(clients)) * spec.M
    progress = Progress(expected + (senders * spec.M if dialect.echoes else 0))
    peers = [
        Peer(
            i,
            dialect,
            Tally(),
            progress,
            Sender(i, spec.M, spec.W, spec.P) if i < senders else None,
            rooms=(room,) if room is not None else (),
        )
        for i, (room, _) in enumerate(clients)
    ]
    try:
        await join(peers, server, result, spec.J)
        clock = Clock(server)
        for peer in peers[:senders]:
            peer.windowed = True
            peer.pump()
        await wait(progress, max(MIN_WAIT_S, expected / 20_000))
        end = progress.finished_at or time.monotonic()
        result.figures.update(clock.figures(end))
        elapsed = result.figures["seconds"]
        loss = check(peers, senders, spec.M, heard=[hears for _, hears in clients])
        loss_figures(result, loss)
        result.figures["strangers"] = loss.strangers
        result.figures["deliveries_per_s"] = loss.received / elapsed
        result.figures["messages_per_s"] = senders * spec.M / elapsed
        result.figures["said"] = senders * spec.M
        cpu = result.figures["server_cpu_s"]
        result.figures["deliveries_per_cpu_s"] = loss.received / cpu if cpu > 0 else 0.0
        result.figures["rss_mib"] = server.memory_kib()[0] / 1024
        if progress.failure:
            result.error = progress.failure
    finally:
        close(peers)
