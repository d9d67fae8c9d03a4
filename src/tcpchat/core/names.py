"""Chat names: the rules a name follows, and the keys under which two names count as the same.

Nobody may pass for someone else, so a name is compared by what it looks like, not by its code
points (Unicode UTS #39, "Unicode Security Mechanisms"):

* A name holds no invisible characters and is written in one script (``name_problem``), so the
  only look-alikes left are those of a whole name, which the keys below catch.
* ``name_key`` is a name's identity: the UTS #39 *skeleton* of its case-folded form, that is
  NFKC, case fold, NFKC (what names always were compared by), then NFD, every character mapped
  to its prototype in confusables.txt, NFD again. Case folding comes first, so the key is
  case-insensitive in every script (``Анна`` and ``АННА``, ``Αννα`` and ``ΑΝΝΑ``), and the
  skeleton catches lowercase look-alikes: ``Alice``, ``ALICE``, ``аlice`` (Cyrillic а), ``ɑlice``
  (Latin alpha), ``alıce`` (dotless i) and ``аӏісе`` (all Cyrillic) all have the key of ``alice``.
  The roster finds people by this key (``/w``, "taken").
* Case folding forgets shapes: a capital ``I`` folds to ``i`` although it looks like ``l``, Greek
  ``ΑΝΝΑ`` folds to ``αννα`` although it looks like ``ANNA``. So ``look_keys`` adds a second key,
  the skeleton of the case-folded *skeleton* (what the name looks like, then case-insensitively):
  ``AIice`` (capital i) and ``ΑΝΝΑ`` look like ``alice`` and ``anna``. Two names clash when any of
  their look keys are equal.

The price is paid by names a person can hardly tell apart anyway: ``AI`` and ``Al``, ``Ian`` and
``lan`` (so also ``Lan``), ``0tto`` and ``Otto``, ``rn`` and ``m`` (``Arny`` and ``Amy``). Across
scripts, names clash when they look alike (``Тор`` and ``Top``, ``ВОВ`` and ``BOB``); ``Борис`` and
``Boris``, ``Вера`` and ``Vera`` or ``Тома`` and ``Toma`` do not. ``fold`` keeps the plain
case-insensitive form, for sorting and for telling "the same name" from "a look-alike".
"""

from __future__ import annotations

import bisect
import functools
import unicodedata
from collections.abc import Iterable

from . import codes, unicode_tables
from .limits import NAME_MAX_CHARS, NAME_MIN_CHARS, RESERVED_NAMES

_PUNCTUATION = frozenset("_-.")
# Characters that draw nothing although they are not Default_Ignorable_Code_Point (which the
# tables list): braille blank, Egyptian blanks, Khitan filler, musical null notehead.
_BLANK = frozenset("\u2800\U00013441\U00013442\U00016fe4\U0001d159")
# UTS #39 5.4: more marks than this on one letter is a pile, not a word.
_MAX_MARKS_ON_A_LETTER = 4
_DOT_ABOVE = "\u0307"
# UTS #39 5.1: Han is written with Hiragana and Katakana (Japanese), Bopomofo (Chinese) and Hangul
# (Korean); these virtual scripts let one name hold the mix a language uses.
_WRITING_SYSTEMS = {
    "Hani": ("Hanb", "Jpan", "Kore"),
    "Hira": ("Jpan",),
    "Kana": ("Jpan",),
    "Hang": ("Kore",),
    "Bopo": ("Hanb",),
}
# UTS #39 "Highly Restrictive": Latin may join these writing systems.
_WITH_LATIN = frozenset({"Jpan", "Hanb", "Kore"})


def _ranges(packed: str) -> tuple[list[int], list[int]]:
    """Decode "FIRST-LAST"/"FIRST" hex ranges into sorted starts and ends for ``_in``."""
    starts: list[int] = []
    ends: list[int] = []
    for item in packed.split():
        first, _, last = item.partition("-")
        starts.append(int(first, 16))
        ends.append(int(last or first, 16))
    return starts, ends


def _in(ch: str, ranges: tuple[list[int], list[int]]) -> bool:
    starts, ends = ranges
    index = bisect.bisect_right(starts, ord(ch)) - 1
    return index >= 0 and ord(ch) <= ends[index]


def _script_sets() -> tuple[list[int], list[frozenset[str] | None]]:
    """Range starts and, per range, its scripts with _WRITING_SYSTEMS added; None for any script."""
    sets: list[frozenset[str] | None] = []
    for value in unicode_tables.SCRIPT_SETS.split():
        scripts = set(value.split("+"))
        if scripts & {"Zyyy", "Zinh"}:
            sets.append(None)  # Common and Inherited go with every script
            continue
        for script in list(scripts):
            scripts.update(_WRITING_SYSTEMS.get(script, ()))
        sets.append(frozenset(scripts))
    starts: list[int] = []
    by_range: list[frozenset[str] | None] = []
    for item in unicode_tables.SCRIPT_RANGES.split():
        start, _, index = item.partition(":")
        starts.append(int(start, 16))
        by_range.append(sets[int(index)])
    return starts, by_range


