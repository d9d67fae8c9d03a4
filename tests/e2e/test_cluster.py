"""Cluster mode end to end: a real redis-server on a free loopback port and two or three real
server processes, spoken to over TCP as nc would (docs/CLUSTER.md)."""

from __future__ import annotations

import contextlib
import re
import signal
import socket
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tcpchat.core import cluster as cl
from tcpchat.core.lease import BACK_HOLD_S
from tcpchat.core.limits import CLUSTER_RENEW_S, HELD_MAX_LINES
from tests.conftest import WAIT, Peer, ServerProcess, join_peer, poll_until
from tests.e2e.irc_harness import IrcPeer
from tests.e2e.redis_server import RedisServer, command

# Lease (5 s) + a reaping tick + a read, with room for a loaded CI machine.
REAPED_WITHIN = WAIT + 10


class Cluster:
    """Redis and the nodes of one test; everything is stopped at the end."""

    def __init__(self, tmp: Path, aof: bool = False) -> None:
        self.tmp = tmp
        self.redis = RedisServer(tmp / "redis", aof=aof)
        self.nodes: dict[str, ServerProcess] = {}
        self.peers: list[Peer] = []

    def node(self, name: str, *args: str) -> ServerProcess:
        folder = self.tmp / name
        folder.mkdir(exist_ok=True)
        server = ServerProcess(
            folder,
            "--cluster",
            self.redis.url,
            "--node-name",
            name,
            "--data-dir",
            str(folder / "data"),
            *args,
        )
        self.nodes[name] = server
        return server

    def join(self, node: str, name: str, json_mode: bool = False) -> Peer:
        peer = join_peer(self.nodes[node].port, name, json_mode=json_mode)
        self.peers.append(peer)
        return peer

    def close(self) -> None:
        for peer in self.peers:
            peer.close()
        for server in self.nodes.values():
            server.stop()
        self.redis.stop()


@contextlib.contextmanager
def stopped(server: ServerProcess) -> Iterator[None]:
    """``server`` stands still (SIGSTOP: a stall, a paused VM) inside the block, then runs on."""
    server.proc.send_signal(signal.SIGSTOP)
    try:
        yield
    finally:
        server.proc.send_signal(signal.SIGCONT)


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[Cluster]:
    made = Cluster(tmp_path)
    yield made
    made.close()


def known(peer: Peer, line: str, pattern: str, answer: str = r"^(\*\*\*|!!!) ") -> None:
    """Ask with ``line`` until the answer (the next line matching ``answer``) matches
    ``pattern``: what another node did is known here one read of the log later."""

    def ask() -> bool | None:
        peer.send(line + "\n")
        return True if re.search(pattern, peer.expect(answer)) else None

    poll_until(ask, f"{pattern!r} in answer to {line!r}")


def two_nodes(cluster: Cluster) -> tuple[ServerProcess, ServerProcess]:
    return cluster.node("a"), cluster.node("b")


def test_messages_private_messages_and_users_cross_nodes(cluster: Cluster) -> None:
    two_nodes(cluster)
    alice = cluster.join("a", "alice")
    bob = cluster.join("b", "bob")
    alice.expect(r"^\*\*\* bob joined\. 2 users online\.$")
    known(bob, "/users", r"^\*\*\* 2 users online: alice, bob\.$")

    alice.send("hello from a\n")
    bob.expect(r"^<alice> hello from a$")
    alice.expect(r"^\*\*\* Delivered to ALL \(1 user\)\.$")

    bob.send("/w alice только тебе\n")
    alice.expect(r"^\[PM from bob\] только тебе$")
    bob.expect(r"^\*\*\* Delivered to alice\.$")

    log = cluster.nodes["a"]
    log.wait_log(r"registered as alice \(1 online\)")
    log.wait_log(r"alice -> ALL \(1 user\): hello from a$")
    cluster.nodes["b"].wait_log(r"bob -> alice: только тебе$")

    bob.send("/w carol hi\n")
    bob.expect(r"^!!! No such user: carol\.")
    bob.send("/quit bye\n")
    alice.expect(r"^\*\*\* bob left \(quit: bye\)\. 1 user online\.$")


@pytest.mark.parametrize("rename", [False, True], ids=["same-name", "renamed-since"])
def test_a_private_message_dropped_with_its_recipient_on_another_node_is_reported(
    cluster: Cluster, rename: bool
) -> None:
    """The sender on a is told "Delivered" when the message reached b; b then drops it with a
    recipient that stopped reading: a tells the sender, as a single server would, also when the
    sender has changed name meanwhile (the bounce finds the session, not the name)."""
    fast = ("--flood-burst", "100000", "--flood-rate", "100000")
    cluster.node("a", *fast)
    cluster.node("b", *fast)
    loud = cluster.join("a", "loud")
    sleeper = socket.socket()
    sleeper.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sleeper.bind(("127.0.0.2", 0))
    sleeper.connect(("127.0.0.1", cluster.nodes["b"].port))
    try:
        sleeper.sendall(b"sleeper\n")  # joins, then never reads again
        loud.expect(r"^\*\*\* sleeper joined\.")
        for _ in range(40):  # fill its buffers with public lines, then whisper to it
            loud.send("".join("z" * 4000 + "\n" for _ in range(10)))
        loud.send("/w sleeper are you there?\n")
        loud.expect(r"^\*\*\* Delivered to sleeper\.$")
        if rename:  # b drops the sleeper only once its writes have stalled for 2 s
            loud.send("/nick louder\n")
            loud.expect(r"^\*\*\* You are now known as louder\.$")
        assert loud.expect(r"^!!! Not delivered to sleeper") == (
            "!!! Not delivered to sleeper: sleeper was disconnected (send queue exceeded) "
            "before your message could be sent."
        )
        cluster.nodes["b"].wait_log(r"WARNING .*dropping client: send queue exceeded")
    finally:
        sleeper.close()


