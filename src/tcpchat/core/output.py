"""What the hub tells the transport to do: explicit instructions, in the order to carry them out.

Every call into the hub returns a list of these. The transport acts on each by its type and never
has to infer the hub's intent from an event's type or an object's identity:

- ``ToAll``: send an event to everyone in ``#lobby`` when the transport routes it (but ``skip``):
  the room everyone joins on registration, so the transport shares one rendering among them all;
- ``ToSessions``: send an event to these sessions (the members of another room, one person);
- ``Online``: a session entered ``#lobby``: from now on it gets what goes to all;
- ``Offline``: a session left ``#lobby`` (``/part``): from now on it does not;
- ``Close``: close a session's connection once what is queued for it has been written.

The users of another node would be one more kind of recipient here.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Union

from .events import Event
from .session import Session


@dataclass(frozen=True)
class ToAll:
    """``event`` for every session in ``#lobby``, except ``skip`` (a sender, who gets a
    confirmation). Who is in ``#lobby`` is what ``Online`` and ``Offline`` said, in order."""

    event: Event
    skip: Session | None = None


@dataclass(frozen=True)
class ToSessions:
    """``event`` for each session in ``to``.

    ``confirmed``: the session that was told this event was delivered (a private message's
    sender). If the transport discards the event unsent, it hands the instruction back to
    ``Hub.undelivered`` so that sender learns it.
    """

    to: tuple[Session, ...]
    event: Event
    confirmed: Session | None = None
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


Instruction = Union[ToAll, ToSessions, Online, Offline, Close]
Out = list[Instruction]


def to(session: Session, event: Event) -> ToSessions:
    """``event`` for ``session`` alone."""
    return ToSessions((session,), event)
