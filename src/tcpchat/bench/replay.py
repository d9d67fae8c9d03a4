"""History replay and search through the real server, on a database filled beforehand.

The data directory is filled with H messages over N rooms (``#h0`` ...) before the server
starts (``fill``); then one client joins the rooms in turn, Q times, each join timed from the
``/join`` written to its ``history_end`` read (the replay of the room's last messages, 20 by
default), parting again after each; then it searches its room Q times, each search timed from
the ``/search`` written to the end of its results.
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

from .dialects import ChatDialect
from .measure import Result, close, join
from .peer import Peer
from .servers import RunningServer, keeps_history
from .specs import Replay
from .stats import Spread

ANSWER_TIMEOUT_S = 10.0


def room_of(number: int) -> str:
    return f"#h{number}"


class HistoryWatch:
    """Counts the messages of each history bracket and wakes whoever waits for its end."""

    __slots__ = ("dialect", "waiter", "messages", "last_count")

    def __init__(self, dialect: ChatDialect) -> None:
        self.dialect = dialect
        self.waiter: asyncio.Future[float] | None = None
        self.messages = 0  # history messages since the last bracket's end
        self.last_count = 0  # messages of the bracket that ended last

    def feed(self, body: bytes, now: float) -> None:
        self.messages += body.count(b'"history":true')
        if self.dialect.history_end in body:
            self.last_count, self.messages = self.messages, 0
            if self.waiter is not None and not self.waiter.done():
                self.waiter.set_result(now)

    async def answer(self, peer: Peer, line: bytes) -> float:
        """Write ``line``; seconds until the end of the history it asked for."""
        self.waiter = asyncio.get_running_loop().create_future()
        start = time.monotonic()
        peer.write(line)
        end = await asyncio.wait_for(self.waiter, ANSWER_TIMEOUT_S)
        return end - start


def search_words(spec: Replay) -> list[str]:
    """What the searches look for, in turn."""
    return ["deploy"]


def prepare(spec: Replay, workdir: Path) -> Path:
    """A data directory holding ``spec.H`` messages over ``spec.N`` rooms, filled once per
    spec and shared by the servers that run it (replay and search store nothing)."""
    raise RuntimeError("the history store is not in this tree yet: nothing to fill")


async def run(spec: Replay, server: RunningServer, result: Result) -> None:
    dialect = server.target.dialect
    if not isinstance(dialect, ChatDialect) or not keeps_history():
        raise RuntimeError("replay needs our server with history")
    watch = HistoryWatch(dialect)
    peer = Peer(0, dialect, watch=watch)
    words = search_words(spec)
    try:
        await join([peer], server, result, 1)
        joins: list[float] = []
        replayed: list[int] = []
        for q in range(spec.Q):
            room = room_of(q % spec.N)
            joins.append(await watch.answer(peer, dialect.join(room)))
            replayed.append(watch.last_count)
            peer.write(dialect.part(room))
        _spread(result, "replay", joins)
        result.figures["replayed"] = min(replayed) if replayed else 0
        await watch.answer(peer, dialect.join(room_of(0)))
        searches: list[float] = []
        found: list[int] = []
        for q in range(spec.Q):
            searches.append(await watch.answer(peer, dialect.search(words[q % len(words)])))
            found.append(watch.last_count)
        _spread(result, "search", searches)
        result.figures["found_min"] = min(found) if found else 0
        result.figures["found_max"] = max(found) if found else 0
    finally:
        close([peer])


def _spread(result: Result, name: str, seconds: list[float]) -> None:
    spread = Spread.of(seconds)
    result.figures[f"{name}_p50_ms"] = spread.p50 * 1000
    result.figures[f"{name}_p99_ms"] = spread.p99 * 1000
    result.figures[f"{name}_max_ms"] = spread.max * 1000
