"""What an IRC client asks about the chat, answered from the hub's rooms and roster (read only):
the welcome burst, a channel's topic and names, WHO, WHOIS, LIST, LUSERS, MOTD, modes.

``core/irc.py`` calls these for one session; nothing here changes the chat.
"""

from __future__ import annotations

import time

from .. import __version__
from .hub import Hub
from .irc_render import (
    ERR_NEEDMOREPARAMS,
    ERR_NOMOTD,
    ERR_NONICKNAMEGIVEN,
    ERR_NOSUCHNICK,
    ERR_TOOMANYTARGETS,
    RPL_CHANNELMODEIS,
    RPL_CREATED,
    RPL_ENDOFNAMES,
    RPL_ENDOFWHO,
    RPL_ENDOFWHOIS,
    RPL_ISUPPORT,
    RPL_LIST,
    RPL_LISTEND,
    RPL_LISTSTART,
    RPL_LUSERCHANNELS,
    RPL_LUSERCLIENT,
    RPL_LUSERME,
    RPL_MYINFO,
    RPL_NAMREPLY,
    RPL_NOTOPIC,
    RPL_TOPIC,
    RPL_TOPICWHOTIME,
    RPL_WELCOME,
    RPL_WHOISCHANNELS,
    RPL_WHOISSERVER,
    RPL_WHOISUSER,
    RPL_WHOREPLY,
    RPL_YOURHOST,
    IrcFormat,
)
from .irc_wire import (
    IRC_LINE_BYTES,
    MAX_TARGETS,
    TOO_MANY_TARGETS,
    IrcMessage,
    Targets,
    line,
    targets,
)
from .limits import (
    MAX_QUIT_REASON_CHARS,
    MAX_ROOMS_PER_USER,
    MAX_TOPIC_CHARS,
    NAME_MAX_CHARS,
    ROOM_NAME_MAX_CHARS,
)
from .rooms import Room, room_name
from .session import Session
from .wire import iso_time

# RPL_ISUPPORT (modern.ircdocs.horse/#rplisupport-005). Nicks are compared as chat names are:
# NFKC case folding and look-alikes (core/names.py); no IRC casemapping says that exactly, and
# rfc8265 (PRECIS case folding) is the nearest. No channel operators, so no prefixes.
ISUPPORT = (
    "CASEMAPPING=rfc8265",
    "CHANTYPES=#",
    "CHANMODES=,,,nt",
    "PREFIX=",
    f"CHANLIMIT=#:{MAX_ROOMS_PER_USER}",
    f"CHANNELLEN={ROOM_NAME_MAX_CHARS}",
    f"NICKLEN={NAME_MAX_CHARS}",
    f"TOPICLEN={MAX_TOPIC_CHARS}",
    f"AWAYLEN={MAX_QUIT_REASON_CHARS}",
    f"QUITLEN={MAX_QUIT_REASON_CHARS}",
    f"TARGMAX=PRIVMSG:{MAX_TARGETS},NOTICE:{MAX_TARGETS},JOIN:{MAX_TARGETS},PART:{MAX_TARGETS},"
    f"NAMES:{MAX_TARGETS},LIST:{MAX_TARGETS}",
    "NETWORK=tcp-chat",
    "UTF8ONLY",
)


class IrcNetwork:
    """What every IRC session of one server shares: how lines are written, when the server
    started, and what the chat itself does not keep (IRC users' real names and away texts)."""

    def __init__(self, server_name: str, started: float) -> None:
        self.format = IrcFormat(server_name)
        self.started = started
        self.realnames: dict[int, str] = {}  # session id -> USER's real name
        self.away: dict[int, str] = {}  # session id -> AWAY text

    def forget(self, session: Session) -> None:
        self.realnames.pop(session.id, None)
        self.away.pop(session.id, None)


