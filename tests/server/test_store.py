"""The SQLite history store on real files in tmp_path: what is kept, found, pruned and refused.

Every wait is ``flush`` (bounded by WAIT); retention runs on an injected clock; nothing sleeps.
"""

from __future__ import annotations

import logging
import math
import os
import re
import sqlite3
import stat
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tcpchat.core.archive import KeptTopic, NoArchive, SearchRefused
from tcpchat.core.errors import ConfigError
from tcpchat.core.events import Message
from tcpchat.core.limits import HISTORY_MAX_PENDING_CHARS
from tcpchat.server import store, store_prune, store_search, store_writer
from tcpchat.server.config import server_config
from tcpchat.server.logs import LOGGER_NAME
from tcpchat.server.store import SqliteArchive, close_archive, open_archive
from tcpchat.server.store_db import DB_FILE, FTS5, LIKE, fts5_available, search_support
from tests.conftest import WAIT, poll_until

HAS_FTS5 = fts5_available()
AS_ROOT = hasattr(os, "geteuid") and os.geteuid() == 0
KINDS = [
    pytest.param(FTS5, marks=pytest.mark.skipif(not HAS_FTS5, reason="this SQLite has no FTS5")),
    LIKE,
]
# Long enough that nothing is written unless the test flushes or closes.
NEVER = 3600.0

DAY = 86400.0


def said(mid: int, text: str = "", room: str | None = "#ops", sender: str = "alice") -> Message:
    return Message(1000.0 + mid, mid, sender, None, False, text or f"message {mid}", room)


def private(mid: int, text: str = "psst") -> Message:
    return Message(1000.0 + mid, mid, "alice", "bob", False, text, None)


