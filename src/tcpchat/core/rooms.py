"""Rooms: who is in each, its topic, the notices a big room gathers, and the rules of a room name.

A room is made by the first ``/join`` and forgotten when its last member leaves (its topic and
history stay in the archive); ``#lobby`` is always there and everyone joins it on registration.
Room names follow the rules of chat names (``names.py``): letters of one script, digits, ``-`` and
``_`` after a ``#``, unique by their NFKC case-folded look-alike keys, so ``#Ops``, ``#OPS`` and
``#ｏｐｓ`` (full-width) are one room, and ``#lI`` is refused while ``#Il`` exists.
"""

from __future__ import annotations

from typing import Generic, Protocol, TypeVar

from . import codes
from .limits import LOBBY, ROOM_NAME_MAX_CHARS
from .names import (
    category,
    display_form,
    fold,
    is_invisible,
    look_keys,
    mark_problem,
    mixes_scripts,
    name_key,
    past_length,
)

_ALLOWED_PUNCTUATION = frozenset("-_")


def room_key(name: str) -> str:
    """A room's identity: the key of its name, as for chat names (case and look-alikes folded)."""
    return name_key(name)


LOBBY_KEY = room_key(LOBBY)


def room_name(text: str) -> str:
    """What a user typed as a room, as a room name: ``ops`` is ``#ops``."""
    text = display_form(text.strip())
    return text if text.startswith("#") else "#" + text


def room_problem(name: str, trusted: bool = False) -> tuple[str, str] | None:
    """Why ``name`` (with its ``#``) cannot be a room: (error code, sentence); None if it can.
    ``trusted``: another node of the cluster accepted it (``names.category``)."""
    bare = name[1:]
    usage = (
        "A room name is # followed by letters of one script, digits, '-' and '_', "
        f"at most {ROOM_NAME_MAX_CHARS} characters in all (#ops, #общий)."
    )
    if not name.startswith("#") or not bare or len(name) > ROOM_NAME_MAX_CHARS:
        return codes.ROOM_INVALID, usage
    for i, ch in enumerate(bare):
        kind = category(ch, trusted)
        if is_invisible(ch):
            return codes.ROOM_INVALID, "A room name may not contain invisible characters."
        if kind[0] == "L" or kind == "Nd" or ch in _ALLOWED_PUNCTUATION:
            continue
        if kind[0] == "M" and i > 0:
            continue
        return codes.ROOM_INVALID, usage
    # Not asked of a room another node accepted: a node of a version before this rule did.
    marks = None if trusted else mark_problem(bare, "room name")
    if marks is not None:
        return codes.ROOM_INVALID, marks
    if mixes_scripts(bare):
        return codes.ROOM_INVALID, "A room name uses the letters of one script, not several."
    return None


class Member(Protocol):
    """What a room needs of its members (the hub's sessions; ``session.py`` imports this module,
    so this one names them by what it uses)."""

    name: str

    def __hash__(self) -> int: ...


M = TypeVar("M", bound=Member)


class Room(Generic[M]):
    """One room: its members in the order they joined, its topic, and its gathered notices."""

    __slots__ = (
        "name",
        "key",
        "is_lobby",
        "label",
        "topic",
        "topic_by",
        "topic_at",
        "_members",
        "_everyone",
        "joins",
        "leaves",
        "crowd",
    )

    def __init__(self, name: str, topic: str = "", by: str = "", at: float = 0.0) -> None:
        self.name = name  # display form, as its first member typed it (or as the archive kept it)
        self.key = room_key(name)
        self.is_lobby = self.key == LOBBY_KEY
        # The room as the events of a 2.0 chat name it: None for #lobby (where everything
        # happened before rooms, so its messages and notices stay byte for byte what they
        # were), the name for any other room.
        self.label = None if self.is_lobby else name
        self.topic = topic
        self.topic_by = by  # who set or cleared the topic ("": not known)
        self.topic_at = at  # when (0: not known)
        self._members: dict[M, None] = {}
        self._everyone: tuple[M, ...] | None = None
        # Joins and leaves of a big room not announced yet: the first names, and how many.
        self.joins: list[str] = []
        self.leaves: list[str] = []
        self.crowd = [0, 0]  # [joined, left] since the last notice

    def __len__(self) -> int:
        return len(self._members)

    def __contains__(self, session: object) -> bool:
        return session in self._members

    def __repr__(self) -> str:
        return f"<Room {self.name} {len(self)}>"

    def add(self, member: M) -> None:
        self._members[member] = None
        self._everyone = None

    def remove(self, member: M) -> None:
        if self._members.pop(member, 0) is None:
            self._everyone = None

    def everyone(self) -> tuple[M, ...]:
        """The members, as a tuple cached until the next join or leave (no copy per message)."""
        if self._everyone is None:
            self._everyone = tuple(self._members)
        return self._everyone

    def names(self) -> tuple[str, ...]:
        """Members' display names, sorted case-insensitively."""
        return tuple(sorted((s.name for s in self._members), key=fold))


class Rooms(Generic[M]):
    """Every room that exists now, by key and by look-alike key."""

    def __init__(self) -> None:
        self.lobby: Room[M] = Room(LOBBY)
        self._by_key: dict[str, Room[M]] = {self.lobby.key: self.lobby}
        self._by_look: dict[str, Room[M]] = dict.fromkeys(look_keys(LOBBY), self.lobby)
        # How many of this server's users are in each room that has any: in a cluster a room's
        # members may all be on other nodes, and each node's limit counts only the rooms its own
        # users are in (``used_here``).
        self._here: dict[str, int] = {}

    def __len__(self) -> int:
        return len(self._by_key)

    @property
    def used_here(self) -> int:
        """How many rooms this server's users are in, the lobby always counted (every room,
        without a cluster)."""
        return len(self._here) + (self.lobby.key not in self._here)

    def entered(self, room: Room[M]) -> None:
        """One of this server's users is now in ``room``."""
        self._here[room.key] = self._here.get(room.key, 0) + 1

    def left(self, room: Room[M]) -> None:
        """One of this server's users is out of ``room``."""
        count = self._here.get(room.key, 0) - 1
        if count > 0:
            self._here[room.key] = count
        else:
            self._here.pop(room.key, None)

    def find(self, name: str) -> Room[M] | None:
        """The room called ``name``, or one that cannot be told apart from it."""
        if past_length(name, ROOM_NAME_MAX_CHARS):
            return None
        for key in look_keys(name):
            room = self._by_look.get(key)
            if room is not None:
                return room
        return None

    def by_key(self, key: str) -> Room[M] | None:
        """The room whose key (``room_key``) is ``key``."""
        return self._by_key.get(key)

    def add(self, room: Room[M]) -> None:
        """A new room; the look-alike keys another room holds stay that room's."""
        self._by_key[room.key] = room
        for key in look_keys(room.name):
            self._by_look.setdefault(key, room)

    def forget(self, room: Room[M]) -> None:
        """Drop an empty room (never the lobby): its name is free again."""
        if room.is_lobby or len(room) or self._by_key.get(room.key) is not room:
            return
        del self._by_key[room.key]
        self._here.pop(room.key, None)
        for key in look_keys(room.name):
            if self._by_look.get(key) is room:
                del self._by_look[key]

    def all(self) -> list[Room[M]]:
        """Every room, sorted by name case-insensitively."""
        return sorted(self._by_key.values(), key=lambda room: fold(room.name))
