"""A program running in a detached tmux session of its own, for tests that drive a real
terminal: start it, type with ``send-keys``, read the screen with ``capture-pane``."""

from __future__ import annotations

import os
import subprocess
import uuid
from pathlib import Path

from tests.conftest import WAIT, child_env, need_tool


class TmuxPane:
    """``command`` in a ``columns`` x ``rows`` window, on a private tmux socket (skipped locally,
    failed under CI, when tmux is missing). The pane stays after the program exits, so a test
    can read its last words."""

    def __init__(
        self, tmp: Path, command: str, columns: int, rows: int, env: dict[str, str] | None = None
    ) -> None:
        self.tmux = need_tool("tmux")
        self.socket = f"tcpchat-{os.getpid()}-{uuid.uuid4().hex[:8]}"
        self.env = env if env is not None else child_env(LANG="C.UTF-8", LC_ALL="C.UTF-8")
        conf = tmp / f"{self.socket}.conf"
        conf.write_text("set -g remain-on-exit on\nset -g history-limit 2000\n")
        self.run(
            "-f", str(conf), "new-session", "-d", "-s", "t",
            "-x", str(columns), "-y", str(rows), command,
        )  # fmt: skip

    def run(self, *args: str) -> str:
        """One tmux command on this pane's server; its output."""
        done = subprocess.run(
            [self.tmux, "-u", "-L", self.socket, *args],
            env=self.env,
            capture_output=True,
            timeout=WAIT,
            check=True,
        )
        return done.stdout.decode("utf-8", "replace")

    def keys(self, *keys: str) -> None:
        """Press keys by tmux name: "Enter", "C-c", "Left", "Tab" ..."""
        self.run("send-keys", "-t", "t", *keys)

    def type(self, text: str) -> None:
        """Type ``text`` literally."""
        self.run("send-keys", "-t", "t", "-l", text)

    def close(self) -> None:
        subprocess.run(
            [self.tmux, "-L", self.socket, "kill-server"],
            env=self.env,
            capture_output=True,
            timeout=WAIT,
            check=False,
        )
