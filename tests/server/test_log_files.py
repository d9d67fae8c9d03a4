"""Unit tests of the log files of earlier starts: which go at start, and that nothing else does."""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tcpchat.core import limits
from tcpchat.core.errors import ConfigError
from tcpchat.server.config import server_config
from tcpchat.server.log_files import LOCK_NAME, LogDirInUse, OldFile, hold, prune, to_remove
from tcpchat.server.logs import setup as setup_logging

CURRENT = "chat-2026-12-01_12-00-00.log"  # the file this start is about to open
# Files in a log directory that are not ours, or not files: they stay whatever the caps say.
STRANGERS = [
    "notes.txt",
    "chat-notes.log",  # chat-*.log, but no start's time
    "chat-2026-01-01_00-00-00.log.bak",
    "chat-2026-01-01_00-00-00.log.0",  # RotatingFileHandler never writes a .0
    "chat-2026-01-01_00-00-00.log.1.gz",  # compressed by someone else: theirs now
    "Chat-2026-01-01_00-00-00.log",
    "chat-2026-01-01_00-00-00.log~",
]


def start(day: int) -> str:
    """The name of the file of a start on ``day`` of November 2026."""
    return f"chat-2026-11-{day:02d}_08-30-00.log"


def fill(folder: Path, days: range, backups: int = 2, size: int = 100) -> None:
    """Files of a start on each of ``days``: the file and ``backups`` rotated ones."""
    for day in days:
        name = start(day)
        for n in range(backups + 1):
            (folder / (name if n == 0 else f"{name}.{n}")).write_bytes(b"x" * size)


def names(folder: Path) -> set[str]:
    return {p.name for p in folder.iterdir()}


def old(day: int, number: int = 0, size: int = 100) -> OldFile:
    name = start(day) + (f".{number}" if number else "")
    return OldFile(name, start(day)[: -len(".log")], number, size)


# --- which files go ------------------------------------------------------------------------------


def test_the_starts_past_the_newest_go_counting_this_one() -> None:
    files = [old(day, n) for day in (3, 1, 2) for n in (0, 1)]
    gone = to_remove(files, keep_starts=2, keep_bytes=0)  # this start and the newest earlier one
    assert [f.name for f in gone] == [
        start(1) + ".1",
        start(1),
        start(2) + ".1",
        start(2),
    ]
    assert to_remove(files, keep_starts=1, keep_bytes=0) == sorted(
        files, key=lambda f: (f.start, -f.number)
    )
    assert to_remove(files, keep_starts=4, keep_bytes=0) == []
    assert to_remove(files, keep_starts=0, keep_bytes=0) == []  # no limit


def test_past_the_byte_cap_the_oldest_files_go_a_starts_rotated_ones_first() -> None:
    files = [old(day, n, size=100) for day in (1, 2) for n in (0, 1, 2)]
    gone = to_remove(files, keep_starts=0, keep_bytes=450)
    # The newest four (day 2's three, day 1's own file) would be 400 bytes; the fifth passes.
    assert [f.name for f in gone] == [start(1) + ".2", start(1) + ".1"]
    assert to_remove(files, keep_starts=0, keep_bytes=600) == []
    assert len(to_remove(files, keep_starts=0, keep_bytes=1)) == 6


def test_both_caps_apply_whichever_removes_more() -> None:
    files = [old(day, n, size=1000) for day in range(1, 8) for n in (0, 1)]
    by_starts = to_remove(files, keep_starts=4, keep_bytes=10**9)
    assert {f.start for f in by_starts} == {old(day).start for day in range(1, 5)}
    # Of the three starts kept, three files of 1000 bytes fit in 3500: day 7's two, day 6's own.
    by_bytes = to_remove(files, keep_starts=4, keep_bytes=3500)
    assert by_bytes == by_starts + [old(5, 1, 1000), old(5, 0, 1000), old(6, 1, 1000)]


# --- the directory --------------------------------------------------------------------------------


