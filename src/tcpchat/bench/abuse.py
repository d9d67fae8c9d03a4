"""Figures for docs/RELIABILITY.md: what ordinary users see while the server is under attack.

``python -m tcpchat.bench.abuse`` starts a fresh server (default limits) for each phase, lets ten
ordinary users chat at a human pace (1.5 lines a second each, under the flood limit) and measures
the latency and loss of their messages, plus the server's peak memory, first alone and then while
one kind of attacker works: flooders, clients that never read, a connection storm, slowloris
connections. Every loop is bounded by the phase's length; all traffic stays on 127.0.0.0/8.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import socket
import sys
import tempfile
import time
from collections.abc import Awaitable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from ..core import limits
from .report import table
from .servers import TARGETS, RunningServer, can_pin
from .stats import percentile

USERS = 10
USER_RATE = 1.5  # lines a second per ordinary user: under the default flood rate of 2
PHASE_S = 10.0
LOUD_RATE = 150  # lines a second of 4 KB from the loud user in the never-readers phase
CONNECT_TIMEOUT_S = 5.0
BEGIN, END = "<!-- abuse:begin -->", "<!-- abuse:end -->"


@dataclass
class Phase:
    name: str
    attack: str
    server_args: list[str] = field(default_factory=list)
    latencies_ms: list[float] = field(default_factory=list)
    sent: int = 0
    joined: int = 0
    received: int = 0
    peak_rss_kib: int = 0
    baseline_rss_kib: int = 0
    notes: list[str] = field(default_factory=list)
    counters: dict[str, int] = field(default_factory=dict)

    def count(self, key: str, n: int = 1) -> None:
        self.counters[key] = self.counters.get(key, 0) + n


async def _open(
    port: int, source: str = "127.0.0.1", rcvbuf: int = 0
) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    if rcvbuf:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
    sock.setblocking(False)
    sock.bind((source, 0))
    loop = asyncio.get_running_loop()
    try:
        await asyncio.wait_for(loop.sock_connect(sock, ("127.0.0.1", port)), CONNECT_TIMEOUT_S)
    except BaseException:
        sock.close()
        raise
    return await asyncio.open_connection(sock=sock, limit=1 << 20)


async def _ordinary_user(
    index: int, port: int, phase: Phase, stop: asyncio.Event, all_in: asyncio.Event
) -> None:
    """Join in JSON mode; once every ordinary user is in, send a stamped line every
    1/USER_RATE s and time the lines of the others."""
    reader, writer = await _open(port)
    writer.write(f"/mode json\nuser{index}\n".encode())
    while b'"type":"registered"' not in await reader.readline():
        pass
    phase.joined += 1
    if phase.joined == USERS:
        all_in.set()
    await all_in.wait()
    start = time.monotonic()

    async def listen() -> None:
        while True:
            line = await reader.readline()
            if not line:
                return
            event = json.loads(line) if line.startswith(b"{") else {}
            if event.get("type") != "message" or not event["from"].startswith("user"):
                continue
            stamp = event["text"].split("@", 1)[1]
            phase.latencies_ms.append((time.monotonic() - float(stamp)) * 1000)
            phase.received += 1

    listener = asyncio.ensure_future(listen())
    try:
        for seq in range(int(PHASE_S * USER_RATE) + 1):
            if stop.is_set():
                break
            writer.write(f"hello {index}.{seq} @{time.monotonic():.6f}\n".encode())
            phase.sent += 1
            await _pause(stop, start + (seq + 1) / USER_RATE - time.monotonic())
        await _pause(stop, 1.0)  # let the last lines arrive
    finally:
        listener.cancel()
        writer.close()


async def _pause(stop: asyncio.Event, seconds: float) -> None:
    if seconds > 0:
        try:
            await asyncio.wait_for(stop.wait(), seconds)
        except asyncio.TimeoutError:
            pass


def _sources(count: int) -> list[str]:
    """Attackers' loopback addresses (127.1.0.1, ...), so the per-IP limit does not stop them
    before the limit under test does."""
    return [f"127.1.{i // 250}.{i % 250 + 1}" for i in range(count)]


async def _flooders(port: int, phase: Phase, stop: asyncio.Event) -> None:
    """Twenty clients that send as fast as the socket takes, reconnecting when dropped."""

    async def one(k: int, source: str) -> None:
        line = b"flood " + b"x" * 400 + b"\n"
        while not stop.is_set():
            try:
                reader, writer = await _open(port, source)
                writer.write(f"flooder{k}\n".encode())
                phase.count("flooder connections (each dropped)")
                while not stop.is_set() and not reader.at_eof():
                    writer.write(line * 20)
                    await writer.drain()
                writer.close()
            except (OSError, asyncio.TimeoutError):
                await _pause(stop, 0.05)

    await asyncio.gather(*(one(k, src) for k, src in enumerate(_sources(20))))


async def _never_readers(port: int, phase: Phase, stop: asyncio.Event) -> None:
    """200 clients that join with a 4 KiB receive buffer and never read, while a loud user
    sends 4 KB lines 150 times a second: in 10 s, 6 MB for each, more than the kernel's socket
    buffers and the outbox limit together."""
    writers = []
    for k, source in enumerate(_sources(200)):
        try:
            _, writer = await _open(port, source, rcvbuf=4096)
        except (OSError, asyncio.TimeoutError):
            continue
        writer.write(f"sleeper{k}\n".encode())
        writers.append(writer)
    reader, loud = await _open(port, "127.0.0.1")
    loud.write(b"/mode json\nloud\n")
    drops = asyncio.ensure_future(_count_leaves(reader, phase, "send queue exceeded"))
    text = b"L" * 4000 + b"\n"
    start = time.monotonic()
    for seq in range(int(PHASE_S * LOUD_RATE)):
        if stop.is_set():
            break
        loud.write(text)
        await _pause(stop, start + (seq + 1) / LOUD_RATE - time.monotonic())
    drops.cancel()
    for writer in writers + [loud]:
        writer.close()


async def _count_leaves(reader: asyncio.StreamReader, phase: Phase, reason: str) -> None:
    while True:
        line = await reader.readline()
        if not line:
            return
        if b'"type":"leave"' in line and reason.encode() in line:
            phase.count(f"dropped: {reason}")


async def _storm(port: int, phase: Phase, stop: asyncio.Event) -> None:
    """Waves of 200 connections from ten addresses, each wave held until the server answered."""
    sources = _sources(10)
    while not stop.is_set():
        wave = await asyncio.gather(
            *(_open(port, sources[i % len(sources)]) for i in range(200)),
            return_exceptions=True,
        )
        opened = [w for w in wave if not isinstance(w, BaseException)]
        phase.count("storm connections", len(opened))
        if opened:
            try:
                await asyncio.wait_for(opened[-1][0].readline(), CONNECT_TIMEOUT_S)
            except (OSError, asyncio.TimeoutError):
                pass
        for _, writer in opened:
            writer.close()


async def _slowloris(port: int, phase: Phase, stop: asyncio.Event) -> None:
    """1000 connections (50 addresses x 20) that send one byte of a name a second."""
    writers = []
    for source in _sources(50):
        for _ in range(20):
            try:
                _, writer = await _open(port, source)
            except (OSError, asyncio.TimeoutError):
                continue
            writers.append(writer)
    phase.count("slowloris connections", len(writers))
    for _ in range(int(PHASE_S)):
        for writer in writers:
            if not writer.is_closing():
                writer.write(b"z")
        await _pause(stop, 1.0)
        if stop.is_set():
            break
    for writer in writers:
        writer.close()


Attack = Callable[[int, Phase, asyncio.Event], Awaitable[None]]

PHASES: list[tuple[Phase, Attack | None]] = [
    (Phase("baseline", "none"), None),
    (Phase("flood", "20 flooders, 400-byte lines, reconnecting when dropped"), _flooders),
    (
        Phase(
            "never-readers",
            "200 joined clients that never read; a loud user sends 4 KB lines 150/s",
            ["--flood-burst", "200", "--flood-rate", "200"],
        ),
        _never_readers,
    ),
    (Phase("storm", "waves of 200 connections from 10 addresses"), _storm),
    (
        Phase(
            "slowloris", "1000 connections dripping a name, 1 byte/s", ["--handshake-timeout", "5"]
        ),
        _slowloris,
    ),
]


async def run_phase(phase: Phase, attack: Attack | None, workdir: Path, pin: bool) -> Phase:
    # The benchmark starts servers with flood control and per-IP limits off; put the defaults
    # back, since those limits are what is under test here.
    args = [
        "--flood-burst", str(limits.FLOOD_BURST), "--flood-rate", str(limits.FLOOD_RATE_PER_S),
        "--max-per-ip", str(limits.MAX_CONNECTIONS_PER_IP), "--max-connections", "20000",
        *phase.server_args,
    ]  # fmt: skip
    server = RunningServer(TARGETS["ours-asyncio"], workdir, pin, server_args=args)
    try:
        await server.ready()
        phase.baseline_rss_kib = server.memory_kib()[0]
        stop = asyncio.Event()
        all_in = asyncio.Event()
        tasks = [
            asyncio.ensure_future(_ordinary_user(i, server.port, phase, stop, all_in))
            for i in range(USERS)
        ]
        if attack is not None:
            tasks.append(asyncio.ensure_future(attack(server.port, phase, stop)))
        deadline = time.monotonic() + PHASE_S + 2
        while time.monotonic() < deadline:
            phase.peak_rss_kib = max(phase.peak_rss_kib, server.memory_kib()[0])
            await asyncio.sleep(0.1)  # sampling interval of the memory reading
        stop.set()
        await asyncio.wait(tasks, timeout=PHASE_S)
        for task in tasks:
            task.cancel()
        phase.peak_rss_kib = max(phase.peak_rss_kib, server.memory_kib()[1])
    finally:
        server.stop()
    return phase


def render(phases: Sequence[Phase]) -> str:
    rows = []
    for p in phases:
        ordered = sorted(p.latencies_ms)
        expected = p.sent * (USERS - 1)
        rows.append(
            [
                p.name,
                p.attack,
                f"{percentile(ordered, 0.5):.1f} / {percentile(ordered, 0.99):.1f} / "
                f"{(ordered[-1] if ordered else 0):.1f}",
                f"{expected - p.received} of {expected}",
                f"{p.baseline_rss_kib / 1024:.1f} -> {p.peak_rss_kib / 1024:.1f}",
                "; ".join(f"{k}: {v}" for k, v in sorted(p.counters.items())) or "",
            ]
        )
    header = [
        "phase",
        "attack",
        "ordinary users' latency p50 / p99 / max (ms)",
        "their messages lost",
        "server RSS MiB (idle -> peak)",
        "attack counters",
    ]
    return table(header, rows)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tcpchat.bench.abuse", description=__doc__)
    parser.add_argument("--write", metavar="FILE", help="replace the figures section in FILE")
    args = parser.parse_args(argv)
    results = []
    with tempfile.TemporaryDirectory(prefix="tcpchat-abuse-") as tmp:
        for phase, attack in PHASES:
            print(f"phase {phase.name} ...", file=sys.stderr, flush=True)
            results.append(asyncio.run(run_phase(phase, attack, Path(tmp), can_pin())))
    text = render(results)
    print(text)
    if args.write:
        path = Path(args.write)
        doc = path.read_text(encoding="utf-8")
        head, _, rest = doc.partition(BEGIN)
        _, _, tail = rest.partition(END)
        stamp = time.strftime("%Y-%m-%d")
        path.write_text(
            f"{head}{BEGIN}\nMeasured {stamp} by `python -m tcpchat.bench.abuse` "
            f"({USERS} ordinary users, {PHASE_S:.0f} s a phase):\n\n{text}\n{END}{tail}",
            encoding="utf-8",
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
