"""Cheap-line floods (issue 11, finding 2): ``/ping`` and blank lines, which cost the server CPU
but no flood tokens, sent as fast as the socket takes, by one connection or by twenty from one
address. Each flooder is in text mode, as in nc, and reads the server's answers (it is not a
slow reader); when dropped it reconnects."""

from __future__ import annotations

import asyncio
import math
import time

from .attacker import Attacker
from .counting import worst_stop
from .net import Refused, join, sources
from .phase import Arena, Attack
from .targets import ATTACKER_STOPPED_S, STOPPED_S

# 4,000 lines, half of them /ping and half blank, in one write.
PAYLOAD = b"/ping\n\n" * 2000


def cheap_flood(connections: int) -> Attack:
    """``connections`` flooders from one address (127.1.0.1)."""

    async def attack(arena: Arena) -> None:
        phase = arena.phase
        source = sources(1)[0]
        spans: list[tuple[float, bool]] = []
        first_refusals: list[float] = []  # seconds from joining, per connection refused
        drops: list[float] = []  # seconds from joining, per connection dropped
        reasons: dict[str, int] = {}
        answered = 0

        async def one(k: int) -> None:
            nonlocal answered
            n = 0
            while not arena.over():
                n += 1
                try:
                    stream = await join(arena.port, f"pinger{k}x{n}", source=source, text=True)
                except (Refused, OSError, asyncio.TimeoutError):
                    phase.count("joins refused")
                    await arena.pause(0.1)
                    continue
                conn = Attacker(stream)
                try:
                    while not arena.over() and not conn.ended:
                        conn.writer.write(PAYLOAD)
                        left = arena.until - time.monotonic()
                        await asyncio.wait_for(conn.writer.drain(), max(left, 0.01))
                except (OSError, asyncio.TimeoutError):
                    pass
                await asyncio.sleep(0.05)  # the server's last words, if it dropped us
                span = conn.stopped_after(min(time.monotonic(), arena.until))
                spans.append(span)
                if not math.isinf(conn.refused_at):
                    first_refusals.append(conn.refused_at - conn.joined)
                if conn.ended:
                    drops.append(conn.ended_at - conn.joined)
                    why = conn.reason or "closed without a word"
                    reasons[why] = reasons.get(why, 0) + 1
                phase.count("lines refused", conn.refusals)
                answered += conn.lines_received
                conn.close()

        await asyncio.gather(*(one(k) for k in range(connections)))
        # What the flooders wrote says little (the kernel buffers megabytes on loopback);
        # the pongs say how many pings the server worked through.
        phase.counters = {"pings the server answered": answered, **phase.counters}
        phase.count("flooder connections", len(spans))
        for why, n in sorted(reasons.items()):
            phase.count(f"dropped: {why}", n)
        for what, times in (("first refusal", first_refusals), ("dropped", drops)):
            if times:
                phase.note(f"{what} after {min(times):.2f} to {max(times):.2f} s")
        kept = sum(1 for _, stopped in spans if not stopped)
        if kept:
            phase.note(f"{kept} flooders neither refused nor dropped by the end")
        phase.fact(ATTACKER_STOPPED_S, worst_stop(spans, STOPPED_S))

    return attack
