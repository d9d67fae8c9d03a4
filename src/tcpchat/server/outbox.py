"""What waits to be written to one client, and when the server writes: no sockets, no clock.

An ``Outbox`` holds a connection's queued lines (its own events and its share of the broadcasts,
which are bytes shared with every other recipient), counts every byte queued, remembers which
private messages it carries (so their senders can be told if they are discarded), and goes through
one lifecycle: ``HANDSHAKE`` (no name yet: only its own events), ``ONLINE`` (in ``#lobby``: reads
the broadcasts too), ``OUTSIDE`` (registered but out of ``#lobby``: only its own events again),
``CLOSING`` (its last words are queued, nothing is added), ``CLOSED`` (dropped or gone).
The transport (``connection.py``) moves the bytes: it asks ``take`` for what to write, reports
what the kernel took with ``written``, and says when the socket is full (``paused``).
"""

from __future__ import annotations

import enum

from ..core.codes import TEXT
from ..core.limits import FLUSH_INTERVAL_S
from ..core.output import ToSessions
from ..core.session import Session
from .fanout import Broadcasts


class Phase(enum.Enum):
    HANDSHAKE = "handshake"
    ONLINE = "online"
    OUTSIDE = "outside"
    CLOSING = "closing"
    CLOSED = "closed"


def flush_delay(flushed_at: float, now: float, interval: float = FLUSH_INTERVAL_S) -> float:
    """How long to wait before the next flush, given when the last one ran: none after a quiet
    spell (the first message goes out at once), up to ``interval`` while messages keep coming
    (each write then carries several, which halves the server's work under load)."""
    return max(0.0, flushed_at + interval - now)


class Outbox:
    """The lines waiting for one client, in the order the hub made them.

    ``size`` counts every byte queued and not yet handed to the transport. ``cursor`` is how many
    of the shared broadcasts are already in ``lines`` (meaningful while ``ONLINE``), ``mode`` the
    mode they were rendered in so far.
    """

    __slots__ = ("phase", "open", "lines", "size", "cursor", "mode", "paused", "sent", "receipts")

    def __init__(self) -> None:
        self.phase = Phase.HANDSHAKE
        # True while events may still be added (not closing, not closed): asked several times
        # per line, so kept with the phase rather than worked out from it.
        self.open = True
        self.lines: list[bytes] = []
        self.size = 0
        self.cursor = 0
        self.mode = TEXT
        self.paused = False  # the transport holds as much as the kernel would not take
        self.sent = 0  # bytes handed to the transport so far
        # Private messages in this stream whose sender was told "Delivered": (where each ends in
        # the stream, its instruction). Once the kernel has taken that many bytes it has left.
        self.receipts: list[tuple[int, ToSessions]] = []

    def go_online(self, cursor: int, mode: str) -> None:
        """The session entered #lobby: it gets the broadcasts from entry ``cursor`` of the shared
        queue."""
        if self.phase is Phase.HANDSHAKE or self.phase is Phase.OUTSIDE:
            self.phase = Phase.ONLINE
            self.cursor = cursor
            self.mode = mode

    def go_outside(self, shared: Broadcasts, session: Session | None) -> None:
        """The session left #lobby: it keeps the broadcasts made before, and gets no more."""
        if self.phase is Phase.ONLINE:
            self.catch_up(shared, session)
            self.phase = Phase.OUTSIDE

    def catch_up(self, shared: Broadcasts, session: Session | None) -> None:
        """Queue the broadcasts not taken yet, so that what comes next stays after them."""
        if self.phase is Phase.ONLINE:
            count = shared.count
            if self.cursor < count:
                taken = shared.since(self.cursor, self.mode, session)
                self.lines += taken
                self.size += sum(map(len, taken))
                self.cursor = count

    def add(self, data: bytes, receipt: ToSessions | None = None) -> bool:
        """Queue ``data`` (``receipt``: the private message it carries). Returns True if the
        outbox was empty before: the caller then schedules a flush."""
        was_empty = not self.lines
        self.lines.append(data)  # often the same bytes object as for every other recipient
        self.size += len(data)
        if receipt is not None:
            self.receipts.append((self.sent + self.size, receipt))
        return was_empty

    def take(self, shared: Broadcasts, session: Session | None) -> list[bytes]:
        """Everything to write now, its share of the broadcasts first; nothing while paused.

        Most clients have nothing else queued when the broadcasts are written: they get the
        shared bytes as they are, in a list shared with them too (not to be changed)."""
        if self.paused:
            self.catch_up(shared, session)
            return []
        if self.phase is Phase.ONLINE and not self.cursor and not self.lines and shared.count:
            self.cursor = shared.count
            return shared.since(0, self.mode, session)
        self.catch_up(shared, session)
        lines, self.lines, self.size = self.lines, [], 0
        return lines

    def rewind(self) -> None:
        """The shared queue was emptied (after every client took its share)."""
        self.cursor = 0

    def written(self, nbytes: int, buffered: int) -> None:
        """``nbytes`` were handed to the transport, which still holds ``buffered`` of all it got:
        the private messages before that point have left the server. (``buffered`` matters only
        while there are receipts: the caller need not ask the transport otherwise.)"""
        self.sent += nbytes
        if self.receipts:
            taken = self.sent - buffered
            self.receipts = [(end, item) for end, item in self.receipts if end > taken]

    def close(self) -> None:
        """The last words are queued: nothing more is added; write what is queued, then close."""
        if self.open:
            self.phase = Phase.CLOSING
            self.open = False

    def discard(self, buffered: int) -> list[ToSessions]:
        """The connection is gone or dropped: forget what is queued. Returns the private messages
        that never left the server (past what the kernel took: ``sent`` less ``buffered``)."""
        taken = self.sent - buffered
        lost = [item for end, item in self.receipts if end > taken]
        self.phase = Phase.CLOSED
        self.open = False
        self.lines, self.size, self.receipts = [], 0, []
        return lost