def test_a_goodbye_comes_before_its_senders_leave_on_every_node(cluster: Cluster) -> None:
    """ "bye" then /quit in one go: users on the sender's node see them in that order too, not
    the leave (done at once) before the message (shown when read back from the log)."""
    two_nodes(cluster)
    obs = cluster.join("a", "obs")
    far = cluster.join("b", "far")
    sam = cluster.join("a", "sam")
    obs.expect(r"^\*\*\* sam joined\.")
    known(far, "/users", r"sam")
    sam.send("bye, all\n/quit\n")
    for peer in (obs, far):
        assert peer.expect(r"^(<sam> |\*\*\* sam left)") == "<sam> bye, all"
        peer.expect(r"^\*\*\* sam left \(quit\)")


def test_rooms_and_topics_are_shared_and_counted_cluster_wide(cluster: Cluster) -> None:
    two_nodes(cluster)
    alice = cluster.join("a", "alice")
    bob = cluster.join("b", "bob")
    carol = cluster.join("b", "carol")
    alice.send("/join #ops\n")
    alice.expect(r"^\*\*\* You joined #ops")
    # A join takes effect on its own node at once and on the others when they read it.
    known(bob, "/users #ops", r"^\*\*\* 1 user in #ops: alice\.$")
    bob.send("/join #OPS\n")
    bob.expect(r"^\*\*\* You joined #ops\. 2 users here")
    alice.expect(r"^\*\*\* bob joined #ops\. 2 users in #ops\.$")
    bob.send("/topic deploy at noon\n")
    alice.expect(r"bob set the topic of #ops: deploy at noon")
    alice.send("ship it\n")
    bob.expect(r"^<alice> ship it$")
    alice.expect(r"^\*\*\* Delivered to #ops \(1 user\)\.$")
    carol.send("/users #ops\n")
    carol.expect(r"^\*\*\* 2 users in #ops: alice, bob\.$")
    assert not any("ship it" in line for line in carol.seen)


def test_a_name_held_on_one_node_is_refused_on_the_other(cluster: Cluster) -> None:
    two_nodes(cluster)
    cluster.join("a", "cope")
    peer = Peer(cluster.nodes["b"].port)
    cluster.peers.append(peer)
    peer.expect(r"^\*\*\* Enter your name:")
    peer.send("Cope\n")
    peer.expect(r'^!!! The name "Cope" is taken\. Choose another one\.$')
    peer.send("\u0441\u043e\u0440\u0435\n")  # Cyrillic letters that look like "cope"
    peer.expect(r'looks too much like "cope"')
    peer.send("copa\n")
    peer.expect(r"^\*\*\* You are copa\. 2 users online")


def test_a_name_redis_fails_to_check_is_asked_again_and_can_be_had_later(
    cluster: Cluster,
) -> None:
    """The claim's script fails in Redis (here: a key of the wrong type where the name's claim
    goes): the newcomer is told and asked again rather than left waiting, and gets the name once
    Redis can check it."""
    two_nodes(cluster)
    key = "tcpchat:name:carol"
    assert command(cluster.redis.port, f"RPUSH {key} junk") == ":1"
    carol = Peer(cluster.nodes["a"].port)
    cluster.peers.append(carol)
    carol.expect(r"^\*\*\* Enter your name:$")
    carol.send("carol\n")
    carol.expect(r'^!!! The name "carol" could not be checked with the other servers just now')
    carol.expect(r"^\*\*\* Enter your name:$")
    assert command(cluster.redis.port, f"DEL {key}") == ":1"
    carol.send("carol\n")
    carol.expect(r"^\*\*\* You are carol\.")
    cluster.nodes["a"].wait_log(r"Redis refused Claim")


def alice_and_bob(cluster: Cluster) -> tuple[Peer, Peer]:
    """Two nodes; alice on a, bob on b, each known to the other's node."""
    two_nodes(cluster)
    alice = cluster.join("a", "alice")
    bob = cluster.join("b", "bob")
    alice.expect(r"^\*\*\* bob joined")
    return alice, bob


@contextlib.contextmanager
def out_of_memory(cluster: Cluster) -> Iterator[None]:
    """Redis refuses what needs memory (``maxmemory`` 1 byte) inside the block."""
    assert command(cluster.redis.port, "CONFIG SET maxmemory 1") == "+OK"
    try:
        yield
    finally:
        assert command(cluster.redis.port, "CONFIG SET maxmemory 0") == "+OK"


def test_a_join_redis_refused_is_told_by_joining_the_cluster_again(cluster: Cluster) -> None:
    """Redis is out of memory when alice joins #ops: her node's record of it is refused (its
    first write needs memory). The node joins the cluster again once Redis takes writes, which
    says afresh who is where: bob on the other node then finds her in #ops, and was never told
    that she left and came back (her node said she stays)."""
    alice, bob = alice_and_bob(cluster)
    known(bob, "/users", r"^\*\*\* 2 users online: alice, bob\.$")
    before = len(bob.seen)
    with out_of_memory(cluster):
        alice.send("/join #ops\n")
        alice.expect(r"^\*\*\* You joined #ops")
        cluster.nodes["a"].wait_log(r"Redis refused Publish")
    cluster.nodes["a"].wait_log(r"joining again", timeout=REAPED_WITHIN)
    known(bob, "/users #ops", r"^\*\*\* 1 user in #ops: alice\.$")
    bob.send("/users\n")
    bob.expect(r"^\*\*\* 2 users online: alice, bob\.$")
    assert not [line for line in bob.seen[before:] if line.startswith("*** alice")]


