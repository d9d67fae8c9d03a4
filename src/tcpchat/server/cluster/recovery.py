"""The cluster link losing Redis and getting it back (``link.ClusterLink``, which supplies the
rest): the hub is told (``Hub.link_down``: its users learn it once), what was waiting is refused,
the link reconnects with backoff, resumes reading where it stopped, re-reads who is where if log
entries were trimmed meanwhile, and joins again if the other nodes dropped this one
(docs/CLUSTER.md, "When the link to Redis is lost")."""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from typing import Any

from ...core import cluster as cl
from ...core import cluster_codec as codec
from ...core.lease import BACK_HOLD_S, Backoff
from ..logs import LOGGER_NAME
from . import NodeNameTaken, lease_clock
from .bus import Numbered
from .queue import Answers

log = logging.getLogger(LOGGER_NAME)

# A link lost after holding this long starts its backoff afresh; one lost sooner (Redis keeps
# refusing something, a link that flaps) goes on from the last pause, doubling up to its most.
STEADY_S = 30.0


class Recovery(Answers):
    """Losing the link and getting it back; the link's state it uses is ``ClusterLink``'s."""

    redis: Any
    up: asyncio.Event
    _wake: asyncio.Event
    _stopping: bool
    _reconnecting: asyncio.Task[None] | None
    _backoff: Backoff
    _up_since: float
    _absent_due: float | None

    async def _keep_log(self, after: int, last: int, topics: Numbered, now: float) -> int:
        raise NotImplementedError  # ClusterLink._keep_log

    def _lost(self, exc: BaseException, link: int) -> None:
        """Redis failed a command sent while the link was number ``link``: if that link is still
        the current one, it is lost. (A command stuck on a dead connection may fail only once
        the link is back: that says nothing of the new link.)"""
        if not self.up.is_set() or self._stopping or link != self._link:
            return
        self._link += 1
        self.up.clear()
        self.bus.forget_mine()
        why = str(exc).rstrip(".") or type(exc).__name__  # redis-py's end in a full stop
        log.warning("cluster link lost (%s); serving this server's users alone", why)
        self.route(self.hub.link_down(time.time()))
        # Messages still waiting for the writer never left: refused now, or they would reach
        # Redis after the link is back, behind what their senders say meanwhile (delivered
        # here at once). Names and presence wait for the link.
        self._queue = deque(self._refuse_messages(self._queue))
        self._reconnecting = asyncio.get_running_loop().create_task(self._reconnect())

    async def _reconnect(self) -> None:
        # Close the link's connections at once: a command Redis holds (CLIENT PAUSE, a busy
        # script) is dropped with its connection rather than run later, after the messages
        # said here while the link is down; the writer refuses what it had in flight.
        try:
            await self.bus.close()
        except Exception as exc:  # closing a dead connection: nothing more to do with it
            log.debug("cluster: closing the lost link's connections: %s", exc)
        backoff = self._backoff
        if time.monotonic() - self._up_since > STEADY_S:
            backoff.reset()  # it had held a while: a fresh loss; else a flapping link backs off
        while True:
            await asyncio.sleep(backoff.next())
            if self._stopping:
                return
            try:
                await self._resume()
            except Exception as exc:
                loud = isinstance(exc, NodeNameTaken)  # not Redis: a node of the same name
                (log.error if loud else log.info)("cluster: still not linked: %s", exc)
                continue
            break
        self.up.set()
        self._up_since = time.monotonic()
        # The others may have lost Redis too and not be back yet (their leases run out in it
        # meanwhile): give them time to come back before reaping anybody, or taking those not
        # listed after Redis lost its data for gone (``_drop_absent``).
        back, hold = lease_clock(), BACK_HOLD_S + self.bus.lease.renew
        self.bus.stalls.hold(back, hold)
        if self._absent_due is not None:
            self._absent_due = max(self._absent_due, back + hold)
        self._wake.set()
        self._reconnecting = None
        log.warning("cluster link back")
        self.route(self.hub.link_up(time.time()))

    async def _resume(self) -> None:
        """Back in touch with Redis: go on reading where this node stopped, or join again if the
        others dropped it (or Redis lost its data), re-reading the state where entries were lost."""
        now = time.time()
        # Connections opened before the loss may be dead (Redis restarted): start afresh, so
        # that the new link does not fail on an old one's socket.
        await self.redis.connection_pool.disconnect()
        await self.bus.close()
        await self.redis.ping()
        if self._rejoin_wanted or not await self._still_in(now, fresh=True):
            self._rejoin_wanted = True  # till done: once listed again it looks done
            await self._join_again(now)
        self.hub.reserve(await self.bus.reserve(self.hub.archive.last_id(), now))

    async def _still_in(self, now: float, fresh: bool = False) -> bool:
        """After a time without reading: False if the others dropped this node (or Redis lost
        its data). Else True, once the state is re-read if log entries were trimmed away from
        after this node's position meanwhile. ``fresh``: take a new boot id (``Bus.renew``)."""
        if not await self.bus.renew(fresh):
            return False
        first, _ = await self.bus.edges(cl.LOG_KEY)
        gap = self.bus.log_position.gap(first or None)
        if gap:
            log.warning("cluster: %d log entries were trimmed while cut off", gap)
            await self._resync(now)
        return True

    async def _drop_absent(self, now: float) -> None:
        """The hold after joining again is over: the users of a node still not listed (it died
        while Redis was away, or is later than a node back from a lost link may be) leave."""
        listed = await self.redis.smembers(cl.NODES_KEY)
        self._absent_due = None
        self.route(self.hub.drop_unlisted(listed, now))

    async def _join_again(self, now: float) -> None:
        """Dropped by the others (its lease lapsed), or Redis lost its data: join afresh, which
        first announces this node's earlier users gone everywhere but for those still here (the
        nodes that did not drop them are not told that each left and came back), then announce
        them again."""
        log.warning("cluster: this node had been dropped from the cluster; joining again")
        self._drop_for_rejoin()
        told = self.hub.staying()
        staying = codec.encode_staying(dict(told.values()))
        if told and not staying:
            log.warning(
                "cluster: %d users are too many for one entry: the other nodes see each of them "
                "leave and come back",
                len(told),
            )
        last = self.hub.archive.last_id()
        await self.bus.register(last, now, take=False, staying=staying)  # (reading goes on)
        lost = False
        for position, key in (
            (self.bus.log_position, cl.LOG_KEY),
            (self.bus.inbox_position, self.bus.inbox),
        ):
            first, last = await self.bus.edges(key)
            if last < position.last:  # Redis lost its data: all it holds now is new
                position.last = max(first - 1, 0)
                lost = True
            elif key == cl.LOG_KEY and position.gap(first or None):
                lost = True
        if lost:
            await self._resync(now, partial=True)
        self._rejoin_wanted = False
        self.route(self.hub.reannounce(now, told if staying else None))

    async def _resync(self, now: float, partial: bool = False) -> None:
        """Entries were lost to this node (trimmed while it was cut off, or Redis lost its data):
        learn who is where and the topics, and keep the room messages the log still holds up to
        the snapshot (delivered to nobody: its users were told they were cut off, and a long
        gap would flood them; /history has them). Reading goes on after the snapshot.
        ``partial`` (joining again): the other nodes may be on their way back too, and a node
        not listed yet keeps its users here until the hold for them is over (``_drop_absent``):
        back by then, it says itself who stays (``cl.Gone``'s ``staying``)."""
        last, nodes, topics = await self.bus.snapshot()
        self.route(self.hub.resync(nodes, now, absent=not partial))
        if partial:
            self._absent_due = lease_clock() + BACK_HOLD_S + self.bus.lease.renew
        position = self.bus.log_position
        kept = await self._keep_log(position.last, last, topics, now)
        log.warning("cluster: who is where read again; %d messages kept from the log", kept)
        position.last = max(position.last, last)
        self.hub.archive.mark_log(position.last)
