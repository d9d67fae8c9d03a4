"""Flood control: a token bucket per session, and what each kind of line costs.

Every line a client sends costs something, so no kind of line can be sent in a loop for free;
the hub refuses a line when the session's bucket is empty (``charge`` returns False). The rule is
here once for both ends: the server charges by ``cost`` and ``refilled``, and a client that paces
its lines (``client/link.Pacer``) waits by ``line_cost`` and ``refilled``, so they cannot drift
apart.
"""

from __future__ import annotations

from . import commands as cmd
from . import limits
from .parse import parse_line
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


def cost(command: cmd.Command) -> float:
    """What ``command`` costs in tokens of the session's bucket."""
    return _COST.get(type(command), 1.0)


def line_cost(line: str) -> float:
    """What the server charges for ``line`` (one line of text, as a client sends it): a client
    waits until its own bucket holds this much before sending it."""
    return cost(parse_line(line))


def refilled(tokens: float, since: float, now: float, burst: float, rate: float) -> float:
    """A bucket that held ``tokens`` at ``since``, at ``now``: refilled at ``rate`` a second,
    ``burst`` at most."""
    return min(burst, tokens + (now - since) * rate)


def charge(session: Session, command: cmd.Command, now: float, burst: float, rate: float) -> bool:
    """Take what ``command`` costs from ``session``'s bucket (``burst`` tokens at most, refilled
    at ``rate`` a second); False if there was not enough: the line is refused."""
    price = cost(command)
    session.tokens = refilled(session.tokens, session.tokens_at, now, burst, rate)
    session.tokens_at = now
    if session.tokens >= price:
        session.tokens -= price
        return True
    return False


def count_line(session: Session, command: cmd.Command, now: float) -> None:
    """``command`` is a line from ``session`` and a sign of life (the ping timer starts over)."""
    session.last_seen = now
    session.pinged_at = None
    if not (type(command) is cmd.BadLine and command.more):
        session.lines += 1  # a line that goes on and on is still one line