def test_a_topic_redis_refuses_is_not_sent_as_a_message_is(cluster: Cluster) -> None:
    """Redis is out of memory when alice sets a topic: she is told it was not sent, as for a
    message; nobody is shown leaving and coming back (the node does not join again)."""
    alice, bob = alice_and_bob(cluster)
    with out_of_memory(cluster):
        alice.send("/topic deploy at noon\n")
        alice.expect(r"^!!! Not sent")
    known(alice, "/topic set again", r"set the topic of #lobby: set again")
    bob.expect(r"alice set the topic of #lobby: set again")
    assert not any("alice left" in line for line in bob.seen)


def test_three_nodes_racing_for_the_same_names_register_each_name_once(cluster: Cluster) -> None:
    for name in "abc":
        cluster.node(name, "--max-per-ip", "200")
    names = [f"user{i}" for i in range(100)]
    peers = []
    for i in range(300):
        peer = Peer(cluster.nodes["abc"[i % 3]].port)
        cluster.peers.append(peer)
        peers.append(peer)
    for peer in peers:
        peer.expect(r"^\*\*\* Enter your name:")
    for i, peer in enumerate(peers):
        peer.send(f"{names[i % 100]}\n")
    granted: dict[str, int] = {}
    for i, peer in enumerate(peers):
        answer = peer.expect(r"^(\*\*\* You are |!!! The name)")
        if answer.startswith("*** You are"):
            granted[names[i % 100]] = granted.get(names[i % 100], 0) + 1
    assert sorted(granted) == sorted(names)
    assert set(granted.values()) == {1}


def test_a_killed_node_frees_its_names_and_its_users_are_seen_to_leave(cluster: Cluster) -> None:
    two_nodes(cluster)
    alice = cluster.join("a", "alice")
    cluster.join("b", "bob")
    alice.expect(r"^\*\*\* bob joined")
    cluster.nodes["b"].stop(signal.SIGKILL)
    alice.expect(r"^\*\*\* bob left \(server lost\)\. 1 user online\.$", timeout=REAPED_WITHIN)
    cluster.nodes["a"].wait_log(r"node b stopped renewing its lease")
    bob_again = cluster.join("a", "bob")
    bob_again.send("/users\n")
    bob_again.expect(r"^\*\*\* 2 users online: alice, bob\.$")


def test_a_second_server_with_a_running_nodes_name_is_refused_and_the_first_goes_on(
    cluster: Cluster,
) -> None:
    """Two nodes of one name would each take the other's users and names for their own (the
    doc's tcp-server@a started on two hosts): the second is one line and exit 1."""
    cluster.node("a")
    alice = cluster.join("a", "alice")
    with pytest.raises(AssertionError, match=r"\(exit 1\)") as refused:
        cluster.node("a-twin-host", "--node-name", "a")  # the last --node-name wins
    errors = [line for line in str(refused.value).splitlines() if "ERROR" in line]
    assert len(errors) == 1 and "another server is running as cluster node 'a'" in errors[0]
    alice.send("/users\n")
    alice.expect(r"^\*\*\* 1 user online: alice\.$")
    assert "lease lapsed" not in cluster.nodes["a"].stderr()


def test_a_node_killed_and_started_again_at_once_waits_for_its_old_lease(
    cluster: Cluster,
) -> None:
    _, bob = alice_and_bob(cluster)
    cluster.nodes["a"].stop(signal.SIGKILL)
    again = cluster.node("a")  # at once: the killed run's lease still holds
    again.wait_log(r"waiting for the lease of an earlier run of node a to lapse")
    bob.expect(r"^\*\*\* alice left \(server lost\)\. 1 user online\.$")
    carol = cluster.join("a", "carol")
    carol.send("/users\n")
    carol.expect(r"^\*\*\* 2 users online: bob, carol\.$")


def test_a_node_stopped_cleanly_says_goodbye_for_its_users_at_once(cluster: Cluster) -> None:
    two_nodes(cluster)
    alice = cluster.join("a", "alice")
    cluster.join("b", "bob")
    alice.expect(r"^\*\*\* bob joined")
    cluster.nodes["b"].stop()
    alice.expect(r"^\*\*\* bob left \(server shutdown\)\. 1 user online\.$")


def forty_around(cluster: Cluster, redis_command: str, reply: str, middle: str) -> None:
    """alice on node a says 20 messages, Redis is sent ``redis_command`` (its reply must start
    with ``reply``), alice says 20 more (``middle`` 0...); bob on node b must get all 40, once
    and in order, and then one more. Nobody is told of a link loss."""
    for name in "ab":
        cluster.node(name, "--flood-burst", "100")
    alice = cluster.join("a", "alice")
    bob = cluster.join("b", "bob")
    alice.expect(r"^\*\*\* bob joined")
    for i in range(20):
        alice.send(f"before {i}\n")
    assert command(cluster.redis.port, redis_command).startswith(reply)
    for i in range(20):
        alice.send(f"{middle} {i}\n")
    wanted = [f"<alice> {word} {i}" for word in ("before", middle) for i in range(20)]
    got = [bob.expect(r"^<alice> ") for _ in wanted]
    assert got == wanted
    alice.send("last\n")
    bob.expect(r"^<alice> last$")
    assert not any("Cluster link" in line for line in alice.seen + bob.seen)


def test_a_redis_pause_loses_reorders_and_duplicates_nothing(cluster: Cluster) -> None:
    forty_around(cluster, "CLIENT PAUSE 3000 WRITE", "+OK", "during")


