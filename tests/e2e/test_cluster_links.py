"""Cluster links (server/cluster/link.py) of two hubs in this process, against a real
redis-server: what the links do across a loss and a rejoin, where the server processes of
test_cluster.py could not be made to fail at the right moment."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tcpchat.core import cluster as cl
from tcpchat.core import cluster_codec as codec
from tcpchat.core import codes
from tcpchat.core import commands as cmd
from tcpchat.core import events as ev
from tcpchat.core.archive import Archive, KeptTopic
from tcpchat.core.cluster import LINK_BACK
from tcpchat.core.hub import Hub
from tcpchat.core.lease import Lease
from tcpchat.core.limits import CLUSTER_LEASE_S, CLUSTER_READ_COUNT, HubLimits
from tcpchat.core.output import Claim, Out, Publish, Refresh, Release, Whisper
from tcpchat.core.rooms import LOBBY_KEY
from tcpchat.core.session import Session, State
from tcpchat.server.store import SqliteArchive
from tcpchat.server.store_db import DB_FILE

from ..conftest import POLL_S, WAIT, need_tool
from ..core.test_hub_rooms import ListArchive
from .redis_server import RedisServer

pytest.importorskip("redis.asyncio", reason="the extra tcp-chat[cluster]")

from tcpchat.server.cluster import lease_clock, reach  # noqa: E402
from tcpchat.server.cluster.link import ClusterLink  # noqa: E402


@pytest.fixture
def redis(tmp_path: Path) -> Iterator[RedisServer]:
    need_tool("redis-server")
    server = RedisServer(tmp_path / "redis")
    yield server
    server.stop()


class Node:
    """A hub and its cluster link; what the hub tells users is kept, not sent."""

    def __init__(self, name: str, archive: Archive | None = None) -> None:
        self.hub = Hub(HubLimits(), archive or ListArchive(), node=name)
        self.told: list[Any] = []
        self.link: ClusterLink | None = None

    def route(self, out: Out) -> None:
        for item in out:
            if isinstance(item, (Publish, Whisper, Claim, Release, Refresh)):
                assert self.link is not None
                self.link.send(item)
            else:
                self.told.append(item)

    async def start(self, url: str, name: str) -> ClusterLink:
        self.link = ClusterLink(await reach(url, 0), name, self.hub, self.route)
        await self.link.start()
        return self.link

    def do(self, session: Session, command: object) -> None:
        self.route(self.hub.handle(session, command, time.time()))  # type: ignore[arg-type]

    def user(self, name: str) -> Session:
        session, out = self.hub.connect("127.0.0.1", time.time())
        self.route(out)
        self.route(self.hub.handle(session, cmd.Say(name), time.time()))
        return session


async def stopped(*links: ClusterLink | None) -> None:
    """Stop each link that was made, and close its client."""
    for link in links:
        if link is not None:
            await link.stop()
            await link.redis.aclose()


async def until(condition: Callable[[], Awaitable[bool]], what: str) -> None:
    """Look at ``condition`` every POLL_S until it holds; fail after WAIT seconds."""
    deadline = time.monotonic() + WAIT
    while not await condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"{what}: not within {WAIT} s")
        await asyncio.sleep(POLL_S)


def run(redis: RedisServer, test: Callable[[Node, Node], Awaitable[None]]) -> None:
    async def main() -> None:
        a, b = Node("a"), Node("b")
        links = [await a.start(redis.url, "a"), await b.start(redis.url, "b")]
        try:
            await asyncio.wait_for(test(a, b), 3 * WAIT)
        finally:
            for link in links:
                await link.stop()
                await link.redis.aclose()

    asyncio.run(main())


def test_a_rejoin_cut_short_by_another_loss_is_done_again(redis: RedisServer) -> None:
    """Node a, dropped by the others while cut off, joins again; the link fails again right
    after a is listed again. The next try must still join again (and say who is on a), not
    take a for a node that never left: else a's users are missing on b for good and their
    names are free for anyone there."""

    async def test(a: Node, b: Node) -> None:
        assert a.link is not None and b.link is not None
        alice = a.user("alice")

        async def b_knows_alice() -> bool:
            return b.hub.roster.find("alice") is not None

        await until(b_knows_alice, "b knows alice")
        # The link fails once right after a is listed again (a flap, a timeout).
        real_edges = a.link.bus.edges
        failures = [ConnectionError("test: the link failed again")]

        async def edges(key: str) -> tuple[int, int]:
            if failures:
                raise failures.pop()
            return await real_edges(key)

        a.link.bus.edges = edges  # type: ignore[method-assign]
        # a is dropped by the others (its lease gone) and loses its link.
        await b.link.redis.delete(cl.lease_key("a"))
        assert await b.link.bus.reap(time.time()) == [("a", [])]
        a.link._lost(ConnectionError("test: cut off"), a.link._link)

        async def b_lost_alice() -> bool:
            return b.hub.roster.find("alice") is None

        await until(b_lost_alice, "b dropped a's users")

        async def a_rejoined() -> bool:
            assert a.link is not None
            return a.link.up.is_set() and not failures

        await until(a_rejoined, "a back after the second failure")
        await until(b_knows_alice, "b knows alice again")
        holder = await b.link.redis.get(cl.claim_keys("alice")[0])
        assert holder == cl.holder_value("a", "alice")
        twin = b.user("alice")

        async def twin_answered() -> bool:
            return twin.state is not State.ACTIVE and any(
                getattr(item, "to", None) == (twin,) for item in b.told
            )

        await until(twin_answered, "b answered a second alice")
        assert alice.state is State.ACTIVE

    run(redis, test)


def test_commands_through_the_client_time_out_whatever_redis_py_defaults_to(
    redis: RedisServer,
) -> None:
    """A silent Redis is found by the lease's renewal timing out: redis-py before 8 would wait
    for ever unless told; a socket_timeout in the URL still wins."""

    async def main() -> None:
        client = await reach(redis.url, 0)
        chosen = await reach(redis.url + "?socket_timeout=2.5", 0)
        try:
            assert client.connection_pool.connection_kwargs["socket_timeout"] == CLUSTER_LEASE_S
            assert chosen.connection_pool.connection_kwargs["socket_timeout"] == 2.5
        finally:
            await client.aclose()
            await chosen.aclose()

    asyncio.run(main())


def test_a_node_back_after_a_while_takes_the_topics_set_meanwhile_cleared_ones_too(
    redis: RedisServer,
) -> None:
    """Node c kept #ops's topic "X" in its store before it stopped; meanwhile the topic was
    changed, then cleared, and #dev was given one. c starts again: it takes them from the log
    and from Redis's record of each room's last topic, so it shows what the others show."""

    async def test(a: Node, b: Node) -> None:
        assert a.link is not None
        alice = a.user("alice")

        async def topic_is(node: Node, room: str, topic: str) -> bool:
            return getattr(node.hub.rooms.find(room), "topic", None) == topic

        async def registered() -> bool:
            return alice.state is State.ACTIVE

        await until(registered, "alice's name granted")
        a.do(alice, cmd.Join("#ops"))
        a.do(alice, cmd.SetTopic("X"))
        await until(lambda: topic_is(a, "#ops", "X"), "#ops has X")
        seen = int(await a.link.redis.get(cl.SEQ_KEY))  # where c's store stopped
        for topic in ("Y", ""):
            a.do(alice, cmd.SetTopic(topic))
            await until(lambda t=topic: topic_is(a, "#ops", t), f"#ops has {topic!r}")
        a.do(alice, cmd.Join("#dev"))
        a.do(alice, cmd.SetTopic("builds"))
        await until(lambda: topic_is(a, "#dev", "builds"), "#dev has its topic")
        a.do(alice, cmd.Part("#dev"))
        stored = ListArchive(last=seen)
        stored.keep_topic("#ops", KeptTopic("#ops", "X", "alice", 1.0))
        c = Node("c", stored)
        link = await c.start(redis.url, "c")
        try:
            assert await topic_is(c, "#ops", "")  # alice's room, made when c joined
            ops, dev = stored.topic("#ops"), stored.topic("#dev")
            assert ops is not None and (ops.name, ops.topic, ops.by) == ("#ops", "", "alice")
            assert dev is not None and (dev.name, dev.topic, dev.by) == ("#dev", "builds", "alice")
        finally:
            await link.stop()
            await link.redis.aclose()

    run(redis, test)


def said_on(node: Node, kind: type, text: str) -> Any:
    """The last event of type ``kind`` with ``text`` that ``node`` told its users, or None."""
    found = [
        item.event
        for item in node.told
        if isinstance(getattr(item, "event", None), kind) and item.event.text == text
    ]
    return found[-1] if found else None


async def registered(*sessions: Session) -> None:
    async def done() -> bool:
        return all(session.state is State.ACTIVE for session in sessions)

    await until(done, "names granted")


def test_a_message_said_while_cut_off_is_numbered_after_what_was_read_before(
    redis: RedisServer,
) -> None:
    """A node cut off numbers its users' messages from a block of ids it reserved. The block is
    reserved again once newer entries were read, so such a message sorts after what the node's
    users saw before the loss (in /history, the replay), not among the node's first messages."""

    async def test(a: Node, b: Node) -> None:
        assert a.link is not None
        a.link.bus.outage.every = 0.0  # at each tick of the link, not every 5 s
        alice, bob = a.user("alice"), b.user("bob")
        await registered(alice, bob)
        for n in range(3):
            b.do(bob, cmd.Say(f"before {n}"))

        async def a_read_them() -> bool:
            return said_on(a, ev.Message, "before 2") is not None

        await until(a_read_them, "a read bob's messages")
        read = a.link.bus.log_position.last

        async def reserved_after() -> bool:
            assert a.link is not None
            return a.link.bus.outage.last - a.link.bus.outage.size >= read

        await until(reserved_after, "a's block reserved again, after what it read")
        a.link._lost(ConnectionError("test: cut off"), a.link._link)
        a.do(alice, cmd.Say("said while cut off"))
        assert said_on(a, ev.Delivered, "said while cut off").id > read

    run(redis, test)


