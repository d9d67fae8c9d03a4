"""What a terminal sends, as keys, sans I/O: bytes in, printable characters and key names out.

``KeyDecoder.feed`` turns the bytes read from a terminal in raw mode into ``Key`` values for
``LineEditor.press``: a printable character, the name of a special key (``"enter"``,
``"ctrl-a"``, ``"up"`` ...), or a ``Paste`` for text the terminal marked as pasted.
"""

from __future__ import annotations

import codecs
from dataclasses import dataclass
from typing import Union


@dataclass(frozen=True)
class Paste:
    """Text that arrived as one paste (bracketed paste, or many lines in one read)."""

    text: str


# A key is one printable character, or the name of a special key ("enter", "ctrl-a", "up" ...).
Key = Union[str, Paste]

_CONTROL = {
    "\x01": "ctrl-a",
    "\x02": "ctrl-b",
    "\x03": "ctrl-c",
    "\x04": "ctrl-d",
    "\x05": "ctrl-e",
    "\x06": "ctrl-f",
    "\x07": "ctrl-g",
    "\x08": "backspace",
    "\x09": "tab",
    "\x0a": "enter",
    "\x0b": "ctrl-k",
    "\x0c": "ctrl-l",
    "\x0d": "enter",
    "\x0e": "down",
    "\x10": "up",
    "\x12": "ctrl-r",
    "\x14": "ctrl-t",
    "\x15": "ctrl-u",
    "\x17": "ctrl-w",
    "\x19": "ctrl-y",
    "\x1a": "ctrl-z",
    "\x7f": "backspace",
}
_CSI_FINAL = {"A": "up", "B": "down", "C": "right", "D": "left", "H": "home", "F": "end"}
_CSI_TILDE = {"1": "home", "7": "home", "4": "end", "8": "end", "3": "delete"}
PASTE_START = "\x1b[200~"
PASTE_END = "\x1b[201~"


class KeyDecoder:
    """Splits what a terminal sends into keys.

    ``feed(data)`` returns the keys complete so far; an escape sequence or UTF-8 character split
    across reads is kept for the next call. ``flush()`` gives up on a lone ESC (the Esc key).
    Bracketed paste (``ESC [200~ ... ESC [201~``) becomes one ``Paste``.
    """

    def __init__(self, encoding: str = "utf-8") -> None:
        self._decoder = codecs.getincrementaldecoder(encoding)(errors="replace")
        self._pending = ""
        self._paste: list[str] | None = None

    @property
    def waiting(self) -> bool:
        """True when an incomplete escape sequence is held back."""
        return bool(self._pending) and self._paste is None

    def feed(self, data: bytes) -> list[Key]:
        text = self._pending + self._decoder.decode(data)
        self._pending = ""
        keys: list[Key] = []
        i = 0
        n = len(text)
        while i < n:
            if self._paste is not None:
                end = text.find(PASTE_END, i)
                if end < 0:
                    # Keep a possible start of the end marker for the next read.
                    keep = _partial_suffix(text, PASTE_END, i)
                    self._paste.append(text[i : n - keep])
                    self._pending = text[n - keep :]
                    return keys
                self._paste.append(text[i:end])
                keys.append(Paste("".join(self._paste)))
                self._paste = None
                i = end + len(PASTE_END)
                continue
            c = text[i]
            if c != "\x1b":
                name = _CONTROL.get(c)
                if name is not None:
                    keys.append(name)
                elif c >= " " and not ("\x80" <= c <= "\x9f"):
                    keys.append(c)
                i += 1
                continue
            size, key = _escape(text, i)
            if size == 0:  # incomplete: wait for the rest
                self._pending = text[i:]
                return keys
            if key == PASTE_START:
                self._paste = []
            elif key:
                keys.append(key)
            i += size
        return keys

    def flush(self) -> list[Key]:
        """The Esc key alone (or a sequence that never completed): dropped."""
        if self._paste is None:
            self._pending = ""
        return []


def _partial_suffix(text: str, marker: str, start: int) -> int:
    """How many characters at the end of ``text`` could begin ``marker``."""
    for size in range(min(len(marker) - 1, len(text) - start), 0, -1):
        if marker.startswith(text[len(text) - size :]):
            return size
    return 0


def _escape(text: str, i: int) -> tuple[int, str]:
    """Decode the escape sequence at ``text[i]``: (characters used, key name or ""). Size 0:
    the sequence is not complete yet."""
    n = len(text)
    if i + 1 >= n:
        return 0, ""
    second = text[i + 1]
    if second == "[":
        j = i + 2
        while j < n and "\x20" <= text[j] <= "\x3f":
            j += 1
        if j >= n:
            return 0, ""
        params, final = text[i + 2 : j], text[j]
        size = j - i + 1
        if final == "~":
            if params == "200":
                return size, PASTE_START
            return size, _CSI_TILDE.get(params.split(";")[0], "")
        name = _CSI_FINAL.get(final, "")
        if name and ";" in params:
            modifier = params.split(";")[-1]
            if modifier in ("3", "5") and name in ("left", "right"):
                return size, ("ctrl-" if modifier == "5" else "alt-") + name
        return size, name
    if second == "O":
        if i + 2 >= n:
            return 0, ""
        return 3, _CSI_FINAL.get(text[i + 2], "")
    if second == "\x7f" or second == "\x08":
        return 2, "alt-backspace"
    if second == "\x1b":
        return 1, ""  # ESC ESC: drop the first
    if second.isprintable():
        return 2, "alt-" + second.lower()
    return 1, ""