@pytest.mark.parametrize("paused", ["ALL", "WRITE"])
def test_a_redis_stall_nearly_as_long_as_the_lease_reaps_nobody(
    cluster: Cluster, paused: str
) -> None:
    """Redis stalls 4.5 s: shorter than the lease (5 s), longer than what is left of it after
    a renewal is due (3.3 s), so a node's lease most likely runs out in Redis, its renewal
    held with its writes. Nobody is reaped for it, nobody is told of a link loss or sees
    anybody leave, and nothing said is lost (``WRITE``: the others' look at the leases gets
    through and their reaps wait in Redis)."""
    forty_around(cluster, f"CLIENT PAUSE 4500 {paused}", "+OK", "during")
    alice, bob = cluster.peers
    assert not any("left" in line for line in alice.seen + bob.seen)
    for name in "ab":
        log = cluster.nodes[name].stderr()
        assert "joining again" not in log and "stopped renewing" not in log, log


def test_a_dropped_subscription_is_taken_up_again_and_nothing_is_lost(cluster: Cluster) -> None:
    # What Redis does to a subscriber that falls too far behind (client-output-buffer-limit).
    forty_around(cluster, "CLIENT KILL TYPE pubsub", ":", "after")
    for name in "ab":
        cluster.nodes[name].wait_log(r"subscription lost")


def log_subscribers(port: int) -> int:
    """How many connections the Redis at ``port`` pushes the log to (``PUBSUB NUMSUB``)."""
    with socket.create_connection(("127.0.0.1", port), WAIT) as sock:
        sock.sendall(b"PUBSUB NUMSUB tcpchat:log\r\n")
        reply = b""
        while not re.search(rb"\r\n:\d+\r\n$", reply):  # [channel, count]: ends with the count
            chunk = sock.recv(4096)
            assert chunk, f"Redis closed the connection: {reply!r}"
            reply += chunk
    return int(reply.rsplit(b":", 1)[1])


def test_a_subscription_dropped_again_before_anything_came_is_a_lost_link(
    cluster: Cluster,
) -> None:
    alice, bob = alice_and_bob(cluster)
    assert command(cluster.redis.port, "CLIENT KILL TYPE pubsub") == ":2"
    poll_until(lambda: log_subscribers(cluster.redis.port) == 2, "both nodes subscribed again")
    assert command(cluster.redis.port, "CLIENT KILL TYPE pubsub") == ":2"  # nothing came since
    for peer in (alice, bob):
        peer.expect(r"^\*\*\* Cluster link lost")
        peer.expect(r"^\*\*\* Cluster link back", timeout=REAPED_WITHIN)
    alice.send("and on\n")
    bob.expect(r"^<alice> and on$")


def test_a_node_dropped_by_the_others_joins_again_and_misses_nothing_said_meanwhile(
    cluster: Cluster,
) -> None:
    """Node a's lease is taken away (as when it stalled past it): a finds out, says the link is
    lost, joins again (saying that alice stays, so bob never sees her leave) and says it is
    back. bob talks before, and all the while a rejoins; alice on a gets every line once and in
    order, also those said while a was rejoining (its reader subscribes afresh and catches up
    from the log then, whatever its old subscription saw)."""
    for name in "ab":
        cluster.node(name, "--flood-burst", "1000", "--flood-rate", "1000")
    alice = cluster.join("a", "alice")
    bob = cluster.join("b", "bob")
    alice.expect(r"^\*\*\* bob joined")
    known(bob, "/users", r"^\*\*\* 2 users online: alice, bob\.$")
    before = len(bob.seen)
    said = 0

    def talk_until(pattern: str) -> bool:
        nonlocal said
        for _ in range(3):
            bob.send(f"m {said}\n")
            said += 1
        for _ in range(3):  # "nobody else" while a's users are gone and not back yet
            bob.expect(r"^\*\*\* (Delivered to ALL|Nobody else is online)")
        return re.search(pattern, cluster.nodes["a"].stderr()) is not None

    drop = "redis.call('DEL', KEYS[1]); return redis.call('SREM', KEYS[2], ARGV[1])"
    assert command(cluster.redis.port, f'EVAL "{drop}" 2 tcpchat:node:a tcpchat:nodes a')
    talk_until("")
    cluster.nodes["a"].wait_log(r"cluster link lost", timeout=REAPED_WITHIN)  # a quiet log
    # While a rejoins, bob talks without a pause, so that lines are appended at every moment
    # of it (its reader's old subscription closing, the new one starting).
    deadline = time.monotonic() + REAPED_WITHIN
    for _ in range(5000):
        if talk_until(r"cluster link back") or time.monotonic() > deadline:
            break
    assert talk_until(r"cluster link back"), "a never came back"
    got = [alice.expect(r"^<bob> m ") for _ in range(said)]
    assert got == [f"<bob> m {i}" for i in range(said)]
    assert any(line.startswith("*** Cluster link back") for line in alice.seen)
    assert not [line for line in bob.seen[before:] if line.startswith(("*** alice", "*** Nobody"))]


def blocked_clients(port: int) -> int:
    """How many clients of the Redis at ``port`` wait (``INFO clients``: a command held by
    ``CLIENT PAUSE`` counts)."""
    with socket.create_connection(("127.0.0.1", port), WAIT) as sock:
        sock.sendall(b"INFO clients\r\n")
        reply = b""
        while b"\r\n" not in reply or len(reply) < reply.index(b"\r\n") + 2 + int(
            reply[1 : reply.index(b"\r\n")]
        ):
            chunk = sock.recv(4096)
            assert chunk, f"Redis closed the connection: {reply!r}"
            reply += chunk
    found = re.search(rb"blocked_clients:(\d+)", reply)
    assert found, reply
    return int(found.group(1))


