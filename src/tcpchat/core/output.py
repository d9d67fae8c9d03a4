"""What the hub tells the transport to do: explicit instructions, in the order to carry them out.

Every call into the hub returns a list of these. The transport acts on each by its type and never
has to infer the hub's intent from an event's type or an object's identity:

- ``ToAll``: send an event to everyone in ``#lobby`` when the transport routes it (but ``skip``):
  the room everyone joins on registration, so the transport shares one rendering among them all;
- ``ToSessions``: send an event to these sessions (the members of another room, one person);
- ``Online``: a session entered ``#lobby``: from now on it gets what goes to all;
- ``Offline``: a session left ``#lobby`` (``/part``): from now on it does not;
- ``Close``: close a session's connection once what is queued for it has been written.

In cluster mode (docs/CLUSTER.md) the hub also tells the cluster's bus what to do:

- ``Publish``: append an entry to the cluster's log (a room message, a presence change);
- ``Whisper``: append a private message to the inbox of the node its recipient is on;
- ``Claim``: claim a name cluster-wide, answered by ``Hub.claimed``;
- ``Release``: let a name go.

The users of other nodes are sessions without a connection: nothing is ever sent to them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Union

from .cluster import Bounced, Entry, Whispered
from .events import Event
from .records import quick_init
from .session import Session


@quick_init
@dataclass(frozen=True)
class ToAll:
    """``event`` for every session in ``#lobby``, except ``skip`` (a sender, who gets a
    confirmation). Who is in ``#lobby`` is what ``Online`` and ``Offline`` said, in order."""

    event: Event
    skip: Session | None = None


@quick_init
@dataclass(frozen=True)
class ToSessions:
    """``event`` for each session in ``to``.

    ``confirmed``: the session that was told this event was delivered (a private message's
    sender; in a cluster, the private message as a user of another node sent it). If the
    transport discards the event unsent, it hands the instruction back to ``Hub.undelivered``
    so that sender learns it.
    """

    to: tuple[Session, ...]
    event: Event
    confirmed: Session | Whispered | None = None
    skip: Session | None = None  # one of ``to`` that does not get it (the sender in a room)


@dataclass(frozen=True)
class Online:
    """``session`` is online: events to all reach it from here on (after its ``Registered``)."""

    session: Session


@dataclass(frozen=True)
class Offline:
    """``session`` left ``#lobby``: events to all no longer reach it (after those before this)."""

    session: Session


@dataclass(frozen=True)
class Close:
    """Close ``session``'s connection once everything queued for it is written (its last words
    were the instruction before); ``reason`` is why, as in the leave notice."""

    session: Session
    reason: str


# What a presence entry changes in the node's record of its users (a joining node's snapshot):
# (display name, the names of the rooms it is in now), the rooms None when it left.
MemberChange = tuple[str, Union[tuple[str, ...], None]]


@quick_init
@dataclass(frozen=True)
class Publish:
    """Append ``entry`` to the cluster's log; ``members``: what it changes in this node's record
    of its users, written in the same step. ``sender``: the session whose message it is, told if
    it cannot be sent, in answer to its line ``line`` (a message's own is in its entry)."""

    entry: Entry
    members: tuple[MemberChange, ...] = ()
    sender: Session | None = None
    line: int = 0


@dataclass(frozen=True)
class Whisper:
    """Append the private message ``entry`` to ``node``'s inbox if ``node`` still holds its
    recipient's name; the answer goes to ``Hub.whispered``. Or (``sender`` None) tell a user of
    ``node`` that a private message of theirs was not delivered after all."""

    node: str
    entry: Whispered | Bounced
    sender: Session | None


@dataclass(frozen=True)
class Claim:
    """Claim ``name`` for ``session`` on every node; the answer goes to ``Hub.claimed``.
    ``old``: the name a rename gives up; ``late``: the session already uses the name (claimed
    while the link was down, or again after this node was dropped from the cluster); ``line``:
    the session's line that asked for it, which a refusal answers."""

    session: Session
    name: str
    old: str = ""
    late: bool = False
    line: int = 0


@dataclass(frozen=True)
class Release:
    """``name`` is free again on every node."""

    name: str


@dataclass(frozen=True)
class Refresh:
    """Read again who is where in the cluster (its answer goes to ``Hub.add_missing``): this
    node had to leave someone of another node out for a while (a name held here that another
    node was given while this one was cut off)."""


Instruction = Union[
    ToAll, ToSessions, Online, Offline, Close, Publish, Whisper, Claim, Release, Refresh
]
Out = list[Instruction]


def to(session: Session, event: Event) -> ToSessions:
    """``event`` for ``session`` alone."""
    return ToSessions((session,), event)
