"""The attacks of the first abuse review: flooders, clients that never read, a connection storm,
slowloris connections (docs/RELIABILITY.md, "Figures under attack")."""

from __future__ import annotations

import asyncio
import time

from .net import CONNECT_TIMEOUT_S, USER_ADDRESS, open_stream, sources
from .phase import Arena

LOUD_RATE = 150  # lines a second of 4 KB from the loud user in the never-readers phase


async def flooders(arena: Arena) -> None:
    """Twenty clients that send as fast as the socket takes, reconnecting when dropped."""
    phase = arena.phase

    async def one(k: int, source: str) -> None:
        line = b"flood " + b"x" * 400 + b"\n"
        while not arena.over():
            try:
                reader, writer = await open_stream(arena.port, source)
                writer.write(f"flooder{k}\n".encode())
                phase.count("flooder connections (each dropped)")
                while not arena.over() and not reader.at_eof():
                    writer.write(line * 20)
                    await writer.drain()
                writer.close()
            except (OSError, asyncio.TimeoutError):
                await arena.pause(0.05)

    await asyncio.gather(*(one(k, src) for k, src in enumerate(sources(20))))


async def never_readers(arena: Arena) -> None:
    """200 clients that join with a 4 KiB receive buffer and never read, while a loud user
    sends 4 KB lines 150 times a second: in 10 s, 6 MB for each, more than the kernel's socket
    buffers and the outbox limit together."""
    phase = arena.phase
    writers = []
    for k, source in enumerate(sources(200)):
        try:
            _, writer = await open_stream(arena.port, source, rcvbuf=4096)
        except (OSError, asyncio.TimeoutError):
            continue
        writer.write(f"sleeper{k}\n".encode())
        writers.append(writer)
    reader, loud = await open_stream(arena.port, USER_ADDRESS)
    loud.write(b"/mode json\nloud\n")
    drops = asyncio.ensure_future(_count_leaves(reader, arena, "send queue exceeded"))
    text = b"L" * 4000 + b"\n"
    start = time.monotonic()
    for seq in range(int(phase.seconds * LOUD_RATE)):
        if arena.over():
            break
        loud.write(text)
        await arena.pause(start + (seq + 1) / LOUD_RATE - time.monotonic())
    drops.cancel()
    for writer in writers + [loud]:
        writer.close()


async def _count_leaves(reader: asyncio.StreamReader, arena: Arena, reason: str) -> None:
    while True:
        line = await reader.readline()
        if not line:
            return
        if b'"type":"leave"' in line and reason.encode() in line:
            arena.phase.count(f"dropped: {reason}")


async def storm(arena: Arena) -> None:
    """Waves of 200 connections from ten addresses, each wave held until the server answered."""
    addresses = sources(10)
    while not arena.over():
        wave = await asyncio.gather(
            *(open_stream(arena.port, addresses[i % len(addresses)]) for i in range(200)),
            return_exceptions=True,
        )
        opened = [w for w in wave if not isinstance(w, BaseException)]
        arena.phase.count("storm connections", len(opened))
        if opened:
            try:
                await asyncio.wait_for(opened[-1][0].readline(), CONNECT_TIMEOUT_S)
            except (OSError, asyncio.TimeoutError):
                pass
        for _, writer in opened:
            writer.close()


async def slowloris(arena: Arena) -> None:
    """1000 connections (50 addresses x 20) that send one byte of a name a second."""
    writers = []
    for source in sources(50):
        for _ in range(20):
            try:
                _, writer = await open_stream(arena.port, source)
            except (OSError, asyncio.TimeoutError):
                continue
            writers.append(writer)
    arena.phase.count("slowloris connections", len(writers))
    while not arena.over():
        for writer in writers:
            if not writer.is_closing():
                writer.write(b"z")
        await arena.pause(1.0)
    for writer in writers:
        writer.close()
