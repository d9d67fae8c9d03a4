"""A real HAProxy (apt ``haproxy``) in front of tcp-chat servers, in TCP mode as docs/CLUSTER.md
configures it: on a free 127.0.0.1 port, in the foreground, stopped by the test.

Missing haproxy skips the test locally and fails it under CI=true (``need_tool``).
"""

from __future__ import annotations

import subprocess
from pathlib import Path

from tests.conftest import need_tool, stop_process, wait_listening
from tests.e2e.redis_server import free_port

CONFIG = """\
global
    maxconn 200
defaults
    mode tcp
    timeout connect 2s
    timeout client 60s
    timeout server 60s
    # A connection that cannot reach its node is tried on another one.
    option redispatch
    retries 2
frontend chat
    bind 127.0.0.1:{front}
    default_backend nodes
backend nodes
    balance leastconn
    default-server check inter 100ms fall 2 rise 1 {send}
{servers}
"""


class Haproxy:
    """HAProxy in front of the servers on ``ports`` (``send``: ``send-proxy-v2``,
    ``send-proxy`` or "" for none), health checks on, new connections to the least busy."""

    def __init__(self, tmp: Path, ports: list[int], send: str = "send-proxy-v2") -> None:
        binary = need_tool("haproxy")
        self.port = free_port()
        servers = "\n".join(
            f"    server node{index} 127.0.0.1:{port}" for index, port in enumerate(ports)
        )
        conf = tmp / f"haproxy-{self.port}.cfg"
        conf.write_text(CONFIG.format(front=self.port, send=send, servers=servers))
        self.proc = subprocess.Popen(
            [binary, "-db", "-f", str(conf)],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )

        wait_listening(self.proc, self.port, "haproxy")

    def stop(self) -> None:
        stop_process(self.proc)
