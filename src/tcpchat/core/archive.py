"""The seam between the hub and a history store: what the hub asks of one, and the store that
keeps nothing.

The hub is sans-I/O: it hands every message it makes to ``Archive.keep`` and asks for earlier
ones with ``recent`` and ``search`` as plain calls. A store behind this seam must answer those
calls quickly and without waiting on a disk write (``server/store.py`` keeps SQLite writes in a
thread and answers reads from its own connection, merged with what is not written yet), and it
must never raise for a disk that fills up while the chat runs: it logs that and goes on.

Rooms are named by their key (``rooms.room_key``: NFKC, case-folded), messages are
``events.Message`` events as the hub made them (``room`` set for a room message, ``to`` for a
private one). Results come oldest first.
"""

from __future__ import annotations

from typing import NamedTuple, Protocol

from .events import Message


class SearchRefused(Exception):
    """A search the archive will not finish: it ran past its time, or searching has used up its
    share of the server's time for now. ``str()`` says which, to the one who searched."""


class KeptTopic(NamedTuple):
    """A room as an archive kept it: its display name, its topic ("" for none), who set or
    cleared the topic ("" when not known: a database of an older tcp-chat) and when (0.0)."""

    name: str
    topic: str
    by: str = ""
    at: float = 0.0


class Archive(Protocol):
    """Where the hub keeps messages and finds them again."""

    # How ``search`` matches ("fts5" or "like"), or "" when nothing is kept: for --version and
    # the log.
    search_kind: str

    def last_id(self) -> int:
        """The highest message id ever kept (0 for none): the hub numbers on from there, so ids
        keep increasing across restarts."""
        ...

    def keep(self, room_key: str | None, message: Message) -> None:
        """Store ``message`` (``room_key``: its room's key; None for a private message).
        Returns at once: the write happens later, off the event loop."""
        ...

    def recent(self, room_key: str, limit: int, before_id: int | None = None) -> list[Message]:
        """The last ``limit`` messages of the room (only those with an id below ``before_id``
        if given), oldest first, including messages kept but not yet written."""
        ...

    def search(self, room_key: str, text: str, limit: int, origin: str = "") -> list[Message]:
        """The newest ``limit`` messages of the room whose text contains every word of ``text``
        (case-insensitively), oldest first. Raises ``SearchRefused`` for a search it will not
        finish (a store that keeps the event loop waiting while it searches bounds that; what
        one ``origin``, the searcher's address, may take of that too)."""
        ...

    def topic(self, room_key: str) -> KeptTopic | None:
        """The room's display name and topic as last kept, or None for a room never seen."""
        ...

    def keep_topic(self, room_key: str, kept: KeptTopic) -> None:
        """Remember a room's display name and topic, with who set it and when. Returns at
        once."""
        ...

    def log_mark(self) -> int:
        """How far a cluster's shared log is kept for sure (0: unknown): every room message of
        the log up to this id was written, as of the last start or ``mark_log``. A node
        backfills from here when it starts."""
        ...

    def mark_log(self, entry_id: int) -> None:
        """The shared log was read up to ``entry_id``, its room messages all given to ``keep``
        already: the mark is written with them (never ahead of a message that was lost to a
        full or failing disk). Returns at once."""
        ...

    def backlog(self) -> int:
        """Messages (and room changes) kept but not written yet."""
        ...

    def flush(self, timeout: float) -> bool:
        """Wait until everything kept so far is written (or dropped for a failing disk); False
        past ``timeout`` seconds. It blocks: not on the event loop. For a caller that keeps more
        than a chat makes (a cluster node filling its history from the log), so that it goes at
        the disk's pace instead of past what the store holds in memory."""
        ...


class NoArchive:
    """History is off (``--no-history``): nothing is kept, nothing is found."""

    search_kind = ""

    def last_id(self) -> int:
        return 0

    def keep(self, room_key: str | None, message: Message) -> None:
        pass

    def recent(self, room_key: str, limit: int, before_id: int | None = None) -> list[Message]:
        return []

    def search(self, room_key: str, text: str, limit: int, origin: str = "") -> list[Message]:
        return []

    def topic(self, room_key: str) -> KeptTopic | None:
        return None

    def keep_topic(self, room_key: str, kept: KeptTopic) -> None:
        pass

    def log_mark(self) -> int:
        return 0

    def mark_log(self, entry_id: int) -> None:
        pass

    def backlog(self) -> int:
        return 0

    def flush(self, timeout: float) -> bool:
        return True
