"""Strikes per origin: wrong passwords (and sessions ended for abuse) slow down, then ban; and a
rate per origin for what costs everyone (``Buckets``).

Plain data, no clock: callers pass ``now``. An origin is an IPv4 address or an IPv6 /64
(``admission.origin_of``); reconnecting does not reset anything, since strikes are kept per origin
rather than per connection.

The hub keeps one ``Strikes`` for wrong passwords (``password_guard``): the first
``PASSWORD_FREE_TRIES`` in a row are typos; after the n-th one beyond those the next try from that
origin is not even compared before ``PASSWORD_BACKOFF_S * 2**(n-1)`` seconds (at most
``PASSWORD_BACKOFF_MAX_S``); after ``PASSWORD_BAN_AFTER`` new connections from it are refused for
``PASSWORD_BAN_S``; the right password clears the record. The server keeps another for sessions it
ended for abuse (flooding, a send queue never read...): each delays the origin's next connection.
"""

from __future__ import annotations

from dataclasses import dataclass

from . import limits


@dataclass
class _Record:
    failures: int = 0
    next_try: float = 0.0  # no try is compared before this
    banned_until: float = 0.0
    last_failure: float = 0.0


class Strikes:
    """Strikes against origins (wrong passwords, sessions ended for abuse): each one past
    ``free_tries`` delays the next try from that origin, doubling from ``backoff`` up to
    ``backoff_max`` seconds, and ``ban_after`` of them (0: never) ban it for ``ban`` seconds.

    At most ``max_origins`` are remembered, the oldest record forgotten first, so an attacker with
    many addresses cannot grow it without bound; an origin quiet for ``forget_after`` is forgiven.
    """

    def __init__(
        self,
        free_tries: int,
        backoff: float,
        backoff_max: float,
        ban_after: int = 0,
        ban: float = 0.0,
        forget_after: float = limits.PASSWORD_FORGET_S,
        max_origins: int = limits.PASSWORD_GUARD_ORIGINS,
    ) -> None:
        self.free_tries = free_tries
        self.backoff = backoff
        self.backoff_max = backoff_max
        self.ban_after = ban_after
        self.ban = ban
        self.forget_after = forget_after
        self.max_origins = max_origins
        self._records: dict[str, _Record] = {}

    def __len__(self) -> int:
        return len(self._records)

    def wait(self, origin: str, now: float) -> float:
        """Seconds before the next try from ``origin`` counts (a password may be compared, a
        connection taken); 0 if it may be now."""
        record = self._live(origin, now)
        if record is None:
            return 0.0
        return max(record.next_try - now, record.banned_until - now, 0.0)

    def banned_for(self, origin: str, now: float) -> float:
        """Seconds ``origin`` stays banned; 0 if it is not."""
        record = self._live(origin, now)
        return 0.0 if record is None else max(record.banned_until - now, 0.0)

    def failed(self, origin: str, now: float) -> bool:
        """Count a strike against ``origin``; True if that got the origin banned."""
        record = self._live(origin, now)
        if record is None:
            if len(self._records) >= self.max_origins:
                del self._records[next(iter(self._records))]  # the least recently failed
            record = _Record()
        else:
            del self._records[origin]  # re-inserted below: the dict stays in order of failure
        self._records[origin] = record
        record.failures += 1
        record.last_failure = now
        beyond = record.failures - self.free_tries
        if beyond > 0:
            record.next_try = now + min(self.backoff * 2 ** min(beyond - 1, 32), self.backoff_max)
        if self.ban_after and record.failures >= self.ban_after:
            record.banned_until = now + self.ban
            record.failures = 0  # after the ban, the backoff starts again from the beginning
            return True
        return False

    def succeeded(self, origin: str) -> None:
        """``origin`` did right (the right password): its strikes are forgiven."""
        self._records.pop(origin, None)

    def _live(self, origin: str, now: float) -> _Record | None:
        record = self._records.get(origin)
        if record is None:
            return None
        quiet_since = max(record.last_failure, record.banned_until)
        if now - quiet_since >= self.forget_after:
            del self._records[origin]
            return None
        return record


def password_guard() -> Strikes:
    """Strikes for wrong server passwords, with the numbers of ``limits.py``."""
    return Strikes(
        limits.PASSWORD_FREE_TRIES,
        limits.PASSWORD_BACKOFF_S,
        limits.PASSWORD_BACKOFF_MAX_S,
        limits.PASSWORD_BAN_AFTER,
        limits.PASSWORD_BAN_S,
    )


class Buckets:
    """A token bucket per origin: ``burst`` at most, refilled at ``rate`` a second. For what an
    origin does that costs everyone, counted across its connections (a name registered: a join
    and a leave told to all). At most ``max_origins`` are remembered, the one heard from longest
    ago forgotten first (it starts again full)."""

    def __init__(
        self, burst: float, rate: float, max_origins: int = limits.PASSWORD_GUARD_ORIGINS
    ) -> None:
        self.burst = burst
        self.rate = rate
        self.max_origins = max_origins
        self._tokens: dict[str, tuple[float, float]] = {}  # origin -> (tokens, when counted)

    def __len__(self) -> int:
        return len(self._tokens)

    def take(self, origin: str, now: float) -> float:
        """Take a token for ``origin``: 0 if there was one, else the seconds until there is."""
        tokens, at = self._tokens.pop(origin, (self.burst, now))
        tokens = min(self.burst, tokens + max(0.0, now - at) * self.rate)
        wait = 0.0
        if tokens >= 1:
            tokens -= 1
        else:
            wait = (1 - tokens) / self.rate
        self._tokens[origin] = (tokens, now)  # remembered as the newest
        if len(self._tokens) > self.max_origins:
            del self._tokens[next(iter(self._tokens))]
        return wait


def arrivals(burst: int) -> Buckets | None:
    """The names an origin may register: ``burst`` at once (``HubLimits.arrivals``), that many
    again every ``ARRIVALS_REFILL_S``; None for no limit (0)."""
    return Buckets(burst, burst / limits.ARRIVALS_REFILL_S) if burst > 0 else None