def test_messages_queued_when_the_link_is_lost_are_refused_not_sent_after_newer_ones(
    cluster: Cluster,
) -> None:
    """Redis holds alice's first message (``CLIENT PAUSE``) and two more wait behind it; the
    node finds the link lost (its lease renewal times out) and alice says one more, which her
    neighbour ann gets at once (this server alone now). The three older ones are refused, each
    with "Not sent": none of them comes after the newer one once the link is back."""
    for name in "ab":
        cluster.node(name, "--flood-burst", "100")
    ann = cluster.join("a", "ann")
    alice = cluster.join("a", "alice")
    cluster.join("b", "bob")
    alice.expect(r"^\*\*\* bob joined")
    assert command(cluster.redis.port, "CLIENT PAUSE 60000 WRITE") == "+OK"
    try:
        alice.send("first\n")
        poll_until(lambda: blocked_clients(cluster.redis.port) > 0, "the first message held")
        alice.send("second\nthird\n")  # queued behind the first
        alice.expect(r"^\*\*\* Cluster link lost", timeout=REAPED_WITHIN)
        alice.send("newer\n")
        ann.expect(r"^<alice> newer$")
    finally:
        command(cluster.redis.port, "CLIENT UNPAUSE")
    alice.expect(r"^\*\*\* Cluster link back", timeout=REAPED_WITHIN)
    alice.send("after\n")
    ann.expect(r"^<alice> after$")
    assert [line for line in ann.seen if line.startswith("<alice>")] == [
        "<alice> newer",
        "<alice> after",
    ]
    refused = [line for line in alice.seen if line.startswith("!!! Not sent")]
    assert len(refused) == 3, alice.seen


def test_losing_redis_is_said_once_and_service_goes_on_locally(cluster: Cluster) -> None:
    two_nodes(cluster)
    alice = cluster.join("a", "alice")
    ann = cluster.join("a", "ann")
    bob = cluster.join("b", "bob")
    alice.expect(r"^\*\*\* bob joined")
    cluster.redis.stop()
    lost = r"^\*\*\* Cluster link lost: messages reach users on this server only\.$"
    alice.expect(lost)
    bob.expect(lost)
    cluster.nodes["a"].wait_log(r"cluster link lost")
    alice.send("local only\n")
    ann.expect(r"^<alice> local only$")
    alice.expect(r"^\*\*\* Delivered to ALL \(1 user on this server\)\.$")  # ann, not bob
    alice.send("/w bob hi\n")
    alice.expect(r"^!!! bob is on another server, which this one cannot reach now")

    cluster.redis.start()  # without persistence: the nodes join again and announce their users
    back = r"^\*\*\* Cluster link back"
    alice.expect(back, timeout=REAPED_WITHIN)
    bob.expect(back, timeout=REAPED_WITHIN)
    # That Redis forgot everything: each node joins again and claims its users' names again;
    # a /w before bob's is claimed again is "No such user" (docs/CLUSTER.md).
    known(alice, "/users", r"^\*\*\* 3 users online: alice, ann, bob\.$")
    known(bob, "/users", r"^\*\*\* 3 users online: alice, ann, bob\.$")
    delivered = r"^\*\*\* Delivered to bob\.$"
    known(alice, "/w bob are you there", delivered, answer=f"{delivered}|^!!! ")
    bob.expect(r"^\[PM from alice\] are you there$")
    assert sum(1 for line in alice.seen if re.match(lost, line)) == 1


def test_a_redis_restart_that_loses_everything_shows_nobody_leaving(cluster: Cluster) -> None:
    """Redis restarted without persistence after private messages crossed, so that each node
    finds its inbox emptied and reads afresh who is where as it joins again, maybe before the
    other is back: each says who stays, and no user is seen to leave and come back."""
    alice, bob = alice_and_bob(cluster)
    known(bob, "/users", r"^\*\*\* 2 users online: alice, bob\.$")
    for sender, to, peer in ((alice, "bob", bob), (bob, "alice", alice)):
        sender.send(f"/w {to} hi\n")
        peer.expect(r"^\[PM from \w+\] hi$")
    before = {"alice": len(alice.seen), "bob": len(bob.seen)}
    cluster.redis.stop()
    for peer in (alice, bob):
        peer.expect(r"^\*\*\* Cluster link lost")
    cluster.redis.start()
    for peer in (alice, bob):
        peer.expect(r"^\*\*\* Cluster link back", timeout=REAPED_WITHIN)
    for sender, to, peer in ((alice, "bob", bob), (bob, "alice", alice)):
        delivered = rf"^\*\*\* Delivered to {to}\.$"
        known(sender, f"/w {to} still there", delivered, answer=f"{delivered}|^!!! ")
        peer.expect(r"^\[PM from \w+\] still there$")
    for peer, name, other in ((alice, "alice", "bob"), (bob, "bob", "alice")):
        seen = peer.seen[before[name] :]
        assert not [line for line in seen if line.startswith(f"*** {other} ")], seen


def test_the_users_of_a_node_that_died_while_redis_lost_everything_leave_after_the_hold(
    cluster: Cluster,
) -> None:
    """Node b is killed while Redis is down, and Redis comes back empty: nobody can reap b (it
    is listed nowhere). Node a, whose inbox had held bob's message, reads who is where afresh
    as it joins again, keeps bob while b may yet be on its way back, then lets him go."""
    alice, bob = alice_and_bob(cluster)
    bob.send("/w alice hi\n")
    alice.expect(r"^\[PM from bob\] hi$")
    cluster.redis.stop()
    alice.expect(r"^\*\*\* Cluster link lost")
    cluster.nodes["b"].stop(signal.SIGKILL)
    cluster.redis.start()
    alice.expect(r"^\*\*\* Cluster link back", timeout=REAPED_WITHIN)
    alice.send("/users\n")  # b may yet be back (and say bob stays): kept for the hold
    alice.expect(r"^\*\*\* 2 users online: alice, bob\.$")
    hold = BACK_HOLD_S + CLUSTER_RENEW_S
    alice.expect(r"^\*\*\* bob left \(server lost\)\. 1 user online\.$", timeout=hold + WAIT)


