"""Unit tests of the hub in cluster mode (core/hub_cluster.py): two or three hubs, no sockets, no
Redis. ``Shared`` plays what Redis holds (claims, the log, the inboxes) by the rules of the
Lua scripts that ``tests/e2e/test_cluster_bus.py`` checks against a real redis-server; the
end-to-end tests (``tests/e2e/test_cluster.py``) run the real thing."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable

import pytest

from tcpchat.core import cluster as cl
from tcpchat.core import cluster_codec as codec
from tcpchat.core import codes
from tcpchat.core import events as ev
from tcpchat.core.hub import Hub
from tcpchat.core.limits import HubLimits
from tcpchat.core.names import name_key
from tcpchat.core.output import (
    Claim,
    Instruction,
    Publish,
    Refresh,
    Release,
    ToSessions,
    Whisper,
)
from tcpchat.core.parse import parse_line
from tcpchat.core.rooms import room_key
from tcpchat.core.session import Session, State
from tcpchat.core.wire import render

from .test_hub import only
from .test_hub_rooms import ListArchive, RoomChat, text


class Shared:
    """What the cluster's Redis holds: who holds each claim key, the log, each node's inbox."""

    def __init__(self) -> None:
        self.claims: dict[str, str] = {}  # claim key -> holder value (node TAB name)
        self.seq = 0
        self.log: list[tuple[int, cl.Entry]] = []
        self.inboxes: dict[str, list[tuple[int, cl.Entry]]] = {}
        self.nodes: set[str] = set()  # the nodes that joined and were not reaped

    def next_id(self) -> int:
        self.seq += 1
        return self.seq


class Node(RoomChat):
    """One server of the cluster: its hub, and a bus that carries out its cluster instructions
    on ``Shared`` when ``flush`` is called and feeds it the log when ``read`` is."""

    def __init__(self, shared: Shared, name: str) -> None:
        super().__init__()
        self.hub = Hub(HubLimits(flood_burst=1000.0), self.archive, node=name)
        self.name = name
        self.shared = shared
        self.pending: list[Instruction] = []
        self.position = 0
        self.inbox_position = 0
        self.refreshes = 0  # Refresh instructions the hub gave (the link's ticker reads again)
        shared.nodes.add(name)

    def route(self, out: Iterable[Instruction]) -> None:
        local = []
        for item in out:
            if isinstance(item, Refresh):
                self.refreshes += 1
            elif isinstance(item, (Publish, Whisper, Claim, Release)):
                self.pending.append(item)
            else:
                local.append(item)
        super().route(local)

    def flush(self) -> bool:
        shared, work = self.shared, self.pending
        self.pending = []
        for item in work:
            if isinstance(item, Claim):
                mine = cl.holder_value(self.name, item.name)
                held = [shared.claims[k] for k in cl.claim_keys(item.name) if k in shared.claims]
                taken = next((h for h in held if h != mine), None)
                if taken is None:
                    shared.claims.update(dict.fromkeys(cl.claim_keys(item.name), mine))
                holder = None if taken is None else cl.parse_holder(taken)[1]
                reserved = taken is not None and cl.is_reserved_value(taken)
                self.route(self.hub.claimed(item, holder, self.now, reserved))
            elif isinstance(item, Release):
                mine = cl.holder_value(self.name, item.name)
                for key in cl.claim_keys(item.name):
                    if shared.claims.get(key) == mine:
                        del shared.claims[key]
            elif isinstance(item, Publish):
                shared.log.append((shared.next_id(), item.entry))
            else:  # the WHISPER script, or BOUNCE: gated on the node, not the sender's name
                holder = shared.claims.get(cl.claim_keys(item.entry.to)[0], "")
                number = 0
                bounce = isinstance(item.entry, cl.Bounced)
                if item.node in shared.nodes if bounce else cl.parse_holder(holder)[0] == item.node:
                    number = shared.next_id()
                    shared.inboxes.setdefault(item.node, []).append((number, item.entry))
                self.route(self.hub.whispered(item, number, self.now))
        return bool(work)

    def read(self) -> bool:
        log = self.shared.log[self.position :]
        inbox = self.shared.inboxes.get(self.name, [])[self.inbox_position :]
        self.position += len(log)
        self.inbox_position += len(inbox)
        for number, entry in log + inbox:
            self.route(self.hub.heard(number, entry, self.now))
        return bool(log or inbox)


def snapshot(*nodes: Node) -> dict[str, dict[str, list[str]]]:
    """Who is where on ``nodes``, as Redis's members hashes hold it (``Bus.snapshot``)."""
    return {
        node.name: {
            s.name: [room.name for room in s.rooms]
            for s in node.hub.sessions.values()
            if s.state is State.ACTIVE
        }
        for node in nodes
    }


def settle(*nodes: Node) -> None:
    """Let every bus carry out and read everything, as the links would in a moment."""
    for _ in range(20):
        busy = [node.flush() for node in nodes] + [node.read() for node in nodes]
        if not any(busy):
            return
    raise AssertionError("the cluster did not settle")


def join(node: Node, name: str, *others: Node) -> Session:
    session = node.connect()
    node.line(session, name)
    settle(node, *others)
    assert session.state is State.ACTIVE, text(node.take(session))
    node.take(session)
    return session


def cluster(*names: str) -> tuple[Shared, list[Node]]:
    shared = Shared()
    return shared, [Node(shared, name) for name in names]


def test_a_name_is_claimed_before_registering_and_lines_meanwhile_are_told_to_wait() -> None:
    _, (a, b) = cluster("a", "b")
    alice = a.connect()
    a.take(alice)
    a.line(alice, "alice")
    assert alice.state is State.CLAIMING and a.take(alice) == []
    assert [type(i) for i in a.pending] == [Claim]
    a.line(alice, "hello")
    assert text(a.take(alice)) == ["!!! Wait: the other servers are checking your name."]
    settle(a, b)
    assert text(a.take(alice))[0] == "*** You are alice. 1 user online: alice."
    bob = join(b, "bob", a)
    b.line(bob, "/users")
    assert text(b.take(bob)) == ["*** 2 users online: alice, bob."]
    assert text(a.take(alice)) == ["*** bob joined. 2 users online."]


def test_a_name_held_elsewhere_or_a_look_alike_of_it_is_refused_and_asked_again() -> None:
    _, (a, b) = cluster("a", "b")
    join(a, "cope", b)
    late = b.connect()
    b.take(late)
    b.line(late, "Cope")
    settle(a, b)
    assert text(b.take(late)) == [
        '!!! The name "Cope" is taken. Choose another one.',
        "*** Enter your name:",
    ]
    assert late.state is State.NAME


def test_a_rename_refused_later_answers_the_line_that_asked_for_it() -> None:
    """The refusal comes after lines the user sent meanwhile: it names the /nick's line, which a
    program matches its answers by (PROTOCOL.md), not the last line sent."""
    _, (a, b) = cluster("a", "b")
    join(a, "cope", b)
    ivy = join(b, "ivy", a)
    b.drain()
    b.line(ivy, "/nick Cope")  # b knows cope, so the claim is refused at once: a look-alike
    (refused,) = b.take(ivy)
    assert isinstance(refused, ev.Error) and refused.line == ivy.lines
    kim = a.connect()
    a.line(kim, "kim")
    a.flush()  # Redis gave kim to a; b has not read it
    b.line(ivy, "/nick Kim")
    asked = ivy.lines
    b.line(ivy, "hello")
    b.line(ivy, "/users")
    b.drain()
    b.flush()
    (late,) = [e for e in b.take(ivy) if isinstance(e, ev.Error)]
    assert late.code == codes.NAME_TAKEN and late.line == asked < ivy.lines


