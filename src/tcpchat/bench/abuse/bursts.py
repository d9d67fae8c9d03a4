"""Bursts within the limits (issue 11, finding 3): several users from one address each paste the
flood burst's worth of lines (10) of control bytes at once, to everyone or as whispers to one
ordinary user: 4,000 of them a line as in the finding, or as many as stay within the line limit
once neutralised (a server that holds neutralised lines to the limit refuses the former). Every
connection involved reads promptly; none should be dropped. The burst repeats each time the
senders' token buckets are full again."""

from __future__ import annotations

import asyncio

from . import defaults
from .attacker import Attacker
from .net import CONTROL_BYTES, Refused, fitting_control_bytes, join, sources
from .phase import Arena, Attack
from .targets import SENDERS_DROPPED, SENDERS_STOPPED

LINES = defaults.FLOOD_BURST  # the whole burst, at once
# The bucket refills the burst in this long; the next paste waits a little more.
ROUND_S = defaults.FLOOD_BURST / defaults.FLOOD_RATE_PER_S + 0.2
_READER_DROPS = ("closed without a word", "send queue exceeded")
JOIN_LINES = 2


def burst(senders: int, to: str = "", fit: bool = False) -> Attack:
    """``senders`` users from 127.1.0.1 paste LINES lines of control bytes each at once; with
    ``to``, as whispers to that (ordinary) user; with ``fit``, lines within the line limit."""
    prefix = f"/w {to} ".encode() if to else b""
    control = fitting_control_bytes(prefix) if fit else CONTROL_BYTES
    line = prefix + b"\x01" * control + b"\n"

    async def attack(arena: Arena) -> None:
        phase = arena.phase
        source = sources(1)[0]
        conns: list[Attacker | None] = [None] * senders
        dropped: dict[str, int] = {}
        joins = rounds = 0

        def note_drop(conn: Attacker) -> None:
            why = conn.reason or "closed without a word"
            dropped[why] = dropped.get(why, 0) + 1

        async def ready(k: int) -> bool:
            """Join sender ``k`` again if it is gone; True if it (re)joined now."""
            nonlocal joins
            conn = conns[k]
            if conn is not None and not conn.ended:
                return False
            if conn is not None:
                note_drop(conn)
                conn.close()
            joins += 1
            try:
                conns[k] = Attacker(await join(arena.port, f"paster{k}x{joins}", source=source))
            except (Refused, OSError, asyncio.TimeoutError):
                conns[k] = None
                phase.count("sender joins refused")
            return True

        try:
            while not arena.over():
                if any(await asyncio.gather(*(ready(k) for k in range(senders)))):
                    # Joining took two lines of the burst (/mode, the name): a paste of the
                    # whole burst waits until they are back.
                    await arena.pause(JOIN_LINES / defaults.FLOOD_RATE_PER_S + 0.1)
                for conn in conns:
                    if conn is not None:
                        conn.writer.write(line * LINES)
                rounds += 1
                await arena.pause(ROUND_S)
            await asyncio.sleep(0.1)  # a drop at the very end still counts
            for conn in conns:
                if conn is not None and conn.ended:
                    note_drop(conn)
        finally:
            for conn in conns:
                if conn is not None:
                    conn.close()
        kind = "whispers to " + to if to else "lines to everyone"
        phase.counters = {
            f"bursts ({senders} x {LINES} {kind}, {control} control bytes each)": rounds,
            **phase.counters,
        }
        for why, n in sorted(dropped.items()):
            phase.count(f"senders dropped: {why}", n)
        # Dropped without a word (an abort) is a reader's drop ("send queue exceeded"); with a
        # farewell, the server stopped the sender for what it sent (over-long lines, say).
        as_readers = sum(n for why, n in dropped.items() if why in _READER_DROPS)
        phase.fact(SENDERS_DROPPED, as_readers)
        phase.fact(SENDERS_STOPPED, sum(dropped.values()) - as_readers)

    return attack
