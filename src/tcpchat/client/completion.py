"""Tab completion in the client, sans I/O: which words a typed line can go on with.

A command at the start of the line; a room after /join, /part or /users (or any word that
starts with ``#``); else a name online. ``ClientCore.completions`` calls it with what the client
knows (the names online, the rooms seen, yours).
"""

from __future__ import annotations

from collections.abc import Sequence

from ..core import commands as cmd
from ..core.names import fold, name_key
from .rooms import rooms_like

# The client's own command, /r (``ClientCore`` answers it), and its long form.
REPLY_WORDS = ("/r", "/reply")


def command_words() -> list[str]:
    """Every command a person types, for Tab: the client's own and the server's."""
    words = {REPLY_WORDS[0]}
    for spec in cmd.COMMANDS:
        if not spec.plumbing:
            words.update("/" + w for w in (spec.name, *spec.aliases) if w.isalpha())
    return sorted(words)


# The commands whose first argument is a name: Tab there offers every name, even before a letter.
_NAME_COMMANDS = {"/w", "/msg", "/whisper"}


def _names_next(words: list[str]) -> bool:
    """True if the word after ``words`` (the line before the cursor's word) is a name."""
    return len(words) == 1 and words[0].lower() in _NAME_COMMANDS


# The commands whose first argument is a room: Tab offers the rooms seen (for /part, yours).
_ROOM_COMMANDS = {"/join", "/j", "/users", "/who", "/names"}
_PART_COMMANDS = {"/part", "/leave"}


def complete(
    line: str,
    cursor: int,
    names: list[str],
    me: str,
    rooms: Sequence[str] = (),
    mine: Sequence[str] = (),
) -> tuple[int, list[str]]:
    """Tab completion: a command at the start of the line; a room after /join, /part or /users
    (or any word that starts with ``#``); else a name online.

    ``rooms`` are the rooms seen, ``mine`` the rooms you are in (what /part offers). Returns
    where the word being completed starts and the candidates. A name that starts the line gets
    ": " after it (the way to address someone in a chat); a name after /w or /msg, or elsewhere,
    and a room get a space."""
    start = cursor
    while start > 0 and not line[start - 1].isspace():
        start -= 1
    word = line[start:cursor]
    before = line[:start]
    if not before.strip() and word.startswith("/"):
        return start, [w + " " for w in command_words() if w.startswith(word.lower())]
    command = before.split()
    if len(command) == 1 and command[0].lower() in _PART_COMMANDS:
        return start, rooms_like(word, mine)
    if (len(command) == 1 and command[0].lower() in _ROOM_COMMANDS) or word.startswith("#"):
        return start, rooms_like(word, rooms)
    if not word and before.strip() and not _names_next(command):
        return start, []  # in a message's text: Tab after a space offers nothing (as irssi)
    prefix = fold(word.lstrip("@"))
    at = "@" if word.startswith("@") else ""
    mine_key = name_key(me)
    others = [n for n in names if name_key(n) != mine_key]
    matches = sorted((n for n in others if fold(n).startswith(prefix)), key=fold)
    suffix = ": " if not before.strip() and not at else " "
    return start, [at + n + suffix for n in matches]