def test_two_sessions_of_one_node_claiming_one_name_at_once_give_it_to_one() -> None:
    _, (a, b) = cluster("a", "b")
    first, second = a.connect(), a.connect()
    a.drain()
    a.line(first, "zoe")
    a.line(second, "Zoe")  # Redis could not tell these two apart: the node refuses at once
    assert text(a.take(second))[0] == '!!! The name "Zoe" is taken. Choose another one.'
    settle(a, b)
    assert (first.state, second.state) == (State.ACTIVE, State.NAME)
    assert a.hub.cluster is not None and not a.hub.cluster.claiming


def test_a_claim_redis_failed_to_run_asks_for_the_name_again_and_a_retry_can_get_it() -> None:
    _, (a, b) = cluster("a", "b")
    carol = a.connect()
    a.take(carol)
    a.line(carol, "carol")
    (claim,) = a.pending
    a.pending = []
    assert isinstance(claim, Claim)
    a.route(a.hub.claim_failed(claim, a.now))  # as the link does with Redis's error reply
    assert text(a.take(carol)) == [
        '!!! The name "carol" could not be checked with the other servers just now. Try again.',
        "*** Enter your name:",
    ]
    assert carol.state is State.NAME and carol.name_tries == 0
    assert a.hub.cluster is not None and not a.hub.cluster.claiming
    a.line(carol, "carol")
    settle(a, b)
    assert carol.state is State.ACTIVE


def test_two_nodes_claiming_one_name_at_once_give_it_to_one() -> None:
    _, (a, b) = cluster("a", "b")
    first, second = a.connect(), b.connect()
    a.line(first, "zoe")
    b.line(second, "zoe")
    settle(a, b)
    assert {first.state, second.state} == {State.ACTIVE, State.NAME}


def test_a_room_message_is_delivered_when_read_back_in_log_order_and_counted_cluster_wide() -> None:
    shared, (a, b) = cluster("a", "b")
    alice, bob = join(a, "alice", b), join(b, "bob", a)
    ann = join(a, "ann", b)
    for node in (a, b):
        node.drain()
    a.line(alice, "hi all")
    assert a.take(alice) == [] and a.take(ann) == []  # nothing before the log has it
    settle(a, b)
    assert text(b.take(bob)) == ["<alice> hi all"]
    assert text(a.take(ann)) == ["<alice> hi all"]
    assert text(a.take(alice)) == ["*** Delivered to ALL (2 users)."]
    number = shared.log[-1][0]
    assert [(k, m.id, m.text) for k, m in b.archive.kept] == [("#lobby", number, "hi all")]
    assert [m.id for _, m in a.archive.kept] == [number]  # every node mirrors the log


def test_a_message_is_confirmed_to_its_sender_who_renamed_or_left_its_room_since() -> None:
    """The sender is known by session, not by the name the entry gives: a rename answered before
    the message is read back leaves it confirmed (not echoed to its sender as someone else's
    line), and so does leaving the room, the last one in it, before it is read back."""
    _, (a, b) = cluster("a", "b")
    alice, bob = join(a, "alice", b), join(b, "bob", a)
    for node in (a, b):
        node.drain()
    a.line(alice, "hi all")
    a.line(alice, "/nick alicia")
    a.flush()  # the message is in the log; the rename is granted before it is read back
    assert alice.name == "alicia"
    settle(a, b)
    assert text(a.take(alice)) == [
        "*** You are now known as alicia.",
        "*** Delivered to ALL (1 user).",
    ]
    assert text(b.take(bob)) == ["<alice> hi all", "*** alice is now known as alicia."]
    a.line(alice, "/join #ops")
    settle(a, b)
    a.drain()
    a.line(alice, "anyone?")
    a.line(alice, "/part #ops")
    settle(a, b)
    shown = text(a.take(alice))
    assert shown == [
        "*** You left #ops. You are talking in #lobby.",
        "*** Nobody else is in #ops: your message reached no one.",
    ]


@pytest.mark.parametrize(("here", "there"), [("#Ian", "#lan"), ("#ops", "#орѕ")])
def test_look_alike_rooms_made_at_once_on_two_nodes_are_one_room_named_as_each_node_made_it(
    here: str, there: str
) -> None:
    """Room names are not claimed across the cluster: two nodes can make look-alike rooms (two
    keys, #Ian and #lan; or one key in two scripts) before either reads of the other's. Each
    node holds one room under its own spelling: messages, leaves and topics reach it."""
    _, (a, b) = cluster("a", "b")
    alice, bob = join(a, "alice", b), join(b, "bob", a)
    a.line(alice, f"/join {here}")
    b.line(bob, f"/join {there}")  # before either node read the other's join
    settle(a, b)
    a.drain()
    b.drain()
    a.line(alice, "hi")
    b.line(bob, "yo")
    settle(a, b)
    assert text(a.take(alice)) == [f"*** Delivered to {here} (1 user).", "<bob> yo"]
    assert text(b.take(bob)) == ["<alice> hi", f"*** Delivered to {there} (1 user)."]
    assert [m.room for _, m in a.archive.kept[-2:]] == [here, here]  # kept as a names it
    assert [m.room for _, m in b.archive.kept[-2:]] == [there, there]
    b.line(bob, "/topic deploys only")
    settle(a, b)
    assert getattr(a.hub.rooms.find(here), "topic", None) == "deploys only"
    b.line(bob, f"/part {there}")
    settle(a, b)
    room = a.hub.rooms.find(here)
    assert room is not None and room.names() == ("alice",)
    b.line(bob, f"/join {there}")
    settle(a, b)
    # A node from before departures named their room gives only the key: found all the same.
    older = cl.Departed("b", "bob", room_key(there), "part", b.now)
    a.route(a.hub.heard(10_000, older, a.now))
    room = a.hub.rooms.find(here)
    assert room is not None and room.names() == ("alice",)
    a.line(alice, f"/part {here}")  # told by its key and its name: b finds its own spelling
    settle(a, b)
    room = b.hub.rooms.find(there)
    assert room is not None and room.names() == ("bob",)


def test_topics_missed_are_taken_in_the_order_they_were_set_and_told_where_they_changed() -> None:
    """A node joining late (or after a gap) takes the topics it did not read as they were set
    (the log's it missed and the snapshot's, with their ids), in the order of their ids and by
    the room each is here, as read live: the last set wins, a cleared one too, whatever order
    they come in; a room made later has its topic; members are told only of a change."""
    _, (a,) = cluster("a")
    alice = join(a, "alice")
    a.line(alice, "/join #ops")
    a.line(alice, "/join #lan")
    a.drain()
    ops = cl.TopicSet("b", "bob", "#ops", "#Ops", "deploys only", 5.0)
    dev = cl.TopicSet("b", "bob", "#dev", "#dev", "builds", 6.0)
    dev_cleared = cl.TopicSet("b", "bob", "#dev", "#dev", "", 7.0)
    ian = cl.TopicSet("b", "bob", "#ian", "#Ian", "made at once elsewhere", 4.0)  # #lan here
    lan = cl.TopicSet("b", "bob", "#lan", "#lan", "later", 8.0)
    a.route(a.hub.learn_topics([(8, lan), (7, dev_cleared), (5, ops), (4, ian), (6, dev)], a.now))
    assert text(a.take(alice)) == [
        "*** bob set the topic of #lan: later",
        "*** bob set the topic of #ops: deploys only",
    ]
    a.route(a.hub.learn_topics([(5, ops), (8, lan)], a.now))  # the same again: nothing to tell
    assert a.take(alice) == []
    a.route(a.hub.learn_topics([(9, ian)], a.now))  # newer, in the room it is here
    assert text(a.take(alice)) == ["*** bob set the topic of #lan: made at once elsewhere"]
    a.line(alice, "/join #dev")
    assert "builds" not in "\n".join(text(a.take(alice)))


