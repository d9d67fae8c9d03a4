"""The history database itself, for ``store.py``: its schema, opening it with every start-up
check (each failure one ``ConfigError`` line that names the file and what to do); the rows as
stored, the lock against a second server on the same file, and rows merged and read back as
messages. The words of a /search: ``store_search.py``.

The schema, version 2 in ``PRAGMA user_version``:

- ``rooms(id INTEGER PRIMARY KEY, key TEXT UNIQUE, name, topic, topic_by, topic_at)``: a room's
  key (given by the hub, opaque here), display name and topic as last kept, with who set the
  topic and when (version 2 added these two: a version 1 file gains them, '' and 0, when
  opened);
- ``messages(id INTEGER PRIMARY KEY, room, time, sender, recipient, action, text)``: ``id`` as
  the hub numbered it (ids must grow in the order messages are kept, as the hub's do), ``room``
  a ``rooms.id`` (NULL for a private message);
- ``meta(key, value)``: ``last_id``, the highest id handed out when that was a message not
  stored (a private one) or one retention deleted, so that ids keep increasing across
  restarts; ``indexed``, the id up to which every message is in the search index;
  ``log_mark``, in a cluster, the id up to which the shared log's room messages are all
  stored (a node backfills from there when it starts);
- ``messages_fts``: an FTS5 index (unicode61, remove_diacritics 2) of the text, and of the
  room's id as a token: ``room : "7" AND text : "word"`` reads room 7's entries only, and
  ``room : "7"`` alone, newest first, is a replay. It holds no copy of the text
  (content=messages). The writer adds messages to it behind the messages themselves, in
  transactions of up to ``HISTORY_INDEX_ROWS`` (1000) at least every ``HISTORY_INDEX_LAG_S``
  (1 s): each FTS5 transaction costs about what indexing a hundred rows does, so indexing with
  every 5 ms commit doubled the writer's work. Reads add the messages written since
  ``indexed`` themselves (by id, their words compared in Python).
- Without FTS5 in this SQLite ("like"): no ``messages_fts``, and an index ``messages(room, id)``
  for replays; /search reads the room's newest ``HISTORY_LIKE_SCAN_ROWS`` messages and compares
  their case-folded text. A database made so gets the FTS5 index (built at start) once it is
  opened with an SQLite that has FTS5; one with the index is refused (ConfigError) by an SQLite
  without it.

No threads and no state here: ``store.SqliteArchive`` owns the connections this module opens.
"""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Union

from ..core.archive import KeptTopic
from ..core.errors import ConfigError
from ..core.events import Message

try:
    import fcntl
except ImportError:  # not on POSIX: no lock against a second server on the same file
    fcntl = None  # type: ignore[assignment]

DB_FILE = "history.sqlite3"
# PRAGMA user_version of the schema below. A file with a higher one was written by a newer
# tcp-chat and is refused at start rather than misread.
SCHEMA_VERSION = 2
# A message as stored: (id, room id or None, time, sender, recipient, action 0/1, text).
Row = tuple[int, Union[int, None], float, str, Union[str, None], int, str]
# A room as stored: (id, key, display name, topic, who set it, when).
RoomRow = tuple[int, str, str, str, str, float]


class StoredRoom:
    """A room as the store knows it: its id in the database, display name, topic, and who set
    the topic when ("" and 0.0: not known)."""

    __slots__ = ("id", "key", "name", "topic", "topic_by", "topic_at")

    def __init__(
        self, room_id: int, key: str, name: str, topic: str, by: str = "", at: float = 0.0
    ) -> None:
        self.id = room_id
        self.key = key
        self.name = name
        self.topic = topic
        self.topic_by = by
        self.topic_at = at

    @classmethod
    def found(cls, key: str, row: Sequence[Any]) -> StoredRoom:
        """The room of ``key`` from its row as ``ROOM_BY_KEY`` reads it."""
        room_id, name, topic, by, at = row
        return cls(int(room_id), key, str(name), str(topic), str(by), float(at))

    def row(self) -> RoomRow:
        return (self.id, self.key, self.name, self.topic, self.topic_by, self.topic_at)

    def kept(self) -> KeptTopic:
        return KeptTopic(self.name, self.topic, self.topic_by, self.topic_at)


ROOM_BY_KEY = "SELECT id, name, topic, topic_by, topic_at FROM rooms WHERE key = ?"


