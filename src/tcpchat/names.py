"""Chat names: validation and the case-insensitive key that makes them unique."""

from __future__ import annotations

import unicodedata

from .limits import NAME_MAX_CHARS, NAME_MIN_CHARS, RESERVED_NAMES

_PUNCTUATION = frozenset("_-.")
# Scripts whose letters look alike; a name may use at most one of them.
_CONFUSABLE_SCRIPTS = ("LATIN", "CYRILLIC", "GREEK")


def name_key(name: str) -> str:
    """The form under which two names count as the same: NFKC, case-folded, NFKC again."""
    return unicodedata.normalize("NFKC", unicodedata.normalize("NFKC", name).casefold())


def display_form(name: str) -> str:
    """The name as its owner typed it, composed (NFC) so that it compares and prints stably."""
    return unicodedata.normalize("NFC", name)


def name_problem(name: str) -> tuple[str, str] | None:
    """Why ``name`` cannot be a chat name: (error code, sentence for the user); None if it can."""
    name = display_form(name)
    if not NAME_MIN_CHARS <= len(name) <= NAME_MAX_CHARS:
        return "name_invalid", f"A name has {NAME_MIN_CHARS} to {NAME_MAX_CHARS} characters."
    scripts: set[str] = set()
    for i, ch in enumerate(name):
        category = unicodedata.category(ch)
        if category[0] == "L":
            script = unicodedata.name(ch, "").split(" ", 1)[0]
            if script in _CONFUSABLE_SCRIPTS:
                scripts.add(script)
        elif category == "Nd" or ch == "_":
            pass
        elif category[0] == "M" and i > 0:
            pass
        elif ch in _PUNCTUATION and i > 0:
            pass
        else:
            return "name_invalid", (
                "A name holds letters, digits, '_', '-' and '.', and starts with a letter, "
                "a digit or '_'."
            )
    if len(scripts) > 1:
        return "name_invalid", "A name may not mix Latin, Cyrillic and Greek letters."
    if name_key(name) in RESERVED_NAMES:
        return "name_reserved", f'The name "{name}" is reserved. Choose another one.'
    return None
