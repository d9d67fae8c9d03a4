"""The server's log files in ``--log-dir``: one per start, named for the time it started,
rotated within the run at a size cap; and at start, the files of earlier starts past a cap
removed, oldest first, so that restarts in a loop cannot fill the disk either.

Only the names this module gives are ever removed (``chat-YYYY-MM-DD_HH-MM-SS.log`` and its
rotated ``.log.1``, ``.log.2`` ...): whatever else is in the directory stays.

A running server holds a lock on the directory (``hold``): a second server given the same
``--log-dir`` would write to the same file when both start in one second, rotate it under the
other's feet, and remove the other's files as those of "earlier starts", so it is refused.
"""

from __future__ import annotations

import logging
import os
import re
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from logging.handlers import RotatingFileHandler

try:
    import fcntl
except ImportError:  # pragma: no cover - not on POSIX; the server refuses to start there
    fcntl = None  # type: ignore[assignment]

LOCK_NAME = ".tcp-server.lock"  # in --log-dir; hidden, and not a name ``prune`` touches

# A file of ours: the start it belongs to (its name without ".log"), and its number once rotated.
_OUR_FILE = re.compile(r"(chat-\d{4}-\d\d-\d\d_\d\d-\d\d-\d\d)\.log(?:\.([1-9][0-9]{0,8}))?")


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


class LogDirInUse(Exception):
    """Another running server holds the log directory."""


# The directory this process holds, and the open descriptor that holds it (flock's lock belongs
# to the descriptor: a second one of the same file, even in this process, would be refused).
_held: tuple[str, int] | None = None


def hold(log_dir: str) -> str | None:
    """Lock ``log_dir`` for this process until it exits (or until ``hold`` is called for another
    directory), writing this process's id into the lock file where it may. Raises
    ``LogDirInUse`` if another process holds it, OSError if the lock file cannot be opened.
    Returns a warning to log if the directory could not be locked (a file system without locks),
    else None."""
    global _held
    key = os.path.realpath(log_dir)
    path = os.path.join(log_dir, LOCK_NAME)
    if _held is not None and _held[0] == key and _same_file(_held[1], path):
        return None
    try:
        fd = os.open(path, os.O_RDWR | os.O_CREAT | getattr(os, "O_CLOEXEC", 0), 0o644)
    except PermissionError as refused:  # left by another user (root ran the server once)?
        try:  # a lock still
            fd = os.open(path, os.O_RDONLY | getattr(os, "O_CLOEXEC", 0))
        except FileNotFoundError:  # no: the directory is not ours to write in
            raise refused from None
    warning = None
    if fcntl is not None:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = _holder(fd)
            os.close(fd)
            pid = f" (pid {holder})" if holder.isdigit() else ""
            raise LogDirInUse(
                f"{log_dir} is in use by another tcp-server{pid}: give each server its own "
                "--log-dir and --data-dir"
            ) from None
        except OSError as exc:  # a file system without locks (ENOLCK)
            warning = (
                f"cannot lock {path} ({exc.strerror or exc}): a second server given this "
                "--log-dir would not be stopped"
            )
    try:
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode("ascii"))
    except OSError:
        pass  # read-only: the lock holds all the same, only the pid is not written
    if _held is not None:  # let go of the last directory only once this one is held
        os.close(_held[1])
    _held = (key, fd)
    return warning


def _holder(fd: int) -> str:
    """Who holds the lock on ``fd``'s file: the process /proc/locks names (Linux), else the pid
    the file holds. The file alone may name an older server: a holder that could only open it
    read-only (a file left by another user) could not write its own pid there."""
    try:
        there = os.fstat(fd)
        wanted = (os.major(there.st_dev), os.minor(there.st_dev), there.st_ino)
        with open("/proc/locks", encoding="ascii", errors="replace") as locks:
            for line in locks:  # "1: FLOCK  ADVISORY  WRITE 2275 fd:01:1234 0 EOF"
                fields = line.split()
                if len(fields) < 6 or fields[1] != "FLOCK" or not fields[4].isdigit():
                    continue  # another kind of lock, or one waiting ("1: -> FLOCK ...")
                device = fields[5].split(":")
                if len(device) == 3 and fields[4] != "0" and _device(device) == wanted:
                    return fields[4]
    except (OSError, ValueError):
        pass
    try:
        return os.pread(fd, 32, 0).decode("ascii", "replace").strip()
    except OSError:
        return ""


