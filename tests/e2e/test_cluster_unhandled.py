"""A private message to a user of a node that has just died (``kill -9``, power lost) is taken
into that node's inbox while its lease still holds, and its sender is told "Delivered to NAME"
(it reached NAME's node). Nobody reads it there any more: whoever reaps the node (another node,
or its own next run) answers its sender "Not delivered", once. One the node did handle is not
taken back (docs/CLUSTER.md, "A node dies"). A real redis-server and real server processes,
spoken to over TCP as nc would."""

from __future__ import annotations

import re
import signal

import pytest

from tcpchat.core import cluster as cl
from tests.conftest import Peer, poll_until
from tests.e2e.test_cluster import REAPED_WITHIN, Cluster, cluster, stopped  # noqa: F401

redis = pytest.importorskip("redis", reason="the extra tcp-chat[cluster] is not installed")

NOT_DELIVERED = (
    r"^!!! Not delivered to bob: bob was disconnected \(server lost\) before your message could "
    r"be sent\.$"
)


def undelivered(peer: Peer) -> list[str]:
    return [line for line in peer.seen if line.startswith("!!! Not delivered")]


def left_and_answered(peer: Peer) -> None:
    """``peer`` sees bob leave, and hears that the message to him went nowhere (the reaper
    tells its own users before the log brings the leave; the others hear both from Redis)."""
    for pattern in (NOT_DELIVERED, r"^\*\*\* bob left \(server lost\)"):
        if not [line for line in peer.seen if re.search(pattern, line)]:
            peer.expect(pattern, timeout=REAPED_WITHIN)


def settled(peer: Peer) -> None:
    """Whatever the server had for ``peer`` before this has been read."""
    peer.send("/users\n")
    peer.expect(r"^\*\*\* \d+ users? online")


def test_a_private_message_to_a_user_of_a_node_that_died_is_answered_not_delivered(
    cluster: Cluster,  # noqa: F811
) -> None:
    """bob's node b is killed; alice (node a) and carol (node c) write to him before his lease
    lapses. Whichever node reaps b answers both: one sender is on the reaper, the other learns
    it through her node's inbox."""
    for name in "abc":
        cluster.node(name)
    bob = cluster.join("b", "bob")
    alice, carol = cluster.join("a", "alice"), cluster.join("c", "carol")
    for peer in (alice, bob):
        peer.expect(r"^\*\*\* carol joined")
    cluster.nodes["b"].stop(signal.SIGKILL)
    for peer in (alice, carol):
        peer.send("/w bob are you there?\n")
        peer.expect(r"^\*\*\* Delivered to bob")  # it reached b's inbox: b's lease holds
    for peer in (alice, carol):
        left_and_answered(peer)
        settled(peer)
        assert len(undelivered(peer)) == 1, peer.seen
    logs = cluster.nodes["a"].stderr() + cluster.nodes["c"].stderr()
    assert re.search(r"2 private messages reached node b and were never handled", logs)


def test_the_next_run_of_a_node_answers_what_the_killed_run_never_read(
    cluster: Cluster,  # noqa: F811
) -> None:
    """Node b is killed and started again at once (systemd's Restart=): it waits for its old
    lease, then reaps its own earlier run, unless node a reaped it first. Either way alice hears
    once that her message to bob went nowhere."""
    for name in "ab":
        cluster.node(name)
    alice = cluster.join("a", "alice")
    cluster.join("b", "bob")
    alice.expect(r"^\*\*\* bob joined")
    cluster.nodes["b"].stop(signal.SIGKILL)
    alice.send("/w bob still there?\n")
    alice.expect(r"^\*\*\* Delivered to bob")
    cluster.node("b")  # returns once it runs: after the old lease lapsed
    left_and_answered(alice)
    new_bob = cluster.join("b", "bob")
    alice.expect(r"^\*\*\* bob joined")
    alice.send("/w bob hello again\n")
    new_bob.expect(r"^\[PM from alice\] hello again$")
    assert not [line for line in new_bob.seen if "still there" in line]
    settled(alice)
    assert len(undelivered(alice)) == 1, alice.seen


def test_a_private_message_the_node_handled_before_it_died_is_not_taken_back(
    cluster: Cluster,  # noqa: F811
) -> None:
    """bob got alice's message; node b noted in Redis how far it handled its inbox, then died.
    alice sees bob leave, and no "Not delivered"."""
    for name in "ab":
        cluster.node(name)
    alice, bob = cluster.join("a", "alice"), cluster.join("b", "bob")
    alice.expect(r"^\*\*\* bob joined")
    alice.send("/w bob got it?\n")
    bob.expect(r"^\[PM from alice\] got it\?$")
    store = redis.Redis(port=cluster.redis.port, decode_responses=True)
    try:
        [(last, _)] = store.xrevrange(cl.inbox_key("b"), count=1)

        def noted() -> bool | None:
            return store.get(cl.read_key("b")) == str(cl.id_of(last)) or None

        poll_until(noted, "node b noting how far it handled its inbox")
    finally:
        store.close()
    cluster.nodes["b"].stop(signal.SIGKILL)
    alice.expect(r"^\*\*\* bob left \(server lost\)", timeout=REAPED_WITHIN)
    settled(alice)
    assert undelivered(alice) == []


def test_a_node_that_only_stalled_does_not_deliver_what_its_reaper_answered(
    cluster: Cluster,  # noqa: F811
) -> None:
    """Node b stops (SIGSTOP) past its lease; alice's message to bob reaches b's inbox (and the
    socket Redis pushes it through) before node a reaps b and tells her "Not delivered". When b
    runs again it must not hand bob that message after all: it asks Redis whether its lease
    still holds before it delivers a private message, learns it was reaped, and joins again,
    reading its inbox on after what a took."""
    for name in "ab":
        cluster.node(name)
    alice = cluster.join("a", "alice")
    bob = cluster.join("b", "bob")
    alice.expect(r"^\*\*\* bob joined")
    node_b = cluster.nodes["b"]
    with stopped(node_b):
        alice.send("/w bob are you there?\n")
        alice.expect(r"^\*\*\* Delivered to bob")
        left_and_answered(alice)
    node_b.wait_log(r"joining again", timeout=REAPED_WITHIN)
    alice.expect(r"^\*\*\* bob joined", timeout=REAPED_WITHIN)
    alice.send("/w bob and now?\n")
    bob.expect(r"^\[PM from alice\] and now\?$")
    assert not [line for line in bob.seen if "are you there" in line], bob.seen
    settled(alice)
    assert len(undelivered(alice)) == 1, alice.seen
