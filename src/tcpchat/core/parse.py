"""A decoded line to a command: plain text, ``//text``, or a ``/command`` from the table."""

from __future__ import annotations

from . import codes
from .commands import (
    COMMANDS_BY_NAME,
    LITERAL_SLASH,
    BadLine,
    BadUsage,
    Blank,
    Command,
    Say,
    UnknownCommand,
)
from .framing import Frame, InvalidUtf8, LineTooLong
from .text import is_blank

# --- parsing ---------------------------------------------------------------------------------


def parse_line(frame: Frame) -> Command:
    """Turn one decoded item into a command (``Blank`` for an empty line, or one of which
    nothing shows: ``text.is_blank``)."""
    if isinstance(frame, LineTooLong):
        return BadLine(codes.LINE_TOO_LONG, frame.more)
    if isinstance(frame, InvalidUtf8):
        return BadLine(codes.INVALID_UTF8)
    line = frame.strip(" ")
    if not line or (not line.isascii() and is_blank(line)):
        return Blank()
    if line.startswith(LITERAL_SLASH):
        return Say(line[1:], frame)
    if not line.startswith("/"):
        return Say(line, frame)
    word, _, rest = frame.lstrip(" ")[1:].partition(" ")
    spec = COMMANDS_BY_NAME.get(word.lower())
    if spec is None:
        return UnknownCommand(word)
    command = spec.build(rest if spec.exact else rest.strip(" "))
    return BadUsage(spec.usage) if command is None else command