def test_prune_removes_the_oldest_starts_and_leaves_everything_else(tmp_path: Path) -> None:
    fill(tmp_path, range(1, 16))  # fifteen earlier starts of three files each
    for stranger in STRANGERS:
        (tmp_path / stranger).write_text("not ours\n")
    (tmp_path / "chat-2026-01-02_00-00-00.log").mkdir()  # our name, but a directory
    os.symlink(tmp_path / "notes.txt", tmp_path / "chat-2026-01-03_00-00-00.log")
    (tmp_path / CURRENT).write_text("a start in the same second\n")  # this start's: it stays

    pruned = prune(str(tmp_path), CURRENT, keep_starts=10, keep_bytes=0)

    assert (pruned.removed, pruned.size, pruned.failures) == (18, 1800, [])
    kept = {start(day) + suffix for day in range(7, 16) for suffix in ("", ".1", ".2")}
    others = {*STRANGERS, "chat-2026-01-02_00-00-00.log", "chat-2026-01-03_00-00-00.log"}
    assert names(tmp_path) == kept | others | {CURRENT}
    assert (tmp_path / "notes.txt").read_text() == "not ours\n"  # the link's target too


def test_prune_keeps_the_newest_files_within_the_byte_cap(tmp_path: Path) -> None:
    fill(tmp_path, range(1, 4), size=1000)
    pruned = prune(str(tmp_path), CURRENT, keep_starts=0, keep_bytes=4500)
    assert (pruned.removed, pruned.size) == (5, 5000)
    assert names(tmp_path) == {start(3), start(3) + ".1", start(3) + ".2", start(2)}


def test_prune_without_caps_touches_nothing(tmp_path: Path) -> None:
    fill(tmp_path, range(1, 30))
    assert prune(str(tmp_path), CURRENT, keep_starts=0, keep_bytes=0).removed == 0
    assert len(names(tmp_path)) == 29 * 3


def test_a_file_that_cannot_be_removed_is_a_failure_not_an_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    fill(tmp_path, range(1, 4), backups=0)
    stuck = str(tmp_path / start(1))
    remove = os.remove

    def refuse(path: str) -> None:
        if path == stuck:
            raise PermissionError(13, "Permission denied", path)
        remove(path)

    monkeypatch.setattr(os, "remove", refuse)
    pruned = prune(str(tmp_path), CURRENT, keep_starts=2, keep_bytes=0)
    assert pruned.removed == 1
    assert pruned.failures == [f"cannot remove old log file {stuck}: Permission denied"]
    assert names(tmp_path) == {start(1), start(3)}


def test_a_directory_that_cannot_be_read_is_a_failure(tmp_path: Path) -> None:
    pruned = prune(str(tmp_path / "missing"), CURRENT, keep_starts=2, keep_bytes=0)
    assert pruned.removed == 0
    assert pruned.failures == [
        f"cannot look for old log files in {tmp_path / 'missing'}: No such file or directory"
    ]


# --- at start -------------------------------------------------------------------------------------


def test_setup_removes_old_starts_and_says_how_many(
    tmp_path: Path, tcpchat_logger: logging.Logger
) -> None:
    fill(tmp_path, range(1, 6))  # 15 files of 100 bytes
    (tmp_path / "notes.txt").write_text("mine\n")
    path = setup_logging("INFO", str(tmp_path), True, keep_starts=3, keep_bytes=0)
    assert path is not None
    new = Path(path).name
    assert names(tmp_path) == {
        *(start(day) + suffix for day in (4, 5) for suffix in ("", ".1", ".2")),
        "notes.txt",
        new,
        LOCK_NAME,
    }
    for handler in tcpchat_logger.handlers:
        handler.flush()
    (line,) = Path(str(path)).read_text(encoding="utf-8").splitlines()
    assert line.endswith(
        f"INFO    removed 9 log files of earlier starts (900 bytes) from {tmp_path} "
        "(--log-keep-starts 3, --log-keep-bytes 0)"
    )


