"""Logging setup for the server: stderr and one file per start, with control characters escaped.

Levels: ERROR for our own bugs (with traceback), WARNING for clients dropped or refused, INFO for
start, stop, connections, names, messages and disconnects, DEBUG for raw lines. ``setup`` is
called from ``main`` only; importing this module configures nothing.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import MutableMapping
from typing import Any

from .limits import LOG_ECHO_MAX_CHARS, LOG_TEXT_MAX_CHARS

LOGGER_NAME = "tcpchat"
FORMAT = "%(asctime)s %(levelname)-7s %(message)s"

# Escape what could fake a new record or drive the operator's terminal. User text reaching the
# log is already neutralised by the protocol; this also covers peer addresses, paths and
# exception text.
_ESCAPES = {c: f"\\x{c:02x}" for c in range(0x20)}
_ESCAPES.update({c: f"\\x{c:02x}" for c in range(0x7F, 0xA0)})
_ESCAPES.update({0x2028: "\\u2028", 0x2029: "\\u2029"})


class SafeFormatter(logging.Formatter):
    """Formats the message part with control characters escaped; tracebacks keep their lines."""

    def formatMessage(self, record: logging.LogRecord) -> str:  # noqa: N802 (logging's name)
        record.message = record.message.translate(_ESCAPES)
        return super().formatMessage(record)


class SessionLog(logging.LoggerAdapter):  # type: ignore[type-arg]
    """Prefixes each record with the session id and peer address: ``[#12 127.0.0.1:5000]``."""

    def process(
        self, msg: Any, kwargs: MutableMapping[str, Any]
    ) -> tuple[Any, MutableMapping[str, Any]]:
        extra = self.extra or {}
        return f"[#{extra['sid']} {extra['peer']}] {msg}", kwargs


def clip(text: str, echo: bool = False) -> str:
    """``text`` as a log record may quote it: at most ``LOG_TEXT_MAX_CHARS`` characters (with
    ``echo``, for a string that merely echoes what a user typed, such as an error text,
    ``LOG_ECHO_MAX_CHARS``), then a marker of how many were cut: ``… (+3712 characters)``.

    Every user string on its way to a record goes through here, so one record stays small
    whatever a client sends."""
    limit = LOG_ECHO_MAX_CHARS if echo else LOG_TEXT_MAX_CHARS
    if len(text) <= limit:
        return text
    return f"{text[:limit]}… (+{len(text) - limit} characters)"


def log_file_name(now: float | None = None) -> str:
    """``chat-YYYY-MM-DD_HH-MM-SS.log`` in local time."""
    return time.strftime("chat-%Y-%m-%d_%H-%M-%S.log", time.localtime(now))


def setup(level: str, log_dir: str, log_file: bool) -> str | None:
    """Send the ``tcpchat`` logger to stderr and, if wanted, to a new file in ``log_dir``.

    Returns the file's path (None without a file). Raises OSError if the directory cannot be made.
    """
    logger = logging.getLogger(LOGGER_NAME)
    logger.setLevel(level)
    logger.propagate = False
    for handler in list(logger.handlers):
        logger.removeHandler(handler)
        handler.close()
    formatter = SafeFormatter(FORMAT)
    path = None
    if log_file and log_dir:
        os.makedirs(log_dir, exist_ok=True)
        path = os.path.join(log_dir, log_file_name())
        # The file first: once a record is on the console, it is in the file too.
        handler = logging.FileHandler(path, encoding="utf-8")
        handler.setFormatter(formatter)
        logger.addHandler(handler)
    console = logging.StreamHandler()
    console.setFormatter(formatter)
    logger.addHandler(console)
    return path
