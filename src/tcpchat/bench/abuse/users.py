"""The ten ordinary users every phase measures: they join before the attack, then each sends a
stamped line 1.5 times a second (under the flood limit) and times the lines of the others."""

from __future__ import annotations

import asyncio
import time

from .counting import parse_json_line
from .net import Refused, Stream, join
from .phase import USER_RATE, USERS, Arena


async def join_users(arena: Arena) -> list[tuple[int, Stream]]:
    """Join the ordinary users (JSON mode, from 127.0.0.1); the ones who got in, by index."""
    phase = arena.phase
    tries = await asyncio.gather(
        *(join(arena.port, f"user{i}", password=phase.password) for i in range(USERS)),
        return_exceptions=True,
    )
    joined: list[tuple[int, Stream]] = []
    for index, result in enumerate(tries):
        if isinstance(result, BaseException):
            why = str(result) if isinstance(result, Refused) else type(result).__name__
            phase.note(f"user{index} could not join: {why}")
        else:
            joined.append((index, result))
    phase.joined = len(joined)
    return joined


async def chat(arena: Arena, index: int, stream: Stream) -> None:
    """Send a stamped line every 1/USER_RATE s for the phase's length, time the others'
    lines, and record who was dropped (from leave notices, or this user's own disconnect)."""
    phase = arena.phase
    reader, writer = stream
    name = f"user{index}"
    gone = asyncio.Event()

    async def listen() -> None:
        while True:
            line = await reader.readline()
            if not line:
                if not arena.stop.is_set():
                    phase.users_dropped.setdefault(name, "disconnected")
                gone.set()
                return
            event = parse_json_line(line) or {}
            kind = event.get("type")
            if kind == "message" and str(event.get("from", "")).startswith("user"):
                stamp = str(event.get("text", "")).rpartition("@")[2]
                try:
                    phase.latencies_ms.append((time.monotonic() - float(stamp)) * 1000)
                except ValueError:
                    continue
                phase.received += 1
            elif kind == "leave" and str(event.get("name", "")).startswith("user"):
                phase.users_dropped[str(event["name"])] = str(event.get("reason", ""))
            elif kind == "bye":
                phase.users_dropped[name] = str(event.get("reason", "bye"))

    listener = asyncio.ensure_future(listen())
    try:
        start = arena.started
        planned = int(phase.seconds * USER_RATE) + 1
        for seq in range(planned):
            if arena.over() or gone.is_set():
                if gone.is_set():
                    phase.unsent += planned - seq
                break
            writer.write(f"hello {index}.{seq} @{time.monotonic():.6f}\n".encode())
            phase.sent += 1
            await arena.pause(start + (seq + 1) / USER_RATE - time.monotonic())
        await arena.stop.wait()  # set once the last lines had time to arrive
    finally:
        listener.cancel()
        writer.close()
