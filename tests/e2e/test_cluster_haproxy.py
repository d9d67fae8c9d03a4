"""Cluster mode behind one address, as docs/CLUSTER.md sets it up: a real HAProxy in TCP mode
(health checks, ``send-proxy-v2``) in front of two real nodes and their Redis, the real
``tcp-client`` in a real terminal (tmux) and a raw socket as the users."""

from __future__ import annotations

import re
import signal
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import WAIT, join_peer, poll_until
from tests.e2e.haproxy import Haproxy
from tests.e2e.test_client_tmux import joined, screen  # noqa: F401
from tests.e2e.test_cluster import REAPED_WITHIN, Cluster, cluster  # noqa: F401


@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGSTOP], ids=["killed", "stopped"])
def test_a_user_whose_node_dies_or_hangs_is_back_through_the_proxy_on_the_other_under_their_name(
    cluster: Cluster,  # noqa: F811
    screen: Any,  # noqa: F811
    sig: signal.Signals,
) -> None:
    """Killed, the node's sockets close with it; stopped (SIGSTOP: hung), the kernel keeps them
    open, and only the proxy closes its users' connections once its checks take it out
    (``on-marked-down shutdown-sessions``). Either way the client is back on the other node."""
    nodes = {name: cluster.node(name, "--proxy-from", "127.0.0.1") for name in ("a", "b")}
    haproxy = Haproxy(cluster.tmp, [server.port for server in nodes.values()])
    try:
        anna = joined(screen(haproxy.port, "--name", "anna"), "anna")
        on = poll_until(
            lambda: [n for n, server in nodes.items() if "registered as anna" in server.stderr()],
            "anna's node",
        )
        assert len(on) == 1, "anna is on one node"
        dying, living = nodes[on[0]], nodes["b" if on[0] == "a" else "a"]
        # The proxy sends the next connection to the node with fewer: the other one.
        bob = join_peer(haproxy.port, "bob")
        cluster.peers.append(bob)
        living.wait_log(r"\[#\d+ 127\.0\.0\.1:\d+\] registered as bob")
        anna.wait(r"bob joined")

        dying.proc.send_signal(sig)
        if sig == signal.SIGKILL:
            dying.proc.wait(WAIT)
        # Her client reconnects through the proxy, which takes the dead node out; the name waits
        # for the reap, and the client keeps trying until it has it again.
        anna.wait(r"Connection to 127\.0\.0\.1:\d+ lost\. Reconnecting in 1 s")
        assert bob.expect(r"anna left", timeout=REAPED_WITHIN) == (
            "*** anna left (server lost). 1 user online."
        )
        anna.wait(r"Reconnected to 127\.0\.0\.1:\d+\.$", timeout=REAPED_WITHIN)
        anna.wait(lambda: anna.input_row() == "anna>")
        assert bob.expect(r"anna joined") == "*** anna joined. 2 users online."
        living.wait_log(r"\[#\d+ 127\.0\.0\.1:\d+\] connected through the proxy 127\.0\.0\.1:\d+")
        living.wait_log(r"registered as anna")
        anna.type("снова здесь")
        anna.keys("Enter")
        assert bob.expect(r"^<anna>") == "<anna> снова здесь"
        anna.wait(r"снова здесь")
        living.wait_log(rf"cluster: node {on[0]} stopped renewing its lease: its users left")
        assert "no PROXY header" not in living.stderr()
    finally:
        if sig == signal.SIGSTOP:
            dying.proc.send_signal(signal.SIGCONT)  # so that it can stop
        haproxy.stop()


def accept_queue(port: int) -> int:
    """How many connections wait to be accepted on 127.0.0.1:``port`` (Linux: the receive
    queue of a listening socket in /proc/net/tcp)."""
    local = f"0100007F:{port:04X}"
    for row in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        fields = row.split()
        if fields[1] == local and fields[3] == "0A":  # LISTEN
            return int(fields[4].split(":")[1], 16)
    raise AssertionError(f"nothing listens on 127.0.0.1:{port}")


def test_a_node_that_stands_still_is_taken_out_by_the_health_check_and_back_after(
    cluster: Cluster,  # noqa: F811
) -> None:
    """A node stopped with SIGSTOP still has its connections accepted by the kernel: only a
    check that waits for its answer (the greeting; the PONG on the IRC port) takes it out. New
    users then all land on the other node and are greeted. Meanwhile HAProxy gives up check
    after check on it, more than its ``max_per_ip``; once it runs again it is back in, greets
    new users, and has refused none of the proxy's connections."""
    limit = 3  # the proxy's own connections, counted under 127.0.0.1 on each node
    args = ("--proxy-from", "127.0.0.1", "--max-per-ip", str(limit), "--irc-port", "0")
    args += ("--log-level", "DEBUG")
    living, stalled = cluster.node("a", *args), cluster.node("b", *args)
    irc = [
        int(node.wait_log(r"IRC listening on 127\.0\.0\.1:(\d+)").group(1))
        for node in (living, stalled)
    ]
    haproxy = Haproxy(cluster.tmp, [living.port, stalled.port], irc_ports=irc)
    backends = ("nodes", "irc_nodes")

    def status(server: str) -> set[str]:
        return {haproxy.stat(backend, server)["status"] for backend in backends}

    def waiting() -> int:
        """The connections the stopped node's kernel accepted for it: the checks given up on."""
        return sum(accept_queue(port) for port in (stalled.port, irc[1]))

    try:
        poll_until(lambda: status("node0") == status("node1") == {"UP"}, "both nodes UP")
        stalled.proc.send_signal(signal.SIGSTOP)
        try:
            poll_until(lambda: status("node1") == {"DOWN"}, "the stopped node DOWN")
            assert status("node0") == {"UP"}
            for n in range(3):  # each from an address of its own: the proxy's is the checks'
                user = join_peer(haproxy.port, f"user{n}", source=f"127.0.0.{n + 2}")
                cluster.peers.append(user)
                living.wait_log(rf"\[#\d+ 127\.0\.0\.{n + 2}:\d+\] registered as user{n} ")
            # Every check given up on waits in the stopped node's backlog: twice its limit.
            # (Besides the check in progress of each backend.)
            poll_until(lambda: waiting() >= 2 * limit + 2, "checks given up on")
            assert haproxy.stat("nodes", "node1")["check_status"].endswith("L7TOUT")
        finally:
            stalled.proc.send_signal(signal.SIGCONT)
        poll_until(lambda: status("node1") == {"UP"}, "the node back UP")
        # The next user goes to the node with fewer: the one back.
        back = join_peer(haproxy.port, "back", source="127.0.0.9")
        cluster.peers.append(back)
        stalled.wait_log(r"\[#\d+ 127\.0\.0\.9:\d+\] registered as back ")
        # The checks given up on were closed unserved, not counted under the proxy's address.
        stalled.wait_log(
            r"DEBUG +\[127\.0\.0\.1:\d+\] closed: the proxy's own connection \(a health check\) "
            r"was closed by the proxy before it was served$",
            count=2 * limit,
        )
    finally:
        haproxy.stop()
    log = stalled.stderr()
    assert "Too many connections" not in log
    assert "refused:" not in log
    assert "no PROXY header" not in log
    for node in (living, stalled):  # the checks are not visits
        assert not re.search(r"INFO .*\[#\d+ 127\.0\.0\.1:\d+\] connected", node.stderr())
