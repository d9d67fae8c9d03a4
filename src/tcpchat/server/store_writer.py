"""The history's writer thread, for ``store.py`` (whose docstring tells how the two threads
share the work): group commit of the messages kept, the search index behind them, retention, and
a failing disk.

Durability (WAL, synchronous=NORMAL): a committed batch survives the process being killed.
``close()`` (SIGTERM) writes everything pending and brings the search index up to date before
it returns, so a clean stop loses nothing. ``kill -9`` loses what was not committed: the
messages kept in the last ``HISTORY_COMMIT_INTERVAL_S`` (5 ms) plus those of the transaction
being written at that moment, about 5-10 ms of chat while the disk keeps up (if it stalls, up to
``HISTORY_MAX_PENDING_ROWS`` wait in memory and are lost with the process). Messages written
but not yet indexed are indexed at the next start. A power cut may also lose the transactions
since the last WAL checkpoint (synchronous=NORMAL syncs the WAL at checkpoints, not at each
commit).

A full disk or an I/O error while running: the batch is dropped (rolled back), one ERROR is
logged, and chat goes on without storing; after ``HISTORY_RETRY_S`` (30 s) the next batch tries
again, and once one is written a WARNING says how many messages were not stored (so does
``close``). Pending rows are capped at ``HISTORY_MAX_PENDING_ROWS``, past which new ones are
dropped with one WARNING, so a stalled disk cannot grow memory. A read that fails (a damaged
page found mid-chat) logs one ERROR and answers from memory only.

Retention is pruned by the writer thread, between batches (``store_prune.py``).

``Queue`` is all the event loop's thread and the writer share, under one lock; ``Writer`` owns
the writing connection and runs in its own thread until the queue is closing and empty.
"""

from __future__ import annotations

import logging
import sqlite3
import threading
import time
from itertools import chain
from typing import Callable

from ..core.limits import (
    HISTORY_INDEX_LAG_S,
    HISTORY_INDEX_ROWS,
    HISTORY_MAX_PENDING_CHARS,
    HISTORY_RETRY_S,
)
from .logs import LOGGER_NAME
from .store_db import FTS5, INDEXED, RoomRow, Row, rollback
from .store_prune import Retention

log = logging.getLogger(LOGGER_NAME)


# Rows per INSERT statement: 128 rows of 7 values stay under the 999 parameters older SQLite
# builds allow. One statement is one call into SQLite, which lets go of the GIL for all its rows
# at once; executemany would take the GIL back after every row, and wait for the event loop's
# thread to hand it over each time.
INSERT_ROWS = 128
UPSERT_ROOM = (
    "INSERT INTO rooms (id, key, name, topic, topic_by, topic_at) VALUES (?, ?, ?, ?, ?, ?) "
    "ON CONFLICT (id) DO UPDATE SET name = excluded.name, topic = excluded.topic, "
    "topic_by = excluded.topic_by, topic_at = excluded.topic_at"
)
LAST_ID = "INSERT OR REPLACE INTO meta (key, value) VALUES ('last_id', ?)"
LOG_MARK = "INSERT OR REPLACE INTO meta (key, value) VALUES ('log_mark', ?)"


def insert_sql(rows: int) -> str:
    """The INSERT of ``rows`` messages at once (ids already stored are skipped)."""
    values = ", ".join(["(?, ?, ?, ?, ?, ?, ?)"] * rows)
    return (
        "INSERT OR IGNORE INTO messages (id, room, time, sender, recipient, action, text) "
        f"VALUES {values}"
    )


INSERT_FULL = insert_sql(INSERT_ROWS)
INSERT_ONE = insert_sql(1)
INDEX_ONE = "INSERT INTO messages_fts (rowid, room, text) VALUES (?, ?, ?)"