def test_a_private_message_goes_to_the_holders_node_and_is_confirmed_when_it_got_there() -> None:
    _, (a, b) = cluster("a", "b")
    alice, bob = join(a, "alice", b), join(b, "bob", a)
    a.drain()
    b.drain()
    a.line(alice, "/w bob секрет")
    whisper = a.pending[-1]
    assert isinstance(whisper, Whisper) and whisper.node == "b"
    settle(a, b)
    assert text(b.take(bob)) == ["[PM from alice] секрет"]
    assert text(a.take(alice)) == ["*** Delivered to bob."]
    # The recipient left before the message got there: the sender is told no such user.
    a.line(alice, "/w bob still there?")
    b.line(bob, "/quit")
    b.flush()
    settle(a, b)
    assert "!!! No such user: bob. Type /users to see who is online." in text(a.take(alice))


def test_a_late_refusal_of_a_message_names_the_line_of_that_message() -> None:
    """The refusals "No such user" (the recipient gone when the message reached Redis) and "Not
    sent" (the link could not take it) answer a message after its sender typed more lines: they
    name the message's line (PROTOCOL.md section 5), not the last one, so that a program, or an IRC
    client (core/irc_late.py), ties each to what it refused."""
    _, (a, b) = cluster("a", "b")
    alice, bob = join(a, "alice", b), join(b, "bob", a)
    a.drain()
    b.line(bob, "/quit")
    b.flush()  # bob's name is free in Redis; a has not read his leave
    a.line(alice, "/w bob still there?")
    whispered = alice.lines
    a.line(alice, "/rooms")
    a.flush()
    refused = only(a.take(alice), ev.Error)
    assert [(e.code, e.line) for e in refused] == [(codes.NO_SUCH_USER, whispered)]
    settle(a, b)
    carol = join(b, "carol", a)
    a.drain()
    a.line(alice, "/w carol one")
    a.line(alice, "hello all")
    a.line(alice, "/rooms")
    whisper, said = a.pending
    a.pending = []
    assert isinstance(whisper, Whisper) and isinstance(said, Publish)
    a.route(a.hub.unsent(said, a.now) + a.hub.unsent(whisper, a.now))
    refused = only(a.take(alice), ev.Error)
    assert [(e.code, e.line) for e in refused] == [
        (codes.RATE_LIMITED, alice.lines - 1),
        (codes.RATE_LIMITED, alice.lines - 2),
    ]
    assert carol.state is State.ACTIVE


def dropped(node: Node, reason: str) -> None:
    """``node`` reads its inbox's next private message, and its transport drops it unsent with
    its recipient's connection (``reason``): the hub hears it back (``Hub.undelivered``)."""
    number, entry = node.shared.inboxes[node.name][node.inbox_position]
    node.inbox_position += 1
    for item in node.hub.heard(number, entry, node.now):
        if isinstance(item, ToSessions) and isinstance(item.event, ev.Message):
            node.route(node.hub.undelivered(item, reason, node.now))
        else:
            node.route([item])


def test_a_private_message_its_recipient_never_got_is_reported_to_its_sender_anywhere() -> None:
    """The sender was told "Delivered" when the message reached the recipient's node; if that
    node then drops it with the recipient's connection, or finds the recipient gone, the sender
    is told it was not delivered, on its own node (through its inbox) as on one server."""
    _, (a, b) = cluster("a", "b")
    alice, carol = join(a, "alice", b), join(a, "carol", b)
    bob = join(b, "bob", a)
    for node in (a, b):
        node.drain()
    a.line(alice, "/w bob are you reading?")
    a.flush()
    assert text(a.take(alice)) == ["*** Delivered to bob."]
    dropped(b, codes.SEND_QUEUE_EXCEEDED)
    b.flush()  # the bounce, into a's inbox
    settle(a, b)
    assert text(a.take(alice)) == [
        "!!! Not delivered to bob: bob was disconnected (send queue exceeded) before your "
        "message could be sent."
    ]
    assert text(b.take(bob)) == []
    # On the same node, the message goes through that node's own inbox: told at once.
    a.line(alice, "/w carol and you?")
    a.flush()
    a.take(alice)
    dropped(a, codes.SEND_QUEUE_EXCEEDED)
    assert a.pending == [] and a.take(carol) == []  # nothing for Redis: carol is on a too
    assert text(a.take(alice))[0].startswith("!!! Not delivered to carol: carol was disconnected")
    # The recipient left after Redis let the message into its node's inbox.
    a.line(alice, "/w bob still there?")
    a.flush()  # b still holds the name
    b.line(bob, "/quit")
    settle(a, b)
    told = text(a.take(alice))
    assert told[0] == "*** Delivered to bob."
    assert "!!! Not delivered to bob: bob was disconnected (connection closed)" in told[-1]


def test_what_a_dead_node_never_read_of_its_inbox_is_reported_by_its_reaper() -> None:
    """bob's node b dies with two private messages to him in its inbox, unread: node a reaps b
    and is handed them (``Hub.unhandled``). alice, on a, is told at once; carol, on c, through
    her node's inbox. A bounce that was on its way to one of b's own users, and a message from
    one of them, have nobody left to tell."""
    shared, (a, b, c) = cluster("a", "b", "c")
    alice, carol = join(a, "alice", b, c), join(c, "carol", a, b)
    join(b, "bob", a, c)
    dave = join(b, "dave", a, c)
    for node in (a, b, c):
        node.drain()
    a.line(alice, "/w bob are you there?")
    c.line(carol, "/w bob and now?")
    b.line(dave, "/w bob from next door")
    for node in (a, b, c):
        node.flush()
    assert text(a.take(alice)) == ["*** Delivered to bob."]
    assert text(c.take(carol)) == ["*** Delivered to bob."]
    unread = shared.inboxes["b"] + [(99, cl.Bounced("c", dave.id, "dave", "x", 5, "quit", 1.0))]
    shared.nodes.discard("b")  # reaped: nothing goes into its inbox any more
    a.route(a.hub.unhandled("b", unread, a.now))
    (bounce,) = a.pending  # carol's; alice is a's own, and dave's node is gone with him
    assert isinstance(bounce, Whisper) and isinstance(bounce.entry, cl.Bounced)
    assert (bounce.node, bounce.entry.node, bounce.entry.reason) == ("c", "b", codes.SERVER_LOST)
    settle(a, c)
    for node, sender in ((a, alice), (c, carol)):
        assert text(node.take(sender)) == [
            "!!! Not delivered to bob: bob was disconnected (server lost) before your message "
            "could be sent."
        ]


def test_not_delivered_never_comes_before_the_delivered_it_takes_back() -> None:
    """The answer to a private message comes by the writer's connection to Redis, the message
    itself (and the drop) by the reader's: the drop may be known first. The sender still reads
    "Delivered", then "Not delivered"."""
    shared, (a,) = cluster("a")
    alice, carol = join(a, "alice"), join(a, "carol")
    a.drain()
    a.line(alice, "/w carol quick")
    (whisper,) = a.pending
    assert isinstance(whisper, Whisper)
    a.pending = []
    number = shared.next_id()  # Redis appends it to a's inbox; its answer is not read yet
    shared.inboxes.setdefault("a", []).append((number, whisper.entry))
    dropped(a, codes.SEND_QUEUE_EXCEEDED)
    assert a.take(alice) == [] and a.take(carol) == []
    a.route(a.hub.whispered(whisper, number, a.now))
    told = text(a.take(alice))
    assert told[0] == "*** Delivered to carol."
    assert told[1].startswith("!!! Not delivered to carol: carol was disconnected")
    assert alice.whispering == 0 and alice.held == ()