FTS5 = "fts5"
LIKE = "like"

SCHEMA = (
    # A room's key (NFKC, case-folded: given by the hub), how it was last shown and titled, and
    # who titled it when.
    """CREATE TABLE rooms (
        id INTEGER PRIMARY KEY,
        key TEXT NOT NULL UNIQUE,
        name TEXT NOT NULL,
        topic TEXT NOT NULL DEFAULT '',
        topic_by TEXT NOT NULL DEFAULT '',
        topic_at REAL NOT NULL DEFAULT 0
    )""",
    # One row per message, id as the hub numbered it; room NULL for a private message.
    """CREATE TABLE messages (
        id INTEGER PRIMARY KEY,
        room INTEGER,
        time REAL NOT NULL,
        sender TEXT NOT NULL,
        recipient TEXT,
        action INTEGER NOT NULL,
        text TEXT NOT NULL
    )""",
    # 'last_id': the highest message id handed out, when it is not a stored row (a private
    # message not kept), so that ids keep increasing across restarts. 'indexed': every message
    # up to this id is in the search index. 'log_mark': a cluster's log is stored up to here.
    "CREATE TABLE meta (key TEXT PRIMARY KEY, value INTEGER NOT NULL) WITHOUT ROWID",
)
# The search index: the text of each message, and its room as one token (the room's id) so that
# a search of one room reads only that room's entries, however common the word elsewhere; the
# room's token alone lists its messages, newest first, for a replay. It holds no copy of the text
# (content=messages), nor the sizes only ranking would need (columnsize=0: results come newest
# first, not by relevance). The writer adds messages to it in transactions of their own, behind
# the messages (``meta.indexed`` says up to where): each FTS5 transaction writes a new segment,
# which costs about as much as indexing a hundred rows, so indexing with every 5 ms commit would
# double the writer's work at a busy chat's rates. A deleted row leaves the index by the trigger,
# if it was in it (deleting an entry that is not there would damage an external-content index).
FTS_SCHEMA = (
    """CREATE VIRTUAL TABLE messages_fts USING fts5 (
        room, text, content='messages', content_rowid='id', columnsize=0,
        tokenize='unicode61 remove_diacritics 2'
    )""",
    """CREATE TRIGGER messages_fts_delete AFTER DELETE ON messages
    WHEN old.id <= (SELECT value FROM meta WHERE key = 'indexed') BEGIN
        INSERT INTO messages_fts (messages_fts, rowid, room, text)
        VALUES ('delete', old.id, old.room, old.text);
    END""",
)
INDEXED = "INSERT OR REPLACE INTO meta (key, value) VALUES ('indexed', ?)"
# Without the search index, a room's last messages come from an index of their own. (With it,
# this one is not kept: its entries, scattered over every room's part of the index, made each
# 5 ms commit write a page per room that spoke, most of the writer's work besides the search
# index.)
ROOM_INDEX = "CREATE INDEX IF NOT EXISTS messages_room ON messages (room, id)"
# From version 1 to 2: who set a room's topic, and when.
TO_VERSION_2 = (
    "ALTER TABLE rooms ADD COLUMN topic_by TEXT NOT NULL DEFAULT ''",
    "ALTER TABLE rooms ADD COLUMN topic_at REAL NOT NULL DEFAULT 0",
)
OUR_TABLES = {"rooms", "messages", "meta"}


def fts5_available() -> bool:
    """Whether this Python's SQLite has FTS5 compiled in."""
    conn = sqlite3.connect(":memory:")
    try:
        conn.execute("CREATE VIRTUAL TABLE probe USING fts5 (text)")
    except sqlite3.Error:
        return False
    finally:
        conn.close()
    return True


def search_support() -> str:
    """How /search works with this Python's SQLite, in words (for --version and the log)."""
    if fts5_available():
        return f"SQLite FTS5 (SQLite {sqlite3.sqlite_version})"
    return f"plain LIKE (SQLite {sqlite3.sqlite_version} has no FTS5)"


@dataclass
class Opened:
    """A database ready for the writer: its connection, how it is searched, and what it holds."""

    conn: sqlite3.Connection
    search: str  # FTS5 or LIKE
    last_id: int  # the highest message id ever handed out
    next_room: int  # the id a new room gets
    built_index: bool  # the search index was built now, for messages stored without one
    top: int  # the highest id stored
    indexed: int  # messages up to this id are in the search index
    log_mark: int  # a cluster's shared log is stored up to this id


