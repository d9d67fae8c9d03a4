"""Cluster mode behind one address, as docs/CLUSTER.md sets it up: a real HAProxy in TCP mode
(health checks, ``send-proxy-v2``) in front of two real nodes and their Redis, the real
``tcp-client`` in a real terminal (tmux) and a raw socket as the users."""

from __future__ import annotations

import signal
from typing import Any

from tests.conftest import WAIT, join_peer, poll_until
from tests.e2e.haproxy import Haproxy
from tests.e2e.test_client_tmux import joined, screen  # noqa: F401
from tests.e2e.test_cluster import REAPED_WITHIN, Cluster, cluster  # noqa: F401


def test_a_user_whose_node_dies_is_back_through_the_proxy_on_the_other_under_their_name(
    cluster: Cluster,  # noqa: F811
    screen: Any,  # noqa: F811
) -> None:
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

        dying.proc.send_signal(signal.SIGKILL)
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
        haproxy.stop()
