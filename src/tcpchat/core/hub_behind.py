"""What a user's leave, part or rename tells the others on their own node, held back behind
that user's room messages still on their way through the cluster's log (docs/CLUSTER.md, "Joins,
leaves and renames").

A room message is shown when the log hands it back, on every node, the sender's included; a
leave, a part or a rename takes effect at once. Other nodes read both from the log, in its
order; the sender's node would show "sam left" before "<sam> bye". So what such a change tells
others waits, on that node, until the messages sent before it are read back (or refused): each
hold remembers the line of the last of them (``Said.line``), and goes once no message of the
user up to that line is on its way. Lines the user sent after the change do not hold it back.
Every hold goes at once when the link is lost, and after ``HELD_BEHIND_S`` when Redis never
returns a message.

``ClusterHandlers`` (``hub_cluster.py``) inherits these through ``hub_remote.RemoteUsers``, as
``Hub`` inherits it.
"""

from __future__ import annotations

import dataclasses
from collections import deque

from .hub_whispers import WhisperHandlers
from .output import Out, ToAll, ToSessions
from .session import Session

# At most this long a message is waited for (Redis lost it), and so a change held behind it.
HELD_BEHIND_S = 5.0


class BehindHandlers(WhisperHandlers):
    """Holds what a user's leave, part or rename tells others behind their messages in flight."""

    def in_flight(self, session: Session) -> bool:
        """True while messages ``session`` sent are on their way through the cluster (room
        messages in the log, private ones to Redis): their "Delivered" is still to come (a
        transport waits for it before a /quit)."""
        cluster = self.cluster
        return cluster is not None and (session.whispering > 0 or session.id in cluster.saying)

    def _sending(self, session: Session, now: float) -> None:
        """``session`` sent a room message to the log (its line: ``session.lines``)."""
        cluster = self.cluster
        assert cluster is not None
        flying = cluster.saying.get(session.id)
        if flying is None:  # (not setdefault: that would make a deque per message)
            flying = cluster.saying[session.id] = deque()
        flying.append((session.lines, now))

    def _after_messages(self, session: Session, out: Out, now: float) -> Out:
        """``out``, what a command or the leave of ``session`` did, with what it tells others
        held back while room messages ``session`` sent before are on their way."""
        cluster = self.cluster
        if cluster is None or not cluster.linked:
            return out
        flying = cluster.saying.get(session.id)
        if not flying:
            return out
        keep: Out = []
        held: Out = []
        for item in out:
            if type(item) is ToAll:  # never to the user itself, whoever is online when it goes
                held.append(item if item.skip else dataclasses.replace(item, skip=session))
            elif type(item) is ToSessions and item.to != (session,):
                held.append(item)
            else:
                keep.append(item)
        if held:
            cluster.behind.setdefault(session.id, deque()).append((flying[-1][0], now, held))
        return keep

    def _said_back(self, session_id: int, line: int) -> Out:
        """The room message of this node's session ``session_id`` sent as its line ``line`` was
        read back from the log, or will never be: what was held behind it may go."""
        cluster = self.cluster
        assert cluster is not None
        flying = cluster.saying.get(session_id)
        if flying:
            for index, (sent, _) in enumerate(flying):
                if sent == line:
                    del flying[index]
                    break
            if not flying:
                del cluster.saying[session_id]
        return self._due(session_id)

    def _due(self, session_id: int) -> Out:
        """What was held for ``session_id`` that no message on its way holds back any more."""
        cluster = self.cluster
        assert cluster is not None
        holds = cluster.behind.get(session_id)
        if not holds:
            return []
        flying = cluster.saying.get(session_id)
        first = flying[0][0] if flying else None
        out: Out = []
        while holds and (first is None or holds[0][0] < first):
            out += holds.popleft()[2]
        if not holds:
            del cluster.behind[session_id]
        return out

    def _cluster_sweep(self, now: float) -> Out:
        """Once a second in a cluster: what waited too long goes, and renames older than
        ``RENAMED_WITHIN_S`` are forgotten (each holds its session, long gone maybe)."""
        cluster = self.cluster
        assert cluster is not None
        if cluster.renamed:
            cluster.forget_renames(now)
        return self._held_too_long(now) if cluster.saying or cluster.behind else []

    def _held_too_long(self, now: float) -> Out:
        """Messages not back after ``HELD_BEHIND_S`` (Redis lost them) are waited for no more,
        and what they held goes."""
        cluster = self.cluster
        assert cluster is not None
        for session_id, flying in list(cluster.saying.items()):
            while flying and now - flying[0][1] >= HELD_BEHIND_S:
                flying.popleft()
            if not flying:
                del cluster.saying[session_id]
        out: Out = []
        for session_id in list(cluster.behind):
            out += self._due(session_id)
        return out

    def _let_all_go(self) -> Out:
        """The link is lost: messages on their way come back later or never; nothing waits."""
        cluster = self.cluster
        assert cluster is not None
        out: Out = [item for holds in cluster.behind.values() for h in holds for item in h[2]]
        cluster.saying.clear()
        cluster.behind.clear()
        return out
