"""The cluster bus: this node's operations on Redis, one coroutine each (docs/CLUSTER.md).

Each operation is one atomic script or command; the decisions (which keys, which ids are new,
when the lease is due, whom to reap) are ``core/cluster.py``'s, an entry's JSON
``core/cluster_codec.py``'s. ``run`` carries out a batch of the hub's instructions in one
pipeline; ``link.py`` is the task that feeds the hub.
"""

from __future__ import annotations

import logging
import secrets
from collections import deque
from collections.abc import AsyncIterator
from typing import Any

from ...core import cluster as cl
from ...core import cluster_codec as codec
from ...core.lease import Lease, OutageIds, Stalls
from ...core.limits import (
    CLUSTER_INBOX_ENTRIES,
    CLUSTER_LOG_ENTRIES,
    CLUSTER_MARK_S,
    CLUSTER_MAX_PENDING,
    CLUSTER_READ_COUNT,
)
from ...core.output import Claim, Instruction
from ..logs import LOGGER_NAME
from . import lease_clock, lease_free
from .calls import Calls, Mine
from .reaping import Reaping, Unread
from .scripts import fenced
from .wire import Wire, flat_fields, no_script, score

log = logging.getLogger(LOGGER_NAME)

Read = list[tuple[str, int, "cl.Entry"]]  # (stream key, id, entry), in the order read
Snapshot = dict[str, dict[str, list[str]]]  # node -> user -> the names of their rooms
Numbered = list[tuple[int, cl.TopicSet]]  # topic entries with their ids
MEMBERS_PREFIX = cl.members_key("")