_SCRIPT_STARTS, _SCRIPTS = _script_sets()
_IGNORABLE = _ranges(unicode_tables.DEFAULT_IGNORABLE)
_SOFT_DOTTED = _ranges(unicode_tables.SOFT_DOTTED)
# For str.translate: code point -> prototype.
_CONFUSABLES = {
    int(source, 16): "".join(chr(int(cp, 16)) for cp in target.split("."))
    for source, _, target in (item.partition(">") for item in unicode_tables.CONFUSABLES.split())
}
_UNKNOWN = frozenset({"Zzzz"})
_LATIN = frozenset({"Latn"})


def scripts_of(ch: str) -> frozenset[str] | None:
    """The scripts ``ch`` is written in (Script_Extensions, short codes, with "Jpan", "Hanb" and
    "Kore" added to those of Han, kana, Bopomofo and Hangul); None for Common and Inherited
    characters (digits, "_", combining marks used by many scripts), which go with any script.
    ``{"Zzzz"}`` means the tables do not know the character."""
    return _SCRIPTS[bisect.bisect_right(_SCRIPT_STARTS, ord(ch)) - 1]


def category(ch: str, trusted: bool = False) -> str:
    """The general category of ``ch`` as this Python's ``unicodedata`` has it. With ``trusted``
    (a name or room from another node of the cluster, which accepted it), a character this
    Python does not know ("Cn") but the tables give a script is taken for a letter: a node on a
    newer Python (Unicode 15 in 3.12, 13 in 3.9) knew it, and refusing it here would leave that
    user's every message and presence entry unread on this node alone."""
    found = unicodedata.category(ch)
    if found == "Cn" and trusted and scripts_of(ch) != _UNKNOWN:
        return "Lo"
    return found


def is_invisible(ch: str) -> bool:
    """True for characters that show nothing: Default_Ignorable_Code_Point, fillers, blanks."""
    return ch in _BLANK or _in(ch, _IGNORABLE)


def skeleton(text: str) -> str:
    """The UTS #39 skeleton: NFD, each character mapped to its confusables prototype, NFD again.

    Two strings with the same skeleton look alike. Linear in ``text``; the result is only for
    comparing, never for showing.
    """
    return unicodedata.normalize("NFD", unicodedata.normalize("NFD", text).translate(_CONFUSABLES))


def fold(name: str) -> str:
    """The case-insensitive form of a name (NFKC, case-folded, NFKC): for sorting and for telling
    "the same name" from "a look-alike"."""
    return unicodedata.normalize("NFKC", unicodedata.normalize("NFKC", name).casefold())


def name_key(name: str) -> str:
    """The identity of a name: the skeleton of its case-folded form (see the module docstring)."""
    return skeleton(fold(name))


@functools.lru_cache(maxsize=4096)
def look_keys(name: str) -> tuple[str, ...]:
    """Every key under which ``name`` may look like another: ``name_key`` first, then the
    skeleton of its case-folded skeleton when that differs. Two names whose look keys meet
    cannot be told apart; the roster indexes everyone online by all of theirs.

    Cached (a pure function of the text): an IRC PRIVMSG names its channel, which is looked up
    twice per message (by ``core/irc.py`` and by the hub), each time five normalisations."""
    key = name_key(name)
    look = skeleton(skeleton(unicodedata.normalize("NFKC", name)).casefold())
    return (key,) if look == key else (key, look)


def display_form(name: str) -> str:
    """The name as its owner typed it, composed (NFC) so that it compares and prints stably."""
    return unicodedata.normalize("NFC", name)


def past_length(text: str, max_chars: int) -> bool:
    """True if ``text``, typed to look something up, is longer than any name or room of at most
    ``max_chars`` characters: the lookup is then "no such" without the keys being made. Asked
    first, since making them is NFKC, case folding and the skeleton, each of which can grow a
    character eighteenfold (U+FDFA), and ``look_keys`` keeps what it made. Typed decomposed (NFD),
    a name still fits: it is measured composed."""
    return len(text) > 4 * max_chars or len(display_form(text)) > max_chars


def _bare(key: str) -> str:
    """A key without the name punctuation, so that ``server.`` and ``_root`` meet ``server``."""
    return "".join(ch for ch in key if ch not in _PUNCTUATION)


class ReservedNames:
    """Names nobody may take, nor a look-alike of one, in any case and with the name punctuation
    ignored: ``RESERVED`` below, and the server's own name besides (``Hub``)."""

    def __init__(self, names: Iterable[str]) -> None:
        self._by_key = {
            _bare(key): fold(name) for name in sorted(names) if name for key in look_keys(name)
        }

    def find(self, name: str) -> str | None:
        """The reserved name (case-folded) that ``name`` looks like, if any."""
        for key in look_keys(name):
            reserved = self._by_key.get(_bare(key))
            if reserved is not None:
                return reserved
        return None


RESERVED = ReservedNames(RESERVED_NAMES)


