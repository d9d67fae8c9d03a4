"""Look-alike names (issue 11, finding 4): with ``alice`` and ``bob`` online and the reserved
names known, try names that a reader takes for one of them, each on a connection of its own;
then names in other scripts that must stay welcome. A check, not a load: it ends when done."""

from __future__ import annotations

import asyncio

from .net import Refused, join, sources
from .phase import Arena
from .targets import LOOKALIKES_ACCEPTED, LOOKALIKES_TRIED, REAL_ACCEPTED, REAL_TRIED

HOLDERS = ("alice", "bob")
# (name, how the table shows it): the finding's list.
LOOKALIKES = (
    ("\u0430\u04cf\u0456\u0441\u0435", "аӏісе (Cyrillic, palochka)"),
    ("\u0251lice", "ɑlice (Latin alpha)"),
    ("al\u0131ce", "alıce (dotless i)"),
    ("alice\u034f", "alice+U+034F (grapheme joiner)"),
    ("alice\ufe0f", "alice+U+FE0F (variation selector)"),
    ("b\u0585b", "bօb (Armenian oh)"),
    ("b\u2c9fb", "bⲟb (Coptic o)"),
    ("\u3164", "U+3164 (Hangul filler)"),
    ("\u03a1\u039f\u039f\u03a4", "ΡΟΟΤ (Greek, for root)"),
    ("\ua731\u1d07\u0280\u1d20\u1d07\u0280", "ꜱᴇʀᴠᴇʀ (small capitals, for server)"),
    ("server.", "server."),
)
REAL_NAMES = ("Мария", "Σωκράτης", "李小龙", "José")
TRY_TIMEOUT_S = 3.0


async def _accepted(arena: Arena, name: str, source: str) -> bool | str:
    """True if the server let ``name`` in; otherwise what it answered."""
    try:
        _, writer = await join(
            arena.port, name, source=source, password=arena.phase.password, timeout=TRY_TIMEOUT_S
        )
    except Refused as exc:
        return str(exc)
    except (OSError, asyncio.TimeoutError) as exc:
        return type(exc).__name__
    writer.close()
    return True


async def lookalikes(arena: Arena) -> None:
    """Try every look-alike while the holders are online, then the real names."""
    phase = arena.phase
    holders = [await join(arena.port, name, password=phase.password) for name in HOLDERS]
    source = sources(1)[0]
    try:
        accepted = [
            label for name, label in LOOKALIKES if await _accepted(arena, name, source) is True
        ]
        refused_real = []
        for name in REAL_NAMES:
            answer = await _accepted(arena, name, source)
            if answer is not True:
                refused_real.append(f"{name} ({answer})")
    finally:
        for _, writer in holders:
            writer.close()
    phase.count("look-alikes accepted", len(accepted))
    phase.count("look-alikes tried", len(LOOKALIKES))
    phase.count("real names accepted", len(REAL_NAMES) - len(refused_real))
    phase.count("real names tried", len(REAL_NAMES))
    if accepted:
        phase.note("accepted: " + ", ".join(accepted))
    if refused_real:
        phase.note("real names refused: " + ", ".join(refused_real))
    phase.fact(LOOKALIKES_ACCEPTED, len(accepted))
    phase.fact(LOOKALIKES_TRIED, len(LOOKALIKES))
    phase.fact(REAL_ACCEPTED, len(REAL_NAMES) - len(refused_real))
    phase.fact(REAL_TRIED, len(REAL_NAMES))
