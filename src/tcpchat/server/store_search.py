"""The words of a /search, for ``store.py``: turned into an FTS5 query that user text cannot
change the shape of, compared with the messages not written yet as the database would, and the
time a search may take (``SearchBudget``).

A search runs on the event loop's thread (the reader's connection is quick for what people look
for), so its time is everyone's wait. Some searches cost far more than they look: a phrase of
common words that never occurs (``/search the-the-the...``: FTS5 checks the word positions of
every message holding them, 1 s over 300,000 ordinary messages), or words compared in Python
with the rows the index has not reached yet. So each search stops at ``SEARCH_DEADLINE_S``
(SQLite's progress handler interrupts the query, the comparisons in Python look at the clock),
and all searches together may take ``SEARCH_SHARE`` of the server's time, with
``SEARCH_BURST_S`` at once, those of one address a quarter of that: a search starts only while
a whole deadline of that time is left, and is refused until it is. Three connections
searching once a second each held the server at 99 % for as long as they went on (an abuse
review); now they get at most that share, and everyone else the rest, and one address cannot
keep the other addresses from searching. Some of a query's work is one step of SQLite's (FTS5
reading a phrase's lists: about 30 ms over 5,000 long messages), which no handler can cut
short: a search may pass its deadline by that much.
"""

from __future__ import annotations

import contextlib
import math
import re
import sqlite3
import time
import unicodedata
from collections.abc import Iterator, Sequence
from typing import Callable

from ..core.archive import SearchRefused
from ..core.limits import HISTORY_SEARCH_MAX_WORDS
from .store_db import LIKE

# How long one search may take: what people look for takes a few ms.
SEARCH_DEADLINE_S = 0.05
# The share of the server's time all searches together may take, and how much of it at once.
SEARCH_SHARE = 0.2
SEARCH_BURST_S = 0.2
# The share one address may take of that, and at once (two whole searches): one address with
# twenty connections cannot keep the others from searching.
SEARCH_ORIGIN_SHARE = 0.05
SEARCH_ORIGIN_BURST_S = 0.1
# Addresses remembered (their buckets); past this the oldest half is forgotten.
SEARCH_ORIGINS = 4096
# SQLite VM instructions between two looks at the clock (about 0.1 ms of work).
PROGRESS_STEPS = 1000
TOO_LONG = "That search took too long and was stopped: search for rarer words."

# A run of what FTS5's unicode61 tokenizer keeps in a token: letters and digits of any script.
TOKEN = re.compile(r"[^\W_]+")


def search_words(text: str) -> list[str]:
    """The words of a /search that count: split at blanks, at most HISTORY_SEARCH_MAX_WORDS."""
    return text.split()[:HISTORY_SEARCH_MAX_WORDS]


def fts_query(room: int, words: Sequence[str]) -> str | None:
    """The FTS5 MATCH expression for ``words`` in room ``room`` (no words: every message of the
    room): each word a quoted string (its own quotes doubled), so nothing a user types (quotes,
    AND, OR, NOT, NEAR, *, ^, column names, parentheses) is ever read as query syntax. A word
    with no letter or digit would match nothing and is left out; None when words were given
    and none is left."""
    phrases = ['text : "' + word.replace('"', '""') + '"' for word in words if TOKEN.search(word)]
    if words and not phrases:
        return None
    return " AND ".join([f'room : "{room}"', *phrases])


def fold(text: str) -> str:
    """Case-folded, with the diacritics of Latin letters removed, as the index compares words
    (unicode61 with remove_diacritics: "Café" finds "cafe"; Cyrillic "ё" stays itself)."""
    folded = text.casefold()
    if folded.isascii():
        return folded
    out: list[str] = []
    for char in unicodedata.normalize("NFD", folded):
        if unicodedata.combining(char) and out and out[-1] < "\u0250":
            continue  # a mark on a Latin letter
        out.append(char)
    return unicodedata.normalize("NFC", "".join(out))


def words_match(kind: str, words: Sequence[str], text: str) -> bool:
    """Whether ``text`` matches every word as a search of that ``kind`` would find it: whole
    words for FTS5, substrings for LIKE. For messages not written yet (at most a few ms old)."""
    if kind == LIKE:
        folded = text.casefold()
        return all(word.casefold() in folded for word in words)
    tokens = TOKEN.findall(fold(text))
    wanted = [TOKEN.findall(fold(word)) for word in words]
    wanted = [w for w in wanted if w]
    return bool(wanted) and all(_contains_run(tokens, run) for run in wanted)


def _contains_run(tokens: Sequence[str], run: Sequence[str]) -> bool:
    size = len(run)
    return any(list(tokens[i : i + size]) == list(run) for i in range(len(tokens) - size + 1))


class _Bucket:
    """Seconds of searching: ``burst`` at most, refilled at ``share`` a second."""

    __slots__ = ("share", "burst", "left", "at")

    def __init__(self, share: float, burst: float, now: float) -> None:
        self.share, self.burst = share, burst
        self.left, self.at = burst, now

    def refill(self, now: float) -> float:
        """Seconds to wait before a whole search fits (0: it fits now)."""
        self.left = min(self.burst, self.left + (now - self.at) * self.share)
        self.at = now
        return max(0.0, (SEARCH_DEADLINE_S - self.left) / self.share)


class SearchBudget:
    """The time searches may take: ``SEARCH_DEADLINE_S`` each; ``SEARCH_SHARE`` of the server's
    time together (``SEARCH_BURST_S`` at once), and of that ``SEARCH_ORIGIN_SHARE`` for the
    searches of one address. A search starts only while a whole deadline is left in both
    buckets, and is charged to both. For one thread."""

    def __init__(self, share: float = SEARCH_SHARE, burst: float = SEARCH_BURST_S) -> None:
        self.total = _Bucket(share, burst, time.monotonic())
        self.origins: dict[str, _Bucket] = {}

    def _origin(self, origin: str, now: float) -> _Bucket:
        bucket = self.origins.pop(origin, None)  # put back last: the oldest come first
        if bucket is None:
            if len(self.origins) >= SEARCH_ORIGINS:
                for old in list(self.origins)[: SEARCH_ORIGINS // 2]:
                    del self.origins[old]
            bucket = _Bucket(SEARCH_ORIGIN_SHARE, SEARCH_ORIGIN_BURST_S, now)
        self.origins[origin] = bucket
        return bucket

    @contextlib.contextmanager
    def running(self, conn: sqlite3.Connection, origin: str = "") -> Iterator[Callable[[], None]]:
        """One search on ``conn`` for someone at ``origin`` (their address): yields a check to
        call between comparisons made in Python. Raises ``SearchRefused`` if no time is left,
        or if the search runs past its deadline (then, its query interrupted); what it took is
        charged either way."""
        start = time.monotonic()
        buckets = (self.total, self._origin(origin, start))
        wait = max(bucket.refill(start) for bucket in buckets)
        if wait > 0:
            raise SearchRefused(
                f"The server is busy with searches: try again in {math.ceil(wait)} s."
            )
        deadline = start + SEARCH_DEADLINE_S

        def past() -> bool:
            return time.monotonic() > deadline

        def check() -> None:
            if past():
                raise SearchRefused(TOO_LONG)

        conn.set_progress_handler(past, PROGRESS_STEPS)
        try:
            yield check
        except sqlite3.OperationalError:
            if past():  # our handler interrupted it
                raise SearchRefused(TOO_LONG) from None
            raise
        finally:
            conn.set_progress_handler(None, 0)
            took = time.monotonic() - start
            for bucket in buckets:
                bucket.left -= took
