"""Flood control: a token bucket per session, and what each kind of line costs.

Every line a client sends costs something, so no kind of line can be sent in a loop for free;
the hub refuses a line when the session's bucket is empty (``charge`` returns False).
"""

from __future__ import annotations

from . import commands as cmd
from . import limits
from .session import Session

# What a line costs in tokens when it is not one token. A broken line (too long, not UTF-8)
# spends the session's budget of bad lines instead, which ends the session after MAX_BAD_LINES,
# so it never waits for tokens and is never let off that count.
_COST: dict[type, float] = {
    cmd.Ping: limits.FLOOD_CHEAP_LINE_COST,
    cmd.Pong: limits.FLOOD_CHEAP_LINE_COST,
    cmd.Blank: limits.FLOOD_CHEAP_LINE_COST,
    cmd.BadLine: 0.0,
    cmd.ShowHistory: limits.FLOOD_LOOKUP_COST,
    cmd.Search: limits.FLOOD_LOOKUP_COST,
    cmd.ListRooms: limits.FLOOD_LOOKUP_COST,
}


def charge(session: Session, command: cmd.Command, now: float, burst: float, rate: float) -> bool:
    """Take what ``command`` costs from ``session``'s bucket (``burst`` tokens at most, refilled
    at ``rate`` a second); False if there was not enough: the line is refused."""
    cost = _COST.get(type(command), 1.0)
    session.tokens = min(burst, session.tokens + (now - session.tokens_at) * rate)
    session.tokens_at = now
    if session.tokens >= cost:
        session.tokens -= cost
        return True
    return False


def count_line(session: Session, command: cmd.Command, now: float) -> None:
    """``command`` is a line from ``session`` and a sign of life (the ping timer starts over)."""
    session.last_seen = now
    session.pinged_at = None
    if not (type(command) is cmd.BadLine and command.more):
        session.lines += 1  # a line that goes on and on is still one line
