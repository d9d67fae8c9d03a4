"""Shared test harness: start the real server on an ephemeral loopback port, talk over sockets.

Every wait is bounded by ``WAIT`` (seconds); nothing sleeps for a fixed time.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any, Callable, TypeVar

import pytest

ROOT = Path(__file__).resolve().parent.parent
SRC = ROOT / "src"
WAIT = float(os.environ.get("TCPCHAT_TEST_WAIT", "10"))
T = TypeVar("T")
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")


def need_tool(name: str) -> str:
    """The path of a tool a test needs: skipped locally if missing, a failure under CI=true."""
    path = shutil.which(name)
    if path is None:
        message = f"{name} is not installed (.ci/run installs it)"
        if IN_CI:
            pytest.fail(message)
        pytest.skip(message)
    return path


def child_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TCPCHAT_")}
    env["PYTHONPATH"] = str(SRC)
    env["PYTHONUNBUFFERED"] = "1"
    env.update(extra)
    return env


# The modules a Windows Python lacks that the client could be tempted to import (issue 17).
POSIX_ONLY = ("termios", "tty", "fcntl", "resource")

_BLOCKER = """\
# Written by tests/conftest.py: these modules cannot be imported, as on Windows.
import sys

BLOCKED = frozenset({blocked!r})


class _Blocked:
    def find_spec(self, name, path=None, target=None):
        if name in BLOCKED:
            raise ModuleNotFoundError(f"No module named {{name!r}} (blocked for a test)", name=name)
        return None


sys.meta_path.insert(0, _Blocked())
for _name in BLOCKED:
    sys.modules.pop(_name, None)
