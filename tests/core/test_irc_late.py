"""A registered IRC client in a cluster, sans I/O (core/irc_late.py): the hub's answers that come
later through the cluster's link (a NICK claimed in Redis, a PRIVMSG to a nick of another node)
become the numerics of the command that caused them, as the hub's answers at once do.

``IrcNode`` is a node of ``test_hub_cluster``'s cluster (no sockets, no Redis) with IRC clients:
what its bus answers (``flush``) or reads (``read``) goes first to the client's ``concluded``,
as ``server/app.py route_cluster`` hands it to ``IrcConnection.answered``."""

from __future__ import annotations

from collections.abc import Iterable

import pytest

from tcpchat.core import codes
from tcpchat.core.hub import Hub
from tcpchat.core.irc import CloseLink, IrcClient, Routed, Step
from tcpchat.core.irc_late import PENDING_WHISPERS
from tcpchat.core.irc_queries import IrcNetwork
from tcpchat.core.irc_render import Renderer
from tcpchat.core.limits import HubLimits
from tcpchat.core.output import Claim, Instruction, Publish, ToSessions, Whisper
from tcpchat.core.session import Session, State

from .test_hub_cluster import Node, Shared, dropped, join, settle, text


class IrcNode(Node):
    """A node whose IRC clients are sent, in order, what a server would send them."""

    def __init__(self, shared: Shared, name: str) -> None:
        super().__init__(shared, name)
        self.network = IrcNetwork(f"irc.{name}.test", self.now)
        self.render = Renderer(self.network.format)
        self.clients: dict[int, IrcClient] = {}  # session id -> its IRC side
        self.sent: dict[int, list[bytes]] = {}  # session id -> lines not yet taken by ``said``
        self.late = False  # routing what the cluster's link answered

    def irc(self, nick: str, *others: Node) -> IrcClient:
        session, _ = self.hub.connect("127.0.0.1:1", self.now, mode=codes.IRC)
        client = IrcClient(self.network, self.hub, session)
        self.clients[session.id] = client
        self.sent[session.id] = []
        self.send(client, f"NICK {nick}", f"USER {nick} 0 * :Real")
        settle(self, *others)
        assert session.state is State.ACTIVE, self.said(client)
        self.said(client)
        return client

    def send(self, client: IrcClient, *lines: str) -> str:
        """``lines`` from ``client``; what it was sent meanwhile."""
        for line in lines:
            self._carry_out(client, client.receive(line, self.now))
        return self.said(client)

    def said(self, client: IrcClient) -> str:
        """What ``client`` was sent since last asked."""
        lines, self.sent[client.session.id] = self.sent[client.session.id], []
        return b"".join(lines).decode()

    def _carry_out(self, client: IrcClient, steps: list[Step]) -> None:
        for step in steps:
            if isinstance(step, bytes):
                self.sent[client.session.id].append(step)
            elif isinstance(step, Routed):
                self.route(step.out)
            elif isinstance(step, CloseLink):
                self.sent[client.session.id].append(f"<close {step.reason}>\r\n".encode())

    def route(self, out: Iterable[Instruction]) -> None:
        rest: list[Instruction] = []
        for item in out:
            if self.late and isinstance(item, ToSessions) and len(item.to) == 1:
                client = self.clients.get(item.to[0].id)
                steps = client.concluded(item.event) if client is not None else None
                if client is not None and steps is not None:
                    self._carry_out(client, steps)
                    continue
            rest.append(item)
        super().route(rest)
        for session_id, client in self.clients.items():
            session = client.session
            for event in self.inbox.pop(session_id, []):
                self.sent[session_id].append(self.render(event, session.mode, False, session.name))

    def flush(self) -> bool:
        self.late = True
        try:
            return super().flush()
        finally:
            self.late = False

    def read(self) -> bool:
        self.late = True
        try:
            return super().read()
        finally:
            self.late = False