def _common_scripts(chars: Iterable[str]) -> frozenset[str] | None:
    """The scripts that all of ``chars`` share: empty if none, None if any (no letter has one).

    A name is "single script" (UTS #39 5.1) unless this is empty.
    """
    common: frozenset[str] | None = None
    for ch in chars:
        scripts = scripts_of(ch)
        if scripts is not None:
            common = scripts if common is None else common & scripts
    return common


def _mixes_scripts(name: str) -> bool:
    """True unless ``name`` is "Highly Restrictive" (UTS #39 5.2): one script, or Latin with a
    Chinese, Japanese or Korean mix ("田中Taro", "Kim민수")."""
    if _common_scripts(name) != frozenset():
        return False
    rest = _common_scripts(ch for ch in name if scripts_of(ch) != _LATIN)
    return not (rest and rest & _WITH_LATIN)


def mixes_scripts(text: str) -> bool:
    """True if ``text`` is not in one script (room names follow the rule of chat names)."""
    return _mixes_scripts(text)


def mark_problem(name: str, subject: str = "name", enclosing: bool = True) -> str | None:
    """What is wrong with the combining marks of ``name`` (UTS #39 5.4), if anything; the
    sentence speaks of a ``subject`` ("name", "room name"). Without ``enclosing``, enclosing
    marks are not counted (the rule of versions before 2026-12-04, kept for what another node
    accepted).

    Checked on the skeleton, which is in NFD (marks in canonical order, so a repeated accent sits
    next to itself) and maps look-alikes on to one prototype: the dotless "ı" is an "i" there, and
    a dot above it would make it one. Enclosing marks (a circle, a keycap) count as marks: drawn
    twice on one letter, the second is not seen either.
    """
    run = 0
    base = ""
    previous = ""
    kinds = ("Mn", "Me") if enclosing else ("Mn",)
    for ch in skeleton(name):
        if unicodedata.category(ch) not in kinds:
            run, base, previous = 0, ch, ""
            continue
        run += 1
        if run > _MAX_MARKS_ON_A_LETTER:
            return f"A letter in a {subject} may carry at most {_MAX_MARKS_ON_A_LETTER} marks."
        if ch == previous:
            return f"A {subject} may not repeat a mark on one letter: it would not show."
        if ch == _DOT_ABOVE and base and _in(base, _SOFT_DOTTED):
            return f'A {subject} may not put a dot above "i", "j" or a letter that looks like them.'
        previous = ch
    return None


def name_problem(
    name: str, reserved: ReservedNames = RESERVED, trusted: bool = False
) -> tuple[str, str] | None:
    """Why ``name`` cannot be a chat name: (error code, sentence for the user); None if it can.

    This checks the name alone, against the ``reserved`` names; whether someone online has it or
    a look-alike is the roster's business (``look_keys``). ``trusted``: another node accepted
    it (``category``).
    """
    name = display_form(name)
    if not NAME_MIN_CHARS <= len(name) <= NAME_MAX_CHARS:
        return codes.NAME_INVALID, f"A name has {NAME_MIN_CHARS} to {NAME_MAX_CHARS} characters."
    if any(is_invisible(ch) for ch in name):
        return codes.NAME_INVALID, "A name may not contain invisible characters."
    zeros: set[int] = set()
    for i, ch in enumerate(name):
        kind = category(ch, trusted)
        if kind == "Nd":
            zeros.add(ord(ch) - unicodedata.decimal(ch))
        elif kind[0] == "L" or ch == "_":
            pass
        elif kind[0] == "M" and i > 0:
            pass
        elif ch in _PUNCTUATION and i > 0:
            pass
        else:
            return codes.NAME_INVALID, (
                "A name holds letters, digits, '_', '-' and '.', and starts with a letter, "
                "a digit or '_'."
            )
        if scripts_of(ch) == _UNKNOWN:
            return codes.NAME_INVALID, (
                f"A name may not use U+{ord(ch):04X}: this server does not know that character."
            )
    marks = mark_problem(name, enclosing=not trusted)
    if marks is not None:
        return codes.NAME_INVALID, marks
    if _mixes_scripts(name):
        return codes.NAME_INVALID, (
            "A name uses the letters of one script (Latin, Cyrillic, Greek, Arabic, ...), not "
            "several; Chinese, Japanese and Korean names may add Latin letters."
        )
    if len(zeros) > 1:
        # UTS #39 5.3: digits of two systems in one name are a known disguise ("৪" and "8").
        return codes.NAME_INVALID, "A name uses digits of one kind only."
    like = reserved.find(name)
    if like is not None:
        return codes.NAME_RESERVED, reserved_sentence(name, like)
    return None


def reserved_sentence(name: str, like: str) -> str:
    """Why ``name`` is refused when it is, or looks like, the reserved name ``like``."""
    if fold(name) == fold(like):
        return f'The name "{name}" is reserved. Choose another one.'
    return f'The name "{name}" looks like the reserved name "{like}". Choose another one.'
