"""A real HAProxy (apt ``haproxy``) in front of tcp-chat servers, in TCP mode as docs/CLUSTER.md
configures it: on a free 127.0.0.1 port, in the foreground, stopped by the test.

The configuration is the docs' (``balance leastconn``, ``option redispatch``, the health check that
waits for the nodes' greeting, or for the PONG of the IRC port, with the PROXY header of the
``server`` lines, and the users of a node taken out cut off), with quicker checks, no ``log``
(nothing reads it) and a stats socket on a free loopback port (``stat``). The docs' ``user``,
``group`` and ``chroot`` lines are kept when the tests run as root and the system has the
``haproxy`` user and ``/var/lib/haproxy`` (as in CI, where apt made them); otherwise they are left
out, since only root can change to them.
``tests/e2e/test_proxy.py`` checks that the check lines are the docs' own.

Missing haproxy skips the test locally and fails it under CI=true (``need_tool``).
"""

from __future__ import annotations

import csv
import os
import pwd
import socket
import subprocess
from pathlib import Path

from tests.conftest import WAIT, need_tool, stop_process, wait_listening
from tests.e2e.redis_server import free_port

# What HAProxy does with the users of a node it takes out, as in docs/CLUSTER.md: it closes
# their connections, so that their clients reconnect to a node that answers.
ON_DOWN = "on-marked-down shutdown-sessions"

# Each backend's health check, as in docs/CLUSTER.md: a node that answers is UP, one that
# answers it is full gets nobody new but keeps its users (NOLB), one silent or gone is DOWN.
CHAT_CHECK = """\
    option tcp-check
    tcp-check connect default
    tcp-check expect min-recv 0 !string Server\\ full error-status L7OKC
    tcp-check expect string ***\\ Welcome\\ to\\ tcp-chat
"""
IRC_CHECK = """\
    option tcp-check
    tcp-check connect default
    tcp-check send PING\\ check\\r\\n
    tcp-check expect min-recv 0 !string Server\\ full error-status L7OKC
    tcp-check expect string PONG
"""

CONFIG = """\
global
    maxconn 200
    stats socket ipv4@127.0.0.1:{stats} level admin
{privileges}
defaults
    mode tcp
    timeout connect 2s
    timeout client 60s
    timeout server 60s
    # How long a health check waits for the node's answer.
    timeout check 1s
    # A connection that cannot reach its node is tried on another one.
    option redispatch
    retries 2
frontend chat
    bind 127.0.0.1:{front}
    default_backend nodes
backend nodes
    balance leastconn
{check}    default-server check inter 100ms fall 2 rise 1 {down} {send}
{servers}
"""

IRC = """\
frontend irc
    bind 127.0.0.1:{front}
    default_backend irc_nodes
backend irc_nodes
    balance leastconn
{check}    default-server check inter 100ms fall 2 rise 1 {down} {send}
{servers}
"""

PRIVILEGES = """\
    user haproxy
    group haproxy
    chroot /var/lib/haproxy
"""


def privileges() -> str:
    """The docs' ``user``, ``group`` and ``chroot`` lines, where HAProxy can use them."""
    if os.geteuid() != 0 or not Path("/var/lib/haproxy").is_dir():
        return ""
    try:
        pwd.getpwnam("haproxy")
    except KeyError:
        return ""
    return PRIVILEGES


def server_lines(ports: list[int]) -> str:
    return "\n".join(f"    server node{index} 127.0.0.1:{port}" for index, port in enumerate(ports))


class Haproxy:
    """HAProxy in front of the servers on ``ports`` (``send``: ``send-proxy-v2``,
    ``send-proxy`` or "" for none), health checks on, new connections to the least busy; with
    ``irc_ports``, their IRC ports behind ``irc_port`` the same way. The servers are named
    ``node0``, ``node1`` ... in the order of ``ports``."""

    def __init__(
        self,
        tmp: Path,
        ports: list[int],
        send: str = "send-proxy-v2",
        irc_ports: list[int] | None = None,
    ) -> None:
        binary = need_tool("haproxy")
        self.port = free_port()
        self.stats_port = free_port()
        self.irc_port = free_port() if irc_ports else 0
        text = CONFIG.format(
            stats=self.stats_port,
            privileges=privileges(),
            front=self.port,
            check=CHAT_CHECK,
            down=ON_DOWN,
            send=send,
            servers=server_lines(ports),
        )
        if irc_ports:
            text += IRC.format(
                front=self.irc_port,
                check=IRC_CHECK,
                down=ON_DOWN,
                send=send,
                servers=server_lines(irc_ports),
            )
        conf = tmp / f"haproxy-{self.port}.cfg"
        conf.write_text(text)
        self.proc = subprocess.Popen(
            [binary, "-db", "-f", str(conf)],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )

        wait_listening(self.proc, self.port, "haproxy")

    def stat(self, backend: str, server: str) -> dict[str, str]:
        """The row of ``show stat`` (the stats socket's CSV) for ``server`` of ``backend``:
        ``status`` (UP, DOWN, ``UP 1/2`` going down ...), ``chkfail`` (failed checks),
        ``check_status`` (``L7OK``, ``L7TOUT`` ...) and the rest."""
        with socket.create_connection(("127.0.0.1", self.stats_port), WAIT) as sock:
            sock.sendall(b"show stat\n")
            data = b""
            for _ in range(1000):  # HAProxy closes after one answer
                chunk = sock.recv(65536)
                if not chunk:
                    break
                data += chunk
        rows = csv.DictReader(data.decode().lstrip("# ").splitlines())
        for row in rows:
            if (row["pxname"], row["svname"]) == (backend, server):
                return dict(row)
        raise AssertionError(f"no {backend}/{server} in HAProxy's stats: {data!r}")

    def stop(self) -> None:
        stop_process(self.proc)
