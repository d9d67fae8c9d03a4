"""History, persisted: room messages in SQLite behind the hub's ``core.archive.Archive`` seam.

``open_archive(config)`` gives the server its archive: a ``SqliteArchive`` on
``DATA_DIR/history.sqlite3`` (the directory made with mode 0700 if missing), or ``NoArchive``
with ``--no-history``. ``close_archive`` writes what is pending and closes it (at SIGTERM, after
the hub's last message). Everything that can be wrong with the database at start (not a
database, damaged, read-only file or directory, in use by another server, a newer schema) is a
``ConfigError``: one line naming the file and what to do, exit 1, never a traceback.

The schema (``store_db.py``), version 1 in ``PRAGMA user_version``:

- ``rooms(id INTEGER PRIMARY KEY, key TEXT UNIQUE, name, topic)``: a room's key (given by the
  hub, opaque here), display name and topic as last kept;
- ``messages(id INTEGER PRIMARY KEY, room, time, sender, recipient, action, text)``: ``id`` as
  the hub numbered it, ``room`` a ``rooms.id`` (NULL for a private message), indexed by
  ``(room, id)`` so a replay reads 20 rows of one room and nothing else;
- ``meta(key, value)``: ``last_id``, the highest id handed out when that was a message not
  stored (a private one), so that ids keep increasing across restarts;
- ``messages_fts``: an FTS5 index (unicode61, remove_diacritics 2) of the text and the room's id
  as a token, without a copy of the text, kept in step by triggers. Without FTS5 in this SQLite,
  /search reads the room's newest ``HISTORY_LIKE_SCAN_ROWS`` messages and compares case-folded
  text instead ("like").

Threads: ``keep`` runs on the event loop's thread and only appends a ready row to a list (under
a lock held for the append). One writer thread does the SQLite work with its own connection:
woken by the first row of a batch, it waits ``HISTORY_COMMIT_INTERVAL_S`` (5 ms) for more, or
less once ``HISTORY_BATCH_ROWS`` (1000) are waiting, and writes them all in one transaction
(group commit), 128 rows per INSERT statement: SQLite lets go of the GIL for each statement's
rows at once, where ``executemany`` would take it back after every row. So storing costs the
event loop's thread about a microsecond per message (``keep`` and its share of the GIL), and
the SQLite work (about 5-15 us a row, most of it the search index) runs beside it on another
CPU. Reads (``recent``, ``search``, ``topic``) run on the event loop's
thread on a second, read-only connection, through indexes, and add the rows kept but not
written yet (pending, or in the transaction being written), each once.

Durability (WAL, synchronous=NORMAL): a committed batch survives the process being killed.
``close()`` (SIGTERM) writes everything pending before it returns, so a clean stop loses
nothing. ``kill -9`` loses at most the batch not yet committed: the messages kept in the last
``HISTORY_COMMIT_INTERVAL_S`` (5 ms) plus those of the transaction being written at that moment
(at most the rows kept while the previous one was written; about 5-10 ms of chat). A power cut
may also lose the transactions since the last WAL checkpoint (synchronous=NORMAL: the WAL is
synced at checkpoints, not at each commit).

A full disk or an I/O error while running: the batch is dropped (rolled back), one ERROR is
logged, and chat goes on without storing; every ``HISTORY_RETRY_S`` (30 s) the next batch tries
again, and once one is written a WARNING says how many messages were not stored. Pending rows
are capped at ``HISTORY_MAX_PENDING_ROWS``, past which new ones are dropped with one WARNING, so
a stalled disk cannot grow memory. A read that fails (a damaged page found mid-chat) logs one
ERROR and answers from memory only.

Retention (``--history-days``, ``--history-max-rows``) is pruned by the writer thread, the
oldest rows first, ``HISTORY_PRUNE_CHUNK_ROWS`` per transaction between batches: at start,
every ``HISTORY_PRUNE_INTERVAL_S``, and as soon as the rows pass the cap by a full chunk.

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
from itertools import chain
from typing import Any, Callable, Union

from ..core.archive import Archive, NoArchive
from ..core.errors import ConfigError
from ..core.events import Message
from ..core.limits import (
    HISTORY_BATCH_ROWS,
    HISTORY_CLOSE_WAIT_S,
    HISTORY_COMMIT_INTERVAL_S,
    HISTORY_DAYS,
    HISTORY_LIKE_SCAN_ROWS,
    HISTORY_MAX_PENDING_ROWS,
    HISTORY_MAX_ROWS,
    HISTORY_PRUNE_CHUNK_ROWS,
    HISTORY_PRUNE_INTERVAL_S,
    HISTORY_RETRY_S,
)
from .config import ServerConfig
from .logs import LOGGER_NAME
from .store_db import (
    DB_FILE,
    FTS5,
    check_path,
    config_error,
    fts_query,
    open_database,
    open_reader,
    search_support,
    search_words,
    words_match,
)

try:
    import fcntl
except ImportError:  # not on POSIX: no lock against a second server on the same file
    fcntl = None  # type: ignore[assignment]

log = logging.getLogger(LOGGER_NAME)

# A message as stored: (id, room id or None, time, sender, recipient, action 0/1, text).
Row = tuple[int, Union[int, None], float, str, Union[str, None], int, str]

# Rows per INSERT statement: 128 rows of 7 values stay under the 999 parameters older SQLite
# builds allow. One statement is one call into SQLite, which lets go of the GIL for all its rows
# (and their index entries) at once; executemany would take the GIL back after every row, and
# wait for the event loop's thread to hand it over each time.
INSERT_ROWS = 128


def insert_sql(rows: int) -> str:
    """The INSERT of ``rows`` messages at once (ids already stored are skipped)."""
    values = ", ".join(["(?, ?, ?, ?, ?, ?, ?)"] * rows)
    return (
        "INSERT OR IGNORE INTO messages (id, room, time, sender, recipient, action, text) "
        f"VALUES {values}"
    )


INSERT_FULL = insert_sql(INSERT_ROWS)
UPSERT_ROOM = (
    "INSERT INTO rooms (id, key, name, topic) VALUES (?, ?, ?, ?) "
    "ON CONFLICT (id) DO UPDATE SET name = excluded.name, topic = excluded.topic"
)
COLUMNS = "id, room, time, sender, recipient, action, text"
JOINED_COLUMNS = "m.id, m.room, m.time, m.sender, m.recipient, m.action, m.text"
DAY_S = 86400.0


class _Room:
    """A room as this store knows it: its id in the database, display name and topic."""

    __slots__ = ("id", "key", "name", "topic")

    def __init__(self, room_id: int, key: str, name: str, topic: str) -> None:
        self.id = room_id
        self.key = key
        self.name = name
        self.topic = topic

    def row(self) -> tuple[int, str, str, str]:
        return (self.id, self.key, self.name, self.topic)


class SqliteArchive:
    """The hub's ``Archive`` on an SQLite file; see the module's docstring.

    ``keep``, ``keep_topic`` and the reads are for one thread, the event loop's; ``close`` from
    that thread too. ``max_rows`` and ``max_days`` (0: no limit) bound what is kept; ``search``
    ("like") makes a new database without the FTS5 index (tests of the fallback); ``clock`` is
    the time retention measures days against (``time.time``; tests pass their own);
    ``commit_interval`` and ``batch_rows`` are the group commit's; ``writer_pragmas`` are run on
    the writer's connection after the start-up checks (tests: ``max_page_count`` makes a full
    disk).
    """

    def __init__(
        self,
        path: str,
        *,
        store_private: bool = False,
        max_rows: int = HISTORY_MAX_ROWS,
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
        self.max_days = max_days
        self.clock = clock
        self.commit_interval = commit_interval
        self.batch_rows = batch_rows
        self.max_pending = max_pending
        check_path(path)
        self._lock_fd = _lock(path)
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
        self._writer_conn = opened.conn
        self._high = opened.last_id  # the highest id kept (or read at open)
        self._next_room = opened.next_room
        self._rooms: dict[str, _Room] = {}
        # Shared with the writer thread, under _lock.
        self._lock = threading.Lock()
        self._done_changed = threading.Condition(self._lock)
        self._pending: list[Row] = []
        self._writing: list[Row] = []  # the batch in the transaction being written
        self._room_rows: dict[int, tuple[int, str, str, str]] = {}
        self._kept = 0  # operations handed to the writer (messages, rooms, ids)
        self._done = 0  # of those, written or dropped
        self._prune_asked = False
        # Write without waiting out the interval (a full batch, a flush): a flag, not only the
        # event, so that the writer clearing the event cannot lose it.
        self._hurry = False
        self._closing = False
        self._closed = False
        self._overflow = 0  # rows refused while the pending list was full
        self._wake = threading.Event()
        # The writer thread's own state.
        self._stored_high = opened.last_id
        self._rows = -1  # rows in the table, counted by the writer at start
        self._failing = False
        self._retry_at = 0.0
        self._lost = 0
        self._prune_at = 0.0  # time.monotonic() of the next periodic prune; 0: at start
        self._read_failing = False
        self._thread = threading.Thread(target=self._run, name="tcpchat-history", daemon=True)
        self._thread.start()

    # --- the Archive protocol (event loop's thread) -------------------------------------------

    def last_id(self) -> int:
        return self._high

    def keep(self, room_key: str | None, message: Message) -> None:
        if room_key is None:
            if not self.store_private:
                with self._lock:
                    if message.id > self._high:
                        self._high = message.id
                    self._kept += 1
                self._wake.set()  # its id goes to meta.last_id
                return
            room_id = None
        else:
            room_id = self._room_for(room_key, message.room).id
        row = (
            message.id,
            room_id,
            message.time,
            message.sender,
            message.to,
            1 if message.action else 0,
            message.text,
        )
        with self._lock:
            pending = self._pending
            if self._closing:
                return  # the server is stopping: nothing is written after close
            if len(pending) >= self.max_pending:
                self._overflow += 1
                if self._overflow == 1:
                    log.warning(
                        "history: %d messages wait for the disk; new ones are not stored until "
                        "they are written",
                        len(pending),
                    )
                return
            pending.append(row)
            if message.id > self._high:
                self._high = message.id
            self._kept += 1
            waiting = len(pending)
            if waiting == self.batch_rows:
                self._hurry = True
        if waiting == 1 or waiting == self.batch_rows:
            self._wake.set()

    def recent(self, room_key: str, limit: int, before_id: int | None = None) -> list[Message]:
        room = self._known_room(room_key)
        if room is None or limit <= 0:
            return []
        unwritten = [
            row for row in self._unwritten(room.id) if before_id is None or row[0] < before_id
        ]
        if before_id is None:
            sql = f"SELECT {COLUMNS} FROM messages WHERE room = ? ORDER BY id DESC LIMIT ?"
            args: tuple[int, ...] = (room.id, limit)
        else:
            sql = (
                f"SELECT {COLUMNS} FROM messages WHERE room = ? AND id < ? ORDER BY id DESC LIMIT ?"
            )
            args = (room.id, before_id, limit)
        stored = self._read(sql, args)
        return _messages(_merge(stored, unwritten, limit), room.name)

    def search(self, room_key: str, text: str, limit: int) -> list[Message]:
        room = self._known_room(room_key)
        words = search_words(text)
        if room is None or limit <= 0 or not words:
            return []
        unwritten = [
            row for row in self._unwritten(room.id) if words_match(self.search_kind, words, row[6])
        ]
        if self.search_kind == FTS5:
            query = fts_query(room.id, words)
            if query is None:
                return []
            stored = self._read(
                f"SELECT {JOINED_COLUMNS} FROM messages_fts f JOIN messages m ON m.id = f.rowid "
                "WHERE messages_fts MATCH ? ORDER BY f.rowid DESC LIMIT ?",
                (query, limit),
            )
        else:
            folded = [word.casefold() for word in words]
            condition = " AND ".join("instr(casefold(text), ?) > 0" for _ in folded)
            stored = self._read(
                f"SELECT {COLUMNS} FROM (SELECT {COLUMNS} FROM messages WHERE room = ? "
                f"ORDER BY id DESC LIMIT ?) WHERE {condition} ORDER BY id DESC LIMIT ?",
                (room.id, HISTORY_LIKE_SCAN_ROWS, *folded, limit),
            )
        return _messages(_merge(stored, unwritten, limit), room.name)

    def topic(self, room_key: str) -> tuple[str, str] | None:
        room = self._known_room(room_key)
        return None if room is None else (room.name, room.topic)

    def keep_topic(self, room_key: str, name: str, topic: str) -> None:
        room = self._room_for(room_key, name)
        if room.topic != topic:
            room.topic = topic
            self._queue_room(room)

    # --- control ---------------------------------------------------------------------------------

    def flush(self, timeout: float = HISTORY_CLOSE_WAIT_S) -> bool:
        """Wait until everything kept so far is written (or dropped) and any pruning asked for
        is done; False if that took longer than ``timeout``."""
        with self._lock:
            target = self._kept
            self._hurry = True
        self._wake.set()
        with self._done_changed:
            return self._done_changed.wait_for(
                lambda: self._done >= target and not self._prune_asked, timeout
            )

    def prune(self) -> None:
        """Apply the retention limits now (in the writer thread, in chunks); ``flush`` waits for
        it to finish."""
        with self._lock:
            self._prune_asked = True
        self._wake.set()

    def close(self, timeout: float = HISTORY_CLOSE_WAIT_S) -> None:
        """Write everything pending, stop the writer thread, close the database. Idempotent;
        messages kept after this are dropped."""
        if self._closed:
            return
        self._closed = True
        with self._lock:
            self._closing = True
            left = len(self._pending)
        self._wake.set()
        self._thread.join(timeout)
        if self._thread.is_alive():
            log.error(
                "history: the writer did not finish within %.0f s; up to %d messages are not "
                "stored",
                timeout,
                left,
            )
        self._reader.close()
        if not self._thread.is_alive():
            os.close(self._lock_fd)  # only once SQLite's own locks on the file are gone
        if self._overflow:
            log.warning("history: %d messages were not stored (the disk was slow)", self._overflow)

    # --- rooms (event loop's thread) ------------------------------------------------------------

    def _known_room(self, key: str) -> _Room | None:
        room = self._rooms.get(key)
        if room is None:
            found = self._read("SELECT id, name, topic FROM rooms WHERE key = ?", (key,))
            if found:
                room_id, name, topic = found[0]
                room = self._rooms[key] = _Room(int(room_id), key, str(name), str(topic))
        return room

    def _room_for(self, key: str, name: str | None) -> _Room:
        """The room ``key``, made if new; its display name updated to ``name`` if given."""
        room = self._rooms.get(key) or self._known_room(key)
        if room is None:
            room = self._rooms[key] = _Room(self._next_room, key, name or key, "")
            self._next_room += 1
            self._queue_room(room)
        elif name and room.name != name:
            room.name = name
            self._queue_room(room)
        return room

    def _queue_room(self, room: _Room) -> None:
        with self._lock:
            self._room_rows[room.id] = room.row()
            self._kept += 1
        self._wake.set()

    # --- reads (event loop's thread) ------------------------------------------------------------

    def _unwritten(self, room_id: int) -> list[Row]:
        """The room's rows not yet committed (oldest first): these the database cannot have."""
        with self._lock:
            if not self._writing and not self._pending:
                return []
            return [r for r in (*self._writing, *self._pending) if r[1] == room_id]

    def _read(self, sql: str, args: Sequence[object]) -> list[Any]:
        """Rows of a query on the reader connection; [] (with one ERROR) if the database fails:
        the caller then answers from memory only."""
        try:
            rows: list[Any] = self._reader.execute(sql, args).fetchall()
        except sqlite3.Error as exc:
            if not self._read_failing:
                self._read_failing = True
                log.error("history: cannot read %s: %s; answering from memory", self.path, exc)
            return []
        self._read_failing = False
        return rows

    # --- the writer thread ----------------------------------------------------------------------

    def _run(self) -> None:
        conn = self._writer_conn
        try:
            self._count_rows()
            while True:
                self._wake.wait(self._until_prune())
                self._wake.clear()
                with self._lock:
                    gather = (
                        not (self._closing or self._hurry)
                        and 0 < len(self._pending) < self.batch_rows
                    )
                if gather:  # group commit: let more rows come, up to the interval
                    self._wake.wait(self.commit_interval)
                    self._wake.clear()
                self._write_pending()
                with self._lock:
                    if self._closing and not self._pending and not self._room_rows:
                        break
                self._prune_when_due()
        except Exception:  # our bug: say so, and keep the server running without history
            log.exception("history: the writer stopped; messages are no longer stored")
        finally:
            if self._lost:
                log.warning("history: %d messages were not stored", self._lost)
            with self._lock:
                self._done = self._kept
                self._prune_asked = False
                self._done_changed.notify_all()
            conn.close()

    def _count_rows(self) -> None:
        if self.max_rows:
            try:
                count = self._writer_conn.execute("SELECT COUNT(*) FROM messages").fetchone()
                self._rows = int(count[0])
            except sqlite3.Error as exc:
                self._write_failed(exc, 0)

    def _until_prune(self) -> float | None:
        """Seconds the writer may sleep before retention is due (None: no limit is set)."""
        if self._prune_asked:
            return 0.0
        if not (self.max_rows or self.max_days):
            return None
        return max(0.0, self._prune_at - time.monotonic())

    def _write_pending(self) -> None:
        """Take everything pending and write it in one transaction (or drop it while the disk
        is failing)."""
        with self._lock:
            batch, self._pending = self._pending, []
            rooms, self._room_rows = self._room_rows, {}
            high = self._high
            taken = self._kept
            self._writing = batch
            self._hurry = False
        try:
            newest = batch[-1][0] if batch else 0
            meta = high if high > self._stored_high and high != newest else None
            if batch or rooms or meta is not None:
                if self._failing and not self._closing and time.monotonic() < self._retry_at:
                    self._lost += len(batch)
                    self._requeue(rooms)
                else:
                    self._commit(batch, rooms, meta)
                    self._stored_high = max(self._stored_high, high)
        finally:
            with self._lock:
                self._writing = []
                self._done = taken
                self._done_changed.notify_all()

    def _commit(
        self,
        batch: list[Row],
        rooms: dict[int, tuple[int, str, str, str]],
        meta: int | None,
    ) -> None:
        conn = self._writer_conn
        try:
            conn.execute("BEGIN IMMEDIATE")
            if rooms:
                conn.executemany(UPSERT_ROOM, list(rooms.values()))
            added = _insert(conn, batch)
            if meta is not None:
                conn.execute(
                    "INSERT OR REPLACE INTO meta (key, value) VALUES ('last_id', ?)", (meta,)
                )
            conn.execute("COMMIT")
        except sqlite3.Error as exc:
            _rollback(conn)
            if isinstance(exc, sqlite3.OperationalError):  # the disk, not the rows: try again
                self._requeue(rooms)
            self._write_failed(exc, len(batch))
            return
        if self._rows >= 0:
            self._rows += max(added, 0)
        if self._failing:
            self._failing = False
            log.warning(
                "history: writing to %s again; %d messages were not stored", self.path, self._lost
            )
            self._lost = 0

    def _requeue(self, rooms: dict[int, tuple[int, str, str, str]]) -> None:
        """Rooms not written go back to be written with the next batch (a newer state of the
        same room, queued meanwhile, wins)."""
        if rooms:
            with self._lock:
                for room_id, row in rooms.items():
                    self._room_rows.setdefault(room_id, row)

    def _write_failed(self, exc: sqlite3.Error, lost: int) -> None:
        self._lost += lost
        self._retry_at = time.monotonic() + HISTORY_RETRY_S
        if not self._failing:
            self._failing = True
            log.error(
                "history: cannot write to %s: %s; messages are not stored (chat goes on), "
                "trying again every %.0f s",
                self.path,
                exc,
                HISTORY_RETRY_S,
            )

    def _prune_when_due(self) -> None:
        """One chunk of retention when it is due: asked for, at its interval, or the cap passed
        by a full chunk. While more remain the writer comes back at once (after the next batch
        of messages, if any)."""
        if self._closing:
            return
        limited = bool(self.max_rows or self.max_days)
        due = self._prune_asked or (
            limited
            and (
                time.monotonic() >= self._prune_at
                or (self.max_rows and self._rows - self.max_rows >= HISTORY_PRUNE_CHUNK_ROWS)
            )
        )
        if not due:
            return
        if limited and self._prune_chunk():
            self._wake.set()
            return
        self._prune_at = time.monotonic() + HISTORY_PRUNE_INTERVAL_S
        with self._lock:
            self._prune_asked = False
            self._done_changed.notify_all()

    def _prune_chunk(self) -> bool:
        """Delete up to one chunk of the oldest rows past the limits (the row cap first, then
        the days); True if more may be due."""
        if self._failing and time.monotonic() < self._retry_at:
            return False
        conn = self._writer_conn
        chunk = HISTORY_PRUNE_CHUNK_ROWS
        by_rows = bool(self.max_rows and self._rows > self.max_rows)
        try:
            conn.execute("BEGIN IMMEDIATE")
            if by_rows:
                deleted = conn.execute(
                    "DELETE FROM messages WHERE id IN "
                    "(SELECT id FROM messages ORDER BY id LIMIT ?)",
                    (min(self._rows - self.max_rows, chunk),),
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
            _rollback(conn)
            self._write_failed(exc, 0)
            return False
        if self._rows >= 0:
            self._rows -= deleted
        if by_rows:
            return deleted > 0 and (self._rows > self.max_rows or bool(self.max_days))
        return deleted == chunk


def _lock(path: str) -> int:
    """Open (creating, mode 0600) the database file and lock it against a second server; the
    descriptor stays open until ``close``: closing another descriptor of the file would drop
    SQLite's own locks."""
    try:
        fd = os.open(path, os.O_RDWR | os.O_CREAT | getattr(os, "O_CLOEXEC", 0), 0o600)
    except OSError as exc:
        raise ConfigError(
            f"history: cannot open {path}: {exc.strerror}: make it writable for the server's "
            "user, or give another --data-dir"
        ) from None
    if fcntl is not None:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            os.close(fd)
            raise ConfigError(
                f"history: {path} is in use by another tcp-server: give each server its own "
                "--data-dir"
            ) from None
    return fd


def _insert(conn: sqlite3.Connection, batch: list[Row]) -> int:
    """Insert ``batch``, INSERT_ROWS rows per statement; the number of rows added."""
    added = 0
    for start in range(0, len(batch), INSERT_ROWS):
        rows = batch[start : start + INSERT_ROWS]
        sql = INSERT_FULL if len(rows) == INSERT_ROWS else insert_sql(len(rows))
        added += conn.execute(sql, list(chain.from_iterable(rows))).rowcount
    return added


def _rollback(conn: sqlite3.Connection) -> None:
    try:
        conn.execute("ROLLBACK")
    except sqlite3.Error:
        pass  # no transaction left to undo (SQLite rolled it back itself)


def _merge(stored: list[Row], unwritten: list[Row], limit: int) -> list[Row]:
    """The newest ``limit`` rows of both, each id once, oldest first. ``stored`` comes newest
    first from the database; ``unwritten`` oldest first, and wins for an id in both."""
    if not unwritten:
        rows = stored[::-1]
    else:
        by_id = {row[0]: row for row in stored}
        by_id.update((row[0], row) for row in unwritten)
        rows = sorted(by_id.values(), key=lambda row: row[0])
    return rows[-limit:]


def _messages(rows: Sequence[Row], room: str) -> list[Message]:
    return [
        Message(time, mid, sender, to, bool(action), text, room, False)
        for mid, _, time, sender, to, action, text in rows
    ]


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


def describe_search(kind: str) -> str:
    """How a database of this search ``kind`` is searched, in words for the log."""
    support = search_support()
    if kind == FTS5 or support.startswith("plain"):
        return support
    return "plain LIKE (chosen, though this SQLite has FTS5)"


def close_archive(archive: Archive) -> None:
    """Write what is pending and close ``archive`` (nothing to do for ``NoArchive``)."""
    if isinstance(archive, SqliteArchive):
        archive.close()