class Queue:
    """What the event loop's thread hands the writer, and what the writer reports back. Every
    field is read and written under ``lock``; ``changed`` (on the same lock) is notified when
    work is done, ``wake`` set when there is work."""

    def __init__(self, last_id: int, indexed: int, top: int, log_mark: int = 0) -> None:
        self.lock = threading.Lock()
        self.changed = threading.Condition(self.lock)
        self.wake = threading.Event()
        self.pending: list[Row] = []
        self.pending_chars = 0  # their texts' characters, and 100 a row (``room_for``)
        self.writing: list[Row] = []  # the batch in the transaction being written
        self.rooms: dict[int, RoomRow] = {}
        self.kept = 0  # operations handed to the writer (messages, rooms, ids)
        self.done = 0  # of those, written or dropped
        self.high = last_id  # the highest message id kept (or read at open)
        self.behind = False  # a row pending has an id at or below one kept before it
        self.indexed = indexed  # messages up to this id are in the search index
        self.top = top  # the highest message id written
        # A cluster's log is read up to here, its room messages all pending or written; written
        # with them. Held for good once a message was not stored (a full queue, a failing
        # disk): the next start backfills from the mark written before.
        self.log_mark = log_mark
        self.log_held = False
        self.written_mark = log_mark  # meta.log_mark
        # Write without waiting out the interval (a full batch, a flush): a flag, not only the
        # event, so that the writer clearing the event cannot lose it.
        self.hurry = False
        self.prune_asked = False
        self.prune_asks = 0  # how many times it was asked (a request in a round is not lost)
        self.over_cap = False  # past the byte cap: pruning is due (store_prune.py)
        self.cached_rooms: set[int] = set()  # the ids of the rooms the store remembers
        self.unwritten_rooms: set[int] = set()  # rooms whose row was queued and not committed
        self.room_loads = 0  # rooms it read from the database so far (store_prune.py)
        self.index_asked = False
        self.closing = False

    def room_for(self, size: int, most: int) -> bool:
        """True if a row of ``size`` (its text's characters, and 100 for its other fields) may
        wait among the pending, at most ``most`` rows and ``HISTORY_MAX_PENDING_CHARS`` (then it
        is counted in); under ``lock``. A stalled disk, or one at the byte cap (slower with long
        lines), must not hold 100,000 rows of 4 KB each in memory."""
        if len(self.pending) >= most or self.pending_chars + size > HISTORY_MAX_PENDING_CHARS:
            return False
        self.pending_chars += size
        return True


