"""History, persisted: room messages in SQLite behind the hub's ``core.archive.Archive`` seam.

``open_archive(config)`` gives the server its archive: a ``SqliteArchive`` on
``DATA_DIR/history.sqlite3`` (the directory made with mode 0700 if missing), or ``NoArchive``
with ``--no-history``. ``close_archive`` writes what is pending and closes it (at SIGTERM, after
the hub's last message). Everything that can be wrong with the database at start (not a
database, damaged, read-only file or directory, in use by another server, a newer schema) is a
``ConfigError``: one line naming the file and what to do, exit 1, never a traceback.

The schema (version 2 in ``PRAGMA user_version``): ``store_db.py``. Threads: ``keep`` runs on the
event loop's thread and only appends a ready row to a list under a lock (about 0.6 us). One writer
thread does the SQLite work on its own connection: woken by a batch's first row, it waits
``HISTORY_COMMIT_INTERVAL_S`` (5 ms) for more (less once ``HISTORY_BATCH_ROWS``, 1000, wait) and
writes them all in one transaction (group commit), 128 rows per INSERT statement: SQLite lets go of
the GIL for a statement's rows at once, where ``executemany`` takes it back after every row. That
work (4-10 us a row with the search index; docs/BENCHMARKS.md) runs beside the event loop when a CPU
is free. Reads (``recent``, ``search``, ``topic``) run on the event loop's thread on a second,
read-only connection, through the indexes, and add the rows kept but not written yet, each once.

Writing, durability, a failing disk: ``store_writer.py``; retention: ``store_prune.py``; the
reads themselves: ``store_reads.py``.

Private messages are stored only with ``store_private`` (``--store-private``): the hub calls
``keep`` for every message it numbers, and this store drops those with no room otherwise
(remembering only their id for ``last_id``).
"""

from __future__ import annotations

import logging
import os
import sqlite3
import threading
import time
from collections.abc import Sequence
from typing import Callable

from ..core.archive import Archive, KeptTopic, NoArchive
from ..core.errors import ConfigError
from ..core.events import Message
from ..core.limits import (
    HISTORY_BATCH_ROWS,
    HISTORY_CLOSE_WAIT_S,
    HISTORY_COMMIT_INTERVAL_S,
    HISTORY_DAYS,
    HISTORY_MAX_BYTES,
    HISTORY_MAX_PENDING_ROWS,
    HISTORY_MAX_ROWS,
)
from .config import ServerConfig
from .logs import LOGGER_NAME
from .store_db import (
    DB_FILE,
    FTS5,
    ROOM_BY_KEY,
    StoredRoom,
    check_path,
    config_error,
    describe_search,
    lock_database,
    open_database,
    open_reader,
)
from .store_reads import Reads
from .store_search import SearchBudget, fts_query, search_words
from .store_writer import Queue, Writer

log = logging.getLogger(LOGGER_NAME)

# Rooms this store keeps in memory at most (about 500 bytes each), the rest read when needed.
ROOMS_CACHED = 4096
# Rooms whose rows wait for the disk at most: while writes fail, what is said in a new room (or
# a topic) is not stored, as when too many messages wait.
ROOMS_UNWRITTEN = 10_000


