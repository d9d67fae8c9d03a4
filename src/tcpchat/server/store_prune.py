"""Retention of the history store, for the writer thread of ``store_writer.py``: the oldest
messages past ``--history-max-rows``, ``--history-max-mb`` and ``--history-days``,
``HISTORY_PRUNE_CHUNK_ROWS`` at most per transaction between batches (at start, every
``HISTORY_PRUNE_INTERVAL_S``, as soon as the rows pass their cap by a full chunk or the database
its byte cap); then the rooms nothing needs any more.

The byte cap counts what fills the disk: the database's pages in use (``PRAGMA page_count`` less
``freelist_count``, search index included; O(1), measured after each commit). Past it, the oldest
messages go until the pages in use are a ``BYTES_SLACK``-th under the cap, each chunk sized from
the average row (the pages in use over the rows) and measured again. Deleting from the FTS5 index
only adds delete markers: the pages of a deleted row's entries are freed when a merge takes in
both, which automerge alone seldom does for the oldest rows (the largest segments), so a cap
measured in pages would delete message after message while the index stayed full. Each chunk
deleted for the cap therefore also merges the index (``FTS_MERGE_FACTOR``), and ``usermerge`` 2
lets such a merge take in any two segments of a level. (An FTS5 ``optimize``, even one done a step
at a time, would keep the index smaller, but each one adds levels to it for good (SQLite 3.40: 97
levels after a few dozen), and the automerge of every later write grows with the levels.) Freed
pages are reused: the file stays near the cap, and shrinks only with a VACUUM, never run here.

A room's row is made the first time a message or a topic is kept for it; were rows never deleted, a
client naming room after room would grow the table for good (about 100 bytes a row, on every node
of a cluster). Past ``ROOMS_KEPT`` rows, the rooms with no message left and not in use are deleted,
those without a topic first, then the oldest. "In use" is what the event loop's thread holds: the
rooms it remembers and those of the rows waiting to be written (``Queue``). The deletion is
committed under the queue's lock, and only if that thread remembered no room from the database
meanwhile (``Queue.room_loads``): else it could have read a row just deleted.
"""

from __future__ import annotations

import logging
import sqlite3
import threading
import time
from typing import Callable, Protocol

from ..core.limits import HISTORY_PRUNE_CHUNK_ROWS, HISTORY_PRUNE_INTERVAL_S, HISTORY_REPLAY_MAX
from .logs import LOGGER_NAME
from .store_db import FTS5, Row, rollback

log = logging.getLogger(LOGGER_NAME)

DAY_S = 86400.0
MB = 1024 * 1024  # --history-max-mb counts these
# Rooms the table keeps before those nothing needs are deleted (down to three quarters of it).
ROOMS_KEPT = 100_000
# Before rows are deleted, the highest id stored is remembered (meta.last_id): ids must keep
# increasing across restarts, even once retention deleted every row.
KEEP_LAST_ID = (
    "INSERT INTO meta (key, value) SELECT 'last_id', id FROM messages WHERE true "
    "ORDER BY id DESC LIMIT 1 "
    "ON CONFLICT (key) DO UPDATE SET value = excluded.value WHERE excluded.value > value"
)
DELETE_OLDEST = "DELETE FROM messages WHERE id IN (SELECT id FROM messages ORDER BY id LIMIT ?)"
# Past the byte cap, messages go until the pages in use are this fraction of the cap under it
# (1/32: 32 MiB of a GiB), so that a flood prunes in rounds, not a few rows after every batch.
BYTES_SLACK = 32
# Pages of the search index merged per page of messages deleted for the byte cap. In a simulation
# of the writer (20 MiB cap, 4,000-byte lines) the rows kept settled at 55-60% of what the cap holds
# of rows never deleted with 4, about 40% with 1, and swung between 45% and 80% with 8; with no
# merge they fell to none. Through the real store: docs/RELIABILITY.md.
FTS_MERGE_FACTOR = 4
# A merge writes its pages before it frees those it read, so the file passes the pages in use by
# about one merge: a chunk deleted for the byte cap is small enough for its merge to write at most
# this much, or the slack under the cap if less (a small cap).
FTS_MERGE_MAX_BYTES = 8 * 1024 * 1024
# The newest messages the byte cap never deletes (a full replay's): the cap counts every page,
# rooms and topics too (bounded apart: ROOMS_KEPT), and were those to fill it (a client making room
# after room with a long topic, under a cap an operator lowered) it would delete every message.
BYTES_KEEP_ROWS = HISTORY_REPLAY_MAX
# (kept in the index's own config table, and read by the 'merge' command only)
FTS_USERMERGE = "INSERT INTO messages_fts (messages_fts, rank) VALUES ('usermerge', 2)"
FTS_MERGE = "INSERT INTO messages_fts (messages_fts, rank) VALUES ('merge', ?)"