def test_ids_go_on_above_what_a_node_read_when_redis_comes_back_from_an_older_state(
    redis: RedisServer,
) -> None:
    """Redis back from an older state (an AOF's lost second, a replica behind) with the leases
    still held: the nodes go on, and no id is given again that a node read before (it would
    skip the new entry as met, and its outage block would meet ids it stored)."""

    async def test(a: Node, b: Node) -> None:
        assert a.link is not None
        bob = b.user("bob")
        await registered(bob)
        b.do(bob, cmd.Say("before"))

        async def a_read_it() -> bool:
            return said_on(a, ev.Message, "before") is not None

        await until(a_read_it, "a read bob's message")
        read = a.link.bus.log_position.last
        await a.link.redis.set(cl.SEQ_KEY, 1)  # as if the last writes were lost
        a.link._lost(ConnectionError("test: Redis restarted"), a.link._link)

        async def a_back() -> bool:
            assert a.link is not None
            return a.link.up.is_set()

        await until(a_back, "a's link back")
        assert a.link.bus.outage.last - a.link.bus.outage.size >= read
        b.do(bob, cmd.Say("after"))

        async def a_read_after() -> bool:
            return said_on(a, ev.Message, "after") is not None

        await until(a_read_after, "a read bob's next message")
        assert said_on(a, ev.Message, "after").id > read

    run(redis, test)


