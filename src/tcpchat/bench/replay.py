"""History replay and search through the real server, on a database filled beforehand.

``prepare`` fills a data directory with H messages over N rooms (``#room0`` ...) with the store's
own filler (``history.fill``: the store's schema and search index, a Zipf-like vocabulary of Latin
and Cyrillic words), once per spec; the servers that run the spec start on it (they only read
it). Then one client joins the rooms in turn, Q times, each join timed from the ``/join`` written
to its ``history_end`` read (the replay of the room's last messages, 20 by default), parting again
after each; then it searches its room Q times, each search timed from the ``/search`` written to
the end of its results. One request at a time, each after a pause longer than the server's flush
interval: the figures are the server's answer time plus one loopback round trip.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import shutil
import sqlite3
import time
from pathlib import Path

from ..core.limits import FLUSH_INTERVAL_S
from ..core.rooms import room_key as key_of
from ..server.store_db import DB_FILE
from .dialects import ChatDialect
from .history import Corpus, fill, room_key
from .measure import Result, close, join
from .peer import Peer
from .servers import Running
from .specs import Replay
from .stats import Spread

ANSWER_TIMEOUT_S = 10.0
SEED = 14  # the same messages and words in every run
FILLED = "filled"  # written once the database is complete


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
        """Write ``line``; seconds until the end of the history it asked for. Waits out the
        server's flush interval first: right after a write the server's next one waits for
        ``FLUSH_INTERVAL_S``, which would be measured instead of the history."""
        await asyncio.sleep(2 * FLUSH_INTERVAL_S)
        self.waiter = asyncio.get_running_loop().create_future()
        start = time.monotonic()
        peer.write(line)
        end = await asyncio.wait_for(self.waiter, ANSWER_TIMEOUT_S)
        return end - start


def corpus() -> Corpus:
    return Corpus(random.Random(SEED))


def prepare(spec: Replay, workdir: Path) -> Path:
    """A data directory holding ``spec.H`` messages over ``spec.N`` rooms, filled once per spec
    and shared by the servers that run it (joins and searches store nothing)."""
    data = workdir / f"replay-H{spec.H}-N{spec.N}"
    if (data / FILLED).exists():
        return data
    shutil.rmtree(data, ignore_errors=True)  # a fill cut short
    data.mkdir(parents=True)
    path = str(data / DB_FILE)
    fill(path, spec.H, spec.N, corpus())
    # The filler keys each room by its name; the hub looks rooms up by their key, which is the
    # name's skeleton (``core.rooms.room_key``: "#room0" is "#roornO"), as the store keeps them.
    with contextlib.closing(sqlite3.connect(path)) as db:
        names = [name for (name,) in db.execute("SELECT name FROM rooms")]
        db.executemany("UPDATE rooms SET key = ? WHERE name = ?", [(key_of(n), n) for n in names])
        db.commit()
    (data / FILLED).write_text("", encoding="utf-8")
    return data


def search_words(count: int) -> list[str]:
    """What the searches look for, in turn: a common word (top 10 of the vocabulary), a
    medium one (rank 100-1000), a rare one (rank 5000+), a word that is nowhere, two words."""
    words = corpus().words
    rng = random.Random(SEED + 1)
    picks = [
        lambda: rng.choice(words[:10]),
        lambda: rng.choice(words[100:1000]),
        lambda: rng.choice(words[5000:]),
        lambda: f"zzqx{rng.randrange(10**6)}",
        lambda: f"{rng.choice(words[:100])} {rng.choice(words[100:1000])}",
    ]
    return [picks[i % len(picks)]() for i in range(count)]


async def run(spec: Replay, server: Running, result: Result) -> None:
    dialect = server.target.dialect
    if not isinstance(dialect, ChatDialect):
        raise RuntimeError("replay needs our server")
    watch = HistoryWatch(dialect)
    peer = Peer(0, dialect, watch=watch)
    try:
        await join([peer], server, result, 1)
        joins: list[float] = []
        replayed: list[int] = []
        for q in range(spec.Q):
            room = room_key(q % spec.N)
            joins.append(await watch.answer(peer, dialect.join(room)))
            replayed.append(watch.last_count)
            peer.write(dialect.part(room))
        _spread(result, "replay", joins)
        result.figures["replayed"] = min(replayed) if replayed else 0
        await watch.answer(peer, dialect.join(room_key(0)))
        searches: list[float] = []
        found: list[int] = []
        for words in search_words(spec.Q):
            searches.append(await watch.answer(peer, dialect.search(words)))
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
