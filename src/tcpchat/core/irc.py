"""An IRC client's lines as the hub's commands, sans I/O: IRC is another wire, not another chat.

``IrcClient`` belongs to one connection of the IRC listener. The transport gives it each framed
line (``receive``) and carries out the steps it returns, in order: bytes to send as they are, the
hub's instructions to route (``Routed``), or closing the link once what is queued is written
(``CloseLink``). Everything the chat decides (names, rooms, who gets a message, flood control) is
the hub's: a PRIVMSG is a ``Say`` or a ``Whisper``, JOIN a ``Join``, NICK a ``Nick``. What IRC
asks that the chat has no command for (WHO, WHOIS, NAMES, LIST, MODE, LUSERS, CAP, AWAY) is
answered here by reading the hub's rooms and roster, charged to the session's flood bucket like
any line. Errors the hub returns to the session become the numerics IRC clients expect for the
command that caused them.

Registration (PASS, NICK, USER, CAP) is ``irc_register.py``, which ``IrcClient`` inherits, as
it inherits the numerics of the hub's errors (``irc_errors.py``) and the quick way of the two
commonest lines, a channel's PRIVMSG and PING (``irc_quick.py``), which it tries first. Once
registered the client reads ``001``-``005``, LUSERS, ``422`` and its JOIN of ``#lobby``, where
every user starts.
"""

from __future__ import annotations

from secrets import token_urlsafe
from typing import Callable

from . import codes
from . import commands as cmd
from . import events as ev
from .flood import charge
from .framing import Frame, InvalidUtf8, LineTooLong, Neutralised
from .hub import Hub
from .irc_errors import ErrorMap, say_nothing
from .irc_late import waiting
from .irc_queries import IrcNetwork, Queries
from .irc_quick import QuickLines
from .irc_register import CloseLink, Registration, Routed, Step
from .irc_render import (
    ERR_ALREADYREGISTRED,
    ERR_BADCHANNAME,
    ERR_CHANOPRIVSNEEDED,
    ERR_NEEDMOREPARAMS,
    ERR_NONICKNAMEGIVEN,
    ERR_NORECIPIENT,
    ERR_NOSUCHCHANNEL,
    ERR_NOSUCHNICK,
    ERR_NOTEXTTOSEND,
    ERR_NOTONCHANNEL,
    ERR_UMODEUNKNOWNFLAG,
    ERR_USERSDONTMATCH,
    echoes,
)
from .irc_wire import (
    IRC_LINE_BYTES,
    IRC_TAG_BYTES,
    IrcMessage,
    Targets,
    ctcp,
    parse_message,
    targets,
    user_text,
)
from .limits import MAX_QUIT_REASON_CHARS
from .output import Out, ToSessions
from .rooms import room_name, room_problem
from .session import Session, State
from .text import is_blank

__all__ = ["CloseLink", "IrcClient", "Routed", "Step"]


