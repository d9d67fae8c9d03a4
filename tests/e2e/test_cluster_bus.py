"""The cluster bus (server/cluster/bus.py) against a real redis-server: ids from the log,
atomic name claims (the race), private messages only to the node holding the name, resuming
without doubles, reaping a node whose lease lapsed, a Redis pause losing nothing."""

from __future__ import annotations

import asyncio
import logging
import signal
import socket
import time
from collections.abc import Awaitable, Iterator
from pathlib import Path
from typing import Any, Callable, TypeVar

import pytest

from tcpchat.core import cluster as cl
from tcpchat.core import cluster_codec as codec
from tcpchat.core.lease import Lease
from tcpchat.core.limits import CLUSTER_GONE_INBOX_S, CLUSTER_MARK_S
from tests.conftest import WAIT
from tests.e2e.redis_server import RedisServer, command

pytest.importorskip("redis", reason="the extra tcp-chat[cluster] is not installed")

from tcpchat.core.output import Publish, Release, Whisper  # noqa: E402
from tcpchat.server.cluster import bus as bus_module  # noqa: E402
from tcpchat.server.cluster import calls as calls_module  # noqa: E402
from tcpchat.server.cluster import lease_clock, reach, scripts  # noqa: E402
from tcpchat.server.cluster.bus import Bus  # noqa: E402
from tcpchat.server.cluster.scripts import APPEND, LEASE_LOST  # noqa: E402
from tcpchat.server.cluster.wire import Wire, flat_fields  # noqa: E402

T = TypeVar("T")


@pytest.fixture
def redis(tmp_path: Path) -> Iterator[RedisServer]:
    server = RedisServer(tmp_path / "redis")
    yield server
    server.stop()


def run(redis: RedisServer, test: Callable[[Callable[..., Awaitable[Bus]]], Awaitable[T]]) -> T:
    """Run ``test`` with a factory of joined buses (``node(name, stored=0, lease=None)``)."""

    async def main() -> T:
        clients: list[Any] = []
        buses: list[Bus] = []

        async def node(name: str, stored: int = 0, lease: Lease | None = None) -> Bus:
            client = await reach(redis.url, 0)
            clients.append(client)
            bus = Bus(client, name, lease)
            buses.append(bus)
            await bus.join(stored, time.time())
            return bus

        try:
            return await asyncio.wait_for(test(node), WAIT)
        finally:
            for bus in buses:
                await bus.close()
            for client in clients:
                await client.aclose()

    return asyncio.run(main())


async def lapsed(client: Any, key: str) -> None:
    """Wait, with a timeout, for Redis to expire ``key``: its keyspace notification is the event
    (a lease lapses on Redis's clock, which nothing else tells)."""
    await client.config_set("notify-keyspace-events", "Kx")
    events = client.pubsub()
    await events.subscribe(f"__keyspace@0__:{key}")
    try:
        deadline = time.monotonic() + WAIT
        while await client.exists(key):
            left = deadline - time.monotonic()
            assert left > 0, f"{key} never expired"
            await events.get_message(ignore_subscribe_messages=True, timeout=left)
    finally:
        await events.aclose()


def said(node: str, text: str) -> cl.Said:
    return cl.Said(node, 1, "alice", "#lobby", "", text, False, 1.0)


def test_every_node_reads_the_log_in_one_order_with_the_same_ids(redis: RedisServer) -> None:
    async def test(node: Callable[..., Awaitable[Bus]]) -> None:
        a, b = await node("a"), await node("b")
        ids = [await a.publish(said("a", "one")), await b.publish(said("b", "two"))]
        ids.append(await a.publish(said("a", "three")))
        assert ids == sorted(ids) and len(set(ids)) == 3
        for bus in (a, b):
            read = await bus.read()
            assert [(i, e.text) for _, i, e in read if isinstance(e, cl.Said)] == list(
                zip(ids, ["one", "two", "three"])
            )

    run(redis, test)


def test_ids_go_on_above_what_a_node_has_stored(redis: RedisServer) -> None:
    async def test(node: Callable[..., Awaitable[Bus]]) -> None:
        a = await node("a", stored=500)
        assert await a.publish(said("a", "x")) == 501
        b = await node("b", stored=100)  # a lower floor does not move the sequence back
        assert await b.publish(said("b", "y")) == 502

    run(redis, test)


def test_a_name_raced_for_by_three_nodes_goes_to_exactly_one(redis: RedisServer) -> None:
    async def test(node: Callable[..., Awaitable[Bus]]) -> None:
        buses = [await node(n) for n in ("a", "b", "c")]
        for _ in range(10):
            await buses[0].redis.flushdb()  # a fresh cluster for each run
            for bus in buses:
                await bus.join(0, time.time())
            names = [f"user{i}" for i in range(100)]
            claims = [bus.claim(name) for name in names for bus in buses]
            answers = await asyncio.gather(*claims)
            assert sum(answer is None for answer in answers) == 100
            assert all(answer in (None, *names) for answer in answers)

    run(redis, test)


def test_a_look_alike_of_a_name_held_on_another_node_is_refused(redis: RedisServer) -> None:
    async def test(node: Callable[..., Awaitable[Bus]]) -> None:
        a, b = await node("a"), await node("b")
        assert await a.claim("alice") is None
        assert await b.claim("ALICE") == "alice"
        assert await b.claim("Il") is None
        assert await a.claim("lI") == "Il"
        await a.release("alice")
        assert await b.claim("Alice") is None
        assert await b.holder("alice") == "b"

    run(redis, test)


