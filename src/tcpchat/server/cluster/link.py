"""The cluster link: the tasks that join the hub to the other nodes through Redis (CLUSTER.md).

- the writer carries out the hub's ``Publish``, ``Whisper``, ``Claim`` and ``Release``
  instructions in order, everything queued since its last turn in one pipeline, and feeds the
  answers back (``Hub.claimed``, ``Hub.whispered``);
- the reader is pushed the entries of the log and of this node's inbox as they are appended
  (after catching up from the streams where it stopped) and feeds each to ``Hub.heard``;
- the ticker renews the node's lease and reaps nodes whose lease lapsed, once a second;
- when Redis cannot be reached the hub is told (``Hub.link_down``: its users learn it once), and
  the link reconnects with backoff, resumes reading where it stopped, and joins again if the
  other nodes dropped this one meanwhile.

The hub never waits for Redis: the server hands instructions to ``send`` and goes on.
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from collections import deque
from typing import Any, Callable

from ...core import cluster as cl
from ...core import codes
from ...core.hub import Hub
from ...core.lease import Backoff
from ...core.limits import (
    CLUSTER_MAX_PENDING,
    CLUSTER_READ_COUNT,
    CLUSTER_RENEW_S,
    CLUSTER_TICK_S,
)
from ...core.output import Instruction, Out, Publish, Refresh, Whisper
from ..logs import LOGGER_NAME
from . import lease_clock
from .bus import Bus, Numbered, Read
from .queue import done_by_rejoining, is_bounce, take_batch
from .recovery import Recovery

log = logging.getLogger(LOGGER_NAME)

# How long a clean stop waits for the link's tasks to end, and for its goodbye to Redis.
STOP_WAIT_S = 1.0


class ClusterLink(Recovery):
    """``redis``: a connected redis-py asyncio client; ``route``: the server's ``route``."""

    def __init__(self, redis: Any, node: str, hub: Hub, route: Callable[[Out], None]) -> None:
        self.redis = redis
        self.bus = Bus(redis, node, server_name=hub.server_name)
        self.node = node
        self.hub = hub
        self.route = route
        self.up = asyncio.Event()
        self._queue: deque[Instruction] = deque()
        self._wake = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []
        self._reconnecting: asyncio.Task[None] | None = None
        self._rejoin_wanted = False
        self._stopping = False
        self._left = False  # this node left the cluster (``_leave``)
        self._link = 0  # counts the links to Redis: a failure of an earlier one is no news
        self._resubscribed = False  # subscribed again at once, and nothing pushed since
        self._backoff = Backoff()  # kept from one loss to the next: see _reconnect
        self._refresh_wanted = False  # the hub asked to read again who is where (Refresh)
        self._absent_due: float | None = None  # when Recovery._drop_absent runs (lease clock)
        self._up_since = time.monotonic()
        self._fenced_at = -math.inf  # when Redis last refused this node's writes (its lease)

    # --- life ----------------------------------------------------------------------------------

    async def start(self) -> None:
        """Join the cluster: announce this node, learn who is where, backfill the store with the
        log's messages it lacks, then read on from there. Redis errors propagate (start-up)."""
        now = time.time()
        archive = self.hub.archive
        stored, mark = archive.last_id(), archive.log_mark()
        unread = await self.bus.register(max(stored, mark), now)  # ids above what it read too
        self.hub.reserve_servers(self.bus.servers)
        self._undelivered(self.node, unread, now)  # an earlier run's, if it died
        last, nodes, topics = await self.bus.snapshot()
        self.route(self.hub.resync(nodes, now))
        # The store has the log's messages up to its mark, but not those numbered below its
        # highest id (one given while cut off) that it had not read, nor those of a Redis
        # that lost its data (ids below the mark again): from the lower of the two.
        after = min(stored, mark) if mark else stored
        backfilled = await self._keep_log(after, last, topics, now)  # nobody is connected yet
        self.bus.log_position.last = last
        archive.mark_log(last)
        self.bus.inbox_position.last = (await self.bus.edges(self.bus.inbox))[1]
        self.hub.reserve(await self.bus.reserve(max(stored, mark), now))
        others = sum(len(users) for node, users in nodes.items() if node != self.node)
        log.info(
            "joined the cluster as %s: other nodes %d, users there %d, messages backfilled %d",
            self.node,
            len([n for n in nodes if n != self.node]),
            others,
            backfilled,
        )
        self.up.set()
        loop = asyncio.get_running_loop()
        self._tasks = [loop.create_task(job()) for job in (self._write, self._read, self._tick)]

    async def stop(self) -> None:
        """Leave on a clean stop: what is queued goes out, then this node's users are announced
        gone at once (a crash leaves that to the lease)."""
        self._stopping = True
        for task in self._tasks + ([self._reconnecting] if self._reconnecting else []):
            task.cancel()
        # redis-py may turn a cancellation in flight into a connection error: the tasks stop at
        # ``_stopping`` then, and are not waited for longer than a moment.
        if self._tasks:
            await asyncio.wait(self._tasks, timeout=STOP_WAIT_S)
        try:
            if not self.up.is_set():
                return
            for step in (self._drain, self._leave):  # the leave even if the queue did not go
                try:
                    await asyncio.wait_for(step(), STOP_WAIT_S)
                except Exception as exc:  # Redis gone: the lease lapses, the others reap it
                    log.warning("could not leave the cluster cleanly: %s", exc)
        finally:
            await self.bus.close()

    async def _drain(self) -> None:
        """Send what is queued, in the writer's batches (``take_batch``), until it is all sent
        or the node would have to join the cluster again."""
        while self._queue and not self._rejoin_wanted:
            batch, link, boot = take_batch(self._queue), self._link, self.bus.boot
            self._answered(batch, await self.bus.run(batch), link, boot, retry=False)

    async def _leave(self) -> None:
        """Leave (``Bus.leave``); the private messages that reached this node after its reader
        stopped are answered "not delivered" before the lease is given up (``Bus.let_go``)."""
        now = time.time()
        unread = await self.bus.leave(now, codes.SERVER_SHUTDOWN)
        if unread is None:
            return
        # Gone from the cluster: only bounces may still go (what did not go before would speak
        # for a node that left: names, users, messages nobody reads back).
        self._left = True
        self._queue = deque(filter(is_bounce, self._refuse_messages(self._queue)))
        self._undelivered(self.node, unread, now, codes.SERVER_SHUTDOWN)
        await self._drain()
        await self.bus.let_go()

    # --- the hub's instructions ----------------------------------------------------------------

    def send(self, item: Instruction) -> None:
        """Queue one of the hub's cluster instructions for the writer. A message is refused at
        once (its sender is told) when too much is waiting: Redis is paused or too slow. A
        ``Refresh`` is answered by the reader or the ticker (``_refresh``)."""
        if isinstance(item, Refresh):
            self._refresh_wanted = True
            return
        if self._left and not is_bounce(item):
            self._refuse_messages([item])  # (``_leave``)
            return
        if len(self._queue) >= CLUSTER_MAX_PENDING:
            if isinstance(item, Whisper) or (isinstance(item, Publish) and item.sender):
                self.route(self.hub.unsent(item, time.time()))
                return
            if not self.up.is_set() and not self._rejoin_wanted:
                # Cut off long and busy: rather than keep every change, join again when the
                # link is back and say then who is where.
                self._rejoin_wanted = True
                self._drop_for_rejoin()
        if self._rejoin_wanted and not self.up.is_set() and done_by_rejoining(item):
            return
        self._queue.append(item)
        self._wake.set()

    async def _write(self) -> None:
        while not self._stopping:
            await self._wake.wait()
            self._wake.clear()
            while self.up.is_set() and (self._queue or self.bus.mark_due):
                batch, link, boot = take_batch(self._queue), self._link, self.bus.boot
                try:
                    answers = await self.bus.run(batch)
                except Exception as exc:
                    self._lost(exc, link)
                    self._in_flight_lost(batch)
                    break
                retry = lease_clock() - self._fenced_at >= self.bus.lease.renew
                try:
                    fenced = self._answered(batch, answers, link, boot, retry)
                except Exception:  # our bug: logged, and the writer goes on
                    log.exception("cluster: handling Redis's answers failed")
                    fenced = False
                if fenced and not await self._renew_fenced(link):
                    break
                if not batch:
                    break  # only the inbox's read mark (Bus.run): noted or not, once a wake

    async def _renew_fenced(self, link: int) -> bool:
        """Redis refused writes of this node's for want of its lease (``Answers._answered``):
        renew it and go on (True), unless the others reaped this node (it joins again) or the
        link is lost. Once a renewal's span at most: fenced again sooner, the node joins again."""
        self._fenced_at = lease_clock()
        log.warning(
            "cluster: Redis refused this node's writes: its lease ran out in Redis (did Redis "
            "stall?); renewing it and sending them again"
        )
        try:
            if await self.bus.renew():
                return True
        except Exception as exc:
            self._lost(exc, link)
            return False
        self._rejoin_wanted = self._rejoin_wanted or link == self._link
        self._lost(ConnectionError("this node lost its lease"), link)
        return False

    # --- reading -------------------------------------------------------------------------------

    async def _read(self) -> None:
        bus = self.bus
        subscribed = -1  # the link the subscription was made on, and caught up after
        while not self._stopping:
            await self.up.wait()
            link = self._link
            try:
                if bus.listening and subscribed == link:
                    try:
                        await self._deliver(await bus.pushed(), link)
                        self._resubscribed = False
                        if self._refresh_wanted:
                            await self._refresh(time.time(), reader=True)
                        continue
                    except Exception as exc:
                        ended = self._stopping or link != self._link  # lost, or stopping
                        if bus.listening or self._resubscribed or ended:
                            raise  # a lost link, taken up with backoff
                        # Only the subscription went (Redis drops a subscriber that falls far
                        # behind, or it was killed): subscribe again at once and catch up; if
                        # that fails too, or the new one goes before a push came through it,
                        # the link is lost (nothing loops on a subscription that cannot last).
                        log.warning("cluster: subscription lost (%s); subscribing again", exc)
                        self._resubscribed = True
                        await bus.listen()
                        subscribed = link
                        if not await self._still_in(time.time()):
                            raise ConnectionError("this node was dropped meanwhile") from exc
                else:
                    # A new link, or a subscription made on an earlier one (which may have
                    # missed what came between that link's loss and it): subscribe afresh.
                    await bus.listen()
                    subscribed = link
                # Subscribed: what was appended before the pushes began is read from the
                # streams, from where this node stopped.
                while True:
                    await self._deliver(await bus.read(), link)
                    if bus.drained:
                        break
            except Exception as exc:
                subscribed = -1  # whatever happens next, the next round subscribes and catches up
                self._lost(exc, link)

    async def _refresh(self, now: float, reader: bool) -> None:
        """Answer the hub's ``Refresh``: add the users of other nodes it does not know. The
        snapshot must not be older than what was read of the log (it would bring back someone
        who left since): the reader takes it between two pushes; the ticker (for a quiet log,
        where the reader waits) applies it only if the reader is not past it, else tries again."""
        self._refresh_wanted = False
        try:
            last, nodes, _ = await self.bus.snapshot(topics=False)
        except Exception:
            self._refresh_wanted = True  # asked for again once the link is back
            raise
        if not reader and self.bus.log_position.last > last:
            self._refresh_wanted = True
            return
        self.route(self.hub.add_missing(nodes, now))

    async def _keep_log(self, after: int, last: int, topics: Numbered, now: float) -> int:
        """Keep the room messages the log holds after ``after`` up to ``last`` (delivered to
        nobody), and take the topics set meanwhile (``topics``: the snapshot's); how many kept.
        Slice by slice (``Bus.history``), at the store's pace and renewing the lease: a long
        log of long messages took a joining node 15 s and 0.5 GB, its lease lapsed in it, and
        the store's queue, full, dropped five of six messages (an abuse review, 2026-12-03)."""
        kept, patient, link = 0, True, self._link
        logged: dict[str, tuple[int, cl.TopicSet]] = {}  # each room's last (by the log's order)
        if last > after:
            async for chunk in self.bus.history(after, last):
                out: Out = []
                for message_id, entry in chunk:
                    if isinstance(entry, cl.Said):
                        out += self.hub.kept(message_id, entry)  # what a leave held back behind it
                        kept += 1
                    elif isinstance(entry, cl.TopicSet):
                        logged[entry.room] = (message_id, entry)
                self.route(out)
                patient = await self._keep_pace(patient, link)
                if link != self._link:  # lost while it waited: the new link reads again
                    raise ConnectionError("the link was lost while the log was read")
        self.route(self.hub.learn_topics([*logged.values(), *topics], now))
        return kept

    async def _keep_pace(self, patient: bool, link: int) -> bool:
        """Between two slices of a long read of the log (on link ``link``): renew the lease if
        it is due (the ticker does not run yet when a node joins), and, while ``patient``, let
        the store write what waits while more than a slice does. False once a wait made no
        headway: the rest of this read waits no more (a stalled disk is the store's to report:
        it drops what it cannot hold and keeps its log mark, so the next start reads it again)."""
        archive, waiting = self.hub.archive, -1
        while True:
            if self.bus.lease.due(lease_clock()) and not await self.bus.renew():
                # Reaped meanwhile: it joins again once running, when its ticker finds it so.
                self._rejoin_wanted = self._rejoin_wanted or link == self._link
            before, waiting = waiting, archive.backlog()
            if waiting <= CLUSTER_READ_COUNT or not patient:
                return patient
            if before != -1 and waiting >= before:
                return False
            await asyncio.to_thread(archive.flush, CLUSTER_RENEW_S)

    async def _deliver(self, read: Read, link: int) -> None:
        """Apply ``read`` (read on link ``link``); but private messages only while this node's
        lease surely holds. One that stalled past it (SIGSTOP, a paused VM) may have been reaped
        meanwhile, its reaper answering "Not delivered" for what it had not read of its inbox:
        Redis is asked first, and meanwhile those entries do not count as handled (the writer
        may note how far the inbox was handled: ``Bus.mark_due``). If the lease is gone, they
        are read again after joining again, from past what the reaper took (``Bus.register``);
        if Redis cannot be asked, once the link is back."""
        lapsed = self.bus.lease.lapsed(lease_clock())  # (first: the common way stays short)
        inbox = [number for key, number, _ in read if key != cl.LOG_KEY] if lapsed else []
        if not inbox:
            self._apply(read)
            return
        position = self.bus.inbox_position
        read_to, position.last = position.last, min(position.last, min(inbox) - 1)
        failed: Exception | None = None
        try:
            renewed = await self.bus.renew()
        except Exception as exc:  # the link is lost: whether this node was reaped is seen later
            renewed, failed = False, exc
        if renewed:
            position.last = max(position.last, read_to)
            self._apply(read)
            return
        self._apply([item for item in read if item[0] == cl.LOG_KEY])
        if failed is not None:
            raise failed
        self._rejoin_wanted = self._rejoin_wanted or link == self._link
        raise ConnectionError("this node's lease lapsed")

    def _apply(self, read: Read) -> None:
        """Feed the entries read to the hub, and route what it answers (a burst at once)."""
        if not read:
            return
        now = time.time()
        out: Out = []
        heard = self.hub.heard
        inbox = False
        for key, message_id, entry in read:
            inbox = inbox or key != cl.LOG_KEY
            try:
                out += heard(message_id, entry, now)
            except Exception:  # our bug: logged, and the reader goes on with the next
                log.exception("cluster: applying entry %d failed", message_id)
        self.route(out)
        self.hub.archive.mark_log(self.bus.log_position.last)
        if inbox:
            self._wake.set()  # the writer notes how far the inbox was handled (Bus.mark_due)

    async def _tick(self) -> None:
        while not self._stopping:
            await asyncio.sleep(self.bus.lease.wait(lease_clock(), CLUSTER_TICK_S))
            if not self.up.is_set():
                continue
            now = time.time()
            link = self._link
            started = lease_clock()  # a call of this round held in a stall: nobody is reaped
            try:
                if self.bus.lease.due(started) and not await self.bus.renew():
                    self._rejoin_wanted = self._rejoin_wanted or link == self._link
                    self._lost(ConnectionError("this node's lease lapsed"), link)
                    continue
                self.hub.reserve_servers(self.bus.servers)  # (read as the lease is renewed)
                if self.bus.mark_due:
                    self._wake.set()  # (noted again after a lapse: Bus.renew)
                self.bus.stalls.answered(started, lease_clock())
                for node, unread in await self.bus.reap(now):
                    log.warning("cluster: node %s stopped renewing its lease: its users left", node)
                    self._undelivered(node, unread, now)
                if self.bus.outage.stale(self.bus.floor(0), now):  # ids for a loss, kept recent
                    self.hub.reserve(await self.bus.reserve(self.hub.archive.last_id(), now))
                if self._refresh_wanted:
                    await self._refresh(now, reader=False)
                if self._absent_due is not None and lease_clock() >= self._absent_due:
                    await self._drop_absent(now)
                self.bus.stalls.answered(started, lease_clock())
            except Exception as exc:
                self._lost(exc, link)
