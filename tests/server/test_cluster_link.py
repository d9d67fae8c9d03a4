"""The cluster link's queue while it is cut off (server/cluster/link.py), without Redis: the link
is made but never started, so it is down, as after a loss, and nothing is sent anywhere."""

from __future__ import annotations

import asyncio
from collections import deque

import pytest

from tcpchat.core import cluster as cl
from tcpchat.core.hub import Hub
from tcpchat.core.limits import CLUSTER_MAX_PENDING, HubLimits
from tcpchat.core.output import Claim, Instruction, Out, Publish, Release, Whisper
from tcpchat.core.session import Session, State

from ..core.test_hub_rooms import ListArchive

redis_asyncio = pytest.importorskip("redis.asyncio", reason="the extra tcp-chat[cluster]")

from tcpchat.server.cluster.link import ClusterLink  # noqa: E402
from tcpchat.server.cluster.queue import WRITE_BATCH, take_batch  # noqa: E402
from tcpchat.server.cluster.scripts import LEASE_LOST  # noqa: E402


def down_link() -> tuple[ClusterLink, list[Instruction]]:
    routed: list[Instruction] = []

    def route(out: Out) -> None:
        routed.extend(out)

    client = redis_asyncio.Redis(host="127.0.0.1", port=1)  # never connected
    link = ClusterLink(client, "a", Hub(HubLimits(), ListArchive(), node="a"), route)
    assert not link.up.is_set()
    return link, routed


def answered(
    link: ClusterLink, batch: list[Instruction], answers: list[object], retry: bool = False
) -> bool:
    """Redis's ``answers`` to ``batch``, as sent on the current link under the current boot id
    (``retry``: the writer may send a fenced end again, as it does once a renewal's span)."""
    return link._answered(batch, answers, link._link, link.bus.boot, retry)


def test_names_and_presence_cut_off_long_are_left_to_joining_again_not_queued() -> None:
    """A client that registers and quits in a loop while the link is down queues a late claim,
    a departure and a release each time: past the cap the link plans to join again, drops what
    joining again does itself, and queues no more of it; a claim a session waits for stays."""

    async def main() -> None:
        link, _ = down_link()
        waiting = Claim(Session(1, "x", 0.0, 0.0), "zoe")
        link.send(waiting)
        for n in range(3 * CLUSTER_MAX_PENDING):
            session = Session(n + 2, "x", 0.0, 0.0)
            link.send(Claim(session, f"u{n}", late=True))
            link.send(
                Publish(cl.Departed("a", f"u{n}", cl.EVERYWHERE, "quit", 0.0), ((f"u{n}", None),))
            )
            link.send(Release(f"u{n}"))
            assert len(link._queue) <= CLUSTER_MAX_PENDING
        assert list(link._queue) == [waiting]

    asyncio.run(main())


def test_a_release_or_a_change_of_who_is_where_redis_refuses_makes_the_node_join_again() -> None:
    """What only joining the cluster again puts right (it frees all names, then claims those in
    use and says where everyone is); a message refused is told to its sender instead."""

    async def main() -> None:
        arrived = cl.Arrived("a", "kim", "#lobby", "#lobby", 0.0)
        for refused in (Release("kim"), Publish(arrived, (("kim", ("#lobby",)),))):
            link, routed = down_link()
            answered(link, [refused], [RuntimeError("OOM command not allowed")])
            assert link._rejoin_wanted and routed == []

    asyncio.run(main())


def test_a_late_claim_redis_refuses_for_now_makes_the_node_join_again_not_its_user_leave() -> None:
    """Out of memory (or read-only, busy) passes: joining again claims the name again. A key of
    the wrong type would fail the same way every time: that one user is told and disconnected."""

    async def main() -> None:
        passing = RuntimeError("OOM command not allowed when used memory > 'maxmemory'")
        lasting = RuntimeError("WRONGTYPE Operation against a key holding the wrong kind")
        denied = RuntimeError("NOPERM this user has no permissions to run the 'evalsha' command")
        for error, rejoins in ((passing, True), (lasting, False), (denied, False)):
            link, _ = down_link()
            kim = Session(1, "x", 0.0, 0.0)
            answered(link, [Claim(kim, "kim", late=True)], [error])
            assert link._rejoin_wanted is rejoins

    asyncio.run(main())


