"""The users of other nodes as this hub sees them (cluster mode; ``hub_cluster.py`` has the
rest): ``Session``s with a ``node`` and no connection, made and dropped only by what the log
says, and made to match a snapshot of who is where (``resync``, ``add_missing``) or what a node
joining again says it still serves (``cl.Gone``'s ``staying``), the users told only what
changes."""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence

from . import codes
from .cluster import ClusterState
from .hub_behind import BehindHandlers
from .names import name_key
from .output import Out, Refresh
from .rooms import room_name
from .session import Session, State


class RemoteUsers(BehindHandlers):
    """Who is on the other nodes; ``ClusterHandlers`` builds on it."""

    cluster: ClusterState | None
    _next_session: int

    def resync(
        self, snapshot: Mapping[str, Mapping[str, Sequence[str]]], now: float, absent: bool = True
    ) -> Out:
        """Make this node's view of the other nodes' users what ``snapshot`` says (node -> name
        -> room names), telling its users what changed: on joining the cluster, and after a link
        loss that may have missed entries. ``absent`` False: the users of a node the snapshot
        does not list stay for now (``drop_unlisted`` later)."""
        cluster = self.cluster
        if cluster is None:
            return []
        out: Out = []
        for node in list(cluster.remote):  # all who left first: a user may be on another now
            if absent or node in snapshot:
                out += self._drop_missing(node, snapshot.get(node, {}), codes.SERVER_LOST, now)
        for node, people in snapshot.items():
            if node != cluster.node:
                out += self._add_people(node, people, now)
        return out

    def drop_unlisted(self, listed: Collection[str], now: float) -> Out:
        """The users of every other node not among ``listed`` (the nodes in the cluster) leave.
        Their names may have gone to users of other nodes meanwhile, whose arrival this node
        passed over while it kept them: who is where is read again (``Refresh``)."""
        cluster = self.cluster
        if cluster is None:
            return []
        out: Out = []
        for node in [n for n in cluster.remote if n not in listed]:
            out += self._drop_missing(node, {}, codes.SERVER_LOST, now)
        return [*out, Refresh()] if out else out

    def _drop_missing(
        self, node: str, people: Mapping[str, Sequence[str]], reason: str, now: float
    ) -> Out:
        """The users of ``node`` not among ``people`` (name -> room names) leave, for ``reason``."""
        assert self.cluster is not None
        remote, out = self.cluster.remote, []
        for gone in list(remote.get(node, {})):
            if gone.name not in people:
                out += self._drop_remote(gone, reason, now)
        if not remote.get(node, True):
            del remote[node]  # (a node's users all gone: nothing kept of it)
        return out

    def _add_people(self, node: str, people: Mapping[str, Sequence[str]], now: float) -> Out:
        """``people`` (name -> room names) are on ``node``, in those rooms and no others: the
        users told only of what changes."""
        out: Out = []
        for name, rooms in people.items():
            again = self._remote_user(node, name) is not None
            session = self._remote_session(node, name, now)
            if session is None:
                continue
            out += self._part_unlisted(session, rooms, now)
            for room_label in rooms:
                out += self._remote_join(session, room_label, now, again)
        return out

    def _rejoined(
        self, node: str, people: Mapping[str, Sequence[str]], reason: str, now: float
    ) -> Out:
        """``node`` joins the cluster again and still serves ``people`` (name -> room names: its
        ``cl.Gone``'s ``staying``): those known here stay, out of the rooms not listed, and the
        rest of its users leave, for ``reason``. Nobody is added or put in a room: that comes
        with the node's claims, next, so that a user shown is one whose name the cluster holds
        (for /w), and nothing is made here of what only this entry says."""
        out = self._drop_missing(node, people, reason, now)
        assert self.cluster is not None
        for session in list(self.cluster.remote.get(node, {})):
            out += self._part_unlisted(session, people[session.name], now)
        return out

    def _part_unlisted(self, session: Session, labels: Sequence[str], now: float) -> Out:
        """``session`` of another node leaves each room it is in here that ``labels`` (room
        names) do not name."""
        out: Out = []
        wanted = {self.rooms.find(room_name(label)) for label in labels}  # #Ops: #ops
        for room in list(session.rooms):
            if room not in wanted:
                session.rooms.remove(room)
                out += self._departed(room, session, now, codes.PART)
        return out

    def add_missing(self, snapshot: Mapping[str, Mapping[str, Sequence[str]]], now: float) -> Out:
        """Add the users of other nodes in ``snapshot`` that this node does not know, with their
        rooms (the answer to a ``Refresh``): nobody known is changed or dropped, so a snapshot
        taken at or after the point of the log this node has read can only add who is there."""
        cluster = self.cluster
        if cluster is None:
            return []
        out: Out = []
        for node, people in snapshot.items():
            if node == cluster.node:
                continue
            for name, rooms in people.items():
                if self.roster.look_alike(name, other_than=None) is not None:
                    continue
                session = self._remote_session(node, name, now)
                if session is None:
                    continue
                for room_label in rooms:
                    out += self._remote_join(session, room_label, now)
        return out

    def _remote_user(self, node: str, name: str) -> Session | None:
        session = self.roster.find(name)
        return session if session is not None and session.node == node else None

    def _remote_session(self, node: str, name: str, now: float) -> Session | None:
        """The user ``name`` of ``node``, made if this node did not know them yet; None if the
        name is someone else's here (the log and this node disagree for a moment)."""
        known = self.roster.find(name)
        if known is not None:
            return known if known.node == node else None
        if self.roster.look_alike(name, other_than=None) is not None:
            return None
        session = Session(self._next_session, node, now, 0.0, node)
        self._next_session += 1
        session.state = State.ACTIVE
        session.name, session.key, session.node = name, name_key(name), node
        self.roster.add(session)
        assert self.cluster is not None
        self.cluster.remote.setdefault(node, {})[session] = None
        return session

    def _remote_join(self, session: Session, label: str, now: float, again: bool = False) -> Out:
        """A user of another node is in room ``label`` (``again``: one this node knew already,
        so a join of #lobby is a /join, not a login)."""
        room = self.rooms.find(label)
        if room is not None and session in room:
            return []
        self._put(session, room if room is not None else self._made(label))
        return self._arrived(session.rooms[-1], session, now, again)

    def _drop_remote(self, session: Session, reason: str, now: float) -> Out:
        """``session`` of another node is gone from this node's view (its node's record too)."""
        if self.cluster is not None and session.node is not None:
            self.cluster.remote.get(session.node, {}).pop(session, None)
        session.state = State.CLOSED
        self.roster.remove(session)
        return self._leave_rooms(session, now, reason)
