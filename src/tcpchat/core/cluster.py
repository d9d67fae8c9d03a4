"""Cluster mode's pure logic (docs/CLUSTER.md): no I/O, no clock; ``server/cluster/`` does the
talking to Redis and hands time in as ``now``.

- Redis keys, and the names' claim keys (``names.look_keys``: a claim holds a name and its
  look-alikes cluster-wide);
- entry ids: a log entry's id is ``0-N`` with ``N`` its message id, given by ``INCR`` in the
  script that appends it, so ids are the same on every node and grow in log order;
- ``Position``: where a node resumes reading a stream, and the dedupe of entries read twice
  (leases, backoff and reaping: ``lease.py``);
- the entries themselves (``Entry``): what one line of the log says; to and from the stream's
  fields, and checked: ``cluster_codec.py``.
"""

from __future__ import annotations

import secrets
from collections import deque
from dataclasses import dataclass
from typing import Any, Union

from .names import look_keys
from .records import quick_init
from .session import Session

# How long a private message to the old name of a user of this node who renamed still reaches
# them: the old name's release goes out right after the rename, one round trip to Redis.
RENAMED_WITHIN_S = 10.0

# What users of a node are told when its link to Redis is lost (and those who arrive while it
# is) and when it is back.
LINK_LOST = "Cluster link lost: messages reach users on this server only."
LINK_BACK = "Cluster link back: messages reach every server again."

PREFIX = "tcpchat:"
SEQ_KEY = PREFIX + "seq"  # the last id given
LOG_KEY = PREFIX + "log"  # room messages, topics, presence: the one ordered stream
NODES_KEY = PREFIX + "nodes"  # nodes that joined and were not reaped
SERVERS_KEY = PREFIX + "servers"  # the names of the servers with IRC, reserved on every node
TOPICS_KEY = PREFIX + "topics"  # room key -> its last topic entry (a joining node's topics)
TOPICS_ORDER_KEY = PREFIX + "topics:order"  # room keys scored by their topic entry's id


def inbox_key(node: str) -> str:
    """The stream of private messages for ``node``'s users."""
    return f"{PREFIX}inbox:{node}"


def bounced_key(message: int) -> str:
    """Set once the word that private message ``message`` was not delivered is written: a
    bounce sent again (its pipeline's answer lost, or a dying node's and its reaper's) is not."""
    return f"{PREFIX}bounced:{message}"


def read_key(node: str) -> str:
    """The number of the last entry of ``node``'s inbox it handled: the private messages after
    it are those a reap of ``node`` answers "not delivered" (scripts.py, REAP)."""
    return f"{PREFIX}inbox-read:{node}"


def lease_key(node: str) -> str:
    """``node``'s lease: its boot id, with a TTL it renews."""
    return f"{PREFIX}node:{node}"


def held_key(node: str) -> str:
    """The set of name keys ``node`` holds (what its release or reap frees)."""
    return f"{PREFIX}names:{node}"


def members_key(node: str) -> str:
    """The hash of ``node``'s users: display name -> their rooms (a joining node's snapshot)."""
    return f"{PREFIX}members:{node}"


def claim_keys(name: str) -> tuple[str, ...]:
    """The keys a claim on ``name`` holds: one per look key, so that a look-alike of a name
    held on another node is refused as it is on one server."""
    return tuple(f"{PREFIX}name:{key}" for key in look_keys(name))


def holder_value(node: str, name: str) -> str:
    """What a claim key holds: the node and the display name (for "looks too much like")."""
    return f"{node}\t{name}"


def reserved_value(server_name: str) -> str:
    """What a claim key holds for the name of a server with IRC (``--server-name``) and its
    look-alikes: no node, so no user's and never released or reaped (``Calls.reserve``)."""
    return f"\t{server_name}"


def is_reserved_value(value: str) -> bool:
    """True if a claim key's ``value`` is a server's name, reserved (``reserved_value``)."""
    return value.startswith("\t")


