"""The log's account of what each command did, read from the hub's answers to its sender.

Levels as in ``logs.py``: INFO for names, messages and typos; WARNING for a client breaking a
limit. Message text is logged only with ``--log-text`` and always through ``logs.clip``.
"""

from __future__ import annotations

import logging

from ..core import codes
from ..core import events as ev
from ..core.output import Out, ToSessions
from ..core.session import Session
from ..core.wire import plural
from .logs import clip


def journal(log: logging.LoggerAdapter, session: Session, out: Out, log_text: bool) -> None:  # type: ignore[type-arg]
    """Log what a command from ``session`` did, from the events the hub sent back to it."""
    for item in out:
        if type(item) is not ToSessions or item.to != (session,):
            continue
        event = item.event
        if isinstance(event, ev.Delivered):
            target = event.to or f"ALL ({plural(event.recipients, 'user')})"
            kind = " (action)" if event.action else ""
            if log_text:
                log.info("%s -> %s%s: %s", session.name, target, kind, clip(event.text))
            else:
                log.info("%s -> %s%s: %d characters", session.name, target, kind, len(event.text))
        elif isinstance(event, ev.Registered):
            log.info("registered as %s (%d online)", event.name, len(event.users))
        elif isinstance(event, ev.Renamed):
            log.info("renamed %s -> %s", event.old, event.new)
        elif isinstance(event, ev.Error):
            # A wrong password is INFO: guessing is slowed per address (guard.py); what matters
            # is the disconnect when an address is banned.
            level = logging.WARNING if event.code in codes.LIMIT_ERRORS else logging.INFO
            text = clip(event.text, echo=True)  # may echo what the user typed
            log.log(level, "user error %s: %s", event.code, text)