class IrcClient(Registration, QuickLines):
    """One IRC connection's side of the conversation with the hub (the numerics its errors
    become: ``irc_errors.py``)."""

    def __init__(self, network: IrcNetwork, hub: Hub, session: Session) -> None:
        self.network = network
        self.fmt = network.format
        self.hub = hub
        self.session = session
        self.queries = Queries(network, hub, session)
        self.nick = ""  # the nick asked for before registration
        self.user = ""  # USER's user name (not shown: everyone is ~u)
        self.password: str | None = None
        self.caps: set[str] = set()
        self.negotiating = False  # CAP LS or REQ before registration: wait for CAP END
        self.handshake_lines = 0
        self.claiming = False  # cluster mode: NICK sent to the hub, the cluster not yet agreed
        self.next_nick = ""  # a NICK sent meanwhile: taken once the cluster has answered
        self.renaming = ""  # cluster mode, registered: what waits for the cluster (irc_late.py)
        self.whispers = waiting()

    @property
    def me(self) -> str:
        return self.session.name or "*"

    # --- reading ----------------------------------------------------------------------------

    def receive(self, frame: Frame, now: float) -> list[Step]:
        """One framed line from the client: the steps to carry out, in order."""
        if type(frame) is str and self.session.state is State.ACTIVE:
            quick = self._quick(frame, now)
            if quick is not None:
                return quick
        if isinstance(frame, (LineTooLong, InvalidUtf8)):
            more = isinstance(frame, LineTooLong) and frame.more
            code = codes.LINE_TOO_LONG if isinstance(frame, LineTooLong) else codes.INVALID_UTF8
            return self._hub(cmd.BadLine(code, more), now, self._bad_line)
        raw = frame.raw if isinstance(frame, Neutralised) else frame
        message = parse_message(raw)
        if message is None:  # no command (blank, a source or tags alone): costs as blank lines do
            return self._charge(now, kind=_BLANK) if self.registered else self._handshake_line()
        if message.body_bytes > IRC_LINE_BYTES or (
            message.tags and len(message.tags.encode("utf-8")) + 2 > IRC_TAG_BYTES  # '@', ' '
        ):
            return self._hub(cmd.BadLine(codes.LINE_TOO_LONG), now, self._bad_line)
        if not self.registered:
            return self._unregistered(message, now)
        handler = _REGISTERED.get(message.verb)
        if handler is None:
            return self._hub(cmd.UnknownCommand(message.verb), now, self._unknown(message.verb))
        if message.verb not in _HUB_VERBS:
            return self._charge(now, message.verb in _LOOKUPS) or handler(self, message, now)
        counted = self.session.lines  # the hub counts every line it handles
        steps = handler(self, message, now)
        if self.session.lines == counted:  # answered here (no such target, oneself): charged
            return self._charge(now, lookup=False) or steps
        return steps

    # --- the hub's commands -----------------------------------------------------------------

    def _privmsg(self, message: IrcMessage, now: float) -> list[Step]:
        notice = message.verb == "NOTICE"
        params = message.params
        wanted = targets(params[0] if params else "")
        if not wanted.taken:
            return [] if notice else [self._reply(ERR_NORECIPIENT, "No recipient given (PRIVMSG)")]
        if len(params) < 2 or not params[1]:
            return [] if notice else [self._reply(ERR_NOTEXTTOSEND, "No text to send")]
        text, action = params[1], False
        request = ctcp(text)
        if request is not None:
            if request[0] != "ACTION":
                return []  # other CTCP (VERSION, PING) has no meaning for native users
            text, action = request[1], True
        text = user_text(text)
        if is_blank(text):
            return [] if notice else [self._reply(ERR_NOTEXTTOSEND, "No text to send")]
        steps: list[Step] = []
        for target in wanted.taken:
            steps += self._send_to(target, text, action, notice, now)
        # A NOTICE's excess is answered too, as ngircd does: it is about the sender's command.
        return steps + self._too_many(wanted)

    def _send_to(
        self, target: str, text: str, action: bool, notice: bool, now: float
    ) -> list[Step]:
        quiet = notice  # RFC 1459 4.4.2: never an automatic reply to a NOTICE
        if target.startswith("#"):
            room = self.hub.rooms.find(room_name(target))
            if room is None:
                return [] if quiet else [self._reply(ERR_NOSUCHCHANNEL, target, "No such channel")]
            said: cmd.Command = (
                cmd.Action(text, room.name) if action else cmd.Say(text, text, room.name, notice)
            )
            on_error = say_nothing if quiet else self._cannot_send(target)
            return self._hub(said, now, on_error)
        peer = self.hub.roster.find(target)
        if peer is None:
            return [] if quiet else [self._reply(ERR_NOSUCHNICK, target, "No such nick/channel")]
        if peer is self.session:
            # The chat does not whisper to oneself; IRC does: it comes straight back (an ACTION
            # as one, in lines of at most 512 bytes), tagged as any message. Its msgid is a
            # random one: the chat numbers only what it carries (Redis does, in a cluster).
            mode, msgid = self.session.mode, token_urlsafe(12)
            return [self.fmt.to_oneself(self.me, text, action, notice, mode, now, msgid)]
        whisper = cmd.Whisper(peer.name, f"* {self.me} {text}" if action else text, notice)
        out = self.hub.handle(self.session, whisper, now)
        self._expect(out, "" if quiet else target)  # in a cluster, answered later (irc_late.py)
        steps = self._answer(out, whisper, say_nothing if quiet else self._no_such_nick(target))
        away = self.network.away.get(peer.id)
        if away is not None and not quiet:
            steps.append(self.queries.reply("301", peer.name, away))
        return steps

    def _join(self, message: IrcMessage, now: float) -> list[Step]:
        if not message.params or not message.params[0]:
            return [self._reply(ERR_NEEDMOREPARAMS, "JOIN", "Not enough parameters")]
        if message.params[0] == "0":  # leave every channel: one line, charged once
            return self._hub(cmd.PartAll(), now, say_nothing)
        wanted = targets(message.params[0])
        steps: list[Step] = []
        for target in wanted.taken:
            steps += self._join_one(target, now)
        return steps + self._too_many(wanted)

    def _join_one(self, target: str, now: float) -> list[Step]:
        if not target.startswith("#"):
            return [self._reply(ERR_NOSUCHCHANNEL, target, "No such channel")]
        if room_problem(room_name(target)) is not None:
            return [self._reply(ERR_BADCHANNAME, target, "Illegal channel name")]
        existing = self.hub.rooms.find(room_name(target))
        if existing is not None and self.session in existing:
            return []  # IRC ignores a JOIN of a channel one is in
        return self._hub(cmd.Join(target), now, self._join_refused(target))

    def _part(self, message: IrcMessage, now: float) -> list[Step]:
        params = message.params
        if not params or not params[0]:
            return [self._reply(ERR_NEEDMOREPARAMS, "PART", "Not enough parameters")]
        reason = user_text(params[1])[:MAX_QUIT_REASON_CHARS] if len(params) > 1 else ""
        wanted = targets(params[0])
        steps: list[Step] = []
        for target in wanted.taken:
            room = self.hub.rooms.find(room_name(target)) if target.startswith("#") else None
            if room is None:
                steps.append(self._reply(ERR_NOSUCHCHANNEL, target, "No such channel"))
            elif self.session not in room:
                steps.append(self._reply(ERR_NOTONCHANNEL, target, "You're not on that channel"))
            else:
                steps += self._hub(cmd.Part(room.name, reason), now, self._not_on(target))
        return steps + self._too_many(wanted)

    def _topic(self, message: IrcMessage, now: float) -> list[Step]:
        params = message.params
        if not params or not params[0]:
            return [self._reply(ERR_NEEDMOREPARAMS, "TOPIC", "Not enough parameters")]
        target = params[0]
        room = self.hub.rooms.find(room_name(target)) if target.startswith("#") else None
        if room is None:
            return [self._reply(ERR_NOSUCHCHANNEL, target, "No such channel")]
        if len(params) < 2:
            refused = self._charge(now, lookup=False)
            return refused or [self.queries.topic(room)]
        if self.session not in room:
            return [self._reply(ERR_NOTONCHANNEL, target, "You're not on that channel")]
        return self._hub(cmd.SetTopic(user_text(params[1]), room.name), now, self._not_on(target))

    def _nick(self, message: IrcMessage, now: float) -> list[Step]:
        if not message.params or not message.params[0]:
            return [self._reply(ERR_NONICKNAMEGIVEN, "No nickname given")]
        return self._rename(message.params[0], now)

    def _rename(self, nick: str, now: float) -> list[Step]:
        """A registered client's NICK ``nick``."""
        if nick == self.session.name:
            return []
        command = cmd.Nick(nick)
        out = self.hub.handle(self.session, command, now)
        self._expect(out, nick)  # in a cluster the answer may come later (irc_late.py)
        return self._answer(out, command, self._nick_refused(nick))

    def _quit(self, message: IrcMessage, now: float) -> list[Step]:
        reason = user_text(message.params[0]) if message.params else ""
        return self._hub(cmd.Quit(reason[:MAX_QUIT_REASON_CHARS]), now, say_nothing)

    def _ping(self, message: IrcMessage, now: float) -> list[Step]:
        if not message.params:
            return [self._reply("409", "No origin specified")]
        return self._hub(cmd.Ping(message.params[0]), now, say_nothing)

    def _pong(self, message: IrcMessage, now: float) -> list[Step]:
        return self._hub(cmd.Pong(message.params[0] if message.params else ""), now, say_nothing)

    def _already(self, message: IrcMessage, now: float) -> list[Step]:
        return [self._reply(ERR_ALREADYREGISTRED, "You may not reregister")]

    def _query(self, message: IrcMessage, now: float) -> list[Step]:
        return [self.queries.answer(message, self.caps)]

    def _mode(self, message: IrcMessage, now: float) -> list[Step]:
        params = message.params
        if not params:
            return [self._reply(ERR_NEEDMOREPARAMS, "MODE", "Not enough parameters")]
        target = params[0]
        if target.startswith("#"):
            room = self.hub.rooms.find(room_name(target))
            if room is None:
                return [self._reply(ERR_NOSUCHCHANNEL, target, "No such channel")]
            change = params[1] if len(params) > 1 else ""
            if not change:
                return [self.queries.channel_modes(room)]
            if change.lstrip("+") == "b":  # the ban list, asked for by clients on joining
                return [self.queries.reply("368", room.name, "End of channel ban list")]
            return [self._reply(ERR_CHANOPRIVSNEEDED, room.name, "You're not channel operator")]
        found = self.hub.roster.find(target)
        if found is not self.session:
            if found is None:
                return [self._reply(ERR_NOSUCHNICK, target, "No such nick/channel")]
            return [self._reply(ERR_USERSDONTMATCH, "Can't change mode for other users")]
        change = params[1] if len(params) > 1 else ""
        if not change:
            return [self.queries.reply("221", "+i")]
        if any(ch not in "+-i" for ch in change):
            return [self._reply(ERR_UMODEUNKNOWNFLAG, "Unknown MODE flag")]
        return []  # every user is +i already; -i is not offered

    def _away(self, message: IrcMessage, now: float) -> list[Step]:
        text = user_text(message.params[0]) if message.params else ""
        if text:
            self.network.away[self.session.id] = text[:MAX_QUIT_REASON_CHARS]
            return [self.queries.reply("306", "You have been marked as being away")]
        self.network.away.pop(self.session.id, None)
        return [self.queries.reply("305", "You are no longer marked as being away")]

    # --- the hub, and what its errors become ------------------------------------------------

    def _hub(self, command: cmd.Command, now: float, on_error: ErrorMap) -> list[Step]:
        """``command`` to the hub; its answer as steps, with errors to this session turned into
        IRC's replies by ``on_error``, prompts left out (IRC has none) and the receipt of a
        message to a client without echo-message given to the log alone (``Routed.unseen``)."""
        return self._answer(self.hub.handle(self.session, command, now), command, on_error)

    def _answer(self, out: Out, command: cmd.Command, on_error: ErrorMap) -> list[Step]:
        """The hub's answer ``out`` to ``command`` as steps (``_hub``)."""
        steps: list[Step] = []
        kept: Out = []
        unseen: Out | None = None
        for item in out:
            if isinstance(item, ToSessions) and item.to == (self.session,):
                event = item.event
                if isinstance(event, ev.Prompt):
                    continue
                if isinstance(event, ev.Delivered) and not echoes(self.session.mode):
                    unseen = [item]  # the log's, not the client's: not worth routing
                    continue
                if isinstance(event, ev.Error) and event.code != codes.RATE_LIMITED:
                    if kept:
                        steps.append(Routed(kept, command if not steps else None))
                        kept = []
                    steps.append(on_error(event))
                    continue
                if isinstance(event, ev.InRoom) and event.joined:
                    kept.append(item)
                    steps.append(Routed(kept, command if not steps else None))
                    kept = []
                    room = self.hub.rooms.find(event.room)
                    if room is not None:
                        steps.append(self.queries.room_state(room))
                    continue
            kept.append(item)
        if kept or not steps:
            steps.append(Routed(kept, command if not steps else None, unseen))
        return steps

    def _charge(
        self, now: float, lookup: bool = False, kind: cmd.Command | None = None
    ) -> list[Step]:
        """Charge a line answered here to the session's flood bucket, as the hub charges its
        own (a lookup as /rooms, another line as /users, or as ``kind``); the refusal (and, past
        the limit, the end) as the hub words them."""
        session, limits = self.session, self.hub.config
        session.last_seen = now
        session.pinged_at = None
        session.lines += 1
        if kind is None:
            kind = cmd.ListRooms() if lookup else cmd.ListUsers()
        if charge(session, kind, now, limits.flood_burst, limits.flood_rate):
            session.refused = 0
            return []
        session.refused += 1
        if session.refused > limits.flood_max_refused:
            return [
                self.fmt.error("You sent too many lines too fast"),
                CloseLink(codes.FLOODING),
            ]
        return [
            self.fmt.notice(self.me, "Slow down: you are sending too fast; that line was dropped.")
        ]

    def _too_many(self, wanted: Targets) -> list[Step]:
        return [self.queries.too_many(wanted)] if wanted.dropped else []


