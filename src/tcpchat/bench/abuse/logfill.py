"""Log filling (issue 11, finding 5): connect, ``/quit`` with a 4,000-byte reason, reconnect, as
fast as 20 connections from one address can. The quit needs no name and no password. The reason
is control bytes (each 3 bytes once neutralised): 4,000 as in the finding, or as many as keep the
line within the limit once neutralised, for a server that refuses longer ones. The runner
measures the log's growth; this counts the cycles and the refusals."""

from __future__ import annotations

import asyncio
import time

from .net import CONTROL_BYTES, fitting_control_bytes, open_stream, sources
from .phase import Arena, Attack

WORKERS = 20  # the per-address limit
# A server that does not take the quit (an over-long line) leaves the session open: give up on
# it after this long and connect again.
ANSWER_TIMEOUT_S = 1.0


def quit_flood(workers: int = WORKERS, fit: bool = False) -> Attack:
    """``workers`` loops of connect, quit with a long reason, read to the end, reconnect."""
    prefix = b"/quit "
    control = fitting_control_bytes(prefix) if fit else CONTROL_BYTES
    quit = prefix + b"\x01" * control + b"\n"

    async def attack(arena: Arena) -> None:
        phase = arena.phase
        source = sources(1)[0]
        cycles = refused = failed = unanswered = 0

        async def one() -> None:
            nonlocal cycles, refused, failed, unanswered
            while not arena.over():
                try:
                    reader, writer = await open_stream(arena.port, source)
                except (OSError, asyncio.TimeoutError):
                    failed += 1
                    await arena.pause(0.05)
                    continue
                try:
                    writer.write(quit)
                    left = max(min(arena.until - time.monotonic(), ANSWER_TIMEOUT_S), 0.01)
                    answer = await asyncio.wait_for(reader.read(), left)
                    if answer.startswith(b"!!!"):
                        refused += 1  # turned away before the quit was read
                    else:
                        cycles += 1
                except asyncio.TimeoutError:
                    unanswered += 1
                except OSError:
                    pass
                finally:
                    writer.close()

        await asyncio.gather(*(one() for _ in range(workers)))
        phase.note(f"each reason {control} control bytes")
        phase.count("connect-quit cycles", cycles)
        if unanswered:
            phase.count("quits not taken (closed by us after 1 s)", unanswered)
        if refused:
            phase.count("connections refused", refused)
        if failed:
            phase.count("connects that failed", failed)

    return attack
