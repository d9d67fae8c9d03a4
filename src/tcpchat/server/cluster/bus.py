"""The cluster bus: this node's operations on Redis, one coroutine each (docs/CLUSTER.md).

Each operation is one atomic script or command; the decisions (which keys, which ids are new,
when the lease is due, whom to reap) are ``core/cluster.py``'s. What is left for the next step:
the task that feeds the hub (reading, renewing, reaping, reconnecting) and routing the hub's
instructions here.
"""

from __future__ import annotations

import secrets
from typing import Any

from ...core import cluster as cl
from ...core.limits import CLUSTER_INBOX_ENTRIES, CLUSTER_LOG_ENTRIES, CLUSTER_READ_COUNT
from . import scripts

Read = list[tuple[str, int, "cl.Entry"]]  # (stream key, id, entry), in the order read


def _flat(fields: dict[str, str]) -> list[str]:
    return [item for pair in fields.items() for item in pair]


class Bus:
    """This node in the cluster: ``redis`` a connected redis-py asyncio client
    (``decode_responses=True``), ``node`` this node's name."""

    def __init__(self, redis: Any, node: str, lease: cl.Lease | None = None) -> None:
        self.redis = redis
        self.node = node
        self.boot = secrets.token_hex(8)  # tells this run of the node from an earlier one
        self.lease = lease or cl.Lease()
        self.inbox = cl.inbox_key(node)
        self.log_position = cl.Position()
        self.inbox_position = cl.Position()
        self._append = redis.register_script(scripts.APPEND)
        self._whisper = redis.register_script(scripts.WHISPER)
        self._floor = redis.register_script(scripts.FLOOR)
        self._claim = redis.register_script(scripts.CLAIM)
        self._release = redis.register_script(scripts.RELEASE)
        self._renew = redis.register_script(scripts.RENEW)
        self._reap = redis.register_script(scripts.REAP)

    async def join(self, stored: int, now: float) -> None:
        """Take a lease, be listed, and make sure ids go on above ``stored`` (the highest id in
        this node's store). Reading starts after the log's last entry and the inbox's."""
        await self.redis.set(cl.lease_key(self.node), self.boot, px=self.lease.millis)
        await self.redis.sadd(cl.NODES_KEY, self.node)
        self.lease.renewed(now)
        await self._floor(keys=[cl.SEQ_KEY], args=[stored])
        for key, position in ((cl.LOG_KEY, self.log_position), (self.inbox, self.inbox_position)):
            last = await self.redis.xrevrange(key, count=1)
            position.last = cl.id_of(last[0][0]) if last else 0

    async def renew(self, now: float) -> bool:
        """Renew the lease (sent at ``now``); False if this node was reaped meanwhile."""
        args = [self.node, self.boot, self.lease.millis]
        if not await self._renew(keys=[cl.lease_key(self.node), cl.NODES_KEY], args=args):
            return False
        self.lease.renewed(now)
        return True

    async def claim(self, name: str) -> str | None:
        """Claim ``name`` (and its look-alikes) for this node: None if claimed, else the display
        name of who holds it. ``LookupError`` if this node lost its lease (it must join again)."""
        keys = [cl.lease_key(self.node), cl.held_key(self.node), *cl.claim_keys(name)]
        answer = await self._claim(keys=keys, args=[self.boot, cl.holder_value(self.node, name)])
        if answer == "!lease":
            raise LookupError(f"node {self.node} lost its lease")
        return None if answer == "" else cl.parse_holder(answer)[1]

    async def release(self, name: str) -> None:
        keys = [cl.held_key(self.node), *cl.claim_keys(name)]
        await self._release(keys=keys, args=[cl.holder_value(self.node, name)])

    async def holder(self, name: str) -> str | None:
        """The node holding ``name``, or None."""
        value = await self.redis.get(cl.claim_keys(name)[0])
        return None if value is None else cl.parse_holder(value)[0]

    async def publish(self, entry: cl.Entry) -> int:
        """Append ``entry`` to the log; its id (the message id of a room message)."""
        args = [CLUSTER_LOG_ENTRIES, *_flat(cl.encode(entry))]
        return int(await self._append(keys=[cl.SEQ_KEY, cl.LOG_KEY], args=args))

    async def whisper(self, node: str, entry: cl.Whispered) -> int:
        """Append a private message to ``node``'s inbox if ``node`` still holds the recipient's
        name: its id, or 0 (no such user any more)."""
        keys = [cl.SEQ_KEY, cl.inbox_key(node), cl.claim_keys(entry.to)[0]]
        args = [CLUSTER_INBOX_ENTRIES, node, *_flat(cl.encode(entry))]
        return int(await self._whisper(keys=keys, args=args))

    async def read(self, block_ms: int | None = None) -> Read:
        """The entries of the log and this node's inbox after the positions, each once (waits
        up to ``block_ms`` for one if given); moves the positions."""
        streams = {cl.LOG_KEY: self.log_position.after, self.inbox: self.inbox_position.after}
        answer = await self.redis.xread(streams, count=CLUSTER_READ_COUNT, block=block_ms)
        out: Read = []
        for key, entries in answer or []:
            position = self.log_position if key == cl.LOG_KEY else self.inbox_position
            for entry_id, fields in entries:
                if not position.accept(entry_id):
                    continue
                entry = cl.decode(fields)
                if entry is not None:
                    out.append((key, cl.id_of(entry_id), entry))
        return out

    async def reap(self, now: float) -> list[str]:
        """Announce gone every node whose lease lapsed; the nodes this call reaped."""
        listed = await self.redis.smembers(cl.NODES_KEY)
        alive = [n for n in listed if await self.redis.exists(cl.lease_key(n))]
        reaped = []
        for node in cl.reapable(listed, alive, self.node):
            keys = [cl.lease_key(node), cl.NODES_KEY, cl.held_key(node), cl.members_key(node)]
            keys += [cl.SEQ_KEY, cl.LOG_KEY]
            args = [node, CLUSTER_LOG_ENTRIES, *_flat(cl.encode(cl.Gone(node, now)))]
            if await self._reap(keys=keys, args=args):
                reaped.append(node)
        return reaped
