"""A node that stalls past its lease (SIGSTOP, a VM paused, swapping) is reaped by the others:
its users are announced gone and their names may be given to others. What it still holds to
send when it runs again must not reach anyone under those names (docs/CLUSTER.md, "Fencing").
A real redis-server and two real server processes, spoken to over TCP as nc would."""

from __future__ import annotations

import pytest

from tests.e2e.test_cluster import REAPED_WITHIN, Cluster, cluster, stopped  # noqa: F401

pytest.importorskip("redis", reason="the extra tcp-chat[cluster] is not installed")


def test_a_stalled_node_reaped_meanwhile_says_nothing_under_names_given_to_others(
    cluster: Cluster,  # noqa: F811
) -> None:
    """alice's node a stops for longer than its lease; node b announces her gone and gives her
    name to a new alice. Old alice's lines, read by a when it runs again, go nowhere: neither
    her room message nor her private message reaches dave or the new alice, and she is told
    her name went elsewhere."""
    for name in "ab":
        cluster.node(name)
    old_alice = cluster.join("a", "alice")
    dave = cluster.join("b", "dave")
    old_alice.expect(r"^\*\*\* dave joined")
    with stopped(cluster.nodes["a"]):
        dave.expect(r"^\*\*\* alice left \(server lost\)", timeout=REAPED_WITHIN)
        new_alice = cluster.join("b", "alice")
        old_alice.send("/w dave FORGED private\nFORGED in the room\n")  # the kernel holds them
    old_alice.expect(r"^\*\*\* Another server gave the name \"alice\"", timeout=REAPED_WITHIN)
    new_alice.send("after\n")
    dave.expect(r"^<alice> after$")
    for peer in (dave, new_alice):
        assert not [line for line in peer.seen if "FORGED" in line], peer.seen
    assert not [line for line in old_alice.seen if line.startswith("*** Delivered")]