def irc_cluster() -> tuple[IrcNode, IrcNode]:
    shared = Shared()
    return IrcNode(shared, "a"), IrcNode(shared, "b")


def gone_unheard(a: IrcNode, b: IrcNode, name: str) -> None:
    """``name``, a user of ``a`` whom ``b`` knows, leaves: Redis frees the name, but ``b`` has not
    read the leave yet (a message from ``b`` to them races it)."""
    session = a.hub.roster.find(name)
    assert session is not None and b.hub.roster.find(name) is not None
    a.line(session, "/quit")
    a.flush()
    assert b.hub.roster.find(name) is not None


def test_a_nick_refused_late_is_433_with_the_nick_asked_for() -> None:
    """Node a gave kim to someone; b has not read it yet, so the claim goes to Redis, which
    refuses it: a registered IRC client reads 433 for the nick it sent, as when refused at once,
    not the hub's words as a NOTICE."""
    a, b = irc_cluster()
    ivy = b.irc("ivy", a)
    kim = a.connect()
    a.line(kim, "kim")
    a.flush()  # kim's claim is Redis's; b reads nothing of it
    assert kim.state is State.ACTIVE and b.hub.roster.find("kim") is None
    assert b.send(ivy, "NICK Kim") == ""  # claimed: the answer comes through the link
    b.flush()
    answer = b.said(ivy)
    assert answer.startswith(":irc.b.test 433 ivy Kim :"), answer
    assert "NOTICE" not in answer
    assert (ivy.session.name, ivy.renaming) == ("ivy", "")
    # Redis failing to run the claim is "try again": 433 too.
    assert b.send(ivy, "NICK zed") == ""
    (claim,) = b.pending
    b.pending = []
    assert isinstance(claim, Claim)
    b.late = True
    b.route(b.hub.claim_failed(claim, b.now))  # as the link does with Redis's error reply
    b.late = False
    assert b.said(ivy).startswith(":irc.b.test 433 ivy zed :")


def test_a_nick_sent_while_registrations_claim_is_answered_wins_once_it_is() -> None:
    """NICK alice, USER, NICK bob before the cluster answered alice: the last NICK wins, as on
    any IRC server. Refused, the 433 names alice (the nick refused) and bob is claimed next;
    granted, the client is welcomed as alice and renamed to bob."""
    a, b = irc_cluster()
    kim = a.connect()
    a.line(kim, "kim")
    a.flush()  # kim is Redis's; b has not read it
    session, _ = b.hub.connect("127.0.0.1:2", b.now, mode=codes.IRC)
    client = IrcClient(b.network, b.hub, session)
    b.clients[session.id], b.sent[session.id] = client, []
    assert b.send(client, "NICK kim", "USER kim 0 * :Real", "NICK bob") == ""
    b.flush()  # kim refused late; bob claimed
    answer = b.said(client)
    assert answer.startswith(":irc.b.test 433 * kim :"), answer
    settle(a, b)
    assert session.state is State.ACTIVE and session.name == "bob"
    assert " 001 bob :" in b.said(client)
    # Granted: welcomed under the first, then renamed to the last.
    other, _ = b.hub.connect("127.0.0.1:3", b.now, mode=codes.IRC)
    late = IrcClient(b.network, b.hub, other)
    b.clients[other.id], b.sent[other.id] = late, []
    assert b.send(late, "NICK ann", "USER ann 0 * :Real", "NICK anna") == ""
    settle(a, b)
    told = b.said(late)
    assert " 001 ann :" in told and told.endswith(":ann!~u@irc.b.test NICK anna\r\n"), told
    assert other.name == "anna"