def test_a_node_that_crashed_while_cut_off_backfills_what_it_had_not_read(
    redis: RedisServer, tmp_path: Path
) -> None:
    """A node cut off stores its users' messages under ids it reserved, above log entries it had
    not read yet. Started again after a crash, still without them, it backfills from how far its
    store has the log (the store's log mark), not from its highest id: else those entries were
    missing from its /history and /search for good, while every other node has them."""

    async def main() -> None:
        a = Node("a")
        await a.start(redis.url, "a")
        archive = SqliteArchive(str(tmp_path / DB_FILE))
        b = Node("b", archive)
        b_link = await b.start(redis.url, "b")
        alice, bob = a.user("alice"), b.user("bob")
        await registered(alice, bob)
        a.do(alice, cmd.Say("read by b"))
        await until(lambda: said(b, "read by b"), "b read alice's message")
        # b's reader stops taking pushes (its next call never returns): b is slow, not gone.
        never = asyncio.Event()

        async def held() -> Any:
            await never.wait()

        b_link.bus.pushed = held  # type: ignore[method-assign]
        a.do(alice, cmd.Say("the last one b reads"))  # taken by the call already waiting
        await until(lambda: said(b, "the last one b reads"), "b read it")
        for n in range(2):
            a.do(alice, cmd.Say(f"not read by b {n}"))
        await until(lambda: said(a, "not read by b 1", ev.Delivered), "in the log")
        # b's ticker reserves ids for a loss, above everything appended so far; then b is cut
        # off for good, and bob talks.
        b.hub.reserve(await b_link.bus.reserve(archive.last_id(), time.time()))

        async def unreachable() -> None:
            raise ConnectionError("test: Redis is out of reach")

        b_link._resume = unreachable  # type: ignore[method-assign]
        b_link._lost(ConnectionError("test: cut off"), b_link._link)
        b.do(bob, cmd.Say("said on b while cut off"))
        # b crashes: no goodbye; what its store had written stays. Its lease lapses.
        b_link._stopping = True
        for task in [*b_link._tasks, b_link._reconnecting]:
            if task is not None:
                task.cancel()
        await b_link.bus.close()
        await b_link.redis.aclose()
        archive.close()
        await a.link.redis.delete(cl.lease_key("b"))  # type: ignore[union-attr]
        again = SqliteArchive(str(tmp_path / DB_FILE))
        b2 = Node("b", again)
        link = await b2.start(redis.url, "b")
        try:
            texts = [m.text for m in again.recent(LOBBY_KEY, 20)]
            assert texts == [
                "read by b",
                "the last one b reads",
                "not read by b 0",
                "not read by b 1",
                "said on b while cut off",
            ]
        finally:
            await stopped(link, a.link)
            again.close()

    asyncio.run(asyncio.wait_for(main(), 3 * WAIT))


