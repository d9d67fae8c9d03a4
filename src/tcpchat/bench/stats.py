"""Counting what the receivers saw: loss, duplicates, per-sender order, latency. No I/O.

Every benchmark message carries a marker ``%SENDER.SEQ.MICROS%`` in its text: the sender's index,
its sequence number (0, 1, ...) and the sender's monotonic clock in microseconds when it wrote the
line. Markers survive both wire formats unchanged (JSON does not escape ``%`` or ``.``; IRC passes
the text through), so one regular expression finds them in a whole chunk of received bytes.
"""

from __future__ import annotations

import re
from array import array
from collections.abc import Sequence
from collections.abc import Set as AbstractSet
from dataclasses import dataclass

MARKER = re.compile(rb"%(\d+\.\d+\.\d+)%")


def marker(sender: int, seq: int, micros: int) -> str:
    """The text that identifies message ``seq`` of ``sender``, sent at ``micros``."""
    return f"%{sender}.{seq}.{micros}%"


class Tally:
    """What one receiver got: every chunk that holds a marker, with the time the chunk arrived.

    ``feed`` takes complete lines (a chunk cut at a newline) and only counts the marker's ``%``
    signs (a C loop over the bytes, about three times as fast as a regular expression) and keeps a
    reference to the chunk, so that the generator stays cheaper than the server it measures;
    ``check`` finds the markers and does the accounting after the clock has stopped. Chunks
    without a marker (join notices) are not kept.
    """

    __slots__ = ("chunks", "count")

    def __init__(self) -> None:
        self.chunks: list[tuple[int, bytes]] = []
        self.count = 0  # markers seen, duplicates and echoes included

    def feed(self, body: bytes, now_us: int) -> int:
        signs = body.count(b"%")  # two per marker; nothing else either server sends has one
        if signs:
            self.chunks.append((now_us, body))
            self.count += signs >> 1
        return signs >> 1

    def check(
        self,
        senders: int,
        messages: int,
        own: int = -1,
        latencies: array[int] | None = None,
        expect: AbstractSet[int] | None = None,
    ) -> Loss:
        """Account for every (sender, seq) this receiver should have had exactly once, in order.

        Markers of ``own`` (the receiver's own index) are skipped: they come back in the server's
        delivery confirmation, never as a message. With ``latencies``, appends each message's
        arrival minus sending time in microseconds. ``expect``: the senders this receiver hears
        (those of its rooms; default all): a message of any other is a stranger, like one of a
        sender or sequence number out of range.
        """
        heard = range(senders) if expect is None else expect
        expected = sum(1 for sender in heard if sender != own and 0 <= sender < senders) * messages
        if expect is not None:
            strange = bytearray(senders)
            for sender in range(senders):
                strange[sender] = sender not in expect
        last = [-1] * senders
        seen = bytearray(senders * messages)
        received = duplicates = disorder = strangers = 0
        for now_us, body in self.chunks:
            for token in MARKER.findall(body):
                raw_sender, raw_seq, raw_sent = token.split(b".")
                sender = int(raw_sender)
                if sender == own:
                    continue
                seq = int(raw_seq)
                if sender >= senders or seq >= messages or expect is not None and strange[sender]:
                    strangers += 1
                    continue
                slot = sender * messages + seq
                if seen[slot]:
                    duplicates += 1
                    continue
                seen[slot] = 1
                received += 1
                if seq < last[sender]:
                    disorder += 1
                else:
                    last[sender] = seq
                if latencies is not None:
                    latencies.append(now_us - int(raw_sent))
        return Loss(expected, received, duplicates, disorder, strangers)


def percentile(ordered: Sequence[float], fraction: float) -> float:
    """Nearest-rank percentile of an already sorted sequence; 0.0 for an empty one."""
    if not ordered:
        return 0.0
    # ceil(fraction * n) in integers, so that 0.99 * 100 is 99 and not 100.
    rank = -(-round(fraction * 1_000_000) * len(ordered) // 1_000_000)
    rank = max(1, min(len(ordered), rank))
    return float(ordered[rank - 1])


@dataclass(frozen=True)
class Spread:
    """A distribution in the unit it was measured in (milliseconds, say)."""

    count: int
    p50: float
    p99: float
    max: float

    @classmethod
    def of(cls, values: Sequence[float]) -> Spread:
        ordered = sorted(values)
        return cls(
            len(ordered),
            percentile(ordered, 0.50),
            percentile(ordered, 0.99),
            float(ordered[-1]) if ordered else 0.0,
        )


@dataclass(frozen=True)
class Loss:
    """The sum over receivers: what was expected, what came, and what went wrong."""

    expected: int
    received: int
    duplicates: int
    disorder: int
    strangers: int

    @property
    def lost(self) -> int:
        return self.expected - self.received

    @property
    def clean(self) -> bool:
        return not (self.lost or self.duplicates or self.disorder or self.strangers)

    def __add__(self, other: Loss) -> Loss:
        return Loss(
            self.expected + other.expected,
            self.received + other.received,
            self.duplicates + other.duplicates,
            self.disorder + other.disorder,
            self.strangers + other.strangers,
        )
