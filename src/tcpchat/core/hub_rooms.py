"""The hub's rooms: joining, leaving, topics, the notices of big rooms, history and search.

``Hub`` (``hub.py``) inherits these handlers; its state table wires them to commands. What goes to
a room goes to ``#lobby`` as ``ToAll`` (the transport shares one rendering among everyone there)
and to any other room as ``ToSessions`` with its members, so the order of instructions is the
order of membership: nobody gets what was said in a room before they joined it.
"""

from __future__ import annotations

import dataclasses
import itertools

from . import codes
from . import commands as cmd
from . import events as ev
from .archive import Archive, KeptTopic, SearchRefused
from .limits import (
    CROWD_NAMES_JSON,
    LOBBY,
    MAX_TOPIC_CHARS,
    ROOM_NAMES_SHOWN,
    SEARCH_QUERY_MAX_CHARS,
    SEARCH_RESULTS_MAX,
    HubLimits,
)
from .output import Instruction, Offline, Online, Out, ToAll, ToSessions, to
from .rooms import Room, Rooms, room_key, room_name, room_problem
from .roster import Roster
from .session import Session


class RoomHandlers:
    """Handlers for the room commands; the hub supplies the state and ``_error``."""

    config: HubLimits
    rooms: Rooms[Session]
    roster: Roster
    archive: Archive
    _crowded: dict[Room[Session], None]  # big rooms with gathered joins or leaves, in order

    def _error(
        self, session: Session, now: float, code: str, text: str, line: int | None = None
    ) -> Out:
        raise NotImplementedError  # Hub._error

    # What a change tells the other nodes of a cluster (hub_cluster.py); nothing standalone.
    def _share_join(self, session: Session, room: Room[Session], now: float) -> Out:
        raise NotImplementedError

    def _share_part(self, session: Session, room: Room[Session], reason: str, now: float) -> Out:
        raise NotImplementedError

    def _share_topic(self, session: Session, room: Room[Session], topic: str, now: float) -> Out:
        raise NotImplementedError

    def _topics_from_log(self) -> bool:
        """True if a topic takes effect when read back from the cluster's log."""
        raise NotImplementedError

    def _cut_off(self) -> bool:
        """True in a cluster whose link to the other servers is down."""
        raise NotImplementedError

    def _reach(self, room: Room[Session]) -> int:
        raise NotImplementedError

    # --- handlers -------------------------------------------------------------------------------

    def _join(self, session: Session, command: cmd.Join, now: float) -> Out:
        name = room_name(command.room)
        problem = room_problem(name)
        if problem is not None:
            return self._error(session, now, *problem)
        room = self.rooms.find(name)
        if room is not None and room.key != room_key(name):  # (a member too: one answer)
            return self._error(
                session,
                now,
                codes.ROOM_INVALID,
                f"{name} looks too much like {room.name}: join {room.name} or choose another name.",
            )
        if room is not None and session in room:
            session.current = room
            return [to(session, self._in_room(room, now, joined=False))]
        cfg = self.config
        if len(session.rooms) >= cfg.max_rooms_per_user:
            return self._error(
                session,
                now,
                codes.TOO_MANY_ROOMS,
                f"You are in {len(session.rooms)} rooms, the most one user may be in: "
                "/part one first.",
            )
        if room is None:
            used = self.rooms.used_here  # in a cluster, other nodes' users' rooms count there
            if used >= cfg.max_rooms:
                where = (
                    "This server has" if used == len(self.rooms) else "Users of this server are in"
                )
                return self._error(
                    session,
                    now,
                    codes.TOO_MANY_ROOMS,
                    f"{where} {used} rooms, the most it allows: join one of them (/rooms).",
                )
            room = self._made(name)
        self._put(session, room)
        out: Out = [Online(session)] if room.is_lobby else []
        out.append(to(session, self._in_room(room, now, joined=True)))
        if cfg.history_replay:
            out += self._history(session, room, now, "replay", cfg.history_replay)
        out += self._arrived(room, session, now, again=True)
        out += self._share_join(session, room, now)
        return out

    def _part(self, session: Session, command: cmd.Part, now: float) -> Out:
        reason = command.reason
        if command.room:
            name = room_name(command.room)
            room = self.rooms.find(name)
            if room is None or session not in room:
                return self._error(session, now, codes.NOT_IN_ROOM, f"You are not in {name}.")
        elif (named := self._named_room(session, reason)) is not None:
            # "/part ops" as "/join ops": a first word naming a room you are in is that room.
            room, reason = named, reason.partition(" ")[2].strip()
        elif session.current is None:
            return self._error(session, now, codes.NOT_IN_ROOM, "You are in no room.")
        else:
            room = session.current
        return self._leave_room(session, room, codes.part_reason(reason), now)

    def _named_room(self, session: Session, text: str) -> Room[Session] | None:
        """The room of ``session``'s that the first word of ``text`` names without its "#"."""
        word = text.partition(" ")[0]
        room = self.rooms.find(room_name(word)) if word else None
        return room if room is not None and session in room else None

    def _part_all(self, session: Session, command: cmd.PartAll, now: float) -> Out:
        out: Out = []
        for room in list(session.rooms):
            out += self._leave_room(session, room, codes.PART, now)
        return out

    def _leave_room(self, session: Session, room: Room[Session], reason: str, now: float) -> Out:
        """``session`` parts ``room`` (one it is in): it is told, and so is the room."""
        out: Out = [Offline(session)] if room.is_lobby else []
        session.rooms.remove(room)
        if session.current is room:
            session.current = session.rooms[-1] if session.rooms else None
        current = session.current.name if session.current is not None else None
        said = reason[len(codes.PART) + 2 :] if reason.startswith(codes.PART + ": ") else ""
        out.append(to(session, ev.Parted(now, room.name, current, said)))
        out += self._departed(room, session, now, reason)
        out += self._share_part(session, room, reason, now)
        return out

    def _rooms(self, session: Session, command: cmd.ListRooms, now: float) -> Out:
        rooms = tuple((room.name, len(room), room.topic) for room in self.rooms.all())
        return [to(session, ev.RoomList(now, rooms))]

    def _topic(self, session: Session, command: cmd.SetTopic, now: float) -> Out:
        room = self._talking_in(session, command.room)
        if room is None:
            return self._no_room(session, now, command.room)
        if command.topic is None:
            return [to(session, ev.Topic(now, room.name, room.topic, None))]
        if len(command.topic) > MAX_TOPIC_CHARS:
            return self._error(
                session, now, codes.USAGE, f"A topic has at most {MAX_TOPIC_CHARS} characters."
            )
        if not command.topic and not room.topic:  # nothing to clear: nothing to tell the room
            return self._error(session, now, codes.USAGE, f"{room.name} has no topic to clear.")
        if self._topics_from_log():
            # Set when every node reads it back from the log, this one included (hub_cluster):
            # two topics set at once end the same everywhere, the later one in the log.
            return self._share_topic(session, room, command.topic, now)
        if self._cut_off():  # it could be neither told in order nor kept
            return self._error(
                session,
                now,
                codes.USAGE,
                "Topics cannot change while this server is cut off from the others. "
                "Try again when the link is back.",
            )
        room.topic = command.topic
        room.topic_by, room.topic_at = session.name, now
        self.archive.keep_topic(room.key, KeptTopic(room.name, room.topic, session.name, now))
        return [self._to_room(room, ev.Topic(now, room.name, room.topic, session.name))]

    def _page(self, session: Session, command: cmd.ShowHistory, now: float) -> Out:
        room = session.current
        if room is None:
            return self._no_room(session, now)
        if not self.archive.search_kind:
            return self._history_off(session, now)
        return self._history(session, room, now, "page", command.count, command.before)

    def _search(self, session: Session, command: cmd.Search, now: float) -> Out:
        room = session.current
        if room is None:
            return self._no_room(session, now)
        if not self.archive.search_kind:
            return self._history_off(session, now)
        if len(command.text) > SEARCH_QUERY_MAX_CHARS:
            return self._error(
                session,
                now,
                codes.USAGE,
                f"Search for at most {SEARCH_QUERY_MAX_CHARS} characters.",
            )
        try:
            found = self.archive.search(room.key, command.text, SEARCH_RESULTS_MAX, session.origin)
        except SearchRefused as exc:  # too long, or searches took their share of the time
            return self._error(session, now, codes.SEARCH_BUSY, str(exc))
        return self._bracket(session, room, now, "search", found, command.text)

    # --- what the other handlers use ------------------------------------------------------------

    def _to_room(
        self, room: Room[Session], event: ev.Event, skip: Session | None = None
    ) -> Instruction:
        """``event`` for every member of ``room`` (but ``skip``)."""
        if room.is_lobby:
            return ToAll(event, skip)
        return ToSessions(room.everyone(), event, skip=skip)

    def _made(self, name: str) -> Room[Session]:
        """A new room called ``name`` (no room looks like it), with the spelling and topic the
        archive kept for it if any: the typed spelling if the kept one looks like a room in use
        (#Ian kept, #lan in use: #ian is neither's look-alike, #Ian is #lan's)."""
        kept = self.archive.topic(room_key(name))
        if kept is not None and self.rooms.find(kept.name) is not None:
            kept = kept._replace(name=name)
        room = Room[Session](*kept) if kept is not None else Room[Session](name)
        self.rooms.add(room)
        return room

    def _put(self, session: Session, room: Room[Session]) -> None:
        """``session`` is in ``room`` from now on, and talks there."""
        room.add(session)
        session.rooms.append(room)
        session.current = room
        if session.node is None:
            self.rooms.entered(room)

    def _enter_lobby(self, session: Session, now: float) -> Out:
        """A session just registered: it is in #lobby and talks there."""
        lobby = self.rooms.lobby
        self._put(session, lobby)
        return [
            Online(session),
            *self._arrived(lobby, session, now),
            *self._share_join(session, lobby, now),
        ]

    def _leave_rooms(self, session: Session, now: float, reason: str) -> Out:
        """A session is gone: it leaves every room it was in, each told why."""
        out: Out = []
        for room in session.rooms:
            out += self._departed(room, session, now, reason)
        session.rooms = []
        session.current = None
        return out

    def _arrived(
        self, room: Room[Session], session: Session, now: float, again: bool = False
    ) -> Out:
        """Tell the room that ``session`` joined it (a big room: at the next sweep). ``again``:
        a user who was online already (a /join, not a login), whose join of #lobby names it."""
        if len(room) > self.config.big_room:
            self._gather(room, session.name, joined=True)
            return []
        label = LOBBY if again and room.is_lobby else room.label
        count = self._count(room, label)
        return [self._to_room(room, ev.Joined(now, session.name, count, label), session)]

    def _count(self, room: Room[Session], label: str | None) -> int:
        """The count a join or leave notice gives: the chat's users online for a login or a
        logoff (#lobby, unnamed), which #lobby's members are not once someone has left it by
        /part; else the room's members."""
        return len(self.roster) if label is None and room.is_lobby else len(room)

    def _departed(self, room: Room[Session], session: Session, now: float, reason: str) -> Out:
        """``session`` is out of ``room``: tell the rest (a big room: at the next sweep); an empty
        room is forgotten."""
        out: Out = []
        if room in self._crowded and len(room) - 1 <= self.config.big_room:
            # No longer big: what it gathered goes first, told as things were before this leave.
            out = self._crowd_of(room, now, session)
        if session in room and session.node is None:
            self.rooms.left(room)
        room.remove(session)
        if not len(room):
            self.rooms.forget(room)
            self._crowded.pop(room, None)
            return out
        if len(room) > self.config.big_room:
            self._gather(room, session.name, joined=False)
            return out
        # A /part of #lobby names it, as a /join of it does: its user is still online.
        label = LOBBY if room.is_lobby and codes.is_part(reason) else room.label
        count = self._count(room, label)
        out.append(self._to_room(room, ev.Left(now, session.name, reason, count, label)))
        return out

    def _gather(self, room: Room[Session], name: str, joined: bool) -> None:
        names = room.joins if joined else room.leaves
        if len(names) < CROWD_NAMES_JSON:
            names.append(name)
        room.crowd[0 if joined else 1] += 1
        self._crowded[room] = None

    def _crowd_notices(self, now: float) -> Out:
        """One notice per big room for the joins, one for the leaves, gathered since last time."""
        out: Out = []
        for room in list(self._crowded):
            out += self._crowd_of(room, now)
        return out

    def _crowd_of(self, room: Room[Session], now: float, leaving: Session | None = None) -> Out:
        """The notices ``room`` gathered: its joins, then its leaves. ``leaving``: a session on
        its way out, still counted (it is gone from the roster already if it quit)."""
        out: Out = []
        for joined, names in ((True, room.joins), (False, room.leaves)):
            count = room.crowd[0 if joined else 1]
            if count:
                # #lobby's notice counts the users online, as its login and logoff notices do.
                online = len(room)
                if room.is_lobby:
                    gone = leaving is not None and self.roster.find(leaving.name) is not leaving
                    online = len(self.roster) + gone
                crowd = ev.Crowd(now, room.name, joined, tuple(names), count, online)
                out.append(self._to_room(room, crowd))
        room.joins, room.leaves, room.crowd = [], [], [0, 0]
        self._crowded.pop(room, None)
        return out

    def _in_room(self, room: Room[Session], now: float, joined: bool) -> ev.InRoom:
        # The first members to join are listed, so a join costs the same in any room size.
        first = sorted(s.name for s in itertools.islice(room.everyone(), ROOM_NAMES_SHOWN))
        return ev.InRoom(now, room.name, len(room), tuple(first), room.topic, joined)

    def _history(
        self,
        session: Session,
        room: Room[Session],
        now: float,
        kind: str,
        count: int,
        before: int | None = None,
    ) -> Out:
        found = self.archive.recent(room.key, count, before)
        if kind == "replay" and not found:
            return []  # a room without history says nothing about it on joining
        return self._bracket(session, room, now, kind, found)

    def _bracket(
        self,
        session: Session,
        room: Room[Session],
        now: float,
        kind: str,
        found: list[ev.Message],
        query: str = "",
    ) -> Out:
        """Earlier messages for ``session``, between a ``HistoryBegin`` and a ``HistoryEnd``."""
        out: Out = [to(session, ev.HistoryBegin(now, room.name, kind, len(found), query))]
        # Named as live messages of the room are (no name for #lobby), whatever the archive kept.
        label = room.label
        out += [to(session, dataclasses.replace(m, history=True, room=label)) for m in found]
        out.append(to(session, ev.HistoryEnd(now, room.name, kind, len(found))))
        return out

    def _talking_in(self, session: Session, name: str) -> Room[Session] | None:
        """The room a line goes to: the one it names if ``session`` is in it, else (no name) the
        current room; None if there is none."""
        if not name:
            return session.current
        room = self.rooms.find(room_name(name))
        return room if room is not None and session in room else None

    def _no_room(self, session: Session, now: float, name: str = "") -> Out:
        if name:
            return self._error(
                session, now, codes.NOT_IN_ROOM, f"You are not in {room_name(name)}."
            )
        return self._error(
            session,
            now,
            codes.NOT_IN_ROOM,
            "You are in no room: /join a room to talk there (/rooms lists them), "
            "or /w NAME TEXT to one person.",
        )

    def _history_off(self, session: Session, now: float) -> Out:
        return self._error(
            session, now, codes.HISTORY_OFF, "This server keeps no history (--no-history)."
        )
