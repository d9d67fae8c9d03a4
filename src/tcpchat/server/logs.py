"""Logging setup for the server: stderr and one file per start, with control characters escaped.

Levels: ERROR for our own bugs (with traceback), WARNING for clients dropped or refused, INFO for
start, stop, connections, names, messages and disconnects, DEBUG for raw lines. ``setup`` is
called from ``main`` only; importing this module configures nothing.

Where standard error is the journal (the systemd units), each line of a record begins with its
priority (``<4>WARNING ...``) and carries no time stamp of its own: ``journalctl -p warning``
finds the warnings, and the journal's time is the only one. Elsewhere, and in the files, every
record begins with its time.

Nobody can fill the disk through the log: a record quotes user text through ``clip``; the records
of each client address share a budget (``AddressBudget``), past which they are counted instead of
written; and the file rotates at a size cap, keeping a few older files.
"""

from __future__ import annotations

import logging
import os
import time
from collections import deque
from collections.abc import Mapping, MutableMapping
from typing import IO, Any, Callable

from ..core.limits import (
    LOG_BACKUPS,
    LOG_BUDGET_BURST_BYTES,
    LOG_BUDGET_RATE_BYTES_PER_S,
    LOG_ECHO_MAX_CHARS,
    LOG_KEEP_BYTES,
    LOG_KEEP_STARTS,
    LOG_MAX_BYTES,
    LOG_SUPPRESSED_REPORT_S,
    LOG_TEXT_MAX_CHARS,
)
from ..core.sentences import plural
from ..core.text import neutralise
from .log_files import Pruned, SizeCappedFileHandler, hold, log_file_name, prune

LOGGER_NAME = "tcpchat"
FORMAT = "%(asctime)s %(levelname)-7s %(message)s"
# What FORMAT adds to a message: "2026-11-25 12:00:00,101 INFO    " and the newline.
_RECORD_OVERHEAD = 33
# A record on a stream journald reads: the journal stamps each line with its own time.
JOURNAL_FORMAT = "%(levelname)-7s %(message)s"
# The attribute of a record that names the client address it is about; records without one are
# the server's own (start, stop, listening) and never count against a budget.
ADDRESS_ATTR = "ip"


class SafeFormatter(logging.Formatter):
    """Formats the message part with control characters escaped; tracebacks keep their lines."""

    def formatMessage(self, record: logging.LogRecord) -> str:  # noqa: N802 (logging's name)
        # What could fake a new record or drive the operator's terminal. User text reaching the
        # log is already neutralised at the decoder; this also covers addresses, paths and
        # exception text.
        record.message = neutralise(record.message, escape=True)
        return super().formatMessage(record)


def journal_priority(level: int) -> int:
    """The syslog priority of a record of ``level``: 7 debug, 6 info, 4 warning, 3 error (err),
    2 critical (crit). Python's levels have no notice (5)."""
    if level >= logging.CRITICAL:
        return 2
    if level >= logging.ERROR:
        return 3
    if level >= logging.WARNING:
        return 4
    return 6 if level >= logging.INFO else 7


class JournalFormatter(SafeFormatter):
    """A record as journald reads it from a stream: every line begins with the record's priority
    in angle brackets (sd-daemon's prefix, read under systemd's ``SyslogLevelPrefix=``, on by
    default), and no time stamp. ``<4>WARNING ...`` is a journal entry of priority 4 whose text,
    ``journalctl -o cat`` shows, is ``WARNING ...``. A traceback's lines get the prefix too, so an
    ERROR is found whole by ``journalctl -p err``."""

    def __init__(self) -> None:
        super().__init__(JOURNAL_FORMAT)

    def format(self, record: logging.LogRecord) -> str:
        prefix = f"<{journal_priority(record.levelno)}>"
        return "\n".join(prefix + line for line in super().format(record).split("\n"))


def is_journal(stream: IO[str], environ: Mapping[str, str] = os.environ) -> bool:
    """Whether ``stream`` is the stream systemd connected to the journal.

    systemd sets ``JOURNAL_STREAM`` to ``DEVICE:INODE`` (decimal) of the stream it gives a
    service as standard output or error; a stream counts only if ``os.fstat`` finds those very
    numbers, so a program that inherited the variable but writes somewhere else (its standard
    error redirected to a file, a pipe, a terminal) is not taken for the journal."""
    device, colon, inode = environ.get("JOURNAL_STREAM", "").partition(":")
    if not colon:
        return False
    try:
        wanted = (int(device), int(inode))
        found = os.fstat(stream.fileno())
    except (ValueError, OSError, AttributeError):  # no fileno: a stream of a test, a closed one
        return False
    return (found.st_dev, found.st_ino) == wanted