class SqliteArchive(Reads):
    """The hub's ``Archive`` on an SQLite file; see the module's docstring.

    ``keep``, ``keep_topic`` and the reads are for one thread, the event loop's; ``close`` from
    that thread too. ``max_rows``, ``max_bytes`` and ``max_days`` (0: no limit) bound what is
    kept (``store_prune.py``); ``search`` ("like") makes a new database without the FTS5 index
    (tests of the fallback); ``clock`` is the time retention measures days against
    (``time.time``; tests pass their own); ``commit_interval``, ``batch_rows`` and
    ``max_pending`` are the group commit's; ``writer_pragmas`` are run on the writer's
    connection after the start-up checks (tests: ``max_page_count`` makes a full disk). Raises
    ConfigError if the file cannot be used.
    """

    def __init__(
        self,
        path: str,
        *,
        store_private: bool = False,
        max_rows: int = HISTORY_MAX_ROWS,
        max_bytes: int = HISTORY_MAX_BYTES,
        max_days: int = HISTORY_DAYS,
        search: str | None = None,
        clock: Callable[[], float] = time.time,
        commit_interval: float = HISTORY_COMMIT_INTERVAL_S,
        batch_rows: int = HISTORY_BATCH_ROWS,
        max_pending: int = HISTORY_MAX_PENDING_ROWS,
        writer_pragmas: Sequence[str] = (),
    ) -> None:
        self.path = path
        self.store_private = store_private
        self.max_rows = max_rows
        self.max_bytes = max_bytes
        self.max_days = max_days
        self.batch_rows = batch_rows
        self.max_pending = max_pending
        check_path(path)
        self._lock_fd = lock_database(path)
        try:
            opened = open_database(path, search)
            try:
                for pragma in writer_pragmas:
                    opened.conn.execute(f"PRAGMA {pragma}")
                self._reader = open_reader(path)
            except sqlite3.Error as exc:
                opened.conn.close()
                raise config_error(path, exc) from None
            except BaseException:
                opened.conn.close()
                raise
        except BaseException:
            os.close(self._lock_fd)
            raise
        self.search_kind: str = opened.search
        self.built_index = opened.built_index
        self._next_room = opened.next_room
        self._rooms: dict[str, StoredRoom] = {}
        self._closed = False
        self._overflow = 0  # rows refused while the pending list was full
        self._rooms_refused = False  # a new room was not made: too many wait for the disk
        self._read_failing = False
        self._budget = SearchBudget()  # what searches may take (store_search.py)
        self._queue = Queue(opened.last_id, opened.indexed, opened.top, opened.log_mark)
        self._writer = Writer(
            self._queue,
            opened.conn,
            path,
            opened.search,
            max_rows=max_rows,
            max_bytes=max_bytes,
            max_days=max_days,
            clock=clock,
            commit_interval=commit_interval,
            batch_rows=batch_rows,
        )
        self._writer.thread.start()

    # --- the Archive protocol (event loop's thread) -------------------------------------------

    def last_id(self) -> int:
        return self._queue.high

    def keep(self, room_key: str | None, message: Message) -> None:
        queue = self._queue
        if room_key is None:
            if not self.store_private:
                with queue.lock:
                    queue.high = max(queue.high, message.id)
                    queue.kept += 1
                queue.wake.set()  # its id goes to meta.last_id
                return
            room_id = None
        else:
            room = self._room_for(room_key, message.room)
            if room is None:
                self._not_stored(message=True)
                return
            room_id = room.id
        action = 1 if message.action else 0
        row = (message.id, room_id, message.time, message.sender, message.to, action, message.text)
        with queue.lock:
            pending = queue.pending
            if queue.closing:
                return  # the server is stopping: nothing is written after close
            if not queue.room_for(len(message.text) + 100, self.max_pending):
                self._overflow += 1
                queue.log_held = True
                if self._overflow == 1:
                    log.warning(
                        "history: %d messages wait for the disk; new ones are not stored until "
                        "they are written",
                        len(pending),
                    )
                return
            pending.append(row)
            if message.id > queue.high:
                queue.high = message.id
            else:
                queue.behind = True  # maybe below the search index's mark: store_writer.py
            queue.kept += 1
            waiting = len(pending)
            if waiting == self.batch_rows:
                queue.hurry = True
        if waiting == 1 or waiting == self.batch_rows:
            queue.wake.set()

    def recent(self, room_key: str, limit: int, before_id: int | None = None) -> list[Message]:
        room = self._known_room(room_key)
        if room is None or limit <= 0:
            return []
        return self._find(room, [], limit, before_id)

    def search(self, room_key: str, text: str, limit: int, origin: str = "") -> list[Message]:
        room = self._known_room(room_key)
        words = search_words(text)
        if room is None or limit <= 0 or not words:
            return []
        if self.search_kind == FTS5 and fts_query(room.id, words) is None:
            return []  # no word with a letter or digit: nothing to look for
        with self._budget.running(self._reader, origin) as check:  # SearchRefused, past it
            return self._find(room, words, limit, check=check)

    def topic(self, room_key: str) -> KeptTopic | None:
        room = self._known_room(room_key)
        return None if room is None else room.kept()

    def keep_topic(self, room_key: str, kept: KeptTopic) -> None:
        room = self._room_for(room_key, kept.name)
        if room is None:  # kept on the live room only, until a restart
            self._not_stored(message=False)
            return
        if (room.topic, room.topic_by, room.topic_at) != kept[1:]:
            if not self._may_queue(room.id):
                self._not_stored(message=False)
                return
            room.topic, room.topic_by, room.topic_at = kept[1:]
            self._queue_room(room)

    def log_mark(self) -> int:
        return self._queue.log_mark  # changed on this thread only

    def mark_log(self, entry_id: int) -> None:
        # Written with the next commit, with every row pending now; not once rows are dropped.
        with self._queue.lock:
            if not self._queue.closing:
                self._queue.log_mark = max(self._queue.log_mark, entry_id)

    # --- control ---------------------------------------------------------------------------------

    def flush(self, timeout: float = HISTORY_CLOSE_WAIT_S, index: bool = False) -> bool:
        """Wait until all kept so far is written (or dropped), the pruning asked for (or due to
        the byte cap) done and, with ``index``, the search index up to date; False past
        ``timeout``. For tests, benchmarks and tools: the server only needs ``close``."""
        queue = self._queue
        with queue.lock:
            target, mark = queue.kept, queue.log_mark
            queue.hurry = True
            queue.index_asked = index
        queue.wake.set()

        def done() -> bool:
            indexed = not index or self.search_kind != FTS5 or queue.indexed >= queue.top
            marked = queue.log_held or queue.written_mark >= mark
            pruned = not (queue.prune_asked or queue.over_cap)
            return queue.done >= target and pruned and indexed and marked

        with queue.changed:
            finished = queue.changed.wait_for(done, timeout)
            queue.index_asked = queue.hurry = False  # not for what is kept next
        return finished

    def backlog(self) -> int:
        """Messages (and room changes) kept but not written yet: for benchmarks and tools."""
        with self._queue.lock:
            return self._queue.kept - self._queue.done

    @property
    def writer_thread(self) -> threading.Thread:
        """The writer thread (benchmarks read its CPU time)."""
        return self._writer.thread

    def prune(self) -> None:
        """Apply the retention limits now (in the writer thread, in chunks); ``flush`` waits for
        it to finish."""
        with self._queue.lock:
            self._queue.prune_asked = True
            self._queue.prune_asks += 1
        self._queue.wake.set()

    def close(self, timeout: float = HISTORY_CLOSE_WAIT_S) -> None:
        """Write everything pending, bring the search index up to date, stop the writer
        thread, close the database. Idempotent; messages kept after this are dropped."""
        if self._closed:
            return
        self._closed = True
        queue = self._queue
        with queue.lock:
            queue.closing = True
            left = len(queue.pending)
        queue.wake.set()
        thread = self._writer.thread
        thread.join(timeout)
        if thread.is_alive():
            log.error(
                "history: the writer did not finish within %.0f s; up to %d messages are not "
                "stored",
                timeout,
                left,
            )
        self._reader.close()
        if not thread.is_alive():
            os.close(self._lock_fd)  # only once SQLite's own locks on the file are gone
        if self._overflow:
            log.warning("history: %d messages were not stored (the disk was slow)", self._overflow)

    # --- rooms (event loop's thread) ------------------------------------------------------------

    def _known_room(self, key: str) -> StoredRoom | None:
        room = self._rooms.get(key)
        if room is None:
            queue = self._queue
            with queue.lock:  # read and remembered at once (store_prune.py)
                found = self._read(ROOM_BY_KEY, (key,))
                if found:
                    room = self._cache(StoredRoom.found(key, found[0]))
                    queue.room_loads += 1
        return room

    def _room_for(self, key: str, name: str | None) -> StoredRoom | None:
        """The room ``key``, made if new; its display name updated to ``name`` if given (and
        its row may wait). None for a new room while ``ROOMS_UNWRITTEN`` rooms wait."""
        room = self._rooms.get(key) or self._known_room(key)
        if room is None:
            if not self._may_queue(None):
                return None
            with self._queue.lock:
                room = self._cache(StoredRoom(self._next_room, key, name or key, ""))
            self._next_room += 1
            self._queue_room(room)
        elif name and room.name != name and self._may_queue(room.id):
            room.name = name
            self._queue_room(room)
        return room

    def _may_queue(self, room_id: int | None) -> bool:
        """True if the row of room ``room_id`` (None: a new one) may wait for the writer: at
        most ``ROOMS_UNWRITTEN`` rooms wait (a failing disk). Each waiting room is remembered
        until a commit holds it, or it would be made twice, so this bounds what a client naming
        room after room makes the store remember meanwhile."""
        queue = self._queue
        with queue.lock:
            waiting = queue.unwritten_rooms
            return len(waiting) < ROOMS_UNWRITTEN or room_id in waiting

    def _queue_room(self, room: StoredRoom) -> None:
        with self._queue.lock:
            self._queue.rooms[room.id] = room.row()
            self._queue.kept += 1
            self._queue.unwritten_rooms.add(room.id)  # until a commit holds its row
        self._queue.wake.set()

    def _cache(self, room: StoredRoom) -> StoredRoom:
        """Remember ``room`` (the queue's lock held); past ``ROOMS_CACHED`` forget the oldest
        whose rows a commit holds (one not committed, as after a failed write, would be made
        twice), read again if needed."""
        rooms, queue = self._rooms, self._queue
        rooms[room.key] = room
        queue.cached_rooms.add(room.id)
        if len(rooms) > ROOMS_CACHED:  # down to three quarters, the oldest that may go first
            extra = len(rooms) - ROOMS_CACHED + ROOMS_CACHED // 4
            for old in list(rooms.values())[:-1]:  # not ``room``, whose row may not wait yet
                if old.id not in queue.unwritten_rooms and old.id not in queue.rooms:
                    del rooms[old.key]
                    queue.cached_rooms.discard(old.id)
                    extra -= 1
                    if extra <= 0:
                        break
        return room

    def _not_stored(self, message: bool) -> None:
        """A message of a new room, or a topic, is not stored: ``ROOMS_UNWRITTEN`` rooms wait
        for a disk that fails. A message counts with those refused for a full queue; the
        cluster's log mark is held (the next start backfills from the one written before)."""
        queue = self._queue
        with queue.lock:
            queue.log_held = True
        self._overflow += message
        if not self._rooms_refused:
            self._rooms_refused = True
            log.warning(
                "history: %d rooms wait for the disk; messages in new rooms and topics of "
                "others are not stored until they are written",
                ROOMS_UNWRITTEN,
            )


