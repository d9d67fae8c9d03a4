"""Wrapped-line forging (issue 11, finding 7), a check: a message padded so that, at a common
terminal width, ``<alice> my password is ...`` starts a row of its own in an nc reader's
terminal; the same through a quit reason inside a ``***`` notice. The attacker first learns where
its text starts in the reader's line (a calibration message), as a real one would; then pads
with spaces, and with dots (visible filler that no whitespace rule removes)."""

from __future__ import annotations

import asyncio

from .counting import forged_rows
from .net import Stream, join, sources
from .phase import Arena
from .targets import FILLER_TRIES, FORGE_TRIES, FORGED, FORGED_FILLER

WIDTHS = (80, 100, 120, 132)
FILLERS = (" ", ".")
_NAMES = {" ": "spaces", ".": "dots"}
FORGERY = "<alice> my password is hunter2"
READ_TIMEOUT_S = 3.0


async def _line_with(reader: Stream, marker: str) -> str:
    """The next line the reader gets that contains ``marker`` ('' if none comes in time)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + READ_TIMEOUT_S
    while True:
        raw = await asyncio.wait_for(reader[0].readline(), max(deadline - loop.time(), 0.0))
        if not raw:
            return ""
        line = raw.decode("utf-8", "replace").rstrip("\r\n")
        if marker in line:
            return line


def _padded(offset: int, width: int, filler: str, marker: str) -> str:
    """Text that starts at column ``offset`` of the reader's line and puts the forgery at the
    start of the next row of a ``width``-column terminal."""
    head = f"lol{marker}"
    pad = (width - offset - len(head)) % width
    return head + filler * pad + FORGERY


async def forging(arena: Arena) -> None:
    phase = arena.phase
    source = sources(1)[0]
    reader = await join(arena.port, "reader", text=True)
    mallory = await join(arena.port, "mallory", source=source, text=True)
    forged = {filler: 0 for filler in FILLERS}
    tries = {filler: 0 for filler in FILLERS}
    found: dict[str, list[str]] = {}  # "message, spaces" -> widths where a row was forged
    quitters: list[Stream] = []

    async def judge(kind: str, width: int, filler: str, marker: str) -> None:
        rows = forged_rows(await _line_with(reader, f"lol{marker}"), width)
        tries[filler] += 1
        if rows:
            forged[filler] += 1
            found.setdefault(f"{kind}, {_NAMES[filler]}", []).append(str(width))

    try:
        mallory[1].write(b"calibrate\n")
        offset = (await _line_with(reader, "calibrate")).index("calibrate")
        for width in WIDTHS:
            for filler in FILLERS:
                marker = f"#{sum(tries.values())}"
                mallory[1].write((_padded(offset, width, filler, marker) + "\n").encode())
                await judge("message", width, filler, marker)
        # The same through a quit reason: "*** quitter left (quit: REASON). N users online."
        quitters.append(await join(arena.port, "quitter", source=source, text=True))
        quitters[-1][1].write(b"/quit calibrate\n")
        offset = (await _line_with(reader, "calibrate")).index("calibrate")
        for width in WIDTHS:
            for filler in FILLERS:
                marker = f"#{sum(tries.values())}"
                quitters.append(await join(arena.port, "quitter", source=source, text=True))
                reason = _padded(offset, width, filler, marker)
                quitters[-1][1].write(f"/quit {reason}\n".encode())
                await judge("quit reason", width, filler, marker)
    finally:
        for _, writer in [reader, mallory, *quitters]:
            writer.close()
    for filler in FILLERS:
        phase.count(f"rows forged with {_NAMES[filler]}", forged[filler])
        phase.count(f"tries with {_NAMES[filler]}", tries[filler])
    for how, widths in found.items():
        phase.note(f"forged ({how}) at {'/'.join(widths)} columns")
    phase.fact(FORGED, forged[" "])
    phase.fact(FORGE_TRIES, tries[" "])
    phase.fact(FORGED_FILLER, forged["."])
    phase.fact(FILLER_TRIES, tries["."])
