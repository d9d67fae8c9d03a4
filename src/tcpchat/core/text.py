"""User text made safe, once, at the entrance: control characters neutralised, blank padding cut.

``neutralise`` replaces every character that could move a cursor, start a line or reorder text;
``neutralise_line`` also cuts runs of blank characters (docs/PROTOCOL.md section 1). The decoder
applies them to every line a client sends; clients apply ``neutralise`` again to what they show.
"""

from __future__ import annotations

import functools
import re
import unicodedata

from .limits import MAX_BLANK_RUN

# --- neutralising control characters and blank padding ---------------------------------------

REPLACEMENT = "\ufffd"
# Every character that could move a cursor, start a line or reorder text.
UNSAFE: tuple[int, ...] = (
    *range(0x00, 0x20),  # C0 controls, ESC among them
    *range(0x7F, 0xA0),  # DEL and C1 (CSI is U+009B)
    0x2028,  # line separator
    0x2029,  # paragraph separator
    *range(0x202A, 0x202F),  # bidi embeddings and overrides
    *range(0x2066, 0x206A),  # bidi isolates
    *range(0xD800, 0xE000),  # surrogates: no character (none in UTF-8; a JSON escape makes one)
)
# For people: each becomes U+FFFD, a TAB a space.
_NEUTRAL: dict[int, str] = {c: REPLACEMENT for c in UNSAFE}
_NEUTRAL[0x09] = " "
# For the log: each is escaped (\x1b, \u202e), so the record keeps the evidence.
_ESCAPED: dict[int, str] = {c: f"\\x{c:02x}" if c < 0x100 else f"\\u{c:04x}" for c in UNSAFE}


# The same characters dropped instead (a tab still becomes a space).
_DROPPED: dict[int, str | None] = {c: None for c in _NEUTRAL}
_DROPPED[0x09] = " "


def neutralise(text: str, escape: bool = False, drop: bool = False) -> str:
    """Replace every character that could move a cursor, start a line or reorder text: with
    U+FFFD (a TAB with a space), with its escape (``\\x1b``) when ``escape`` is true, or with
    nothing when ``drop`` is true.

    Applied once to every decoded line (by ``neutralise_line``), so the hub and every renderer
    only ever see clean text: one gate at the entrance rather than one at every exit. The log's
    formatter escapes every record again (addresses, paths, exception text: the record keeps the
    evidence), clients neutralise again what they show, and the client's line editor drops them
    from what is typed or pasted (a stray control byte there is noise, not evidence).
    """
    if text.isprintable():  # nothing to replace: every character above is non-printable
        return text
    return text.translate(_ESCAPED if escape else _DROPPED if drop else _NEUTRAL)


# Characters that move the cursor but show nothing, besides the space separators (Zs, which
# ``\s`` covers): letters and symbols that fonts draw empty. Format characters (Cf) and the
# unassigned code points reserved as default-ignorable are blank too: most terminals draw them as
# nothing, but some give them a column, and a run of them must not become padding there.
_BLANK_LOOKALIKES = (
    "\u115f\u1160"  # Hangul choseong and jungseong fillers
    "\u2800"  # braille pattern blank
    "\u3164\uffa0"  # Hangul filler, halfwidth Hangul filler
    "\U0001d159"  # musical symbol null notehead
)
# Default-ignorable marks (Mn, where most marks show on the letter before them): variation
# selectors, the combining grapheme joiner, Khmer's inherent vowels, Mongolian's free variation
# selectors. Alone they show nothing.
_IGNORABLE_MARKS = frozenset(
    "\u034f\u17b4\u17b5\u180b\u180c\u180d\u180f"
    + "".join(map(chr, range(0xFE00, 0xFE10)))
    + "".join(map(chr, range(0xE0100, 0xE01F0)))
)
_RESERVED_IGNORABLE: tuple[tuple[int, int], ...] = (
    (0x2065, 0x2065),
    (0xFFF0, 0xFFF8),
    (0xE0000, 0xE0000),
    (0xE0002, 0xE001F),
    (0xE0080, 0xE00FF),
    (0xE01F0, 0xE0FFF),
)
# Outside these planes no character is a mark or a format character.
_MARK_PLANES = (range(0x20000), range(0xE0000, 0xE1000))
_ASCII_CAP = " " * MAX_BLANK_RUN
# framing.py's fast path lets a line through untouched when it holds none of these: a run of
# spaces one longer than allowed, and the ASCII controls.
ASCII_RUN = " " * (MAX_BLANK_RUN + 1)
_ASCII_RUNS_RE = re.compile(f" {{{MAX_BLANK_RUN + 1},}}")
ASCII_RUN_BYTES = ASCII_RUN.encode()
ASCII_CONTROLS = bytes([*range(0x20), 0x7F])
# A line shorter than this is checked as a str: on bytes, the calls cost more than they save.
CHECK_BYTES_FROM = 256