def test_a_servers_name_is_reserved_for_good_from_every_node_and_listed(
    redis: RedisServer, caplog: pytest.LogCaptureFixture
) -> None:
    """A node with IRC holds its --server-name and its look-alikes in Redis for no user (no
    node: nothing releases or reaps them), and lists it among the servers every node reserves;
    a user who had it first keeps it, and the node says so in its log."""

    async def test(node: Callable[..., Awaitable[Bus]]) -> None:
        a, b = await node("a"), await node("b")
        assert await b.claim("mallory") is None
        assert await a.calls.reserve_name("irc.a", warn=True) == ["irc.a"]
        assert await a.calls.reserve_name("irc.a", warn=True) == ["irc.a"]  # again: the same
        for wanted in ("irc.a", "IRC.A", "irc.а"):  # the last with a Cyrillic a
            assert await b.claim(wanted) == "irc.a"
            answer = await b.redis.get(cl.claim_keys(wanted)[0])
            assert cl.is_reserved_value(answer)
        with caplog.at_level(logging.WARNING, logger="tcpchat"):
            servers = await b.calls.reserve_name("mallory", warn=True)
        assert sorted(servers) == ["irc.a", "mallory"]
        assert "mallory, a user of the node b, has this server's name" in caplog.text
        assert await b.calls.reserve_name("", warn=True) == servers  # only read
        await b.release("irc.a")  # a node lets go of its own names only
        assert cl.is_reserved_value(await a.redis.get(cl.claim_keys("irc.a")[0]))

    run(redis, test)


def test_a_private_message_goes_only_to_the_node_holding_the_name(redis: RedisServer) -> None:
    async def test(node: Callable[..., Awaitable[Bus]]) -> None:
        a, b = await node("a"), await node("b")
        assert await b.claim("bob") is None
        entry = cl.Whispered("a", 1, "alice", "bob", "psst", 1.0)
        assert await a.whisper("a", entry) == 0  # bob is not on a
        sent = await a.whisper("b", entry)
        assert sent > 0
        assert [(i, e) for _, i, e in await b.read()] == [(sent, entry)]
        assert await a.read() == []  # nothing in a's inbox, nothing in the log
        await b.release("bob")
        assert await a.whisper("b", entry) == 0

    run(redis, test)


def test_a_bounce_goes_to_its_senders_node_whatever_the_senders_name_while_it_is_listed(
    redis: RedisServer,
) -> None:
    """The word that a private message was not delivered is gated on the sender's node being in
    the cluster, not on the sender's name (which they may have changed since); it is written
    once per message, however often it is sent."""

    async def test(node: Callable[..., Awaitable[Bus]]) -> None:
        a, b = await node("a"), await node("b")
        bounce = cl.Bounced("b", 1, "alice", "bob", 7, "quit", 1.0, "run1")
        answers = await b.run([Whisper("a", bounce, None)])  # nobody holds "alice"
        assert answers[0] > 0
        assert [(i, e) for _, i, e in await a.read()] == [(answers[0], bounce)]
        assert await b.run([Whisper("a", bounce, None)]) == [0]  # written once per message
        assert await a.read() == []
        await a.leave(time.time(), "")  # off the list of nodes: its inbox is not filled again
        other = cl.Bounced("b", 1, "alice", "bob", 8, "quit", 1.0, "run1")
        assert await b.run([Whisper("a", other, None)]) == [0]
        assert not await b.redis.exists(cl.bounced_key(8))

    run(redis, test)