def test_a_joining_node_backfills_a_long_log_at_the_stores_pace_renewing_its_lease(
    redis: RedisServer, tmp_path: Path
) -> None:
    """A joining node read the whole log into one list and kept it all at once: with a log of
    long messages it took 15 s and 0.5 GB, its lease lapsed in the join (the ticker does not run
    yet) and its store, past what it holds waiting for the disk, dropped most of them. It reads
    the log in slices now, lets the store write between them and renews its lease when due."""
    count, most = 6 * CLUSTER_READ_COUNT, int(2.5 * CLUSTER_READ_COUNT)

    async def main() -> None:
        a = Node("a")
        a_link = await a.start(redis.url, "a")
        entries = [
            cl.Said("a", 1, "alice", LOBBY_KEY, "", f"long ago {n}", False, 1.0)
            for n in range(count)
        ]
        await a_link.bus.run([Publish(entry) for entry in entries])
        archive = SqliteArchive(str(tmp_path / DB_FILE), max_pending=most)
        c = Node("c", archive)
        link = ClusterLink(await reach(redis.url, 0), "c", c.hub, c.route)
        c.link = link
        link.bus.lease = Lease(CLUSTER_LEASE_S, 0.001)  # due again at every slice
        renewals: list[bool] = []
        renew = link.bus.renew

        async def counted(fresh: bool = False) -> bool:
            renewals.append(await renew(fresh))
            return renewals[-1]

        link.bus.renew = counted  # type: ignore[method-assign]
        try:
            await link.start()
            assert archive.flush(WAIT)
            texts = [m.text for m in archive.recent(LOBBY_KEY, count + 1)]
            assert texts == [entry.text for entry in entries]  # none dropped
            assert len(renewals) >= count // CLUSTER_READ_COUNT and all(renewals)
        finally:
            await stopped(link, a_link)
            archive.close()

    asyncio.run(asyncio.wait_for(main(), 3 * WAIT))