class Shared(Protocol):
    """What retention reads of ``store_writer.Queue``."""

    lock: threading.Lock
    changed: threading.Condition
    wake: threading.Event
    pending: list[Row]
    closing: bool
    prune_asked: bool
    prune_asks: int
    over_cap: bool
    cached_rooms: set[int]
    room_loads: int


class Retention:
    """The writer's retention (``store_writer.Writer`` is one, and sets these)."""

    queue: Shared
    conn: sqlite3.Connection
    path: str
    search_kind: str
    max_rows: int
    max_bytes: int
    max_days: int
    clock: Callable[[], float]
    rows: int  # in the messages table, counted at start when there is a cap (else -1)
    used: int  # bytes of the database's pages in use, measured when there is a byte cap
    page_size: int  # the database's (0 until measured)
    over_cap: bool  # past the byte cap, until a round of pruning ends
    told_cap: bool  # the byte cap's first pruning was logged
    told_floor: bool  # that the cap was passed with only BYTES_KEEP_ROWS messages left
    index_tuned: bool  # usermerge set in this run (store_prune.py's docstring)
    prune_at: float  # time.monotonic() of the next periodic prune; 0: at start

    def _resting(self) -> bool:
        raise NotImplementedError

    def _failed(self, exc: sqlite3.Error, lost: int) -> None:
        raise NotImplementedError

    def _prune_when_due(self) -> None:
        """One chunk of retention when it is due: asked for, at its interval, or a cap passed
        (the rows' by a full chunk). While more remain the writer comes back at once (after the
        next batch of messages, if any); once none do, the rooms (``_prune_rooms``), but for a
        round of the byte cap alone."""
        queue = self.queue
        if queue.closing:
            return
        limited = bool(self.max_rows or self.max_days or self.max_bytes)
        periodic = (
            queue.prune_asked
            or time.monotonic() >= self.prune_at
            or (self.max_rows and self.rows - self.max_rows >= HISTORY_PRUNE_CHUNK_ROWS)
        )
        if not (periodic or self.over_cap):
            return
        asks = queue.prune_asks  # asked after this (a chunk reads the clock): a round more
        if limited and self._prune_chunk():
            queue.wake.set()
            return
        if periodic:
            self._prune_rooms()
            self.prune_at = time.monotonic() + HISTORY_PRUNE_INTERVAL_S
        self.over_cap = False
        with queue.lock:
            queue.prune_asked = queue.prune_asks != asks
            queue.over_cap = False
            queue.changed.notify_all()

    def _measure(self) -> None:
        """With a byte cap, measure the pages in use (after a commit); past the cap, a round of
        pruning is due, which ``flush`` waits for (set before the commit is reported done)."""
        if not self.max_bytes:
            return
        conn = self.conn
        try:
            if not self.page_size:
                self.page_size = int(conn.execute("PRAGMA page_size").fetchone()[0])
            pages = int(conn.execute("PRAGMA page_count").fetchone()[0])
            pages -= int(conn.execute("PRAGMA freelist_count").fetchone()[0])
        except sqlite3.Error:
            return  # (the next write reports a failing disk)
        self.used = pages * self.page_size
        if self.used > self.max_bytes and not self.over_cap:
            if 0 <= self.rows <= BYTES_KEEP_ROWS:  # the rest is rooms and topics
                self._at_floor()
                return
            self.over_cap = True
            with self.queue.lock:
                self.queue.over_cap = True

    def _prune_chunk(self) -> bool:
        """Delete up to one chunk of the oldest rows past the limits (the row cap first, then
        the byte cap, then the days); True if more may be due."""
        if self._resting():
            return False
        conn = self.conn
        chunk = HISTORY_PRUNE_CHUNK_ROWS
        by_rows = bool(self.max_rows and self.rows > self.max_rows)
        by_bytes = 0  # rows to delete for the byte cap
        if not by_rows and self.max_bytes:
            self._measure()
            by_bytes = self._past_byte_cap()
        try:
            conn.execute("BEGIN IMMEDIATE")
            conn.execute(KEEP_LAST_ID)
            if by_rows:
                deleted = conn.execute(
                    DELETE_OLDEST, (min(self.rows - self.max_rows, chunk),)
                ).rowcount
            elif by_bytes:
                deleted = conn.execute(DELETE_OLDEST, (by_bytes,)).rowcount
                if deleted > 0 and self.search_kind == FTS5:
                    self._merge_index(deleted)
            elif self.max_days:
                # Among the oldest rows by id (ids follow time), those older than the limit: a
                # chunk reads at most `chunk` rows, whatever the table holds.
                cutoff = self.clock() - self.max_days * DAY_S
                deleted = conn.execute(
                    "DELETE FROM messages WHERE id IN (SELECT id FROM "
                    "(SELECT id, time FROM messages ORDER BY id LIMIT ?) WHERE time < ?)",
                    (chunk, cutoff),
                ).rowcount
            else:
                deleted = 0
            conn.execute("COMMIT")
        except sqlite3.Error as exc:
            rollback(conn)
            self.index_tuned = False  # (maybe rolled back with the rest)
            self._failed(exc, 0)
            return False
        if self.rows >= 0:
            self.rows -= deleted
        if by_rows:
            more = self.rows > self.max_rows or self.max_days or self.over_cap
            return deleted > 0 and bool(more)
        if by_bytes:
            return deleted > 0  # the next chunk measures again
        return deleted == chunk

    def _past_byte_cap(self) -> int:
        """How many of the oldest rows to delete for the byte cap (0: none), from the pages in
        use just measured and the average row; logs the first time the cap deletes any."""
        cap = self.max_bytes
        if not self.over_cap or self.used <= cap - cap // BYTES_SLACK:
            return 0
        if self.rows <= 0:
            return HISTORY_PRUNE_CHUNK_ROWS if self.rows < 0 else 0
        excess = self.used - (cap - cap // BYTES_SLACK)
        row_bytes = max(self.used // self.rows, 1)
        merged = min(FTS_MERGE_MAX_BYTES, cap // BYTES_SLACK) // FTS_MERGE_FACTOR
        rows = min(HISTORY_PRUNE_CHUNK_ROWS, max(merged // row_bytes, 1), -(-excess // row_bytes))
        if rows >= self.rows - BYTES_KEEP_ROWS:
            self._at_floor()
            rows = self.rows - BYTES_KEEP_ROWS
        if not self.told_cap:
            self.told_cap = True
            log.info(
                "history: %s uses %.1f MiB, past --history-max-mb %g: the oldest messages "
                "are deleted to stay under it",
                self.path,
                self.used / MB,
                cap / MB,
            )
        return rows

    def _at_floor(self) -> None:
        """Past the byte cap with no more than ``BYTES_KEEP_ROWS`` messages to spare: those are
        kept (rooms and topics fill the rest); logged once a run."""
        if not self.told_floor:
            self.told_floor = True
            log.warning(
                "history: %s is past --history-max-mb %g with its newest %d messages, which are "
                "kept: rooms and topics fill the rest",
                self.path,
                self.max_bytes / MB,
                BYTES_KEEP_ROWS,
            )

    def _merge_index(self, deleted: int) -> None:
        """Merge the search index in proportion to the ``deleted`` rows' share of the pages, so
        that their entries and delete markers leave it (the module's docstring)."""
        if not self.index_tuned:  # once a run: in the transaction under way
            self.conn.execute(FTS_USERMERGE)
            self.index_tuned = True
        share = deleted * self.used // max(self.rows, 1)  # (self.rows: before this chunk)
        self.conn.execute(FTS_MERGE, (max(16, FTS_MERGE_FACTOR * share // self.page_size),))

    def _prune_rooms(self) -> None:
        """Past ``ROOMS_KEPT`` rooms, delete those with no message left that are not in use,
        those without a topic first, then the oldest, down to three quarters of it (one
        transaction; tried again at the next interval if the event loop's thread remembered a
        room from the database meanwhile)."""
        conn, queue = self.conn, self.queue
        try:
            count = int(conn.execute("SELECT COUNT(*) FROM rooms").fetchone()[0])
            if count <= ROOMS_KEPT or self._resting():
                return
            with queue.lock:
                loads = queue.room_loads
                in_use = {*queue.cached_rooms, *(row[1] for row in queue.pending)}
            conn.execute("BEGIN IMMEDIATE")
            conn.execute("CREATE TEMP TABLE IF NOT EXISTS in_use (id INTEGER PRIMARY KEY)")
            conn.execute("DELETE FROM in_use")
            conn.executemany("INSERT OR IGNORE INTO in_use VALUES (?)", [(i,) for i in in_use])
            deleted = conn.execute(
                "DELETE FROM rooms WHERE id IN (SELECT id FROM rooms WHERE id NOT IN in_use "
                "AND id NOT IN (SELECT room FROM messages WHERE room IS NOT NULL) "
                "ORDER BY topic != '', id LIMIT ?)",
                (count - ROOMS_KEPT * 3 // 4,),
            ).rowcount
            with queue.lock:  # committed while the other thread cannot remember a room
                if queue.room_loads != loads:
                    rollback(conn)
                    return
                conn.execute("COMMIT")
        except sqlite3.Error as exc:
            rollback(conn)
            self._failed(exc, 0)
            return
        log.info("history: %d rooms with no message left were forgotten", deleted)