@pytest.mark.parametrize(
    ("command", "told"),
    [
        (
            "/quit",
            ["*** sam left (quit). 2 users online.", "*** sam left #x (quit). 2 users in #x."],
        ),
        ("/part", ["*** sam left #x. 2 users in #x."]),
        ("/nick sam2", ["*** sam is now known as sam2."]),
    ],
)
def test_a_message_comes_before_its_senders_leave_part_or_rename_on_their_node_too(
    command: str, told: list[str]
) -> None:
    """A room message goes through the log and is shown when read back; a leave, a part or a
    rename is done at once. The sender's own node holds back what the second tells others
    until the first is read back, so its users see them in the order every node does."""
    _, (a, b) = cluster("a", "b")
    sam, obs = join(a, "sam", b), join(a, "obs", b)
    far = join(b, "far", a)
    for node, user in ((a, sam), (a, obs), (b, far)):
        node.line(user, "/join #x")
    settle(a, b)
    for node in (a, b):
        node.drain()
    a.line(sam, "bye")
    a.line(sam, command)
    a.flush()  # a claim answered (the rename) before the message is read back
    assert text(a.take(obs)) == []
    settle(a, b)
    assert text(a.take(obs)) == ["<sam> bye", *told]
    assert text(b.take(far)) == ["<sam> bye", *told]
    assert a.hub.cluster is not None and a.hub.cluster.behind == {} == a.hub.cluster.saying


def test_a_user_the_server_closes_leaves_after_the_messages_it_sent_before() -> None:
    """Closed for flooding (or any other decision of the server's) right after a message: the
    leave waits behind it on the sender's node too."""
    _, (a, b) = cluster("a", "b")
    a.hub.config = HubLimits(flood_burst=3.0, flood_rate=0.001, flood_max_refused=1)
    sam, obs = join(a, "sam", b), join(a, "obs", b)
    far = join(b, "far", a)
    for node in (a, b):
        node.drain()
    for line in ("last words", "more", "spam", "spam", "spam"):
        a.line(sam, line)
    assert sam.state is State.CLOSED and text(a.take(obs)) == []
    settle(a, b)
    told = ["<sam> last words", "<sam> more", "*** sam left (flooding). 2 users online."]
    assert text(a.take(obs)) == told
    assert text(b.take(far)) == told


def test_what_a_change_holds_back_waits_only_for_the_messages_sent_before_it() -> None:
    """A join (or a rename) between two messages is shown between them on the sender's node as
    on the others, not after the second one; the sender never reads its own part back."""
    _, (a, b) = cluster("a", "b")
    sam, obs = join(a, "sam", b), join(a, "obs", b)
    far = join(b, "far", a)
    for node, user in ((a, obs), (b, far)):
        node.line(user, "/join #x")
    settle(a, b)
    for node in (a, b):
        node.drain()
    a.line(sam, "hi lobby")
    a.line(sam, "/join #x")
    a.line(sam, "hello x")
    settle(a, b)
    expected = ["<sam> hi lobby", "*** sam joined #x. 3 users in #x.", "<sam> hello x"]
    assert text(a.take(obs)) == expected
    assert text(b.take(far)) == expected
    a.line(sam, "hi")
    a.line(sam, "/nick bob")
    a.flush()  # the claim answered before "hi" is read back
    a.line(sam, "there")
    settle(a, b)
    assert text(a.take(obs)) == ["<sam> hi", "*** sam is now known as bob.", "<bob> there"]
    a.line(sam, "/join #lobby")
    settle(a, b)
    a.drain()
    a.line(sam, "bye, lobby")
    a.line(sam, "/part #lobby")
    a.line(sam, "/join #lobby")
    settle(a, b)
    assert not any("bob left" in t for t in text(a.take(sam)))
    assert [t for t in text(a.take(obs)) if "bob" in t] == [
        "<bob> bye, lobby",
        "*** bob left #lobby. 2 users in #lobby.",
        "*** bob joined #lobby. 3 users in #lobby.",  # back, not a login
    ]
    assert [t for t in text(b.take(far)) if "bob" in t][-2:] == [
        "*** bob left #lobby. 2 users in #lobby.",
        "*** bob joined #lobby. 3 users in #lobby.",  # the other node tells it the same way
    ]


def test_a_message_kept_without_being_shown_lets_what_it_held_go() -> None:
    """Read again after a gap (``ClusterLink._keep_log``), a message is kept, not shown; the
    leave it held back is shown all the same."""
    shared, (a,) = cluster("a")
    sam, obs = join(a, "sam"), join(a, "obs")
    a.drain()
    a.line(sam, "said in the gap")
    a.flush()  # in the log; a misses it (its subscription dropped, say)
    number, entry = shared.log[-1]
    a.position = len(shared.log)
    a.line(sam, "/quit")
    assert a.take(obs) == []
    assert isinstance(entry, cl.Said)
    a.route(a.hub.kept(number, entry))
    assert text(a.take(obs)) == ["*** sam left (quit). 1 user online."]


def test_what_is_held_behind_a_message_goes_when_the_link_is_lost_or_after_a_while() -> None:
    _, (a,) = cluster("a")
    sam, obs = join(a, "sam"), join(a, "obs")
    a.drain()
    a.line(sam, "lost on the way")
    a.pending = []  # Redis never appends it, and never says so
    a.line(sam, "/quit")
    assert a.take(obs) == []
    a.route(a.hub.sweep(a.now + 1))
    assert a.take(obs) == []
    a.route(a.hub.sweep(a.now + 10))
    assert text(a.take(obs)) == ["*** sam left (quit). 1 user online."]
    ann = join(a, "ann")
    a.drain()
    a.line(ann, "also lost")
    a.pending = []
    a.line(ann, "/quit")
    a.route(a.hub.link_down(a.now))
    assert text(a.take(obs))[0] == "*** ann left (quit). 1 user online."


def test_a_bounce_for_a_session_that_is_not_its_sender_is_dropped() -> None:
    """A session id of an earlier run of the node (its run differs; or, written by an older
    node without a run, its name), or a forged entry."""
    _, (a,) = cluster("a")
    alice = join(a, "alice")
    a.drain()
    run = a.hub.cluster.run if a.hub.cluster else ""
    for entry in (
        cl.Bounced("b", alice.id, "mallory", "bob", 7, "quit", 1.0),
        cl.Bounced("b", alice.id + 100, "alice", "bob", 7, "quit", 1.0),
        cl.Bounced("b", alice.id, "alice", "bob", 7, "quit", 1.0, "0123456789ab"),
        cl.Bounced("b", alice.id + 100, "alice", "bob", 7, "quit", 1.0, run),
    ):
        a.route(a.hub.heard(50, entry, a.now))
    assert a.take(alice) == []
    for number, bounce in enumerate(
        (
            cl.Bounced("b", alice.id, "alice", "bob", 7, "x", 1.0),
            cl.Bounced("b", alice.id, "someone", "bob", 8, "y", 1.0, run),  # renamed since
        )
    ):
        bounced = codec.decode(codec.encode(bounce))
        a.route(a.hub.heard(51 + number, bounced, a.now))  # type: ignore[arg-type]
    assert text(a.take(alice)) == [
        "!!! Not delivered to bob: bob was disconnected (x) before your message could be sent.",
        "!!! Not delivered to bob: bob was disconnected (y) before your message could be sent.",
    ]