def check_path(path: str) -> None:
    """Refuse at start, with a line an operator can act on, a database path SQLite could open
    only to fail later: a directory we cannot write in (WAL needs files beside the database), a
    read-only file, or something that is not a file."""
    directory = os.path.dirname(path) or "."
    if not os.path.exists(directory):
        raise ConfigError(
            f"history: the directory {directory} does not exist: make it, or give another "
            "--data-dir"
        )
    if not os.path.isdir(directory):
        raise ConfigError(
            f"history: {directory} is not a directory: give --data-dir a directory, "
            "or start with --no-history"
        )
    if not os.access(directory, os.W_OK | os.X_OK):
        raise ConfigError(
            f"history: cannot write in {directory} (SQLite makes its journal files there): make "
            "it writable for the server's user, give another --data-dir, or use --no-history"
        )
    if os.path.lexists(path) and not os.path.isfile(path):
        raise ConfigError(
            f"history: {path} is not a regular file: move it away, or give another --data-dir"
        )
    if os.path.exists(path) and not os.access(path, os.R_OK | os.W_OK):
        raise ConfigError(
            f"history: {path} is read-only: make it readable and writable for the server's user, "
            "or give another --data-dir"
        )


def open_database(path: str, search: str | None = None) -> Opened:
    """Open (or create) the history database at ``path`` for writing, in WAL mode with
    synchronous=NORMAL, creating or checking its schema. ``search`` forces LIKE for a new
    database (tests); by default FTS5 is used when this SQLite has it.

    Raises ConfigError, one line naming ``path``, for anything that would fail later: not a
    database, damaged, read-only, in use, or written by a newer tcp-chat."""
    try:
        conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False, timeout=1.0)
    except sqlite3.Error as exc:
        raise config_error(path, exc) from None
    try:
        return _prepare(conn, path, search)
    except sqlite3.Error as exc:
        conn.close()
        raise config_error(path, exc) from None
    except BaseException:
        conn.close()
        raise


def _prepare(conn: sqlite3.Connection, path: str, search: str | None) -> Opened:
    version = int(conn.execute("PRAGMA user_version").fetchone()[0])
    if version > SCHEMA_VERSION:
        raise ConfigError(
            f"history: {path} has schema version {version}, newer than this tcp-chat reads "
            f"({SCHEMA_VERSION}): run the newer tcp-chat, or move the file away"
        )
    mode = str(conn.execute("PRAGMA journal_mode = WAL").fetchone()[0]).lower()
    if mode != "wal":
        raise ConfigError(
            f"history: {path} cannot use a write-ahead log (journal mode {mode}): put --data-dir "
            "on a local file system"
        )
    conn.execute("PRAGMA synchronous = NORMAL")
    # The WAL file is cut back to this after a checkpoint, so a burst does not leave it large.
    conn.execute("PRAGMA journal_size_limit = 16777216")
    tables = {
        str(row[0])
        for row in conn.execute("SELECT name FROM sqlite_master WHERE type IN ('table', 'view')")
    }
    has_fts5 = fts5_available()
    conn.execute("BEGIN IMMEDIATE")  # also proves that we can write
    try:
        if version == 0:
            if tables:
                raise ConfigError(
                    f"history: {path} is an SQLite database but not tcp-chat's history: move it "
                    "away, or give another --data-dir"
                )
            for statement in SCHEMA:
                conn.execute(statement)
            conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
            tables = set(OUR_TABLES)
        elif not OUR_TABLES <= tables:
            raise ConfigError(
                f"history: {path} lacks tables {sorted(OUR_TABLES - tables)}: it is damaged; move "
                "it away (history starts afresh) or restore it from a backup"
            )
        elif version == 1:
            for statement in TO_VERSION_2:
                conn.execute(statement)
            conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
        built = False
        if "messages_fts" in tables:
            if not has_fts5:
                raise ConfigError(
                    f"history: {path} has an FTS5 search index but this SQLite "
                    f"({sqlite3.sqlite_version}) has no FTS5: run with a Python whose SQLite has "
                    "it, or move the file away"
                )
            kind = LIKE if search == LIKE else FTS5
        elif has_fts5 and search != LIKE:
            for statement in FTS_SCHEMA:
                conn.execute(statement)
            conn.execute("INSERT INTO messages_fts (messages_fts) VALUES ('rebuild')")
            top = conn.execute("SELECT MAX(id) FROM messages").fetchone()[0] or 0
            conn.execute(INDEXED, (top,))
            kind, built = FTS5, version != 0
        else:
            kind = LIKE
        conn.execute(ROOM_INDEX if kind == LIKE else "DROP INDEX IF EXISTS messages_room")
        # The cheap part of a check: the pages these read are the ones every start needs.
        top = conn.execute("SELECT MAX(id) FROM messages").fetchone()[0] or 0
        mark = conn.execute("SELECT value FROM meta WHERE key = 'last_id'").fetchone()
        indexed = conn.execute("SELECT value FROM meta WHERE key = 'indexed'").fetchone()
        log_mark = conn.execute("SELECT value FROM meta WHERE key = 'log_mark'").fetchone()
        rooms = conn.execute("SELECT MAX(id) FROM rooms").fetchone()[0] or 0
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    # The search index's mark too: a database pruned empty by an older version kept only that.
    last_id = max(int(top), int(mark[0]) if mark else 0, int(indexed[0]) if indexed else 0)
    return Opened(
        conn,
        kind,
        last_id,
        int(rooms) + 1,
        built,
        int(top),
        int(indexed[0]) if indexed else 0,
        int(log_mark[0]) if log_mark else 0,
    )


