"""The chat domain: sessions, names, delivery. Plain classes: no sockets, no asyncio, no clock.

The transport calls ``connect`` for a new connection, ``handle`` for every command the session
sends, ``sweep`` about once a second, ``disconnect`` when the connection is gone and ``shutdown``
when the server stops. Each returns a list of explicit instructions (``output.py``): which event
goes to whom, who is now online, whose connection to close, in the order to carry them out.
Failures a user causes ("no such user") are ``Error`` events, never exceptions.
"""

from __future__ import annotations

from typing import Any, Callable

from .. import __version__
from . import codes
from . import commands as cmd
from . import events as ev
from .archive import Archive, NoArchive
from .cluster import ClusterState, Said, Whispered
from .flood import charge, count_line
from .guard import arrivals, password_guard
from .hub_cluster import ClusterHandlers
from .limits import RESERVED_NAMES, HubLimits
from .names import ReservedNames
from .output import Close, Out, Publish, ToSessions, to
from .rooms import Room, Rooms, room_name
from .roster import Roster
from .session import Session, State

Handler = Callable[["Hub", Session, Any, float], Out]


class Hub(ClusterHandlers):
    """Decides everything: who may say what, who receives it, and what the sender is told.
    Its handlers for names and the password are in ``hub_names.py``, for rooms in
    ``hub_rooms.py``.

    ``archive`` keeps room messages and finds them again (``archive.py``); without one nothing
    is kept. Message ids go on from the highest it holds, so they keep increasing across restarts.

    ``node``: this server's name in a cluster (``hub_cluster.py``); None when it is alone.
    ``server_name``: its own name (``--server-name``: the source of IRC's numerics, every IRC
    user's host), reserved as the names of ``RESERVED_NAMES`` are, so nobody passes for it.
    """

    def __init__(
        self,
        config: HubLimits | None = None,
        archive: Archive | None = None,
        node: str | None = None,
        server_name: str = "",
    ) -> None:
        self.config = config or HubLimits()
        self.server_name = server_name
        self.reserved = ReservedNames([*RESERVED_NAMES, server_name])
        self.roster = Roster()
        self.rooms: Rooms[Session] = Rooms()
        self.archive = archive if archive is not None else NoArchive()
        self.guard, self.arrivals = password_guard(), arrivals(self.config.arrivals)
        self.sessions: dict[int, Session] = {}  # the sessions connected to this server
        self.cluster = ClusterState(node) if node is not None else None
        self._crowded: dict[Room[Session], None] = {}
        self._next_session = 1
        self._next_message = self.archive.last_id() + 1
        kept = self.archive.topic(self.rooms.lobby.key)
        if kept is not None:  # #lobby is made here, not by a /join
            lobby = self.rooms.lobby
            lobby.topic, lobby.topic_by, lobby.topic_at = kept.topic, kept.by, kept.at

    # --- life of a session ---------------------------------------------------------------------

    def connect(
        self, peer: str, now: float, origin: str = "", mode: str = codes.TEXT
    ) -> tuple[Session, Out]:
        """A new connection from ``peer`` (its address counts under ``origin``, by default the
        address itself), reading the server in ``mode`` (an IRC listener's connections start in
        an IRC mode): returns its session and the greeting to send."""
        cfg = self.config
        session = Session(self._next_session, peer, now, cfg.flood_burst, origin)
        session.mode = mode
        self._next_session += 1
        if cfg.password is not None:
            session.state = State.PASSWORD
        self.sessions[session.id] = session
        return session, self._greeting(session, now)

    def handle(self, session: Session, command: cmd.Command, now: float) -> Out:
        """One command from ``session``; returns what to send to whom."""
        if session.state is State.CLOSED:
            return []
        cfg = self.config
        if not self.take_line(session, command, now):
            count_line(session, command, now)  # refused, but a line all the same
            session.refused += 1
            if session.refused > cfg.flood_max_refused:
                return self._close(
                    session, now, codes.FLOODING, "You sent too many lines too fast. Goodbye."
                )
            return self._error(
                session,
                now,
                codes.RATE_LIMITED,
                "Slow down: you are sending too fast; that line was dropped.",
            )
        handler = _TABLE[session.state].get(type(command))
        if handler is None:
            return self._not_now(session, now)
        return self._after_messages(session, handler(self, session, command, now), now)

    def take_line(self, session: Session, command: cmd.Command, now: float) -> bool:
        """Charge and count a line (``flood.py``); False, nothing counted, if it is refused. For
        ``handle``, and for a transport that answers a line itself (IRC's PING)."""
        cfg = self.config
        if not charge(session, command, now, cfg.flood_burst, cfg.flood_rate):
            return False
        count_line(session, command, now)
        session.refused = 0
        return True

    def disconnect(self, session: Session, reason: str, now: float) -> Out:
        """The connection is gone (or is being dropped by the transport for ``reason``)."""
        if session.state is State.CLOSED:
            self.sessions.pop(session.id, None)
            return []
        return self._after_messages(session, self._leave(session, now, reason), now)

    def sweep(self, now: float) -> Out:
        """Call about once a second: announces the joins and leaves big rooms gathered, closes
        handshakes that took too long, pings quiet JSON sessions and drops the ones that did not
        answer."""
        cfg = self.config
        out: Out = self._crowd_notices(now) if self._crowded else []
        if self.cluster is not None:
            out += self._cluster_sweep(now)
        for session in list(self.sessions.values()):
            idle = now - session.last_seen
            if session.state in (State.NAME, State.PASSWORD, State.CLAIMING):
                if now - session.started >= cfg.handshake_timeout:
                    out += self._close(
                        session, now, codes.TIMED_OUT, "You did not choose a name in time. Goodbye."
                    )
            elif session.state is State.ACTIVE and codes.answers_pings(session.mode):
                if session.pinged_at is not None:
                    if now - session.pinged_at >= cfg.ping_timeout:
                        out += self._close(
                            session, now, codes.TIMED_OUT, "No answer to ping. Goodbye."
                        )
                elif idle >= cfg.ping_interval:
                    session.pinged_at = now
                    out.append(to(session, ev.PingRequest(now, f"{now:.0f}")))
        return out

    def undelivered(self, delivery: ToSessions, reason: str, now: float) -> Out:
        """The transport discarded ``delivery`` (a private message) unsent because its recipient
        was disconnected for ``reason``: tell the sender, who was told it was delivered."""
        sender, message = delivery.confirmed, delivery.event
        if not isinstance(message, ev.Message) or message.to is None:
            return []
        if isinstance(sender, Whispered):  # a user of another node's (hub_whispers.py)
            return self._not_delivered(sender, message.id, message.to, reason, now)
        if sender is None or sender.state is not State.ACTIVE:
            return []
        return self._tell_undelivered(sender, ev.Undelivered(now, message.id, message.to, reason))

    def shutdown(self, now: float, text: str = "Server is shutting down.") -> Out:
        """The server stops: tell every session, then forget them all."""
        everyone = tuple(self.sessions.values())
        for session in everyone:
            session.state = State.CLOSED
            self.roster.remove(session)
        self.sessions.clear()
        if not everyone:
            return []
        closes: Out = [Close(session, codes.SERVER_SHUTDOWN) for session in everyone]
        return [ToSessions(everyone, ev.Shutdown(now, text)), *closes]

    # --- handlers: one per (state, command), wired in _TABLE below ----------------------------

    def _public(self, session: Session, command: cmd.Say | cmd.Action, now: float) -> Out:
        room = self._talking_in(session, command.room)
        if room is None:
            return self._no_room(session, now, command.room)
        action = isinstance(command, cmd.Action)
        notice = isinstance(command, cmd.Say) and command.notice
        text = command.text
        cluster = self.cluster
        if cluster is not None and cluster.linked:
            # Said when every node reads it back from the log, this one included (hub_cluster).
            self._sending(session, now)  # what its part or leave tells others waits for it
            said = Said(
                cluster.node,
                session.id,
                session.name,
                room.key,
                room.label or "",
                text,
                action,
                now,
                notice,
                session.lines,
            )
            return [Publish(said, sender=session)]
        message = ev.Message(
            now, self._message_id(), session.name, None, action, text, room.label, notice=notice
        )
        self.archive.keep(room.key, message)
        others = self._reach(room) - 1
        local = cluster is not None  # cut off from the cluster: this server's users only
        delivered = ev.Delivered(
            now, message.id, None, action, text, others, session.lines, room.label, notice, local
        )
        return [self._to_room(room, message, skip=session), to(session, delivered)]

    def _whisper(self, session: Session, command: cmd.Whisper, now: float) -> Out:
        target = self.roster.find(command.name)
        if target is None:
            return self._error(
                session,
                now,
                codes.NO_SUCH_USER,
                f"No such user: {command.name}. Type /users to see who is online.",
            )
        if target is session:
            return self._error(
                session, now, codes.SELF_WHISPER, "You cannot send a private message to yourself."
            )
        if self.cluster is not None and self.cluster.linked:
            return self._whisper_through(session, target, command, now)
        if target.node is not None:
            return self._error(
                session,
                now,
                codes.NO_SUCH_USER,
                f"{target.name} is on another server, which this one cannot reach now. "
                "Try again later.",
            )
        message = ev.Message(
            now,
            self._message_id(),
            session.name,
            target.name,
            False,
            command.text,
            notice=command.notice,
        )
        self.archive.keep(None, message)  # the archive keeps it only if told to (--store-private)
        delivered = ev.Delivered(
            now,
            message.id,
            target.name,
            False,
            command.text,
            1,
            session.lines,
            None,
            command.notice,
        )
        return [
            ToSessions((target,), message, confirmed=session),
            to(session, delivered),
        ]

    def _users(self, session: Session, command: cmd.ListUsers, now: float) -> Out:
        if not command.room:
            return [to(session, ev.UserList(now, self.roster.names()))]
        room = self.rooms.find(room_name(command.room))
        if room is None:
            return self._error(
                session,
                now,
                codes.NO_SUCH_ROOM,
                f"No such room: {command.room}. Type /rooms to see the rooms.",
            )
        return [to(session, ev.UserList(now, room.names(), room.name))]

    def _help(self, session: Session, command: cmd.ShowHelp, now: float) -> Out:
        rows = tuple(
            (spec.usage, spec.help)
            for spec in cmd.COMMANDS
            if spec.name != "pass" or session.state is State.PASSWORD
        )
        return [to(session, ev.Help(now, rows))]

    def _quit(self, session: Session, command: cmd.Quit, now: float) -> Out:
        reason = codes.quit_reason(command.reason)
        farewell = f"Goodbye, {session.name}." if session.name else "Goodbye."
        return self._close(session, now, reason, farewell)

    def _mode(self, session: Session, command: cmd.SetMode, now: float) -> Out:
        session.mode = command.mode
        out: Out = [to(session, ev.ModeChanged(now, command.mode))]
        if session.state is not State.ACTIVE:
            out += self._greeting(session, now)  # again, in the mode the client can read
        return out

    def _ping(self, session: Session, command: cmd.Ping, now: float) -> Out:
        return [to(session, ev.PongReply(now, command.token))]

    def _pong(self, session: Session, command: cmd.Pong, now: float) -> Out:
        return []  # handle() already counted the line as a sign of life

    def _blank(self, session: Session, command: cmd.Blank, now: float) -> Out:
        return []  # handle() already charged it

    def _bad_line(self, session: Session, command: cmd.BadLine, now: float) -> Out:
        # Over-long and undecodable lines share one budget: both mean a broken or hostile client.
        session.bad_lines += 1
        if session.bad_lines >= self.config.max_bad_lines:
            return self._close(
                session,
                now,
                codes.TOO_MANY_BAD_LINES,
                "Too many over-long or invalid lines. Goodbye.",
            )
        if command.code == codes.INVALID_UTF8:
            text = "That line was not valid UTF-8 and was dropped."
        elif command.code == codes.TELNET_FLOOD:
            text = "Too many telnet commands without a line; they were ignored."
        else:
            text = f"Line too long (the limit is {self.config.max_line} bytes); it was dropped."
        return self._error(session, now, command.code, text)

    def _bad_usage(self, session: Session, command: cmd.BadUsage, now: float) -> Out:
        return self._error(session, now, codes.USAGE, f"Usage: {command.usage}")

    def _unknown(self, session: Session, command: cmd.UnknownCommand, now: float) -> Out:
        session.unknown += 1
        if session.unknown >= self.config.max_unknown:
            return self._close(
                session, now, codes.TOO_MANY_UNKNOWN, "Too many unknown commands. Goodbye."
            )
        return self._error(
            session,
            now,
            codes.UNKNOWN_COMMAND,
            f"Unknown command: /{command.name}. Type /help for the commands.",
        )

    # --- helpers -------------------------------------------------------------------------------

    def _not_now(self, session: Session, now: float) -> Out:
        if session.state is State.PASSWORD:
            return self._error(
                session,
                now,
                codes.NOT_REGISTERED,
                "Enter the server password first (/pass PASSWORD).",
            )
        if session.state is State.NAME:
            return self._error(session, now, codes.NOT_REGISTERED, "Choose a name first.")
        if session.state is State.CLAIMING:
            return self._error(
                session,
                now,
                codes.NOT_REGISTERED,
                "Wait: the other servers are checking your name.",
            )
        return self._error(session, now, codes.USAGE, "No password is needed now.")

    def _close(self, session: Session, now: float, reason: str, farewell: str) -> Out:
        """End a session on the hub's decision: a last word to it, a leave notice to the rest
        (in a cluster, after the room messages it sent before: ``hub_behind.py``)."""
        bye = ev.Bye(now, reason, farewell)
        out = [to(session, bye), Close(session, reason), *self._leave(session, now, reason)]
        return self._after_messages(session, out, now)

    def _leave(self, session: Session, now: float, reason: str) -> Out:
        was_active = session.state is State.ACTIVE
        session.state = State.CLOSED
        self.sessions.pop(session.id, None)
        if not was_active:
            return []
        self.roster.remove(session)
        return [*self._leave_rooms(session, now, reason), *self._share_leave(session, reason, now)]

    def _error(
        self, session: Session, now: float, code: str, text: str, line: int | None = None
    ) -> Out:
        """An error to the sender, answering its ``line`` (by default its last). Before
        registration it is followed by a fresh prompt: the client is still waiting to be asked
        for a name or the password (PROTOCOL.md section 2), whatever the refusal was (a bad
        name, a command, an invalid line, a flood)."""
        line = session.lines if line is None else line
        error = to(session, ev.Error(now, code, text, line))
        if session.state in (State.NAME, State.PASSWORD):
            return [error, to(session, ev.Prompt(now, self._prompt_field(session)))]
        return [error]

    def _message_id(self) -> int:
        self._next_message += 1
        return self._next_message - 1

    def _greeting(self, session: Session, now: float) -> Out:
        cfg = self.config
        # Before the server password nobody learns anything about the chat, not even its size.
        online = None if session.state is State.PASSWORD else len(self.roster)
        welcome = ev.Welcome(
            now, __version__, online, cfg.max_line, cfg.flood_burst, cfg.flood_rate
        )
        prompt = ev.Prompt(now, self._prompt_field(session))
        return [to(session, welcome), to(session, prompt)]

    def _prompt_field(self, session: Session) -> str:
        return "password" if session.state is State.PASSWORD else "name"


