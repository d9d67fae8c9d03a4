"""The server's log files in ``--log-dir``: one per start, named for the time it started, and
rotated within the run at a size cap."""

from __future__ import annotations

import logging
import time
from logging.handlers import RotatingFileHandler


class SizeCappedFileHandler(RotatingFileHandler):
    """``RotatingFileHandler`` that counts the bytes a record takes in the file.

    The standard one compares the file's size in bytes with the record's length in characters,
    so a record full of U+FFFD (3 bytes each in UTF-8) could overshoot the cap threefold. A
    record is never split; one larger than the cap gets a file of its own.
    """

    def shouldRollover(self, record: logging.LogRecord) -> int:  # noqa: N802 (logging's name)
        if self.maxBytes <= 0:
            return False
        if self.stream is None:  # delay=True, or just rotated
            self.stream = self._open()
        size = len(f"{self.format(record)}\n".encode(self.encoding or "utf-8", "backslashreplace"))
        self.stream.seek(0, 2)  # the end, wherever the last write left the position
        written = self.stream.tell()
        return written > 0 and written + size > self.maxBytes


def log_file_name(now: float | None = None) -> str:
    """``chat-YYYY-MM-DD_HH-MM-SS.log`` in local time."""
    return time.strftime("chat-%Y-%m-%d_%H-%M-%S.log", time.localtime(now))