class SessionLog(logging.LoggerAdapter):  # type: ignore[type-arg]
    """Prefixes each record with the session id and peer address: ``[#12 127.0.0.1:5000]``.

    ``extra`` holds ``sid``, ``peer`` and ``ip`` (the client address); they become attributes of
    the record, so ``AddressBudget`` knows whose budget a record spends.
    """

    def process(
        self, msg: Any, kwargs: MutableMapping[str, Any]
    ) -> tuple[Any, MutableMapping[str, Any]]:
        extra = self.extra or {}
        kwargs["extra"] = extra
        return f"[#{extra['sid']} {extra['peer']}] {msg}", kwargs

    def log(self, level: int, msg: Any, *args: Any, **kwargs: Any) -> None:
        # A "%" in the peer (an IPv6 zone, fe80::1%eth0) is a character of the prefix, not a
        # placeholder: doubled when the message is formatted with ``args``, kept as it is when not.
        if self.isEnabledFor(level):
            extra = self.extra or {}
            prefix = f"[#{extra['sid']} {extra['peer']}] "
            if args:
                prefix = prefix.replace("%", "%%")
            kwargs["extra"] = extra
            self.logger.log(level, f"{prefix}{msg}", *args, **kwargs)


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


def received(frame: object, log_text: bool, secret: bool = False) -> str:
    """How the DEBUG record of a line received shows it (after ``<``): the line itself, clipped;
    but with ``--no-log-text`` (``log_text`` false), or when the line may be the server password
    (``secret``), only its command word, if it is a command, and its length. The arguments of a
    command can be message text (``/w bob ...``, ``/me ...``) or the password (``/pass ...``)."""
    if not isinstance(frame, str):
        return repr(frame)  # a framing item (too long, not UTF-8): it holds no text
    if log_text and not secret:
        return repr(clip(frame))
    size = f"{len(frame)} characters"
    command = frame.lstrip(" ")
    if command.startswith("/") and not command.startswith("//"):
        return f"{clip(command.split(' ', 1)[0], echo=True)} ({size})"
    return size


class _Budget:
    """One address's share of the log: a token bucket in bytes, and what it kept out lately."""

    __slots__ = ("tokens", "at", "suppressed", "suppressed_bytes", "since")

    def __init__(self, tokens: float, now: float) -> None:
        self.tokens = tokens
        self.at = now
        self.suppressed = 0  # records kept out since ``since``, not yet reported
        self.suppressed_bytes = 0
        self.since = now


