"""The tables of the abuse benchmark and the generated section of docs/RELIABILITY.md.

Pure functions. A section is written between ``<!-- NAME:begin -->`` and ``<!-- NAME:end -->``;
rows of phases that were not run this time are kept, so one attack can be measured again after
its fix without losing the figures of the others. Each row carries its date and phase length.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from ..report import table
from ..stats import percentile
from .phase import USERS, Phase
from .targets import judge

FIGURES_HEADER = [
    "phase",
    "attack",
    "ordinary users' latency p50 / p99 / max (ms)",
    "their messages lost",
    "server RSS MiB (idle -> peak)",
    "attack counters",
    "server log: growth, rate in the 2nd half",
    "measured",
]
TARGETS_HEADER = ["phase", "target (issue 11)", "measured", "met"]
_MEASURED = re.compile(r"Measured (\d{4}-\d{2}-\d{2})")


def _cell(text: str) -> str:
    return text.replace("|", "/").replace("\n", " ")


def figures_row(p: Phase) -> list[str]:
    """One phase as a row of the figures table."""
    if p.users:
        ordered = sorted(p.latencies_ms)
        expected = p.expected
        latency = (
            f"{percentile(ordered, 0.5):.1f} / {percentile(ordered, 0.99):.1f} / "
            f"{(ordered[-1] if ordered else 0):.1f}"
        )
        lost = f"{expected - p.received} of {expected}"
    else:
        latency = lost = "-"
    counters = [f"{k}: {v}" for k, v in p.counters.items()] + p.notes
    if "held" in p.targets and p.server_sockets >= 0:
        counters.append(
            f"server's sockets at the peak: {p.server_sockets}; "
            f"attackers' held: {p.attacker_sockets}"
        )
    if p.log_bytes >= 0:
        log = f"{p.log_bytes / 1000:.1f} KB, {p.log_rate / 1000:.1f} KB/s ({p.log_level})"
        extra = [f"{n} {level}" for level, n in sorted(p.log_levels.items()) if level != "INFO"]
        extra += [f"{n} 'dropping client: {why}'" for why, n in sorted(p.log_drops.items())]
        if extra:
            log += "; " + ", ".join(extra)
    else:
        log = ""
    row = [
        p.name,
        p.attack,
        latency,
        lost,
        f"{p.baseline_rss_kib / 1024:.1f} -> {p.peak_rss_kib / 1024:.1f}",
        "; ".join(counters),
        log,
        p.measured,
    ]
    return [_cell(c) for c in row]


def render(phases: Sequence[Phase]) -> str:
    """The figures table: the ordinary users' latency, loss and memory, and the attack's own."""
    return table(FIGURES_HEADER, [figures_row(p) for p in phases])


def targets_rows(phases: Sequence[Phase]) -> list[list[str]]:
    return [[p.name, *(_cell(c) for c in row)] for p in phases for row in judge(p)]


def render_targets(phases: Sequence[Phase]) -> str:
    """Each target of issue 11 that a phase is judged by, with the figure and whether it is met."""
    return table(TARGETS_HEADER, targets_rows(phases))


def parse_tables(text: str) -> list[tuple[list[str], list[list[str]]]]:
    """The Markdown tables in ``text`` as (header, rows), in order."""
    tables: list[tuple[list[str], list[list[str]]]] = []
    current: list[list[str]] | None = None
    for line in text.splitlines():
        if not line.startswith("|"):
            current = None
            continue
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if current is None:
            current = []
            tables.append((cells, current))
        elif not all(set(c) <= {"-", ":"} for c in cells):  # not the rule under the header
            current.append(cells)
    return tables


def merge(
    old: Sequence[Sequence[str]], new: Sequence[Sequence[str]], order: Sequence[str]
) -> list[list[str]]:
    """Rows of ``old`` whose phase (first cell) is not in ``new``, plus all of ``new``, sorted by
    the phases' place in ``order`` (unknown phases last, as they were)."""
    fresh = {row[0] for row in new}
    rows = [list(r) for r in old if r and r[0] not in fresh] + [list(r) for r in new]
    place = {name: i for i, name in enumerate(order)}
    return sorted(rows, key=lambda r: place.get(r[0], len(place)))  # stable for equal keys


def section(phases: Sequence[Phase], previous: str, order: Sequence[str]) -> str:
    """The text between a section's markers: the figures and targets of ``phases`` merged with
    the rows of other phases in ``previous`` (the section's current text)."""
    old_figures: list[list[str]] = []
    old_targets: list[list[str]] = []
    stamp = _MEASURED.search(previous)
    for header, rows in parse_tables(previous):
        if header[:6] == FIGURES_HEADER[:6]:
            width = len(FIGURES_HEADER)
            # A row of the first format has six cells: it gets the date of its "Measured" line.
            date = stamp.group(1) if stamp else ""
            for row in rows:
                padded = row + [""] * (width - len(row))
                if len(row) < width and not padded[-1]:
                    padded[-1] = date
                old_figures.append(padded[:width])
        elif header == TARGETS_HEADER:
            old_targets = rows
    figures = merge(old_figures, [figures_row(p) for p in phases], order)
    fresh = {p.name for p in phases}
    targets = [r for r in old_targets if r[0] not in fresh] + targets_rows(phases)
    place = {name: i for i, name in enumerate(order)}
    targets.sort(key=lambda r: place.get(r[0], len(place)))
    return (
        f"\nMeasured by `python -m tcpchat.bench.abuse` ({USERS} ordinary users; the date and\n"
        "phase length of each row are in its last column):\n\n"
        f"{table(FIGURES_HEADER, figures)}\n\n"
        "Targets of issue 11 (`yes` met, `NO` missed, `n/a` not measured by that phase):\n\n"
        f"{table(TARGETS_HEADER, targets)}\n"
    )


def write_section(doc: str, name: str, phases: Sequence[Phase], order: Sequence[str]) -> str:
    """``doc`` with the section ``name`` rewritten; ValueError if its markers are missing."""
    begin, end = f"<!-- {name}:begin -->", f"<!-- {name}:end -->"
    head, found, rest = doc.partition(begin)
    previous, found_end, tail = rest.partition(end)
    if not found or not found_end:
        raise ValueError(f"no {begin} ... {end} markers")
    return f"{head}{begin}{section(phases, previous, order)}{end}{tail}"