def test_a_burst_read_is_routed_in_order_past_an_entry_that_fails(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """What the hub answers a burst is routed at once, in order; an entry the hub fails on is
    logged and skipped, and the rest still come."""

    async def main() -> list[list[Instruction]]:
        link, _ = down_link()
        calls: list[list[Instruction]] = []
        link.route = lambda out: calls.append(list(out))

        def heard(message_id: int, entry: cl.Entry, now: float) -> Out:
            if message_id == 2:
                raise RuntimeError("a bug")
            return [] if message_id == 4 else [Release(f"m{message_id}")]

        link.hub.heard = heard  # type: ignore[method-assign]
        gone = cl.Gone("b", 0.0)
        link._apply([(cl.LOG_KEY, n, gone) for n in (1, 2, 3, 4, 5)])
        return calls

    with caplog.at_level("ERROR"):
        calls = asyncio.run(main())
    assert calls == [[Release("m1"), Release("m3"), Release("m5")]]
    assert "applying entry 2 failed" in caplog.text


def active(session_id: int, name: str) -> Session:
    session = Session(session_id, "x", 0.0, 0.0)
    session.name, session.state = name, State.ACTIVE
    return session


def said_by(session: Session, text: str) -> Publish:
    return Publish(
        cl.Said("a", session.id, session.name, "#lobby", "", text, False, 0.0), (), session
    )


def test_messages_after_a_name_claimed_late_wait_for_the_answer_in_the_next_pipeline() -> None:
    kim, ann = active(1, "kim"), active(2, "ann")
    arrived = Publish(cl.Arrived("a", "kim", "#lobby", "#lobby", 0.0), (("kim", ("#lobby",)),))
    late = Claim(kim, "kim", late=True)
    queue: deque[Instruction] = deque([late, arrived, said_by(kim, "hi"), said_by(ann, "yo")])
    assert take_batch(queue) == [late, arrived]
    assert take_batch(queue) == [said_by(kim, "hi"), said_by(ann, "yo")]
    plain: deque[Instruction] = deque([said_by(ann, f"m{n}") for n in range(WRITE_BATCH + 1)])
    assert len(take_batch(plain)) == WRITE_BATCH and len(plain) == 1


def test_the_messages_of_a_user_whose_late_claim_is_refused_never_go_out_under_that_name() -> None:
    """kim was given her name while node a was cut off, and another node gave it to someone
    else meanwhile: a refused late claim closes her session, and her messages still queued are
    dropped (they would be shown everywhere under the other user's name); ann's stay. A late
    claim granted drops nothing."""

    async def main() -> None:
        link, _ = down_link()
        kim, ann = active(1, "kim"), active(2, "ann")
        kim.whispering = 1
        whisper = Whisper("b", cl.Whispered("a", 1, "kim", "bob", "psst", 0.0), kim)
        link._queue.extend([said_by(kim, "I am kim"), whisper, said_by(ann, "hello")])
        answered(link, [Claim(kim, "kim", late=True)], ["b\tkim"])
        assert list(link._queue) == [said_by(ann, "hello")]
        assert kim.state is State.CLOSED and kim.whispering == 0
        answered(link, [Claim(ann, "ann", late=True)], [""])
        assert list(link._queue) == [said_by(ann, "hello")] and ann.state is State.ACTIVE

    asyncio.run(main())


def test_a_bounce_refused_by_the_fence_waits_for_the_rejoin_a_stale_refusal_rejoins_nothing() -> (
    None
):
    """A bounce (the word that a private message reached nobody) has no sender to tell: refused
    with LEASE_LOST it stays queued for after the rejoin, which a message does not. The same
    refusal of a batch sent on an earlier link, or under an earlier boot id, is expected (the
    fence is doing its work) and no reason to join the cluster again."""

    async def main() -> None:
        kim = active(1, "kim")
        kim.whispering = 1
        bounce = Whisper("b", cl.Bounced("b", 1, "kim", "bob", 7, "quit", 0.0), None)
        whisper = Whisper("b", cl.Whispered("a", 1, "kim", "bob", "psst", 0.0), kim)
        link, _ = down_link()
        answered(link, [bounce, whisper], [LEASE_LOST, LEASE_LOST])
        assert link._rejoin_wanted and kim.whispering == 0
        link._drop_for_rejoin()
        assert list(link._queue) == [bounce]
        for stale in ((link._link - 1, link.bus.boot), (link._link, "an earlier boot")):
            link, _ = down_link()
            assert not link._answered([said_by(kim, "hi")], [LEASE_LOST], *stale, True)
            assert not link._rejoin_wanted

    asyncio.run(main())


def test_a_fenced_end_of_a_batch_is_queued_again_in_order_for_the_writer_to_renew_first() -> None:
    """Redis refused the end of a batch for want of this node's lease (it ran out in Redis while
    Redis stalled, the renewal held up with the writes): nothing of it was written, so it goes
    again, in order and before what was queued since, once the writer renewed the lease; no
    sender is told anything and the node does not join again. Not when something after the
    first refusal was written (sent again, the refused would come after it), nor when the
    writer may not retry (fenced again within a renewal's span): then as before."""

    async def main() -> None:
        kim, zoe = active(1, "kim"), active(2, "zoe")
        said = [said_by(kim, "one"), said_by(zoe, "two"), said_by(kim, "three")]
        arrived = Publish(cl.Arrived("a", "ann", "#lobby", "#lobby", 0.0), (("ann", None),))
        batch: list[Instruction] = [said[0], arrived, said[1], Release("old"), said[2]]
        link, routed = down_link()
        link._queue.append(said_by(kim, "queued since"))
        refused: list[object] = [LEASE_LOST] * len(batch)
        assert answered(link, batch, [1, 7, *refused[2:]], retry=True)
        assert list(link._queue)[:3] == batch[2:] and len(link._queue) == 4
        assert routed == [] and not link._rejoin_wanted
        for answers in ([LEASE_LOST, LEASE_LOST, 3, 4, LEASE_LOST], refused):
            link, routed = down_link()
            assert not answered(link, batch, answers, retry=answers is not refused)
            unsent = [a for item, a in zip(batch, answers) if item in said and a == LEASE_LOST]
            assert link._rejoin_wanted and len(routed) == len(unsent)  # each told "not sent"
            assert not any(isinstance(item, Publish) and item.sender for item in link._queue)

    asyncio.run(main())


def test_the_messages_of_a_user_whose_late_claim_redis_cannot_record_are_dropped() -> None:
    async def main() -> None:
        link, _ = down_link()
        kim = active(1, "kim")
        link._queue.append(said_by(kim, "hi"))
        lasting = RuntimeError("WRONGTYPE Operation against a key holding the wrong kind")
        answered(link, [Claim(kim, "kim", late=True)], [lasting])
        assert kim.state is State.CLOSED and list(link._queue) == []

    asyncio.run(main())
