"""Reaping (``bus.Bus``, which supplies the rest): a node whose lease lapsed is announced gone
by another (its names freed, its users gone, what its inbox held and it never handled taken, to
answer "not delivered"), and a node joining afresh or leaving reaps its own earlier state. Not
right after a stall of Redis, which lets live nodes' leases run out (``Stalls``; docs/CLUSTER.md,
Fencing)."""

from __future__ import annotations

import json
import logging
from typing import Any

from ...core import cluster as cl
from ...core import cluster_codec as codec
from ...core.lease import BACK_HOLD_S, Stalls, reapable, young_redis_hold
from ...core.limits import (
    CLUSTER_GONE_INBOX_S,
    CLUSTER_LOG_ENTRIES,
    CLUSTER_MARK_S,
    CLUSTER_REAP_BOUNCES,
    CLUSTER_STALL_S,
)
from ..logs import LOGGER_NAME
from . import lease_clock
from .calls import Calls
from .wire import flat_fields

log = logging.getLogger(LOGGER_NAME)

Unread = list[tuple[int, cl.Entry]]  # a reaped node's inbox entries it never handled, by id


class Reaping:
    """The reaps of a node's bus; the state it uses is ``Bus``'s."""

    redis: Any
    node: str
    boot: str
    calls: Calls
    stalls: Stalls
    inbox_position: cl.Position
    _taken: int

    def _boots(self) -> list[str]:
        raise NotImplementedError  # Bus._boots

    async def reap(self, now: float) -> list[tuple[str, Unread]]:
        """Announce gone every node whose lease lapsed: the nodes this call reaped, each with
        the entries of its inbox it never handled (to answer "not delivered"). Nobody, right
        after Redis stalled: the leases it let run out meanwhile may be renewed yet (``Stalls``);
        and a reap is done only if Redis runs it within ``CLUSTER_STALL_S`` of the look."""
        sent = lease_clock()
        async with self.redis.pipeline(transaction=False) as pipe:
            (seconds, micros), listed = await pipe.time().smembers(cl.NODES_KEY).execute()
        listed = sorted(listed)
        async with self.redis.pipeline(transaction=False) as pipe:
            for node in listed:
                pipe.exists(cl.lease_key(node))
            alive = [node for node, held in zip(listed, await pipe.execute()) if held]
        late = seconds * 1000 + micros // 1000 + round(CLUSTER_STALL_S * 1000)
        reaped: list[tuple[str, Unread]] = []
        for node in reapable(listed, alive, self.node):
            if not self.stalls.calm(self._answered(sent)):
                break
            sent = lease_clock()
            taken = await self._reap_one(node, now, "", late=late)
            if taken is not None:
                reaped.append((node, taken[1]))
        self._answered(sent)
        return reaped

    async def hold_if_redis_is_young(self, renew: float) -> None:
        """Joining afresh: reap nobody until Redis has been up as long as a node back from a
        lost link waits (``young_redis_hold``): a Redis restarted with its data let the leases
        of live nodes run out while it was down, and they are on their way back. Only if some
        other node listed has no lease now: with every one renewing, there is nobody to wait for
        (and a node that dies later is reaped in the usual time)."""
        listed = sorted(
            node for node in await self.redis.smembers(cl.NODES_KEY) if node != self.node
        )
        async with self.redis.pipeline(transaction=False) as pipe:
            for node in listed:
                pipe.exists(cl.lease_key(node))
            if all(await pipe.execute()):
                return
        try:
            uptime: float | None = float((await self.redis.info("server"))["uptime_in_seconds"])
        except Exception as exc:  # INFO refused (an ACL user without it): as if Redis were new
            log.debug("cluster: Redis did not say how long it has been up: %s", exc)
            uptime = None
        hold = young_redis_hold(uptime, BACK_HOLD_S + renew)
        if hold > 0:
            self.stalls.hold(lease_clock(), hold)
            since = "an unknown time" if uptime is None else f"{uptime:.0f} s"
            log.info(
                "cluster: Redis has been up for %s: no node is taken for gone for %.1f s, time "
                "for the others to be back",
                since,
                hold,
            )

    def _answered(self, sent: float) -> float:
        """A call of the timer's sent at ``sent`` was answered: now, on the lease's clock."""
        now = lease_clock()
        self.stalls.answered(sent, now)
        return now

    async def _reap_one(
        self,
        node: str,
        now: float,
        reason: str,
        keep_inbox: bool = True,
        take: bool = True,
        late: int = 0,
        staying: str = "",
    ) -> tuple[int, Unread] | None:
        """Reap ``node``; this node itself (joining afresh, leaving: its inbox kept or not)
        even if it was reaped already, since it may have stalled past that and written users
        and names since, unless another run of it holds the lease. None if not reaped, else
        the node's inbox read mark and the entries after it that the reap took (``take``).
        ``late``: when it is too late for Redis to reap another node, on Redis's clock in ms
        (0: never; scripts.py, REAP). ``staying``: the users this node still serves, joining
        again (``cl.Gone``)."""
        keys = [cl.lease_key(node), cl.NODES_KEY, cl.held_key(node), cl.members_key(node)]
        keys += [cl.SEQ_KEY, cl.LOG_KEY, cl.inbox_key(node), cl.read_key(node)]
        own = self.boot if node == self.node else ""
        ttl = 0 if own and not keep_inbox else CLUSTER_GONE_INBOX_S * 1000
        read = self.inbox_position.last if own else 0
        gone = flat_fields(codec.encode(cl.Gone(node, now, reason, staying)))
        args = [node, CLUSTER_LOG_ENTRIES, own, own and self._boots()[1], ttl, read]
        args += [CLUSTER_REAP_BOUNCES if take else 0, round(CLUSTER_MARK_S * 1000), late]
        members = codec.staying(staying)  # its members record from now on
        args.append(len(members))
        for name, rooms in members.items():
            args += [name, json.dumps(rooms)]  # as PRESENCE writes it (calls.py)
        answer = await self.calls.reap(keys=keys, args=[*args, *gone])
        if not answer:
            return None
        unread: Unread = []
        for entry_id, raw in zip(answer[2::2], answer[3::2]):
            try:
                entry = codec.decode({codec.FIELD: raw})
                if entry is not None:
                    unread.append((cl.id_of(entry_id), entry))
                    self._taken = max(self._taken, unread[-1][0])
            except ValueError:
                continue  # not ours (read() says so in the log)
        return int(answer[1]), unread