class Records(logging.Handler):
    """What the ``tcpchat`` logger said, from any thread."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)

    def at(self, level: int) -> list[str]:
        return [r.getMessage() for r in self.records if r.levelno == level]


@pytest.fixture
def records() -> Iterator[Records]:
    logger = logging.getLogger(LOGGER_NAME)
    handler = Records()
    level = logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG)
    yield handler
    logger.removeHandler(handler)
    logger.setLevel(level)


@pytest.fixture
def opened(tmp_path: Path) -> Iterator[Any]:
    """``opened(**options)``: a SqliteArchive on tmp_path/history.sqlite3, closed at the end."""
    archives: list[SqliteArchive] = []

    def make(**options: Any) -> SqliteArchive:
        archive = SqliteArchive(str(tmp_path / DB_FILE), **options)
        archives.append(archive)
        return archive

    yield make
    for archive in archives:
        archive.close()


def ids(messages: list[Message]) -> list[int]:
    return [m.id for m in messages]


def stored_rows(tmp_path: Path, sql: str) -> list[Any]:
    conn = sqlite3.connect(tmp_path / DB_FILE)
    try:
        return conn.execute(sql).fetchall()
    finally:
        conn.close()


# --- ids, replay, paging -------------------------------------------------------------------------


def test_ids_continue_after_reopen_private_ones_included(opened: Any) -> None:
    archive = opened()
    assert archive.last_id() == 0
    for mid in range(1, 6):
        archive.keep("#ops", said(mid))
    archive.keep(None, private(9))  # not stored, but its id was handed out
    assert archive.last_id() == 9
    archive.close()
    again = opened()
    assert again.last_id() == 9
    assert ids(again.recent("#ops", 10)) == [1, 2, 3, 4, 5]


@pytest.mark.parametrize("held", ["commit", "index"])
def test_what_comes_during_the_writers_last_pass_is_noted_and_indexed_before_close(
    opened: Any, tmp_path: Path, held: str
) -> None:
    """The close comes while the writer is in a pass: in its commit of the rows, with a private
    message's id (not stored, but handed out) kept meanwhile, which the writer notes before it
    stops, or the next run would give it again (seen once in a full run); or just after it
    looked at the search index, which it brings up to every row before it stops, as a close
    promises."""
    archive = opened()
    writer, queue = archive._writer, archive._queue
    in_pass, go_on, closing = threading.Event(), threading.Event(), threading.Event()
    commit, index, wake = writer._commit, writer._index_when_due, queue.wake.set

    def hold() -> None:  # until the private id is kept and the close has begun
        if not in_pass.is_set():
            in_pass.set()
            assert go_on.wait(10)

    def held_commit(*args: Any) -> bool:
        if args[0] and held == "commit":  # (the rows' commit)
            hold()
        return bool(commit(*args))

    def held_index() -> None:
        index()
        if queue.top >= 5 and held == "index":
            hold()

    def noticed_wake() -> None:
        wake()
        if queue.closing:
            closing.set()

    writer._commit, writer._index_when_due = held_commit, held_index
    queue.wake.set = noticed_wake
    for mid in range(1, 6):
        archive.keep("#ops", said(mid))
    assert in_pass.wait(10)
    last = 9 if held == "commit" else 5  # (a private id makes the writer go round again)
    if held == "commit":
        archive.keep(None, private(9))
    closer = threading.Thread(target=archive.close)
    closer.start()
    assert closing.wait(10)
    go_on.set()
    closer.join(10)
    assert not closer.is_alive()
    if fts5_available():
        assert stored_rows(tmp_path, "SELECT value FROM meta WHERE key = 'indexed'") == [(5,)]
    again = opened()
    assert again.last_id() == last
    assert ids(again.recent("#ops", 10)) == [1, 2, 3, 4, 5]


@pytest.mark.parametrize("kind", KINDS)
def test_recent_is_the_rooms_last_messages_oldest_first(opened: Any, kind: str) -> None:
    archive = opened(search=kind)
    for mid in range(1, 31):
        archive.keep("#ops" if mid % 3 else "#dev", said(mid, room="#Ops" if mid % 3 else "#dev"))
    assert archive.flush(WAIT)
    last = archive.recent("#ops", 5)
    assert ids(last) == [23, 25, 26, 28, 29]
    assert all(m.room == "#Ops" and not m.history for m in last)
    assert last[0] == Message(1023.0, 23, "alice", None, False, "message 23", "#Ops", False)
    assert ids(archive.recent("#dev", 3)) == [24, 27, 30]
    assert ids(archive.recent("#nowhere", 5)) == []
    assert archive.recent("#ops", 0) == []


@pytest.mark.parametrize("kind", KINDS)
def test_recent_before_an_id_pages_further_back(opened: Any, kind: str) -> None:
    archive = opened(search=kind)
    for mid in range(1, 51):
        archive.keep("#ops", said(mid))
    assert archive.flush(WAIT)
    assert ids(archive.recent("#ops", 5, before_id=20)) == [15, 16, 17, 18, 19]
    assert ids(archive.recent("#ops", 5, before_id=3)) == [1, 2]
    assert ids(archive.recent("#ops", 5, before_id=1)) == []


@pytest.mark.parametrize("kind", KINDS)
def test_messages_not_yet_written_are_returned_once(opened: Any, tmp_path: Path, kind: str) -> None:
    archive = opened(commit_interval=NEVER, batch_rows=10**6, search=kind)
    for mid in range(1, 4):
        archive.keep("#ops", said(mid, "hello pending"))
    assert archive.flush(WAIT)  # 1-3 written
    for mid in range(4, 7):
        archive.keep("#ops", said(mid, "hello pending"))  # 4-6 wait for the writer
    assert stored_rows(tmp_path, "SELECT COUNT(*) FROM messages") == [(3,)]
    assert ids(archive.recent("#ops", 10)) == [1, 2, 3, 4, 5, 6]
    assert ids(archive.recent("#ops", 2)) == [5, 6]
    assert ids(archive.recent("#ops", 10, before_id=5)) == [1, 2, 3, 4]
    assert ids(archive.search("#ops", "pending", 10)) == [1, 2, 3, 4, 5, 6]
    assert archive.flush(WAIT)
    assert ids(archive.recent("#ops", 10)) == [1, 2, 3, 4, 5, 6]
    assert ids(archive.search("#ops", "HELLO", 4)) == [3, 4, 5, 6]


def test_close_writes_everything_pending(opened: Any) -> None:
    archive = opened(commit_interval=NEVER, batch_rows=10**6)
    for mid in range(1, 1001):
        archive.keep("#ops", said(mid))
    archive.keep_topic("#ops", KeptTopic("#ops", "kept at close", "alice", 5.0))
    archive.close()
    archive.close()  # idempotent
    archive.keep("#ops", said(2000))  # after close: dropped, no error
    again = opened()
    assert ids(again.recent("#ops", 1000)) == list(range(1, 1001))
    assert again.topic("#ops") == ("#ops", "kept at close", "alice", 5.0)
    assert again.last_id() == 1000


def test_a_full_batch_is_written_without_waiting_for_the_interval(opened: Any) -> None:
    archive = opened(commit_interval=NEVER, batch_rows=50)
    # The room made first (its row wakes the writer, which would take the rows kept so far
    # and leave fewer than a batch), and nothing left for the writer to do on its own.
    archive.keep("#ops", said(1))
    assert archive.flush(WAIT, index=True)
    for mid in range(2, 52):
        archive.keep("#ops", said(mid))
    # No flush: the 50th row wakes the writer. Wait for it with the writer's own signal.
    queue = archive._queue
    with queue.changed:
        assert queue.changed.wait_for(lambda: queue.done >= queue.kept, WAIT)
    assert ids(archive.recent("#ops", 1)) == [51]


# --- search --------------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", KINDS)
def test_search_finds_every_word_in_that_room_only(opened: Any, kind: str) -> None:
    archive = opened(search=kind)
    assert archive.search_kind == kind
    archive.keep("#ops", said(1, "the deploy went fine"))
    archive.keep("#ops", said(2, "Deploy failed on db2"))
    archive.keep("#ops", said(3, "lunch?"))
    for mid in range(4, 400):  # the word is common elsewhere
        archive.keep("#dev", said(mid, f"deploy number {mid}", room="#dev"))
    archive.keep("#ops", said(400, "another DEPLOY, failed again"))
    assert archive.flush(WAIT)
    assert ids(archive.search("#ops", "deploy", 10)) == [1, 2, 400]
    assert ids(archive.search("#ops", "failed deploy", 10)) == [2, 400]
    assert ids(archive.search("#ops", "deploy", 2)) == [2, 400]
    assert ids(archive.search("#ops", "deploy nothere", 10)) == []
    assert ids(archive.search("#ops", "   ", 10)) == []
    assert ids(archive.search("#nowhere", "deploy", 10)) == []
    found = archive.search("#dev", "number 77", 10)
    assert all(m.room == "#dev" and not m.history for m in found)
    assert ids(found) == ([77] if kind == FTS5 else [77, 177, 277, 377])  # words or substrings


@pytest.mark.parametrize("kind", KINDS)
def test_a_search_past_its_time_is_stopped_and_the_store_goes_on(
    opened: Any, kind: str, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """A search runs on the event loop's thread: past SEARCH_DEADLINE_S its query is
    interrupted (and its comparisons in Python stop), and the searcher is told to search for
    rarer words. Nothing else notices: no ERROR, reads go on. (An abuse review: a phrase of
    common words that never occurs held the server for 1.3 s a search.)"""
    archive = opened(search=kind)
    text = " ".join(["a"] * 200) + " b"
    for mid in range(1, 2001):
        archive.keep("#x", said(mid, text, room="#x"))
    assert archive.flush(WAIT, index=True)
    deadline = store_search.SEARCH_DEADLINE_S
    monkeypatch.setattr(store_search, "SEARCH_DEADLINE_S", 0.0)
    phrase = "-".join(["b"] + ["a"] * 49)
    with pytest.raises(SearchRefused, match="took too long"):
        archive.search("#x", phrase, 20)
    monkeypatch.setattr(store_search, "SEARCH_DEADLINE_S", deadline)
    assert ids(archive.search("#x", "b", 3)) == [1998, 1999, 2000]  # one word: a few ms
    assert ids(archive.recent("#x", 2)) == [1999, 2000]
    total = archive._budget.total
    total.left = total.at = 0.0  # the share spent, long ago: refilled
    assert ids(archive.search("#x", "b", 1)) == [2000]
    total.left, total.at = -1.0, time.monotonic()  # spent just now
    for _ in range(2):  # one budget for every search, whatever reads come between
        with pytest.raises(SearchRefused, match="busy with searches"):
            archive.search("#x", "b", 1)
        assert ids(archive.recent("#x", 1)) == [2000]
    archive.close()
    unwritten = opened(search=kind, commit_interval=NEVER, batch_rows=10**6)  # compared here
    unwritten.keep("#y", said(5000, "one two", room="#y"))
    monkeypatch.setattr(store_search, "SEARCH_DEADLINE_S", 0.0)
    with pytest.raises(SearchRefused, match="took too long"):
        unwritten.search("#y", "two", 20)
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]


def test_searches_get_a_share_of_the_time_and_one_address_a_part_of_it() -> None:
    """SEARCH_SHARE of the server's time for all searches, SEARCH_ORIGIN_SHARE of it for one
    address: past either a search is refused with how long to wait. So many connections
    searching cannot hold the event loop, and one address cannot keep the others from
    searching (a review: 10 connections' searches refused every honest one)."""
    conn = sqlite3.connect(":memory:")
    budget = store_search.SearchBudget()
    with budget.running(conn, "10.0.0.1") as check:
        check()  # within its time
    budget.origins["10.0.0.1"].left = -0.12  # that address spent its part, and more
    wait = math.ceil((store_search.SEARCH_DEADLINE_S + 0.12) / store_search.SEARCH_ORIGIN_SHARE)
    with pytest.raises(SearchRefused, match=rf"busy with searches: try again in {wait} s\."):
        with budget.running(conn, "10.0.0.1"):
            pass  # pragma: no cover
    with budget.running(conn, "10.0.0.2") as check:  # another address searches on
        check()
    budget.total.left = -1.0  # all of them together spent the server's share
    wait = math.ceil((store_search.SEARCH_DEADLINE_S + 1.0) / store_search.SEARCH_SHARE)
    with pytest.raises(SearchRefused, match=rf"busy with searches: try again in {wait} s\."):
        with budget.running(conn, "10.0.0.3"):
            pass  # pragma: no cover
    budget.total.at -= wait  # that long later
    with budget.running(conn, "10.0.0.3") as check:
        check()
    many = store_search.SearchBudget()
    for n in range(store_search.SEARCH_ORIGINS + 10):  # addresses remembered: bounded
        many._origin(f"10.1.{n // 256}.{n % 256}", 0.0)
    assert len(many.origins) <= store_search.SEARCH_ORIGINS
    conn.close()


@pytest.mark.parametrize("kind", KINDS)
def test_search_is_case_insensitive_in_cyrillic(opened: Any, kind: str) -> None:
    archive = opened(search=kind)
    archive.keep("#ops", said(1, "Привет, МИР! Сервер упал"))
    archive.keep("#ops", said(2, "всё хорошо"))
    archive.flush(WAIT)
    assert ids(archive.search("#ops", "привет мир", 10)) == [1]
    assert ids(archive.search("#ops", "СЕРВЕР", 10)) == [1]
    assert ids(archive.search("#ops", "ВСЁ", 10)) == [2]


def test_like_search_matches_case_folded_substrings(opened: Any) -> None:
    archive = opened(search=LIKE)
    archive.keep("#ops", said(1, "Straße 50%_off"))
    archive.flush(WAIT)
    assert ids(archive.search("#ops", "STRASSE", 10)) == [1]
    assert ids(archive.search("#ops", "50%_", 10)) == [1]  # no LIKE wildcards
    assert ids(archive.search("#ops", "%", 10)) == [1]
    assert ids(archive.search("#ops", "_x", 10)) == []


@pytest.mark.skipif(not HAS_FTS5, reason="this SQLite has no FTS5")
def test_fts_search_matches_whole_words_without_latin_accents(opened: Any) -> None:
    archive = opened()
    archive.keep("#ops", said(1, "Café crème at noon"))
    archive.keep("#ops", said(2, "cafeteria"))
    archive.flush(WAIT)
    assert ids(archive.search("#ops", "cafe", 10)) == [1]
    assert ids(archive.search("#ops", "CRÈME", 10)) == [1]


SYNTAX = [
    '"',
    '""',
    '"unbalanced',
    'alpha"',
    'zzz" OR "alpha',
    'alpha" OR room : "2',
    "AND",
    "OR",
    "NOT",
    "NEAR",
    "NEAR(alpha beta)",
    "*",
    "alpha*",
    "^alpha",
    "text:",
    "text:alpha",
    "room:",
    "room : 2",
    "{text}:alpha",
    "(",
    ")",
    "(alpha OR beta)",
    "-",
    "+",
    ":",
    "alpha AND",
    "alpha OR zzz",
    "NOT alpha",
    "'",
    "alpha -beta",
]


def expected(kind: str, query: str, text: str) -> list[int]:
    """Message 1 (``text``) is found when every word of ``query`` is in it: as whole words
    (FTS5: words without a letter or digit do not count) or as a substring (LIKE)."""
    if kind == LIKE:
        return [1] if all(w.casefold() in text for w in query.split()) else []
    runs = [re.findall(r"[^\W_]+", w.casefold()) for w in query.split()]
    runs = [run for run in runs if run]
    words = text.split()
    found = bool(runs) and all(
        any(words[i : i + len(run)] == run for i in range(len(words))) for run in runs
    )
    return [1] if found else []


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("query", SYNTAX)
def test_query_syntax_in_search_text_is_only_words(opened: Any, kind: str, query: str) -> None:
    archive = opened(search=kind)
    archive.keep("#ops", said(1, "alpha beta"))
    archive.keep("#other", said(2, "zzz room 2 text", room="#other"))
    archive.flush(WAIT)
    assert ids(archive.search("#ops", query, 10)) == expected(kind, query, "alpha beta")


@pytest.mark.parametrize("kind", KINDS)
def test_search_text_with_quotes_and_operators_finds_itself(opened: Any, kind: str) -> None:
    archive = opened(search=kind)
    archive.keep("#ops", said(1, 'say "NEAR" AND (OR) *star* text: room:'))
    archive.keep("#ops", said(2, "say nothing"))
    archive.flush(WAIT)
    assert ids(archive.search("#ops", '"NEAR" AND (OR)', 10)) == [1]
    assert ids(archive.search("#ops", "*star* text: room:", 10)) == [1]


def test_a_database_made_without_the_index_gets_one(opened: Any, records: Records) -> None:
    if not HAS_FTS5:
        pytest.skip("this SQLite has no FTS5")
    archive = opened(search=LIKE)
    archive.keep("#ops", said(1, "older words"))
    archive.close()
    again = opened()
    assert again.search_kind == FTS5 and again.built_index
    assert ids(again.search("#ops", "words", 10)) == [1]


# --- topics, private messages --------------------------------------------------------------------


def test_topics_are_kept_across_restarts_with_who_set_them_and_when(opened: Any) -> None:
    archive = opened()
    assert archive.topic("#ops") is None
    archive.keep_topic("#ops", KeptTopic("#Ops", "deploys only", "alice", 5.0))
    assert archive.topic("#ops") == KeptTopic("#Ops", "deploys only", "alice", 5.0)
    archive.keep("#ops", said(1, room="#OPS"))
    assert archive.topic("#ops") == ("#OPS", "deploys only", "alice", 5.0)  # the name as shown
    archive.keep("#dev", said(2, room="#dev"))
    assert archive.topic("#dev") == ("#dev", "", "", 0.0)
    archive.close()
    again = opened()
    assert again.topic("#ops") == ("#OPS", "deploys only", "alice", 5.0)
    assert again.topic("#dev") == ("#dev", "", "", 0.0)
    assert again.topic("#none") is None
    again.keep_topic("#ops", KeptTopic("#OPS", "deploys only", "бob", 7.5))  # set again: same text
    again.close()
    again = opened()
    assert again.topic("#ops") == ("#OPS", "deploys only", "бob", 7.5)
    again.keep_topic("#ops", KeptTopic("#OPS", "", "carol", 9.0))  # cleared
    again.close()
    assert opened().topic("#ops") == ("#OPS", "", "carol", 9.0)


def test_a_version_1_database_gains_who_set_each_topic_and_keeps_the_rest(
    opened: Any, tmp_path: Path
) -> None:
    """The schema of the first release with history (1) had no topic_by/topic_at; a start on
    such a file adds them ('' and 0: not known) in its first transaction, keeping every row."""
    path = tmp_path / DB_FILE
    conn = sqlite3.connect(path)
    conn.executescript(
        """
        CREATE TABLE rooms (id INTEGER PRIMARY KEY, key TEXT NOT NULL UNIQUE,
            name TEXT NOT NULL, topic TEXT NOT NULL DEFAULT '');
        CREATE TABLE messages (id INTEGER PRIMARY KEY, room INTEGER, time REAL NOT NULL,
            sender TEXT NOT NULL, recipient TEXT, action INTEGER NOT NULL, text TEXT NOT NULL);
        CREATE TABLE meta (key TEXT PRIMARY KEY, value INTEGER NOT NULL) WITHOUT ROWID;
        INSERT INTO rooms VALUES (1, '#ops', '#Ops', 'deploys only');
        INSERT INTO messages VALUES (1, 1, 5.0, 'alice', NULL, 0, 'deploy step one');
        PRAGMA user_version = 1;
        """
    )
    conn.close()
    archive = opened()
    assert archive.topic("#ops") == ("#Ops", "deploys only", "", 0.0)
    assert [m.text for m in archive.recent("#ops", 10)] == ["deploy step one"]
    assert ids(archive.search("#ops", "step", 10)) == [1]
    archive.keep_topic("#ops", KeptTopic("#Ops", "deploys only", "alice", 6.0))
    archive.keep("#ops", said(2, room="#Ops"))
    archive.close()
    (version,) = stored_rows(tmp_path, "PRAGMA user_version")[0]
    assert version == 2
    again = opened()
    assert again.topic("#ops") == ("#Ops", "deploys only", "alice", 6.0)
    assert ids(again.recent("#ops", 10)) == [1, 2]


def test_private_messages_are_not_stored_by_default(opened: Any, tmp_path: Path) -> None:
    archive = opened()
    archive.keep(None, private(1, "secret"))
    archive.keep("#ops", said(2))
    archive.close()
    assert stored_rows(tmp_path, "SELECT id, recipient, text FROM messages") == [
        (2, None, "message 2")
    ]


def test_private_messages_are_stored_with_store_private(opened: Any, tmp_path: Path) -> None:
    archive = opened(store_private=True)
    archive.keep(None, private(1, "secret"))
    archive.keep("#ops", said(2))
    archive.close()
    assert stored_rows(tmp_path, "SELECT id, room IS NULL, recipient, text FROM messages") == [
        (1, 1, "bob", "secret"),
        (2, 0, None, "message 2"),
    ]


# --- retention -----------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", KINDS)
def test_retention_by_rows_keeps_the_newest(opened: Any, kind: str, tmp_path: Path) -> None:
    archive = opened(max_rows=10, search=kind)
    for mid in range(1, 26):
        archive.keep("#ops", said(mid, f"word{mid} common"))
    assert archive.flush(WAIT)
    archive.prune()
    assert archive.flush(WAIT)
    assert stored_rows(tmp_path, "SELECT MIN(id), COUNT(*) FROM messages") == [(16, 10)]
    assert ids(archive.recent("#ops", 50)) == list(range(16, 26))
    assert ids(archive.search("#ops", "word3", 10)) == []
    assert ids(archive.search("#ops", "common", 50)) == list(range(16, 26))
    archive.close()
    assert opened(max_rows=10).last_id() == 25


def long_line(mid: int) -> str:
    """About 3,900 bytes of words found in no other message (the search index's worst case), and
    two that every message shares."""
    return f"word{mid} common " + " ".join(f"w{mid}x{k}" for k in range(500))[:3880]


def used_bytes(tmp_path: Path) -> int:
    """The database's pages in use, as another process would measure them."""
    [(pages, free, size)] = stored_rows(
        tmp_path,
        "SELECT * FROM pragma_page_count(), pragma_freelist_count(), pragma_page_size()",
    )
    return int((pages - free) * size)


@pytest.mark.parametrize("kind", KINDS)
def test_retention_by_bytes_keeps_the_newest_within_the_cap(
    opened: Any, kind: str, tmp_path: Path, records: Records, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Lines of 4,000 bytes take about 12 KB of database each with the search index: the byte
    cap, not the row cap, is what keeps one sender from filling the disk."""
    monkeypatch.setattr(store_prune, "BYTES_KEEP_ROWS", 10)  # (a replay's 100 pass this cap)
    cap = 1_000_000
    archive = opened(max_rows=0, max_bytes=cap, search=kind)
    for mid in range(1, 401):
        archive.keep("#ops", said(mid, long_line(mid)))
        if mid % 20 == 0:  # the writer prunes once the cap is passed; flush waits for it
            assert archive.flush(WAIT, index=True)
            assert used_bytes(tmp_path) <= cap
    [(first, last, count)] = stored_rows(
        tmp_path, "SELECT MIN(id), MAX(id), COUNT(*) FROM messages"
    )
    assert last == 400 and count == 401 - first
    assert count >= 20 and used_bytes(tmp_path) >= cap // 2  # no more went than the cap needs
    kept = list(range(first, 401))
    assert ids(archive.recent("#ops", 1000)) == kept
    assert ids(archive.search("#ops", "common", 1000)) == kept
    assert ids(archive.search("#ops", "w1x7", 10)) == []  # in the first message only
    assert ids(archive.search("#ops", f"w{first}x7", 10)) == [first]
    if kind == FTS5:  # the index holds what the table holds, no entry of a deleted row
        stored_rows(tmp_path, "INSERT INTO messages_fts (messages_fts) VALUES ('integrity-check')")
    said_so = [m for m in records.at(logging.INFO) if "--history-max-mb" in m]
    assert len(said_so) == 1 and "the oldest messages are deleted" in said_so[0]
    archive.close()
    smaller = opened(max_rows=0, max_bytes=cap // 2, search=kind)
    assert smaller.last_id() == 400
    assert smaller.flush(WAIT)  # pruned at start, down to the smaller cap
    assert used_bytes(tmp_path) <= cap // 2
    smaller.keep("#ops", said(401, long_line(401)))
    assert smaller.flush(WAIT, index=True)
    assert ids(smaller.recent("#ops", 1000))[-2:] == [400, 401]
    assert ids(smaller.search("#ops", "word401", 10)) == [401]


def test_the_byte_cap_keeps_the_newest_messages_when_rooms_and_topics_fill_it(
    opened: Any, tmp_path: Path, records: Records, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The cap counts every page, but only messages are deleted for it: rooms with long topics
    filling it (a client making room after room) deleted every message, each new one as it
    was written (found in review). The newest are kept, and the log says why once."""
    monkeypatch.setattr(store_prune, "BYTES_KEEP_ROWS", 30)
    cap = 1_000_000
    archive = opened(max_rows=0, max_bytes=cap)
    for mid in range(1, 201):
        archive.keep("#lobby", said(mid, room=None))
    assert archive.flush(WAIT, index=True)
    for i in range(2500):  # about 1.7 KB a room with its topic: 4 MB
        archive.keep_topic(f"#r{i}", KeptTopic(f"#r{i}", "ж" * 390 + str(i), "alice", 5.0))
    assert archive.flush(WAIT, index=True)
    assert ids(archive.recent("#lobby", 1000)) == list(range(171, 201))
    for mid in range(201, 221):
        archive.keep("#lobby", said(mid, room=None))
        assert archive.flush(WAIT, index=True)
    assert ids(archive.recent("#lobby", 1000))[-20:] == list(range(201, 221))
    assert len(ids(archive.recent("#lobby", 1000))) >= 30
    warned = [m for m in records.at(logging.WARNING) if "rooms and topics fill the rest" in m]
    assert len(warned) == 1


def test_retention_by_days_on_the_injected_clock(opened: Any, tmp_path: Path) -> None:
    now = [1000.0 + 100 * DAY]
    archive = opened(max_days=30, max_rows=0, clock=lambda: now[0])
    for day in range(100):  # one message a day, ids following time
        archive.keep(
            "#ops", Message(1000.0 + day * DAY + 1, day + 1, "a", None, False, "x", "#ops")
        )
    assert archive.flush(WAIT)
    archive.prune()
    assert archive.flush(WAIT)
    assert ids(archive.recent("#ops", 100))[0] == 71  # day 70 + 1 s is just past 30 days ago
    now[0] += 10 * DAY
    archive.prune()
    assert archive.flush(WAIT)
    assert ids(archive.recent("#ops", 100)) == list(range(81, 101))


@pytest.mark.parametrize("kind", KINDS)
def test_ids_go_on_rising_after_retention_deleted_every_row(opened: Any, kind: str) -> None:
    """A quiet server past --history-days: every row goes. The next messages are numbered on
    from the last one (a reused id would be below the search index's mark, never indexed,
    and would confuse /history before ID and a client's replay)."""
    now = [1000.0]
    archive = opened(max_days=1, max_rows=0, clock=lambda: now[0], search=kind)
    for mid in range(1, 6):
        archive.keep("#ops", said(mid, f"needle{mid}"))
    assert archive.flush(WAIT, index=True)
    now[0] += 3 * DAY
    archive.prune()
    assert archive.flush(WAIT)
    assert archive.recent("#ops", 10) == []
    archive.close()
    reopened = opened(max_days=1, max_rows=0, clock=lambda: now[0], search=kind)
    assert reopened.last_id() == 5
    # Said now, by the injected clock (said() dates it 3 days ago: retention at start, which may
    # run after it is written, would delete it).
    reopened.keep("#ops", Message(now[0], 6, "alice", None, False, "needle6", "#ops"))
    assert reopened.flush(WAIT, index=True)
    assert ids(reopened.recent("#ops", 10)) == [6]
    assert ids(reopened.search("#ops", "needle6", 10)) == [6]


def test_a_prune_asked_while_a_round_of_retention_runs_is_not_lost(opened: Any) -> None:
    """The writer's own round (at start, at its interval) cleared the request when it ended: one
    asked after that round had read the clock was taken as done, and ``flush`` returned with
    every row there (once in 40 runs of the test above). It is a round more now."""
    now = [1000.0]
    first = opened(max_days=1, max_rows=0, clock=lambda: now[0])
    for mid in range(1, 6):
        first.keep("#ops", said(mid, f"needle{mid}"))
    assert first.flush(WAIT)
    first.close()
    in_round, go_on = threading.Event(), threading.Event()

    def clock() -> float:
        read = now[0]
        if threading.current_thread() is not threading.main_thread() and not go_on.is_set():
            in_round.set()  # the writer's round at start has read the time
            go_on.wait(WAIT)
        return read

    archive = opened(max_days=1, max_rows=0, clock=clock)
    assert in_round.wait(WAIT)
    now[0] += 3 * DAY
    archive.prune()
    go_on.set()
    assert archive.flush(WAIT)
    assert archive.recent("#ops", 10) == []


def test_no_retention_keeps_everything(opened: Any) -> None:
    archive = opened(max_days=0, max_rows=0)
    for mid in range(1, 101):
        archive.keep("#ops", said(mid))
    archive.prune()
    assert archive.flush(WAIT)
    assert len(archive.recent("#ops", 200)) == 100


# --- failures while running ----------------------------------------------------------------------


def test_a_full_disk_logs_one_error_and_chat_goes_on(opened: Any, records: Records) -> None:
    archive = opened()
    archive.close()
    pages = stored_rows(Path(archive.path).parent, "PRAGMA page_count")[0][0]
    archive = opened(writer_pragmas=(f"max_page_count = {pages + 2}",))
    big = "x" * 3000
    for mid in range(1, 200):  # far more than two pages
        archive.keep("#ops", said(mid, big))
        if mid % 20 == 0:
            assert archive.flush(WAIT)
    assert archive.flush(WAIT)
    errors = records.at(logging.ERROR)
    assert len(errors) == 1, errors
    assert "database or disk is full" in errors[0] and archive.path in errors[0]
    assert all(m.room == "#ops" for m in archive.recent("#ops", 5))  # reads go on
    archive.keep("#ops", said(500, "still chatting"))  # no exception reaches the caller
    assert archive.flush(WAIT)
    assert len(records.at(logging.ERROR)) == 1
    archive.close()
    assert any("were not stored" in w for w in records.at(logging.WARNING))


def test_a_writer_that_falls_behind_drops_new_messages_with_one_warning(
    opened: Any, records: Records
) -> None:
    archive = opened(commit_interval=NEVER, batch_rows=10**6, max_pending=3)
    archive.keep("#ops", said(1))  # the room made first: its row wakes the writer
    assert archive.flush(WAIT, index=True)
    for mid in range(2, 12):
        archive.keep("#ops", said(mid))
    assert ids(archive.recent("#ops", 10)) == [1, 2, 3, 4]
    assert len(records.at(logging.WARNING)) == 1


def test_long_messages_waiting_for_the_writer_are_bounded_in_characters_too(
    opened: Any, records: Records
) -> None:
    """100,000 rows of 4,000 characters would be 400 MB waiting for a stalled disk (or one at
    the byte cap, slower with long lines): the characters waiting are capped as well."""
    archive = opened(commit_interval=NEVER, batch_rows=10**6)
    archive.keep("#ops", said(1))  # the room made first: its row wakes the writer
    assert archive.flush(WAIT, index=True)
    long = "x" * 4000
    fits = HISTORY_MAX_PENDING_CHARS // 4100
    for mid in range(2, fits + 12):
        archive.keep("#ops", said(mid, long))
    assert len(records.at(logging.WARNING)) == 1
    assert archive.flush(WAIT)
    kept = ids(archive.recent("#ops", 100))
    assert kept[-1] == fits + 1 and len(kept) == 100  # the first `fits` waited; the rest went
    archive.keep("#ops", said(fits + 20))  # written, the room is there again
    assert archive.flush(WAIT)
    assert ids(archive.recent("#ops", 1)) == [fits + 20]


# --- the cluster's log mark ----------------------------------------------------------------------


def test_the_log_mark_is_written_with_the_messages_read_before_it(opened: Any) -> None:
    """A cluster node backfills its store from the mark when it starts: the mark says the log's
    room messages up to it are all stored, so it is only ever written with them."""
    archive = opened()
    assert archive.log_mark() == 0
    archive.keep("#ops", said(7))
    archive.mark_log(9)  # 8 and 9 were presence, say: nothing to store
    archive.mark_log(5)  # never goes back
    assert archive.log_mark() == 9
    archive.close()
    archive.mark_log(20)  # after close nothing is kept: the mark stays with what was
    assert archive.log_mark() == 9
    reopened = opened()
    assert reopened.log_mark() == 9
    assert ids(reopened.recent("#ops", 10)) == [7]


def test_the_log_mark_stays_behind_messages_a_full_queue_dropped(
    opened: Any, records: Records
) -> None:
    archive = opened(commit_interval=NEVER, batch_rows=10**6, max_pending=3)
    archive.keep("#ops", said(1))  # the room made first: its row wakes the writer
    archive.mark_log(1)
    assert archive.flush(WAIT)
    for mid in range(2, 12):
        archive.keep("#ops", said(mid))  # 5 to 11 dropped: the writer is behind
    archive.mark_log(11)
    archive.close()
    assert opened().log_mark() == 1  # the next start backfills 2 to 11 from the log


def test_the_log_mark_stays_behind_messages_a_full_disk_lost(opened: Any, records: Records) -> None:
    archive = opened()
    archive.keep("#ops", said(1))
    archive.mark_log(1)
    archive.close()
    pages = stored_rows(Path(archive.path).parent, "PRAGMA page_count")[0][0]
    archive = opened(writer_pragmas=(f"max_page_count = {pages + 2}",))
    big = "x" * 3000
    for mid in range(2, 100):  # far more than two pages
        archive.keep("#ops", said(mid, big))
        archive.mark_log(mid)
        assert archive.flush(WAIT)
    assert len(records.at(logging.ERROR)) == 1
    archive.close()
    reopened = opened()
    kept = ids(reopened.recent("#ops", 200))
    assert 1 <= reopened.log_mark() < 99  # as far as every message is there, no further
    assert kept[: reopened.log_mark()] == list(range(1, reopened.log_mark() + 1))


# --- refused at start ----------------------------------------------------------------------------


def refused(path: Path, **options: Any) -> str:
    with pytest.raises(ConfigError) as caught:
        SqliteArchive(str(path), **options).close()
    message = str(caught.value)
    assert "\n" not in message and str(path.parent) in message
    return message


def test_a_file_that_is_not_a_database_is_refused(tmp_path: Path) -> None:
    path = tmp_path / DB_FILE
    path.write_bytes(b"this is not SQLite\n" * 300)
    message = refused(path)
    assert "not a usable history database" in message and "move it away" in message


def test_a_damaged_database_is_refused(tmp_path: Path) -> None:
    archive = SqliteArchive(str(tmp_path / DB_FILE))
    for mid in range(1, 2000):
        archive.keep("#ops", said(mid, "some words to fill pages " * 5))
    archive.close()
    data = bytearray((tmp_path / DB_FILE).read_bytes())
    data[4096 : 4096 * 3] = b"\xff" * 8192  # the schema's pages and the first table pages
    data[100:108] = b"\xff" * 8  # the first page's b-tree header
    (tmp_path / DB_FILE).write_bytes(bytes(data))
    message = refused(tmp_path / DB_FILE)
    assert "history" in message


def test_a_database_of_a_newer_schema_is_refused(tmp_path: Path) -> None:
    SqliteArchive(str(tmp_path / DB_FILE)).close()
    conn = sqlite3.connect(tmp_path / DB_FILE)
    conn.execute("PRAGMA user_version = 99")
    conn.close()
    assert "newer" in refused(tmp_path / DB_FILE)


def test_another_programs_database_is_refused(tmp_path: Path) -> None:
    conn = sqlite3.connect(tmp_path / DB_FILE)
    conn.execute("CREATE TABLE accounts (id INTEGER)")
    conn.close()
    assert "not tcp-chat's history" in refused(tmp_path / DB_FILE)


def test_a_second_server_on_the_same_file_is_refused(opened: Any, tmp_path: Path) -> None:
    opened()
    assert "in use by another tcp-server" in refused(tmp_path / DB_FILE)


@pytest.mark.skipif(AS_ROOT, reason="root writes read-only files anyway")
def test_a_read_only_file_is_refused(tmp_path: Path) -> None:
    SqliteArchive(str(tmp_path / DB_FILE)).close()
    os.chmod(tmp_path / DB_FILE, stat.S_IRUSR)
    assert "read-only" in refused(tmp_path / DB_FILE)


@pytest.mark.skipif(AS_ROOT, reason="root writes in read-only directories anyway")
def test_a_read_only_directory_is_refused(tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.mkdir()
    SqliteArchive(str(data / DB_FILE)).close()
    os.chmod(data, stat.S_IRUSR | stat.S_IXUSR)
    try:
        assert "cannot write in" in refused(data / DB_FILE)
    finally:
        os.chmod(data, stat.S_IRWXU)


def test_a_directory_in_place_of_the_file_is_refused(tmp_path: Path) -> None:
    (tmp_path / DB_FILE).mkdir()
    assert "not a regular file" in refused(tmp_path / DB_FILE)


# --- open_archive: the server's configuration ----------------------------------------------------


def config_for(tmp_path: Path, **env: str) -> Any:
    flags = {"config": os.devnull, "data_dir": str(tmp_path / "data")}
    return server_config(flags, {f"TCPCHAT_{k.upper()}": v for k, v in env.items()})


def test_open_archive_makes_a_private_data_dir_and_says_how_it_searches(
    tmp_path: Path, records: Records
) -> None:
    config = config_for(tmp_path, history_max_rows="5", history_max_mb="3", store_private="yes")
    archive = open_archive(config)
    try:
        assert isinstance(archive, SqliteArchive)
        assert archive.max_rows == 5 and archive.max_bytes == 3 * 1024 * 1024
        assert archive.store_private
        assert stat.S_IMODE(os.stat(tmp_path / "data").st_mode) & 0o077 == 0
        assert stat.S_IMODE(os.stat(tmp_path / "data" / DB_FILE).st_mode) & 0o077 == 0
    finally:
        close_archive(archive)
    started = [m for m in records.at(logging.INFO) if m.startswith("history in")]
    assert started and str(tmp_path / "data" / DB_FILE) in started[0]
    assert started[0].endswith(search_support())


def test_no_history_keeps_nothing(tmp_path: Path) -> None:
    config = config_for(tmp_path, history="no")
    archive = open_archive(config)
    assert isinstance(archive, NoArchive)
    close_archive(archive)
    assert not (tmp_path / "data").exists()


@pytest.mark.parametrize("where", ["file", "under a file"])
def test_a_data_dir_that_cannot_be_a_directory_is_refused(tmp_path: Path, where: str) -> None:
    (tmp_path / "data").write_text("a file\n")
    data_dir = tmp_path / "data" if where == "file" else tmp_path / "data" / "history"
    config = server_config({"config": os.devnull, "data_dir": str(data_dir)}, {})
    with pytest.raises(ConfigError, match=re.escape(f"cannot make the directory {data_dir}")):
        open_archive(config)


def test_history_options_come_from_the_one_table(tmp_path: Path) -> None:
    config = server_config({"config": os.devnull}, {})
    assert (config.data_dir, config.history, config.history_replay) == ("data", True, 20)
    assert (config.store_private, config.history_days, config.history_max_rows) == (
        False,
        0,
        1_000_000,
    )
    assert config.history_max_mb == 1024  # MiB: limits.HISTORY_MAX_BYTES
    conf = tmp_path / "server.conf"
    conf.write_text("[server]\nhistory_max_mb = 5\n", encoding="utf-8")
    assert server_config({"config": str(conf)}, {}).history_max_mb == 5
    env = {"TCPCHAT_HISTORY_MAX_MB": "0"}  # 0: no byte cap
    assert server_config({"config": str(conf)}, env).history_max_mb == 0
    assert server_config({"config": str(conf), "history_max_mb": 9}, env).history_max_mb == 9
    with pytest.raises(ConfigError, match="TCPCHAT_HISTORY_MAX_MB"):
        server_config({"config": os.devnull}, {"TCPCHAT_HISTORY_MAX_MB": "-1"})
    env = {"TCPCHAT_HISTORY": "no", "TCPCHAT_HISTORY_REPLAY": "0", "TCPCHAT_HISTORY_DAYS": "7"}
    config = server_config({"config": os.devnull}, env)
    assert (config.history, config.history_replay, config.history_days) == (False, 0, 7)
    with pytest.raises(ConfigError, match="from 0 to 100"):
        server_config({"config": os.devnull}, {"TCPCHAT_HISTORY_REPLAY": "101"})


@pytest.mark.skipif(not HAS_FTS5, reason="this SQLite has no FTS5")
def test_indexed_written_and_pending_messages_are_found_once_each(opened: Any) -> None:
    archive = opened()
    for mid in range(1, 4):
        archive.keep("#ops", said(mid, "needle indexed"))
    archive.close()  # closing indexes everything written
    again = opened(commit_interval=NEVER, batch_rows=10**6)
    assert again._queue.indexed == 3
    for mid in range(4, 7):
        again.keep("#ops", said(mid, "needle written"))
    assert again.flush(WAIT)  # written, but the index waits for more (HISTORY_INDEX_ROWS)
    assert again._queue.indexed == 3
    for mid in range(7, 10):
        again.keep("#ops", said(mid, "needle pending"))
    assert ids(again.search("#ops", "needle", 20)) == list(range(1, 10))
    assert ids(again.search("#ops", "needle", 4)) == [6, 7, 8, 9]
    assert ids(again.search("#ops", "written", 20)) == [4, 5, 6]
    assert ids(again.recent("#ops", 20)) == list(range(1, 10))
    assert ids(again.recent("#ops", 5)) == [5, 6, 7, 8, 9]
    assert ids(again.recent("#ops", 5, before_id=8)) == [3, 4, 5, 6, 7]
    assert ids(again.recent("#ops", 2, before_id=5)) == [3, 4]
    again.close()
    assert ids(opened().search("#ops", "needle", 20)) == list(range(1, 10))


@pytest.mark.skipif(not HAS_FTS5, reason="this SQLite has no FTS5")
def test_messages_written_but_not_indexed_at_a_crash_are_indexed_at_the_next_start(
    opened: Any, tmp_path: Path
) -> None:
    archive = opened()
    for mid in range(1, 6):
        archive.keep("#ops", said(mid, "before the crash"))
    archive.close()
    conn = sqlite3.connect(tmp_path / DB_FILE)  # as if killed before indexing 4 and 5
    conn.execute("DELETE FROM messages_fts")
    conn.execute("INSERT INTO messages_fts (messages_fts) VALUES ('rebuild')")
    conn.execute("DELETE FROM messages_fts WHERE rowid > 3")
    conn.execute("UPDATE meta SET value = 3 WHERE key = 'indexed'")
    conn.commit()
    conn.close()
    again = opened()
    assert ids(again.search("#ops", "crash", 10)) == [1, 2, 3, 4, 5]  # indexed or compared
    queue = again._queue
    with queue.changed:  # the writer catches up at start
        assert queue.changed.wait_for(lambda: queue.indexed == 5, WAIT)
    assert ids(again.search("#ops", "crash", 10)) == [1, 2, 3, 4, 5]
    again.close()
    fts = stored_rows(tmp_path, "SELECT rowid FROM messages_fts WHERE messages_fts MATCH 'crash'")
    assert sorted(r[0] for r in fts) == [1, 2, 3, 4, 5]


@pytest.mark.skipif(not HAS_FTS5, reason="this SQLite has no FTS5")
def test_a_message_kept_below_the_index_mark_is_indexed_with_it(
    opened: Any, tmp_path: Path
) -> None:
    # A cluster node cut off from Redis numbers its messages from a block of ids it reserved
    # earlier: below messages it stored (and indexed) since. Search must find them for good.
    archive = opened()
    for mid in (1, 2, 10, 11):
        archive.keep("#ops", said(mid, "indexed first"))
    assert archive.flush(WAIT, index=True)
    assert archive._queue.indexed == 11
    archive.keep("#ops", said(3, "said while cut off"))
    archive.keep("#ops", said(10, "a second id ten: ignored"))  # already stored
    assert archive.flush(WAIT)
    assert ids(archive.search("#ops", "cut off", 10)) == [3]
    assert ids(archive.search("#ops", "ignored", 10)) == []
    archive.keep("#ops", said(12, "said once the link is back"))
    archive.keep("#ops", said(4, "said while cut off, late"))  # in the same batch
    assert archive.flush(WAIT, index=True)
    assert ids(archive.search("#ops", "cut off", 10)) == [3, 4]
    assert ids(archive.search("#ops", "link", 10)) == [12]
    archive.close()
    again = opened()
    assert ids(again.search("#ops", "cut off", 10)) == [3, 4]
    assert ids(again.search("#ops", "first", 10)) == [1, 2, 10, 11]
    again.close()
    conn = sqlite3.connect(tmp_path / DB_FILE)
    assert conn.execute("INSERT INTO messages_fts (messages_fts) VALUES ('integrity-check')")
    fts = conn.execute("SELECT rowid FROM messages_fts WHERE messages_fts MATCH 'ignored'")
    assert fts.fetchall() == []
    conn.close()


def test_rooms_named_one_after_another_do_not_grow_the_stores_memory(
    opened: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(store, "ROOMS_CACHED", 8)
    archive = opened()
    writer = archive._writer
    go_on = threading.Event()
    write_pending = writer._write_pending

    def held() -> None:  # the writer held back: nothing is written until go_on
        go_on.wait(WAIT)
        write_pending()

    writer._write_pending = held  # type: ignore[method-assign]
    for n in range(40):  # not written yet: every room is kept, or it would be made twice
        archive.keep(f"#r{n}", said(n + 1, f"first in r{n}", room=f"#r{n}"))
    assert len(archive._rooms) == 40
    go_on.set()
    assert archive.flush(WAIT)
    for n in range(40, 80):
        archive.keep(f"#r{n}", said(n + 1, f"first in r{n}", room=f"#r{n}"))
        assert archive.flush(WAIT)
    assert len(archive._rooms) <= 8 + 1
    for n in (0, 39, 79):  # forgotten or not, each room keeps its id and its messages
        archive.keep(f"#r{n}", said(100 + n, f"again in r{n}", room=f"#r{n}"))
        assert ids(archive.recent(f"#r{n}", 10)) == [n + 1, 100 + n]
    archive.close()
    assert stored_rows(tmp_path, "SELECT COUNT(*), COUNT(DISTINCT key) FROM rooms") == [(80, 80)]


def test_rooms_waiting_for_a_failing_disk_are_bounded_and_new_ones_are_not_stored_meanwhile(
    opened: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, records: Records
) -> None:
    """Each room whose row waits for the writer is remembered until written (or it would be
    made twice): while writes fail, a client naming room after room would grow that without
    end. At most ``ROOMS_UNWRITTEN`` wait; past it a new room's messages and a topic are not
    stored (one warning), and once the disk writes again rooms are made as before."""
    monkeypatch.setattr(store, "ROOMS_UNWRITTEN", 5)
    monkeypatch.setattr(store, "ROOMS_CACHED", 8)
    archive = opened()
    archive.keep("#old", said(1, "stored before", room="#old"))
    assert archive.flush(WAIT)
    writer = archive._writer
    go_on = threading.Event()
    write_pending = writer._write_pending

    def held() -> None:  # the disk stalls: nothing is written until go_on
        go_on.wait(WAIT)
        write_pending()

    writer._write_pending = held  # type: ignore[method-assign]
    for n in range(40):
        archive.keep(f"#r{n}", said(n + 2, f"first in r{n}", room=f"#r{n}"))
    archive.keep_topic("#old", KeptTopic("#old", "not kept", "alice", 5.0))
    archive.keep("#old", said(50, "a known room's messages still wait", room="#old"))
    assert len(archive._queue.unwritten_rooms) == 5
    assert len(archive._rooms) <= 8 + 1
    warned = [w for w in records.at(logging.WARNING) if "rooms wait for the disk" in w]
    assert len(warned) == 1
    go_on.set()
    assert archive.flush(WAIT)
    assert [ids(archive.recent(f"#r{n}", 10)) for n in (0, 4, 5, 39)] == [[2], [6], [], []]
    assert ids(archive.recent("#old", 10)) == [1, 50]
    assert archive.topic("#old") == ("#old", "", "", 0.0)  # the topic set meanwhile: not kept
    archive.keep("#r39", said(60, "the disk writes again", room="#r39"))
    archive.keep_topic("#old", KeptTopic("#old", "kept now", "alice", 6.0))
    assert archive.flush(WAIT)
    assert ids(archive.recent("#r39", 10)) == [60]
    assert archive.topic("#old") == ("#old", "kept now", "alice", 6.0)
    archive.close()
    assert any("35 messages were not stored" in w for w in records.at(logging.WARNING))


def test_rooms_with_no_message_left_are_forgotten_past_the_cap_topics_last(
    opened: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(store, "ROOMS_CACHED", 4)
    monkeypatch.setattr(store_prune, "ROOMS_KEPT", 10)
    archive = opened(max_rows=5)
    archive.keep_topic("#quiet", KeptTopic("#quiet", "a topic, no message", "alice", 5.0))
    for n in range(1, 31):  # one message each; retention keeps the last 5 messages
        archive.keep(f"#r{n}", said(n, f"only in r{n}", room=f"#r{n}"))
        assert archive.flush(WAIT)
    archive.prune()
    assert archive.flush(WAIT)
    kept = {key for (key,) in stored_rows(tmp_path, "SELECT key FROM rooms")}
    assert len(kept) == 7  # down to three quarters of the cap
    assert {f"#r{n}" for n in range(26, 31)} <= kept  # rooms with messages stay
    assert "#quiet" in kept  # a topic goes after the rooms without one
    assert ids(archive.recent("#r30", 10)) == [30]
    archive.keep("#r1", said(31, "r1 again", room="#r1"))  # forgotten: made afresh
    assert ids(archive.recent("#r1", 10)) == [31]
    assert archive.topic("#quiet") == ("#quiet", "a topic, no message", "alice", 5.0)
    archive.close()


class _FailingThenHeld:
    """The writer's connection, but its first room write fails as a disk would and its second
    waits for ``release`` (after saying so with ``entered``)."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn
        self.mode = "fail"
        self.entered = threading.Event()
        self.release = threading.Event()

    def executemany(self, sql: str, *args: Any) -> Any:
        if self.mode == "fail":
            self.mode = "hold"
            raise sqlite3.OperationalError("disk I/O error (the test's)")
        if self.mode == "hold":
            self.mode = ""
            self.entered.set()
            self.release.wait(WAIT)
        return self.conn.executemany(sql, *args)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.conn, name)


def test_a_room_whose_row_is_written_again_after_a_failure_is_not_forgotten_meanwhile(
    opened: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(store, "ROOMS_CACHED", 4)
    monkeypatch.setattr(store_writer, "HISTORY_RETRY_S", 0.0)
    archive = opened()
    writer = archive._writer
    go_on = threading.Event()
    write_pending = writer._write_pending

    def held() -> None:  # each batch waits for go_on: #a's room and message go in one
        go_on.wait(WAIT)
        write_pending()

    writer._write_pending = held  # type: ignore[method-assign]
    connection = _FailingThenHeld(writer.conn)
    writer.conn = connection  # type: ignore[assignment]
    archive.keep("#a", said(1, "lost to the disk", room="#a"))  # its room's row is put back
    go_on.set()
    poll_until(lambda: writer.failing, "the write failed")
    archive.keep("#b", said(2, "in b", room="#b"))
    assert connection.entered.wait(WAIT)  # the writer is writing #a's row again, not done yet
    for n in range(6):  # the cache is over its size meanwhile
        archive.keep(f"#c{n}", said(3 + n, room=f"#c{n}"))
    archive.keep("#a", said(20, "said in a", room="#a"))  # #a must still be the same room
    connection.release.set()
    assert archive.flush(WAIT)
    assert ids(archive.recent("#a", 10)) == [20]
    assert ids(archive.recent("#c5", 10)) == [8]
    keys = stored_rows(tmp_path, "SELECT key FROM rooms")
    assert len(keys) == len(set(keys)) == 8
