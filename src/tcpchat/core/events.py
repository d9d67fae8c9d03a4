"""What the hub tells clients: one frozen dataclass per event (``output.py`` says to whom).

Events are nouns; ``wire.render`` turns each into a text or JSON line. Every event carries the
server time (seconds since the epoch) that the hub was given when it made the event.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Union


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
    users: tuple[str, ...]


@dataclass(frozen=True)
class Joined:
    time: float
    name: str
    online: int


@dataclass(frozen=True)
class Left:
    time: float
    name: str
    reason: str
    online: int


@dataclass(frozen=True)
class Renamed:
    time: float
    old: str
    new: str
    you: bool


@dataclass(frozen=True)
class Message:
    time: float
    id: int
    sender: str
    to: str | None  # the recipient's name for a private message
    action: bool
    text: str
    room: str | None = None  # the room it was said in (display name); None for a private one
    history: bool = False  # sent again from the history (a replay, /history, /search)


@dataclass(frozen=True)
class Delivered:
    time: float
    id: int
    to: str | None  # None: everyone else
    action: bool
    text: str
    recipients: int
    line: int = 0  # the number of the sender's line this answers (its lines count from 1)


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
    Help,
    Error,
    PingRequest,
    PongReply,
    Shutdown,
    Bye,
]
