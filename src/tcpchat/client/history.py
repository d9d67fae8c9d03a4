"""The input history file: ``$XDG_STATE_HOME/tcp-chat/history``, one line an entry.

Each line is appended as it is entered, so a crash loses nothing, and two clients running at
once each add their own lines instead of one overwriting the other's at exit. Appends and the
occasional cut back to the last HISTORY_LIMIT lines hold a lock on a file beside it
(``history.lock``: not the history itself, which the cut replaces). Reading and writing are best
effort: a read-only or missing home must not stop anyone chatting. The file is private (mode
0600): it holds what you wrote, private messages included.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

from ..core.limits import HISTORY_FILE_MAX_BYTES, HISTORY_LIMIT

try:
    import fcntl
except ImportError:  # not a POSIX system: appends of one short line are still whole
    fcntl = None  # type: ignore[assignment]


def history_path(environ: Mapping[str, str] | None = None) -> Path:
    """$XDG_STATE_HOME/tcp-chat/history (default ~/.local/state/tcp-chat/history)."""
    env = os.environ if environ is None else environ
    base = env.get("XDG_STATE_HOME") or os.path.join(os.path.expanduser("~"), ".local", "state")
    return Path(base) / "tcp-chat" / "history"


def load_history(path: Path, limit: int = HISTORY_LIMIT) -> list[str]:
    """The last ``limit`` lines of the history file (none if it cannot be read)."""
    try:
        return path.read_text(encoding="utf-8", errors="replace").splitlines()[-limit:]
    except OSError:
        return []


def append_history(
    path: Path, line: str, max_bytes: int = HISTORY_FILE_MAX_BYTES, keep: int = HISTORY_LIMIT
) -> None:
    """Add ``line`` to the file now. Past ``max_bytes`` the file is cut back to its last
    ``keep`` lines, under the lock, so it stays bounded whoever else appends."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with _locked(path):
            fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
            with os.fdopen(fd, "w", encoding="utf-8") as f:
                f.write(line + "\n")  # one write: whole even where no lock is held
                size = f.tell()
            if size > max_bytes:
                _rewrite(path, load_history(path, keep))
    except OSError:
        pass


def _rewrite(path: Path, lines: list[str]) -> None:
    """Replace the file by ``lines`` in one step (a crash leaves the old or the new one)."""
    tmp = path.with_name(path.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        f.writelines(line + "\n" for line in lines)
    os.replace(tmp, path)


@contextmanager
def _locked(path: Path) -> Iterator[None]:
    """Hold the history's lock (released by the system if the client dies holding it)."""
    if fcntl is None:
        yield
        return
    fd = os.open(path.with_name(path.name + ".lock"), os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)
