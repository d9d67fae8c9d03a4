"""A cluster node's lease and the pauses between its tries to reach Redis (docs/CLUSTER.md,
Names): when to renew, when a node counts as gone, and who reaps it; and when to reserve its
ids for a link loss again. Pure: the bus (``server/cluster/``) does the talking to Redis.
"""

from __future__ import annotations

from collections.abc import Iterable

from .limits import (
    CLUSTER_COMMAND_TIMEOUT_S,
    CLUSTER_LEASE_S,
    CLUSTER_OUTAGE_IDS,
    CLUSTER_RENEW_S,
    CLUSTER_RESERVE_EVERY_S,
    CLUSTER_RETRY_FIRST_S,
    CLUSTER_RETRY_MAX_S,
    CLUSTER_STALL_S,
)

# The longest a node that lost Redis may take to be back once Redis is: a pause between two
# tries, and a try that waits for a timeout (connecting, or the first answer). Nobody is reaped
# that long, and a renewal's span more, after a node's link came back (``Stalls.hold``).
BACK_HOLD_S = CLUSTER_RETRY_MAX_S + CLUSTER_COMMAND_TIMEOUT_S


class Lease:
    """This node's lease on its names: renewed every ``renew`` seconds, good for ``length``
    after the last renewal Redis confirmed. The bus asks ``due`` in its timer, tells ``renewed``
    when Redis answered, and asks ``lapsed`` after a link loss: a lapsed lease means the other
    nodes may have reaped this one, which must then join again. Times are on the caller's steady
    clock, one that counts a suspend (a step of the wall clock, or a suspended machine, must not
    make a lapsed lease look alive)."""

    def __init__(self, length: float = CLUSTER_LEASE_S, renew: float = CLUSTER_RENEW_S) -> None:
        if not 0 < renew < length:
            raise ValueError("a lease is renewed more often than it lasts")
        self.length = length
        self.renew = renew
        self.confirmed: float | None = None  # when Redis last accepted a renewal

    @property
    def millis(self) -> int:
        """The TTL to set, in milliseconds (``SET ... PX``)."""
        return round(self.length * 1000)

    def due(self, now: float) -> bool:
        return self.confirmed is None or now - self.confirmed >= self.renew

    def wait(self, now: float, most: float) -> float:
        """How long a timer that wakes at least every ``most`` seconds may sleep before the next
        renewal is due (it is not put off to the next whole tick)."""
        if self.confirmed is None:
            return 0.0
        return max(0.0, min(most, self.confirmed + self.renew - now))

    def renewed(self, sent: float) -> None:
        """Redis accepted the renewal sent at ``sent`` (the lease runs from when it was sent,
        not from the answer: the TTL started before the answer came back)."""
        if self.confirmed is None or sent > self.confirmed:
            self.confirmed = sent

    def lapsed(self, now: float) -> bool:
        return self.confirmed is None or now - self.confirmed >= self.length


class Stalls:
    """Whether the leases this node sees lapsed may be believed (docs/CLUSTER.md, Fencing).

    Redis counts a lease's time on its own clock, also while it stalls (``CLIENT PAUSE``, a slow
    disk under ``appendfsync``, a long script): a stall of a few seconds, shorter than the lease,
    lets the leases of live nodes run out in it, their renewals waiting in the stall. Right
    after one, a node that looks first must not reap the others, nor itself be reaped, before
    the held renewals are run. The link tells ``answered`` how long each renewal, each round of
    its timer and each look at the leases took; one that took ``slow`` seconds or more means
    Redis stalled (or this node did), and ``calm`` is False for ``grace`` seconds after it:
    long enough for every live node to renew. Times are on the lease's clock."""

    def __init__(self, slow: float = CLUSTER_STALL_S, grace: float = CLUSTER_RENEW_S) -> None:
        self.slow = slow
        self.grace = grace
        self.until: float | None = None  # no reaping before this

    def answered(self, sent: float, now: float) -> None:
        """A call sent at ``sent`` was answered at ``now``."""
        if now - sent >= self.slow:
            self.hold(now, self.grace)

    def hold(self, now: float, span: float) -> None:
        """Reap nobody for ``span`` seconds from ``now`` (this node is back from a lost link:
        the others may still be on their way back, a pause of up to CLUSTER_RETRY_MAX_S
        between two of their tries, their leases run out in Redis meanwhile)."""
        self.until = max(self.until or now, now + span)

    def calm(self, now: float) -> bool:
        """True if no stall was seen within ``grace`` seconds before ``now``."""
        return self.until is None or now >= self.until


def young_redis_hold(uptime: float | None, span: float) -> float:
    """How long a node joining afresh reaps nobody, Redis having been up ``uptime`` seconds
    (None: Redis did not say): what is left of ``span`` since Redis started. A Redis restarted
    with its data (AOF) let every lease run out while it was down, and the other nodes are on
    their way back, as after a lost link (``Stalls.hold``); a node that was waiting for Redis to
    start would otherwise reap them all the moment it joins."""
    if uptime is None:
        return span
    return max(0.0, span - uptime)


class OutageIds:
    """The block of ids this node reserved for the messages its users say while the link is down
    (docs/CLUSTER.md, Ids). In this node's history such a message sorts before every message the
    cluster numbered after its block: the block is reserved again (``stale``) at most every
    ``every`` seconds once this node has read an entry numbered after it, so that it stays near
    the present; a quiet cluster keeps its block (and its ids do not grow)."""

    def __init__(self, size: int = CLUSTER_OUTAGE_IDS, every: float = CLUSTER_RESERVE_EVERY_S):
        self.size = size
        self.every = every
        self.last = 0  # the block's last id
        self.at: float | None = None  # when it was reserved

    def reserved(self, last: int, now: float) -> int:
        """Redis reserved the ids up to ``last``: the first of them."""
        self.last = last
        self.at = now
        return last - self.size + 1

    def stale(self, read: int, now: float) -> bool:
        """True if the entries read (up to id ``read``) came after the block and it is old
        enough to be reserved again."""
        return self.at is not None and read > self.last and now - self.at >= self.every


class Backoff:
    """Pauses between tries to reach Redis: ``first``, doubling up to ``most``; ``reset`` once a
    try succeeded."""

    def __init__(self, first: float = CLUSTER_RETRY_FIRST_S, most: float = CLUSTER_RETRY_MAX_S):
        self.first = first
        self.most = most
        self._next = first

    def next(self) -> float:
        pause = self._next
        self._next = min(self._next * 2, self.most)
        return pause

    def reset(self) -> None:
        self._next = self.first


def reapable(listed: Iterable[str], alive: Iterable[str], me: str) -> list[str]:
    """The nodes to announce gone: listed in the cluster, without a live lease, and not this
    one (a node never reaps itself: if its own lease lapsed, it joins again). Sorted, so that
    every node tries them in the same order."""
    living = set(alive)
    return sorted(node for node in set(listed) if node not in living and node != me)