def test_a_nick_granted_late_is_the_nick_line_and_a_second_nick_waits_again() -> None:
    a, b = irc_cluster()
    ivy = b.irc("ivy", a)
    assert b.send(ivy, "NICK ivy2") == ""
    settle(a, b)
    assert b.said(ivy) == ":ivy!~u@irc.b.test NICK ivy2\r\n"
    assert ivy.session.name == "ivy2"
    # The next NICK waits on its own, and its late refusal names it, not the first.
    a.line(a.connect(), "kim")
    a.flush()
    assert b.send(ivy, "NICK kim") == ""
    b.flush()
    assert b.said(ivy).startswith(":irc.b.test 433 ivy2 kim :")
    assert ivy.renaming == ""


def test_a_privmsg_refused_late_for_a_vanished_nick_is_401_for_that_target_alone() -> None:
    """kim leaves node a as ivy's message to her goes: Redis no longer finds her name there and
    answers "no such user". Among several targets, only hers is 401."""
    a, b = irc_cluster()
    ivy = b.irc("ivy", a)
    join(a, "kim", b)
    joe = join(a, "joe", b)
    b.said(ivy)
    gone_unheard(a, b, "kim")
    assert b.send(ivy, "PRIVMSG Kim,joe :are you there?") == ""
    b.flush()
    assert b.said(ivy) == ":irc.b.test 401 ivy Kim :No such nick/channel\r\n"
    assert not ivy.whispers
    settle(a, b)
    assert text(a.take(joe))[-1] == "[PM from ivy] are you there?"
    # A NOTICE is never answered, at once or late (RFC 1459 4.4.2).
    join(a, "kim", b)
    b.said(ivy)
    gone_unheard(a, b, "kim")
    assert b.send(ivy, "NOTICE kim :psst") == ""
    b.flush()
    assert b.said(ivy) == "" and not ivy.whispers


@pytest.mark.parametrize(
    ("why", "reason"),
    [
        ("dropped with a reader that stopped reading", codes.SEND_QUEUE_EXCEEDED),
        ("left once Redis had let the message into their node's inbox", "left"),
    ],
)
def test_a_message_accepted_then_not_delivered_stays_a_notice(why: str, reason: str) -> None:
    """The PRIVMSG was accepted (echoed, with echo-message), then lost with its recipient's
    connection: the "Not delivered" NOTICE says so; a 401 would answer it twice."""
    a, b = irc_cluster()
    ivy = b.irc("ivy", a)
    kim = join(a, "kim", b)
    b.said(ivy)
    assert b.send(ivy, "PRIVMSG kim :are you reading?") == ""
    b.flush()  # it reached kim's node: accepted (nothing to show without echo-message)
    assert b.said(ivy) == ""
    if reason == codes.SEND_QUEUE_EXCEEDED:
        dropped(a, reason)
    else:
        a.line(kim, "/quit")
        reason = codes.CONNECTION_CLOSED
    settle(a, b)
    answer = b.said(ivy)
    told = f":irc.b.test NOTICE ivy :Not delivered to kim: kim was disconnected ({reason})"
    assert answer.splitlines()[-1].startswith(told), why  # after kim's QUIT, if she left
    assert " 401 " not in answer
    assert not ivy.whispers  # settled by the "Delivered"


def test_a_topic_not_sent_answers_its_own_line_not_a_privmsg_sent_after_it() -> None:
    """Redis refused the topic (out of memory) and answered the private message after it with
    "no such user": each answer names its own line, so the PRIVMSG still gets its 401."""
    a, b = irc_cluster()
    ivy = b.irc("ivy", a)
    join(a, "kim", b)
    b.send(ivy, "JOIN #r")
    settle(a, b)
    b.said(ivy)
    gone_unheard(a, b, "kim")
    b.send(ivy, "TOPIC #r :hello", "PRIVMSG kim :hi")
    topic, whisper = b.pending
    assert isinstance(topic, Publish) and isinstance(whisper, Whisper)
    b.pending = []
    b.late = True
    b.route(b.hub.unsent(topic, b.now) + b.hub.whispered(whisper, 0, b.now))
    b.late = False
    said = b.said(ivy)
    assert "NOTICE ivy :Not sent" in said and ":irc.b.test 401 ivy kim :" in said, said