def parse_holder(value: str) -> tuple[str, str]:
    """(node, display name) of a claim key's value."""
    node, _, name = value.partition("\t")
    return node, name


class ClusterState:
    """This node in its cluster, as the hub keeps it: its name, whether its link to Redis is
    up, and the users of the other nodes (sessions without a connection), by node."""

    def __init__(self, node: str, run: str = "") -> None:
        self.node = node
        # This run of the node (a process): its session ids count from 1 again in the next, so
        # an answer meant for a session of this node is taken only if it names this run.
        self.run = run or secrets.token_hex(6)
        self.linked = True
        self.servers: frozenset[str] = frozenset()  # SERVERS_KEY, as last read
        self.remote: dict[str, dict[Session, None]] = {}
        # Names this node asked the cluster for and has no answer for yet, by look key: a second
        # session of this node asking for one of them is refused here (Redis cannot tell two
        # sessions of one node apart: a claim carries the node and the name).
        self.claiming: dict[str, tuple[Session, str]] = {}
        # This node's users renamed lately, by the key of their old name, with when: the old
        # name is this node's until its release is run, and a private message to it that Redis
        # let into this node's inbox meanwhile is theirs (``RENAMED_WITHIN_S``; one per user).
        self.renamed: dict[str, tuple[Session, float]] = {}
        # By session id: the room messages of this node's sessions sent to the log and not read
        # back yet (line, when sent), and what their leaves, parts and renames told others
        # meanwhile, held back (behind which line, since when, what): ``hub_behind.py``.
        self.saying: dict[int, deque[tuple[int, float]]] = {}
        self.behind: dict[int, deque[tuple[int, float, list[Any]]]] = {}

    def remember_rename(self, session: Session, old_key: str, now: float) -> None:
        """``session`` gave up the name of key ``old_key`` at ``now``; older ones forgotten."""
        self.forget_renames(now, session)
        self.renamed[old_key] = (session, now)

    def forget_renames(self, now: float, session: Session | None = None) -> None:
        """Forget the renames older than ``RENAMED_WITHIN_S`` (and those of ``session``): each
        holds its session, and with it the connection, after the user is long gone."""
        stale = [
            k for k, (s, at) in self.renamed.items() if s is session or now - at > RENAMED_WITHIN_S
        ]
        for key in stale:
            del self.renamed[key]

    def renamed_from(self, key: str, now: float) -> Session | None:
        """The user of this node who had the name of key ``key`` until a moment ago."""
        session, at = self.renamed.get(key, (None, 0.0))
        return session if session is not None and now - at <= RENAMED_WITHIN_S else None


# --- entry ids and positions --------------------------------------------------------------------


def entry_id(message_id: int) -> str:
    """The stream entry id of the entry numbered ``message_id``."""
    return f"0-{message_id}"


def id_of(entry: str) -> int:
    """The number of a stream entry id ``0-N``; ValueError for any other (not ours)."""
    ms, dash, seq = entry.partition("-")
    if ms != "0" or not dash or not seq.isdigit():
        raise ValueError(f"not a tcp-chat entry id: {entry!r}")
    return int(seq)


def number_of(entry: str) -> int | None:
    """The number of a stream entry id ``0-N``; None for any other (not ours: skipped)."""
    try:
        return id_of(entry)
    except ValueError:
        return None


class Position:
    """Where a node is in a stream: the last entry it applied. It reads on after it (``after``
    is what ``XREAD`` takes), so a reconnect resumes where the link was lost; an entry at or
    before it (read again after a reconnect whose last read did arrive) is refused by
    ``accept``, so nothing is applied twice."""

    def __init__(self, last: int = 0) -> None:
        self.last = last

    @property
    def after(self) -> str:
        return entry_id(self.last)

    def accept(self, entry: str) -> int:
        """The number of ``entry`` if it is new (the caller applies it, and the position moves
        to it), else 0."""
        number = id_of(entry)
        if number <= self.last:
            return 0
        self.last = number
        return number

    def gap(self, oldest: int | None) -> int:
        """Entries lost to trimming: ``oldest`` is the id of the stream's oldest entry (None: the
        stream is empty). Ids grow by one per entry of every stream, so this counts at most the
        entries missed; 0 when the stream still holds the entry after this position."""
        if oldest is None or oldest <= self.last + 1:
            return 0
        return oldest - self.last - 1


