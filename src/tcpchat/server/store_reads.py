"""The history's reads, for ``store.SqliteArchive`` (on the event loop's thread): a room's newest
messages, all of them or those holding some words, from the database (through the search index,
and the rows written since it was last brought up to date) and from the rows kept but not
written yet, each once. The reader's own connection is read-only; a database that fails is
logged once and answered from memory. How long a search may take: ``store_search.py``.
"""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Sequence
from typing import Any, Callable

from ..core.events import Message
from ..core.limits import HISTORY_LIKE_SCAN_ROWS
from .logs import LOGGER_NAME
from .store_db import FTS5, StoredRoom, as_messages, merge_rows, newest_first
from .store_search import fts_query, words_match
from .store_writer import Queue

log = logging.getLogger(LOGGER_NAME)

COLUMNS = "id, room, time, sender, recipient, action, text"
JOINED_COLUMNS = "m.id, m.room, m.time, m.sender, m.recipient, m.action, m.text"


class Reads:
    """``SqliteArchive``'s reads; the archive supplies its state."""

    path: str
    search_kind: str
    _queue: Queue
    _reader: sqlite3.Connection
    _read_failing: bool

    def _find(
        self,
        room: StoredRoom,
        words: Sequence[str],
        limit: int,
        before_id: int | None = None,
        check: Callable[[], None] = lambda: None,
    ) -> list[Message]:
        """The newest ``limit`` messages of ``room`` (below ``before_id``) that hold every one of
        ``words`` (all of them if none), oldest first: from the database (through the search
        index, and the rows written since it was last brought up to date) and from memory.
        ``check`` is called before each comparison made here (it raises past a deadline)."""

        def matches(text: str) -> bool:
            check()
            return words_match(self.search_kind, words, text)

        queue = self._queue
        with queue.lock:
            indexed = queue.indexed
            unwritten = [r for r in (*queue.writing, *queue.pending) if r[1] == room.id]
        unwritten = [
            row
            for row in unwritten
            if (before_id is None or row[0] < before_id) and (not words or matches(row[6]))
        ]
        bound: tuple[int, ...] = () if before_id is None else (before_id,)
        below = " AND id < ?" if bound else ""
        if self.search_kind == FTS5:
            stored = self._read(
                f"SELECT {JOINED_COLUMNS} FROM messages_fts f JOIN messages m ON m.id = f.rowid "
                f"WHERE messages_fts MATCH ?{' AND f.rowid < ?' if bound else ''} "
                "ORDER BY f.rowid DESC LIMIT ?",
                (fts_query(room.id, words), *bound, limit),
            )
            # Written since the index was last brought up to date (at most about
            # HISTORY_INDEX_ROWS in all): read by id, their words compared here.
            tail = self._read(
                f"SELECT {COLUMNS} FROM messages WHERE id > ?{below} AND room = ? "
                "ORDER BY id DESC LIMIT ?",
                (indexed, *bound, room.id, HISTORY_LIKE_SCAN_ROWS if words else limit),
            )
            if words:
                tail = [row for row in tail if matches(row[6])][:limit]
            stored = newest_first(stored, tail)
        elif words:
            folded = [word.casefold() for word in words]
            condition = " AND ".join("instr(casefold(text), ?) > 0" for _ in folded)
            stored = self._read(
                f"SELECT {COLUMNS} FROM (SELECT {COLUMNS} FROM messages WHERE room = ?{below} "
                f"ORDER BY id DESC LIMIT ?) WHERE {condition} ORDER BY id DESC LIMIT ?",
                (room.id, *bound, HISTORY_LIKE_SCAN_ROWS, *folded, limit),
            )
        else:
            stored = self._read(
                f"SELECT {COLUMNS} FROM messages WHERE room = ?{below} ORDER BY id DESC LIMIT ?",
                (room.id, *bound, limit),
            )
        return as_messages(merge_rows(stored, unwritten, limit), room.name)

    def _read(self, sql: str, args: Sequence[object]) -> list[Any]:
        """Rows of a query on the reader connection; [] (with one ERROR) if the database fails:
        the caller then answers from memory only."""
        try:
            rows: list[Any] = self._reader.execute(sql, args).fetchall()
        except sqlite3.Error as exc:
            if str(exc) == "interrupted":  # a search past its time (store_search.py)
                raise
            if not self._read_failing:
                self._read_failing = True
                log.error("history: cannot read %s: %s; answering from memory", self.path, exc)
            return []
        self._read_failing = False
        return rows
