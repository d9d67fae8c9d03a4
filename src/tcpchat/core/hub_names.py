"""The hub's handlers for who a session is: the server password, choosing a name, changing it.

``Hub`` (``hub.py``) inherits them, as it inherits the room handlers; its state table wires them
to commands. Names are compared by their look-alike keys (``names.py``, ``roster.py``); guessing
the password is slowed per address (``guard.py``).
"""

from __future__ import annotations

import hmac
import math
import re

from . import codes
from . import commands as cmd
from . import events as ev
from .cluster import LINK_LOST, ClusterState, Struck
from .guard import Buckets, Strikes
from .hub_rooms import RoomHandlers
from .limits import REGISTERED_NAMES_SHOWN
from .names import ReservedNames, display_form, fold, name_key, name_problem
from .output import Claim, Out, Publish, ToAll, ToSessions, to
from .roster import Roster
from .session import Session, State

# What an IRC client sends first (CAP LS 302, NICK ivy, USER ivy 0 * :Ivy, PASS x): pointed at
# this port by mistake, it would wait for ever for an IRC answer; a name has no space anyway.
_IRC_REGISTRATION = re.compile(r"(?:CAP|NICK|USER|PASS) \S")
NOT_IRC = "This port speaks tcp-chat, not IRC: connect IRC clients to the server's IRC port."


def taken(name: str, holder: str) -> str:
    """Why ``name`` is refused when ``holder`` (or a look-alike of it) is someone's."""
    if fold(name) == fold(holder):
        return f'The name "{name}" is taken. Choose another one.'
    return f'The name "{name}" looks too much like "{holder}", who is online. Choose another one.'