# Which command each state accepts, and who handles it: the session's whole state machine.
# A command missing from a state's row is answered by Hub._not_now.
_ALWAYS: dict[type, Handler] = {
    cmd.ShowHelp: Hub._help,
    cmd.Quit: Hub._quit,
    cmd.SetMode: Hub._mode,
    cmd.Ping: Hub._ping,
    cmd.Pong: Hub._pong,
    cmd.Blank: Hub._blank,
    cmd.BadLine: Hub._bad_line,
    cmd.BadUsage: Hub._bad_usage,
    cmd.UnknownCommand: Hub._unknown,
}
_TABLE: dict[State, dict[type, Handler]] = {
    State.PASSWORD: {
        **_ALWAYS,
        cmd.Blank: Hub._blank_answer,
        cmd.Password: Hub._password,
        cmd.Say: Hub._password,
    },
    State.NAME: {
        **_ALWAYS,
        cmd.Blank: Hub._blank_answer,
        cmd.Say: Hub._register,
        cmd.Nick: Hub._register,
    },
    State.ACTIVE: {
        **_ALWAYS,
        cmd.Say: Hub._public,
        cmd.Action: Hub._public,
        cmd.Whisper: Hub._whisper,
        cmd.ListUsers: Hub._users,
        cmd.Nick: Hub._rename,
        cmd.Join: Hub._join,
        cmd.Part: Hub._part,
        cmd.PartAll: Hub._part_all,
        cmd.ListRooms: Hub._rooms,
        cmd.SetTopic: Hub._topic,
        cmd.ShowHistory: Hub._page,
        cmd.Search: Hub._search,
    },
    State.CLAIMING: _ALWAYS,
    State.CLOSED: {},
}