def test_one_file_removed_is_one_file(tmp_path: Path, tcpchat_logger: logging.Logger) -> None:
    fill(tmp_path, range(1, 3), backups=0, size=3000)
    path = setup_logging("INFO", str(tmp_path), True, keep_starts=2)
    for handler in tcpchat_logger.handlers:
        handler.flush()
    assert " removed 1 log file of earlier starts (2.9 KiB) from " in Path(str(path)).read_text()


def test_setup_says_nothing_when_nothing_goes_and_warns_when_a_file_stays(
    tmp_path: Path, tcpchat_logger: logging.Logger, monkeypatch: pytest.MonkeyPatch
) -> None:
    fill(tmp_path, range(1, 3), backups=0)
    path = setup_logging("INFO", str(tmp_path), True)  # the defaults: 2 earlier starts stay
    for handler in tcpchat_logger.handlers:
        handler.flush()
    assert Path(str(path)).read_text(encoding="utf-8") == ""

    stuck = {str(tmp_path / start(day)) for day in (1, 2)}
    remove = os.remove

    def refuse(path: str) -> None:
        if path in stuck:
            raise PermissionError(13, "Permission denied", path)
        remove(path)  # the file of the first setup, if the clock passed a second since

    monkeypatch.setattr(os, "remove", refuse)
    path = setup_logging("INFO", str(tmp_path), True, keep_starts=1)  # the earlier ones go
    for handler in tcpchat_logger.handlers:
        handler.flush()
    lines = Path(str(path)).read_text(encoding="utf-8").splitlines()
    assert [line.split(" ", 2)[2] for line in lines if " WARNING " in line] == [
        f"WARNING cannot remove old log file {tmp_path / start(1)}: Permission denied",
        f"WARNING cannot remove old log file {tmp_path / start(2)}: Permission denied",
    ]


def test_the_caps_come_from_flags_env_and_file(tmp_path: Path) -> None:
    conf = tmp_path / "server.conf"
    conf.write_text("[server]\nlog_keep_starts = 3\nlog_keep_bytes = 1000\n", encoding="utf-8")
    defaults = server_config({"config": os.devnull}, {})
    assert (defaults.log_keep_starts, defaults.log_keep_bytes) == (10, 180 * 2**20)
    assert defaults.log_keep_bytes == 3 * (limits.LOG_BACKUPS + 1) * limits.LOG_MAX_BYTES
    from_file = server_config({"config": str(conf)}, {})
    assert (from_file.log_keep_starts, from_file.log_keep_bytes) == (3, 1000)
    env = {"TCPCHAT_LOG_KEEP_STARTS": "0", "TCPCHAT_LOG_KEEP_BYTES": "0"}
    from_env = server_config({"config": str(conf)}, env)
    assert (from_env.log_keep_starts, from_env.log_keep_bytes) == (0, 0)
    flags = {"config": str(conf), "log_keep_starts": 5}
    assert server_config(flags, env).log_keep_starts == 5
    with pytest.raises(ConfigError, match="TCPCHAT_LOG_KEEP_STARTS"):
        server_config({"config": os.devnull}, {"TCPCHAT_LOG_KEEP_STARTS": "-1"})


# --- one server to a directory --------------------------------------------------------------------


@contextlib.contextmanager
def another_server(folder: Path) -> Iterator[None]:
    """Hold ``folder``'s lock as another server would: flock's lock belongs to an open file, so
    one more descriptor of the lock file is another holder, even in this process."""
    fd = os.open(folder / LOCK_NAME, os.O_RDWR | os.O_CREAT)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        yield
    finally:
        os.close(fd)