class NameHandlers(RoomHandlers):
    """Handlers for the password and names; the hub supplies its state and ``_close``."""

    roster: Roster
    reserved: ReservedNames  # the server's own name among them
    guard: Strikes
    arrivals: Buckets | None
    cluster: ClusterState | None

    def _close(self, session: Session, now: float, reason: str, farewell: str) -> Out:
        raise NotImplementedError  # Hub._close

    def _blank_answer(self, session: Session, command: cmd.Blank, now: float) -> Out:
        # Before registration the client is waiting for an answer: silence would hang it.
        # Not counted as a refused name or a wrong password: pressing Enter is not guessing.
        if session.state is State.PASSWORD:
            return self._error(
                session, now, codes.NOT_REGISTERED, "Enter the server password: it cannot be empty."
            )
        return self._error(session, now, codes.NAME_INVALID, "A name cannot be empty.")

    def refusal(self, origin: str, now: float) -> str | None:
        """Why a new connection from ``origin`` is refused (banned for guessing passwords), or
        None: the transport asks before it counts a connection in."""
        banned = self.guard.banned_for(origin, now)
        if not banned:
            return None
        minutes = max(1, round(banned / 60))
        unit = "minute" if minutes == 1 else "minutes"
        return f"Too many wrong passwords from your address. Try again in {minutes} {unit}."

    def _password(self, session: Session, command: cmd.Password | cmd.Say, now: float) -> Out:
        # Compared exactly as sent: a password may begin or end with a space.
        given = command.password if isinstance(command, cmd.Password) else command.line
        if isinstance(command, cmd.Say) and self._irc_client(session, given):
            return self._close(session, now, codes.IRC_CLIENT, NOT_IRC)  # (no guess: not counted)
        guard, origin = self.guard, session.origin
        wait = guard.wait(origin, now)
        session.password_tries += 1
        told: Out = []
        if wait > 0:
            # Not compared at all: guessing from this address has to slow down.
            code, text = (
                codes.PASSWORD_WAIT,
                (
                    "Too many wrong passwords from your address: "
                    f"wait {math.ceil(wait)} s before the next try."
                ),
            )
        elif hmac.compare_digest(
            given.encode("utf-8"), (self.config.password or "").encode("utf-8")
        ):
            guard.succeeded(origin)
            session.state = State.NAME
            return [to(session, ev.Prompt(now, "name"))]
        else:
            cluster = self.cluster  # the other nodes count it too (Hub.heard); cut off: not
            if cluster is not None and cluster.linked:  # queued, a guesser could fill the queue
                told = [Publish(Struck(cluster.node, origin, now))]
            if guard.failed(origin, now):
                farewell = "Too many wrong passwords from your address. Goodbye."
                return told + self._close(session, now, codes.PASSWORD_BANNED, farewell)
            code, text = codes.BAD_PASSWORD, "Wrong password. Try again."
        if session.password_tries >= self.config.max_password_tries:
            if wait > 0:  # not compared: it may well have been right
                return self._close(
                    session,
                    now,
                    codes.PASSWORD_UNCHECKED,
                    "This connection has had its password tries, and the last was not checked: "
                    f"your address has to wait {math.ceil(wait)} s before the next try. Goodbye.",
                )
            return told + self._close(
                session, now, codes.WRONG_PASSWORD, "Wrong password. Goodbye."
            )
        return told + self._error(session, now, code, text)

    def _register(self, session: Session, command: cmd.Say | cmd.Nick, now: float) -> Out:
        wanted = command.text if isinstance(command, cmd.Say) else command.name
        if isinstance(command, cmd.Say) and self._irc_client(session, wanted):
            return self._close(session, now, codes.IRC_CLIENT, NOT_IRC)
        refusal = self._name_refusal(session, wanted, now)
        if refusal is not None:
            session.name_tries += 1
            if session.name_tries >= self.config.max_name_tries:
                return self._close(
                    session, now, codes.TOO_MANY_NAMES, "Too many refused names. Goodbye."
                )
            return refusal
        wait = self.arrivals.take(session.origin, now) if self.arrivals is not None else 0.0
        if wait:
            return self._error(
                session,
                now,
                codes.RATE_LIMITED,
                "Too many people joined from your address just now: "
                f"send your name again in {math.ceil(wait)} s.",
            )
        name = display_form(wanted)
        cluster = self.cluster
        if cluster is not None and cluster.linked:
            session.state = State.CLAIMING  # until the other nodes agree (Hub.claimed)
            return self._claim(session, name)
        out = self._admit(session, name, now)
        if cluster is not None:  # told as those online at the loss were; claimed once back
            out.append(to(session, ev.Notice(now, codes.CLUSTER_DOWN, LINK_LOST)))
            out.append(Claim(session, name, late=True))
        return out

    def _admit(self, session: Session, name: str, now: float) -> Out:
        """``session`` is ``name`` from now on: it is online, in #lobby."""
        session.name = name
        session.key = name_key(name)
        session.state = State.ACTIVE
        self.roster.add(session)
        return [
            to(session, self._registered(session, now)),
            *self._enter_lobby(session, now),
        ]

    def _rename(self, session: Session, command: cmd.Nick, now: float) -> Out:
        new = display_form(command.name)
        if new == session.name:
            return self._error(session, now, codes.USAGE, f"You are already {new}.")
        refusal = self._name_refusal(session, command.name, now)
        if refusal is not None:
            return refusal
        cluster = self.cluster
        if cluster is None:
            return self._renamed(session, new, now)
        if session.renaming:
            return self._error(
                session, now, codes.USAGE, f"Wait: the name {session.renaming} is being checked."
            )
        if not cluster.linked:
            # A rename cannot be checked, nor told in order with what follows it, until then.
            return self._error(
                session,
                now,
                codes.NAME_UNCHECKED,
                "Names cannot change while this server is cut off from the others. "
                "Try again when the link is back.",
            )
        session.renaming = new
        return self._claim(session, new, old=session.name)

    def _renamed(self, session: Session, new: str, now: float) -> Out:
        """``session`` (here or on another node) is called ``new`` from now on: it is told, and
        so is everyone who shares a room with it."""
        old = session.name
        self.roster.remove(session)
        session.name, session.key = new, name_key(new)
        self.roster.add(session)
        notice = ev.Renamed(now, old, new, False)
        out: Out = [ToAll(notice, skip=session)]
        if session.node is None:
            out.insert(0, to(session, ev.Renamed(now, old, new, True)))
        # Those who share a room with the renamed but are not in #lobby learn it too.
        lobby = self.rooms.lobby
        outside = {
            member: None
            for room in session.rooms
            if not room.is_lobby
            for member in room.everyone()
            if member not in lobby and member is not session
        }
        if outside:
            out.append(ToSessions(tuple(outside), notice))
        return out

    @staticmethod
    def _irc_client(session: Session, line: str) -> bool:
        """True if the connection's first line is an IRC client's (``_IRC_REGISTRATION``), at
        the password prompt as at the name prompt; a later one is a password or a name."""
        return session.lines == 1 and _IRC_REGISTRATION.match(line) is not None

    def _name_refusal(self, session: Session, wanted: str, now: float) -> Out | None:
        problem = name_problem(wanted, self.reserved)
        if problem is not None:
            return self._error(session, now, *problem)
        found = self.roster.look_alike(wanted, other_than=session)
        holder = found.name if found is not None else self._claimed_here(wanted, session)
        if holder is None:
            return None
        return self._error(session, now, codes.NAME_TAKEN, taken(display_form(wanted), holder))

    def _claim(self, session: Session, name: str, old: str = "") -> Out:
        """Ask the cluster for ``name`` for ``session`` (``hub_cluster.py`` hears the answer)."""
        raise NotImplementedError

    def _claimed_here(self, name: str, session: Session) -> str | None:
        """The name another session of this node is claiming that ``name`` looks like."""
        raise NotImplementedError

    def _registered(self, session: Session, now: float) -> ev.Registered:
        listed = self.roster.first_names(REGISTERED_NAMES_SHOWN)
        return ev.Registered(now, session.name, listed, len(self.roster) - len(listed))
