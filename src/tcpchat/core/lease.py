"""A cluster node's lease and the pauses between its tries to reach Redis (docs/CLUSTER.md,
Names): when to renew, when a node counts as gone, and who reaps it. Pure: the bus
(``server/cluster/``) does the talking to Redis.
"""

from __future__ import annotations

from collections.abc import Iterable

from .limits import CLUSTER_LEASE_S, CLUSTER_RENEW_S, CLUSTER_RETRY_FIRST_S, CLUSTER_RETRY_MAX_S


class Lease:
    """This node's lease on its names: renewed every ``renew`` seconds, good for ``length``
    after the last renewal Redis confirmed. The bus asks ``due`` in its timer, tells ``renewed``
    when Redis answered, and asks ``lapsed`` after a link loss: a lapsed lease means the other
    nodes may have reaped this one, which must then join again."""

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

    def renewed(self, sent: float) -> None:
        """Redis accepted the renewal sent at ``sent`` (the lease runs from when it was sent,
        not from the answer: the TTL started before the answer came back)."""
        if self.confirmed is None or sent > self.confirmed:
            self.confirmed = sent

    def lapsed(self, now: float) -> bool:
        return self.confirmed is None or now - self.confirmed >= self.length


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
