"""Log filling (issue 11, finding 5): connect, ``/quit`` with a 4,000-byte reason, reconnect, as
fast as 20 connections from one address can. The quit needs no name and no password. The runner
measures the log's growth; this counts the cycles and the refusals."""

from __future__ import annotations

import asyncio
import time

from .net import open_stream, sources
from .phase import Arena, Attack

# Control bytes: each becomes U+FFFD (3 bytes) before the log sees it.
QUIT = b"/quit " + b"\x01" * 4000 + b"\n"
WORKERS = 20  # the per-address limit


def quit_flood(workers: int = WORKERS) -> Attack:
    """``workers`` loops of connect, quit with a long reason, read to the end, reconnect."""

    async def attack(arena: Arena) -> None:
        phase = arena.phase
        source = sources(1)[0]
        cycles = refused = failed = 0

        async def one() -> None:
            nonlocal cycles, refused, failed
            while not arena.over():
                try:
                    reader, writer = await open_stream(arena.port, source)
                except (OSError, asyncio.TimeoutError):
                    failed += 1
                    await arena.pause(0.05)
                    continue
                try:
                    writer.write(QUIT)
                    left = max(arena.until - time.monotonic(), 0.01)
                    answer = await asyncio.wait_for(reader.read(), left)
                    if answer.startswith(b"!!!"):
                        refused += 1  # turned away before the quit was read
                    else:
                        cycles += 1
                except (OSError, asyncio.TimeoutError):
                    pass
                finally:
                    writer.close()

        await asyncio.gather(*(one() for _ in range(workers)))
        phase.count("connect-quit cycles", cycles)
        if refused:
            phase.count("connections refused", refused)
        if failed:
            phase.count("connects that failed", failed)

    return attack
