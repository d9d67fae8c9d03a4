"""The hub's side of a name in a cluster (docs/CLUSTER.md, Names): a name is claimed in Redis
before it is given (``Claim``), and the answer comes back through ``claimed`` (the name is the
session's, or whose it is) or ``claim_failed`` (Redis could not run the claim).

``ClusterHandlers`` (``hub_cluster.py``) inherits these, as ``Hub`` inherits it; standalone
(``cluster`` None) none of it is used.
"""

from __future__ import annotations

from . import cluster as cl
from . import codes
from .hub_names import NameHandlers, taken
from .names import look_keys, name_key, reserved_sentence
from .output import Claim, MemberChange, Out, Publish, Refresh, Release
from .session import Session, State


class ClaimHandlers(NameHandlers):
    """Claims of names and their answers; the cluster's handlers supply ``_member`` and
    ``_after_messages``."""

    def _member(self, session: Session) -> MemberChange:
        raise NotImplementedError  # ClusterHandlers._member

    def _after_messages(self, session: Session, out: Out, now: float) -> Out:
        raise NotImplementedError  # hub_behind.BehindHandlers._after_messages

    def _claim(self, session: Session, name: str, old: str = "") -> Out:
        cluster = self.cluster
        assert cluster is not None
        for key in look_keys(name):
            cluster.claiming[key] = (session, name)
        return [Claim(session, name, old=old, line=session.lines)]

    def _claimed_here(self, name: str, session: Session) -> str | None:
        cluster = self.cluster
        if cluster is None:
            return None
        for key in look_keys(name):
            pending = cluster.claiming.get(key)
            if pending is not None and pending[0] is not session:
                return pending[1]
        return None

    def claimed(self, claim: Claim, holder: str | None, now: float, reserved: bool = False) -> Out:
        """The cluster answered ``claim``: ``holder`` None if the name is this session's now,
        else the display name of whoever holds it (or a look-alike of it); ``reserved``: that
        is a server's name (``cl.reserved_value``)."""
        session = claim.session
        self._claim_answered(claim)
        if claim.old:
            session.renaming = ""
        if claim.late and session.name != claim.name:  # renamed since (Kim is not kim): stale
            if holder is None:
                return [Release(claim.name)]
            return [Refresh()]  # its holder elsewhere may have been left out here meanwhile
        if session.state is State.CLOSED or (claim.old and session.state is not State.ACTIVE):
            if holder is None:
                return [Release(claim.name)]
            # Someone else's elsewhere, who was left out here while this session held it.
            return [Refresh()] if claim.late else []
        if holder is not None:
            return self._claim_refused(claim, holder, now, reserved)
        session.shared = True  # the others know of it under this name (or will, renamed)
        if claim.old:
            renamed = [] if claim.late else self._renamed(session, claim.name, now)
            out = self._after_messages(session, renamed, now)
            cluster = self.cluster
            assert cluster is not None
            cluster.remember_rename(session, name_key(claim.old), now)
            entry = cl.Renamed(cluster.node, claim.old, claim.name, now)
            changes = ((claim.old, None), self._member(session))
            return [*out, Release(claim.old), Publish(entry, changes)]
        if claim.late:
            return []
        return self._admit(session, claim.name, now)

    def claim_failed(self, claim: Claim, now: float) -> Out:
        """Redis refused to run ``claim`` (out of memory, read-only, a key of the wrong type):
        the name is not this session's. A new user is asked for a name again and a rename is
        refused, neither counted as a refused name. A user who has the name already (given
        while this node was cut off, or claimed again after it joined the cluster again) is
        told and disconnected: nothing holds the name for them, and trying again would fail
        the same way (the link logs the failure)."""
        session = claim.session
        self._claim_answered(claim)
        if claim.old:
            session.renaming = ""
        if session.state is State.CLOSED or (claim.late and session.name != claim.name):
            return []
        if claim.late:
            return self._close(
                session,
                now,
                codes.NAME_UNRECORDED,
                f'The other servers could not record the name "{claim.name}" for you. '
                "Goodbye: connect again.",
            )
        text = f'The name "{claim.name}" could not be checked with the other servers just now.'
        if claim.old:
            return self._error(
                session, now, codes.NAME_UNCHECKED, text + " Try /nick again.", claim.line
            )
        session.state = State.NAME
        return self._error(session, now, codes.NAME_UNCHECKED, text + " Try again.", claim.line)

    def _claim_answered(self, claim: Claim) -> None:
        """``claim``'s name is no longer being claimed by its session here."""
        cluster = self.cluster
        if cluster is not None:
            for key in look_keys(claim.name):
                if cluster.claiming.get(key, (None, ""))[0] is claim.session:
                    del cluster.claiming[key]

    def _claim_refused(self, claim: Claim, holder: str, now: float, reserved: bool) -> Out:
        session = claim.session
        if claim.late:
            # Taken on another server while this one was cut off: the one case where a link
            # loss costs a user the session. Whoever has it there was left out here while this
            # session held it: who is where is read again.
            why = (
                f'The name "{holder}" is a server\'s in the cluster.'
                if reserved
                else f'Another server gave the name "{holder}" to someone while this server was '
                "cut off from it."
            )
            out = self._close(
                session, now, codes.NAME_LOST, f"{why} Goodbye: connect again with another name."
            )
            return [*out, Refresh()]
        text = reserved_sentence(claim.name, holder) if reserved else taken(claim.name, holder)
        code = codes.NAME_RESERVED if reserved else codes.NAME_TAKEN
        if claim.old:
            return self._error(session, now, code, text, claim.line)
        session.state = State.NAME
        session.name_tries += 1
        if session.name_tries >= self.config.max_name_tries:
            return self._close(
                session, now, codes.TOO_MANY_NAMES, "Too many refused names. Goodbye."
            )
        return self._error(session, now, code, text, claim.line)
