"""The log's account of what each command did, read from the hub's answers to its sender.

Levels as in ``logs.py``: INFO for connections, names, messages and typos; WARNING for a client
breaking a limit. Message text is logged only with ``--log-text`` and always through ``logs.clip``.
"""

from __future__ import annotations

import logging

from ..core import codes
from ..core import commands as cmd
from ..core import events as ev
from ..core.output import Out, ToSessions
from ..core.session import Session
from ..core.wire import plural
from .logs import clip


def journal(
    log: logging.LoggerAdapter,  # type: ignore[type-arg]
    session: Session,
    out: Out,
    log_text: bool,
    command: object = None,
) -> None:
    """Log what ``command`` from ``session`` did, from the events the hub sent back to it."""
    for item in out:
        topic = getattr(item, "event", None)
        if isinstance(topic, ev.Topic) and topic.by == session.name:
            # Set for the whole room: the setter reads it with everyone else.
            said = f": {clip(topic.topic)}" if log_text else f": {len(topic.topic)} characters"
            log.info("%s set the topic of %s%s", session.name, topic.room, said)
            continue
        if type(item) is not ToSessions or item.to != (session,):
            continue
        event = item.event
        if isinstance(event, ev.Delivered):
            if not log.isEnabledFor(logging.INFO):
                continue  # the commonest line of all: nothing to put together for nobody
            where = event.to or event.room or "ALL"
            target = where if event.to else f"{where} ({plural(event.recipients, 'user')})"
            kind = " (action)" if event.action else ""
            if log_text:
                # As sent: the formatter escapes its control characters (\x1b), which keeps the
                # evidence that others saw as U+FFFD.
                text = getattr(command, "text", event.text)
                log.info("%s -> %s%s: %s", session.name, target, kind, clip(text))
            else:
                log.info("%s -> %s%s: %d characters", session.name, target, kind, len(event.text))
        elif isinstance(event, ev.Registered):
            log.info("registered as %s (%d online)", event.name, len(event.users) + event.more)
        elif isinstance(event, ev.InRoom):
            verb = "joined" if event.joined else "talks in"
            log.info(
                "%s %s %s (%s)", session.name, verb, event.room, plural(event.online, "member")
            )
        elif isinstance(event, ev.Parted):
            # The event's reason: "/part ops see you" gives "see you", the room word taken off.
            said = f": {clip(event.reason, echo=True)}" if event.reason and log_text else ""
            log.info("%s left %s%s", session.name, event.room, said)
        elif isinstance(event, ev.HistoryBegin) and event.kind != "replay":
            if event.kind == "search" and log_text:
                query = clip(event.query, echo=True)
                log.info(
                    '%s searched %s for "%s": %d found',
                    session.name,
                    event.room,
                    query,
                    event.count,
                )
            else:
                log.info(
                    "%s asked for %s of %s: %d", session.name, event.kind, event.room, event.count
                )
        elif isinstance(event, ev.Renamed):
            log.info("renamed %s -> %s", event.old, event.new)
        elif isinstance(event, ev.Error):
            # A wrong password is INFO: guessing is slowed per address (guard.py); what matters
            # is the disconnect when an address is banned.
            level = logging.WARNING if event.code in codes.LIMIT_ERRORS else logging.INFO
            text = clip(event.text, echo=True)  # may echo what the user typed
            if event.code in codes.NAME_ERRORS:
                # Which name: the error's sentence does not always say (too long, a bad character).
                tried = clip(_name_tried(command), echo=True)
                log.log(level, 'name "%s" refused: %s: %s', tried, event.code, text)
            else:
                log.log(level, "user error %s: %s", event.code, text)


def _name_tried(command: object) -> str:
    """The name a refused line asked for (empty for a blank line)."""
    if isinstance(command, cmd.Nick):
        return command.name
    if isinstance(command, cmd.Say):
        return command.text
    return ""


# What a health check sends (``tcp-client --probe``: ``/mode json``, ``/ping probe``, ``/quit``):
# a connection that sends nothing more is not a visitor.
_CHECK_COMMANDS = (cmd.SetMode, cmd.Ping, cmd.Pong)


class Visit:
    """The log's account of one connection coming and going: ``connected (N connections)`` and
    ``NAME disconnected (REASON)``.

    A health check must not write two INFO records every 30 s, so the connect record waits for
    the first line that is more than a check. A connection that sends nothing but ``/mode``,
    ``/ping``, ``/pong`` and a ``/quit`` without a reason (or nothing at all: a port check) and
    ends in the ordinary way is logged at DEBUG only. Any other line, a refusal or a drop logs
    the connect at INFO first, with the number of connections counted when it was made."""

    __slots__ = ("log", "connections", "announced", "via")

    def __init__(
        self,
        log: logging.LoggerAdapter,  # type: ignore[type-arg]
        connections: int,
        via: str = "",
    ) -> None:
        self.log = log
        self.connections = connections
        self.announced = False
        self.via = via  # the proxy's address, for a connection that came through one

    def line(self, command: object) -> None:
        """A line arrived (before the hub handles it): a visitor's line announces the visit."""
        if self.announced or isinstance(command, _CHECK_COMMANDS):
            return
        if type(command) is cmd.Quit and not command.reason:
            return
        self.announce()

    def announce(self, level: int = logging.INFO) -> None:
        """Write the connect record (once) at ``level``."""
        if not self.announced:
            self.announced = True
            via = f" through the proxy {self.via}" if self.via else ""
            self.log.log(level, "connected%s (%s)", via, plural(self.connections, "connection"))

    def ended(self, name: str, reason: str, detail: str = "") -> None:
        """The connection is gone for ``reason``; ``name``: the session's name, if it had one."""
        if codes.is_ordinary(reason):
            level = logging.INFO if self.announced else logging.DEBUG
        else:
            level = logging.WARNING
        self.announce(level)
        who = f"{name} " if name else ""
        self.log.log(level, "%sdisconnected (%s)%s", who, reason, detail)