def config_error(path: str, exc: sqlite3.Error) -> ConfigError:
    """What an SQLite failure at start means for the operator, in one line."""
    text = str(exc)
    lowered = text.lower()
    if "readonly" in lowered or "read-only" in lowered:
        return ConfigError(
            f"history: {path} is read-only ({text}): make it and its directory writable for the "
            "server's user, or give another --data-dir"
        )
    if "locked" in lowered or "busy" in lowered:
        return ConfigError(
            f"history: {path} is in use by another program ({text}): give each server its own "
            "--data-dir"
        )
    if "unable to open" in lowered:
        return ConfigError(
            f"history: cannot open {path} ({text}): check --data-dir and its permissions"
        )
    if "full" in lowered:
        return ConfigError(f"history: {path}: {text}: free some disk space")
    return ConfigError(
        f"history: {path} is not a usable history database ({text}): move it away (history "
        "starts afresh) or restore it from a backup"
    )


def open_reader(path: str) -> sqlite3.Connection:
    """A read-only connection for the event loop's thread (replays, /history, /search)."""
    conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False, timeout=1.0)
    conn.execute("PRAGMA query_only = 1")
    conn.create_function("casefold", 1, _casefold, deterministic=True)
    return conn


def _casefold(text: object) -> str | None:
    return text.casefold() if isinstance(text, str) else None


def lock_database(path: str) -> int:
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


def merge_rows(stored: list[Row], unwritten: list[Row], limit: int) -> list[Row]:
    """The newest ``limit`` rows of both, each id once, oldest first. ``stored`` comes newest
    first from the database; ``unwritten`` oldest first, and wins for an id in both."""
    if not unwritten:
        rows = stored[::-1]
    else:
        by_id = {row[0]: row for row in stored}
        by_id.update((row[0], row) for row in unwritten)
        rows = sorted(by_id.values(), key=lambda row: row[0])
    return rows[-limit:]


def newest_first(first: list[Row], second: list[Row]) -> list[Row]:
    """Two lists of rows, each newest first, as one (each id once), newest first."""
    if not second:
        return first
    if not first:
        return second
    by_id = {row[0]: row for row in (*first, *second)}
    return sorted(by_id.values(), key=lambda row: row[0], reverse=True)


def as_messages(rows: Sequence[Row], room: str) -> list[Message]:
    return [
        Message(time, mid, sender, to, bool(action), text, room, False)
        for mid, _, time, sender, to, action, text in rows
    ]


def rollback(conn: sqlite3.Connection) -> None:
    """Undo the transaction under way, if SQLite has not already."""
    try:
        conn.execute("ROLLBACK")
    except sqlite3.Error:
        pass  # no transaction left to undo (SQLite rolled it back itself)


def describe_search(kind: str) -> str:
    """How a database of this search ``kind`` is searched, in words for the log."""
    support = search_support()
    if kind == FTS5 or support.startswith("plain"):
        return support
    return "plain LIKE (chosen, though this SQLite has FTS5)"
