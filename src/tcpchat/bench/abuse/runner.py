"""Running one phase: a fresh server with the default limits, the ordinary users, one attack, and
the watch on the server's memory, sockets and log."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

from ..servers import TARGETS, RunningServer, free_port
from . import defaults
from .counting import drop_reasons, growth_rate, log_levels
from .net import client_tls, make_certificate
from .phase import Arena, Attack, Phase
from .users import chat, join_users
from .watch import Watch

SAMPLE_S = 0.1  # interval of the memory and log readings
JOIN_TIMEOUT_S = 10.0
# Once the attack's time is up, its tasks get this long to close their connections.
TEARDOWN_S = 10.0
SETTLE_S = 0.5  # for the server to log the last disconnects before the log is read


def server_args(phase: Phase, workdir: Path) -> tuple[list[str], int]:
    """The server's flags for ``phase`` and its TLS port (0 without TLS).

    The benchmark starts servers with flood control and per-IP limits off; this puts the
    defaults back, since those limits are what is under test here. The phase's own flags come
    last and win.
    """
    args = [
        "--flood-burst", str(defaults.FLOOD_BURST), "--flood-rate", str(defaults.FLOOD_RATE_PER_S),
        "--max-per-ip", str(defaults.MAX_CONNECTIONS_PER_IP),
        "--max-connections", str(defaults.MAX_CONNECTIONS),
    ]  # fmt: skip
    tls_port = 0
    if phase.tls:
        cert, key = make_certificate(workdir)
        tls_port = free_port()
        args += ["--tls-cert", str(cert), "--tls-key", str(key), "--tls-port", str(tls_port)]
    if phase.password:
        path = workdir / f"password-{phase.name}"
        path.write_text(phase.password + "\n", encoding="utf-8")
        args += ["--password-file", str(path)]
    return args + phase.server_args, tls_port


async def run_phase(phase: Phase, attack: Attack | None, workdir: Path, pin: bool) -> Phase:
    """Run ``phase`` against a server of its own and fill in its figures."""
    args, tls_port = server_args(phase, workdir)
    server = RunningServer(
        TARGETS["ours-asyncio"],
        workdir,
        pin,
        log_level=phase.log_level,
        server_args=args,
        max_files=phase.max_files,
    )
    try:
        await server.ready()
        phase.baseline_rss_kib = server.memory_kib()[0]
        watch = Watch(server)
        stop = asyncio.Event()
        arena = Arena(
            phase, server, server.port, tls_port, client_tls() if phase.tls else None,
            stop, time.monotonic(), workdir,
        )  # fmt: skip
        users = await asyncio.wait_for(join_users(arena), JOIN_TIMEOUT_S) if phase.users else []
        log_start = watch.log_size()
        arena.started = time.monotonic()
        chatting = [asyncio.ensure_future(chat(arena, i, s)) for i, s in users]
        attacking = asyncio.ensure_future(attack(arena)) if attack is not None else None
        while time.monotonic() < arena.until:
            watch.sample()
            if attacking is not None and attacking.done() and not chatting:
                break  # a check, over before its time
            await asyncio.sleep(SAMPLE_S)
        attack_end = min(time.monotonic(), arena.until)
        stop.set()
        tasks = chatting + ([attacking] if attacking is not None else [])
        await asyncio.wait(tasks, timeout=TEARDOWN_S)
        for task in tasks:
            task.cancel()
        if attacking is not None and attacking.done() and not attacking.cancelled():
            error = attacking.exception()
            if error is not None:
                phase.note(f"the attack failed: {type(error).__name__}: {error}")
        await asyncio.sleep(SETTLE_S)
        watch.sample()
        phase.peak_rss_kib = max(watch.peak_rss_kib, server.memory_kib()[1])
        phase.server_sockets = watch.peak_sockets
        phase.attacker_sockets = watch.peak_attacker_sockets
        log = watch.read_log(log_start)
        phase.log_bytes = len(log)
        phase.log_rate = growth_rate(watch.log_samples, arena.started, attack_end)
        phase.log_levels = log_levels(log)
        phase.log_drops = drop_reasons(log)
        phase.measured = f"{time.strftime('%Y-%m-%d')}, {phase.seconds:g} s"
    finally:
        server.stop()
    return phase