def held(folder: Path) -> bool:
    """Whether someone holds ``folder``'s lock (tried on a descriptor of our own, then let go)."""
    fd = os.open(folder / LOCK_NAME, os.O_RDONLY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    finally:
        os.close(fd)
    return False


@contextlib.contextmanager
def another_process_holding(folder: Path) -> Iterator[int]:
    """Another process holds ``folder``'s lock, on a descriptor opened read-only (as a server
    does that cannot write a lock file left by another user): its pid."""
    hold_it = (
        "import fcntl, os, sys\n"
        "fd = os.open(sys.argv[1], os.O_RDONLY)\n"
        "fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)\n"
        "print('held', flush=True)\n"
        "sys.stdin.read()\n"
    )
    child = subprocess.Popen(
        [sys.executable, "-c", hold_it, str(folder / LOCK_NAME)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert child.stdin is not None and child.stdout is not None
    try:
        assert child.stdout.readline() == "held\n"  # or "" if it failed: it has exited
        yield child.pid
    finally:
        child.stdin.close()
        child.wait(timeout=10)


def test_a_directory_held_by_another_server_is_refused_with_its_pid(
    tmp_path: Path, tcpchat_logger: logging.Logger
) -> None:
    """The pid named is the holder's (/proc/locks), not the one in the file: a review found a
    server that could only open the file read-only named the pid of an older one."""
    other = tmp_path / "other"
    other.mkdir()
    (other / LOCK_NAME).write_text("4242\n")  # an older server's, which the holder left there
    with another_process_holding(other) as pid:
        with pytest.raises(LogDirInUse) as refused:
            setup_logging("INFO", str(other), True)
        assert str(refused.value) == (
            f"{other} is in use by another tcp-server (pid {pid}): give each server its own "
            "--log-dir and --data-dir"
        )
        assert names(other) == {LOCK_NAME}  # no file opened, nothing removed
    # Once the other is gone (its descriptor closed), the directory is this process's.
    path = setup_logging("INFO", str(other), True)
    assert path is not None
    assert (other / LOCK_NAME).read_text() == f"{os.getpid()}\n"


def test_this_process_keeps_its_own_directory_and_lets_go_of_the_last(tmp_path: Path) -> None:
    first, second = tmp_path / "first", tmp_path / "second"
    first.mkdir()
    second.mkdir()
    hold(str(first))
    hold(str(first))  # again (logging set up twice): not "in use by another"
    hold(str(second))
    assert not held(first)  # free again


def as_another_user(monkeypatch: pytest.MonkeyPatch) -> None:
    """From now on the lock file cannot be opened for writing, nor made: as for a user other
    than the one who owns it and the directory (root, say; root itself may write anything)."""
    real_open = os.open

    def opening(path: str, flags: int, *mode: int) -> int:
        if str(path).endswith(LOCK_NAME) and flags & (os.O_RDWR | os.O_WRONLY | os.O_CREAT):
            raise PermissionError(13, "Permission denied", path)
        return real_open(path, flags, *mode)

    monkeypatch.setattr(os, "open", opening)


def test_a_lock_file_left_by_another_user_still_locks(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A server run once as root leaves a root-owned lock file: the next server's user cannot
    write it, but can lock it (flock needs no write access) and so start."""
    (tmp_path / LOCK_NAME).write_text("4242\n")
    as_another_user(monkeypatch)
    assert hold(str(tmp_path)) is None
    monkeypatch.undo()
    assert held(tmp_path)


def test_a_directory_this_user_cannot_write_in_says_so(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A review: with no lock file yet and a directory not ours, the read-only second try's
    "No such file or directory" was what the user was told, not "Permission denied"."""
    as_another_user(monkeypatch)
    with pytest.raises(PermissionError):
        hold(str(tmp_path))


def test_a_directory_refused_keeps_the_last_one_held(tmp_path: Path) -> None:
    first, taken = tmp_path / "first", tmp_path / "taken"
    first.mkdir()
    taken.mkdir()
    hold(str(first))
    with another_server(taken), pytest.raises(LogDirInUse):
        hold(str(taken))
    assert held(first)


def test_a_directory_made_again_is_locked_again(tmp_path: Path) -> None:
    logs = tmp_path / "logs"
    logs.mkdir()
    hold(str(logs))
    (logs / LOCK_NAME).unlink()
    logs.rmdir()
    logs.mkdir()
    hold(str(logs))
    assert held(logs)
