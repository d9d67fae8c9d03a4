"""Who is online: the one place that maps names to active sessions."""

from __future__ import annotations

import bisect

from .codes import is_irc
from .limits import NAME_MAX_CHARS
from .names import fold, look_keys, name_key, past_length
from .session import Session


class Roster:
    """Who is online: the one place that maps names to active sessions.

    ``everyone`` is a tuple cached until the next join or leave, so the transport's flush walks
    everyone online without building a list per message. ``names`` is kept sorted as users come
    and go (a bisect, not a sort per join). A room, or the users of another node, would be
    another roster. ``irc_users`` counts those of this server on its IRC listener as they come
    and go, so that LUSERS does not walk everyone (core/irc_queries.py).
    """

    def __init__(self) -> None:
        self._by_key: dict[str, Session] = {}
        # Every look key of everyone online (names.look_keys): no two people share one.
        self._by_look: dict[str, Session] = {}
        self._sorted: list[tuple[str, str]] = []  # (fold(name), display name), in that order
        self._everyone: tuple[Session, ...] | None = None
        self._names: tuple[str, ...] | None = None
        # This server's IRC users (a session's mode says IRC from its connection to its end).
        self._irc: dict[Session, None] = {}

    def __len__(self) -> int:
        return len(self._by_key)

    @property
    def irc_users(self) -> int:
        """How many of those online are this server's users on its IRC listener."""
        return len(self._irc)

    def find(self, name: str) -> Session | None:
        if past_length(name, NAME_MAX_CHARS):
            return None
        return self._by_key.get(name_key(name))

    def look_alike(self, name: str, other_than: Session | None) -> Session | None:
        """Someone online, besides ``other_than``, whose name cannot be told apart from ``name``."""
        for key in look_keys(name):
            holder = self._by_look.get(key)
            if holder is not None and holder is not other_than:
                return holder
        return None

    def add(self, session: Session) -> None:
        self._by_key[session.key] = session
        self._by_look.update(dict.fromkeys(look_keys(session.name), session))
        bisect.insort(self._sorted, (fold(session.name), session.name))
        self._everyone = self._names = None
        if session.node is None and is_irc(session.mode):
            self._irc[session] = None

    def remove(self, session: Session) -> None:
        if self._by_key.get(session.key) is session:
            del self._by_key[session.key]
            for key in look_keys(session.name):
                if self._by_look.get(key) is session:
                    del self._by_look[key]
            entry = (fold(session.name), session.name)
            index = bisect.bisect_left(self._sorted, entry)
            if index < len(self._sorted) and self._sorted[index] == entry:
                del self._sorted[index]
            self._everyone = self._names = None
            self._irc.pop(session, None)

    def everyone(self) -> tuple[Session, ...]:
        if self._everyone is None:
            self._everyone = tuple(self._by_key.values())
        return self._everyone

    def first_names(self, count: int) -> tuple[str, ...]:
        """The first ``count`` display names in the order of ``names``, without building all."""
        if self._names is not None or len(self._sorted) <= count:
            return self.names()[:count]
        return tuple(name for _, name in self._sorted[:count])

    def names(self) -> tuple[str, ...]:
        """Display names of everyone online, sorted case-insensitively."""
        if self._names is None:
            self._names = tuple(name for _, name in self._sorted)
        return self._names