def test_a_privmsg_the_link_could_not_send_is_a_notice_and_waits_no_more() -> None:
    a, b = irc_cluster()
    ivy = b.irc("ivy", a)
    join(a, "kim", b)
    b.said(ivy)
    b.send(ivy, "PRIVMSG kim :one")
    (whisper,) = b.pending
    b.pending = []
    assert isinstance(whisper, Whisper)
    b.late = True
    b.route(b.hub.unsent(whisper, b.now))  # as the link does when Redis is out of reach
    b.late = False
    assert b.said(ivy).startswith(":irc.b.test NOTICE ivy :Not sent:")
    assert not ivy.whispers


def test_what_waits_for_the_cluster_is_bounded() -> None:
    """A client that sends in a loop grows no record past PENDING_WHISPERS: the oldest are
    forgotten (their late refusal comes as the hub's NOTICE), the newest are 401. One NICK
    waits at a time: the hub refuses another meanwhile, at once."""
    a, b = irc_cluster()
    ivy = b.irc("ivy", a)
    join(a, "kim", b)
    b.said(ivy)
    gone_unheard(a, b, "kim")
    for number in range(PENDING_WHISPERS + 8):
        b.send(ivy, f"PRIVMSG kim :{number}")
    b.flush()
    answer = b.said(ivy).splitlines()
    assert sum(" 401 ivy kim " in line for line in answer) == PENDING_WHISPERS
    assert sum("NOTICE ivy :No such user: kim" in line for line in answer) == 8
    assert answer[0].startswith(":irc.b.test NOTICE")  # the oldest were forgotten
    assert not ivy.whispers
    for number in range(PENDING_WHISPERS * 4):
        b.send(ivy, f"PRIVMSG kim :{number}")
    assert len(ivy.whispers) == PENDING_WHISPERS
    b.flush()
    assert b.said(ivy).count(" 401 ") == PENDING_WHISPERS and not ivy.whispers
    assert b.send(ivy, "NICK ivy2") == ""
    assert "NOTICE ivy :Wait: the name ivy2 is being checked" in b.send(ivy, "NICK ivy3")
    assert ivy.renaming == "ivy2"


def test_standalone_nothing_waits() -> None:
    """Without a cluster every answer comes at once: nothing is remembered."""
    node = IrcNode(Shared(), "solo")
    node.hub = Hub(HubLimits(flood_burst=1000.0), node.archive)
    ivy = node.irc("ivy")
    joe: Session = node.join("joe")
    node.said(ivy)
    assert node.send(ivy, "PRIVMSG joe :hi", "NICK ivy2") == ":ivy!~u@irc.solo.test NICK ivy2\r\n"
    assert (ivy.renaming, list(ivy.whispers)) == ("", [])
    assert text(node.take(joe))[0] == "[PM from ivy] hi"


def test_lusers_counts_as_invisible_the_irc_users_of_its_own_node() -> None:
    """A node knows which of its own users came by IRC (``+i``); of another node's users it
    knows the names alone, and shows them no user modes: they are counted as visible. The
    totals agree on every node."""
    a, b = irc_cluster()
    ivy = b.irc("ivy", a)
    kim = a.irc("kim", b)
    join(a, "joe", b)
    settle(a, b)
    b.said(ivy)
    a.said(kim)
    assert b.send(ivy, "LUSERS") == (
        ":irc.b.test 251 ivy :There are 2 users and 1 invisible on 2 servers\r\n"
        ":irc.b.test 254 ivy 1 :channels formed\r\n"
        ":irc.b.test 255 ivy :I have 1 clients and 1 servers\r\n"
    )
    lusers = a.send(kim, "LUSERS")
    assert ":irc.a.test 251 kim :There are 2 users and 1 invisible on 2 servers\r\n" in lusers
    assert ":irc.a.test 255 kim :I have 2 clients and 1 servers\r\n" in lusers