class Writer(Retention):
    """The writer thread: see ``store.py``. ``conn`` is its own connection (made on another
    thread, with check_same_thread off, and used here only)."""

    queue: Queue

    def __init__(
        self,
        queue: Queue,
        conn: sqlite3.Connection,
        path: str,
        search_kind: str,
        *,
        max_rows: int,
        max_bytes: int,
        max_days: int,
        clock: Callable[[], float],
        commit_interval: float,
        batch_rows: int,
    ) -> None:
        self.queue = queue
        self.conn = conn
        self.path = path
        self.search_kind = search_kind
        self.max_rows = max_rows
        self.max_bytes = max_bytes
        self.max_days = max_days
        self.clock = clock
        self.commit_interval = commit_interval
        self.batch_rows = batch_rows
        self.stored_high = queue.high  # the highest id in the database or in meta.last_id
        self.index_since = 0.0  # time.monotonic() when the oldest row not indexed was written
        self.rows = -1  # rows in the table, counted at start when there is a cap
        self.used = -1  # bytes of the pages in use, measured when there is a byte cap
        self.page_size = 0
        self.over_cap = False
        self.told_cap = self.told_floor = False
        self.index_tuned = False
        self.failing = False
        self.retry_at = 0.0
        self.lost = 0  # messages not stored since the disk started failing
        self.prune_at = 0.0  # time.monotonic() of the next periodic prune; 0: at start
        self._measure()  # (O(1)) before any flush: one waits for a database opened over the cap
        self.thread = threading.Thread(target=self.run, name="tcpchat-history", daemon=True)

    def run(self) -> None:
        queue = self.queue
        try:
            self._count_rows()
            while True:
                queue.wake.wait(self._until_due())
                queue.wake.clear()
                with queue.lock:
                    gather = (
                        not (queue.closing or queue.hurry)
                        and 0 < len(queue.pending) < self.batch_rows
                    )
                if gather:  # group commit: let more rows come, up to the interval
                    queue.wake.wait(self.commit_interval)
                    queue.wake.clear()
                self._write_pending()
                self._index_when_due()
                with queue.lock:
                    marked = queue.log_held or queue.log_mark <= queue.written_mark
                    # An id handed out after the last pass took its batch (a private message's,
                    # not stored) is noted in meta.last_id before the writer stops, or the next
                    # run would give it again; unless the disk is failing (nothing gets written).
                    noted = queue.high <= self.stored_high or self.failing
                    # And the search index is brought up to every row, as a close promises
                    # (the close may come after this pass looked at the index).
                    indexed = self.search_kind != FTS5 or queue.top <= queue.indexed
                    done = marked and noted and (indexed or self.failing)
                    if queue.closing and not queue.pending and not queue.rooms and done:
                        break
                self._prune_when_due()
        except Exception:  # our bug: say so, and keep the server running without history
            log.exception("history: the writer stopped; messages are no longer stored")
        finally:
            if self.lost:
                log.warning("history: %d messages were not stored", self.lost)
            with queue.lock:
                queue.done = queue.kept
                queue.prune_asked = queue.over_cap = False  # (nothing waits for a dead writer)
                queue.changed.notify_all()
            self.conn.close()

    def _count_rows(self) -> None:
        if self.max_rows or self.max_bytes:
            try:
                self.rows = int(self.conn.execute("SELECT COUNT(*) FROM messages").fetchone()[0])
            except sqlite3.Error as exc:
                self._failed(exc, 0)

    def _until_due(self) -> float:
        """Seconds the writer may sleep before indexing or retention is due."""
        queue = self.queue
        behind = self.search_kind == FTS5 and queue.top > queue.indexed
        if queue.closing or queue.prune_asked or self.over_cap or (behind and queue.index_asked):
            return 0.0
        due = []
        if behind:
            if queue.top - queue.indexed >= HISTORY_INDEX_ROWS:
                return 0.0
            due.append(self.index_since + HISTORY_INDEX_LAG_S)
        due.append(self.prune_at)  # the rooms are looked at even without limits on messages
        return max(0.0, min(due) - time.monotonic())

    def _resting(self) -> bool:
        """Whether the disk failed lately: then writes are dropped without trying, but for the
        last ones at close."""
        return self.failing and not self.queue.closing and time.monotonic() < self.retry_at

    # --- messages ----------------------------------------------------------------------------

    def _write_pending(self) -> None:
        """Take everything pending and write it in one transaction (or drop it while the disk
        is failing)."""
        queue = self.queue
        with queue.lock:
            batch, queue.pending, queue.pending_chars = queue.pending, [], 0
            rooms, queue.rooms = queue.rooms, {}
            high = queue.high
            behind, queue.behind = queue.behind, False
            mark = 0 if queue.log_held else queue.log_mark
            written_mark = queue.written_mark
            taken = queue.kept
            queue.writing = batch
            queue.hurry = False
        try:
            newest = batch[-1][0] if batch else 0
            meta = high if high > self.stored_high and high != newest else None
            moved = mark if mark > written_mark else None
            if batch or rooms or meta is not None or moved is not None:
                if self._resting():
                    self.lost += len(batch)
                    self._hold_mark()
                    self._requeue(rooms)
                elif self._commit(batch, rooms, meta, behind, moved):
                    self.stored_high = max(self.stored_high, high)
                    with queue.lock:
                        queue.written_mark = max(queue.written_mark, mark)
        finally:
            with queue.lock:
                queue.writing = []
                queue.done = taken
                queue.changed.notify_all()

    def _commit(
        self,
        batch: list[Row],
        rooms: dict[int, RoomRow],
        meta: int | None,
        behind: bool,
        mark: int | None,
    ) -> bool:
        """Write ``batch``, ``rooms`` and the marks in one transaction; False if it failed."""
        conn = self.conn
        written = batch
        try:
            conn.execute("BEGIN IMMEDIATE")
            if rooms:
                conn.executemany(UPSERT_ROOM, list(rooms.values()))
            added = 0
            if behind and self.search_kind == FTS5:
                written, added = self._below_the_index(batch)
            for start in range(0, len(written), INSERT_ROWS):
                rows = written[start : start + INSERT_ROWS]
                sql = INSERT_FULL if len(rows) == INSERT_ROWS else insert_sql(len(rows))
                added += conn.execute(sql, list(chain.from_iterable(rows))).rowcount
            if meta is not None:
                conn.execute(LAST_ID, (meta,))
            if mark is not None:
                conn.execute(LOG_MARK, (mark,))
            conn.execute("COMMIT")
        except sqlite3.Error as exc:
            rollback(conn)
            if isinstance(exc, sqlite3.OperationalError):  # the disk, not the rows: try again
                self._requeue(rooms)
            self._failed(exc, len(batch))
            self._hold_mark()  # (with no rows lost too: a stop would try it again and again)
            return False
        if self.rows >= 0:
            self.rows += max(added, 0)
        self._measure()
        queue = self.queue
        newest = (max(row[0] for row in batch) if behind else batch[-1][0]) if batch else 0
        if newest > queue.top and queue.top <= queue.indexed:
            self.index_since = time.monotonic()
        with queue.lock:
            queue.top = max(queue.top, newest)
            queue.unwritten_rooms.difference_update(rooms)  # the store may forget them now
        if self.failing:
            self.failing = False
            log.warning(
                "history: writing to %s again; %d messages were not stored", self.path, self.lost
            )
            self.lost = 0
        return True

    def _below_the_index(self, batch: list[Row]) -> tuple[list[Row], int]:
        """Write the rows of ``batch`` whose ids are at or below the search index's mark (the
        indexer only ever adds ids above it) and index each one added, in the transaction under
        way; the other rows, and how many rows were added. A cluster node cut off from Redis
        numbers its messages from ids it reserved before messages it has stored since."""
        indexed = self.queue.indexed
        added = 0
        rest: list[Row] = []
        for row in batch:
            if row[0] > indexed:
                rest.append(row)
            elif self.conn.execute(INSERT_ONE, row).rowcount == 1:  # not a second copy
                self.conn.execute(INDEX_ONE, (row[0], row[1], row[6]))
                added += 1
        return rest, added

    def _requeue(self, rooms: dict[int, RoomRow]) -> None:
        """Rooms not written go back to be written with the next batch (a newer state of the
        same room, queued meanwhile, wins)."""
        if rooms:
            with self.queue.lock:
                for room_id, row in rooms.items():
                    self.queue.rooms.setdefault(room_id, row)

    def _hold_mark(self) -> None:
        """Messages were not stored, or the disk fails: the log's mark moves no more in this
        run (the next start backfills from the mark written before)."""
        with self.queue.lock:
            self.queue.log_held = True

    def _failed(self, exc: sqlite3.Error, lost: int) -> None:
        """A write failed: one ERROR per outage, then rest for HISTORY_RETRY_S."""
        self.lost += lost
        self.retry_at = time.monotonic() + HISTORY_RETRY_S
        if not self.failing:
            self.failing = True
            log.error(
                "history: cannot write to %s: %s; messages are not stored (chat goes on), "
                "trying again every %.0f s",
                self.path,
                exc,
                HISTORY_RETRY_S,
            )

    # --- the search index ----------------------------------------------------------------------

    def _index_when_due(self) -> None:
        """Add the messages written since the last time to the search index, one transaction
        of at most HISTORY_INDEX_ROWS, once that many wait or the oldest has waited
        HISTORY_INDEX_LAG_S; all of them when closing or asked to (``flush(index=True)``)."""
        queue = self.queue
        if self.search_kind != FTS5:
            return
        while queue.top > queue.indexed:
            eager = queue.closing or queue.index_asked
            if not (
                eager
                or queue.top - queue.indexed >= HISTORY_INDEX_ROWS  # ids: at least the rows
                or time.monotonic() >= self.index_since + HISTORY_INDEX_LAG_S
            ):
                return
            if self._resting() or not self._index_some():
                return
            if not eager:
                self.index_since = time.monotonic()
                return  # the rest (if any) after the next batch of messages

    def _index_some(self) -> bool:
        """One transaction of the search index; False if it failed (logged)."""
        conn = self.conn
        queue = self.queue
        try:
            conn.execute("BEGIN IMMEDIATE")
            upto = conn.execute(
                "SELECT MAX(id) FROM (SELECT id FROM messages WHERE id > ? ORDER BY id LIMIT ?)",
                (queue.indexed, HISTORY_INDEX_ROWS),
            ).fetchone()[0]
            upto = int(upto) if upto is not None else queue.top
            conn.execute(
                "INSERT INTO messages_fts (rowid, room, text) "
                "SELECT id, room, text FROM messages WHERE id > ? AND id <= ? ORDER BY id",
                (queue.indexed, upto),
            )
            conn.execute(INDEXED, (upto,))
            conn.execute("COMMIT")
        except sqlite3.Error as exc:
            rollback(conn)
            self._failed(exc, 0)
            return False
        self._measure()
        with queue.lock:
            queue.indexed = upto
            queue.changed.notify_all()
        return True