def test_a_sender_who_changed_name_is_still_told_their_message_was_not_delivered() -> None:
    """The bounce finds its sender by session and this run of the node, under the new name (the
    old one is nobody's by the time it comes)."""
    _, (a, b) = cluster("a", "b")
    alice, bob = join(a, "alice", b), join(b, "bob", a)
    for node in (a, b):
        node.drain()
    a.line(alice, "/w bob are you reading?")
    a.flush()
    assert text(a.take(alice)) == ["*** Delivered to bob."]
    dropped(b, codes.SEND_QUEUE_EXCEEDED)  # the bounce waits in b's pipeline
    a.line(alice, "/nick alicia")
    settle(a, b)
    assert alice.name == "alicia" and "alice" not in str(a.shared.claims)
    assert text(a.take(alice))[-1] == (
        "!!! Not delivered to bob: bob was disconnected (send queue exceeded) before your "
        "message could be sent."
    )
    assert text(b.take(bob)) == ["*** alice is now known as alicia."]


def test_rooms_joins_parts_and_topics_of_other_nodes_are_applied_in_order() -> None:
    _, (a, b) = cluster("a", "b")
    alice, bob = join(a, "alice", b), join(b, "bob", a)
    a.line(alice, "/join #ops")
    settle(a, b)
    b.line(bob, "/join #ops")
    settle(a, b)
    a.drain()
    b.drain()
    b.line(bob, "/topic deploy")
    settle(a, b)
    assert text(a.take(alice)) == ["*** bob set the topic of #ops: deploy"]
    b.line(bob, "/part #ops later")
    settle(a, b)
    assert text(a.take(alice)) == ["*** bob left #ops (part: later). 1 user in #ops."]
    a.line(alice, "/users #ops")
    assert text(a.take(alice)) == ["*** 1 user in #ops: alice."]


def test_two_topics_set_at_once_on_two_nodes_end_the_same_everywhere() -> None:
    """Each node, the setter's included, sets a topic when it reads it from the log: the later
    one in the log is the topic on both nodes, and both told their users in that order."""
    _, (a, b) = cluster("a", "b")
    alice, bob = join(a, "alice", b), join(b, "bob", a)
    for node, session in ((a, alice), (b, bob)):
        node.line(session, "/join #ops")
        settle(a, b)
    a.drain()
    b.drain()
    a.line(alice, "/topic one")
    b.line(bob, "/topic two")
    assert a.take(alice) == [] and b.take(bob) == []  # nothing before the log has them
    settle(a, b)
    told = ["*** alice set the topic of #ops: one", "*** bob set the topic of #ops: two"]
    assert text(a.take(alice)) == told and text(b.take(bob)) == told
    for node, session in ((a, alice), (b, bob)):
        node.line(session, "/topic")
        assert text(node.take(session)) == ["*** Topic of #ops: two"], node.name


def test_a_rename_or_a_topic_while_cut_off_is_refused_until_the_link_is_back() -> None:
    """Neither could be told in order with what follows it, nor kept, while cut off."""
    _, (a, b) = cluster("a", "b")
    alice = join(a, "alice", b)
    a.line(alice, "/join #ops")
    settle(a, b)
    a.route(a.hub.link_down(a.now))
    a.drain()
    for line, what in (("/nick carol", "Names"), ("/topic local", "Topics")):
        a.line(alice, line)
        assert text(a.take(alice)) == [
            f"!!! {what} cannot change while this server is cut off from the others. "
            "Try again when the link is back."
        ]
    assert alice.name == "alice" and a.pending == []
    a.route(a.hub.link_up(a.now))
    a.line(alice, "/topic linked")
    settle(a, b)
    assert text(a.take(alice))[-1] == "*** alice set the topic of #ops: linked"


def test_a_late_claim_answered_after_its_user_renamed_is_stale() -> None:
    """A user claimed again on rejoining, who renamed since: the old name's answer is theirs no
    more (freed if granted; refused or failed, it costs them nothing)."""
    _, (a, b) = cluster("a", "b")
    alice = join(a, "alice", b)
    a.line(alice, "/nick bob")
    settle(a, b)
    assert alice.name == "bob"
    stale = Claim(alice, "alice", late=True)
    assert a.hub.claimed(stale, None, a.now) == [Release("alice")]
    assert a.hub.claimed(stale, "alice", a.now) == [Refresh()]  # whoever has it, looked for
    assert a.hub.claim_failed(stale, a.now) == []
    # A claim for a look-alike of the name she has now (Bob, not bob) is not hers either.
    assert a.hub.claimed(Claim(alice, "Bob", late=True), "Bob", a.now) == [Refresh()]
    assert alice.state is State.ACTIVE


def test_a_rename_is_claimed_then_told_everywhere_and_the_old_name_freed() -> None:
    shared, (a, b) = cluster("a", "b")
    alice, bob = join(a, "alice", b), join(b, "bob", a)
    a.drain()
    b.drain()
    a.line(alice, "/nick alicia")
    assert [type(i) for i in a.pending] == [Claim]
    settle(a, b)
    assert text(a.take(alice)) == ["*** You are now known as alicia."]
    assert text(b.take(bob)) == ["*** alice is now known as alicia."]
    assert cl.holder_value("a", "alice") not in shared.claims.values()
    again = join(b, "alice", a)
    assert again.name == "alice"


def test_a_node_gone_takes_its_users_with_it() -> None:
    _, (a, b) = cluster("a", "b")
    alice = join(a, "alice", b)
    join(b, "bob", a)
    join(b, "bea", a)
    a.drain()
    a.route(a.hub.heard(99, cl.Gone("b", a.now), a.now))
    assert text(a.take(alice)) == [
        "*** bob left (server lost). 2 users online.",
        "*** bea left (server lost). 1 user online.",
    ]
    a.route(a.hub.heard(100, cl.Gone("c", a.now, codes.SERVER_SHUTDOWN), a.now))
    assert a.take(alice) == []


def b_joining_again_with_bob_in_ops() -> tuple[Node, Node, Session, Session, Session]:
    """Nodes a and b; alice on a, bob and bea on b; alice and bob in #ops."""
    _, (a, b) = cluster("a", "b")
    alice = join(a, "alice", b)
    bob = join(b, "bob", a)
    bea = join(b, "bea", a)
    a.line(alice, "/join #ops")
    b.line(bob, "/join #ops")
    settle(a, b)
    a.drain()
    return a, b, alice, bob, bea


def gone_staying(node: Node, told: dict[Session, tuple[str, list[str]]]) -> cl.Gone:
    """The Gone ``node`` writes as it joins again, saying ``told`` (``Hub.staying``) stays."""
    return cl.Gone(node.name, node.now, "", codec.encode_staying(dict(told.values())))


def test_a_node_joining_again_keeps_quiet_about_the_users_it_still_serves() -> None:
    """Node b joins again (Redis lost its data, or refused a write) after bea quit and bob left
    #ops where the log could not say it: its Gone names who it still serves, with their rooms.
    Node a tells who left, and b's users announced again are not news."""
    a, b, alice, bob, bea = b_joining_again_with_bob_in_ops()
    b.line(bea, "/quit")
    b.line(bob, "/part #ops")
    b.pending.clear()  # never reached the log
    told = b.hub.staying()
    assert list(told.values()) == [("bob", ["#lobby"])]
    a.route(a.hub.heard(99, gone_staying(b, told), a.now))
    assert text(a.take(alice)) == [
        "*** bea left (server lost). 2 users online.",
        "*** bob left #ops. 1 user in #ops.",
    ]
    b.route(b.hub.reannounce(b.now, told))
    settle(a, b)
    assert a.take(alice) == []
    a.line(alice, "/users")
    assert text(a.take(alice)) == ["*** 2 users online: alice, bob."]


