"""The join storm: K registered clients all join one room at once. Timed until every join is
accounted for, then one message must reach everyone in the room.

A join is accounted for when its client has the server's answer and every client knows the room
holds all K. tcp-chat answers each ``/join`` with a ``room`` event carrying the member count
(``online``); a room past ``--big-room`` members gathers its join notices into one ``crowd`` a
second (with a ``count``), so a member knows of the others through ``join`` notices and crowd
counts. The checks: every answer came, their counts are 1 ... K (each join had its own place),
the first member heard of exactly K-1 joins, and every member's last count is K. ngircd answers a
``JOIN`` with the joiner's own ``JOIN`` line, the ``NAMES`` list (``353``) and its end (``366``),
and tells every member of each later ``JOIN``: a member knows of the names it was given plus
the joins after its own. ngircd gets ``T`` seconds; the figures say how far it got.
"""

from __future__ import annotations

import asyncio
import json
import re
import time

from .dialects import ChatDialect, Dialect, IrcDialect, name_of
from .measure import MIN_WAIT_S, Clock, Result, check, close, join, settle, wait
from .peer import Peer, Progress, Sender
from .servers import Running
from .specs import Storm
from .stats import Tally

ROOM = "#storm"
# A big room's gathered notices go out once a second (the server's sweep): wait them out.
CROWD_INTERVAL_S = 1.0
_ONLINE = re.compile(rb'"online":(\d+)')


class StormCount:
    """Shared by the watches of one storm: answers and complete views so far, and when."""

    def __init__(self, size: int) -> None:
        self.size = size
        self.answered = 0  # clients that have the server's answer to their join
        self.complete = 0  # clients that know the room holds all K
        self.answered_at = 0.0
        self.complete_at = 0.0
        self.done = asyncio.Event()

    def answer(self, now: float) -> None:
        self.answered += 1
        if self.answered == self.size:
            self.answered_at = now
            self._maybe_done(now)

    def knows_all(self, now: float) -> None:
        self.complete += 1
        if self.complete == self.size:
            self.complete_at = now
            self._maybe_done(now)

    def _maybe_done(self, now: float) -> None:
        if self.answered == self.size and self.complete == self.size:
            self.done.set()


class ChatWatch:
    """One tcp-chat client's view of the storm room: its answer's count, the joins it was told
    of (one by one or in crowds), the largest count it has seen."""

    __slots__ = ("count", "dialect", "place", "heard", "known", "_room")

    def __init__(self, count: StormCount, dialect: ChatDialect) -> None:
        self.count = count
        self.dialect = dialect
        self.place = 0  # the room's size in its answer: 1 for the first to join
        self.heard = 0  # joins after its own that it was told of
        self.known = 0
        self._room = f'"room":"{ROOM}"'.encode()

    def feed(self, body: bytes, now: float) -> None:
        d = self.dialect
        if d.room_answer not in body and d.join_notice not in body and d.crowd_notice not in body:
            return
        for line in body.splitlines():
            if self._room not in line:
                continue
            if d.room_answer in line:
                found = _ONLINE.search(line)
                self.place = int(found.group(1)) if found else 0
                self.count.answer(now)
                self._learn(self.place, now)
            elif d.join_notice in line and self.place:
                self.heard += 1
                found = _ONLINE.search(line)
                self._learn(int(found.group(1)) if found else 0, now)
            elif d.crowd_notice in line and self.place:
                crowd = json.loads(line)
                if crowd.get("joined"):
                    self.heard += int(crowd.get("count", 0))
                self._learn(int(crowd.get("online", 0)), now)

    def _learn(self, online: int, now: float) -> None:
        if online > self.known:
            before, self.known = self.known, online
            if before < self.count.size <= online:
                self.count.knows_all(now)


