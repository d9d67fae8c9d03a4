"""The hub's events as IRC lines (RFC 1459/2812, modern.ircdocs.horse), sans I/O.

An IRC session's mode (``codes.IRC``) says what it negotiated that changes its lines: ``irc``,
or ``irc-`` and letters: ``t`` server-time (an ``@time`` tag), ``m`` message-tags (an ``@msgid``
tag on messages), ``e`` echo-message (its own messages come back, from ``Delivered``). Events to
many (a room's message, a join, a nick change) do not depend on who reads them, so they are
rendered once per mode and shared, as for the native port; events to one session (an answer to
its JOIN, an echo) name it (``me``). What IRC has no line for (the native greeting, prompts, the
answer to a mode change) renders as nothing.

Everyone is shown as ``nick!~u@HOST`` with the server's name as the host: tcp-chat has no idents
or host names to show, and one shape keeps the rendering of a broadcast the same for all.
"""

from __future__ import annotations

from typing import Callable

from . import codes, sentences
from . import events as ev
from .irc_wire import IRC_LINE_BYTES, escape_tag_value, line, split_text
from .limits import LOBBY
from .wire import iso_time
from .wire import render as render_native

# Numerics (RFC 2812 section 5, modern.ircdocs.horse).
RPL_WELCOME = "001"
RPL_YOURHOST = "002"
RPL_CREATED = "003"
RPL_MYINFO = "004"
RPL_ISUPPORT = "005"
RPL_UMODEIS = "221"
RPL_LUSERCLIENT = "251"
RPL_LUSEROP = "252"
RPL_LUSERCHANNELS = "254"
RPL_LUSERME = "255"
RPL_AWAY = "301"
RPL_UNAWAY = "305"
RPL_NOWAWAY = "306"
RPL_WHOISUSER = "311"
RPL_WHOISSERVER = "312"
RPL_ENDOFWHO = "315"
RPL_ENDOFWHOIS = "318"
RPL_WHOISCHANNELS = "319"
RPL_LISTSTART = "321"
RPL_LIST = "322"
RPL_LISTEND = "323"
RPL_CHANNELMODEIS = "324"
RPL_CREATIONTIME = "329"
RPL_NOTOPIC = "331"
RPL_TOPIC = "332"
RPL_TOPICWHOTIME = "333"
RPL_WHOREPLY = "352"
RPL_NAMREPLY = "353"
RPL_ENDOFNAMES = "366"
RPL_ENDOFBANLIST = "368"
ERR_NOSUCHNICK = "401"
ERR_NOSUCHCHANNEL = "403"
ERR_CANNOTSENDTOCHAN = "404"
ERR_TOOMANYCHANNELS = "405"
ERR_TOOMANYTARGETS = "407"
ERR_INVALIDCAPCMD = "410"
ERR_NORECIPIENT = "411"
ERR_NOTEXTTOSEND = "412"
ERR_INPUTTOOLONG = "417"
ERR_UNKNOWNCOMMAND = "421"
ERR_NOMOTD = "422"
ERR_NONICKNAMEGIVEN = "431"
ERR_ERRONEUSNICKNAME = "432"
ERR_NICKNAMEINUSE = "433"
ERR_NOTONCHANNEL = "442"
ERR_NOTREGISTERED = "451"
ERR_NEEDMOREPARAMS = "461"
ERR_ALREADYREGISTRED = "462"
ERR_PASSWDMISMATCH = "464"
ERR_BADCHANNAME = "479"
ERR_CHANOPRIVSNEEDED = "482"
ERR_UMODEUNKNOWNFLAG = "501"
ERR_USERSDONTMATCH = "502"

# Capabilities (IRCv3) and the letter each puts in the mode when it changes the lines.
CAP_LETTERS = {"server-time": "t", "message-tags": "m", "echo-message": "e"}
CAPABILITIES = tuple(CAP_LETTERS)