def test_what_users_do_while_their_node_joins_again_is_told_after_its_gone() -> None:
    """The node said who stays; while it went on joining, bea quit, bob became robert and left
    #ops, none of it sent (joining again does it: ``done_by_rejoining``). Its announcement
    after the Gone says each, so that nobody stays behind on the other nodes."""
    a, b, alice, bob, bea = b_joining_again_with_bob_in_ops()
    told = b.hub.staying()
    b.line(bob, "/nick robert")
    b.flush()  # the name granted; nothing of what follows is sent
    b.line(bea, "/quit")
    b.line(bob, "/part #ops")
    b.pending.clear()
    a.route(a.hub.heard(99, gone_staying(b, told), a.now))
    assert a.take(alice) == []
    b.route(b.hub.reannounce(b.now, told))
    settle(a, b)
    assert text(a.take(alice)) == [
        "*** bob is now known as robert.",
        "*** robert left #ops. 1 user in #ops.",
        "*** bea left (connection closed). 2 users online.",
    ]
    a.line(alice, "/users")
    assert text(a.take(alice)) == ["*** 2 users online: alice, robert."]


def test_a_user_let_in_while_cut_off_is_not_said_to_stay() -> None:
    """bob quit and someone else took his name on b while b was cut off: the others never
    heard of the new bob, who must not pass for the one they knew. He comes with b's claims."""
    a, b, alice, bob, _ = b_joining_again_with_bob_in_ops()
    b.route(b.hub.link_down(b.now))
    b.line(bob, "/quit")
    other = b.connect()
    b.line(other, "bob")
    assert other.state is State.ACTIVE
    b.pending.clear()
    told = b.hub.staying()
    assert [name for name, _ in told.values()] == ["bea"]
    a.route(a.hub.heard(99, gone_staying(b, told), a.now))
    assert text(a.take(alice)) == [
        "*** bob left (server lost). 2 users online.",
        "*** bob left #ops (server lost). 1 user in #ops.",
    ]
    b.route(b.hub.link_up(b.now))
    b.route(b.hub.reannounce(b.now, told))
    settle(a, b)
    assert text(a.take(alice)) == ["*** bob joined. 3 users online."]


def test_a_name_granted_by_a_rename_is_one_the_others_know() -> None:
    """kim, let in while b was cut off, renames before her late claim is answered, and b's
    joining again drops that claim: the rename granted is what the others are told of her."""
    _, (a, b) = cluster("a", "b")
    b.route(b.hub.link_down(b.now))
    kim = b.connect()
    b.line(kim, "kim")
    b.route(b.hub.link_up(b.now))
    b.line(kim, "/nick kimberly")
    b.pending = [i for i in b.pending if not (isinstance(i, Claim) and i.late)]
    settle(a, b)
    assert [name for name, _ in b.hub.staying().values()] == ["kimberly"]


def test_a_user_whose_name_went_elsewhere_has_who_is_where_read_again() -> None:
    """bob of b lost his name to a user of another node, whose arrival a may have passed over
    while it still knew bob under it: a asks for a fresh picture (``Refresh``)."""
    _, (a, b) = cluster("a", "b")
    join(a, "alice", b)
    join(b, "bob", a)
    lost = cl.Departed("b", "bob", cl.EVERYWHERE, codes.NAME_LOST, a.now)
    assert Refresh() in a.hub.heard(99, lost, a.now)
    assert Refresh() not in a.hub.heard(100, cl.Departed("b", "x", "", codes.QUIT, a.now), a.now)


def test_users_of_another_node_join_the_one_lobby_of_a_node_that_had_nobody_yet() -> None:
    """An empty room is still the room: bob and bea, who join b after alice joined a, are in
    the same #lobby as alice on b, counted with her and told when she leaves."""
    _, (a, b) = cluster("a", "b")
    alice = join(a, "alice", b)  # b hears her arrive while its lobby is empty
    bob = join(b, "bob", a)
    bea = join(b, "bea", a)
    assert text(b.take(bob)) == ["*** bea joined. 3 users online."]
    b.drain()
    b.line(bob, "hi")
    settle(a, b)
    assert text(b.take(bob)) == ["*** Delivered to ALL (2 users)."]
    assert text(a.take(alice))[-1] == "<bob> hi"
    a.line(alice, "/quit")
    settle(a, b)
    assert text(b.take(bob)) == ["*** alice left (quit). 2 users online."]
    assert text(b.take(bea))[-1] == "*** alice left (quit). 2 users online."


def test_what_a_node_said_itself_is_not_applied_twice() -> None:
    _, (a, b) = cluster("a", "b")
    alice = join(a, "alice", b)
    a.drain()
    a.route(a.hub.heard(50, cl.Arrived("a", "alice", "#lobby", "#lobby", a.now), a.now))
    a.route(a.hub.heard(51, cl.Arrived("b", "alice", "#lobby", "#lobby", a.now), a.now))
    assert a.take(alice) == []
    assert len(a.hub.roster) == 1


def test_losing_the_link_is_said_once_and_messages_stay_on_this_server() -> None:
    _, (a, b) = cluster("a", "b")
    alice, ann, bob = join(a, "alice", b), join(a, "ann", b), join(b, "bob", a)
    a.drain()
    a.route(a.hub.link_down(a.now))
    a.route(a.hub.link_down(a.now))
    lost = "*** Cluster link lost: messages reach users on this server only."
    assert text(a.take(alice)) == text(a.take(ann)) == [lost]
    a.hub.reserve(500_000)
    a.line(alice, "local")
    assert text(a.take(ann)) == ["<alice> local"]
    (delivered,) = a.take(alice)
    assert text([delivered]) == ["*** Delivered to ALL (1 user on this server)."]
    assert render(delivered, "json").endswith(b',"recipients":1,"line":2,"local":true}\n')
    a.line(ann, "/part")
    a.line(alice, "alone here")  # bob of b is in #lobby too, but out of reach: told so
    assert text(a.take(alice))[-1] == (
        "*** Nobody else on this server is online: your message reached no one."
    )
    assert [m.id for _, m in a.archive.kept] == [500_000, 500_001]
    a.line(ann, "/join #lobby")
    a.drain()
    a.line(alice, "/w bob hi")
    assert text(a.take(alice)) == [
        "!!! bob is on another server, which this one cannot reach now. Try again later."
    ]
    assert b.take(bob) == []
    late = a.connect()
    a.take(late)
    a.line(late, "lee")  # arrives while the link is down: told so too, right after the welcome
    assert text(a.take(late))[-1] == lost
    a.drain()
    a.route(a.hub.link_up(a.now))
    back = "*** Cluster link back: messages reach every server again."
    assert text(a.take(ann)) == text(a.take(late)) == [back]


def test_a_name_taken_elsewhere_while_cut_off_costs_the_session() -> None:
    _, (a, b) = cluster("a", "b")
    a.route(a.hub.link_down(a.now))
    late = a.connect()
    a.line(late, "kim")
    assert late.state is State.ACTIVE  # served at once; claimed when the link is back
    kim = join(b, "kim", a)
    a.route(a.hub.link_up(a.now))
    settle(a, b)
    assert late in a.closed
    assert any("Another server gave the name" in line for line in text(a.take(late)))
    assert kim.state is State.ACTIVE


