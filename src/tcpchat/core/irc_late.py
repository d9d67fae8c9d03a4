"""The hub's later answers to a registered IRC client, in a cluster: the numerics of the command
that caused each.

Standalone, the hub answers a NICK or a PRIVMSG in the same call, and ``IrcClient._answer`` gives
its errors the numerics IRC clients expect. In a cluster two answers come later, through the
cluster's link (``server/app.py route_cluster`` hands them to ``IrcConnection.answered``): a new
name is claimed in Redis before it is given (``Hub.claimed``, ``Hub.claim_failed``), and a
private message to a user of another node is appended to that node's inbox only if the user
still holds the name there (``Hub.whispered``, or ``Hub.unsent`` when the link could not take
it). The late event alone does not say which command it answers, nor the nick the client typed,
so what is still waiting for an answer is remembered here when the hub hands it to the cluster:

- a NICK: the late ``Renamed`` (``you``) is shown as the NICK line it is today; the late
  ``name_taken`` or ``name_unchecked`` error is ``433`` with the nick asked for (``432`` for a
  name error), as it is when the hub refuses at once. The hub claims one new name at a time
  (a second NICK meanwhile is refused at once), so one nick is remembered.
- a PRIVMSG to a nick: the late ``no_such_user`` error (the recipient no longer holds the name
  when the message reaches Redis: they left or were renamed meanwhile) is ``401`` for the
  target as typed. The late "Delivered" and "Not sent" (``rate_limited``: the link to Redis was
  down or full; IRC has no numeric for it) settle it and are shown as today.

Both late answers name the line of the client's they answer (``Error.line``, ``Delivered.line``),
which is how a PRIVMSG's answer is found among several waiting. Anything else (a user's own
echo, "Not delivered", the news of others) is not an answer to a waiting command and is shown as
it is.
"""

from __future__ import annotations

from collections import deque

from . import cluster as cl
from . import codes
from . import events as ev
from .irc_errors import ErrorMaps
from .irc_render import ERR_NOSUCHNICK
from .output import Claim, Out, Whisper

# Private messages to nicks whose answer one IRC client can wait for at once. The hub does not
# bound them (flood control and the link's queue do), and a client that sends in a loop must not
# grow this without bound: past it the oldest is forgotten, and its late refusal, if any, comes
# as the hub's NOTICE, as it did before late answers had numerics.
PENDING_WHISPERS = 32

# The late errors that refuse a NICK (Hub.claimed, Hub.claim_failed): a rename's other errors
# (a bad name, one known to be taken, a NICK while another is being claimed) come at once.
_LATE_NAME_ERRORS = frozenset({codes.NAME_TAKEN, codes.NAME_UNCHECKED})
# The late errors that answer a private message (Hub.whispered, Hub.unsent).
_LATE_WHISPER_ERRORS = frozenset({codes.NO_SUCH_USER, codes.RATE_LIMITED})


class LateAnswers(ErrorMaps):
    """What a registered IRC client waits for the cluster to answer, and what the answer
    becomes; ``IrcClient`` holds the state (``waiting``), records with ``_expect`` and
    ``concluded`` asks ``_late``."""

    renaming: str  # the nick of a NICK the cluster has not answered yet ("": none)
    # Private messages to nicks not answered yet: (the client's line it was, the target as
    # typed), oldest first; a deque of at most PENDING_WHISPERS (``waiting``).
    whispers: deque[tuple[int, str]]

    def _expect(self, out: Out, asked: str) -> None:
        """``out`` is the hub's answer to a NICK ``asked`` or a PRIVMSG to the nick ``asked``
        ("" for a NOTICE, never answered with a numeric): if the hub handed it to the cluster
        (a rename's ``Claim``, a ``Whisper``), its answer comes later (``_late``)."""
        for item in out:
            if type(item) is Claim and item.old:
                self.renaming = asked
            elif type(item) is Whisper and isinstance(item.entry, cl.Whispered):
                self.whispers.append((item.entry.line, asked))

    def _late(self, event: ev.Event) -> bytes | None:
        """The IRC reply for ``event`` if it answers a command still waiting (b"": nothing, for
        a NOTICE's refusal, as when refused at once), else None: shown as it is
        (``Renderer``)."""
        if isinstance(event, ev.Renamed):
            if event.you:
                self.renaming = ""  # granted: the NICK line, as when granted at once
            return None
        if isinstance(event, ev.Delivered):
            self._waited(event.line)  # with echo-message the PRIVMSG, as it is
            return None
        if not isinstance(event, ev.Error):
            # An ``Undelivered`` ("Not delivered to NAME: NAME was disconnected ...") is not a
            # 401 even when its recipient is gone: it comes after the PRIVMSG was accepted
            # (and echoed, with echo-message), for a message dropped with its recipient's
            # connection (a reader that stopped reading: send queue exceeded) or one whose
            # recipient left in the moment it took to reach their node. IRC has no numeric for
            # "accepted, then lost", and a 401 would answer one PRIVMSG twice: a NOTICE says it.
            return None
        if event.code in _LATE_NAME_ERRORS and self.renaming:
            nick, self.renaming = self.renaming, ""
            return self._nick_refused(nick)(event)
        if event.code in _LATE_WHISPER_ERRORS:
            target = self._waited(event.line)
            if target is not None and event.code == codes.NO_SUCH_USER:
                if not target:  # RFC 1459 4.4.2: never an automatic reply to a NOTICE
                    return b""
                return self._reply(ERR_NOSUCHNICK, target, "No such nick/channel")
        return None  # "Not sent" (rate_limited): a NOTICE, as a flood refusal is

    def _waited(self, line: int) -> str | None:
        """The target of the private message sent as ``line``, no longer waiting; None if
        none was (a room message's answer, or one forgotten past ``PENDING_WHISPERS``)."""
        for index, (sent, target) in enumerate(self.whispers):
            if sent == line:
                del self.whispers[index]
                return target
        return None


def waiting() -> deque[tuple[int, str]]:
    """An IRC client's record of private messages waiting for the cluster's answer: bounded
    (``PENDING_WHISPERS``), the oldest forgotten first."""
    return deque(maxlen=PENDING_WHISPERS)
