"""Retention of the history store, for the writer thread of ``store_writer.py``: the oldest
messages past ``--history-max-rows`` and ``--history-days``, ``HISTORY_PRUNE_CHUNK_ROWS`` per
transaction between batches (at start, every ``HISTORY_PRUNE_INTERVAL_S``, and as soon as the
rows pass the cap by a full chunk); then the rooms nothing needs any more.

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

from ..core.limits import HISTORY_PRUNE_CHUNK_ROWS, HISTORY_PRUNE_INTERVAL_S
from .logs import LOGGER_NAME
from .store_db import Row, rollback

log = logging.getLogger(LOGGER_NAME)

DAY_S = 86400.0
# Rooms the table keeps before those nothing needs are deleted (down to three quarters of it).
ROOMS_KEPT = 100_000
# Before rows are deleted, the highest id stored is remembered (meta.last_id): ids must keep
# increasing across restarts, even once retention deleted every row.
KEEP_LAST_ID = (
    "INSERT INTO meta (key, value) SELECT 'last_id', id FROM messages WHERE true "
    "ORDER BY id DESC LIMIT 1 "
    "ON CONFLICT (key) DO UPDATE SET value = excluded.value WHERE excluded.value > value"
)


class Shared(Protocol):
    """What retention reads of ``store_writer.Queue``."""

    lock: threading.Lock
    changed: threading.Condition
    wake: threading.Event
    pending: list[Row]
    closing: bool
    prune_asked: bool
    cached_rooms: set[int]
    room_loads: int


class Retention:
    """The writer's retention (``store_writer.Writer`` is one, and sets these)."""

    queue: Shared
    conn: sqlite3.Connection
    max_rows: int
    max_days: int
    clock: Callable[[], float]
    rows: int  # in the messages table, counted at start when there is a cap (else -1)
    prune_at: float  # time.monotonic() of the next periodic prune; 0: at start

    def _resting(self) -> bool:
        raise NotImplementedError

    def _failed(self, exc: sqlite3.Error, lost: int) -> None:
        raise NotImplementedError

    def _prune_when_due(self) -> None:
        """One chunk of retention when it is due: asked for, at its interval, or the cap passed
        by a full chunk. While more remain the writer comes back at once (after the next batch
        of messages, if any); once none do, the rooms (``_prune_rooms``)."""
        queue = self.queue
        if queue.closing:
            return
        limited = bool(self.max_rows or self.max_days)
        due = (
            queue.prune_asked
            or time.monotonic() >= self.prune_at
            or (limited and self.max_rows and self.rows - self.max_rows >= HISTORY_PRUNE_CHUNK_ROWS)
        )
        if not due:
            return
        if limited and self._prune_chunk():
            queue.wake.set()
            return
        self._prune_rooms()
        self.prune_at = time.monotonic() + HISTORY_PRUNE_INTERVAL_S
        with queue.lock:
            queue.prune_asked = False
            queue.changed.notify_all()

    def _prune_chunk(self) -> bool:
        """Delete up to one chunk of the oldest rows past the limits (the row cap first, then
        the days); True if more may be due."""
        if self._resting():
            return False
        conn = self.conn
        chunk = HISTORY_PRUNE_CHUNK_ROWS
        by_rows = bool(self.max_rows and self.rows > self.max_rows)
        try:
            conn.execute("BEGIN IMMEDIATE")
            conn.execute(KEEP_LAST_ID)
            if by_rows:
                deleted = conn.execute(
                    "DELETE FROM messages WHERE id IN "
                    "(SELECT id FROM messages ORDER BY id LIMIT ?)",
                    (min(self.rows - self.max_rows, chunk),),
                ).rowcount
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
            self._failed(exc, 0)
            return False
        if self.rows >= 0:
            self.rows -= deleted
        if by_rows:
            return deleted > 0 and (self.rows > self.max_rows or bool(self.max_days))
        return deleted == chunk

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