def test_no_user_of_another_node_passes_for_a_server_with_irc() -> None:
    """Node a's IRC shows its server name as the source of its own lines: held in Redis for no
    user (``Calls.reserve_name``), and reserved on every node once it reads the servers' list,
    look-alikes and all, as on a itself; a late claim of it costs the session."""
    shared, (a, b) = cluster("a", "b")
    shared.claims.update(dict.fromkeys(cl.claim_keys("irc.a"), cl.reserved_value("irc.a")))
    mallory = b.connect()
    b.line(mallory, "IRC.A")  # refused by Redis: b has not read the list yet
    settle(a, b)
    assert mallory.state is State.NAME
    assert text(b.take(mallory))[-2:] == [
        '!!! The name "IRC.A" is reserved. Choose another one.',
        "*** Enter your name:",
    ]
    b.hub.reserve_servers(["irc.a"])
    b.line(mallory, "irc-a")  # refused here: a look-alike, as a refuses it
    assert text(b.take(mallory))[0] == (
        '!!! The name "irc-a" looks like the reserved name "irc.a". Choose another one.'
    )
    b.line(mallory, "mallory")
    settle(a, b)
    assert mallory.state is State.ACTIVE
    b.route(b.hub.link_down(b.now))
    late = b.connect()
    b.hub.reserve_servers(["irc.b"])  # (a node not heard of while cut off)
    b.line(late, "Irc.A")
    assert late.state is State.ACTIVE  # served at once; claimed when the link is back
    b.route(b.hub.link_up(b.now))
    settle(a, b)
    assert late in b.closed
    assert 'The name "irc.a" is a server\'s in the cluster.' in " ".join(text(b.take(late)))


def test_resync_drops_users_a_snapshot_no_longer_has_and_adds_the_new() -> None:
    _, (a, b) = cluster("a", "b")
    alice = join(a, "alice", b)
    join(b, "bob", a)
    a.drain()
    out = a.hub.resync({"b": {"bea": ["#lobby", "#ops"]}, "a": {"alice": ["#lobby"]}}, a.now)
    a.route(out)
    assert text(a.take(alice)) == [
        "*** bob left (server lost). 1 user online.",
        "*** bea joined. 2 users online.",
    ]
    a.line(alice, "/rooms")
    assert "#ops" in "\n".join(text(a.take(alice)))


def test_a_resync_while_joining_again_leaves_nodes_not_back_yet_until_their_hold_is_over() -> None:
    """Redis lost its data: the snapshot node a reads as it joins again lists only the nodes
    back so far. b's users stay until the hold is over (b says itself who stays once back);
    then those of a node still not listed leave."""
    _, (a, b) = cluster("a", "b")
    alice = join(a, "alice", b)
    join(b, "bob", a)
    a.drain()
    a.route(a.hub.resync({"a": {"alice": ["#lobby"]}}, a.now, absent=False))
    assert a.take(alice) == []
    assert a.hub.drop_unlisted({"a", "b"}, a.now) == []
    out = a.hub.drop_unlisted({"a"}, a.now)
    assert out[-1] == Refresh()  # bob's name may be someone's elsewhere now
    a.route(out)
    assert text(a.take(alice)) == ["*** bob left (server lost). 1 user online."]


def test_resync_takes_a_room_by_its_key_not_by_how_its_name_is_written() -> None:
    _, (a, b) = cluster("a", "b")
    alice = join(a, "alice", b)
    carol = join(b, "carol", a)
    b.line(carol, "/join #Ops")
    a.line(alice, "/join #ops")
    settle(a, b)
    b.drain()
    b.route(b.hub.resync({"a": {"alice": ["#lobby", "#ops"]}}, b.now))
    assert b.take(carol) == []  # alice is in #Ops already: no part, no join


def test_a_name_given_while_cut_off_that_redis_fails_to_record_costs_the_session() -> None:
    """Trying again would fail the same way, and joining the cluster again would claim it
    again: the user is told and disconnected, once."""
    _, (a, b) = cluster("a", "b")
    a.route(a.hub.link_down(a.now))
    kim = a.connect()
    a.line(kim, "kim")
    (claim,) = [item for item in a.pending if isinstance(item, Claim)]
    a.route(a.hub.link_up(a.now))
    a.take(kim)
    a.route(a.hub.claim_failed(claim, a.now))
    assert text(a.take(kim)) == [
        '*** The other servers could not record the name "kim" for you. Goodbye: connect again.'
    ]
    assert kim.state is State.CLOSED


def test_a_late_claim_refused_after_its_user_left_still_reads_who_is_where_again() -> None:
    """Whoever has the name elsewhere was left out here while this node's user held it: they
    are looked for again even when that user has left by the time the answer comes."""
    _, (a, b) = cluster("a", "b")
    a.route(a.hub.link_down(a.now))
    kim = a.connect()
    a.line(kim, "kim")
    (claim,) = [item for item in a.pending if isinstance(item, Claim)]
    a.line(kim, "/quit")
    assert kim.state is State.CLOSED
    assert a.hub.claimed(claim, "kim", a.now) == [Refresh()]


def test_a_refresh_only_adds_users_this_node_does_not_know() -> None:
    _, (a, b) = cluster("a", "b")
    bob = join(b, "bob", a)
    join(a, "alice", b)
    b.drain()
    seen = {"a": {"alice": ["#lobby", "#ops"], "zed": ["#lobby"]}, "b": {"bob": ["#lobby"]}}
    b.route(b.hub.add_missing(seen, b.now))
    assert text(b.take(bob)) == ["*** zed joined. 3 users online."]  # alice left as she is
    b.line(bob, "/users #ops")
    assert text(b.take(bob)) == ["!!! No such room: #ops. Type /rooms to see the rooms."]


def test_a_name_given_elsewhere_while_cut_off_is_seen_once_this_nodes_holder_is_gone() -> None:
    """b, cut off, lets in kim; a gives the name to another kim meanwhile. When b is back it
    reads a's kim arriving before its own claim is refused (she is left out: the name is held
    here); once its kim is closed, b reads again who is where and a's kim is there."""
    _, (a, b) = cluster("a", "b")
    bob = join(b, "bob", a)
    b.route(b.hub.link_down(b.now))
    local = b.connect()
    b.line(local, "kim")
    assert local.state is State.ACTIVE  # let in while cut off; claimed when the link is back
    kim = join(a, "kim")
    b.route(b.hub.link_up(b.now))
    b.read()  # the reader wins the race: a's kim arrives while b's kim holds the name
    b.drain()
    b.flush()  # b's late claim: refused
    assert local.state is State.CLOSED and b.refreshes == 1
    b.route(b.hub.add_missing(snapshot(a, b), b.now))  # what the link does for a Refresh
    settle(a, b)
    b.line(bob, "/users")
    assert text(b.take(bob))[-1] == "*** 2 users online: bob, kim."
    assert kim.state is State.ACTIVE


def test_a_remote_rename_onto_a_name_held_here_leaves_the_renamed_user_out_for_now() -> None:
    _, (a, b) = cluster("a", "b")
    join(a, "dave", b)
    bob = join(b, "bob", a)
    b.route(b.hub.link_down(b.now))
    join(b, "carol")  # let in while b is cut off
    b.drain()
    b.route(b.hub.heard(900, cl.Renamed("a", "dave", "carol", b.now), b.now))
    assert text(b.take(bob)) == ["*** dave left (connection lost). 2 users online."]
    assert b.refreshes == 1
    b.line(bob, "/users")
    assert text(b.take(bob)) == ["*** 2 users online: bob, carol."]


