"""Is the server still there? The client's watch on its connection, sans I/O.

A connection that brings nothing may be a quiet chat, or a server that hangs (stopped, swapping,
its machine gone with the connection half open): TCP says nothing either way, for a long time.
So the client asks, as IRC clients do. ``Liveness`` is told when a line comes from the server
(``heard``) and how many of our lines await their confirmation (``awaiting``); ``due`` says when
to look next, and ``check`` what to do then:

* after half of ``timeout`` with nothing from the server, ``Ping``: send ``/ping TOKEN`` (any
  session may, docs/PROTOCOL.md section 7; the server answers ``pong`` with the token, and
  ``ours`` tells that answer from one to a ``/ping`` the user typed);
* when the other half passes with no answer either, ``Dead``: close the connection and go on as
  when it drops (reconnect, or end the run);
* when a line has waited ``CONFIRM_WAIT_S`` for its confirmation (or a quarter of ``timeout``,
  if that is shorter) with none of our lines confirmed meanwhile, ``Stalled``, once: the user is
  told the line is not lost, only not confirmed yet.

Times are plain numbers (``time.monotonic`` in ``link.py``, a fake clock in tests).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Union

# Seconds of silence from the server before the client gives up on it (``--server-timeout``):
# it asks after half of them, and the server has the other half to answer.
SERVER_TIMEOUT_S = 60.0
# How long a line may wait for its confirmation before the user is told it is still waiting;
# the server confirms in a moment (a cluster's in one round trip to its Redis).
CONFIRM_WAIT_S = 5.0
# What our own pings' tokens start with; a number follows.
TOKEN_PREFIX = "tcp-client-"


@dataclass(frozen=True)
class Ping:
    """Send ``/ping token``."""

    token: str


@dataclass(frozen=True)
class Stalled:
    """Tell the user that a line sent ``waited`` seconds ago is still not confirmed."""

    waited: float


@dataclass(frozen=True)
class Dead:
    """The server said nothing for ``silent`` seconds, nor answered our ping: close."""

    silent: float


Action = Union[Ping, Stalled, Dead]


class Liveness:
    """The watch on one connection, from ``now`` (when it was opened) on."""

    def __init__(self, timeout: float, now: float) -> None:
        self.ask_after = timeout / 2  # silence before we ask
        self.answer_within = timeout - self.ask_after  # what the server has to answer
        self.confirm_within = min(CONFIRM_WAIT_S, timeout / 4)
        self.heard_at = now
        self.asked_at: float | None = None  # our ping awaits its answer since then
        self.asked = 0  # pings sent on this connection: the last one's token ends with it
        self.waiting = 0  # our lines awaiting their confirmation
        self.waiting_since: float | None = None  # since when none of them was confirmed
        self.told = False  # Stalled was given for this wait

    def heard(self, now: float) -> None:
        """A line came from the server: it is alive."""
        self.heard_at = now
        self.asked_at = None

    def ours(self, token: str) -> bool:
        """Whether a ``pong`` with ``token`` answers one of our pings (not the user's)."""
        number = token[len(TOKEN_PREFIX) :] if token.startswith(TOKEN_PREFIX) else ""
        return number.isdigit() and 0 < int(number) <= self.asked

    def awaiting(self, count: int, now: float) -> None:
        """``count`` of our lines await their confirmation now (after one was sent, or an
        answer came). The wait runs from the first line sent when none waited, and starts
        again when one is confirmed: a server that confirms is not stalled."""
        if count == 0:
            self.waiting_since, self.told = None, False
        elif self.waiting == 0 or count < self.waiting:
            self.waiting_since, self.told = now, False
        self.waiting = count

    def due(self) -> float:
        """When ``check`` has something to do next (maybe already past)."""
        if self.asked_at is None:
            at = self.heard_at + self.ask_after
        else:
            at = self.asked_at + self.answer_within
        if self.waiting_since is not None and not self.told:
            at = min(at, self.waiting_since + self.confirm_within)
        return at

    def check(self, now: float) -> list[Action]:
        """What to do at ``now``, in order (nothing before ``due``)."""
        actions: list[Action] = []
        since = self.waiting_since
        if since is not None and not self.told and now >= since + self.confirm_within:
            self.told = True
            actions.append(Stalled(now - since))
        if self.asked_at is None:
            if now >= self.heard_at + self.ask_after:
                self.asked += 1
                self.asked_at = now
                actions.append(Ping(f"{TOKEN_PREFIX}{self.asked}"))
        elif now >= self.asked_at + self.answer_within:
            actions.append(Dead(now - self.heard_at))
        return actions
