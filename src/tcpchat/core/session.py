"""A connection as the hub sees it, and the states it goes through.

``State`` is the session's life (awaiting password -> awaiting name -> active -> closed); which
commands each state accepts is the table at the end of ``hub.py``.
"""

from __future__ import annotations

import enum
from typing import Any

from .codes import TEXT
from .events import Undelivered
from .rooms import Room


class State(enum.Enum):
    PASSWORD = "awaiting password"
    NAME = "awaiting name"
    CLAIMING = "claiming name"  # cluster mode: waiting for the other nodes to agree on the name
    ACTIVE = "active"
    CLOSED = "closed"


class Session:
    """One connection as the hub sees it. The transport may keep its own object in ``link``."""

    __slots__ = (
        "id",
        "peer",
        "origin",
        "state",
        "name",
        "key",
        "mode",
        "link",
        "last_seen",
        "pinged_at",
        "started",
        "tokens",
        "tokens_at",
        "refused",
        "bad_lines",
        "unknown",
        "name_tries",
        "password_tries",
        "lines",
        "rooms",
        "current",
        "node",
        "renaming",
        "shared",
        "whispering",
        "held",
    )

    def __init__(
        self, session_id: int, peer: str, now: float, burst: float, origin: str = ""
    ) -> None:
        self.id = session_id
        self.peer = peer
        self.origin = origin or peer  # what its address counts under (admission.origin_of)
        self.state = State.NAME
        self.name = ""  # display form, set once registered
        self.key = ""  # name_key(name)
        self.mode = TEXT
        self.link: Any = None  # the transport's connection object
        self.started = now
        self.last_seen = now
        self.pinged_at: float | None = None
        self.tokens = burst
        self.tokens_at = now
        self.refused = 0
        self.bad_lines = 0
        self.unknown = 0
        self.name_tries = 0
        self.password_tries = 0
        self.lines = 0  # lines received; answers name the line they answer by this number
        self.rooms: list[Room[Session]] = []  # the rooms it is in, in the order it joined them
        self.current: Room[Session] | None = None  # where its plain lines go
        # Cluster mode: the node a user of another server is on (None: this one, with a link).
        self.node: str | None = None
        self.renaming = ""  # cluster mode: the name a /nick waits for the cluster to grant
        # Cluster mode: the cluster granted this user's name (not one let in while this node was
        # cut off, whose claim waits for the link): the other nodes know of it.
        self.shared = False
        # Cluster mode: private messages handed to the cluster and not answered yet, and the
        # "not delivered" notices that wait for those answers (never before their "Delivered").
        self.whispering = 0
        self.held: tuple[Undelivered, ...] = ()  # (no list per session: it is rarely used)

    def __repr__(self) -> str:
        return f"<Session {self.id} {self.name or '-'} {self.state.value}>"
