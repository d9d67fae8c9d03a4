"""An IRC connection before it is registered: PASS, NICK, USER and CAP negotiation, then the
hub's registration, for ``IrcClient`` (``irc.py``), which inherits it.

Registration follows the modern client protocol: ``CAP LS`` suspends it until ``CAP END``; it
completes once NICK and USER are known, with PASS checked first when the server has a password
(``464`` and ``ERROR`` otherwise). What the hub answers becomes the steps the transport carries
out (``Step``: bytes, the hub's instructions to route, or closing the link).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Union

from . import codes
from . import commands as cmd
from . import events as ev
from .hub import Hub
from .irc_errors import ErrorMap
from .irc_late import LateAnswers
from .irc_queries import IrcNetwork, Queries
from .irc_render import (
    CAPABILITIES,
    ERR_ERRONEUSNICKNAME,
    ERR_INVALIDCAPCMD,
    ERR_NEEDMOREPARAMS,
    ERR_NICKNAMEINUSE,
    ERR_NONICKNAMEGIVEN,
    ERR_NOTREGISTERED,
    ERR_PASSWDMISMATCH,
    irc_mode,
)
from .irc_wire import IrcMessage, line, user_text
from .limits import IRC_HANDSHAKE_LINES
from .names import name_problem
from .output import Out
from .session import Session, State


@dataclass(frozen=True)
class Routed:
    """The hub's answer to ``command`` (None: no command of the client's): route ``out``.
    ``unseen``: what else the hub answered that IRC shows nothing for (the receipt of a message
    to a client without echo-message), for the log alone."""

    out: Out
    command: cmd.Command | None = None
    unseen: Out | None = None


@dataclass(frozen=True)
class CloseLink:
    """Close the connection once what is queued is written; ``reason`` as in codes."""

    reason: str


Step = Union[bytes, Routed, CloseLink]


class Registration(LateAnswers):
    """The lines of an IRC connection until it is registered, and the cluster's later answers
    (``concluded``); ``IrcClient`` supplies its state and its way to the hub."""

    network: IrcNetwork
    hub: Hub
    session: Session
    queries: Queries
    nick: str
    user: str
    password: str | None
    caps: set[str]
    negotiating: bool
    handshake_lines: int
    claiming: bool
    next_nick: str

    @property
    def registered(self) -> bool:
        return self.session.state is State.ACTIVE

    def _hub(self, command: cmd.Command, now: float, on_error: ErrorMap) -> list[Step]:
        raise NotImplementedError  # IrcClient._hub

    def _ping(self, message: IrcMessage, now: float) -> list[Step]:
        raise NotImplementedError  # IrcClient._ping

    def _quit(self, message: IrcMessage, now: float) -> list[Step]:
        raise NotImplementedError  # IrcClient._quit

    def _handshake_line(self) -> list[Step]:
        """Count a line before registration: past ``IRC_HANDSHAKE_LINES`` the connection ends."""
        self.handshake_lines += 1
        if self.handshake_lines > IRC_HANDSHAKE_LINES:
            return [self.fmt.error("Too many lines before registration"), CloseLink(codes.FLOODING)]
        return []

    def _unregistered(self, message: IrcMessage, now: float) -> list[Step]:
        ended = self._handshake_line()
        if ended:
            return ended
        verb, params = message.verb, message.params
        if verb == "CAP":
            return self._cap(message, now)
        if verb == "PASS":
            if not params:
                return [self._reply(ERR_NEEDMOREPARAMS, "PASS", "Not enough parameters")]
            self.password = params[0]
            return []
        if verb == "NICK":
            if not params or not params[0]:
                return [self._reply(ERR_NONICKNAMEGIVEN, "No nickname given")]
            refusal = self._nick_problem(params[0])
            if refusal:
                return [refusal]
            if self.claiming:  # the last NICK wins, once the one being claimed is answered
                self.next_nick = params[0]
                return []
            self.nick = params[0]
            return self._register(now)
        if verb == "USER":
            if len(params) < 4 or not params[0] or not params[3]:
                return [self._reply(ERR_NEEDMOREPARAMS, "USER", "Not enough parameters")]
            self.user = params[0]
            self.network.realnames[self.session.id] = user_text(params[3])
            return self._register(now)
        if verb == "PING":
            return self._ping(message, now)
        if verb == "PONG":
            return []
        if verb == "QUIT":
            return self._quit(message, now)
        return [self._reply(ERR_NOTREGISTERED, "You have not registered")]

    # --- registration -----------------------------------------------------------------------

    def _register(self, now: float) -> list[Step]:
        if not self.nick or not self.user or self.negotiating or self.claiming:
            return []
        steps: list[Step] = []
        session = self.session
        if session.state is State.PASSWORD:
            if self.password is None:
                return [
                    self._reply(ERR_PASSWDMISMATCH, "Password required"),
                    self.fmt.error("Password required"),
                    CloseLink(codes.WRONG_PASSWORD),
                ]
            refused: list[ev.Error] = []

            def bad_password(error: ev.Error) -> bytes:
                refused.append(error)
                return self._bad_password(error)

            steps += self._hub(cmd.Password(self.password), now, bad_password)
            after: State = session.state
            if after is State.PASSWORD and refused and refused[-1].code == codes.PASSWORD_WAIT:
                # Not compared (guessing from this address must slow down): not called wrong.
                waiting = refused[-1].text
                return [*steps, self.fmt.error(waiting), CloseLink(codes.PASSWORD_UNCHECKED)]
            if after is State.PASSWORD:  # wrong: IRC closes the link at once
                return [*steps, self.fmt.error("Bad password"), CloseLink(codes.WRONG_PASSWORD)]
            if after is not State.NAME:  # the hub closed it (too many wrong passwords)
                return steps
        nick = self.nick
        steps += self._hub(cmd.Nick(nick), now, self._nick_refused(nick))
        if session.state is State.ACTIVE:
            steps += self._welcome(now)
        elif session.state is State.CLAIMING:
            self.claiming = True  # the other servers of a cluster decide: ``concluded``
        else:
            self.nick = ""  # refused: the client sends another NICK
        return steps

    def _welcome(self, now: float) -> list[Step]:
        lobby = self.hub.rooms.lobby
        return [self.queries.welcome(self.caps), self.queries.joined(lobby, now, self.caps)]

    def concluded(self, event: ev.Event) -> list[Step] | None:
        """In a cluster, the hub's later answer to this client's NICK (``Hub.claimed``): the
        welcome, or 433 and another NICK awaited; once registered, to a NICK or a PRIVMSG to a
        nick (``irc_late.py``). None if ``event`` is no such answer: shown as it is."""
        if not self.claiming:
            late = self._late(event) if self.registered else None
            return None if late is None else [late] if late else []
        if not isinstance(event, (ev.Registered, ev.Error, ev.Prompt)):
            return None
        if isinstance(event, ev.Prompt):
            return []  # IRC has no prompt
        self.claiming = False
        after, self.next_nick = self.next_nick, ""  # a NICK the client sent meanwhile
        if isinstance(event, ev.Registered):
            return self._welcome(event.time) + (self._rename(after, event.time) if after else [])
        nick, self.nick = self.nick, ""
        steps: list[Step] = [self._nick_refused(nick)(event)]
        if after and self.session.state is not State.CLOSED:
            self.nick = after
            steps += self._register(event.time)
        return steps

    def _rename(self, nick: str, now: float) -> list[Step]:
        raise NotImplementedError  # IrcClient._rename: a registered client's NICK

    def _nick_problem(self, nick: str) -> bytes:
        """A NICK before registration is answered at once, as IRC servers do: 432 or 433 by the
        hub's rules for names (which decides again when the session registers)."""
        problem = name_problem(nick, self.hub.reserved)
        if problem is not None:  # why, as after registration (IRC clients show the text)
            return self._reply(ERR_ERRONEUSNICKNAME, nick, problem[1])
        if self.hub.roster.look_alike(nick, other_than=self.session) is not None:
            return self._reply(ERR_NICKNAMEINUSE, nick, "Nickname is already in use")
        return b""

    def _cap(self, message: IrcMessage, now: float) -> list[Step]:
        params = message.params
        sub = params[0].upper() if params else ""
        me = self.me
        if sub == "LS":
            if not self.registered:
                self.negotiating = True
            return [line("CAP", me, "LS", " ".join(CAPABILITIES), source=self.fmt.name)]
        if sub == "LIST":
            return [line("CAP", me, "LIST", " ".join(sorted(self.caps)), source=self.fmt.name)]
        if sub == "REQ":
            if not self.registered:
                self.negotiating = True
            wanted = params[1].split() if len(params) > 1 else []
            names = [w.lstrip("-") for w in wanted]
            if not wanted or any(name not in CAPABILITIES for name in names):
                return [line("CAP", me, "NAK", " ".join(wanted), source=self.fmt.name)]
            for word, name in zip(wanted, names):
                if word.startswith("-"):
                    self.caps.discard(name)
                else:
                    self.caps.add(name)
            # The mode says how this session's lines are written from now on (irc_render.py).
            self.session.mode = irc_mode(self.caps)
            return [line("CAP", me, "ACK", " ".join(wanted), source=self.fmt.name)]
        if sub == "END":
            if self.registered or not self.negotiating:
                return []
            self.negotiating = False
            return self._register(now)
        return [self._reply(ERR_INVALIDCAPCMD, sub or "*", "Invalid CAP command")]