# --- entries ------------------------------------------------------------------------------------


@quick_init
@dataclass(frozen=True)
class Said:
    """A message said in a room (``room``: its key; ``label``: its display name, "" for
    #lobby) by ``sender`` (a session ``session`` of ``node``)."""

    node: str
    session: int
    sender: str
    room: str
    label: str
    text: str
    action: bool
    time: float
    notice: bool = False  # said as an IRC NOTICE
    line: int = 0  # the sender's line it was, named in the sender's confirmation


@quick_init
@dataclass(frozen=True)
class Whispered:
    """A private message from ``sender`` (session ``session`` of ``node``'s run ``run``) to
    ``to``."""

    node: str
    session: int
    sender: str
    to: str
    text: str
    time: float
    notice: bool = False
    line: int = 0
    run: str = ""  # ClusterState.run of the sender's node ("": written by an older node)


@dataclass(frozen=True)
class Arrived:
    """``name`` of ``node`` joined ``room`` (its display name ``label``; #lobby on
    registering)."""

    node: str
    name: str
    room: str
    label: str
    time: float


@dataclass(frozen=True)
class Departed:
    """``name`` of ``node`` left ``room`` for ``reason`` (a part); ``room`` "" (``EVERYWHERE``):
    left the chat (a quit, a drop), so every room it was in. ``label``: the room as its node
    names it (a look-alike room made at once elsewhere is found by it: ``Hub._local_room``;
    "" from a node before it was written)."""

    node: str
    name: str
    room: str
    reason: str
    time: float
    label: str = ""


@dataclass(frozen=True)
class Renamed:
    node: str
    old: str
    new: str
    time: float


@dataclass(frozen=True)
class TopicSet:
    node: str
    name: str
    room: str
    label: str
    topic: str
    time: float


@dataclass(frozen=True)
class Bounced:
    """The private message ``message`` from ``to`` (session ``session`` of run ``run`` of the
    node whose inbox this is in) to ``recipient`` reached ``recipient``'s node, ``node``, but
    never them: they were disconnected (``reason``) before it was written, or had left."""

    node: str
    session: int
    to: str
    recipient: str
    message: int
    reason: str
    time: float
    run: str = ""  # the Whispered's run ("": an older node's, then ``to`` must still match)


@dataclass(frozen=True)
class Gone:
    """``node`` lost its lease: every user of it left (announced once, by the reaper). Or it
    joins again and ``staying`` (``cluster_codec.encode_staying``) names the users it still
    serves: those stay, quietly, and only the others left."""

    node: str
    time: float
    reason: str = ""  # why its users left ("": it lost its lease, codes.SERVER_LOST)
    staying: str = ""  # JSON: name -> its room names ("": nobody, as from an older node)


@dataclass(frozen=True)
class Struck:
    """A wrong server password from ``origin`` (an address, or an IPv6 /64) on ``node``: every
    node counts it against that origin, so that guessing goes no faster on N nodes than on one."""

    node: str
    origin: str
    time: float


EVERYWHERE = ""  # a Departed's room when the user left the chat altogether

Entry = Union[Said, Whispered, Arrived, Departed, Renamed, TopicSet, Gone, Struck, Bounced]
KINDS: dict[str, type[Entry]] = {
    "said": Said,
    "whispered": Whispered,
    "arrived": Arrived,
    "departed": Departed,
    "renamed": Renamed,
    "topic": TopicSet,
    "gone": Gone,
    "struck": Struck,
    "bounced": Bounced,
}
