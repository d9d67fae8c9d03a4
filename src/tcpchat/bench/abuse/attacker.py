"""An attacker's joined connection that reads everything the server sends as it comes (a client
that keeps up), noting when the server first refused a line and when it ended the session."""

from __future__ import annotations

import asyncio
import math
import time

from .counting import parse_json_line
from .net import Stream

READ_CHUNK = 1 << 16


class Attacker:
    """Reads in chunks (cheap even at 100,000 lines a second) and counts refusals (JSON error
    events, or text lines starting with ``!!!``) and notes why the session ended (the ``bye``
    event's reason, or in text mode the last line); EOF ends it."""

    def __init__(self, stream: Stream) -> None:
        self.reader, self.writer = stream
        self.joined = time.monotonic()
        self.refused_at = math.inf  # first error event
        self.ended_at = math.inf  # EOF: the server closed or dropped the session
        self.refusals = 0
        self.received = 0  # bytes
        self.lines_received = 0
        self.reason = ""  # from the bye event, if any
        self.last_line = b""
        self.lines: list[bytes] = []  # kept only with keep=True
        self.keep = False
        self._task = asyncio.ensure_future(self._read())

    @property
    def ended(self) -> bool:
        return not math.isinf(self.ended_at)

    async def _read(self) -> None:
        tail = b""
        while True:
            try:
                data = await self.reader.read(READ_CHUNK)
            except OSError:
                data = b""
            now = time.monotonic()
            if not data:
                self.ended_at = now
                last = self.last_line
                if not self.reason and last.startswith(b"*** ") and b"Goodbye" in last:
                    self.reason = last[4:].decode("utf-8", "replace")  # text mode
                return
            self.received += len(data)
            head, _, tail = (tail + data).rpartition(b"\n")
            if not head:
                continue
            self.lines_received += head.count(b"\n") + 1
            errors = head.count(b'"type":"error"') + (b"\n" + head).count(b"\n!!! ")
            if errors:
                self.refusals += errors
                self.refused_at = min(self.refused_at, now)
            if b'"type":"bye"' in head:
                for line in head.split(b"\n"):
                    event = parse_json_line(line)
                    if event is not None and event.get("type") == "bye":
                        self.reason = str(event.get("reason", ""))
            self.last_line = head[head.rfind(b"\n") + 1 :]
            if self.keep:
                self.lines.extend(head.split(b"\n"))

    def stopped_after(self, now: float) -> tuple[float, bool]:
        """(seconds from joining until refused or dropped, or until ``now``; whether it was)."""
        stop = min(self.refused_at, self.ended_at)
        if math.isinf(stop):
            return now - self.joined, False
        return stop - self.joined, True

    def close(self) -> None:
        self._task.cancel()
        self.writer.close()
