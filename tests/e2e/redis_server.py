"""A real ``redis-server`` for the cluster tests: on a free 127.0.0.1 port, in a temporary
directory, without persistence (or with AOF when asked), stopped by the test.

Missing redis-server skips the test locally and fails it under CI=true (``need_tool``).
"""

from __future__ import annotations

import socket
import subprocess
from pathlib import Path

from tests.conftest import WAIT, need_tool, poll_until, stop_process


def free_port() -> int:
    """A loopback port nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def command(port: int, line: str, timeout: float = WAIT) -> str:
    """Send one inline command to the Redis at ``port``; its first reply line (``+PONG``)."""
    with socket.create_connection(("127.0.0.1", port), timeout) as sock:
        sock.sendall(line.encode() + b"\r\n")
        reply = b""
        while not reply.endswith(b"\r\n"):
            chunk = sock.recv(4096)
            if not chunk:
                break
            reply += chunk
    return reply.decode().rstrip("\r\n")


class RedisServer:
    """``redis-server --port N`` in ``folder``; ``url`` is what ``--cluster`` takes."""

    def __init__(self, folder: Path, aof: bool = False, port: int = 0) -> None:
        self.binary = need_tool("redis-server")
        self.folder = folder
        folder.mkdir(parents=True, exist_ok=True)
        self.port = port or free_port()
        self.aof = aof
        self.proc: subprocess.Popen[bytes] | None = None
        self.start()

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        args = [self.binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", ""]
        args += ["--appendonly", "yes" if self.aof else "no", "--dir", str(self.folder)]
        args += ["--daemonize", "no", "--logfile", str(self.folder / "redis.log")]
        self.proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            poll_until(self._answers, f"redis-server answering on {self.port}")
        except AssertionError as exc:
            log = (self.folder / "redis.log").read_text(errors="replace")
            self.stop()
            raise AssertionError(f"{exc}\n{log}") from None

    def _answers(self) -> bool:
        """True once Redis answers PING; AssertionError at once if it exited instead."""
        assert self.proc is not None
        if self.proc.poll() is not None:
            raise AssertionError(f"redis-server exited with {self.proc.returncode}")
        try:
            return command(self.port, "PING", 1) == "+PONG"
        except OSError:
            return False

    def stop(self) -> None:
        if self.proc is not None:
            stop_process(self.proc)
        self.proc = None