def test_a_redis_restart_with_aof_keeps_ids_rising_and_nothing_is_lost(tmp_path: Path) -> None:
    cluster = Cluster(tmp_path, aof=True)
    try:
        two_nodes(cluster)
        alice = cluster.join("a", "alice", json_mode=True)
        bob = cluster.join("b", "bob", json_mode=True)
        alice.send("first\n")
        first = bob.event("message")
        cluster.redis.stop()
        alice.event("notice")
        cluster.redis.start()
        assert alice.event("notice")["code"] == "cluster_up"
        alice.send("second\n")
        second = bob.event("message", timeout=REAPED_WITHIN)
        assert (first["text"], second["text"]) == ("first", "second")
        assert second["id"] > first["id"]
        assert alice.event("delivered")["id"] == second["id"]
    finally:
        cluster.close()


def test_history_and_search_are_the_same_on_every_node(cluster: Cluster) -> None:
    two_nodes(cluster)
    alice = cluster.join("a", "alice")
    bob = cluster.join("b", "bob")
    alice.send("the backup runs at midnight\n")
    bob.expect(r"^<alice> the backup runs at midnight$")
    bob.send("/search backup\n")
    bob.expect(r"<alice> the backup runs at midnight$")
    cluster.node("c")  # a node that joins later backfills its store from the log
    carol = cluster.join("c", "carol")
    carol.send("/history\n")
    carol.expect(r"#\d+\] <alice> the backup runs at midnight$")


def test_a_node_that_finds_log_entries_trimmed_keeps_those_the_log_still_holds(
    cluster: Cluster,
) -> None:
    """Node a is stopped with its subscription gone; bob says five lines and the log is trimmed
    to the last two. a, running again, finds three entries gone: it reads who is where again,
    and its history has the two the log still held, as b's has (they are not delivered to alice:
    a long gap's messages would flood her)."""
    two_nodes(cluster)
    alice = cluster.join("a", "alice")
    bob = cluster.join("b", "bob")
    alice.expect(r"^\*\*\* bob joined")
    node_a = cluster.nodes["a"]
    node_a.proc.send_signal(signal.SIGSTOP)
    try:
        assert command(cluster.redis.port, "CLIENT KILL TYPE pubsub") == ":2"
        for i in range(5):
            bob.send(f"while away {i}\n")
            bob.expect(r"^\*\*\* Delivered to ALL")
        assert command(cluster.redis.port, "XTRIM tcpchat:log MAXLEN 2").startswith(":")
    finally:
        node_a.proc.send_signal(signal.SIGCONT)
    node_a.wait_log(r"3 log entries were trimmed while cut off")
    node_a.wait_log(r"2 messages kept from the log")
    alice.send("/history\n")
    alice.expect(r"#\d+\] <bob> while away 3$")
    alice.expect(r"#\d+\] <bob> while away 4$")
    bob.send("back\n")
    alice.expect(r"^<bob> back$")
    assert not any("while away" in line for line in alice.seen if line.startswith("<"))


@pytest.mark.parametrize("ends", [False, True], ids=["stays", "ends-its-side"])
def test_lines_sent_right_after_the_name_wait_for_the_cluster_to_answer_it(
    cluster: Cluster, ends: bool
) -> None:
    """`printf 'ann\nhello\n/users\n' | nc`: the name goes to Redis first, and the lines behind
    it are read once it is answered, as on one server, where the name is answered at once (not
    "Wait: the other servers are checking your name"). A client that ends its side at once
    (`nc -N`) still reads every answer before the server closes."""
    two_nodes(cluster)
    bob = cluster.join("b", "bob")
    ann = Peer(cluster.nodes["a"].port)
    ann.send("ann\nhello from a pipe\n/users\n")
    if ends:
        ann.sock.shutdown(socket.SHUT_WR)
    bob.expect(r"^<ann> hello from a pipe$")
    ann.expect(r"^\*\*\* 2 users online: ann, bob\.$")
    if ends:
        assert ann.closed()
    assert not [line for line in ann.seen if "Wait" in line], ann.seen
    assert ann.seen.index("*** You are ann. 2 users online: ann, bob.") == 2, ann.seen
    ann.close()


@pytest.mark.parametrize(
    ("said", "confirmed", "heard"),
    [
        ("bye all", "*** Delivered to ALL (1 user).", "<ann> bye all"),
        ("/w bob bye you", "*** Delivered to bob.", "[PM from ann] bye you"),
    ],
    ids=["room", "private"],
)
@pytest.mark.parametrize("ending", ["/quit\n", ""], ids=["quit", "end-of-input"])
def test_a_message_sent_just_before_leaving_is_confirmed_before_goodbye(
    cluster: Cluster, ending: str, said: str, confirmed: str, heard: str
) -> None:
    """`printf 'ann\nbye all\n/quit\n' | nc -N`: the message is confirmed when the log hands
    it back (a private one when Redis answers); the /quit (or the end of the client's input)
    waits for that, so the sender reads "Delivered" before it leaves, as on one server."""
    two_nodes(cluster)
    bob = cluster.join("b", "bob")
    ann = Peer(cluster.nodes["a"].port)
    ann.send(f"ann\n{said}\n{ending}")
    ann.sock.shutdown(socket.SHUT_WR)
    assert ann.closed()
    told = [line for line in ann.seen if line.startswith("***")]
    last = [confirmed, "*** Goodbye, ann."] if ending else [confirmed]
    assert told[-len(last) :] == last, ann.seen
    bob.expect("^" + re.escape(heard) + "$")
    bob.expect(r"^\*\*\* ann left")
    ann.close()


