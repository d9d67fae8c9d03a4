"""IRC servers and clients for the tests: tcp-chat's IRC listener or ngircd on a free loopback
port, and a raw IRC client that reads lines with ``irctokens`` under a deadline.

Every wait is bounded by ``WAIT``; ``sync`` waits for the answer to a PING of its own, which the
server sends after everything it had to say about the lines before it (how irctest synchronises).
"""

from __future__ import annotations

import itertools
import os
import shutil
import socket
import subprocess
import threading
import time
from pathlib import Path

import pytest

from tests.conftest import (
    IN_CI,
    WAIT,
    Lines,
    LineSocket,
    ServerProcess,
    stop_process,
    wait_listening,
)
from tests.e2e.redis_server import RedisServer, free_port

irctokens = pytest.importorskip("irctokens")

TCPCHAT = "tcp-chat"
NGIRCD = "ngircd"
CLUSTERED = "tcp-chat-cluster"  # tcp-chat as one node of a cluster, with its own redis-server
TARGETS = (TCPCHAT, NGIRCD, CLUSTERED)

NGIRCD_CONF = """\
[Global]
Name = irc.ngircd.test
Info = tcp-chat conformance suite
AdminInfo1 = test
AdminInfo2 = loopback only
AdminEMail = test@localhost
HelpFile = /dev/null
MotdPhrase = conformance
Listen = 127.0.0.1
Ports = {port}
{password}
[Limits]
MaxConnectionsIP = 0
MaxJoins = 0
MaxNickLength = 32
MaxPenaltyTime = 0
PingTimeout = 120
PongTimeout = 20

[Options]
DNS = no
Ident = no
PAM = no
"""


def need_ngircd() -> str:
    """ngircd's path: skipped locally if missing, a failure under CI=true."""
    path = shutil.which("ngircd") or (
        "/usr/sbin/ngircd" if os.access("/usr/sbin/ngircd", os.X_OK) else None
    )
    if path is None:
        message = "ngircd is not installed (.ci/run installs it)"
        if IN_CI:
            pytest.fail(message)
        pytest.skip(message)
    return path


class Ngircd:
    """ngircd in the foreground with a generated configuration."""

    def __init__(self, tmp: Path, password: str | None = None) -> None:
        binary = need_ngircd()
        self.port = free_port()
        conf = tmp / "ngircd.conf"
        line = f"Password = {password}\n" if password else ""
        conf.write_text(NGIRCD_CONF.format(port=self.port, password=line))
        self.proc = subprocess.Popen(
            [binary, "--nodaemon", "--config", str(conf)],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )

        wait_listening(self.proc, self.port, "ngircd")

    def stop(self) -> None:
        stop_process(self.proc)


class TcpChat:
    """tcp-chat with its IRC listener on a free port; flood control relaxed as for ngircd
    (``MaxPenaltyTime = 0``), so a suite that sends quickly measures the protocol."""

    def __init__(self, tmp: Path, password: str | None = None, *args: str) -> None:
        extra = list(args)
        if password:
            path = tmp / "password"
            path.write_text(password + "\n")
            extra += ["--password-file", str(path)]
        self.server = ServerProcess(
            tmp,
            "--irc-port",
            "0",
            "--server-name",
            "irc.tcpchat.test",
            "--flood-burst",
            "10000",
            "--flood-rate",
            "10000",
            *extra,
        )
        found = self.server.wait_log(r"IRC listening on 127\.0\.0\.1:(\d+)")
        self.port = int(found.group(1))
        self.native_port = self.server.port

    def stop(self) -> None:
        self.server.stop()


class ClusteredTcpChat(TcpChat):
    """tcp-chat as a node of a cluster (its names claimed and its messages ordered through a
    real redis-server of its own): IRC must look the same."""

    def __init__(self, tmp: Path, password: str | None = None) -> None:
        self.redis = RedisServer(tmp / "redis")
        try:
            super().__init__(tmp, password, "--cluster", self.redis.url, "--node-name", "irc")
        except BaseException:
            self.redis.stop()
            raise

    def stop(self) -> None:
        super().stop()
        self.redis.stop()


Server = "TcpChat | Ngircd"

_tokens = itertools.count(1)


class IrcPeer(LineSocket):
    """A raw IRC client over a real socket (``sock``: one already connected, a TLS one)."""

    def __init__(self, port: int, sock: socket.socket | None = None) -> None:
        super().__init__(sock or socket.create_connection(("127.0.0.1", port), WAIT))
        self.nick = "*"

    def send(self, line: str | bytes) -> None:
        data = line.encode("utf-8") if isinstance(line, str) else line
        self.sock.sendall(data + b"\r\n")

    def raw_line(self, timeout: float = WAIT) -> bytes:
        return super().raw_line(timeout).rstrip(b"\r")

    def line(self, timeout: float = WAIT) -> irctokens.Line:
        raw = self.raw_line(timeout).decode("utf-8", "replace")
        self.seen.append(raw)
        return irctokens.tokenise(raw)

    def expect(self, *commands: str, timeout: float = WAIT) -> irctokens.Line:
        """Read until a line whose command is one of ``commands``; return it."""
        deadline = time.monotonic() + timeout
        while True:
            found = self.line(max(deadline - time.monotonic(), 0.001))
            if found.command in commands:
                return found

    def sync(self) -> list[irctokens.Line]:
        """Everything the server sends before the answer to a PING of ours."""
        token = f"sync{next(_tokens)}"
        self.send(f"PING {token}")
        lines = []
        while True:
            found = self.line()
            if found.command == "PONG" and found.params and found.params[-1] == token:
                return lines
            lines.append(found)

    def register(self, nick: str, password: str | None = None) -> list[irctokens.Line]:
        """PASS, NICK, USER; everything up to and after the 001, through a sync."""
        if password is not None:
            self.send(f"PASS {password}")
        self.send(f"NICK {nick}")
        self.send(f"USER {nick} 0 * :Real {nick}")
        lines = [self.expect("001")]
        lines += self.sync()
        self.nick = nick
        return lines


class Pump(Lines):
    """Reads an IRC peer's lines in a thread (for clients that must keep reading)."""

    def __init__(self, peer: IrcPeer) -> None:
        super().__init__()
        self.peer = peer
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while True:
            try:
                raw = self.peer.raw_line(timeout=3600)
            except (EOFError, OSError, AssertionError):
                return
            self.add(raw.decode("utf-8", "replace"))