def irc_mode(caps: frozenset[str] | set[str]) -> str:
    """The session mode for an IRC session that negotiated ``caps``."""
    letters = "".join(sorted(CAP_LETTERS[c] for c in caps if c in CAP_LETTERS))
    return f"{codes.IRC}-{letters}" if letters else codes.IRC


def _flags(mode: str) -> str:
    return mode[len(codes.IRC) + 1 :]


def echoes(mode: str) -> bool:
    """True if a session in IRC ``mode`` is sent its own messages back (echo-message): without
    it the ``Delivered`` receipt renders as nothing."""
    return "e" in _flags(mode)


class IrcFormat:
    """How this server writes IRC: its name (the source of its own lines, every user's host)."""

    def __init__(self, server_name: str) -> None:
        self.name = server_name

    def mask(self, nick: str) -> str:
        """The source of ``nick``'s lines."""
        return f"{nick}!~u@{self.name}"

    def reply(self, numeric: str, me: str, *params: str) -> bytes:
        """A numeric reply from the server to ``me`` ("*" before it has a nick)."""
        return line(numeric, me or "*", *params, source=self.name)

    def notice(self, target: str, text: str) -> bytes:
        """A NOTICE from the server (to ``target``), one line per line of ``text``."""
        return b"".join(
            line("NOTICE", target or "*", piece, source=self.name, text=True)
            for row in text.split("\n")
            for piece in split_text(row, _room_for(self.name, target))
        )

    def error(self, text: str) -> bytes:
        """The ERROR a server sends before it closes the link."""
        return line("ERROR", f"Closing link: {text}")

    def pong(self, token: str) -> bytes:
        """The answer to a client's PING (as ``line`` writes it; this is the commonest line a
        bot is sent after the room's messages)."""
        token = token or self.name
        if " " in token or token[0] == ":":
            token = ":" + token
        return f":{self.name} PONG {self.name} {token}\r\n".encode()

    def render(self, event: ev.Event, mode: str, me: str = "") -> bytes:
        """The lines for ``event`` to a session in IRC ``mode`` whose nick is ``me`` (needed
        only for events to one session); b"" for events IRC shows nothing for."""
        render = _RENDERERS.get(type(event))
        return render(self, event, _flags(mode), me) if render is not None else b""

    # --- one per event ---------------------------------------------------------------------

    def _message(self, event: ev.Message, flags: str, me: str) -> bytes:
        target = event.to if event.to is not None else (event.room or LOBBY)
        tags = _tags(flags, event.time if "t" in flags else None, event.id) if flags else ""
        text = event.text
        if event.history and "t" not in flags:
            text = f"[{iso_time(event.time)[:19].replace('T', ' ')} UTC] {text}"
        return self.privmsg(self.mask(event.sender), target, text, event.action, event.notice, tags)

    def _delivered(self, event: ev.Delivered, flags: str, me: str) -> bytes:
        if "e" not in flags:
            return b""  # keep in step with ``echoes``
        target = event.to if event.to is not None else (event.room or LOBBY)
        tags = _tags(flags, event.time if "t" in flags else None, event.id)
        return self.privmsg(self.mask(me), target, event.text, event.action, event.notice, tags)

    def to_oneself(
        self, me: str, text: str, action: bool, notice: bool, mode: str, now: float, msgid: str
    ) -> bytes:
        """A message ``me`` sent to their own nick (the chat has no whisper to oneself), as a
        message delivered to them is written (``_message``: the tags ``mode`` asks for), then
        again as its echo with echo-message, as ergo sends it: the same lines, the same tags."""
        flags = _flags(mode)
        tags = _tags(flags, now if "t" in flags else None, msgid) if flags else ""
        lines = self.privmsg(self.mask(me), me, text, action, notice, tags)
        return lines * 2 if "e" in flags else lines

    def privmsg(
        self, source: str, target: str, text: str, action: bool, notice: bool, tags: str
    ) -> bytes:
        verb = "NOTICE" if notice else "PRIVMSG"
        # Each line as ``line`` writes it with ``text=True`` (a room's message is rendered once
        # per mode, but it is the commonest line of all).
        head = f":{source} {verb} {target} :"
        # What fits in 512 bytes once the source, verb and target are written (and an ACTION's
        # wrapping); a longer native message becomes several lines.
        room = IRC_LINE_BYTES - 2 - len(head.encode()) - 9 * action
        if tags:
            head = f"@{tags} {head}"
        if text.isascii() and len(text) <= room:
            pieces = [text]  # what split_text gives, without encoding it to count its bytes
        else:
            pieces = split_text(text, max(room, 64))
        if action:
            pieces = [f"\x01ACTION {piece}\x01" for piece in pieces]
        return "".join(f"{head}{piece}\r\n" for piece in pieces).encode()

    def _joined(self, event: ev.Joined, flags: str, me: str) -> bytes:
        return line(
            "JOIN", event.room or LOBBY, source=self.mask(event.name), tags=_t(flags, event)
        )

    def _left(self, event: ev.Left, flags: str, me: str) -> bytes:
        tags, source = _t(flags, event), self.mask(event.name)
        if codes.is_part(event.reason):
            reason = event.reason[len(codes.PART) + 2 :]
            room = event.room or LOBBY
            if reason:
                return line("PART", room, reason, source=source, tags=tags, text=True)
            return line("PART", room, source=source, tags=tags)
        if event.reason.startswith(codes.QUIT + ": "):
            reason = "Quit: " + event.reason[len(codes.QUIT) + 2 :]
        else:
            reason = event.reason.capitalize()
        return line("QUIT", reason, source=source, tags=tags, text=True)

    def _renamed(self, event: ev.Renamed, flags: str, me: str) -> bytes:
        return line("NICK", event.new, source=self.mask(event.old), tags=_t(flags, event))

    def _topic(self, event: ev.Topic, flags: str, me: str) -> bytes:
        if event.by is None:
            if not event.topic:
                return self.reply(RPL_NOTOPIC, me, event.room, "No topic is set")
            return self.reply(RPL_TOPIC, me, event.room, event.topic)
        return line(
            "TOPIC",
            event.room,
            event.topic,
            source=self.mask(event.by),
            tags=_t(flags, event),
            text=True,
        )

    def _in_room(self, event: ev.InRoom, flags: str, me: str) -> bytes:
        # The topic and the names follow from core/irc.py, which reads them whole from the room.
        if not event.joined:
            return b""
        return line("JOIN", event.room, source=self.mask(me), tags=_t(flags, event))

    def _parted(self, event: ev.Parted, flags: str, me: str) -> bytes:
        tags, source = _t(flags, event), self.mask(me)
        if event.reason:  # echoed as the others have it
            return line("PART", event.room, event.reason, source=source, tags=tags, text=True)
        return line("PART", event.room, source=source, tags=tags)

    def _crowd(self, event: ev.Crowd, flags: str, me: str) -> bytes:
        return self.notice(event.room, sentences.crowd(event))

    def _ping(self, event: ev.PingRequest, flags: str, me: str) -> bytes:
        return line("PING", event.token or self.name)

    def _pong(self, event: ev.PongReply, flags: str, me: str) -> bytes:
        return self.pong(event.token)

    def _error(self, event: ev.Error, flags: str, me: str) -> bytes:
        # Errors with a numeric of their own are answered by core/irc.py, which knows the
        # command; the rest (flood control, a usage) are NOTICEs with the hub's words.
        return self.notice(me, event.text)

    def _words(self, event: ev.Event, flags: str, me: str) -> bytes:
        """An event shown as the server's NOTICE in the native words (a list, an undelivered
        message, a history bracket)."""
        text = render_native(event, codes.TEXT).decode("utf-8").rstrip("\n")
        room = getattr(event, "room", None)
        target = room if isinstance(room, str) and room.startswith("#") else me
        return self.notice(target, text)

    def _undelivered(self, event: ev.Undelivered, flags: str, me: str) -> bytes:
        """The server's NOTICE, in the native words without the text mode's ``!!!``."""
        return self.notice(me or "*", sentences.undelivered(event))

    def _shutdown(self, event: ev.Shutdown | ev.Notice, flags: str, me: str) -> bytes:
        return self.notice(me or "*", event.text)

    def _bye(self, event: ev.Bye, flags: str, me: str) -> bytes:
        return self.error(event.text)