class Queries:
    """Answers for one session (``me`` in every reply)."""

    def __init__(self, network: IrcNetwork, hub: Hub, session: Session) -> None:
        self.network = network
        self.fmt: IrcFormat = network.format
        self.hub = hub
        self.session = session

    @property
    def me(self) -> str:
        return self.session.name or "*"

    def reply(self, numeric: str, *params: str) -> bytes:
        return self.fmt.reply(numeric, self.me, *params)

    # --- registration ----------------------------------------------------------------------

    def welcome(self, caps: set[str]) -> bytes:
        """001 to 005, LUSERS and the MOTD (422): what a client reads once it is registered."""
        fmt, me = self.fmt, self.me
        created = _date(self.network.started)
        out = [
            self.reply(RPL_WELCOME, f"Welcome to tcp-chat, {fmt.mask(me)}"),
            self.reply(RPL_YOURHOST, f"Your host is {fmt.name}, running tcp-chat {__version__}"),
            self.reply(RPL_CREATED, f"This server was created {created}"),
            line(RPL_MYINFO, me, fmt.name, f"tcp-chat-{__version__}", "i", "nt", source=fmt.name),
        ]
        out.append(self.reply(RPL_ISUPPORT, *ISUPPORT, "are supported by this server"))
        out.append(self.lusers())
        out.append(self.reply(ERR_NOMOTD, "MOTD File is missing"))
        return b"".join(out)

    def joined(self, room: Room[Session], now: float, caps: set[str]) -> bytes:
        """The JOIN of a room the session was put in (``#lobby`` on registration; with its
        ``@time``, as every JOIN, under server-time), then its topic and names."""
        tags = f"time={iso_time(now)}" if "server-time" in caps else ""
        join = line("JOIN", room.name, source=self.fmt.mask(self.me), tags=tags)
        return join + self.room_state(room)

    def room_state(self, room: Room[Session]) -> bytes:
        """A joined room's topic (332, 333) and names (353, 366)."""
        topic = self.topic(room) if room.topic else b""
        return topic + self.names(room)

    def topic(self, room: Room[Session]) -> bytes:
        if not room.topic:
            return self.reply(RPL_NOTOPIC, room.name, "No topic is set")
        out = self.reply(RPL_TOPIC, room.name, room.topic)
        if room.topic_by:
            out += line(
                RPL_TOPICWHOTIME,
                self.me,
                room.name,
                self.fmt.mask(room.topic_by),  # irssi shows "set by NICK [~u@HOST]"
                str(int(room.topic_at)),
                source=self.fmt.name,
            )
        return out

    def names(self, room: Room[Session], end: bool = True) -> bytes:
        """353 lines (as many as fit in 512 bytes each) and 366."""
        head = f":{self.fmt.name} {RPL_NAMREPLY} {self.me} = {room.name} :"
        room_left = IRC_LINE_BYTES - len(head.encode()) - 2
        out: list[bytes] = []
        batch: list[str] = []
        size = 0
        for name in room.names():
            cost = len(name.encode()) + 1
            if batch and size + cost > room_left:
                out.append(
                    line(
                        RPL_NAMREPLY, self.me, "=", room.name, " ".join(batch), source=self.fmt.name
                    )
                )
                batch, size = [], 0
            batch.append(name)
            size += cost
        if batch:
            out.append(
                line(RPL_NAMREPLY, self.me, "=", room.name, " ".join(batch), source=self.fmt.name)
            )
        if end:
            out.append(self.reply(RPL_ENDOFNAMES, room.name, "End of /NAMES list"))
        return b"".join(out)

    def channel_modes(self, room: Room[Session]) -> bytes:
        return self.reply(RPL_CHANNELMODEIS, room.name, "+nt")

    def lusers(self) -> bytes:
        """251, 254, 255. In a cluster the users and servers are the whole cluster's (the
        servers those with someone on them), and "I have" counts this server's own users and
        the other servers it shares the chat with. As ergo, 251 splits the users into the
        visible and the invisible: this server's IRC users are +i (221); the others, native or
        of another node, have no user modes. Counted by the roster: nobody is walked."""
        users, rooms = len(self.hub.roster), len(self.hub.rooms)
        invisible = self.hub.roster.irc_users
        local, others = users, 0
        cluster = self.hub.cluster
        if cluster is not None:
            for remote in cluster.remote.values():
                local -= len(remote)
                others += 1 if remote else 0
        return b"".join(
            [
                self.reply(
                    RPL_LUSERCLIENT,
                    f"There are {users - invisible} users and {invisible} invisible on "
                    f"{1 + others} servers",
                ),
                self.reply(RPL_LUSERCHANNELS, str(rooms), "channels formed"),
                self.reply(RPL_LUSERME, f"I have {local} clients and {others} servers"),
            ]
        )

    # --- queries -----------------------------------------------------------------------------

    def answer(self, message: IrcMessage, caps: set[str]) -> bytes:
        verb, params = message.verb, message.params
        if verb == "NAMES":
            return self._names(params)
        if verb == "LIST":
            return self._list(params)
        if verb == "WHO":
            return self._who(params)
        if verb == "WHOIS":
            return self._whois(params)
        if verb == "LUSERS":
            return self.lusers()
        if verb == "MOTD":
            return self.reply(ERR_NOMOTD, "MOTD File is missing")
        if verb == "USERHOST":
            return self._userhost(params)
        if verb == "ISON":
            online = [s.name for s in map(self.hub.roster.find, " ".join(params).split()) if s]
            return self.reply("303", " ".join(online))
        raise AssertionError(f"not a query: {verb}")

    def _room(self, name: str) -> Room[Session] | None:
        return self.hub.rooms.find(room_name(name)) if name.startswith("#") else None

    def _names(self, params: tuple[str, ...]) -> bytes:
        wanted = targets(params[0] if params else "")
        if not wanted.taken:
            out = b"".join(self.names(room, end=False) for room in self.session.rooms)
            return out + self.reply(RPL_ENDOFNAMES, "*", "End of /NAMES list")
        out = b""
        for target in wanted.taken:
            room = self._room(target)
            if room is None:
                out += self.reply(RPL_ENDOFNAMES, target, "End of /NAMES list")
            else:
                out += self.names(room)
        return out + self.too_many(wanted)

    def too_many(self, wanted: Targets) -> bytes:
        """One 407 for all the targets past MAX_TARGETS, naming the first of them (b"" if none):
        what a PRIVMSG, NOTICE, JOIN, PART or NAMES adds after the answers to its first ones."""
        if not wanted.dropped:
            return b""
        return self.reply(ERR_TOOMANYTARGETS, wanted.dropped, TOO_MANY_TARGETS)

    def _list(self, params: tuple[str, ...]) -> bytes:
        """Every room, or the rooms named: each once however often or however it is written
        (``LIST #a,#A,#a,...`` multiplied a room's row, topic and all), MAX_TARGETS at most."""
        wanted = targets(params[0]) if params and params[0].startswith("#") else None
        rooms = self.hub.rooms.all()
        if wanted is not None:
            found = {self._room(name): None for name in wanted.taken}
            rooms = [room for room in found if room is not None]
        out = [self.reply(RPL_LISTSTART, "Channel", "Users  Name")]
        out += [self.reply(RPL_LIST, room.name, str(len(room)), room.topic) for room in rooms]
        out.append(self.reply(RPL_LISTEND, "End of /LIST"))
        if wanted is not None:
            out.append(self.too_many(wanted))
        return b"".join(out)

    def _who_line(self, channel: str, session: Session) -> bytes:
        flags = "G" if session.id in self.network.away else "H"
        realname = self.network.realnames.get(session.id, "tcp-chat user")
        return line(
            RPL_WHOREPLY,
            self.me,
            channel,
            "~u",
            self.fmt.name,
            self.fmt.name,
            session.name,
            flags,
            f"0 {realname}",
            source=self.fmt.name,
        )

    def _who(self, params: tuple[str, ...]) -> bytes:
        mask = params[0] if params else "*"
        out: list[bytes] = []
        room = self._room(mask)
        if room is not None:
            out += [self._who_line(room.name, member) for member in room.everyone()]
        else:
            found = self.hub.roster.find(mask) if not mask.startswith("#") else None
            if found is not None:
                out.append(self._who_line("*", found))
        out.append(self.reply(RPL_ENDOFWHO, mask, "End of WHO list"))
        return b"".join(out)

    def _whois(self, params: tuple[str, ...]) -> bytes:
        if not params or not params[-1]:
            return self.reply(ERR_NONICKNAMEGIVEN, "No nickname given")
        nick = params[-1].split(",")[0]
        found = self.hub.roster.find(nick)
        if found is None:
            return self.reply(ERR_NOSUCHNICK, nick, "No such nick/channel") + self.reply(
                RPL_ENDOFWHOIS, nick, "End of /WHOIS list"
            )
        name = found.name
        realname = self.network.realnames.get(found.id, "tcp-chat user")
        out = [self.reply(RPL_WHOISUSER, name, "~u", self.fmt.name, "*", realname)]
        if found.rooms:
            out.append(self.reply(RPL_WHOISCHANNELS, name, " ".join(r.name for r in found.rooms)))
        out.append(self.reply(RPL_WHOISSERVER, name, self.fmt.name, "tcp-chat"))
        away = self.network.away.get(found.id)
        if away is not None:
            out.append(self.reply("301", name, away))
        out.append(self.reply(RPL_ENDOFWHOIS, name, "End of /WHOIS list"))
        return b"".join(out)

    def _userhost(self, params: tuple[str, ...]) -> bytes:
        if not params:
            return self.reply(ERR_NEEDMOREPARAMS, "USERHOST", "Not enough parameters")
        found = [s for s in map(self.hub.roster.find, params[:5]) if s is not None]
        entries = [
            f"{s.name}={'-' if s.id in self.network.away else '+'}~u@{self.fmt.name}" for s in found
        ]
        return self.reply("302", " ".join(entries))


def _date(ts: float) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(ts))
