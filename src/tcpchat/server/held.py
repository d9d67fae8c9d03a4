"""Lines a connection holds back while the cluster answers (docs/CLUSTER.md): a new user's name
is claimed in Redis before it is given (``State.CLAIMING``), and a room message is confirmed only
when the log hands it back, a private one when Redis answers. On one server both are answered at
once, so a client that sends its name and its lines in one go (`printf 'ann\\nhi\\n/quit\\n' |
nc`, an IRC bot's NICK, USER and JOIN) gets every answer in order; here its connection stops
reading and holds what it read until the answer comes, for a moment, within bounds.

``Connection`` (``connection.py``) inherits ``HoldsLines``; nothing is ever held without
``--cluster``.
"""

from __future__ import annotations

import asyncio
from typing import Protocol

from ..core import codes
from ..core.commands import Quit
from ..core.framing import Frame
from ..core.hub import Hub
from ..core.limits import HELD_MAX_LINES, HELD_MAX_S, HELD_RECHECK_S
from ..core.parse import parse_line
from ..core.session import Session, State
from .outbox import Outbox


class _Server(Protocol):
    hub: Hub


class HoldsLines:
    """A connection's lines that wait for the cluster; ``Connection`` supplies the rest."""

    __slots__ = ("held", "patient")  # set up by Connection.__init__

    server: _Server  # connection.Host
    session: Session | None
    transport: asyncio.Transport | None
    outbox: Outbox
    held: Held | None  # what waits, if anything
    patient: bool  # False once a wait ran out: lines are then read as they come

    def _process(self, frames: list[Frame]) -> None:
        raise NotImplementedError  # Connection._process, IrcConnection._process

    def _take(self, frames: list[Frame]) -> None:
        raise NotImplementedError  # Connection._take: _process with a net under it

    def flush(self) -> None:
        raise NotImplementedError  # Connection.flush

    def close_after_flush(self, reason: str) -> None:
        raise NotImplementedError  # Connection.close_after_flush

    def _claiming(self) -> bool:
        return self.session is not None and self.session.state is State.CLAIMING

    def _in_flight(self) -> bool:
        return self.session is not None and self.server.hub.in_flight(self.session)

    def _hold(self, frames: list[Frame]) -> None:
        """``frames`` wait, and reading stops (what the kernel holds waits there), while the
        session's name is with the cluster (``State.CLAIMING``), or before a /quit or the end of
        the client's side while its room messages are on their way through the cluster's log.
        Then they are read as on one server, where both are answered at once: `printf
        'ann\\nhi\\n/quit\\n' | nc` gets its name, then "Delivered", then "Goodbye". At most
        HELD_MAX_LINES wait (more would be refused for flooding all the same), for at most
        HELD_MAX_S (Redis stalled): then they are read at once, as they come from then on."""
        held = self.held
        loop = asyncio.get_running_loop()
        if held is None:
            held = self.held = Held(loop.time())
            held.timer = loop.call_later(HELD_RECHECK_S, self._recheck)
        held.frames += frames
        if len(held.frames) > HELD_MAX_LINES:
            loop.call_soon(self._give_up)
        if self.transport is not None and self.transport.is_reading():
            self.transport.pause_reading()

    def _give_up(self) -> None:
        """Waiting took too long or holds too much: what waits is read now (a line during a
        claim is answered "Wait", a /quit goes without its "Delivered"), and no more waits."""
        self.patient = False
        self._release(force=True)

    def _recheck(self) -> None:
        """What waits for an answer that may never say so (a message Redis lost is waited for
        no more after HELD_BEHIND_S): looked at again every HELD_RECHECK_S."""
        if self.held is not None:
            self.held.timer = None
            if asyncio.get_running_loop().time() - self.held.since >= HELD_MAX_S:
                self._give_up()
                return
            self._release()
            if self.held is not None and self.held.timer is None:
                loop = asyncio.get_running_loop()
                self.held.timer = loop.call_later(HELD_RECHECK_S, self._recheck)

    def _release(self, force: bool = False) -> None:
        held = self.held
        if held is None or not self.outbox.open:
            return
        if not force and (
            self._claiming() or (self._in_flight() and (held.ended or _quits(held.frames)))
        ):
            return
        self.held = None
        if held.timer is not None:
            held.timer.cancel()
        transport = self.transport
        if transport is not None and not transport.is_closing() and not held.ended:
            transport.resume_reading()
        self._take(held.frames)
        if held.ended and self.held is None:
            self.flush()
            self.close_after_flush(codes.CONNECTION_CLOSED)  # the client ended its side
        elif held.ended and self.held is not None:
            self.held.ended = True  # a new name is being checked: wait for it too


class Held:
    """Lines a connection read and holds back (``HoldsLines._hold``)."""

    __slots__ = ("frames", "ended", "timer", "since")

    def __init__(self, since: float) -> None:
        self.since = since  # the loop's time the wait began
        self.frames: list[Frame] = []
        self.ended = False  # the client ended its side meanwhile: close once they are read
        self.timer: asyncio.TimerHandle | None = None


def _quits(frames: list[Frame]) -> bool:
    return bool(frames) and type(parse_line(frames[0])) is Quit
