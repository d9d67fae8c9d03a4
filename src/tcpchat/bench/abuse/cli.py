"""``python -m tcpchat.bench.abuse``: choose the phases, run them, print the tables, and write
them into a section of a Markdown file."""

from __future__ import annotations

import argparse
import asyncio
import fnmatch
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path

from ..servers import can_pin
from . import __doc__ as about
from .catalogue import catalogue
from .defaults import raise_file_limit
from .phase import PHASE_S, Phase
from .runner import run_phase
from .table import render, render_targets, write_section

# The measuring process holds every attacker's socket (5,000 silent ones, plus users and probes).
FILES_WANTED = 16384


def _parser(names: Sequence[str]) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m tcpchat.bench.abuse", description=about)
    parser.add_argument(
        "--phase",
        action="append",
        metavar="NAME",
        help="run only this phase (repeatable; shell patterns such as 'silent-*' work); "
        "--list shows the names",
    )
    parser.add_argument("--list", action="store_true", help="list the phases and exit")
    parser.add_argument(
        "--seconds",
        type=float,
        default=PHASE_S,
        help=f"length of each phase in seconds (default {PHASE_S:g}; shorter for a quick re-run)",
    )
    parser.add_argument(
        "--write",
        metavar="FILE",
        help="write the tables into FILE between <!-- SECTION:begin --> and <!-- SECTION:end -->, "
        "keeping the rows of phases not run this time",
    )
    parser.add_argument(
        "--section",
        default="abuse",
        help="the section of FILE to write (default: abuse, the first round's table)",
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    plan = catalogue()
    names = [phase.name for phase, _ in plan]
    parser = _parser(names)
    args = parser.parse_args(argv)
    if args.list:
        for phase, _ in plan:
            print(f"{phase.name:24} {phase.attack}")
        return 0
    if args.seconds <= 0:
        parser.error("--seconds must be positive")
    if args.phase:
        for pattern in args.phase:
            if not fnmatch.filter(names, pattern):
                parser.error(f"no phase matches {pattern!r} (see --list)")
        plan = [(p, a) for p, a in plan if any(fnmatch.fnmatch(p.name, x) for x in args.phase)]
    doc = ""
    if args.write:
        try:
            doc = Path(args.write).read_text(encoding="utf-8")
            write_section(doc, args.section, [], names)  # fail now, not after the run
        except (OSError, ValueError) as exc:
            print(f"cannot write to {args.write}: {exc}", file=sys.stderr)
            return 1
    raise_file_limit(FILES_WANTED)
    results: list[Phase] = []
    with tempfile.TemporaryDirectory(prefix="tcpchat-abuse-") as tmp:
        for phase, attack in plan:
            phase.seconds = args.seconds
            print(f"phase {phase.name} ...", file=sys.stderr, flush=True)
            try:
                results.append(asyncio.run(run_phase(phase, attack, Path(tmp), can_pin())))
            except RuntimeError as exc:  # the server did not start
                print(f"phase {phase.name} failed: {exc}", file=sys.stderr)
                return 1
    print(render(results))
    print()
    print(render_targets(results))
    if args.write:
        Path(args.write).write_text(write_section(doc, args.section, results, names), "utf-8")
    return 0