def test_lines_wait_for_a_stalled_cluster_only_a_moment_and_only_a_few(cluster: Cluster) -> None:
    """Redis holds the name's claim (CLIENT PAUSE): a /quit behind it is read after HELD_MAX_S
    all the same (before a name, /quit works); a client that sends more lines than a flood
    burst behind its name has them read at once, answered "Wait" as before."""
    cluster.node("a")
    quits, floods = Peer(cluster.nodes["a"].port), Peer(cluster.nodes["a"].port)
    assert command(cluster.redis.port, "CLIENT PAUSE 60000 WRITE") == "+OK"
    try:
        quits.send("ann\n/quit\n")
        floods.send("bo\n" + "".join(f"line {n}\n" for n in range(HELD_MAX_LINES + 5)))
        floods.expect(r"^!!! Wait: the other servers are checking your name\.$")
        quits.expect(r"^\*\*\* Goodbye\.$")
        assert quits.closed()
    finally:
        command(cluster.redis.port, "CLIENT UNPAUSE")
    quits.close()
    floods.close()


def test_an_irc_clients_join_sent_with_its_nick_waits_for_the_cluster(cluster: Cluster) -> None:
    """NICK, USER and JOIN in one write (as a bot sends them): the JOIN is read once the nick is
    granted, so it joins, as on one server, instead of being refused with 451."""
    cluster.node("a", "--irc-port", "0", "--server-name", "irc.a.test")
    irc_port = int(cluster.nodes["a"].wait_log(r"IRC listening on 127\.0\.0\.1:(\d+)").group(1))
    irc = IrcPeer(irc_port)
    try:
        irc.send(b"NICK wendy\r\nUSER wendy 0 * :W\r\nJOIN #ops\r\n")
        assert irc.expect("001").params[0] == "wendy"
        assert irc.expect("JOIN").params == ["#lobby"]  # every client's, at registration
        joined = irc.expect("JOIN", "451")
        assert (joined.command, joined.params) == ("JOIN", ["#ops"])
    finally:
        irc.close()


def test_an_irc_client_on_one_node_talks_with_an_nc_user_on_another(cluster: Cluster) -> None:
    cluster.node("a", "--irc-port", "0", "--server-name", "irc.a.test")
    cluster.node("b")
    irc_port = int(cluster.nodes["a"].wait_log(r"IRC listening on 127\.0\.0\.1:(\d+)").group(1))
    bob = cluster.join("b", "bob")
    irc = IrcPeer(irc_port)
    try:
        irc.register("wendy")
        irc.send("JOIN #ops")
        names = irc.expect("353")
        assert "wendy" in names.params[-1]
        known(bob, "/users #ops", r"^\*\*\* 1 user in #ops: wendy\.$")
        bob.send("/join #ops\n")
        irc.expect("JOIN")
        bob.send("hello IRC\n")
        said = irc.expect("PRIVMSG")
        assert (said.hostmask.nickname, said.params) == ("bob", ["#ops", "hello IRC"])
        irc.send("LUSERS")  # the cluster's users and servers, and this server's own
        # wendy is +i (an IRC user of this node); bob, of the other node, has no user modes.
        assert irc.expect("251").params[-1] == "There are 1 users and 1 invisible on 2 servers"
        assert irc.expect("255").params[-1] == "I have 1 clients and 1 servers"
        irc.send("PRIVMSG #ops :hello nc")
        bob.expect(r"^<wendy> hello nc$")
        irc.send("PRIVMSG bob :psst")
        bob.expect(r"^\[PM from wendy\] psst$")
        # A nick held on the other node: 433, as on one server; another nick is welcome.
        late = IrcPeer(irc_port)
        try:
            late.send("NICK bob")
            late.send("USER bob 0 * :B")
            assert late.expect("433").params[1] == "bob"
            late.send("NICK bobby")
            late.expect("001")
        finally:
            late.close()
    finally:
        irc.close()


def test_no_user_on_another_node_takes_the_name_of_a_server_with_irc(cluster: Cluster) -> None:
    """Node a's IRC users see its --server-name as the source of the server's own lines: node
    b refuses it and its look-alikes as a does (found in review: b gave it away, and a's IRC
    users then read ':irc.a.test!~u@irc.a.test PRIVMSG ...')."""
    cluster.node("a", "--irc-port", "0", "--server-name", "irc.a.test")
    cluster.nodes["a"].wait_log(r"IRC listening on")
    cluster.node("b")
    peer = Peer(cluster.nodes["b"].port)
    cluster.peers.append(peer)
    peer.expect(r"^\*\*\* Enter your name:")
    for wanted, why in (
        ("irc.a.test", r'^!!! The name "irc\.a\.test" is reserved\.'),
        ("IRC-A.test", r'^!!! The name "IRC-A\.test" looks like the reserved name "irc\.a\.test"'),
    ):
        peer.send(f"{wanted}\n")
        peer.expect(why)
        peer.expect(r"^\*\*\* Enter your name:")
    peer.send("mallory\n")
    peer.expect(r"^\*\*\* You are mallory")