def _device(fields: list[str]) -> tuple[int, int, int]:
    """/proc/locks' "MAJOR:MINOR:INODE" (the first two in hex) as numbers."""
    return int(fields[0], 16), int(fields[1], 16), int(fields[2])


def _same_file(fd: int, path: str) -> bool:
    """Whether ``fd`` is still the file at ``path`` (not one removed and made again)."""
    try:
        held, there = os.fstat(fd), os.stat(path)
    except OSError:
        return False
    return (held.st_dev, held.st_ino) == (there.st_dev, there.st_ino)


def log_file_name(now: float | None = None) -> str:
    """``chat-YYYY-MM-DD_HH-MM-SS.log`` in local time."""
    return time.strftime("chat-%Y-%m-%d_%H-%M-%S.log", time.localtime(now))


@dataclass(frozen=True)
class OldFile:
    """A log file of an earlier start."""

    name: str
    start: str  # the start's file name without ".log": they sort in the order of time
    number: int  # 0 for the file the start wrote last, N for its rotated ".log.N" (older)
    size: int


def to_remove(files: Iterable[OldFile], keep_starts: int, keep_bytes: int) -> list[OldFile]:
    """Which ``files`` (of earlier starts) go, oldest first: those of every start but the newest
    ``keep_starts - 1`` (``keep_starts`` counts the start being made; 0: no limit), then the
    oldest of the rest until those left take at most ``keep_bytes`` (0: no limit). What stays is
    always the newest: a start keeps its newer files when its older ones go."""
    oldest_first = sorted(files, key=lambda f: (f.start, -f.number))
    starts = sorted({f.start for f in oldest_first})
    if keep_starts:
        starts = starts[max(len(starts) - (keep_starts - 1), 0) :]
    kept = set(starts)
    gone = [f for f in oldest_first if f.start not in kept]
    rest = [f for f in oldest_first if f.start in kept]
    if keep_bytes:
        total = 0
        for index in range(len(rest) - 1, -1, -1):  # newest first
            total += rest[index].size
            if total > keep_bytes:
                gone += rest[: index + 1]
                break
    return gone


@dataclass
class Pruned:
    """What ``prune`` did: the files it removed and their bytes, and what it could not do (one
    line each, for a WARNING)."""

    removed: int = 0
    size: int = 0
    failures: list[str] = field(default_factory=list)


def prune(log_dir: str, current: str, keep_starts: int, keep_bytes: int) -> Pruned:
    """Remove from ``log_dir`` the oldest log files of earlier starts, as ``to_remove`` says,
    before this start opens ``current`` (a ``log_file_name``; files of its name already there,
    from a start in the same second, count as this start's). Never raises: a file that cannot be
    removed stays, and the caller logs the failures."""
    pruned = Pruned()
    if not keep_starts and not keep_bytes:
        return pruned
    this_start = current[: -len(".log")]
    found: list[OldFile] = []
    try:
        with os.scandir(log_dir) as entries:
            for entry in entries:
                ours = _OUR_FILE.fullmatch(entry.name)
                if ours is None or ours.group(1) == this_start:
                    continue
                try:
                    if not entry.is_file(follow_symlinks=False):
                        continue  # a directory or a link of that name is not a file we wrote
                    size = entry.stat(follow_symlinks=False).st_size
                except OSError:  # gone in the meantime
                    continue
                found.append(OldFile(entry.name, ours.group(1), int(ours.group(2) or 0), size))
    except OSError as exc:
        pruned.failures.append(f"cannot look for old log files in {log_dir}: {_reason(exc)}")
        return pruned
    for old in to_remove(found, keep_starts, keep_bytes):
        path = os.path.join(log_dir, old.name)
        try:
            os.remove(path)
        except FileNotFoundError:  # removed by someone else in the meantime
            continue
        except OSError as exc:
            pruned.failures.append(f"cannot remove old log file {path}: {_reason(exc)}")
            continue
        pruned.removed += 1
        pruned.size += old.size
    return pruned


def _reason(exc: OSError) -> str:
    return exc.strerror or str(exc)
