"""The two lines a busy IRC client sends most, answered without the general parse: a message to
a channel (``PRIVMSG #room :text``) and ``PING`` (which clients and bots send to measure the
lag, the benchmark's after each message).

``IrcClient`` (``irc.py``) inherits ``QuickLines`` and offers it every plain line of a registered
client first (``_quick``). ``irc_wire.quick_privmsg`` and ``quick_ping`` read only the plain shape
of these lines (no tags, no source, one channel, no CTCP); every other line, and every case
answered with an error, goes the general way (``parse_message``, the verb table), which answers
the same lines with the same steps (``tests/core/test_irc_quick.py``). What this saves is the
general parse and, for PING, the hub: a PING is charged and answered here as the hub would, as
WHO and MODE are answered in ``irc.py``.
"""

from __future__ import annotations

from . import commands as cmd
from . import events as ev
from .hub import Hub
from .irc_errors import ErrorMap, ErrorMaps
from .irc_register import Routed, Step
from .irc_render import echoes
from .irc_wire import SURELY_FITS, fits, quick_ping, quick_privmsg, user_text
from .output import Out, ToSessions
from .session import Session
from .text import is_blank

_PING = cmd.Ping()  # what a PING costs is told by its kind (flood.py)


class QuickLines(ErrorMaps):
    """The quick way of one IRC connection; ``IrcClient`` supplies its hub and session."""

    hub: Hub
    session: Session

    def _answer(self, out: Out, command: cmd.Command, on_error: ErrorMap) -> list[Step]:
        raise NotImplementedError  # IrcClient._answer

    def _quick(self, line: str, now: float) -> list[Step] | None:
        """The two lines a busy client sends most, a channel's PRIVMSG and PING, answered
        without the general parse (``irc_wire.quick_*``): the same steps as the general way,
        which takes every other line and every case these leave to it (None)."""
        if len(line) > SURELY_FITS and not fits(line):
            return None
        said = quick_privmsg(line)
        if said is not None:
            return self._quick_say(*said, now)
        token = quick_ping(line)
        if token is not None:
            return self._quick_ping(token, now)
        return None

    def _quick_say(self, target: str, text: str, now: float) -> list[Step] | None:
        """A PRIVMSG to one channel the session is in, as ``_privmsg`` says it; None for
        anything else (another room, no text), left to it."""
        text = user_text(text)
        if is_blank(text):
            return None
        session = self.session
        current = session.current
        if current is not None and target == current.name:
            room = ""  # the room it talks in: the hub takes it as it is, without finding it
        else:
            for joined in session.rooms:
                if target == joined.name:
                    room = joined.name
                    break
            else:
                return None
        said = cmd.Say(text, text, room)
        out = self.hub.handle(session, said, now)
        if len(out) == 2 and not echoes(session.mode):
            # The hub's usual answer (Hub._public): the message to the room, then the receipt,
            # which IRC shows nothing for: what ``_hub`` makes of it, without going through it.
            message, receipt = out
            if (
                type(receipt) is ToSessions
                and type(receipt.event) is ev.Delivered
                and receipt.to == (session,)
                and type(getattr(message, "event", None)) is ev.Message
            ):
                return [Routed([message], said, [receipt])]
        return self._answer(out, said, self._cannot_send(target))

    def _quick_ping(self, token: str, now: float) -> list[Step] | None:
        """PING answered here, as the hub answers it (``Hub._ping``): charged as the hub charges
        it, a sign of life, its PONG sent as it is. A PING flood control refuses is left to the
        hub (None), which refuses it in its own words; charging a refused line takes nothing,
        so the hub finds the bucket as it was."""
        if not self.hub.take_line(self.session, _PING, now):
            return None
        return [self.fmt.pong(token)]