def open_archive(config: ServerConfig, search: str | None = None) -> Archive:
    """The archive the hub keeps messages in: ``NoArchive`` with ``--no-history``, else a
    ``SqliteArchive`` on ``config.data_dir``/history.sqlite3 (the directory made, mode 0700, if
    missing). Logs which search it uses. Raises ConfigError (one line) if it cannot be used."""
    if not config.history:
        log.info("history off (--no-history): messages are not kept")
        return NoArchive()
    directory = config.data_dir or "."
    try:
        os.makedirs(directory, mode=0o700, exist_ok=True)
    except OSError as exc:
        raise ConfigError(
            f"history: cannot make the directory {directory}: {exc.strerror}: give --data-dir a "
            "directory the server may write in, or start with --no-history"
        ) from None
    archive = SqliteArchive(
        os.path.join(directory, DB_FILE),
        store_private=config.store_private,
        max_rows=config.history_max_rows,
        max_bytes=config.history_max_mb * 1024 * 1024,  # MiB
        max_days=config.history_days,
        search=search,
    )
    if archive.built_index:
        log.info("history: built the search index of the messages stored without one")
    log.info(
        "history in %s (ids from %d), search: %s",
        archive.path,
        archive.last_id() + 1,
        describe_search(archive.search_kind),
    )
    return archive


def close_archive(archive: Archive) -> None:
    """Write what is pending and close ``archive`` (nothing to do for ``NoArchive``)."""
    if isinstance(archive, SqliteArchive):
        archive.close()