_Handler = Callable[[IrcClient, IrcMessage, float], "list[Step]"]
_BLANK = cmd.Blank()  # what a line with no command costs (flood.py)

_REGISTERED: dict[str, _Handler] = {
    "PRIVMSG": IrcClient._privmsg,
    "NOTICE": IrcClient._privmsg,
    "JOIN": IrcClient._join,
    "PART": IrcClient._part,
    "TOPIC": IrcClient._topic,
    "NICK": IrcClient._nick,
    "QUIT": IrcClient._quit,
    "PING": IrcClient._ping,
    "PONG": IrcClient._pong,
    "PASS": IrcClient._already,
    "USER": IrcClient._already,
    "CAP": IrcClient._cap,
    "MODE": IrcClient._mode,
    "AWAY": IrcClient._away,
    "NAMES": IrcClient._query,
    "LIST": IrcClient._query,
    "WHO": IrcClient._query,
    "WHOIS": IrcClient._query,
    "LUSERS": IrcClient._query,
    "MOTD": IrcClient._query,
    "USERHOST": IrcClient._query,
    "ISON": IrcClient._query,
}
# Verbs that reach the hub, which charges them itself; the others are charged here.
_HUB_VERBS = frozenset(
    {"PRIVMSG", "NOTICE", "JOIN", "PART", "TOPIC", "NICK", "QUIT", "PING", "PONG"}
)
# Verbs that read a list (charged as the hub charges /rooms).
_LOOKUPS = frozenset({"NAMES", "LIST", "WHO", "WHOIS"})