class IrcWatch:
    """One IRC client's view of the storm channel: the names it was given when it joined and
    the joins it saw after its own."""

    __slots__ = ("count", "dialect", "names", "joins", "answered", "known", "_end")

    def __init__(self, count: StormCount, dialect: IrcDialect, index: int) -> None:
        self.count = count
        self.dialect = dialect
        self.names = 0
        self.joins = 0  # JOIN lines, its own included
        self.answered = False
        self.known = 0
        self._end = f" 366 {name_of(index)} {ROOM} ".encode()

    def feed(self, body: bytes, now: float) -> None:
        d = self.dialect
        self.joins += body.count(d.join_notice)
        if not self.answered:
            if d.names_reply in body:
                for line in body.splitlines():
                    if d.names_reply in line:
                        self.names += len(line.split(b" :", 1)[-1].split())
            if self._end in body:
                self.answered = True
                self.count.answer(now)
        if self.answered:
            known = self.names + self.joins - 1
            if known > self.known:
                before, self.known = self.known, known
                if before < self.count.size <= known:
                    self.count.knows_all(now)


def _watch(count: StormCount, dialect: Dialect, index: int) -> ChatWatch | IrcWatch:
    if isinstance(dialect, IrcDialect):
        return IrcWatch(count, dialect, index)
    return ChatWatch(count, dialect)


async def run(spec: Storm, server: Running, result: Result) -> None:
    dialect = server.target.dialect
    count = StormCount(spec.K)
    progress = Progress(spec.K - 1 + (1 if dialect.echoes else 0))
    watches = [_watch(count, dialect, i) for i in range(spec.K)]
    peers = [
        Peer(
            i,
            dialect,
            Tally(),
            progress,
            Sender(0, 1, 1, spec.P) if i == 0 else None,
            in_lobby=False,
            watch=watches[i],
        )
        for i in range(spec.K)
    ]
    peers[0].talk = ROOM
    try:
        await join(peers, server, result, spec.J)
        f = result.figures
        f["register_s"] = f.pop("join_s")
        f["registered"] = f.pop("joined")
        f.pop("join_p50_ms")
        f.pop("join_p99_ms")
        await asyncio.sleep(CROWD_INTERVAL_S)  # the last crowd of the lobby, if any
        await settle(peers)
        clock = Clock(server)
        line = dialect.join(ROOM)
        for peer in peers:
            peer.write(line)
        try:
            await asyncio.wait_for(count.done.wait(), spec.T)
        except asyncio.TimeoutError:
            pass
        now = time.monotonic()
        f.update(clock.figures(now))
        f["answered"] = count.answered
        f["complete"] = count.complete
        if count.answered_at:
            f["answered_s"] = count.answered_at - clock.start
        if count.complete_at:
            f["accounted_s"] = count.complete_at - clock.start
        if isinstance(watches[0], ChatWatch):
            chat = [w for w in watches if isinstance(w, ChatWatch)]
            f["places"] = len({w.place for w in chat if w.place})
            first = [w for w in chat if w.place == 1]
            f["first_heard"] = first[0].heard if first else 0
        f["rss_mib"] = server.memory_kib()[0] / 1024
        if not count.done.is_set():
            result.error = (
                f"after {spec.T:g}s: {count.answered} of {spec.K} joins answered, "
                f"{count.complete} clients know of all {spec.K}"
            )
            return
        if "places" in f and (f["places"] != spec.K or f["first_heard"] != spec.K - 1):
            result.error = (
                f"joins not accounted for: {f['places']:.0f} places of {spec.K}, "
                f"the first member heard of {f['first_heard']:.0f} joins, not {spec.K - 1}"
            )
        start = time.monotonic()
        peers[0].send_one()
        await wait(progress, MIN_WAIT_S + spec.K / 1000)
        end = progress.finished_at or time.monotonic()
        f["reach_ms"] = (end - start) * 1000
        loss = check(peers, 1, 1)
        f["reached"] = loss.received
        f["lost"] = loss.lost
        if progress.failure and not result.error:
            result.error = progress.failure
    finally:
        close(peers)