def test_a_private_message_let_in_for_a_name_just_given_up_reaches_its_user() -> None:
    """Redis let alice's message to dave into b's inbox (b still held the name) while dave was
    becoming carol: it reaches carol, who was dave, as alice was told it would."""
    _, (a, b) = cluster("a", "b")
    alice, dave = join(a, "alice", b), join(b, "dave", a)
    a.drain()
    b.drain()
    a.line(alice, "/w dave are you there?")
    b.line(dave, "/nick carol")
    a.flush()  # the message goes into b's inbox: b holds "dave"
    b.flush()  # dave becomes carol; the old name is released
    b.read()
    assert text(b.take(dave))[-1] == "[PM from alice] are you there?"
    settle(a, b)
    assert text(a.take(alice))[0] == "*** Delivered to dave."


def test_a_claim_answered_after_the_session_left_is_released() -> None:
    _, (a, b) = cluster("a", "b")
    gone = a.connect()
    a.line(gone, "ghost")
    a.route(a.hub.disconnect(gone, codes.CONNECTION_LOST, a.now))
    claim = a.pending.pop()
    assert isinstance(claim, Claim)
    assert a.hub.claimed(claim, None, a.now) == [Release("ghost")]


def test_a_standalone_hub_gives_no_cluster_instructions() -> None:
    chat = RoomChat(ListArchive())
    alice = chat.join("alice")
    out = []
    for line in ("hello", "/join #ops", "/topic t", "/nick al", "/part #ops", "/quit"):
        command = parse_line(line)
        assert command is not None
        out += chat.hub.handle(alice, command, chat.now)
    assert not [i for i in out if isinstance(i, (Publish, Whisper, Claim, Release))]
    assert chat.hub.heard(1, cl.Gone("b", 1.0), 1.0) == []


def test_wrong_passwords_on_one_node_slow_guessing_down_on_every_node() -> None:
    """Each node's guard alone would give a guesser N times the tries on N nodes."""
    _, (a, b) = cluster("a", "b")
    for node in (a, b):
        node.hub.config = HubLimits(password="s3cret", flood_burst=1000.0)
    origin = "203.0.113.9"
    for n in range(4):  # three typos are free, the fourth is compared and then guessing waits
        guesser, out = a.hub.connect(f"{origin}:{4000 + n}", a.now, origin=origin)
        a.route(out)
        a.line(guesser, f"guess {n}")
        assert [e.code for e in a.take(guesser) if isinstance(e, ev.Error)] == [codes.BAD_PASSWORD]
    assert any(isinstance(i, Publish) and isinstance(i.entry, cl.Struck) for i in a.pending)
    settle(a, b)
    assert b.hub.guard.wait(origin, b.now) > 0
    elsewhere, out = b.hub.connect(f"{origin}:5000", b.now, origin=origin)
    b.route(out)
    b.line(elsewhere, "s3cret")  # not even compared: the address has to wait, here too
    assert [e.code for e in b.take(elsewhere) if isinstance(e, ev.Error)] == [codes.PASSWORD_WAIT]
    friend, out = b.hub.connect("198.51.100.1:1", b.now, origin="198.51.100.1")
    b.route(out)
    b.line(friend, "s3cret")
    assert friend.state is State.NAME
    b.route(b.hub.link_down(b.now))  # cut off: nothing is queued for later (a guesser's flood)
    stranger, out = b.hub.connect("192.0.2.1:1", b.now, origin="192.0.2.1")
    b.route(out)
    b.line(stranger, "wrong")
    assert not b.pending


def test_a_strike_with_an_origin_no_node_would_write_is_refused() -> None:
    for origin in ("", "a b", "x" * 65, "\x1b[2J", "адрес"):
        with pytest.raises(ValueError):
            codec.checked(cl.Struck("a", origin, 1.0))
    assert codec.checked(cl.Struck("a", "2001:db8:1:2::/64", 1.0)).origin == "2001:db8:1:2::/64"


def test_each_node_counts_only_the_rooms_its_own_users_are_in_against_its_limit() -> None:
    """One address may make MAX_ROOMS_PER_USER rooms per connection on every node: were other
    nodes' rooms counted, users of nodes b and c could fill node a's limit and nobody on a could
    make a room. A node's limit counts the rooms its users are in (the lobby always)."""
    _, (a, b) = cluster("a", "b")
    for node in (a, b):
        node.hub.config = dataclasses.replace(node.hub.config, max_rooms=3)
    ann, bob = join(a, "ann", b), join(b, "bob", a)
    for room in ("#b1", "#b2"):
        b.line(bob, f"/join {room}")
        settle(a, b)
    b.take(bob)
    b.line(bob, "/join #b3")
    (error,) = b.take(bob)
    assert isinstance(error, ev.Error) and error.code == codes.TOO_MANY_ROOMS
    assert error.text.startswith("This server has 3 rooms")
    a.line(ann, "/join #a1")
    settle(a, b)
    assert [room.name for room in ann.rooms] == ["#lobby", "#a1"]
    a.line(ann, "/join #a2")
    settle(a, b)
    a.take(ann)
    a.line(ann, "/join #a3")
    (error,) = a.take(ann)
    assert isinstance(error, ev.Error) and error.code == codes.TOO_MANY_ROOMS
    assert error.text.startswith("Users of this server are in 3 rooms"), error.text
    assert len(a.hub.rooms) == 5


def test_a_room_its_makers_left_no_longer_counts_on_their_node() -> None:
    """Counted on the node that made it for as long as anyone anywhere was in it, a room could
    be made on node a, kept by a connection on node b and left on a, and so again: one address
    filled a's limit from three nodes with 57 connections, and nobody on a could make a room
    (an abuse review, 2026-12-03). A room counts where its members are; joining one counts."""
    _, (a, b) = cluster("a", "b")
    a.hub.config = dataclasses.replace(a.hub.config, max_rooms=3)
    ann, bob = join(a, "ann", b), join(b, "bob", a)
    for room in ("#x1", "#x2"):
        a.line(ann, f"/join {room}")
        settle(a, b)
        b.line(bob, f"/join {room}")  # kept alive from b
        settle(a, b)
        a.line(ann, f"/part {room}")
        settle(a, b)
    a.take(ann)
    assert len(a.hub.rooms) == 3 and a.hub.rooms.used_here == 1
    a.line(ann, "/join #x3")
    a.line(ann, "/join #x4")
    settle(a, b)
    assert [room.name for room in ann.rooms] == ["#lobby", "#x3", "#x4"]
    a.take(ann)
    a.line(ann, "/join #x1")  # an existing room: joined, and counted here from now on
    settle(a, b)
    assert [room.name for room in ann.rooms][-1] == "#x1" and a.hub.rooms.used_here == 4
    a.take(ann)
    a.line(ann, "/join #x5")
    (error,) = a.take(ann)
    assert isinstance(error, ev.Error) and error.code == codes.TOO_MANY_ROOMS
    assert error.text.startswith("Users of this server are in 4 rooms"), error.text
    a.line(ann, "/quit")
    settle(a, b)
    assert a.hub.rooms.used_here == 1  # the lobby, always


def test_a_rename_is_remembered_a_while_only_so_its_user_is_not_held_once_gone() -> None:
    """The node keeps the old name of a user who renamed (a private message may still reach it)
    for ``RENAMED_WITHIN_S``; after that the sweep forgets it, and with it the session."""
    _, (a,) = cluster("a")
    sam = join(a, "sam")
    a.line(sam, "/nick samuel")
    a.flush()
    assert a.hub.cluster is not None
    assert a.hub.cluster.renamed_from(name_key("sam"), a.now) is sam
    a.line(sam, "/quit")
    a.route(a.hub.sweep(a.now + 1))
    assert a.hub.cluster.renamed  # still within the while
    a.route(a.hub.sweep(a.now + cl.RENAMED_WITHIN_S + 1))
    assert a.hub.cluster.renamed == {}
