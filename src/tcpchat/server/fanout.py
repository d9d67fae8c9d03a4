"""The broadcasts made since the last write to clients, shared by every recipient instead of
copied to each.

A message to everyone online is one entry here, however many users there are: the transport
appends the event once, and when it flushes each online connection takes the entries it has not
seen yet (``since``): most take all of them as one bytes object joined once per mode. Rendering
happens once per mode, for the modes some recipient actually uses. Entries carry the session they
skip (the sender, who gets a ``delivered`` confirmation instead), so only the senders of this
round pay for a filter.

A connection that gets an event of its own (a whisper, an error) first takes the broadcasts
queued before it, so every client sees events in the order the hub made them.

Plain data, no sockets: ``app.ChatServer`` owns one ``Broadcasts`` for everyone online; a room
or the users of another node would each get their own.
"""

from __future__ import annotations

from typing import Callable

from ..core import events as ev
from ..core.codes import TEXT
from ..core.limits import NAME_MAX_CHARS
from ..core.session import Session
from ..core.wire import render

Render = Callable[[ev.Event, str, bool], bytes]

# Everything in a rendered event but its free text: two names, the time, the id, JSON keys.
_FIXED_BYTES = 8 * NAME_MAX_CHARS + 256


def size_bound(event: ev.Event) -> int:
    """At least as many bytes as ``render`` makes of ``event`` in any mode. A character is at
    most 4 bytes in UTF-8 and at most 2 as a JSON escape (controls never get this far)."""
    free = len(getattr(event, "text", "")) + len(getattr(event, "reason", ""))
    free += len(getattr(event, "topic", ""))
    if isinstance(event, ev.Crowd):
        free += sum(len(name) for name in event.names)
    return _FIXED_BYTES + 4 * free


def elsewhere(session: Session | None, mode: str) -> bool:
    """True if ``session`` reads the text mode and talks in another room than #lobby: messages
    of #lobby then say their room first (``wire.render_text``)."""
    if session is None or mode != TEXT:
        return False
    current = session.current
    return current is not None and current.label is not None


class Broadcasts:
    """Events for everyone online made since the last flush, in order.

    ``size_bound`` is at least the bytes of all of them in any one mode, counted as they are
    added (before anything is rendered), so the transport can bound what a flush writes.
    """

    __slots__ = (
        "_events",
        "_skips",
        "_skipped",
        "_rendered",
        "_whole",
        "size_bound",
        "count",
        "_render",
    )

    def __init__(self, renderer: Render = render) -> None:
        """``renderer``: how an event becomes bytes for a mode (``wire.render``; the server's
        renders the IRC modes too, ``core/irc_render.Renderer``)."""
        self._render = renderer
        self._events: list[ev.Event] = []
        self._skips: list[Session | None] = []
        self._skipped: set[Session] = set()
        # (mode, elsewhere) -> the first N events as bytes, and all of them joined (a list of
        # one bytes object, handed as it is to every recipient that takes them all)
        self._rendered: dict[tuple[str, bool], list[bytes]] = {}
        self._whole: dict[tuple[str, bool], list[bytes]] = {}
        self.size_bound = 0
        self.count = 0  # len(self): read once per recipient at a flush, so kept as it changes

    def __len__(self) -> int:
        return self.count

    def add(self, event: ev.Event, skip: Session | None = None) -> None:
        """Queue ``event`` for everyone online except ``skip``."""
        self._events.append(event)
        self._skips.append(skip)
        self.count += 1
        if self._whole:
            self._whole.clear()  # "everything" has grown
        if skip is not None:
            self._skipped.add(skip)
        self.size_bound += size_bound(event)

    def since(self, start: int, mode: str, session: Session | None) -> list[bytes]:
        """The lines from entry ``start`` on, rendered for ``mode``, without those that skip
        ``session``. The list returned may be shared: the caller must not change it.

        Most recipients take everything: they get one bytes object, joined once per mode and
        shared, so that each of their writes needs no copy of its own. At a flush to 5,000 users
        this runs 5,000 times for one message: that case comes first and does the least.
        """
        if not start and session not in self._skipped:
            view = (mode, mode == TEXT and elsewhere(session, mode))
            whole = self._whole.get(view)
            if whole is None:
                lines = self._lines(view)
                whole = self._whole[view] = [b"".join(lines)] if lines else []
            return whole
        # Also called for each line a sender is sent (to keep it after the broadcasts before
        # it). The commonest case there is a sender answered right after its own message,
        # which it skips: nothing to render for it, or to take.
        events = self._events
        if start == len(events) - 1 and session is not None and self._skips[start] is session:
            return []
        lines = self._lines((mode, mode == TEXT and elsewhere(session, mode)))
        if session in self._skipped:
            skips = self._skips
            return [lines[i] for i in range(start, len(lines)) if skips[i] is not session]
        return lines[start:]

    def _lines(self, view: tuple[str, bool]) -> list[bytes]:
        """Every event rendered for ``view``: those not rendered yet are, once."""
        lines = self._rendered.get(view)
        if lines is None:
            lines = self._rendered[view] = []
        events = self._events
        if len(lines) < len(events):
            draw = self._render
            lines += [draw(event, *view) for event in events[len(lines) :]]
        return lines

    def clear(self) -> None:
        self._events.clear()
        self._skips.clear()
        self._skipped.clear()
        self._rendered.clear()
        self._whole.clear()
        self.size_bound = 0
        self.count = 0