def test_a_backfill_waits_once_for_a_store_that_makes_no_headway_then_no_more(
    redis: RedisServer, tmp_path: Path
) -> None:
    """A disk that hangs (no error, no headway): the backfill waited for it at every slice, 1.7
    s each, 167 s for a full log, for nothing, since the store drops what it cannot hold (a
    review found it). It waits once, and the rest of the read goes on without waiting."""

    async def main() -> None:
        a = Node("a")
        a_link = await a.start(redis.url, "a")
        texts = [f"m{n}" for n in range(8 * CLUSTER_READ_COUNT)]
        await a_link.bus.run(
            [Publish(cl.Said("a", 1, "al", LOBBY_KEY, "", t, False, 1.0)) for t in texts]
        )
        archive = SqliteArchive(str(tmp_path / DB_FILE))
        hung, commit = threading.Event(), archive._writer._commit

        def stuck(*args: Any, **kwargs: Any) -> Any:
            hung.wait(WAIT)  # until the test ends
            return commit(*args, **kwargs)

        archive._writer._commit = stuck  # type: ignore[method-assign]
        waits: list[bool] = []
        flush = archive.flush

        def counted(timeout: float, index: bool = False) -> bool:
            waits.append(flush(timeout, index))
            return waits[-1]

        archive.flush = counted  # type: ignore[method-assign]
        c = Node("c", archive)
        try:
            await c.start(redis.url, "c")
            assert waits == [False]  # one wait, which found the store stuck
        finally:
            hung.set()
            await stopped(c.link, a_link)
            archive.close()

    asyncio.run(asyncio.wait_for(main(), 3 * WAIT))


def test_nodes_back_on_a_redis_that_lost_its_data_backfill_what_was_said_meanwhile(
    redis: RedisServer, tmp_path: Path
) -> None:
    """Redis restarted without persistence (or a new one): a node's mark may be above the ids
    given from then on (presence entries and reservations move it, not its stored messages).
    The first node back numbers on above what it had read; a node that comes back after its
    users talked must still store what they said."""

    async def main() -> None:
        stores = [SqliteArchive(str(tmp_path / f"{name}.sqlite3")) for name in "ab"]
        a, b = Node("a", stores[0]), Node("b", stores[1])
        links = [await a.start(redis.url, "a"), await b.start(redis.url, "b")]
        alice = a.user("alice")
        await registered(alice)
        a.do(alice, cmd.Say("before"))
        await until(lambda: said(b, "before"), "b read alice's message")

        async def another_node(name: str, user: str) -> Node:
            """A node joins (it reserves a block of ids: the log moves on by a block)."""
            node = Node(name)
            links.append(await node.start(redis.url, name))
            await registered(node.user(user))
            return node

        await another_node("c", "carol")
        await another_node("d", "dave")

        async def a_knows_dave() -> bool:
            return a.hub.roster.find("dave") is not None

        await until(a_knows_dave, "a read past two blocks")
        await links[0].stop()  # a stops first; b reads on, past one more block
        e = await another_node("e", "erin")
        erin = e.hub.roster.find("erin")
        assert erin is not None
        for n in range(5):
            e.do(erin, cmd.Join(f"#r{n}"))  # presence: in the log, no message to store
        last = cl.id_of((await links[1].redis.xrevrange(cl.LOG_KEY, count=1))[0][0])

        async def b_read_all() -> bool:
            return links[1].bus.log_position.last >= last

        await until(b_read_all, "b read the log to its end")
        for link in links:
            await link.stop()
            await link.redis.aclose()
        for store in stores:
            store.close()
        read_by_a = stores[0].log_mark()
        assert stores[1].log_mark() > max(read_by_a, stores[1].last_id())
        redis.stop()
        redis.start()  # empty
        again = [SqliteArchive(str(tmp_path / f"{name}.sqlite3")) for name in "ab"]
        a2, b2 = Node("a", again[0]), Node("b", again[1])
        links = [await a2.start(redis.url, "a")]
        try:
            alice = a2.user("alice")
            await registered(alice)
            for n in range(3):
                a2.do(alice, cmd.Say(f"after {n}"))
            await until(lambda: said(a2, "after 2", ev.Delivered), "a read its own")
            assert said_on(a2, ev.Delivered, "after 0").id > read_by_a  # ids above what a read
            links.append(await b2.start(redis.url, "b"))
            texts = [m.text for m in again[1].recent(LOBBY_KEY, 20)]
            assert texts == ["before", "after 0", "after 1", "after 2"]
        finally:
            for link in links:
                await link.stop()
                await link.redis.aclose()
            for store in again:
                store.close()

    asyncio.run(asyncio.wait_for(main(), 3 * WAIT))


