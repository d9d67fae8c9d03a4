"""Cluster targets (docs/CLUSTER.md): a redis-server on a free loopback port, without
persistence, and ``target.nodes`` of our servers joined to it with ``--cluster URL --node-name
a`` (b, ...), each on its own free port; or, for the ``redis`` target, the redis-server alone.

A ``RunningCluster`` looks like one server to the scenarios (``servers.Running``): clients are
placed on a node by ``port_for(dialect, node)``; its CPU time and memory are the sum of the
nodes' and Redis's (the whole server side, pinned to the server's CPU as one server would be).
``command`` speaks to that Redis without redis-py (``CLIENT PAUSE`` in the middle of a run).
"""

from __future__ import annotations

import asyncio
import dataclasses
import shutil
import subprocess
import time
from collections.abc import Sequence
from pathlib import Path

from .dialects import Dialect
from .servers import (
    SERVER_CPU,
    START_TIMEOUT_S,
    STOP_TIMEOUT_S,
    Running,
    RunningServer,
    Target,
    child_setup,
    free_port,
    proc_cpu,
    proc_memory,
)

NODE_NAMES = "abcdefgh"
# Our nodes keep trying to reach Redis for this long at start (it starts beside them).
CLUSTER_WAIT_S = 10.0


def start(
    target: Target,
    workdir: Path,
    pin: bool,
    log_level: str = "WARNING",
    profile: str = "",
    server_args: Sequence[str] = (),
    data_dir: Path | None = None,
) -> Running:
    """Start ``target``: one server, or a Redis with its nodes."""
    if target.kind == "redis" or target.nodes:
        return RunningCluster(target, workdir, pin, log_level, profile, server_args)
    return RunningServer(
        target, workdir, pin, log_level, profile, server_args=server_args, data_dir=data_dir
    )


def redis_version() -> str | None:
    """The version of the redis-server on PATH ("7.0.15"), None if there is none."""
    try:
        out = subprocess.run(
            ["redis-server", "--version"], capture_output=True, text=True, timeout=5, check=False
        ).stdout
    except (OSError, subprocess.TimeoutExpired):
        return None
    return next((w for w in out.split() if w.startswith("v=")), "v=?")[2:]


def redis_args(port: int, folder: Path) -> list[str]:
    """redis-server's command line: loopback, no persistence (no RDB snapshot, no AOF)."""
    return [
        shutil.which("redis-server") or "redis-server",
        "--port",
        str(port),
        "--bind",
        "127.0.0.1",
        "--save",
        "",
        "--appendonly",
        "no",
        "--dir",
        str(folder),
        "--daemonize",
        "no",
        "--logfile",
        str(folder / f"redis-{port}.log"),
    ]


def encode_command(*args: str | int) -> bytes:
    """One Redis command in RESP (an array of bulk strings)."""
    parts = [f"*{len(args)}\r\n".encode()]
    for arg in args:
        data = str(arg).encode()
        parts.append(b"$%d\r\n%s\r\n" % (len(data), data))
    return b"".join(parts)


async def command(port: int, *args: str | int, timeout: float = 5.0) -> bytes:
    """Send one command to the Redis on 127.0.0.1:``port``; its first reply line (``+OK``).
    RuntimeError for an error reply."""
    reader, writer = await asyncio.wait_for(asyncio.open_connection("127.0.0.1", port), timeout)
    try:
        writer.write(encode_command(*args))
        line = await asyncio.wait_for(reader.readline(), timeout)
    finally:
        writer.close()
    if line.startswith(b"-"):
        raise RuntimeError(f"redis {args[0]}: {line.decode(errors='replace').strip()}")
    return line.rstrip(b"\r\n")


class RunningCluster:
    """A started redis-server and ``target.nodes`` of our servers joined to it."""

    def __init__(
        self,
        target: Target,
        workdir: Path,
        pin: bool,
        log_level: str = "WARNING",
        profile: str = "",
        server_args: Sequence[str] = (),
    ) -> None:
        self.target = target
        self.redis_port = free_port()
        self.url = f"redis://127.0.0.1:{self.redis_port}/0"
        self.redis_log = workdir / f"redis-{self.redis_port}.log"
        prefix = ["taskset", "-c", str(SERVER_CPU)] if pin else []
        self.redis = subprocess.Popen(
            prefix + redis_args(self.redis_port, workdir),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            preexec_fn=child_setup(0),
        )
        # Each node is our plain server with --cluster: the standalone target of the same loop.
        plain = dataclasses.replace(target, name=f"{target.name}-node", nodes=0)
        self.servers: list[RunningServer] = []
        for n in range(target.nodes):
            name = NODE_NAMES[n]
            node_args = ["--cluster", self.url, "--node-name", name]
            node_args += ["--cluster-wait", f"{CLUSTER_WAIT_S:g}", *server_args]
            prof = profile.replace(".prof", f"-{name}.prof") if profile else ""
            self.servers.append(
                RunningServer(plain, workdir, pin, log_level, prof, server_args=node_args)
            )
        self.port = self.servers[0].port if self.servers else self.redis_port
        self.data_dir = self.servers[0].data_dir if self.servers else None

    @property
    def nodes(self) -> int:
        return len(self.servers)

    def port_for(self, dialect: Dialect, node: int = 0) -> int:
        """The port of node ``node`` (taken modulo the number of nodes) for ``dialect``."""
        return self.servers[node % len(self.servers)].port_for(dialect)

    async def ready(self) -> None:
        """Redis answers PING, then every node accepts connections; RuntimeError if not."""
        deadline = time.monotonic() + START_TIMEOUT_S
        while True:
            if self.redis.poll() is not None:
                raise RuntimeError(f"redis-server exited at start:\n{self.log_tail()}")
            try:
                if await command(self.redis_port, "PING", timeout=1.0) == b"+PONG":
                    break
            except (OSError, asyncio.TimeoutError, RuntimeError):
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"redis-server did not answer within {START_TIMEOUT_S}s")
            await asyncio.sleep(0.05)
        for server in self.servers:
            await server.ready()

    def memory_kib(self) -> tuple[int, int]:
        """(VmRSS, VmHWM) in KiB, summed over the nodes and Redis."""
        readings = [s.memory_kib() for s in self.servers] + [proc_memory(self.redis.pid)]
        return sum(r for r, _ in readings), sum(h for _, h in readings)

    def cpu_seconds(self) -> tuple[float, float]:
        """(user, system) CPU seconds of the nodes and Redis together."""
        readings = [s.cpu_seconds() for s in self.servers] + [self.redis_cpu_seconds()]
        return sum(u for u, _ in readings), sum(s for _, s in readings)

    def redis_cpu_seconds(self) -> tuple[float, float]:
        return proc_cpu(self.redis.pid)

    def log_tail(self, lines: int = 20) -> str:
        parts = [f"[node {NODE_NAMES[n]}] {s.log_tail(lines)}" for n, s in enumerate(self.servers)]
        try:
            redis = self.redis_log.read_text(encoding="utf-8", errors="replace")
            parts.append("[redis] " + "\n".join(redis.splitlines()[-lines:]))
        except OSError:
            pass
        return "\n".join(parts)

    def stop(self) -> int:
        """Stop the nodes (SIGTERM), then Redis; the first non-zero status of a node, else 0."""
        statuses = [server.stop() for server in self.servers]
        if self.redis.poll() is None:
            self.redis.terminate()
            try:
                self.redis.wait(STOP_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                self.redis.kill()
                self.redis.wait(STOP_TIMEOUT_S)
        return next((s for s in statuses if s not in (0, -15)), 0)
