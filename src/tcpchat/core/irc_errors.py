"""What the hub's errors become on an IRC connection: the numerics IRC clients expect for the
command that caused each (``ERR_NICKNAMEINUSE`` for a taken name after NICK, ``ERR_NOTONCHANNEL``
after PART, ...), or a NOTICE where IRC has no numeric for it. ``IrcClient`` (``irc.py``) picks one
of these maps for each command it hands to the hub."""

from __future__ import annotations

from typing import Callable

from . import codes
from . import events as ev
from .irc_render import (
    ERR_BADCHANNAME,
    ERR_CANNOTSENDTOCHAN,
    ERR_ERRONEUSNICKNAME,
    ERR_INPUTTOOLONG,
    ERR_NICKNAMEINUSE,
    ERR_NOSUCHNICK,
    ERR_NOTONCHANNEL,
    ERR_PASSWDMISMATCH,
    ERR_TOOMANYCHANNELS,
    ERR_UNKNOWNCOMMAND,
    IrcFormat,
)

# Turns an error the hub returned into the lines IRC expects for the command that caused it.
ErrorMap = Callable[[ev.Error], bytes]


class ErrorMaps:
    """The error maps of one IRC connection; ``IrcClient`` supplies its format and nick."""

    fmt: IrcFormat

    @property
    def me(self) -> str:
        raise NotImplementedError  # IrcClient.me

    def _reply(self, numeric: str, *params: str) -> bytes:
        return self.fmt.reply(numeric, self.me, *params)

    def _bad_line(self, error: ev.Error) -> bytes:
        if error.code == codes.LINE_TOO_LONG:
            return self._reply(ERR_INPUTTOOLONG, "Input line was too long")
        return self.fmt.notice(self.me, error.text)

    def _bad_password(self, error: ev.Error) -> bytes:
        if error.code == codes.PASSWORD_WAIT:  # not compared: the hub's words say how long
            return self.fmt.notice(self.me, error.text)
        return self._reply(ERR_PASSWDMISMATCH, "Password incorrect")

    def _unknown(self, verb: str) -> ErrorMap:
        return lambda error: self._reply(ERR_UNKNOWNCOMMAND, verb, "Unknown command")

    def _nick_refused(self, nick: str) -> ErrorMap:
        def numeric(error: ev.Error) -> bytes:
            if error.code in (codes.NAME_TAKEN, codes.NAME_UNCHECKED):  # try another, or again
                return self._reply(ERR_NICKNAMEINUSE, nick, error.text)
            if error.code in codes.NAME_ERRORS:
                return self._reply(ERR_ERRONEUSNICKNAME, nick, error.text)
            return self.fmt.notice(self.me, error.text)

        return numeric

    def _cannot_send(self, target: str) -> ErrorMap:
        return lambda error: self._reply(ERR_CANNOTSENDTOCHAN, target, "Cannot send to channel")

    def _no_such_nick(self, target: str) -> ErrorMap:
        return lambda error: self._reply(ERR_NOSUCHNICK, target, "No such nick/channel")

    def _not_on(self, target: str) -> ErrorMap:
        def numeric(error: ev.Error) -> bytes:
            if error.code == codes.NOT_IN_ROOM:
                return self._reply(ERR_NOTONCHANNEL, target, "You're not on that channel")
            return self.fmt.notice(self.me, error.text)

        return numeric

    def _join_refused(self, target: str) -> ErrorMap:
        def numeric(error: ev.Error) -> bytes:
            if error.code == codes.TOO_MANY_ROOMS:
                return self._reply(ERR_TOOMANYCHANNELS, target, error.text)
            if error.code == codes.ROOM_INVALID:
                return self._reply(ERR_BADCHANNAME, target, error.text)
            return self.fmt.notice(self.me, error.text)

        return numeric


def say_nothing(error: ev.Error) -> bytes:
    return b""
