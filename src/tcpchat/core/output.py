"""What the hub tells the transport to do: explicit instructions, in the order to carry them out.

Every call into the hub returns a list of these. The transport acts on each by its type and never
has to infer the hub's intent from an event's type or an object's identity:

- ``ToAll``: send an event to everyone online when the transport routes it (but ``skip``);
- ``ToSessions``: send an event to these sessions;
- ``Online``: a session joined: from now on it gets what goes to all;
- ``Close``: close a session's connection once what is queued for it has been written.

A room, or the users of another node, would be one more kind of recipient here.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Union

from .events import Event
from .session import Session


@dataclass(frozen=True)
class ToAll:
    """``event`` for every session online, except ``skip`` (a sender, who gets a confirmation)."""

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


@dataclass(frozen=True)
class Online:
    """``session`` is online: events to all reach it from here on (after its ``Registered``)."""

    session: Session


@dataclass(frozen=True)
class Close:
    """Close ``session``'s connection once everything queued for it is written (its last words
    were the instruction before); ``reason`` is why, as in the leave notice."""

    session: Session
    reason: str


Instruction = Union[ToAll, ToSessions, Online, Close]
Out = list[Instruction]


def to(session: Session, event: Event) -> ToSessions:
    """``event`` for ``session`` alone."""
    return ToSessions((session,), event)