async def said(node: Node, text: str, kind: type = ev.Message) -> bool:
    return said_on(node, kind, text) is not None


async def alice_on_a_bob_on_b(a: Node, b: Node) -> tuple[Session, Session]:
    """alice joins node a, bob node b, and b knows alice."""
    alice, bob = a.user("alice"), b.user("bob")
    await registered(alice, bob)

    async def known() -> bool:
        return b.hub.roster.find("alice") is not None

    await until(known, "b knows alice")
    return alice, bob


def told(node: Node, session: Session, kind: type) -> list[Any]:
    """The events of type ``kind`` that ``node`` told ``session``."""
    return [
        item.event
        for item in node.told
        if getattr(item, "to", None) == (session,) and isinstance(item.event, kind)
    ]


def stalled(node: Node) -> None:
    """``node``'s clock says its lease may have lapsed (as after a stall), and its ticker does
    not renew it (``del node.link.bus.lease.due`` lets it again)."""
    assert node.link is not None
    node.link.bus.lease.due = lambda now: False  # type: ignore[method-assign]
    node.link.bus.lease.confirmed = lease_clock() - 2 * CLUSTER_LEASE_S


def test_a_node_that_joins_again_delivers_what_came_to_its_inbox_while_it_was_cut_off(
    redis: RedisServer,
) -> None:
    """Node a is cut off and must join again (too much piled up meanwhile), but nobody reaped
    it. bob, on b, writes to alice on a: "Delivered to alice" (a's inbox). Joining again, a
    reaps itself without taking its inbox back (``Bus.register``, ``take=False``): its reader
    goes on where it stopped, and alice gets the message; bob is told nothing more."""

    async def test(a: Node, b: Node) -> None:
        assert a.link is not None and b.link is not None
        alice, bob = await alice_on_a_bob_on_b(a, b)
        gate = asyncio.Event()
        real_resume = a.link._resume

        async def resume() -> None:
            await gate.wait()
            await real_resume()

        a.link._resume = resume  # type: ignore[method-assign]
        a.link._rejoin_wanted = True  # as when too much piled up while cut off
        a.link._lost(ConnectionError("test: cut off"), a.link._link)
        b.do(bob, cmd.Whisper("alice", "are you there?"))

        async def delivered() -> bool:
            return bool(told(b, bob, ev.Delivered))

        await until(delivered, "bob told Delivered")
        gate.set()

        async def alice_got_it() -> bool:
            return said_on(a, ev.Message, "are you there?") is not None

        await until(alice_got_it, "alice got bob's message")
        assert told(b, bob, ev.Undelivered) == []
        assert await a.link.redis.get(cl.read_key("a")) is not None

    run(redis, test)


def test_a_private_message_held_for_a_lease_check_that_fails_is_delivered_once_back(
    redis: RedisServer, caplog: pytest.LogCaptureFixture
) -> None:
    """Node a's clock says its lease may have lapsed (it stalled) when bob's message to alice
    comes, so a asks Redis first (``ClusterLink._deliver``); Redis cannot be asked just then.
    The message is neither dropped nor taken for a reap: once the link is back it is read
    again and delivered, and a, never reaped, does not join again (alice stays known on b)."""

    async def test(a: Node, b: Node) -> None:
        assert a.link is not None and b.link is not None
        alice, bob = await alice_on_a_bob_on_b(a, b)
        bus = a.link.bus
        real_renew = bus.renew
        failures = [ConnectionError("test: Redis cannot be asked")]

        async def renew(fresh: bool = False) -> bool:
            if failures and not fresh:
                raise failures.pop()
            return await real_renew(fresh)

        bus.renew = renew  # type: ignore[method-assign]
        stalled(a)
        b.do(bob, cmd.Whisper("alice", "still there?"))

        async def alice_got_it() -> bool:
            return said_on(a, ev.Message, "still there?") is not None

        await until(alice_got_it, "alice got bob's message")
        assert not failures  # the lease check was made, and failed
        events = [getattr(item, "event", None) for item in a.told + b.told]
        assert [e for e in events if isinstance(e, ev.Message) and e.text == "still there?"] == [
            said_on(a, ev.Message, "still there?")
        ]  # once
        assert not [e for e in events if isinstance(e, ev.Undelivered)]
        assert b.hub.roster.find("alice") is not None
        assert "joining again" not in caplog.text

    run(redis, test)


