"""The input history file: ``$XDG_STATE_HOME/tcp-chat/history``, one line an entry.

Reading and writing are best effort: a read-only or missing home must not stop anyone chatting.
The file is private (mode 0600): it holds what you wrote, private messages included.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path


def history_path(environ: Mapping[str, str] | None = None) -> Path:
    """$XDG_STATE_HOME/tcp-chat/history (default ~/.local/state/tcp-chat/history)."""
    env = os.environ if environ is None else environ
    base = env.get("XDG_STATE_HOME") or os.path.join(os.path.expanduser("~"), ".local", "state")
    return Path(base) / "tcp-chat" / "history"


def load_history(path: Path) -> list[str]:
    try:
        return path.read_text(encoding="utf-8", errors="replace").splitlines()
    except OSError:
        return []


def save_history(path: Path, lines: list[str]) -> None:
    """Best effort: a read-only home must not stop anyone chatting."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.writelines(line + "\n" for line in lines)
        os.replace(tmp, path)
    except OSError:
        pass
