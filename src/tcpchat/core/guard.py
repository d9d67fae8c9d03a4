"""Password guessing: wrong tries slow down per origin, then the origin is banned for a while.

Plain data, no clock: the hub passes ``now`` with every call. An origin is an IPv4 address or an
IPv6 /64 (``admission.origin_of``); reconnecting does not reset anything, since the count is kept
per origin rather than per connection. The first ``PASSWORD_FREE_TRIES`` wrong passwords in a row
are typos; after the n-th one beyond those, the next try from that origin is not even compared
before ``PASSWORD_BACKOFF_S * 2**(n-1)`` seconds (at most ``PASSWORD_BACKOFF_MAX_S``); after
``PASSWORD_BAN_AFTER`` wrong tries new connections from it are refused for ``PASSWORD_BAN_S``. A
right password clears the origin's record.
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


class PasswordGuard:
    """Remembers wrong passwords per origin (at most ``max_origins`` of them, the oldest record
    forgotten first, so an attacker with many addresses cannot grow it without bound)."""

    def __init__(
        self,
        free_tries: int = limits.PASSWORD_FREE_TRIES,
        backoff: float = limits.PASSWORD_BACKOFF_S,
        backoff_max: float = limits.PASSWORD_BACKOFF_MAX_S,
        ban_after: int = limits.PASSWORD_BAN_AFTER,
        ban: float = limits.PASSWORD_BAN_S,
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
        """Seconds before a password from ``origin`` may be compared; 0 if it may be now."""
        record = self._live(origin, now)
        if record is None:
            return 0.0
        return max(record.next_try - now, record.banned_until - now, 0.0)

    def refusal(self, origin: str, now: float) -> str | None:
        """Why a new connection from ``origin`` is refused (it is banned), or None."""
        record = self._live(origin, now)
        if record is None or record.banned_until <= now:
            return None
        minutes = max(1, round((record.banned_until - now) / 60))
        unit = "minute" if minutes == 1 else "minutes"
        return f"Too many wrong passwords from your address. Try again in {minutes} {unit}."

    def failed(self, origin: str, now: float) -> bool:
        """Count a wrong password from ``origin``; True if that got the origin banned."""
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
        if record.failures >= self.ban_after:
            record.banned_until = now + self.ban
            record.failures = 0  # after the ban, the backoff starts again from the beginning
            return True
        return False

    def succeeded(self, origin: str) -> None:
        """The right password came from ``origin``: its wrong tries are forgiven."""
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