def _room_for(server: str, target: str) -> int:
    return max(64, IRC_LINE_BYTES - len(f":{server} NOTICE {target} :\r\n".encode()))


def _tags(flags: str, time: float | None, msgid: int | str | None = None) -> str:
    tags = []
    if time is not None:
        tags.append(f"time={iso_time(time)}")
    if msgid is not None and "m" in flags:
        tags.append(f"msgid={escape_tag_value(str(msgid))}")
    return ";".join(tags)


def _t(flags: str, event: ev.Event) -> str:
    """The tags of a line that is not a message: its time, with server-time."""
    return f"time={iso_time(event.time)}" if "t" in flags else ""


_Renderer = Callable[[IrcFormat, ev.Event, str, str], bytes]
_RENDERERS: dict[type, _Renderer] = {
    ev.Message: IrcFormat._message,  # type: ignore[dict-item]
    ev.Delivered: IrcFormat._delivered,  # type: ignore[dict-item]
    ev.Joined: IrcFormat._joined,  # type: ignore[dict-item]
    ev.Left: IrcFormat._left,  # type: ignore[dict-item]
    ev.Renamed: IrcFormat._renamed,  # type: ignore[dict-item]
    ev.Topic: IrcFormat._topic,  # type: ignore[dict-item]
    ev.InRoom: IrcFormat._in_room,  # type: ignore[dict-item]
    ev.Parted: IrcFormat._parted,  # type: ignore[dict-item]
    ev.Crowd: IrcFormat._crowd,  # type: ignore[dict-item]
    ev.PingRequest: IrcFormat._ping,  # type: ignore[dict-item]
    ev.PongReply: IrcFormat._pong,  # type: ignore[dict-item]
    ev.Error: IrcFormat._error,  # type: ignore[dict-item]
    ev.Undelivered: IrcFormat._undelivered,  # type: ignore[dict-item]
    ev.UserList: IrcFormat._words,
    ev.RoomList: IrcFormat._words,
    ev.HistoryBegin: IrcFormat._words,
    ev.HistoryEnd: IrcFormat._words,
    ev.Help: IrcFormat._words,
    ev.Shutdown: IrcFormat._shutdown,  # type: ignore[dict-item]
    ev.Notice: IrcFormat._shutdown,  # type: ignore[dict-item]
    ev.Bye: IrcFormat._bye,  # type: ignore[dict-item]
    # Welcome, Prompt, ModeChanged, Registered: nothing (core/irc.py writes the IRC welcome).
}


class Renderer:
    """Renders an event for any session: the native modes through ``wire.render``, the IRC modes
    through ``IrcFormat``. The server's fan-out calls it once per mode (``me`` is given only for
    an event to one session)."""

    def __init__(self, irc: IrcFormat) -> None:
        self.irc = irc

    def __call__(self, event: ev.Event, mode: str, elsewhere: bool = False, me: str = "") -> bytes:
        if codes.is_irc(mode):
            return self.irc.render(event, mode, me)
        return render_native(event, mode, elsewhere)


def personal(event: ev.Event) -> bool:
    """True if the IRC lines of ``event`` name their reader (they cannot be shared)."""
    return type(event) in _PERSONAL


_PERSONAL = frozenset(
    {
        ev.Delivered,
        ev.InRoom,
        ev.Parted,
        ev.Error,
        ev.Undelivered,
        ev.UserList,
        ev.RoomList,
        ev.Help,
        ev.Notice,
        ev.Topic,  # a query's answer names its reader; a change does not, but is cheap
    }
)
