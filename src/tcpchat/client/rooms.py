"""Your rooms at this end, sans I/O: where you talk, what you are in, what you have seen.

``ClientCore`` keeps one ``MyRooms`` and feeds it the room events: the room your plain lines go
to (``current``), the rooms you are in, every room seen (for Tab), which messages of each room
were shown (so a replay on joining shows each message once) and, after a connection is lost, the
lines that put you back where you were (``rejoin``). It decides; the core says what an event
means, ``render.py`` shows it.
"""

from __future__ import annotations

import dataclasses
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass

from ..core import events as ev
from ..core.limits import LOBBY, MAX_ROOMS_PER_USER
from ..core.names import fold
from ..core.rooms import LOBBY_KEY, room_key

# The ids of the messages shown of each room, so that a replay on joining it again (after a
# reconnect, or a /part and a /join) does not show them twice. A replay is the last 20 messages
# (limits.HISTORY_REPLAY; an operator may set more): 200 per room leaves a wide margin at a few
# kilobytes a room.
SHOWN_PER_ROOM = 200
# Rooms whose shown ids are kept: the rooms a user may be in at once, and as many left since.
SHOWN_ROOMS = 2 * MAX_ROOMS_PER_USER


@dataclass
class _Replay:
    """A replay being received: its opening, how many of its messages were dropped so far."""

    begin: ev.HistoryBegin
    dropped: int = 0
    opened: bool = False


class MyRooms:
    """The rooms of one run of the client, across its connections."""

    def __init__(self) -> None:
        # The room your plain lines go to; None: you are in no room. Before registering: #lobby,
        # where registering puts you.
        self.current: str | None = LOBBY
        self.rooms: list[str] = []  # the rooms you are in, in the order you joined them
        self._known: dict[str, str] = {}  # room_key -> name: every room seen, for Tab
        # Where you were when the connection was lost: (rooms, current), until ``rejoin``.
        self._was: tuple[tuple[str, ...], str | None] | None = None
        self._shown: OrderedDict[str, OrderedDict[int, None]] = OrderedDict()  # by room_key
        self._replay: _Replay | None = None

    # --- the connection -------------------------------------------------------------------------

    def registered(self) -> None:
        """A session began: the server put you in #lobby, talking there."""
        self.rooms, self.current = [LOBBY], LOBBY
        self.know(LOBBY)

    def lost(self) -> None:
        """The connection of a registered session is gone: remember where you were."""
        self._was = (tuple(self.rooms), self.current)
        self._replay = None

    def rejoin(self) -> list[str]:
        """After registering on a new connection: the lines to send (paced, before anything
        typed) that put you back in the rooms you were in when the connection was lost, talking
        in the same one. Empty on the first connection, and once taken."""
        was, self._was = self._was, None
        if was is None:
            return []
        rooms, current = was
        keys = [room_key(r) for r in rooms]
        others = [r for r, k in zip(rooms, keys) if k != LOBBY_KEY]
        lines = [f"/join {r}" for r in others]
        in_lobby = LOBBY_KEY in keys
        if not in_lobby:
            lines.append(f"/part {LOBBY}")  # registering put you back in it
        # Where the server has you talk after these: the last room joined (a /part of another
        # room keeps it), else #lobby if you are in it.
        talking = others[-1] if others else (LOBBY if in_lobby else None)
        if current is not None and (talking is None or room_key(current) != room_key(talking)):
            lines.append(f"/join {current}")
        return lines

    # --- joining and leaving --------------------------------------------------------------------

    def entered(self, event: ev.InRoom) -> None:
        """The answer to /join: you are in the room (maybe already) and talk there."""
        self.know(event.room)
        if _find(self.rooms, event.room) is None:
            self.rooms.append(event.room)
        self.current = event.room

    def parted(self, event: ev.Parted) -> None:
        found = _find(self.rooms, event.room)
        if found is not None:
            del self.rooms[found]
        self.current = event.current
        if event.current is not None:
            self.know(event.current)

    def listed(self, event: ev.RoomList) -> None:
        """The answer to /rooms: the rooms that exist now (the server forgets an empty one)."""
        self._known = {}
        for name in [*(r for r, _, _ in event.rooms), *self.rooms]:
            self.know(name)

    def know(self, room: str | None) -> None:
        """``room`` was named by an event (None: #lobby, as a message or notice of it says)."""
        name = room or LOBBY
        self._known.setdefault(room_key(name), name)

    def known(self) -> list[str]:
        """Every room seen (in ``/rooms``, joined, named by a message or a notice), sorted."""
        return sorted(self._known.values(), key=fold)

    # --- which room an event belongs to ---------------------------------------------------------

    def elsewhere(self, room: str | None) -> str | None:
        """The room of a public message (None: #lobby) when you talk in another one, or none."""
        name = room or LOBBY
        if self.current is not None and room_key(name) == room_key(self.current):
            return None
        return name

    def lobby_elsewhere(self, room: str | None) -> str | None:
        """#lobby for a notice of #lobby while you talk in another room: its words do not name
        #lobby (as in a chat without rooms), those of another room's notice name that room."""
        if room is not None and room_key(room) != LOBBY_KEY:
            return None
        return self.elsewhere(LOBBY)

    # --- messages shown once --------------------------------------------------------------------

    def saw(self, room: str | None, message_id: int) -> bool:
        """The message ``message_id`` of ``room`` (None: #lobby) is shown; False if it was
        before."""
        key = room_key(room or LOBBY)
        ids = self._shown.get(key)
        if ids is None:
            ids = self._shown[key] = OrderedDict()
            while len(self._shown) > SHOWN_ROOMS:
                self._shown.popitem(last=False)
        else:
            self._shown.move_to_end(key)
        if message_id in ids:
            return False
        ids[message_id] = None
        while len(ids) > SHOWN_PER_ROOM:
            ids.popitem(last=False)
        return True

    def history_begins(self, event: ev.HistoryBegin) -> bool:
        """Earlier messages follow; True if the opening is held back: a replay on joining, opened
        only before its first message not shown before (a page or a search was asked for, and
        is shown whole)."""
        self.know(event.room)
        self._replay = _Replay(event) if event.kind == "replay" else None
        return self._replay is not None

    def from_history(self, event: ev.Message) -> tuple[bool, ev.HistoryBegin | None]:
        """A message of the history: (whether to hide it, a held-back opening to show first,
        with the count of what is left to show)."""
        new = self.saw(event.room, event.id)
        replay = self._replay
        if replay is None:
            return False, None
        if not new:
            replay.dropped += 1
            return True, None
        if replay.opened:
            return False, None
        replay.opened = True
        begin = replay.begin
        return False, dataclasses.replace(begin, count=begin.count - replay.dropped)

    def history_ends(self, event: ev.HistoryEnd) -> bool:
        """The end of earlier messages; True if it is hidden: a replay that showed nothing."""
        replay, self._replay = self._replay, None
        return replay is not None and event.kind == "replay" and not replay.opened


def _find(rooms: Sequence[str], room: str) -> int | None:
    """The index of ``room`` in ``rooms`` (by key), or None."""
    key = room_key(room)
    return next((i for i, r in enumerate(rooms) if room_key(r) == key), None)


def rooms_like(word: str, rooms: Sequence[str]) -> list[str]:
    """Tab: the rooms whose name starts with ``word`` (its ``#`` may be left out, as in
    ``/join ops``), each with a space after it."""
    prefix = fold(word.removeprefix("#"))
    found = sorted((r for r in rooms if fold(r[1:]).startswith(prefix)), key=fold)
    return [r + " " for r in found]
