"""The hub's side of cluster mode (docs/CLUSTER.md): what it publishes, and what it does with
what the cluster's log says.

``Hub`` (``hub.py``) inherits these as it inherits the name and room handlers. Standalone
(``cluster`` None) none of it is used. In a cluster, the hub stays sans-I/O: it returns
``Publish``, ``Whisper``, ``Claim`` and ``Release`` instructions (``output.py``) that the bus
(``server/cluster/``) carries out, and the bus feeds back what it read or was answered through
``heard``, ``claimed``, ``whispered``, ``unsent``, ``resync`` and ``link_down``/``link_up``.

The users of other nodes are ``Session``s with a ``node`` and no connection, in the same roster
and rooms as local ones, so ``/users``, room sizes, look-alike checks and ``/w NAME`` see the
whole cluster; they are made and dropped only by what the log says (``hub_remote.py``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from . import cluster as cl
from . import cluster_codec as codec
from . import codes
from . import events as ev
from .archive import KeptTopic
from .cluster import LINK_BACK, LINK_LOST, ClusterState
from .hub_remote import RemoteUsers
from .limits import RESERVED_NAMES
from .names import ReservedNames, look_keys, name_key
from .output import (
    Claim,
    MemberChange,
    Out,
    Publish,
    Refresh,
    Release,
    ToSessions,
    to,
)
from .rooms import Room, room_key
from .session import Session, State


class ClusterHandlers(RemoteUsers):
    """The cluster's entry points into the hub, and the hooks its handlers call (the answers to
    name claims: ``hub_claims.py``; to private messages: ``hub_whispers.py``; what waits for a
    user's messages in flight: ``hub_behind.py``)."""

    cluster: ClusterState | None
    sessions: dict[int, Session]
    server_name: str
    reserved: ReservedNames
    _next_message: int

    # --- hooks: what a local change tells the cluster -----------------------------------------

    def _reach(self, room: Room[Session]) -> int:
        """How many of ``room``'s members a message said here reaches now: everyone, or only
        those on this server while the link is down."""
        if self.cluster is None or self.cluster.linked:
            return len(room)
        return sum(1 for member in room.everyone() if member.node is None)

    def _member(self, session: Session) -> MemberChange:
        return session.name, tuple(room.name for room in session.rooms)

    def _share_join(self, session: Session, room: Room[Session], now: float) -> Out:
        cluster = self.cluster
        if cluster is None or session.node is not None:
            return []
        entry = cl.Arrived(cluster.node, session.name, room.key, room.name, now)
        return [Publish(entry, (self._member(session),))]

    def _share_part(self, session: Session, room: Room[Session], reason: str, now: float) -> Out:
        cluster = self.cluster
        if cluster is None or session.node is not None:
            return []
        entry = cl.Departed(cluster.node, session.name, room.key, reason, now, room.name)
        return [Publish(entry, (self._member(session),))]

    def _share_leave(self, session: Session, reason: str, now: float) -> Out:
        cluster = self.cluster
        if cluster is None or session.node is not None:
            return []
        entry = cl.Departed(cluster.node, session.name, cl.EVERYWHERE, reason, now)
        return [Publish(entry, ((session.name, None),)), Release(session.name)]

    def _topics_from_log(self) -> bool:
        return self.cluster is not None and self.cluster.linked

    def _cut_off(self) -> bool:
        return self.cluster is not None and not self.cluster.linked

    def _share_topic(self, session: Session, room: Room[Session], topic: str, now: float) -> Out:
        cluster = self.cluster
        if cluster is None:
            return []
        entry = cl.TopicSet(cluster.node, session.name, room.key, room.name, topic, now)
        return [Publish(entry, sender=session, line=session.lines)]  # "Not sent", as a message

    # --- the bus's answers ---------------------------------------------------------------------

    def link_down(self, now: float) -> Out:
        """The link to Redis is lost: this server serves its own users alone until it is back.
        What was held behind messages in flight goes now (they come back later, or never)."""
        cluster = self.cluster
        if cluster is None or not cluster.linked:
            return []
        cluster.linked = False
        held = self._let_all_go()
        return [*held, *self._tell_everyone(ev.Notice(now, codes.CLUSTER_DOWN, LINK_LOST))]

    def link_up(self, now: float) -> Out:
        if self.cluster is None or self.cluster.linked:
            return []
        self.cluster.linked = True
        return self._tell_everyone(ev.Notice(now, codes.CLUSTER_UP, LINK_BACK))

    def reserve(self, first: int) -> None:
        """Ids from ``first`` on are this node's own (reserved in Redis), for the messages said
        while the link is down."""
        self._next_message = first

    def reannounce(
        self, now: float, told: Mapping[Session, tuple[str, Sequence[str]]] | None = None
    ) -> Out:
        """This node joined the cluster again (its lease lapsed, Redis lost its data or refused
        a write): claim its users' names again and say again who is where. ``told``: what its
        ``cl.Gone`` said stays (``staying``). What those users did while it joined again was not
        sent (``done_by_rejoining``): who left, was renamed or left a room since is told now."""
        cluster = self.cluster
        assert cluster is not None
        out: Out = []
        for session, (name, labels) in (told or {}).items():
            if session.state is not State.ACTIVE:
                entry = cl.Departed(cluster.node, name, cl.EVERYWHERE, codes.CONNECTION_CLOSED, now)
                out.append(Publish(entry, ((name, None),)))
                continue
            if session.name != name:
                renamed = cl.Renamed(cluster.node, name, session.name, now)
                out.append(Publish(renamed, ((name, None), self._member(session))))
            keys = {room.key for room in session.rooms}
            for label in labels:
                if room_key(label) not in keys:
                    entry = cl.Departed(
                        cluster.node, session.name, room_key(label), codes.PART, now, label
                    )
                    out.append(Publish(entry, (self._member(session),)))
        for session in list(self.sessions.values()):
            if session.state is not State.ACTIVE:
                continue
            out.append(Claim(session, session.name, late=True))
            for room in session.rooms:
                out += self._share_join(session, room, now)
        return out

    def staying(self) -> dict[Session, tuple[str, list[str]]]:
        """What this node tells the others as it joins the cluster again (``cl.Gone``): its
        users they know of (not those let in while it was cut off), each with its name and the
        names of its rooms."""
        mine = (s for s in self.sessions.values() if s.state is State.ACTIVE and s.shared)
        return {s: (s.name, [room.name for room in s.rooms]) for s in mine if s.node is None}

    def reserve_servers(self, names: Sequence[str]) -> None:
        """Reserve the names of the cluster's servers with IRC here too, as a server's own is
        (``server_name``): no user of this node passes for another node's server, nor takes a
        look-alike of its name. The exact name and its look keys are held in Redis as well, so
        a claim made before this node heard of a new server is refused all the same."""
        cluster, servers = self.cluster, frozenset(names)
        if cluster is not None and servers != cluster.servers:
            cluster.servers = servers
            self.reserved = ReservedNames([*RESERVED_NAMES, self.server_name, *sorted(servers)])

    # --- what the log says ---------------------------------------------------------------------

    def heard(self, message_id: int, entry: cl.Entry, now: float) -> Out:
        """Apply one entry of the cluster's log (or of this node's inbox), numbered
        ``message_id``; returns what to tell this node's users."""
        cluster = self.cluster
        if cluster is None:
            return []
        if isinstance(entry, cl.Said):
            return self._heard_said(message_id, entry, now)
        if isinstance(entry, cl.Whispered):
            return self._heard_whisper(message_id, entry, now)
        if isinstance(entry, cl.TopicSet):
            return self._heard_topic(entry, now)  # this node's own too: topics go in log order
        if isinstance(entry, cl.Bounced):
            return self._heard_bounced(entry, now)
        if entry.node == cluster.node:
            return []  # this node's own presence entries were applied when they happened
        if isinstance(entry, cl.Struck):
            self.guard.failed(entry.origin, now)  # a wrong password on another node
            return []
        if isinstance(entry, cl.Arrived):
            again = self._remote_user(entry.node, entry.name) is not None
            session = self._remote_session(entry.node, entry.name, now)
            return [] if session is None else self._remote_join(session, entry.label, now, again)
        if isinstance(entry, cl.Departed):
            return self._heard_departed(entry, now)
        if isinstance(entry, cl.Renamed):
            return self._heard_renamed(entry, now)
        # A node gone, or joining again: those of its users it still serves stay (a Redis that
        # lost its data or refused a write is not seen as everyone leaving and coming back).
        staying = codec.staying(entry.staying)
        return self._rejoined(entry.node, staying, entry.reason or codes.SERVER_LOST, now)

    def kept(self, message_id: int, entry: cl.Said) -> Out:
        """Keep a room message of the log without showing it (a node joining, or one that
        missed entries, fills its history): only what it held back goes."""
        if self.cluster is None:
            return []
        self._keep_said(message_id, entry)
        return self._own_said_back(entry)

    def _own_said_back(self, entry: cl.Said) -> Out:
        if self.cluster is None or entry.node != self.cluster.node:
            return []
        return self._said_back(entry.session, entry.line)  # what its part or leave held back

    def _keep_said(
        self, message_id: int, entry: cl.Said
    ) -> tuple[Room[Session] | None, ev.Message]:
        """Keep a room message of the log in the archive, in its room as this node names it;
        the room (None if nobody is in it here) and the message."""
        room = self._local_room(entry.room, entry.label)  # None: everyone left it since
        key, label = entry.room, entry.label or None
        if room is not None:  # kept and shown as this node names it
            key, label = room.key, None if room.is_lobby else room.name
        message = ev.Message(
            entry.time,
            message_id,
            entry.sender,
            None,
            entry.action,
            entry.text,
            label,
            notice=entry.notice,
        )
        self.archive.keep(key, message)  # every node mirrors the whole log
        return room, message

    def _heard_said(self, message_id: int, entry: cl.Said, now: float) -> Out:
        room, message = self._keep_said(message_id, entry)
        label = message.room
        sender = self._own_session(entry)
        out: Out = [] if room is None else [self._to_room(room, message, skip=sender)]
        if sender is not None:
            others = 0 if room is None else len(room) - (1 if sender in room else 0)
            delivered = ev.Delivered(
                entry.time,  # as the others have it (an IRC echo's @time matches theirs)
                message_id,
                None,
                entry.action,
                entry.text,
                others,
                entry.line,
                label,
                entry.notice,
            )
            out.append(to(sender, delivered))
        return out + self._own_said_back(entry)

    def _own_session(self, entry: cl.Said) -> Session | None:
        """The sender of one of this node's messages, if still here: by its session, never
        reused in a process (a node reads the log from its end when it starts), not by its
        name, which the sender may have changed since (the message is confirmed all the same)."""
        cluster = self.cluster
        if cluster is None or entry.node != cluster.node:
            return None
        session = self.sessions.get(entry.session)
        if session is None or session.state is not State.ACTIVE:
            return None
        return session

    def _heard_whisper(self, message_id: int, entry: cl.Whispered, now: float) -> Out:
        cluster = self.cluster
        assert cluster is not None
        target = self.roster.find(entry.to)
        if target is None or target.node is not None:
            # Redis let it in while this node held the name: its user renamed since, or left
            # (the sender was told it reached this node: now that it reached nobody).
            target = cluster.renamed_from(name_key(entry.to), now)
            if target is None or target.state is not State.ACTIVE:
                reason = codes.CONNECTION_CLOSED
                return self._not_delivered(entry, message_id, entry.to, reason, now)
        message = ev.Message(
            entry.time,
            message_id,
            entry.sender,
            target.name,
            False,
            entry.text,
            notice=entry.notice,
        )
        self.archive.keep(None, message)
        # If the transport drops it with the connection, Hub.undelivered tells the sender.
        sender = self.sessions.get(entry.session) if entry.node == cluster.node else entry
        return [ToSessions((target,), message, confirmed=sender)]

    def _heard_renamed(self, entry: cl.Renamed, now: float) -> Out:
        session = self._remote_user(entry.node, entry.old)
        if session is None:
            return [Refresh()]  # left out here under the old name: looked for under the new
        clash = self.roster.look_alike(entry.new, other_than=session)
        if clash is None:
            return self._renamed(session, entry.new, now)
        # Already here under the new name (a snapshot newer than this point of the log added
        # them): the old one goes. Or the name is held by someone this node let in while it was
        # cut off (whose claim the cluster will refuse): the renamed user is left out until then.
        out = self._drop_remote(session, codes.CONNECTION_LOST, now)
        return out if clash.node == entry.node else [*out, Refresh()]

    def _heard_departed(self, entry: cl.Departed, now: float) -> Out:
        session = self._remote_user(entry.node, entry.name)
        if session is None:
            return []
        if entry.room == cl.EVERYWHERE:
            out = self._drop_remote(session, entry.reason, now)
            # Its name went to someone else, whose arrival this node may have passed over while
            # it still held the name for this one: who is where is read again.
            return [*out, Refresh()] if entry.reason == codes.NAME_LOST else out
        room = self._local_room(entry.room, entry.label)
        if room is None and not entry.label:  # a node before labels: by its key's look-alikes
            room = next((r for r in session.rooms if entry.room in look_keys(r.name)), None)
        if room is None or room not in session.rooms:
            return []
        session.rooms.remove(room)
        if session.current is room:
            session.current = session.rooms[-1] if session.rooms else None
        return self._departed(room, session, now, entry.reason)

    def _heard_topic(self, entry: cl.TopicSet, now: float) -> Out:
        room = self._local_room(entry.room, entry.label)
        if room is None:
            self.archive.keep_topic(
                entry.room, KeptTopic(entry.label, entry.topic, entry.name, entry.time)
            )
            return []
        self.archive.keep_topic(room.key, KeptTopic(room.name, entry.topic, entry.name, entry.time))
        room.topic, room.topic_by, room.topic_at = entry.topic, entry.name, entry.time
        return [self._to_room(room, ev.Topic(now, room.name, room.topic, entry.name))]

    def learn_topics(self, topics: Sequence[tuple[int, cl.TopicSet]], now: float) -> Out:
        """Take the topics this node did not read as they were set (on joining, and after a
        gap): the log's entries it missed and each room's last from the snapshot, with their
        ids. Applied in the order of their ids, as the log would have handed them, each to its
        room here as a live one is (``_local_room``), the last for a room winning: kept, set,
        and told to the room's members where it changed."""
        last: dict[object, cl.TopicSet] = {}  # a room here, or the key of one that is not
        for _, entry in sorted(topics, key=lambda numbered: numbered[0]):
            room = self._local_room(entry.room, entry.label)
            last[room if room is not None else entry.room] = entry
        out: Out = []
        for where, entry in last.items():
            if isinstance(where, Room) and where.topic == entry.topic:  # the same text: quietly
                where.topic_by, where.topic_at = entry.name, entry.time
                kept = KeptTopic(where.name, where.topic, entry.name, entry.time)
                self.archive.keep_topic(where.key, kept)
            else:
                out += self._heard_topic(entry, now)
        return out

    def _local_room(self, key: str, label: str) -> Room[Session] | None:
        """The room here that an entry's room is (``key``; ``label``: as the entry's node
        writes it, "" for #lobby): the one of that key, else one that cannot be told apart from
        it. Rooms, unlike names, are not claimed across the cluster: two nodes can make #Ian and
        #lan (or #ops in two scripts) at the same moment, each before it reads of the other's.
        Each node then holds the one room under the name it made, as a single server would."""
        room = self.rooms.by_key(key)
        if room is None and label:
            room = self.rooms.find(label)
        return room

    def _tell_everyone(self, event: ev.Event) -> Out:
        local = tuple(s for s in self.sessions.values() if s.state is State.ACTIVE)
        return [ToSessions(local, event)] if local else []