def test_an_irc_clients_nick_and_privmsg_refused_late_by_the_cluster_are_433_and_401(
    cluster: Cluster,
) -> None:
    """A registered IRC client's NICK and PRIVMSG to a nick are answered by Redis, after the
    node handed them to its link: a refusal then is 433 or 401, as when the node refuses at
    once, not a NOTICE. The races are set in Redis by hand so that they come out the same every
    run: "zed" claimed by a node this one has not heard of yet (another node won the name an
    instant ago), and bob's name freed on node a before node b read his leave."""
    cluster.node("a")
    cluster.node("b", "--irc-port", "0", "--server-name", "irc.b.test")
    irc_port = int(cluster.nodes["b"].wait_log(r"IRC listening on 127\.0\.0\.1:(\d+)").group(1))
    cluster.join("a", "bob")
    irc = IrcPeer(irc_port)
    try:
        irc.register("wendy")

        def bob_known() -> bool:
            irc.send("ISON bob")
            return irc.expect("303").params[-1] == "bob"

        poll_until(bob_known, "bob known on node b")
        port = cluster.redis.port
        for key in cl.claim_keys("zed"):
            assert command(port, f'SET {key} "x\\tzed"') == "+OK"
        irc.send("NICK zed")
        refused = irc.expect("433", "NOTICE", "NICK")
        assert (refused.command, refused.params[:2]) == ("433", ["wendy", "zed"])
        for key in cl.claim_keys("bob"):
            command(port, f"DEL {key}")
        irc.send("PRIVMSG bob :are you there?")
        refused = irc.expect("401", "NOTICE")
        assert (refused.command, refused.params[:2]) == ("401", ["wendy", "bob"])
        irc.send("NICK wendy2")  # a NICK granted late is the NICK line, as ever
        renamed = irc.expect("NICK", "433", "NOTICE")
        assert (renamed.command, renamed.source, renamed.params) == (
            "NICK",
            "wendy!~u@irc.b.test",
            ["wendy2"],
        )
    finally:
        irc.close()


def test_a_rename_to_a_look_alike_of_ones_own_name_is_granted_and_the_name_stays_held(
    cluster: Cluster,
) -> None:
    """bob becomes Bob: the cluster holds the name's keys for him already, so the claim is
    his (it was refused as taken by himself); the name stays his, and the other node sees it."""
    alice, bob = alice_and_bob(cluster)
    bob.send("/nick Bob\n")
    bob.expect(r"^\*\*\* You are now known as Bob\.$")
    alice.expect(r"^\*\*\* bob is now known as Bob")
    taker = Peer(cluster.nodes["a"].port)
    cluster.peers.append(taker)
    taker.expect(r"^\*\*\* Enter your name:$")
    taker.send("BOB\n")
    taker.expect(r'^!!! The name "BOB" is taken')
    assert command(cluster.redis.port, "GET tcpchat:name:bob") == "$5\r\nb\tBob"


def test_ids_and_renames_are_the_same_on_every_node(cluster: Cluster) -> None:
    two_nodes(cluster)
    alice = cluster.join("a", "alice", json_mode=True)
    bob = cluster.join("b", "bob", json_mode=True)

    def both_known() -> bool:
        bob.send("/users\n")
        return bool(bob.event("users")["users"] == ["alice", "bob"])

    poll_until(both_known, "alice known on node b")
    alice.send("one\n")
    heard = bob.event("message")
    assert alice.event("delivered")["id"] == heard["id"]
    bob.send("two\n")
    assert alice.event("message")["id"] == bob.event("delivered")["id"] > heard["id"]
    alice.send("/nick алиса\n")
    assert alice.event("rename")["new"] == "алиса"
    renamed = bob.event("rename")
    assert (renamed["old"], renamed["new"]) == ("alice", "алиса")
    bob.send("/w алиса привет\n")
    assert alice.event("message")["text"] == "привет"


def locked_nodes(cluster: Cluster, tmp_path: Path) -> tuple[Peer, Peer]:
    """Two nodes with the server password "s3cret"; alice on a, bob on b, both in."""
    secret = tmp_path / "password"
    secret.write_text("s3cret\n", encoding="utf-8")
    for name in ("a", "b"):
        cluster.node(name, "--password-file", str(secret))
    people = []
    for node, name in (("a", "alice"), ("b", "bob")):
        peer = Peer(cluster.nodes[node].port)
        cluster.peers.append(peer)
        peer.expect("Enter your password")
        peer.send("s3cret\n")
        peer.expect("Enter your name")
        peer.send(f"{name}\n")
        peer.expect(rf"^\*\*\* You are {name}\.")
        people.append(peer)
    return people[0], people[1]


def guess(cluster: Cluster, node: str, text: str) -> str:
    """A wrong password from 127.0.0.7 on ``node``: the answer."""
    guesser = Peer(cluster.nodes[node].port, source="127.0.0.7")
    cluster.peers.append(guesser)
    guesser.expect("Enter your password")
    guesser.send(f"{text}\n")
    return guesser.expect("^!!!")


def test_wrong_passwords_on_one_node_slow_guessing_down_on_the_other(
    cluster: Cluster, tmp_path: Path
) -> None:
    alice, bob = locked_nodes(cluster, tmp_path)
    for attempt in range(4):  # on node a: three typos free, the fourth compared, then a wait
        assert guess(cluster, "a", f"guess {attempt}") == "!!! Wrong password. Try again."
    alice.send("after the guesses\n")  # the log is read in order: the strikes came before
    bob.expect(r"^<alice> after the guesses$")
    answer = guess(cluster, "b", "s3cret")  # not even compared
    assert answer.startswith("!!! Too many wrong passwords from your address")


def test_a_wrong_password_redis_refuses_to_log_costs_no_rejoining(
    cluster: Cluster, tmp_path: Path
) -> None:
    """Out of memory, Redis refuses the strike: the node goes on (a join that Redis refuses
    makes it join the cluster again, which a guesser must not be able to cause)."""
    alice, bob = locked_nodes(cluster, tmp_path)
    with out_of_memory(cluster):
        assert guess(cluster, "a", "guess") == "!!! Wrong password. Try again."
        cluster.nodes["a"].wait_log(r"Redis refused Publish")
    alice.send("still linked\n")
    bob.expect(r"^<alice> still linked$")
    alice.expect(r"^\*\*\* Delivered to ALL")  # what she was told before it is read too
    assert not any("link lost" in line for line in alice.seen)
    assert "link lost" not in cluster.nodes["a"].stderr()
