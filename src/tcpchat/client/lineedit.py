"""The input line, sans I/O: keys to edits, the line to a screen row.

Python's ``readline`` module cannot be driven from an event loop (it has no callback interface),
so the client keeps its own small line editor with readline's Emacs key bindings. Because it
owns the buffer and the cursor, it can redraw the line you are typing, cursor included, after
every incoming message. ``keys.KeyDecoder`` turns bytes into keys, ``LineEditor.press`` applies a
key and says what the caller should do next, ``LineEditor.view`` says what to draw.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Sequence
from typing import Callable

from ..core.limits import HISTORY_LIMIT
from ..core.text import char_width, neutralise, text_width
from .keys import Key, Paste

# The keys the line editor answers, listed by /help after the client's commands.
KEY_HELP = (
    ("Tab", "complete a command, a name or a room (again: the next match)"),
    ("Up, Down, Ctrl+R", "input history, kept between sessions; reverse search"),
    ("Ctrl+D, Ctrl+C", "leave, as /quit does"),
)


def clip(text: str, width: int) -> str:
    """The start of ``text`` that fits in ``width`` columns."""
    used = 0
    for i, c in enumerate(text):
        used += char_width(c)
        if used > width:
            return text[:i]
    return text


def clean(text: str) -> str:
    """Typed or pasted text without control characters (a tab becomes a space)."""
    return neutralise(text, drop=True)


# What ``LineEditor.press`` asks the caller to do.
CHANGED = "changed"  # redraw the line
SUBMIT = "submit"  # take the line with ``take()``
EOF = "eof"  # Ctrl+D on an empty line
INTERRUPT = "interrupt"  # Ctrl+C
CLEAR = "clear"  # Ctrl+L: clear the screen, then redraw
SUSPEND = "suspend"  # Ctrl+Z
PASTE = "paste"  # a paste of several lines: take them with ``take_paste()``

# Completion: given the line and the cursor, where the word starts and the candidates.
Completer = Callable[[str, int], tuple[int, Sequence[str]]]


class LineEditor:
    """One line of input with readline's Emacs bindings, history and Tab completion.

    ``press(key)`` applies a key and returns one of the constants above, or None when nothing
    changed. After SUBMIT call ``take()``; after PASTE call ``take_paste()``.
    """

    def __init__(
        self,
        history: Sequence[str] = (),
        completer: Completer | None = None,
        on_remember: Callable[[str], None] | None = None,
    ) -> None:
        """``on_remember`` is told each line added to the history, to keep it (a file)."""
        self.text = ""
        self.cursor = 0  # index into text (characters)
        self.history = list(history)[-HISTORY_LIMIT:]
        self.completer = completer
        self.on_remember = on_remember
        self._browse = len(self.history)  # index in history; len() means the draft
        self._draft = ""
        self._kill = ""
        self._scroll = 0
        self._cycle: tuple[int, int, list[str], int] | None = None  # start, end, words, index
        self._search: str | None = None  # Ctrl+R query while searching
        self.search_failed = False  # no line of the history holds the query (bash: "failing")
        self._paste: list[str] = []

    # --- editing -----------------------------------------------------------------------

    def insert(self, text: str) -> None:
        text = clean(text)
        self.text = self.text[: self.cursor] + text + self.text[self.cursor :]
        self.cursor += len(text)

    def set(self, text: str, cursor: int | None = None) -> None:
        self.text = text
        self.cursor = len(text) if cursor is None else max(0, min(cursor, len(text)))

    def take(self, remember: bool = True) -> str:
        """The submitted line; the editor is empty afterwards and the line is in history
        (unless ``remember`` is false: an answer to a question, a name or a password)."""
        line = self.text
        self.set("")
        self._scroll = 0
        if remember:
            self.remember(line)
        return line

    def take_paste(self) -> list[str]:
        lines, self._paste = self._paste, []
        return lines

    def keep(self, line: str) -> None:
        """Put ``line`` in the history for Up, in this session only (not the history file): a
        line refused while something else is typed."""
        if not self.history or self.history[-1] != line:
            self.history.append(line)
            del self.history[:-HISTORY_LIMIT]
        self._browse = len(self.history)

    def remember(self, line: str) -> None:
        if (
            line.strip()
            and not line.startswith(" ")
            and (not self.history or self.history[-1] != line)
        ):
            self.history.append(line)
            del self.history[:-HISTORY_LIMIT]
            if self.on_remember is not None:
                self.on_remember(line)
        self._browse = len(self.history)
        self._draft = ""

    def press(self, key: Key) -> str | None:
        if isinstance(key, Paste):
            return self._pasted(key.text)
        if key != "tab":
            self._cycle = None
        if self._search is not None:
            return self._searching(key)
        handler = _BINDINGS.get(key)
        if handler is not None:
            return handler(self)
        if len(key) == 1:
            self.insert(key)
            return CHANGED
        return None

    def _pasted(self, text: str) -> str:
        lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
        if len(lines) == 1:
            self.insert(lines[0])
            return CHANGED
        head = self.text[: self.cursor] + clean(lines[0])
        tail = self.text[self.cursor :]
        last = clean(lines[-1])
        self._paste = [head] + [clean(line) for line in lines[1:-1]]
        self.set(last + tail, len(last))
        return PASTE

    def _move(self, to: int) -> str:
        self.cursor = max(0, min(to, len(self.text)))
        return CHANGED

    # A character and the marks on it (what takes no column after it: an accent, a Thai vowel, a
    # joiner) show as one: the cursor steps over them together and Backspace deletes them
    # together, as readline does. One at a time, a Right left the cursor where it was on the
    # screen and a Backspace took the accent off a letter.

    def _next(self, i: int) -> int:
        """Where the character at ``i`` (with the marks on it) ends."""
        n = len(self.text)
        i = min(i + 1, n)
        while i < n and _on_the_one_before(self.text[i]):
            i += 1
        return i

    def _previous(self, i: int) -> int:
        """Where the character before ``i`` (with the marks on it) starts."""
        i = max(i - 1, 0)
        while i > 0 and _on_the_one_before(self.text[i]):
            i -= 1
        return i

    def _word_left(self, alnum: bool = True) -> int:
        i = self.cursor
        while i > 0 and not _is_word(self.text[i - 1], alnum):
            i -= 1
        while i > 0 and _is_word(self.text[i - 1], alnum):
            i -= 1
        return i

    def _word_right(self) -> int:
        i, n = self.cursor, len(self.text)
        while i < n and not _is_word(self.text[i], True):
            i += 1
        while i < n and _is_word(self.text[i], True):
            i += 1
        return i

    def _kill_range(self, start: int, end: int) -> str:
        if start == end:
            return CHANGED
        self._kill = self.text[start:end]
        self.text = self.text[:start] + self.text[end:]
        self.cursor = start
        return CHANGED

    def _delete_back(self) -> str | None:
        if self.cursor == 0:
            return None
        start = self._previous(self.cursor)
        self.text = self.text[:start] + self.text[self.cursor :]
        self.cursor = start
        return CHANGED

    def _delete_or_eof(self) -> str | None:
        if not self.text:
            return EOF
        return self._delete()

    def _delete(self) -> str | None:
        if self.cursor < len(self.text):
            self.text = self.text[: self.cursor] + self.text[self._next(self.cursor) :]
            return CHANGED
        return None

    def _transpose(self) -> str | None:
        """Ctrl+T: the character before the cursor and the one under it change places (at the
        end of the line, the last two), each with its marks."""
        i = self.cursor
        if i == len(self.text):
            i = self._previous(i)
        start, end = self._previous(i), self._next(i)
        if i == 0 or start == i:
            return None
        t = self.text
        self.text = t[:start] + t[i:end] + t[start:i] + t[end:]
        self.cursor = end
        return CHANGED

    def _yank(self) -> str:
        self.insert(self._kill)
        return CHANGED

    # --- history -----------------------------------------------------------------------

    def _history(self, step: int) -> str | None:
        to = self._browse + step
        if not 0 <= to <= len(self.history):
            return None
        if self._browse == len(self.history):
            self._draft = self.text
        self._browse = to
        self.set(self._draft if to == len(self.history) else self.history[to])
        return CHANGED

    def _start_search(self) -> str:
        self._search = ""
        self.search_failed = False
        self._draft = self.text
        return CHANGED

    @property
    def searching(self) -> str | None:
        """The Ctrl+R query while a reverse history search is on, else None."""
        return self._search

    def _searching(self, key: Key) -> str | None:
        assert self._search is not None and isinstance(key, str)
        if key == "ctrl-r":  # the next older match
            self._find(self._search, self._browse - 1)
            return CHANGED
        if key == "backspace":
            self._search = self._search[:-1]
            self._find(self._search, len(self.history) - 1)
            return CHANGED
        if len(key) == 1:
            self._search += clean(key)
            self._find(self._search, min(self._browse, len(self.history) - 1))
            return CHANGED
        self._search = None
        if key in ("ctrl-c", "ctrl-g"):
            self.set(self._draft)
            self._browse = len(self.history)
            return CHANGED
        return self.press(key) or CHANGED

    def _find(self, query: str, start: int) -> None:
        """Show the newest line of the history from ``start`` back that holds ``query``; if none
        does, the line shown stays and ``search_failed`` says so."""
        self.search_failed = True
        for i in range(start, -1, -1):
            if query.casefold() in self.history[i].casefold():
                self._browse = i
                self.set(self.history[i], self.history[i].casefold().find(query.casefold()))
                self.search_failed = False
                return

    # --- completion --------------------------------------------------------------------

    def _complete(self) -> str | None:
        """Tab: complete the word before the cursor; Tab again cycles through the matches."""
        if self._cycle is not None:
            start, end, words, index = self._cycle
            index = (index + 1) % len(words)
        else:
            if self.completer is None:
                return None
            start, words_seq = self.completer(self.text, self.cursor)
            words = list(words_seq)
            if not words:
                return None
            end, index = self.cursor, 0
        word = words[index]
        self.text = self.text[:start] + word + self.text[end:]
        self.cursor = start + len(word)
        self._cycle = (start, self.cursor, words, index) if len(words) > 1 else None
        return CHANGED

    # --- display -----------------------------------------------------------------------

    def view(self, width: int) -> tuple[str, int]:
        """The part of the line that fits in ``width`` columns, scrolled so the cursor shows,
        and the cursor's column within it. The line never wraps, so one row is always enough."""
        if width < 1:  # no room but the cursor's
            return "", 0
        if text_width(self.text) < width:
            self._scroll = 0
        elif self.cursor < self._scroll:
            self._scroll = max(0, self.cursor - width // 3)  # jump back, keeping some context
        # The character under the cursor shows whole: a wide one one column short of the edge
        # was left out, the cursor on an empty cell at the end of the row.
        cursor_cell = max(text_width(self.text[self.cursor : self._next(self.cursor)]), 1)
        room = max(width - cursor_cell, 0)
        if text_width(self.text[self._scroll : self.cursor]) > room:
            # Scrolled from the cursor back, a column at a time: one step per character from the
            # scroll mark took time of the square of the line (End on 8,000 pasted characters:
            # 10 s, the client deaf meanwhile).
            start, used = self.cursor, 0
            while start > 0:
                used += char_width(self.text[start - 1])
                if used > room:
                    break
                start -= 1
            self._scroll = start
        # Room left at the row's end, on a window made wider: the row goes back to fill it (it
        # kept the scroll of the narrow window, and showed a few letters of a long line).
        to_cursor = text_width(self.text[self._scroll : self.cursor]) + cursor_cell
        free = width - max(text_width(self.text[self._scroll :]), to_cursor)
        while self._scroll > 0 and char_width(self.text[self._scroll - 1]) <= free:
            free -= char_width(self.text[self._scroll - 1])
            self._scroll -= 1
        shown = []
        used = 0
        for c in self.text[self._scroll :]:
            w = char_width(c)
            if used + w > width:
                break
            shown.append(c)
            used += w
        return "".join(shown), text_width(self.text[self._scroll : self.cursor])


def _on_the_one_before(c: str) -> bool:
    """Whether ``c`` shows as part of the character before it: a mark, a joiner, the emoji
    presentation selector."""
    return c == "\ufe0f" or char_width(c) == 0


def _is_word(c: str, alnum: bool) -> bool:
    """Whether ``c`` is part of a word: for Alt+B, Alt+F and Alt+Backspace a letter, a digit or a
    mark (an accent, a vowel sign of Devanagari or Thai, which ``isalnum`` is not: a word moved
    over and deleted in parts, ``ré|sumé``), for Ctrl+W anything but a space."""
    if alnum:
        return c.isalnum() or c in "_-." or unicodedata.category(c).startswith("M")
    return not c.isspace()


_BINDINGS: dict[str, Callable[[LineEditor], str | None]] = {
    "enter": lambda e: SUBMIT,
    "ctrl-c": lambda e: INTERRUPT,
    "ctrl-d": LineEditor._delete_or_eof,
    "ctrl-l": lambda e: CLEAR,
    "ctrl-z": lambda e: SUSPEND,
    "left": lambda e: e._move(e._previous(e.cursor)),
    "ctrl-b": lambda e: e._move(e._previous(e.cursor)),
    "right": lambda e: e._move(e._next(e.cursor)),
    "ctrl-f": lambda e: e._move(e._next(e.cursor)),
    "home": lambda e: e._move(0),
    "ctrl-a": lambda e: e._move(0),
    "end": lambda e: e._move(len(e.text)),
    "ctrl-e": lambda e: e._move(len(e.text)),
    "alt-b": lambda e: e._move(e._word_left()),
    "ctrl-left": lambda e: e._move(e._word_left()),
    "alt-left": lambda e: e._move(e._word_left()),
    "alt-f": lambda e: e._move(e._word_right()),
    "ctrl-right": lambda e: e._move(e._word_right()),
    "alt-right": lambda e: e._move(e._word_right()),
    "backspace": LineEditor._delete_back,
    "delete": LineEditor._delete,
    "ctrl-k": lambda e: e._kill_range(e.cursor, len(e.text)),
    "ctrl-u": lambda e: e._kill_range(0, e.cursor),
    "ctrl-w": lambda e: e._kill_range(e._word_left(alnum=False), e.cursor),
    "alt-backspace": lambda e: e._kill_range(e._word_left(), e.cursor),
    "alt-d": lambda e: e._kill_range(e.cursor, e._word_right()),
    "ctrl-y": LineEditor._yank,
    "ctrl-t": LineEditor._transpose,
    "up": lambda e: e._history(-1),
    "down": lambda e: e._history(+1),
    "ctrl-r": LineEditor._start_search,
    "tab": LineEditor._complete,
}