class Bus(Reaping):
    """This node in the cluster: ``redis`` a connected redis-py asyncio client
    (``decode_responses=True``), ``node`` this node's name."""

    def __init__(
        self, redis: Any, node: str, lease: Lease | None = None, server_name: str = ""
    ) -> None:
        self.redis = redis
        self.node = node
        self.server_name = server_name  # reserved in the cluster (a node with IRC), or ""
        self.servers: list[str] = []  # the cluster's servers with IRC: their names are reserved
        self.boot = secrets.token_hex(8)  # tells this run of the node from an earlier one
        self._next_boot: str | None = None  # the one a renewal is taking (``renew``)
        self.lease = lease or Lease()
        self.outage = OutageIds()
        self.stalls = Stalls()  # whether a lapsed lease may be believed (``reap``)
        self.inbox = cl.inbox_key(node)
        self.log_position = cl.Position()
        self.inbox_position = cl.Position()
        # The inbox position last noted in Redis (its read mark: ``run``); None: to be noted.
        self._marked: int | None = None
        self.calls = Calls(redis)  # the scripts, and the pipelines of them (calls.py)
        # What this node appended to the log and has not read back yet, in order, as written
        # and as sent: read back, an entry equal to the next of these is taken as it is, not
        # parsed again (a node reads its own messages back to deliver them).
        self._mine: Mine = deque()
        # What happens once per message, each on a connection of its own (wire.py).
        self._reads = Wire(redis)
        self._writes = Wire(redis)
        self._pushes = Wire(redis)
        self.drained = True  # the last read had all the streams held past the positions
        # The highest id a reap took from another node's inbox: a bounce for it may still be
        # on its way, and its id must not be given again (``floor``; scripts.py, BOUNCE).
        self._taken = 0

    async def close(self) -> None:
        """Close the connections of the pushes, the reads and the writer (after a loss: they may
        be dead, and the next call connects afresh; and on leaving)."""
        await self._reads.close()
        await self._writes.close()
        await self._pushes.close()

    async def register(
        self, stored: int, now: float, take: bool = True, staying: str = ""
    ) -> Unread:
        """Enter the cluster afresh (at start, or after this node was dropped), once no other
        process holds this node's lease (``lease_free``): ids going on above ``stored`` (before
        anything is numbered); what an earlier run of this node left (its names, its users) is
        announced gone, but for the users ``staying`` (``cl.Gone``); then a new lease, listed.
        The inbox is read on after what a reap of this node took; the log's position is left as
        it is. ``take`` (a new run): returns the inbox's entries an earlier run never handled, to
        answer "not delivered"; else (this run, joining again: its reader goes on) none are
        taken."""
        await lease_free(self.redis, self.node, self._boots(), self.lease.length)
        await self.calls.floor(keys=[cl.SEQ_KEY], args=[self.floor(stored), 0])
        await self.redis.delete(cl.lease_key(self.node))
        reaped = await self._reap_one(self.node, now, "", True, take, staying=staying)
        mark, unread = reaped or (0, [])
        self.inbox_position.last = self._marked = max(self.inbox_position.last, mark)
        self.boot, self._next_boot = secrets.token_hex(8), None
        self._mine.clear()
        sent = lease_clock()
        await self.redis.set(cl.lease_key(self.node), self.boot, px=self.lease.millis)
        await self.redis.sadd(cl.NODES_KEY, self.node)
        await self.redis.persist(self.inbox)  # reaped meanwhile: the inbox is this node's again
        self.lease.renewed(sent)
        await self.hold_if_redis_is_young(self.lease.renew)
        await self.calls.load(self.redis)
        self.servers = await self.calls.reserve_name(self.server_name, warn=True)
        return unread

    def _boots(self) -> list[str]:
        """This run's boot id and the one a renewal may be giving it (its answer may be lost)."""
        return [self.boot, self._next_boot or self.boot]

    def floor(self, stored: int) -> int:
        """The id the cluster's must go on above: the highest this node stored (``stored``) or
        read (its streams, a reaped node's inbox). Redis may have come back from an older state
        (an AOF's last second, a replica behind): ids given again would be skipped by the nodes
        that read them before."""
        return max(stored, self.log_position.last, self.inbox_position.last, self._taken)

    async def leave(self, now: float, reason: str) -> Unread | None:
        """Leave the cluster on a clean stop: this node's names are freed, its inbox deleted
        (nothing comes to it any more) and its users' leaves announced at once, not a lease
        later. Returns what reached the inbox and was never handled (after the reader stopped),
        to answer "not delivered" under the lease, which is kept until ``let_go``. Nothing is
        touched, and None returned, if another run of this node holds the lease: this one
        stalled past it, and what is listed for the node is that run's."""
        taken = await self._reap_one(self.node, now, reason, keep_inbox=False)
        if taken is None:
            log.warning("cluster: another run of node %s holds its lease; left it as is", self.node)
            return None
        return taken[1]

    async def let_go(self) -> None:
        """Give up the lease once this node has left (``leave``): its next run starts at once."""
        await self.calls.let_go(keys=[cl.lease_key(self.node)], args=self._boots())

    async def snapshot(self, topics: bool = True) -> tuple[int, Snapshot, Numbered]:
        """The log's last id, every listed node's users with their rooms, and (``topics``) each
        room's last topic entry with its id (megabytes with many), at one instant."""
        keys = [cl.NODES_KEY, cl.LOG_KEY, cl.TOPICS_KEY, cl.TOPICS_ORDER_KEY]
        answer = await self.calls.snapshot(keys=keys, args=[MEMBERS_PREFIX, "1" if topics else ""])
        last, pairs, rest = cl.id_of(answer[0]), answer[1], answer[2:]
        nodes: Snapshot = {}
        for node, flat in zip(rest[::2], rest[1::2]):
            nodes[node] = codec.members(flat)
        kept = [(score(number), _topic(raw)) for number, raw in zip(pairs[::2], pairs[1::2])]
        return last, nodes, [(number, topic) for number, topic in kept if topic is not None]

    async def edges(self, key: str) -> tuple[int, int]:
        """The ids of the first and last entries of stream ``key`` (0, 0 when empty)."""
        first = await self.redis.xrange(key, count=1)
        last = await self.redis.xrevrange(key, count=1)
        if not first or not last:
            return 0, 0
        return cl.id_of(first[0][0]), cl.id_of(last[0][0])

    async def history(self, after: int, until: int) -> AsyncIterator[list[tuple[int, cl.Entry]]]:
        """The log's entries after ``after`` up to ``until`` (a joining node's backfill), in
        slices of at most ``CLUSTER_READ_COUNT``: a log of long messages (8 KB an entry at most,
        100,000 entries) is never all in memory at once."""
        start = cl.entry_id(after + 1)  # (not "(0-N": Redis before 6.2 has no "(")
        while True:
            chunk = await self.redis.xrange(
                cl.LOG_KEY, start, cl.entry_id(until), count=CLUSTER_READ_COUNT
            )
            out: list[tuple[int, cl.Entry]] = []
            for entry_id, fields in chunk:
                try:
                    entry = codec.decode(fields)
                except ValueError:
                    continue  # not ours (read() says so in the log)
                if entry is not None:
                    out.append((cl.id_of(entry_id), entry))
            yield out
            if len(chunk) < CLUSTER_READ_COUNT:
                return
            start = cl.entry_id(cl.id_of(chunk[-1][0]) + 1)

    async def reserve(self, stored: int, now: float) -> int:
        """Reserve a block of ids (``outage``) for the messages said while the link is down,
        above every id this node stored (``stored``) or read: the first of them."""
        args = [self.floor(stored), self.outage.size]
        return self.outage.reserved(int(await self.calls.floor(keys=[cl.SEQ_KEY], args=args)), now)

    async def run(self, batch: list[Instruction]) -> list[Any]:
        """Carry out the hub's cluster instructions in one pipeline, in order; one answer each
        (an exception object for a command Redis refused)."""
        mine = self._mine
        if len(mine) > CLUSTER_MAX_PENDING:
            mine.clear()  # not read back for a long while: no use keeping them
        mark = self.inbox_position.last if self.mark_due else None
        noted = (self.node, self.boot, mark or 0)
        pipe, groups = self.calls.pipeline(batch, self.node, self.boot, mine, mark)
        answers = await self._writes.pipeline(pipe)
        if answers and all(no_script(answer) for answer in answers):
            # Redis lost its scripts (it restarted): none of these ran. Load them, go again.
            await self.calls.load(self.redis)
            pipe, groups = self.calls.pipeline(batch, self.node, self.boot, None, mark)
            answers = await self._writes.pipeline(pipe)
        if mark is not None and answers and no_script(answers[0]):
            # MARK is new to Redis (an older node loaded the scripts it knows): again, alone.
            try:
                await self.calls.load(self.redis)
                answers[0] = (await self._writes.pipeline([self.calls.mark_command(*noted)]))[0]
            except Exception as exc:  # the batch went: noted at the next pipeline instead
                answers[0] = exc
        if mark is not None and answers and answers[0] == 1:
            self._marked = max(self._marked or 0, mark)
        elif mark is not None and answers and isinstance(answers[0], Exception):
            log.warning("cluster: Redis refused to note how far the inbox was read: %s", answers[0])
        return [answer for answer, count in zip(answers, groups) for _ in range(count)]

    @property
    def mark_due(self) -> bool:
        """True if this node handled inbox entries since it last noted how far (``run`` notes
        it, first in its pipeline; a reap of this node bounces what comes after)."""
        return self._marked is None or self.inbox_position.last > self._marked

    def holder_of(self, claim: Claim, answer: str) -> str | None:
        """A claim's answer: None if the name is this node's (also when a claim sent twice finds
        it held by this very node), else the display name of its holder."""
        if answer == "" or answer == cl.holder_value(self.node, claim.name):
            return None
        return cl.parse_holder(answer)[1]

    async def join(self, stored: int, now: float) -> None:
        """Take a lease, be listed, and make sure ids go on above ``stored`` (the highest id in
        this node's store). Reading starts after the log's last entry and the inbox's, and the
        inbox's read mark is noted there (what a reap takes comes after it)."""
        sent = lease_clock()
        await self.redis.set(cl.lease_key(self.node), self.boot, px=self.lease.millis)
        await self.redis.sadd(cl.NODES_KEY, self.node)
        await self.redis.persist(self.inbox)
        self.lease.renewed(sent)
        await self.calls.floor(keys=[cl.SEQ_KEY], args=[stored, 0])
        for key, position in ((cl.LOG_KEY, self.log_position), (self.inbox, self.inbox_position)):
            last = await self.redis.xrevrange(key, count=1)
            position.last = cl.id_of(last[0][0]) if last else 0
        await self.redis.set(
            cl.read_key(self.node), self.inbox_position.last, px=round(CLUSTER_MARK_S * 1000)
        )
        self._marked = self.inbox_position.last

    async def renew(self, fresh: bool = False) -> bool:
        """Renew the lease (on ``lease_clock``: a step of the wall clock must not make a lapsed
        lease look alive), under a new boot id if ``fresh`` (back from a lost
        link: scripts.py, RENEW); False if this node was reaped meanwhile. The new id is kept
        until a renewal under it is answered: a lost answer leaves it in Redis, and the next
        try sends it again rather than another."""
        old = self.boot
        if fresh and self._next_boot is None:
            self._next_boot = secrets.token_hex(8)
        new = self._next_boot if fresh and self._next_boot else old
        args = [self.node, old, self.lease.millis, new, round(CLUSTER_MARK_S * 1000)]
        keys = [cl.lease_key(self.node), cl.NODES_KEY, cl.read_key(self.node)]
        sent = lease_clock()
        lapsed = self.lease.lapsed(sent)  # the read mark may have lapsed too: noted again
        renewed = await self.calls.renew(keys=keys, args=args)
        self._answered(sent)
        if not renewed:
            return False
        if lapsed:
            self._marked = None
        if new != old and self.boot == old:  # (a plain renewal answered late changes nothing)
            self.boot, self._next_boot = new, None
        self.lease.renewed(sent)
        self.servers = await self.calls.reserve_name(self.server_name, warn=False)
        return True

    async def claim(self, name: str) -> str | None:
        """Claim ``name`` (and its look-alikes) for this node: None if claimed, else the display
        name of who holds it. ``LookupError`` if this node lost its lease (it must join again)."""
        keys = [cl.lease_key(self.node), cl.held_key(self.node), *cl.claim_keys(name)]
        value = cl.holder_value(self.node, name)
        answer = await self.calls.claim(keys=keys, args=[self.boot, value, ""])
        return None if fenced(answer) == "" else cl.parse_holder(answer)[1]

    async def release(self, name: str) -> None:
        keys = [cl.lease_key(self.node), cl.held_key(self.node), *cl.claim_keys(name)]
        fenced(
            await self.calls.release(keys=keys, args=[self.boot, cl.holder_value(self.node, name)])
        )

    async def holder(self, name: str) -> str | None:
        """The node holding ``name``, or None."""
        value = await self.redis.get(cl.claim_keys(name)[0])
        return None if value is None else cl.parse_holder(value)[0]

    async def publish(self, entry: cl.Entry) -> int:
        """Append ``entry`` to the log; its id (the message id of a room message)."""
        keys = [cl.lease_key(self.node), cl.SEQ_KEY, cl.LOG_KEY]
        args = [self.boot, CLUSTER_LOG_ENTRIES, *flat_fields(codec.encode(entry))]
        return int(fenced(await self.calls.append(keys=keys, args=args)))

    async def whisper(self, node: str, entry: cl.Whispered) -> int:
        """Append a private message to ``node``'s inbox if ``node`` still holds the recipient's
        name: its id, or 0 (no such user any more)."""
        keys = [cl.lease_key(self.node), cl.SEQ_KEY, cl.inbox_key(node), cl.claim_keys(entry.to)[0]]
        args = [self.boot, CLUSTER_INBOX_ENTRIES, node, *flat_fields(codec.encode(entry))]
        return int(fenced(await self.calls.whisper(keys=keys, args=args)))

    async def listen(self) -> None:
        """Be pushed the log's and this node's inbox's entries from now on (``pushed``); what
        came before is read with ``read``, after this (an entry is then met twice at most, and
        taken once)."""
        await self._pushes.close()
        await self._pushes.subscribe(cl.LOG_KEY, self.inbox)

    @property
    def listening(self) -> bool:
        return self._pushes.open

    async def pushed(self) -> Read:
        """The entries of the next message pushed (waits for it) that are new: a burst appended
        in one call comes as one message, an entry a line."""
        push = await self._pushes.next()
        if len(push) != 3 or push[0] != "message":
            return []
        key = push[1]
        out: Read = []
        for line in push[2].split("\n"):
            entry_id, _, raw = line.partition(" ")
            self._take(out, key, entry_id, raw, pushed=True)
        return out

    async def read(self) -> Read:
        """The entries of the log and this node's inbox after the positions, each once, in the
        order of their ids (one counter numbers both), at most ``CLUSTER_READ_COUNT`` of each;
        moves the positions. ``drained`` says whether the streams had no more than these."""
        positions = [self.log_position.after, self.inbox_position.after]
        answer = await self._reads.call(
            "XREAD", "COUNT", CLUSTER_READ_COUNT, "STREAMS", cl.LOG_KEY, self.inbox, *positions
        )
        streams = answer or ()  # RESP2: [key, entries]; an entry is [id, [field, value, ...]]
        # A stream read to the count may go on past its last entry: what the other holds above
        # that waits for the next read, so that the two interleave by id across reads too.
        full = [entries[-1][0] for _, entries in streams if len(entries) >= CLUSTER_READ_COUNT]
        upto = min((n for n in map(cl.number_of, full) if n is not None), default=None)
        # Entries whose ids are not ours do not move a position: a stream full of them would be
        # read again and again (it is wedged for writing too: docs/CLUSTER.md, Limits).
        self.drained = not full or upto is None
        out: Read = []
        for key, entries in streams:
            for entry_id, flat in entries:
                number = cl.number_of(entry_id)
                if upto is not None and number is not None and number > upto:
                    break
                fields = dict(zip(flat[::2], flat[1::2])) if flat else {}
                self._take(out, key, entry_id, fields.get(codec.FIELD), pushed=False)
        out.sort(key=lambda taken: taken[1])
        return out

    def _take(self, out: Read, key: str, entry_id: str, raw: str | None, pushed: bool) -> None:
        """Add the entry ``entry_id`` of stream ``key`` (its field ``raw``) to ``out`` if it is
        new and ours, and move the stream's position to it. An entry read from the stream moves
        the position even if it is not ours (the next read starts after it); a push that is not
        ours (somebody else's ``PUBLISH``) does not."""
        is_log = key == cl.LOG_KEY
        position = self.log_position if is_log else self.inbox_position
        try:
            number = cl.id_of(entry_id)
        except ValueError:
            log.warning("cluster: skipped an entry of %s with the id %r", key, entry_id)
            return
        if number <= position.last:
            return  # met already (read, then pushed)
        mine = self._mine
        if is_log and mine and raw == mine[0][0]:
            position.last = number
            out.append((key, number, mine.popleft()[1]))  # this node's own, as sent
            return
        try:
            if raw is None:
                raise ValueError("not a tcp-chat entry")
            entry = codec.decode({codec.FIELD: raw})
        except ValueError as exc:  # not ours: skipped, never a reason to stop reading
            log.warning("cluster: skipped entry %s of %s: %s", entry_id, key, exc)
            if not pushed:
                position.last = number
            return
        if entry is None:  # a kind this version does not know: a push of it is not believed
            if not pushed:  # (anyone may PUBLISH: its id could put every later entry behind)
                position.last = number
            return
        position.last = number
        if is_log and mine and entry.node == self.node:
            self._skip_mine(raw)
        out.append((key, number, entry))

    def _skip_mine(self, raw: str | None) -> None:
        """An entry of this node's came back that was not the next one sent: those before it
        never reached the log (a pipeline lost with the link); they are forgotten."""
        mine = self._mine
        while mine:
            if mine.popleft()[0] == raw:
                return

    def forget_mine(self) -> None:
        """The link was lost: what was sent may or may not come back; read it the long way. The
        inbox's read mark is noted again (Redis may come back from an older state)."""
        self._mine.clear()
        self._marked = None


def _topic(raw: str) -> cl.TopicSet | None:
    """A room's last topic entry as the topics hash holds it; None (logged) if it is not one."""
    try:
        entry = codec.decode({codec.FIELD: raw})
    except ValueError as exc:
        log.warning("cluster: skipped a topic of %s: %s", cl.TOPICS_KEY, exc)
        return None
    return entry if isinstance(entry, cl.TopicSet) else None
