"""What the hub tells clients: one frozen dataclass per event (``output.py`` says to whom).

Events are nouns; ``wire.render`` turns each into a text or JSON line. Every event carries the
server time (seconds since the epoch) that the hub was given when it made the event.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Union

from .records import quick_init


@dataclass(frozen=True)
class Welcome:
    time: float
    version: str
    online: int | None  # None before the server password: nothing about the chat until then
    max_line: int  # the limits a well-behaved client paces itself by
    flood_burst: float
    flood_rate: float


@dataclass(frozen=True)
class Prompt:
    time: float
    field: str  # "name" or "password"


@dataclass(frozen=True)
class ModeChanged:
    time: float
    mode: str


@dataclass(frozen=True)
class Registered:
    time: float
    name: str
    users: tuple[str, ...]  # who is online, sorted; the first limits.REGISTERED_NAMES_SHOWN
    more: int = 0  # how many more are online than listed


@dataclass(frozen=True)
class Joined:
    time: float
    name: str
    online: int  # members of the room now (of #lobby: users online, as before rooms)
    room: str | None = None  # None: #lobby (as in a chat without rooms)


@dataclass(frozen=True)
class Left:
    time: float
    name: str
    reason: str  # why the session ended, or codes.part_reason for a /part
    online: int  # members left in the room
    room: str | None = None  # None: #lobby (as in a chat without rooms)


@dataclass(frozen=True)
class Renamed:
    time: float
    old: str
    new: str
    you: bool


@quick_init
@dataclass(frozen=True)
class Message:
    time: float
    id: int
    sender: str
    to: str | None  # the recipient's name for a private message
    action: bool
    text: str
    # The room it was said in; None for #lobby (as in a chat without rooms) and private messages.
    room: str | None = None
    history: bool = False  # sent again from the history (a replay, /history, /search)
    notice: bool = False  # sent as an IRC NOTICE (shown as any message; IRC gets a NOTICE)


@quick_init
@dataclass(frozen=True)
class Delivered:
    time: float
    id: int
    to: str | None  # None: everyone else
    action: bool
    text: str
    recipients: int
    line: int = 0  # the number of the sender's line this answers (its lines count from 1)
    room: str | None = None  # the room of a public message; None: #lobby
    notice: bool = False  # as in Message
    # A room message said while this server was cut off from the rest of its cluster: only
    # its own users could get it (``recipients`` counts them), whoever else is in the room.
    local: bool = False


@dataclass(frozen=True)
class Undelivered:
    """A private message the sender was told was delivered never left the server: its recipient
    was disconnected first."""

    time: float
    id: int  # the message's id, as in its ``Delivered``
    to: str
    reason: str  # why the recipient was disconnected


@dataclass(frozen=True)
class UserList:
    time: float
    users: tuple[str, ...]
    room: str | None = None  # None: everyone online; else the members of this room (#lobby too)


@dataclass(frozen=True)
class InRoom:
    """Your answer to ``/join``: you are in ``room`` and your plain lines go there now."""

    time: float
    room: str
    online: int  # members, you included
    users: tuple[str, ...]  # the first limits.ROOM_NAMES_SHOWN of them, sorted
    topic: str
    joined: bool  # False: you were in it already and only made it your current room


@dataclass(frozen=True)
class Parted:
    """Your answer to ``/part``: you left ``room``; ``current`` is where your lines go now."""

    time: float
    room: str
    current: str | None  # None: you are in no room
    reason: str = ""  # what you gave with /part, as the room's leave notice says it


@dataclass(frozen=True)
class RoomList:
    time: float
    rooms: tuple[tuple[str, int, str], ...]  # (name, members, topic), sorted by name


@dataclass(frozen=True)
class Topic:
    time: float
    room: str
    topic: str  # "" for none
    by: str | None  # who set it just now; None when you asked what it is


@dataclass(frozen=True)
class Crowd:
    """The joins or leaves of a big room in the last second, as one notice."""

    time: float
    room: str
    joined: bool  # True: these joined; False: these left
    names: tuple[str, ...]  # the first few (limits.CROWD_NAMES_*)
    count: int  # how many in all
    online: int  # members of the room now


@dataclass(frozen=True)
class HistoryBegin:
    """Earlier messages of ``room`` follow (``count`` ``Message`` events with ``history`` set),
    then a ``HistoryEnd``: a replay on joining, a page of ``/history`` or ``/search`` results."""

    time: float
    room: str
    kind: str  # "replay", "page" or "search"
    count: int
    query: str = ""  # what was searched for


@dataclass(frozen=True)
class HistoryEnd:
    time: float
    room: str
    kind: str
    count: int


@dataclass(frozen=True)
class Help:
    time: float
    commands: tuple[tuple[str, str], ...]  # (usage, help)


@dataclass(frozen=True)
class Error:
    time: float
    code: str
    text: str
    line: int = 0  # the number of the line this answers (the client's lines count from 1)


@dataclass(frozen=True)
class PingRequest:
    time: float
    token: str


@dataclass(frozen=True)
class PongReply:
    time: float
    token: str


@dataclass(frozen=True)
class Shutdown:
    time: float
    text: str


@dataclass(frozen=True)
class Notice:
    """Something the server tells every user about itself, such as its link to the other
    servers of a cluster (``code``: ``codes.CLUSTER_DOWN``, ``codes.CLUSTER_UP``)."""

    time: float
    code: str
    text: str


@dataclass(frozen=True)
class Bye:
    """The last event of a session: the transport sends it, flushes, then closes."""

    time: float
    reason: str  # short, as in a leave notice: "quit", "timed out", "flooding", ...
    text: str  # the farewell a person reads


Event = Union[
    Welcome,
    Prompt,
    ModeChanged,
    Registered,
    Joined,
    Left,
    Renamed,
    Message,
    Delivered,
    Undelivered,
    UserList,
    InRoom,
    Parted,
    RoomList,
    Topic,
    Crowd,
    HistoryBegin,
    HistoryEnd,
    Help,
    Error,
    PingRequest,
    PongReply,
    Shutdown,
    Notice,
    Bye,
]