def test_a_private_message_waiting_for_the_lease_check_is_not_noted_as_handled(
    redis: RedisServer,
) -> None:
    """While node a asks Redis whether its lease holds (its own clock says it may have lapsed)
    before handing alice bob's message, a's writer goes on (alice says something): the read
    mark it notes must not cover that message. b then reaps a: the reap takes the message and
    bob is told "Not delivered", once; a, reaped, does not hand it to alice after all."""

    async def test(a: Node, b: Node) -> None:
        assert a.link is not None and b.link is not None
        alice, bob = await alice_on_a_bob_on_b(a, b)
        bus = a.link.bus
        real_renew = bus.renew
        gate, asking = asyncio.Event(), asyncio.Event()

        async def renew(fresh: bool = False) -> bool:
            if not fresh and not gate.is_set():
                asking.set()
                await gate.wait()
            return await real_renew(fresh)

        bus.renew = renew  # type: ignore[method-assign]
        stalled(a)
        b.do(bob, cmd.Whisper("alice", "are you there?"))
        await asyncio.wait_for(asking.wait(), WAIT)
        a.do(alice, cmd.Say("meanwhile"))  # a's writer runs, the read mark due or not

        async def b_heard() -> bool:
            return said_on(b, ev.Message, "meanwhile") is not None

        await until(b_heard, "a's writer ran")
        [(last, _)] = await b.link.redis.xrevrange(cl.inbox_key("a"), count=1)
        mark = await b.link.redis.get(cl.read_key("a"))
        assert mark is not None and int(mark) < cl.id_of(last)
        await b.link.redis.delete(cl.lease_key("a"))  # a's lease lapses in Redis too
        [(_, unread)] = await b.link.bus.reap(time.time())
        assert [e.text for _, e in unread if isinstance(e, cl.Whispered)] == ["are you there?"]
        b.link._undelivered("a", unread, time.time())  # what b's ticker does with a reap
        del bus.lease.due  # the ticker renews again
        gate.set()

        async def back() -> bool:
            assert a.link is not None
            return await said(a, LINK_BACK, ev.Notice) and b.hub.roster.find("alice") is not None

        await until(back, "a joined again")
        a.do(alice, cmd.Say("after"))
        await until(lambda: said(b, "after"), "a reads and writes again")
        assert said_on(a, ev.Message, "are you there?") is None
        assert [event.to for event in told(b, bob, ev.Undelivered)] == ["alice"]

    run(redis, test)


def test_a_private_message_that_reaches_a_stopping_node_after_its_reader_stopped_is_answered(
    redis: RedisServer,
) -> None:
    """Node a stops cleanly: its reader stops first, then what is queued goes out and a leaves.
    bob, on b, writes to alice in between: "Delivered to alice" (a's inbox), and nobody reads
    it there. Leaving, a takes what it never handled and answers it before it lets its lease
    go: bob is told "Not delivered" (server shutdown), once, and a's next run need not wait."""

    async def test(a: Node, b: Node) -> None:
        assert a.link is not None and b.link is not None
        alice, bob = await alice_on_a_bob_on_b(a, b)
        gate = asyncio.Event()
        real_drain = a.link._drain

        async def drain() -> None:
            await gate.wait()
            await real_drain()

        a.link._drain = drain  # type: ignore[method-assign]
        stopping = asyncio.ensure_future(a.link.stop())
        tasks = list(a.link._tasks)

        async def reader_stopped() -> bool:
            return all(task.done() for task in tasks)

        await until(reader_stopped, "a's tasks stopped")
        b.do(bob, cmd.Whisper("alice", "still there?"))

        async def delivered() -> bool:
            return bool(told(b, bob, ev.Delivered))

        await until(delivered, "bob told Delivered")
        gate.set()
        await asyncio.wait_for(stopping, WAIT)

        async def answered() -> bool:
            return bool(told(b, bob, ev.Undelivered))

        await until(answered, "bob told Not delivered")
        [undelivered] = told(b, bob, ev.Undelivered)
        assert (undelivered.to, undelivered.reason) == ("alice", codes.SERVER_SHUTDOWN)
        assert said_on(a, ev.Message, "still there?") is None
        assert not await b.link.redis.exists(cl.lease_key("a"))  # let go: no wait for a rerun
        assert not await b.link.redis.exists(cl.inbox_key("a"))

    run(redis, test)