def _char_class(codes: list[int]) -> str:
    """A regular-expression character set body for ``codes`` (sorted), as ranges."""
    parts: list[str] = []
    start = end = -2
    for code in [*codes, -2]:
        if code == end + 1:
            end = code
            continue
        if start >= 0:
            low, high = re.escape(chr(start)), re.escape(chr(end))
            parts.append(low if start == end else f"{low}-{high}")
        start = end = code
    return "".join(parts)


@functools.cache
def _padding() -> tuple[re.Pattern[str], re.Pattern[str]]:
    """Two patterns over neutralised text: a space followed by what may be a combining mark (the
    quick test), and a run of more than MAX_BLANK_RUN blanks with the first MAX_BLANK_RUN as
    group 1.

    Combining marks (Mn, Me) take no column: between blanks they neither end a run nor count, so
    a space with a mark on it, repeated, is a run too. The sets come from the interpreter's own
    Unicode tables, scanned on first use (about 10 ms, which a process that never meets text
    other than ASCII need not pay).
    """
    blanks: list[int] = []
    marks: list[int] = []
    for plane in _MARK_PLANES:
        for code in plane:
            category = unicodedata.category(chr(code))
            if category == "Cf":
                blanks.append(code)
            elif category in ("Mn", "Me"):
                marks.append(code)
    blanks += [ord(c) for c in _BLANK_LOOKALIKES]
    blanks += [c for low, high in _RESERVED_IGNORABLE for c in range(low, high + 1)]
    bmp_marks = _char_class([c for c in marks if c <= 0xFFFF])
    # Outside the BMP the quick test takes the span of each plane's marks whole: a long list of
    # ranges is slow to test, and it would be tested after every space.
    planes = ([c for c in marks if 0xFFFF < c < 0xE0000], [c for c in marks if c >= 0xE0000])
    spans = "".join(f"{chr(min(found))}-{chr(max(found))}" for found in planes)
    space_mark = re.compile(f" [{bmp_marks}{spans}]")
    blank = f"[\\s{_char_class(sorted(set(blanks)))}]"
    # The exact test tries the marks outside the BMP only for characters outside it, for the
    # same reason.
    astral_marks = _char_class([c for c in marks if c > 0xFFFF])
    mark = f"(?:[{bmp_marks}]|(?=[^\\x00-\\uffff])[{astral_marks}])*"
    one = f"{blank}{mark}"
    runs = re.compile(f"({one * MAX_BLANK_RUN}){one}(?:{one})*")
    return space_mark, runs


def is_blank(text: str) -> bool:
    """True if nothing of ``text`` shows: only white space, format characters (zero-width space,
    joiners, soft hyphen), the default-ignorable marks (variation selectors ...), reserved
    default-ignorable code points and letters fonts draw empty (Hangul fillers, the braille
    blank). A message so made would read as an empty line from its
    sender; it is refused as an empty one is. Stops at the first visible character."""
    if text.isascii():
        return not text.strip()
    for c in text:
        if c.isspace() or c in _BLANK_LOOKALIKES or c in _IGNORABLE_MARKS:
            continue
        kind = unicodedata.category(c)
        if kind == "Cf" or (
            kind == "Cn" and any(low <= ord(c) <= high for low, high in _RESERVED_IGNORABLE)
        ):
            continue
        return False
    return True


