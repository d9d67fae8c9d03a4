"""The words of a /search, for ``store.py``: turned into an FTS5 query that user text cannot
change the shape of, and compared with the messages not written yet as the database would."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence

from ..core.limits import HISTORY_SEARCH_MAX_WORDS
from .store_db import LIKE

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