@pytest.mark.parametrize("ran", [False, True], ids=["before-redis", "answer-lost"])
def test_a_bounce_whose_pipeline_failed_is_sent_again_and_told_once(
    redis: RedisServer, ran: bool
) -> None:
    """Node a writes the word that bob's message 4242 was not delivered (a ``Bounced`` to b)
    and the pipeline fails: before Redis ran it, or after (its answer lost). Either way a sends
    it again once the link is back, and bob is told "Not delivered" exactly once (BOUNCE writes
    one per message)."""

    async def test(a: Node, b: Node) -> None:
        assert a.link is not None and b.link is not None and b.hub.cluster is not None
        alice, bob = await alice_on_a_bob_on_b(a, b)
        bus = a.link.bus
        real_run = bus.run
        failures = [ConnectionError("test: the pipeline failed")]

        async def run_once_failing(batch: list[Any]) -> list[Any]:
            if failures and any(isinstance(item, Whisper) for item in batch):
                if ran:
                    await real_run(batch)
                raise failures.pop()
            return await real_run(batch)

        bus.run = run_once_failing  # type: ignore[method-assign]
        bounce = cl.Bounced(
            "a", bob.id, "bob", "alice", 4242, codes.QUIT, time.time(), b.hub.cluster.run
        )
        a.link.send(Whisper("b", bounce, None))

        async def answered() -> bool:
            return bool(told(b, bob, ev.Undelivered)) and a.link is not None and a.link.up.is_set()

        await until(answered, "bob told Not delivered, a's link back")
        assert not failures
        # alice's message goes after anything a sends again: once bob has it, b read past that.
        a.do(alice, cmd.Whisper("bob", "in order"))

        async def bob_got_it() -> bool:
            return said_on(b, ev.Message, "in order") is not None

        await until(bob_got_it, "bob got alice's message")
        [undelivered] = told(b, bob, ev.Undelivered)
        assert (undelivered.id, undelivered.to) == (4242, "alice")

    run(redis, test)


def test_what_a_stopping_node_could_not_send_before_it_left_is_not_sent_after(
    redis: RedisServer,
) -> None:
    """Node a stops while carol's name claim still waits in its queue (its first drain did not
    get to it: Redis slow, the stop's time up). Once a has left (its names freed, its users
    announced gone), only the answers to private messages may still go out under its lease:
    carol's claim and arrival would hold a name and show a user of a node nobody will reap."""

    async def test(a: Node, b: Node) -> None:
        assert a.link is not None and b.link is not None
        real_drain, drains = a.link._drain, []

        async def drain() -> None:
            drains.append(1)
            if len(drains) > 1:  # the first, before the leave, does not get to it
                await real_drain()

        a.link._drain = drain  # type: ignore[method-assign]
        a.link._stopping = True  # its writer stops; the rest of stop() comes below
        for task in a.link._tasks:
            task.cancel()
        await asyncio.wait(a.link._tasks, timeout=WAIT)
        a.user("carol")  # her claim waits in the queue
        await a.link.stop()
        redis_b = b.link.redis
        assert not await redis_b.sismember(cl.NODES_KEY, "a")
        assert not await redis_b.exists(cl.lease_key("a"))
        assert await redis_b.get(cl.claim_keys("carol")[0]) is None
        assert await redis_b.hgetall(cl.members_key("a")) == {}
        entries = [codec.decode(fields) for _, fields in await redis_b.xrange(cl.LOG_KEY)]
        assert isinstance(entries[-1], cl.Gone) and entries[-1].node == "a"

    run(redis, test)
