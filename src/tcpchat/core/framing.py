"""Line framing, sans I/O: bytes in, decoded lines (or one error item per broken line) out.

The transport calls ``LineDecoder.feed`` with the bytes it read and ``feed_eof`` when the peer
closed; each item goes to ``parse.parse_line``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Union, cast

from .limits import MAX_LINE_BYTES
from .text import (
    ASCII_CONTROLS,
    ASCII_RUN,
    ASCII_RUN_BYTES,
    CHECK_BYTES_FROM,
    neutralise_line,
)

# --- framing ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class LineTooLong:
    """A line passed the limit; its bytes were dropped up to the next newline. ``more``: not a new
    line but another ``max_line`` bytes of one that goes on and on (it counts against the budget
    of bad lines again, but it is still the same line)."""

    more: bool = False


@dataclass(frozen=True)
class InvalidUtf8:
    """A complete line that was not UTF-8; it was dropped."""


class Neutralised(str):
    """A line the gate changed (controls replaced, blank padding cut); ``raw`` is the line as
    it was sent, kept as evidence for the log, which escapes it instead (``\\x1b``)."""

    raw: str

    def __new__(cls, clean: str, raw: str) -> Neutralised:
        line = super().__new__(cls, clean)
        line.raw = raw
        return line


Frame = Union[str, LineTooLong, InvalidUtf8]


class LineDecoder:
    """Splits a byte stream into lines.

    ``feed(data)`` returns the complete items found so far: a ``str`` for each line (terminator and
    a trailing CR removed, control characters neutralised, blank runs capped), ``LineTooLong`` once
    per over-long line (and once more per ``max_line`` bytes of a line that goes on and on, or for a
    line that neutralising would make longer than ``max_line`` bytes) and ``InvalidUtf8`` for a
    line that does not decode. It never raises on input. The buffer never
    holds more than ``max_line`` bytes plus one read, and each byte is scanned a fixed number of
    times (a read made of clean ASCII lines is taken whole, a few C passes over it, rather than
    line by line).
    """

    __slots__ = ("_buf", "_max", "_discarding", "_discarded")

    def __init__(self, max_line: int = MAX_LINE_BYTES) -> None:
        self._buf = bytearray()
        self._max = max_line
        self._discarding = False
        self._discarded = 0  # bytes dropped since the last LineTooLong of an endless line

    @property
    def buffered(self) -> int:
        """Bytes held while waiting for the end of a line."""
        return len(self._buf)

    def feed(self, data: bytes) -> list[Frame]:
        if not self._buf and not self._discarding and data.isascii():
            end = data.rfind(b"\n") + 1
            if end:
                lines = _clean_lines(data[:end] if end < len(data) else data, self._max)
                if lines is not None:
                    return lines + self._feed(data[end:]) if end < len(data) else lines
        return self._feed(data)

    def _feed(self, data: bytes) -> list[Frame]:
        out: list[Frame] = []
        start = 0
        end = len(data)
        while start < end:
            nl = data.find(b"\n", start)
            if nl < 0:
                self._keep(data, start, end, out)
                break
            if self._discarding:
                self._discarding = False
            elif len(self._buf) + (nl - start) > self._max + 1:  # +1: a CR before LF is allowed
                self._buf.clear()
                out.append(LineTooLong())
            else:
                if self._buf:
                    self._buf += data[start:nl]
                    raw = bytes(self._buf)
                    self._buf.clear()
                else:
                    raw = data[start:nl]
                out.append(_decode(raw, self._max))
            start = nl + 1
        return out

    def _keep(self, data: bytes, start: int, end: int, out: list[Frame]) -> None:
        """Hold the start of a line that has no newline yet, or drop it once it is too long."""
        if self._discarding:
            self._discarded += end - start
        else:
            total = len(self._buf) + (end - start)
            if total <= self._max + 1:
                self._buf += data[start:end]
                return
            self._buf.clear()
            self._discarding = True
            self._discarded = total - (self._max + 1)
            out.append(LineTooLong())
        # A line that never ends counts as one more over-long line for every ``max_line`` bytes,
        # so the session's budget of over-long lines also ends an endless stream.
        while self._discarded > self._max:
            self._discarded -= self._max
            out.append(LineTooLong(more=True))

    def discard(self) -> None:
        """Forget the line held so far (the user interrupted it): the next byte starts a line."""
        self._buf.clear()
        self._discarding = False
        self._discarded = 0

    def feed_eof(self) -> list[Frame]:
        """Call when the peer closed: a last line without a newline still counts."""
        if self._discarding or not self._buf:
            self._buf.clear()
            return []
        raw = bytes(self._buf)
        self._buf.clear()
        return [_decode(raw, self._max)]


def _clean_lines(data: bytes, limit: int) -> list[Frame] | None:
    """The lines of ``data`` (ASCII, whole lines) as ``feed`` gives them, read in one go when
    none needs more than its terminator taken off: no control character but the line ends (and a
    CR only before an LF), no run of spaces to cut, none over ``limit``. None for anything else,
    which ``feed`` reads line by line. A busy client's reads are mostly such lines, and one pass
    over the whole read costs less than one call per line."""
    if (
        len(data.translate(None, _CONTROLS_BUT_LINE_ENDS)) != len(data)
        or ASCII_RUN_BYTES in data
        or data.count(b"\r") != data.count(b"\r\n")
    ):
        return None
    text = data.decode("ascii")
    if "\r" in text:
        text = text.replace("\r\n", "\n")
    lines = text[:-1].split("\n")  # the read ends with a line end
    if len(text) > limit and max(map(len, lines)) > limit:
        return None
    return cast("list[Frame]", lines)


_CONTROLS_BUT_LINE_ENDS = bytes(c for c in ASCII_CONTROLS if c not in b"\r\n")


def _decode(raw: bytes, limit: int) -> Frame:
    if raw.endswith(b"\r"):
        raw = raw[:-1]
    size = len(raw)
    if size > limit:
        return LineTooLong()
    # Most lines are printable ASCII with no run of spaces to cut, and are let through at once,
    # so that looking for padding costs them nothing: a long line is told apart on its bytes (a
    # table lookup per byte, three times as fast as ``str.isprintable``), a short one as a str.
    if (
        size >= CHECK_BYTES_FROM
        and raw.isascii()
        and len(raw.translate(None, ASCII_CONTROLS)) == size
        and ASCII_RUN_BYTES not in raw
    ):
        return raw.decode("ascii")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        return InvalidUtf8()
    if len(text) == size and text.isprintable() and ASCII_RUN not in text:  # ASCII: a byte each
        return text
    clean = neutralise_line(text)
    # A control character becomes U+FFFD, three bytes: what the server passes on is held to the
    # limit too, or a line of control bytes would travel to everyone at three times its size.
    if clean is text:
        return clean
    if len(clean.encode("utf-8")) > limit:
        return LineTooLong()
    return Neutralised(clean, text)