"""


def without_modules(tmp: Path, *names: str) -> str:
    """A PYTHONPATH under which a Python child cannot import ``names`` (a ``sitecustomize`` that
    refuses them, then the checkout's src), as if it ran where they do not exist."""
    folder = tmp / f"without-{'-'.join(names)}"
    folder.mkdir(exist_ok=True)
    (folder / "sitecustomize.py").write_text(_BLOCKER.format(blocked=sorted(names)))
    return os.pathsep.join([str(folder), str(SRC)])


POLL_S = 0.05  # how often ``poll_until`` looks again


def poll_until(condition: Callable[[], T | None], what: str, timeout: float = WAIT) -> T:
    """Look at ``condition`` every POLL_S until it gives something true, and return that; fail
    after ``timeout`` saying ``what`` never happened. For states that send no event to wait on:
    a file another program appends to, a port that opens, a terminal's settings."""
    deadline = time.monotonic() + timeout
    pause = threading.Event()  # never set: its wait is the pause between looks
    while True:
        found = condition()
        if found:
            return found
        if time.monotonic() > deadline:
            raise AssertionError(f"{what}: not within {timeout} s")
        pause.wait(POLL_S)


def stop_process(proc: subprocess.Popen[Any]) -> None:
    """End a program a test started (SIGTERM, then SIGKILL if it lingers), and wait for it."""
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(WAIT)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(WAIT)


def wait_listening(proc: subprocess.Popen[Any], port: int, name: str) -> None:
    """Wait until ``proc`` (``name``, a server run in the foreground) accepts on 127.0.0.1
    ``port``; if it exits or never does, it is stopped and the test fails."""

    def listening() -> bool:
        if proc.poll() is not None:
            raise AssertionError(f"{name} exited with {proc.returncode}")
        try:
            socket.create_connection(("127.0.0.1", port), WAIT).close()
        except OSError:
            return False
        return True

    try:
        poll_until(listening, f"{name} did not start")
    except AssertionError:
        stop_process(proc)
        raise


class Lines:
    """Lines a reader thread collects (``add``), and a wait, with a deadline, for one of them."""

    def __init__(self) -> None:
        self.lines: list[str] = []
        self._changed = threading.Condition()

    def add(self, line: str) -> None:
        with self._changed:
            self.lines.append(line)
            self._changed.notify_all()

    def wait_for(self, pattern: str, timeout: float = WAIT) -> str:
        """The first line matching ``pattern``, waiting for it up to ``timeout``."""
        regex = re.compile(pattern)
        deadline = time.monotonic() + timeout
        with self._changed:
            while True:
                for text in self.lines:
                    if regex.search(text):
                        return text
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(f"no {pattern!r} in {type(self).__name__}: {self.lines}")
                self._changed.wait(left)


class ServerProcess:
    """The real ``python -m tcpchat server`` in a child process, on 127.0.0.1 and a free port.

    A thread collects its stderr (the console log) so tests can wait for a log line.
    """

    def __init__(
        self,
        tmp: Path,
        *args: str,
        env: dict[str, str] | None = None,
        port: int = 0,
        command: Sequence[str | Path] = (sys.executable, "-m", "tcpchat", "server"),
    ) -> None:
        """``command`` is the server to run: the checkout's by default, or an installed
        ``tcp-server`` (packaging tests)."""
        self.log_dir = tmp / "logs"
        self.args = [
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--log-dir",
            str(self.log_dir),
            "--config",
            os.devnull,
            *args,
        ]
        self.env = env or child_env()
        self._lines: list[str] = []
        self._changed = threading.Condition()
        self.proc = subprocess.Popen(
            [*map(str, command), *self.args],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            env=self.env,
            cwd=tmp,
        )
        self._reader = threading.Thread(target=self._collect, daemon=True)
        self._reader.start()
        self.port = 0
        self.tls_port = 0
        try:
            self.port = int(self.wait_log(r"listening on 127\.0\.0\.1:(\d+)( \(TLS\))?$").group(1))
            if "--tls-port" in args:
                tls = self.wait_log(r"listening on 127\.0\.0\.1:(\d+) \(TLS\)")
                self.tls_port = int(tls.group(1))
        except BaseException:
            self.stop(signal.SIGKILL)  # never leave a server behind when a test cannot use it
            raise

    def _collect(self) -> None:
        assert self.proc.stderr is not None
        for raw in self.proc.stderr:
            with self._changed:
                self._lines.append(raw.decode("utf-8", "replace").rstrip("\n"))
                self._changed.notify_all()
        with self._changed:
            self._lines.append("")  # EOF marker so waiters wake up
            self._changed.notify_all()

    def stderr(self) -> str:
        with self._changed:
            return "\n".join(self._lines)

    def wait_log(self, pattern: str, timeout: float = WAIT, count: int = 1) -> re.Match[str]:
        """Wait until ``count`` lines of the server's stderr match ``pattern`` (returns the
        first); fail with the log."""
        regex = re.compile(pattern)
        deadline = time.monotonic() + timeout
        with self._changed:
            while True:
                matches = [m for m in map(regex.search, self._lines) if m]
                if len(matches) >= count:
                    return matches[0]
                left = deadline - time.monotonic()
                if left <= 0 or (self.proc.poll() is not None and not self._reader.is_alive()):
                    break
                self._changed.wait(min(left, 0.5))
        raise AssertionError(
            f"no {pattern!r} in the server log (exit {self.proc.poll()}):\n" + self.stderr()
        )

    def stop(self, sig: int = signal.SIGTERM) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(WAIT)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(WAIT)
        self._reader.join(WAIT)
        return self.proc.returncode


class LineSocket:
    """A connected socket read a line at a time with a deadline: what a raw test client of
    either wire (``Peer``, the IRC suite's ``IrcPeer``) reads with."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.buf = b""
        self.seen: list[str] = []

    def raw_line(self, timeout: float = WAIT) -> bytes:
        """The next line's bytes, without its ``\\n``; AssertionError if none comes in time,
        EOFError if the server closed the connection."""
        deadline = time.monotonic() + timeout
        while b"\n" not in self.buf:
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError(f"no line within {timeout}s; seen so far: {self.seen}")
            self.sock.settimeout(left)
            try:
                chunk = self.sock.recv(65536)
            except socket.timeout:
                continue
            if not chunk:
                raise EOFError(f"connection closed; seen so far: {self.seen}")
            self.buf += chunk
        raw, self.buf = self.buf.split(b"\n", 1)
        return raw

    def line(self, timeout: float = WAIT) -> object:
        """The next line, as the wire's client reads it (subclasses say how)."""
        return self.raw_line(timeout)

    def closed(self, timeout: float = WAIT) -> bool:
        """Read (and keep in ``seen``) until the server closes the connection; True if it did
        in time."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                self.line(max(deadline - time.monotonic(), 0.001))
            except EOFError:
                return True
            except AssertionError:
                return False
            except OSError:
                return True

    def close(self) -> None:
        self.sock.close()


class Peer(LineSocket):
    """A raw socket client, as ``nc`` would be: send lines, read lines with a deadline."""

    def __init__(self, port: int, host: str = "127.0.0.1", source: str | None = None) -> None:
        source_address = (source, 0) if source else None
        super().__init__(socket.create_connection((host, port), WAIT, source_address))

    def send(self, text: str | bytes) -> None:
        data = text.encode("utf-8") if isinstance(text, str) else text
        self.sock.sendall(data)

    def line(self, timeout: float = WAIT) -> str:
        """The next line (without its newline); AssertionError if none comes in time."""
        text = self.raw_line(timeout).decode("utf-8")
        self.seen.append(text)
        return text

    def expect(self, pattern: str, timeout: float = WAIT) -> str:
        """Read lines until one matches ``pattern`` (a regex, searched); return it."""
        deadline = time.monotonic() + timeout
        while True:
            text = self.line(max(deadline - time.monotonic(), 0.001))
            if re.search(pattern, text):
                return text

    def event(self, kind: str, timeout: float = WAIT) -> dict[str, Any]:
        """JSON mode: read until an event of type ``kind``; return it."""
        deadline = time.monotonic() + timeout
        while True:
            text = self.line(max(deadline - time.monotonic(), 0.001))
            if text.startswith("{"):
                obj: dict[str, Any] = json.loads(text)
                if obj["type"] == kind:
                    return obj


@pytest.fixture
def server(tmp_path: Path) -> Iterator[ServerProcess]:
    srv = ServerProcess(tmp_path)
    yield srv
    srv.stop()


@pytest.fixture
def connect(server: ServerProcess) -> Iterator[Any]:
    """``connect(name)`` joins a text-mode user and returns its Peer (``connect()``: not joined)."""
    peers: list[Peer] = []

    def join(name: str | None = None, json_mode: bool = False) -> Peer:
        if name is not None:
            peer = join_peer(server.port, name, json_mode=json_mode)
        else:
            peer = Peer(server.port)
            peer.expect(r"^\*\*\* Enter your name:")
            if json_mode:
                peer.send("/mode json\n")
                peer.event("prompt")
        peers.append(peer)
        return peer

    yield join
    for peer in peers:
        peer.close()


class Pump:
    """Reads a peer's lines in a background thread, so a test can push traffic at the server
    without the peer's socket filling up; ``wait_for`` then waits on what arrived."""

    def __init__(self, peer: Peer) -> None:
        self.peer = peer
        self.lines: list[str] = []
        self.closed = False
        self._changed = threading.Condition()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        sock = self.peer.sock
        sock.settimeout(None)
        buf = self.peer.buf
        self.peer.buf = b""
        while True:
            try:
                chunk = sock.recv(1 << 16)
            except OSError:
                chunk = b""
            with self._changed:
                if not chunk:
                    self.closed = True
                    self._changed.notify_all()
                    return
                buf += chunk
                *complete, buf = buf.split(b"\n")
                self.lines.extend(raw.decode("utf-8") for raw in complete)
                self._changed.notify_all()

    def wait_for(self, pattern: str, count: int = 1, timeout: float = WAIT) -> list[str]:
        """Wait until ``count`` lines match ``pattern``; return all matching lines so far."""
        regex = re.compile(pattern)
        deadline = time.monotonic() + timeout
        with self._changed:
            while True:
                found = [line for line in self.lines if regex.search(line)]
                if len(found) >= count:
                    return found
                left = deadline - time.monotonic()
                if left <= 0 or self.closed:
                    raise AssertionError(
                        f"{len(found)}/{count} lines match {pattern!r} (closed={self.closed});"
                        f" last lines: {self.lines[-5:]}"
                    )
                self._changed.wait(left)

    def wait_closed(self, timeout: float = WAIT) -> bool:
        with self._changed:
            return self._changed.wait_for(lambda: self.closed, timeout)


def join_peer(
    port: int,
    name: str,
    host: str = "127.0.0.1",
    source: str | None = None,
    json_mode: bool = False,
) -> Peer:
    """A user named ``name`` on a server at ``port`` (from ``source``, a loopback address, if
    given), in text mode or, with ``json_mode``, in JSON mode."""
    peer = Peer(port, host, source)
    peer.expect(r"^\*\*\* Enter your name:")
    if json_mode:
        peer.send("/mode json\n")
        peer.event("prompt")
    peer.send(f"{name}\n")
    if json_mode:
        peer.event("registered")
    else:
        peer.expect(r"^\*\*\* You are ")
    return peer


@pytest.fixture(scope="module")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1 and localhost, and its key (PEM files)."""
    openssl = need_tool("openssl")
    folder = tmp_path_factory.mktemp("tls")
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(
        [openssl, "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
         "-subj", "/CN=localhost", "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost",
         "-keyout", str(key), "-out", str(cert)],
        check=True, capture_output=True, timeout=WAIT * 3,
    )  # fmt: skip
    return cert, key