def test_catching_up_takes_the_log_and_the_inbox_in_the_order_of_their_ids(
    redis: RedisServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """One counter numbers both streams: a whisper said between two room messages comes
    between them when a node catches up, also across reads cut at the count (2 here)."""
    monkeypatch.setattr(bus_module, "CLUSTER_READ_COUNT", 2)

    async def test(node: Callable[..., Awaitable[Bus]]) -> None:
        a, b = await node("a"), await node("b")
        assert await b.claim("bob") is None
        whisper = cl.Whispered("a", 1, "alice", "bob", "psst", 1.0)
        ids = [await a.whisper("b", whisper), await a.publish(said("a", "2"))]
        ids += [await a.whisper("b", whisper), await a.publish(said("a", "4"))]
        ids += [await a.publish(said("a", "5")), await a.whisper("b", whisper)]
        ids += [await a.publish(said("a", "7"))]
        assert ids == sorted(ids) and len(set(ids)) == 7
        reads: list[list[int]] = []
        for _ in range(10):
            reads.append([i for _, i, _ in await b.read()])
            if b.drained:
                break
        assert [i for read in reads for i in read] == ids
        assert all(len(read) <= 2 * 2 for read in reads)  # the count, of each stream

    run(redis, test)


def test_a_joining_node_gets_every_rooms_last_topic_though_the_log_no_longer_holds_it(
    redis: RedisServer,
) -> None:
    async def test(node: Callable[..., Awaitable[Bus]]) -> None:
        a, b = await node("a"), await node("b")
        first = cl.TopicSet("a", "alice", "#ops", "#Ops", "deploys only", 1.0)
        later = cl.TopicSet("a", "alice", "#ops", "#Ops", "freeze", 2.0)
        other = cl.TopicSet("b", "bob", "#dev", "#dev", "builds", 3.0)
        await a.run([Publish(first), Publish(said("a", "hi")), Publish(later)])
        await b.run([Publish(other)])
        kinds = [type(e).__name__ for _, _, e in await b.read()]
        assert kinds == ["TopicSet", "Said", "TopicSet", "TopicSet"]  # in the log, in order
        await a.redis.xtrim(cl.LOG_KEY, maxlen=0)  # trimmed away in time
        await a.redis.hset(cl.TOPICS_KEY, "#junk", '["topic", "not one of ours"]')
        await a.redis.hset(cl.TOPICS_KEY, "#broken", "[")
        c = await node("c")
        _, _, topics = await c.snapshot()
        assert [topic for _, topic in topics] == [later, other]  # in the order set
        # Reading again who is where (a Refresh) leaves the topics, megabytes at worst, out.
        assert await c.snapshot(topics=False) == (await c.snapshot())[:2] + ([],)

    run(redis, test)


def test_the_topics_kept_for_joining_nodes_are_bounded_the_oldest_going_first(
    redis: RedisServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A client making room after room, each with a topic, cannot grow Redis's record of them
    past its cap (3 here): the room whose topic was set longest ago goes. A cleared topic is
    kept as such, and the snapshot gives them in the order they were set."""
    monkeypatch.setattr(calls_module, "CLUSTER_TOPICS", 3)

    async def test(node: Callable[..., Awaitable[Bus]]) -> None:
        a = await node("a")

        def topic(room: str, text: str) -> Publish:
            return Publish(cl.TopicSet("a", "alice", room, room, text, 1.0))

        rooms = ["#dev", "#ops", "#qa", "#web", "#db"]
        await a.run([topic(room, f"topic of {room}") for room in rooms])
        assert sorted(await a.redis.hkeys(cl.TOPICS_KEY)) == ["#db", "#qa", "#web"]
        await a.run([topic("#qa", ""), topic("#ops", "again")])
        _, _, topics = await a.snapshot()
        assert [(n, t.room, t.topic) for n, t in topics] == [
            (5, "#db", "topic of #db"),
            (6, "#qa", ""),
            (7, "#ops", "again"),
        ]
        assert await a.redis.hlen(cl.TOPICS_KEY) == await a.redis.zcard(cl.TOPICS_ORDER_KEY) == 3
        assert await a.redis.xlen(cl.LOG_KEY) == 7  # every one of them is in the log

    run(redis, test)


def test_a_stream_full_of_ids_not_ours_ends_a_catch_up_instead_of_looping(
    redis: RedisServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(bus_module, "CLUSTER_READ_COUNT", 2)

    async def test(node: Callable[..., Awaitable[Bus]]) -> None:
        a = await node("a")
        for _ in range(3):  # written by something that is not a node, with ids of its own
            await a.redis.xadd(a.inbox, {codec.FIELD: '["gone","x",1.0]'})
        assert await a.read() == [] and a.drained

    run(redis, test)


def test_a_node_resumes_after_its_last_entry_without_doubles(redis: RedisServer) -> None:
    async def test(node: Callable[..., Awaitable[Bus]]) -> None:
        a, b = await node("a"), await node("b")
        first = await a.publish(said("a", "before"))
        assert [i for _, i, _ in await b.read()] == [first]
        await b.close()  # the link drops; the position stays
        await b.redis.aclose()
        b.redis = await reach(redis.url, 0)
        b.__init__(b.redis, "b")  # a new client for the same node: scripts registered again
        b.log_position.last = first
        second = await a.publish(said("a", "during"))
        third = await a.publish(said("a", "after"))
        assert [i for _, i, _ in await b.read()] == [second, third]
        b.log_position.last = first  # the same entries read again are not applied twice ...
        assert [i for _, i, _ in await b.read()] == [second, third]
        assert await b.read() == []  # ... and once read, never again
        await b.close()
        await b.redis.aclose()

    run(redis, test)


def test_a_node_whose_lease_lapsed_is_reaped_once_and_its_names_freed(
    redis: RedisServer,
) -> None:
    async def test(node: Callable[..., Awaitable[Bus]]) -> None:
        dying = await node("dying", lease=Lease(0.3, 0.1))
        b, c = await node("b"), await node("c")
        assert await dying.claim("alice") is None
        assert await b.claim("alice") == "alice"
        await lapsed(b.redis, cl.lease_key("dying"))
        assert await b.reap(time.time()) == [("dying", [])]
        assert await c.reap(time.time()) == []  # announced once only
        assert await b.claim("alice") is None
        gone = [e for _, _, e in await c.read() if isinstance(e, cl.Gone)]
        assert [e.node for e in gone] == ["dying"]
        assert not await dying.renew()  # it must join again
        with pytest.raises(LookupError):
            await dying.claim("carol")

    run(redis, test)


def test_a_node_that_fails_to_join_again_after_its_gone_is_reaped_with_nobody_staying(
    redis: RedisServer,
) -> None:
    """A node joining again writes its gone entry (saying alice stays), and by the same step is
    listed with alice in its members record (a snapshot before its claims shows her). Should it
    fail before its new lease is set (the link lost, a write refused), the others reap it as
    any node without a lease, and alice goes from their view too: never an unlisted node,
    reaped by nobody, whose users stay on the other nodes for good."""

    async def test(node: Callable[..., Awaitable[Bus]]) -> None:
        a, b = await node("a"), await node("b")
        await a.redis.srem(cl.NODES_KEY, "a")  # as after Redis lost its data
        await a.redis.delete(cl.lease_key("a"))  # Bus.register, joining again, up to its reap
        staying = codec.encode_staying({"alice": ["#lobby"]})
        assert await a._reap_one("a", time.time(), "", take=False, staying=staying) is not None
        assert "a" in await b.redis.smembers(cl.NODES_KEY)
        _, nodes, _ = await b.snapshot(topics=False)  # as its gone entry says, before its claims
        assert nodes["a"] == {"alice": ["#lobby"]}
        assert await b.reap(time.time()) == [("a", [])]
        _, nodes, _ = await b.snapshot(topics=False)
        assert "a" not in nodes
        gone = [e for _, _, e in await b.read() if isinstance(e, cl.Gone)]
        assert [(e.node, codec.staying(e.staying)) for e in gone] == [
            ("a", {"alice": ["#lobby"]}),
            ("a", {}),
        ]

    run(redis, test)


def test_a_node_joining_a_redis_just_started_takes_nobody_for_gone_for_a_while(
    redis: RedisServer,
) -> None:
    """Redis restarted with its data (AOF) let the leases of live nodes run out while it was
    down; a node that was waiting for Redis and joins the moment it is up must leave them time
    to be back, as a node back from a lost link does (found under systemd: every user saw the
    other nodes' users leave, then come back). This Redis has just started."""

    async def test(node: Callable[..., Awaitable[Bus]]) -> None:
        away = await node("away", lease=Lease(0.3, 0.1))
        assert await away.claim("alice") is None
        client = await reach(redis.url, 0)
        early, fresh = Bus(client, "early"), Bus(client, "fresh")
        try:
            await early.register(0, time.time())
            assert early.stalls.calm(lease_clock())  # every node listed renews: no one to wait for
            await lapsed(away.redis, cl.lease_key("away"))
            await fresh.register(0, time.time())
            assert not fresh.stalls.calm(lease_clock())
            assert await fresh.reap(time.time()) == []
            assert "away" in await client.smembers(cl.NODES_KEY)
            assert await fresh.claim("alice") == "alice"  # still its user's
        finally:
            await early.close()
            await fresh.close()
            await client.aclose()

    run(redis, test)


def test_a_dead_nodes_inbox_goes_after_a_while_unless_it_comes_back_and_at_once_on_leaving(
    redis: RedisServer,
) -> None:
    """A node's inbox holds up to CLUSTER_INBOX_ENTRIES private messages: node names seen once
    must not keep that in Redis for ever. Reaped, the inbox expires (``CLUSTER_GONE_INBOX_S``)
    in case the node only stalled; coming back keeps it; a clean stop deletes it. What it had
    not read when reaped went to the reaper (to answer "not delivered"), and is not read again
    by the node when it comes back; what it had not read when it left is handed to it, to
    answer under its lease before it lets that go."""

    async def test(node: Callable[..., Awaitable[Bus]]) -> None:
        stalled, b = await node("stalled", lease=Lease(0.3, 0.1)), await node("b")
        assert await stalled.claim("kim") is None
        assert await b.whisper("stalled", cl.Whispered("b", 1, "bob", "kim", "psst", 1.0)) > 0
        inbox = cl.inbox_key("stalled")
        assert await b.redis.pttl(inbox) == -1  # no expiry while its node lives
        await lapsed(b.redis, cl.lease_key("stalled"))
        [(reaped, unread)] = await b.reap(time.time())
        assert reaped == "stalled"
        assert [e.text for _, e in unread if isinstance(e, cl.Whispered)] == ["psst"]
        ttl = await b.redis.pttl(inbox)
        assert 0 < ttl <= CLUSTER_GONE_INBOX_S * 1000
        assert 0 < await b.redis.pttl(cl.read_key("stalled")) <= ttl
        assert await stalled.register(0, time.time()) == []  # the reaper answers for "psst"
        assert await b.redis.pttl(inbox) == -1  # it only stalled: its inbox is its own again
        assert 0 < await b.redis.pttl(cl.read_key("stalled")) <= CLUSTER_MARK_S * 1000  # renewed
        assert await b.whisper("stalled", cl.Whispered("b", 1, "bob", "kim", "again", 2.0)) == 0
        await stalled.claim("kim")
        assert await b.whisper("stalled", cl.Whispered("b", 1, "bob", "kim", "again", 2.0)) > 0
        assert [e.text for _, _, e in await stalled.read() if isinstance(e, cl.Whispered)] == [
            "again"
        ]
        assert await b.whisper("stalled", cl.Whispered("b", 1, "bob", "kim", "late", 3.0)) > 0
        unread = await stalled.leave(time.time(), "")  # "late" came after its reader stopped
        assert [e.text for _, e in unread or [] if isinstance(e, cl.Whispered)] == ["late"]
        assert not await b.redis.exists(inbox)
        assert not await b.redis.exists(cl.read_key("stalled"))
        assert await b.whisper("stalled", cl.Whispered("b", 1, "bob", "kim", "after", 4.0)) == 0
        # Its lease is kept while it answers "late" (BOUNCE is fenced by it), then let go.
        assert await b.redis.get(cl.lease_key("stalled")) == stalled.boot
        await stalled.let_go()
        assert not await b.redis.exists(cl.lease_key("stalled"))

    run(redis, test)


def test_what_a_node_never_handled_is_taken_by_its_reap_once_and_only_after_its_mark(
    redis: RedisServer,
) -> None:
    """A node notes how far it handled its inbox (``Bus.run`` notes it first in a pipeline):
    its reap takes only what came after, once. A node of an older version notes nothing: its
    reap takes nothing (what it handled is not known), and its next run starts its mark at the
    inbox's end rather than answer messages read long ago."""

    async def test(node: Callable[..., Awaitable[Bus]]) -> None:
        a, b = await node("a", lease=Lease(0.3, 0.1)), await node("b")
        assert await a.claim("kim") is None

        async def psst(text: str) -> None:
            assert await b.whisper("a", cl.Whispered("b", 1, "bob", "kim", text, 1.0)) > 0

        await psst("read")
        assert [e.text for _, _, e in await a.read() if isinstance(e, cl.Whispered)] == ["read"]
        assert a.mark_due
        assert await a.run([]) == []  # the mark alone
        assert not a.mark_due
        assert await b.redis.get(cl.read_key("a")) == str(a.inbox_position.last)
        await psst("unread")
        await lapsed(b.redis, cl.lease_key("a"))
        [(_, unread)] = await b.reap(time.time())
        assert [e.text for _, e in unread if isinstance(e, cl.Whispered)] == ["unread"]
        assert await a.register(0, time.time()) == []  # taken once: by b
        # An older node: no mark. Neither its reaper nor its next run takes anything.
        assert await a.claim("kim") is None
        await psst("old")
        await b.redis.delete(cl.read_key("a"))
        await lapsed(b.redis, cl.lease_key("a"))
        assert await b.reap(time.time()) == [("a", [])]
        assert not await b.redis.exists(cl.read_key("a"))
        newer = Bus(a.redis, "a")
        assert await newer.register(0, time.time()) == []
        [(last, _)] = await b.redis.xrevrange(cl.inbox_key("a"), count=1)
        assert await b.redis.get(cl.read_key("a")) == str(cl.id_of(last))

    run(redis, test)


def test_the_next_run_of_a_node_takes_what_the_killed_run_never_handled(
    redis: RedisServer,
) -> None:
    """A run of node a is killed with a private message unread; the next run (a new process:
    ``register`` with ``take``) reaps it before anybody else and is handed that message; the
    same run joining again (``take=False``) takes nothing, its reader going on."""

    async def test(node: Callable[..., Awaitable[Bus]]) -> None:
        a, b = await node("a", lease=Lease(0.3, 0.1)), await node("b")
        assert await a.claim("kim") is None
        assert await b.whisper("a", cl.Whispered("b", 1, "bob", "kim", "unread", 1.0)) > 0
        await lapsed(b.redis, cl.lease_key("a"))  # killed: its lease lapses
        newer = Bus(a.redis, "a", Lease(0.3, 0.1))
        taken = await newer.register(0, time.time())
        assert [e.text for _, e in taken if isinstance(e, cl.Whispered)] == ["unread"]
        assert await newer.claim("kim") is None
        assert await b.whisper("a", cl.Whispered("b", 1, "bob", "kim", "later", 1.0)) > 0
        assert await newer.register(0, time.time(), take=False) == []
        assert [e.text for _, _, e in await newer.read() if isinstance(e, cl.Whispered)] == [
            "later"
        ]

    run(redis, test)


def test_a_reap_reads_before_it_writes_and_a_bad_mark_takes_nothing(redis: RedisServer) -> None:
    """A script that fails half way keeps what it wrote: were REAP to fail after freeing the
    lease and the listing, the node would be half reaped, its names held by nobody's lease and
    reaped by nobody. A mark that is not a number is no mark: nothing is taken, and the node is
    reaped as any other (its names freed, its users announced gone)."""

    async def test(node: Callable[..., Awaitable[Bus]]) -> None:
        a, b = await node("a", lease=Lease(0.3, 0.1)), await node("b")
        assert await a.claim("kim") is None
        assert await b.whisper("a", cl.Whispered("b", 1, "bob", "kim", "psst", 1.0)) > 0
        await b.redis.set(cl.read_key("a"), "1 2")
        await lapsed(b.redis, cl.lease_key("a"))
        assert await b.reap(time.time()) == [("a", [])]
        assert await b.holder("kim") is None
        assert [type(e).__name__ for _, _, e in await b.read()][-1] == "Gone"

    run(redis, test)


def test_the_mark_is_noted_again_when_redis_knows_every_script_but_mark(
    redis: RedisServer,
) -> None:
    """After a Redis restart an older node may load the scripts it knows, all but MARK: the rest
    of a pipeline runs and MARK alone is refused (NOSCRIPT). It is loaded and noted at once,
    not left behind (the reaper would answer a message the node read "Not delivered")."""

    async def test(node: Callable[..., Awaitable[Bus]]) -> None:
        a, b = await node("a", lease=Lease(0.3, 0.1)), await node("b")
        assert await a.claim("kim") is None
        assert await b.whisper("a", cl.Whispered("b", 1, "bob", "kim", "read", 1.0)) > 0
        assert [e.text for _, _, e in await a.read() if isinstance(e, cl.Whispered)] == ["read"]
        await b.redis.script_flush()
        for source in (scripts.WHISPER, scripts.BOUNCE):
            await b.redis.script_load(source)
        bounce = Whisper("b", cl.Bounced("a", 1, "bob", "x", 5, "quit", 1.0), None)
        [answer] = await a.run([bounce])  # MARK first, refused; then the bounce, taken
        assert int(answer) > 0
        assert not a.mark_due
        assert await b.redis.get(cl.read_key("a")) == str(a.inbox_position.last)
        await lapsed(b.redis, cl.lease_key("a"))
        assert await b.reap(time.time()) == [("a", [])]

    run(redis, test)


def test_a_mark_that_lapsed_is_noted_again_even_before_any_private_message(
    redis: RedisServer,
) -> None:
    """Every node cut off for over a minute: node a's mark lapsed and nobody reaped a. Renewing
    after that, a notes its mark again (at 0: it never read a private message), so that when it
    dies before reading one, its reaper answers it rather than find no mark and take nothing."""

    async def test(node: Callable[..., Awaitable[Bus]]) -> None:
        a, b = await node("a", lease=Lease(0.3, 0.1)), await node("b")
        assert a.inbox_position.last == 0 and not a.mark_due
        assert await a.claim("kim") is None
        await a.redis.delete(cl.read_key("a"))  # lapsed
        a.lease.confirmed = lease_clock() - 1.0  # and so did the lease, by a's clock
        assert await a.renew()
        assert a.mark_due
        assert await a.run([]) == []
        assert await b.redis.get(cl.read_key("a")) == "0"
        assert await b.whisper("a", cl.Whispered("b", 1, "bob", "kim", "psst", 1.0)) > 0
        await lapsed(b.redis, cl.lease_key("a"))
        [(_, unread)] = await b.reap(time.time())
        assert [e.text for _, e in unread if isinstance(e, cl.Whispered)] == ["psst"]

    run(redis, test)


def test_the_mark_lapses_unless_renewed(redis: RedisServer) -> None:
    """A run of an older version neither notes nor renews the mark a newer run of its node left:
    the mark has a TTL (``CLUSTER_MARK_S``) that only renewals and notes keep, so that it lapses
    rather than have the older run's reaper answer what that run read "Not delivered"."""

    async def test(node: Callable[..., Awaitable[Bus]]) -> None:
        a = await node("a")
        key = cl.read_key("a")
        assert 0 < await a.redis.pttl(key) <= CLUSTER_MARK_S * 1000
        await a.redis.pexpire(key, 1000)
        assert await a.renew()
        assert 1000 < await a.redis.pttl(key) <= CLUSTER_MARK_S * 1000

    run(redis, test)


def test_a_node_reaped_while_it_stalled_writes_nothing_under_names_no_longer_its_own(
    redis: RedisServer,
) -> None:
    """A node that stalled past its lease was reaped: its names are free and may be someone
    else's already. Whatever it still sends (a room message, a private one, a topic, a user's
    arrival, a release) is refused with LEASE_LOST and writes nothing; joining afresh announces
    its earlier users gone, and it writes again."""

    async def test(node: Callable[..., Awaitable[Bus]]) -> None:
        stalled, b = await node("stalled", lease=Lease(0.3, 0.1)), await node("b")
        assert await stalled.claim("kim") is None
        await lapsed(b.redis, cl.lease_key("stalled"))
        assert await b.reap(time.time()) == [("stalled", [])]
        assert await b.claim("kim") is None  # someone else's now
        await b.read()
        late = [
            Publish(cl.Arrived("stalled", "lee", "#lobby", "#lobby", 2.0), (("lee", ("#lobby",)),)),
            Publish(said("stalled", "I am kim")),
            Publish(cl.TopicSet("stalled", "kim", "#lobby", "#lobby", "forged", 2.0)),
            Whisper("b", cl.Whispered("stalled", 1, "kim", "bob", "psst", 2.0), None),
            Release("kim"),
        ]
        assert await stalled.run(late) == [LEASE_LOST] * len(late)
        assert await b.read() == []
        assert await b.redis.hgetall(cl.members_key("stalled")) == {}
        assert await b.redis.get(cl.claim_keys("kim")[0]) == cl.holder_value("b", "kim")
        assert await b.redis.hgetall(cl.TOPICS_KEY) == {}
        with pytest.raises(LookupError):
            await stalled.publish(said("stalled", "again"))
        await stalled.register(0, time.time())
        assert [type(e).__name__ for _, _, e in await b.read()] == ["Gone"]
        await stalled.run([Publish(said("stalled", "back"))])
        assert [e.text for _, _, e in await b.read() if isinstance(e, cl.Said)] == ["back"]
        assert await b.reap(time.time()) == []  # listed again, with a lease: alive

    run(redis, test)


def test_a_redis_pause_delays_publishing_and_loses_nothing(redis: RedisServer) -> None:
    async def test(node: Callable[..., Awaitable[Bus]]) -> None:
        a, b = await node("a"), await node("b")
        assert command(redis.port, "CLIENT PAUSE 500 WRITE") == "+OK"
        started = time.monotonic()
        # One after the other, as the bus's single writer sends them (a pool of connections
        # would not keep their order: the bus must not use one for publishing).
        ids = [await a.publish(said("a", str(n))) for n in range(50)]
        assert time.monotonic() - started >= 0.3  # the writes waited for the pause
        assert sorted(ids) == ids
        texts = [e.text for _, _, e in await b.read() if isinstance(e, cl.Said)]
        assert texts == [str(n) for n in range(50)]

    run(redis, test)


async def flushed(transport: asyncio.WriteTransport) -> None:
    """Return once ``transport`` has handed everything written to it to the kernel (looked at
    once a turn of the event loop, which is what moves it); fail after WAIT seconds."""
    loop = asyncio.get_running_loop()
    done: asyncio.Future[None] = loop.create_future()

    def look() -> None:
        if transport.get_write_buffer_size() == 0:
            done.set_result(None)
        else:
            loop.call_soon(look)

    loop.call_soon(look)
    await asyncio.wait_for(done, WAIT)


def test_no_other_connections_command_runs_in_the_middle_of_a_writers_pipeline(
    redis: RedisServer,
) -> None:
    """Redis stands still (SIGSTOP: a frozen host, a VM paused) while the writer's pipeline of
    2,000 commands (about 150 KB) and another connection's command wait in its sockets.
    Running on, Redis reads 16 KB of a connection at a time and serves the others in between:
    the other command (a renewal of this node's lease, in the case that matters) would land in
    the middle of the pipeline. The writer's pipelines are transactions (``Wire.pipeline``):
    it runs before all of them or after."""
    key = "count-" + "x" * 40

    async def test(node: Callable[..., Awaitable[Bus]]) -> None:
        a = await node("a")
        wire = a._writes
        await wire.call("SET", key, 0)  # connected
        assert redis.proc is not None
        with socket.create_connection(("127.0.0.1", redis.port), WAIT) as other:
            redis.proc.send_signal(signal.SIGSTOP)
            try:
                writing = asyncio.ensure_future(wire.pipeline([("INCR", key)] * 2000))
                await flushed(wire._conn._writer.transport)  # the kernel holds it all
                other.sendall(b"SET %s 1000000\r\n" % key.encode())
            finally:
                redis.proc.send_signal(signal.SIGCONT)
            counts = await writing
            assert other.recv(16) == b"+OK\r\n"
        assert counts == list(range(counts[0], counts[0] + 2000)), "interleaved"

    run(redis, test)


def test_a_redis_user_without_multi_gets_the_pipelines_answers_as_they_ran(
    redis: RedisServer, caplog: pytest.LogCaptureFixture
) -> None:
    """An ACL user without MULTI: Redis refuses it and runs the commands one by one, then
    refuses EXEC. Their answers are the ones they got (not EXEC's refusal: a message Redis
    appended would be told "Not sent"), and the log says so once."""
    grant = "ACL SETUSER plain on >pw ~tcpchat:* &tcpchat:* +@all -@dangerous -multi"
    assert command(redis.port, grant) == "+OK"

    async def main() -> None:
        client = await reach(f"redis://plain:pw@127.0.0.1:{redis.port}/0", 0)
        wire = Wire(client)
        try:
            with caplog.at_level(logging.WARNING):
                for start in (1, 3):
                    answers = await wire.pipeline([("INCR", "tcpchat:n")] * 2)
                    assert answers == [start, start + 1]
        finally:
            await wire.close()
            await client.aclose()
        told = [r.message for r in caplog.records if "refused MULTI" in r.message]
        assert len(told) == 1 and told[0].endswith(": allow MULTI and EXEC"), told

    Wire.told_no_multi = False
    asyncio.run(asyncio.wait_for(main(), WAIT))


def test_a_node_reads_its_own_entries_back_as_sent_and_skips_those_that_never_arrived(
    redis: RedisServer,
) -> None:
    async def test(node: Callable[..., Awaitable[Bus]]) -> None:
        a, b = await node("a"), await node("b")
        first = [Publish(said("a", f"one {i}")) for i in range(3)]
        await a.run(first)
        lost = said("a", "never sent")  # as if its pipeline had gone down with the link
        a._mine.append((codec.encode(lost)[codec.FIELD], lost))
        later = [Publish(said("a", "two")), Publish(said("b", "from b"))]
        await a.run(later[:1])
        await b.run(later[1:])
        mine = [entry for _, _, entry in await a.read()]
        theirs = [entry for _, _, entry in await b.read()]
        wanted = [p.entry for p in first + later]
        assert mine == theirs == wanted
        assert all(x is p.entry for x, p in zip(mine, first))  # not parsed again
        assert not a._mine

    run(redis, test)


def test_scripts_lost_by_redis_are_loaded_again_and_nothing_runs_twice(
    redis: RedisServer,
) -> None:
    async def test(node: Callable[..., Awaitable[Bus]]) -> None:
        a = await node("a")
        await a.calls.load(a.redis)
        assert command(redis.port, "SCRIPT FLUSH") == "+OK"  # as after a restart
        await a.run([Publish(said("a", "after the flush"))])
        texts = [entry.text for _, _, entry in await a.read() if isinstance(entry, cl.Said)]
        assert texts == ["after the flush"]

    run(redis, test)


def texts(read: list[tuple[str, int, cl.Entry]]) -> list[tuple[int, str]]:
    return [(i, e.text) for _, i, e in read if isinstance(e, (cl.Said, cl.Whispered))]


def test_entries_are_pushed_as_appended_and_taken_once_after_catching_up(
    redis: RedisServer,
) -> None:
    async def test(node: Callable[..., Awaitable[Bus]]) -> None:
        a, b = await node("a"), await node("b")
        one = await a.publish(said("a", "one"))  # before b listens: read from the stream
        await b.listen()
        two = await a.publish(said("a", "two"))  # pushed, and in the stream too
        assert texts(await b.read()) == [(one, "one"), (two, "two")]
        assert await b.pushed() == []  # "two" pushed: taken already
        three = await a.publish(said("a", "three"))
        assert texts(await b.pushed()) == [(three, "three")]
        assert await b.claim("bob") is None
        sent = await a.whisper("b", cl.Whispered("a", 1, "alice", "bob", "psst", 1.0))
        assert texts(await b.pushed()) == [(sent, "psst")]  # its inbox is pushed too
        assert texts(await b.read()) == []  # all of it taken already
        burst = [Publish(said("a", f"burst {i}")) for i in range(3)]
        await a.run(burst)  # appended by one script call: pushed as one message
        assert [t for _, t in texts(await b.pushed())] == ["burst 0", "burst 1", "burst 2"]

    run(redis, test)


def test_a_push_that_is_not_ours_is_skipped_and_listening_goes_on(redis: RedisServer) -> None:
    async def test(node: Callable[..., Awaitable[Bus]]) -> None:
        a, b = await node("a"), await node("b")
        await b.listen()
        # The last: a kind this version does not know, with an id past every real one.
        junk_pushes = ("junk", "0-x [1]", "0-999 not json", '0-999 ["said"]')
        for junk in (*junk_pushes, '0-99999999 ["future-kind",1]'):
            await a.redis.publish(cl.LOG_KEY, junk)
            assert await b.pushed() == []
        assert b.listening
        assert b.log_position.last == 0  # nothing it could not read moved its position
        later = await a.publish(said("a", "later"))
        assert texts(await b.pushed()) == [(later, "later")]

    run(redis, test)


def test_listening_ends_with_its_connection_and_starts_again(redis: RedisServer) -> None:
    async def test(node: Callable[..., Awaitable[Bus]]) -> None:
        a, b = await node("a"), await node("b")
        await b.listen()
        await b.close()  # as the link does when Redis is lost
        assert not b.listening
        with pytest.raises(ConnectionError):
            await b.pushed()
        missed = await a.publish(said("a", "while away"))
        await b.listen()
        assert texts(await b.read()) == [(missed, "while away")]
        after = await a.publish(said("a", "after"))
        assert texts(await b.pushed()) == [(after, "after")]

    run(redis, test)


def test_a_burst_gets_ids_in_a_row_and_trims_the_log_once_to_its_size(
    redis: RedisServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(calls_module, "CLUSTER_LOG_ENTRIES", 50)

    async def test(node: Callable[..., Awaitable[Bus]]) -> None:
        a, b = await node("a"), await node("b")
        await a.redis.config_set("stream-node-max-entries", 10)  # approximate trims: whole nodes
        await b.listen()
        first = await a.publish(said("a", "before"))
        assert texts(await b.pushed()) == [(first, "before")]
        await a.run([Publish(said("a", f"burst {i}")) for i in range(300)])
        pushed = texts(await b.pushed())  # the burst: one message, ids one after another
        assert pushed == [(first + 1 + i, f"burst {i}") for i in range(300)]
        assert 50 <= await a.redis.xlen(cl.LOG_KEY) < 50 + 10  # trimmed to about the size
        last = await a.redis.xrevrange(cl.LOG_KEY, count=1)
        assert cl.id_of(last[0][0]) == first + 300

    run(redis, test)


def test_commands_are_packed_as_redis_py_packs_them() -> None:
    from redis.asyncio.connection import Connection

    from tcpchat.server.cluster.wire import pack

    commands = [
        ("EVALSHA", "f" * 40, 2, "k1", "k2", 500, "Анна: привет", b"\x00raw\r\n"),
        ("PING",),
    ]
    expected = b"".join(b"".join(Connection().pack_command(*c)) for c in commands)
    assert pack(commands) == expected
    for wrong in (1.5, True, None):
        with pytest.raises(TypeError):
            pack([("SET", "k", wrong)])  # type: ignore[list-item]


def test_a_stale_run_of_a_node_leaving_leaves_the_run_that_took_its_place_alone(
    redis: RedisServer,
) -> None:
    """A run of node "a" stalls past its lease and another process takes the name "a"; when the
    stale one then stops cleanly, the names, users, lease and inbox are the new run's: its leave
    must touch none of them and announce nobody gone."""

    async def test(node: Callable[..., Awaitable[Bus]]) -> None:
        stale, b = await node("a", lease=Lease(0.3, 0.1)), await node("b")
        await lapsed(b.redis, cl.lease_key("a"))
        fresh = await node("a")
        await fresh.register(0, time.time())
        assert await fresh.claim("kim") is None
        await fresh.run(
            [Publish(cl.Arrived("a", "kim", "#lobby", "#lobby", 2.0), (("kim", ("#lobby",)),))]
        )
        assert await b.whisper("a", cl.Whispered("b", 1, "bob", "kim", "psst", 1.0)) > 0
        await b.read()
        await stale.leave(time.time(), "")
        assert await b.redis.get(cl.lease_key("a")) == fresh.boot
        assert await b.redis.sismember(cl.NODES_KEY, "a")
        assert await b.claim("kim") == "kim"
        assert await b.redis.hgetall(cl.members_key("a")) == {"kim": '["#lobby"]'}
        assert [e for _, _, e in await b.read() if isinstance(e, cl.Gone)] == []
        assert [e.text for _, _, e in await fresh.read() if isinstance(e, cl.Whispered)] == ["psst"]
        assert await fresh.renew()

    run(redis, test)


def test_a_node_back_from_a_lost_link_takes_a_new_boot_id_and_what_the_old_one_sent_is_refused(
    redis: RedisServer,
) -> None:
    """A pipeline stuck in a dead connection may reach Redis after the node gave up on it and
    got back in touch through another: its writes carry the old boot id and are refused."""

    async def test(node: Callable[..., Awaitable[Bus]]) -> None:
        a, b = await node("a"), await node("b")
        old = a.boot
        assert await a.renew(fresh=True)
        assert a.boot != old and await b.redis.get(cl.lease_key("a")) == a.boot
        keys = [cl.lease_key("a"), cl.SEQ_KEY, cl.LOG_KEY]
        stale = [old, 100, *flat_fields(codec.encode(said("a", "late")))]
        assert await a.redis.eval(APPEND, len(keys), *keys, *stale) == LEASE_LOST
        assert await b.read() == []
        assert await a.publish(said("a", "now")) > 0
        assert await a.renew()
        assert [e.text for _, _, e in await b.read() if isinstance(e, cl.Said)] == ["now"]

    run(redis, test)


def test_a_new_boot_id_whose_answer_was_lost_is_taken_by_the_next_try(redis: RedisServer) -> None:
    """Redis ran the renewal that set the new boot id, but its answer never came (the link broke
    again): the next try sends the same new id, which the lease holds already, and the node goes
    on under it instead of finding its own lease taken and joining the cluster again."""

    async def test(node: Callable[..., Awaitable[Bus]]) -> None:
        a = await node("a")
        old, script = a.boot, a.calls.renew

        async def answer_lost(**kwargs: Any) -> Any:
            await script(**kwargs)
            raise ConnectionError("the answer was lost")

        a.calls.renew = answer_lost
        with pytest.raises(ConnectionError):
            await a.renew(fresh=True)
        a.calls.renew = script
        taken = await a.redis.get(cl.lease_key("a"))
        assert taken != old and a.boot == old
        assert await a.renew(fresh=True)
        assert a.boot == taken and await a.renew()
        assert await a.publish(said("a", "still here")) > 0

    run(redis, test)


def test_a_plain_renewal_answered_after_a_new_boot_id_does_not_bring_the_old_one_back(
    redis: RedisServer,
) -> None:
    async def test(node: Callable[..., Awaitable[Bus]]) -> None:
        a = await node("a")
        script, plain_ran, fresh_done = a.calls.renew, asyncio.Event(), asyncio.Event()

        async def plain_answered_late(**kwargs: Any) -> Any:
            answer = await script(**kwargs)
            if kwargs["args"][1] == kwargs["args"][3]:  # the plain one: run, answered later
                plain_ran.set()
                await fresh_done.wait()
            return answer

        a.calls.renew = plain_answered_late
        plain = asyncio.ensure_future(a.renew())
        await plain_ran.wait()
        assert await a.renew(fresh=True)
        fresh_done.set()
        assert await plain
        assert a.boot == await a.redis.get(cl.lease_key("a"))
        assert await a.publish(said("a", "under the new id")) > 0

    run(redis, test)