def _has_blank_lookalike(text: str) -> bool:
    """Whether ``text`` holds a letter or symbol that fonts draw empty (six substring searches,
    faster than a regular expression)."""
    for c in _BLANK_LOOKALIKES:
        if c in text:
            return True
    return False


def neutralise_line(text: str) -> str:
    """What the server does to every line a client sends: ``neutralise``, then cut every run of
    more than MAX_BLANK_RUN blank characters to its first MAX_BLANK_RUN.

    Blank is everything that moves the cursor but shows nothing (see ``_BLANK_LOOKALIKES``), so
    no padding can push a user's text to the start of a row on a terminal that wraps the line:
    padding made of visible characters stays visible. Returns ``text`` itself when nothing changed.
    """
    printable = text.isprintable()
    if not printable:
        text = text.translate(_NEUTRAL)
        printable = text.isprintable()  # unless there was more than control characters
    # Every blank but the space and the look-alikes is unprintable; without those and without a
    # mark on a space, a run of blanks is a run of spaces: a substring, found as fast as
    # ``isprintable`` runs.
    only_spaces = text.isascii() or (
        printable and not _has_blank_lookalike(text) and _padding()[0].search(text) is None
    )
    if only_spaces:
        return text if ASCII_RUN not in text else _ASCII_RUNS_RE.sub(_ASCII_CAP, text)
    return _padding()[1].sub(r"\1", text)


# Wide on terminals (glibc's wcwidth, tmux; Unicode 16 made them so) although the tables of the
# Pythons we run on (Unicode 13 to 15.1) call them narrow or ambiguous: circled numbers on
# black squares, and the Yijing hexagrams.
_WIDE_SINCE_16 = (("\u3248", "\u324f"), ("\u4dc0", "\u4dff"))


def is_wide(c: str) -> bool:
    """True if a terminal gives ``c`` two columns: East Asian wide or fullwidth (CJK, most emoji),
    or one of the characters Unicode 16 made wide."""
    if unicodedata.east_asian_width(c) in ("W", "F"):
        return True
    return any(first <= c <= last for first, last in _WIDE_SINCE_16)


def char_width(c: str) -> int:
    """Columns a character takes on a terminal, as terminals count them (``wcwidth``): 0 for
    marks that go on the character before them (Mn, Me) and for format characters (Cf: zero
    width space and joiners, the direction marks) but the soft hyphen, and for the vowels and
    final consonants of decomposed Hangul, which join the syllable before them; 2 for wide (CJK),
    else 1.

    Marks with no combining class count too: Thai vowels and Devanagari's are Mn with none, and
    the cursor was drawn a column to the right for each one before it. The emoji presentation
    selector (U+FE0F) is the exception, a column as ``client/render.cell_width`` counts it:
    terminals disagree, and many draw the character before it wide (``❤️``). Used for the input
    line and for aligning tables (``sentences``).
    """
    if c < "\u00ad":  # ASCII and most of Latin-1 (typed text holds no control character)
        return 1
    if c == "\ufe0f" or c == "\u00ad":
        return 1
    if unicodedata.category(c) in ("Mn", "Me", "Cf"):
        return 0
    if "\u1160" <= c <= "\u11ff" or "\ud7b0" <= c <= "\ud7ff":
        return 0
    return 2 if is_wide(c) else 1


def text_width(text: str) -> int:
    """The columns ``text`` takes on a terminal (``char_width``)."""
    return sum(char_width(c) for c in text)


def pad(text: str, width: int) -> str:
    """``text`` and the spaces that make it ``width`` columns wide (``str.ljust`` by columns)."""
    return text + " " * max(width - text_width(text), 0)