class AddressBudget(logging.Filter):
    """A filter for the ``tcpchat`` logger that bounds how much of the log one client address
    can cause.

    Each address may write a burst of ``burst`` bytes of records, then ``rate`` bytes a second.
    Past that its records are counted instead of written, and ``report_every`` seconds after the
    first one kept out a single WARNING says how many there were. ERROR records (our own bugs)
    and records about no address (the server's start, stop, listeners) always pass. ``clock``
    gives the time (``time.monotonic``; tests pass their own). Used from the event loop's thread
    only. The server calls ``report`` about once a second, so a summary is written on time even
    when the address has gone quiet.
    """

    def __init__(
        self,
        logger: logging.Logger,
        burst: float = LOG_BUDGET_BURST_BYTES,
        rate: float = LOG_BUDGET_RATE_BYTES_PER_S,
        report_every: float = LOG_SUPPRESSED_REPORT_S,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        super().__init__()
        self.logger = logger
        self.burst = burst
        self.rate = rate
        self.report_every = report_every
        self.clock = clock
        self._budgets: dict[str, _Budget] = {}
        # (when its summary is due, address), in the order the clock gave them: the head is
        # always the next one due, so checking costs nothing while nothing is.
        self._due: deque[tuple[float, str]] = deque()
        self._pruned_at = clock()

    def filter(self, record: logging.LogRecord) -> bool:
        address = getattr(record, ADDRESS_ATTR, None)
        if address is None or record.levelno >= logging.ERROR:
            return True
        now = self.clock()
        self.report(now)
        budget = self._budgets.get(address)
        if budget is None:
            budget = self._budgets[address] = _Budget(self.burst, now)
        else:
            budget.tokens = min(self.burst, budget.tokens + (now - budget.at) * self.rate)
            budget.at = now
        # Counted as the file gets it: a control character is written as its escape (\x01), four
        # bytes for one, so a record of them counted as sent would write four times its budget.
        # The record keeps the escaped text, which the formatter then leaves as it is.
        message = record.getMessage()
        shown = neutralise(message, escape=True)
        if shown is not message:
            record.msg, record.args = shown, None
        size = _RECORD_OVERHEAD + len(shown.encode("utf-8", "backslashreplace"))
        if budget.tokens > 0:
            budget.tokens -= size
            return True
        if not budget.suppressed:
            budget.since = now
            self._due.append((now + self.report_every, address))
        budget.suppressed += 1
        budget.suppressed_bytes += size
        return False

    def report(self, now: float | None = None, everything: bool = False) -> None:
        """Write the summaries that are due (all of them with ``everything``, at shutdown)."""
        now = self.clock() if now is None else now
        due = self._due
        while due and (everything or due[0][0] <= now):
            _, address = due.popleft()
            budget = self._budgets.get(address)
            if budget is None or not budget.suppressed:
                continue
            self.logger.warning(
                "suppressed %d log records (%s) from %s in the last %.0f s",
                budget.suppressed,
                _kib(budget.suppressed_bytes),
                address,
                now - budget.since,
            )
            budget.suppressed = budget.suppressed_bytes = 0
        if now - self._pruned_at >= self.report_every:
            self._prune(now)

    def _prune(self, now: float) -> None:
        """Forget the addresses whose bucket is full again and that owe no summary, so the table
        holds only addresses active in the last few seconds."""
        self._pruned_at = now
        idle = [
            address
            for address, budget in self._budgets.items()
            if not budget.suppressed and budget.tokens + (now - budget.at) * self.rate >= self.burst
        ]
        for address in idle:
            del self._budgets[address]


def report_suppressed(everything: bool = False) -> None:
    """Write the due summaries of every ``AddressBudget`` on the ``tcpchat`` logger (the server
    calls this once a second, and with ``everything`` when it stops)."""
    for budget in logging.getLogger(LOGGER_NAME).filters:
        if isinstance(budget, AddressBudget):
            budget.report(everything=everything)


def _kib(size: int) -> str:
    return f"{size / 1024:.0f} KiB" if size >= 10 * 1024 else f"{size / 1024:.1f} KiB"


def _amount(size: int) -> str:
    """Bytes as a person reads them: ``512 bytes``, ``3.5 KiB``, ``41.2 MiB``."""
    if size < 1024:
        return f"{size} bytes"
    return _kib(size) if size < 2**20 else f"{size / 2**20:.1f} MiB"


def setup(
    level: str,
    log_dir: str,
    log_file: bool,
    max_bytes: int = LOG_MAX_BYTES,
    backups: int = LOG_BACKUPS,
    keep_starts: int = LOG_KEEP_STARTS,
    keep_bytes: int = LOG_KEEP_BYTES,
) -> str | None:
    """Send the ``tcpchat`` logger to stderr (in the journal's form where stderr is the journal)
    and, if wanted, to a new file in ``log_dir`` that rotates at ``max_bytes`` (0: never),
    keeping ``backups`` older files (``.1`` the newest). Before the file is opened, the files of
    earlier starts beyond ``keep_starts`` starts (this one's included) or ``keep_bytes`` are
    removed, oldest first (``log_files.prune``; 0: no limit), and that is logged once the
    handlers are in place. Each client address gets a log budget (``AddressBudget``).

    Returns the file's path (None without a file). Raises ``LogDirInUse`` if another server writes
    its logs in ``log_dir`` (``log_files.hold``), OSError if the directory cannot be made or the
    file opened; a file of an earlier start that cannot be removed is only a WARNING.
    """
    logger = logging.getLogger(LOGGER_NAME)
    logger.setLevel(level)
    logger.propagate = False
    for handler in list(logger.handlers):
        logger.removeHandler(handler)
        handler.close()
    for old in list(logger.filters):
        if isinstance(old, AddressBudget):
            logger.removeFilter(old)
    logger.addFilter(AddressBudget(logger))
    formatter = SafeFormatter(FORMAT)
    path = None
    pruned = Pruned()
    unlocked: str | None = None
    if log_file and log_dir:
        os.makedirs(log_dir, exist_ok=True)
        unlocked = hold(log_dir)
        name = log_file_name()
        pruned = prune(log_dir, name, keep_starts, keep_bytes)
        path = os.path.join(log_dir, name)
        # The file first: once a record is on the console, it is in the file too.
        handler = SizeCappedFileHandler(
            path, maxBytes=max_bytes, backupCount=backups, encoding="utf-8"
        )
        handler.setFormatter(formatter)
        logger.addHandler(handler)
    console = logging.StreamHandler()
    console.setFormatter(JournalFormatter() if is_journal(console.stream) else formatter)
    logger.addHandler(console)
    if pruned.removed:
        logger.info(
            "removed %s of earlier starts (%s) from %s (--log-keep-starts %d, --log-keep-bytes %d)",
            plural(pruned.removed, "log file"),
            _amount(pruned.size),
            log_dir,
            keep_starts,
            keep_bytes,
        )
    for failure in pruned.failures:
        logger.warning("%s", failure)
    if unlocked is not None:
        logger.warning("%s", unlocked)
    return path
