"""The cluster log's own ceiling: how many entries one Redis appends and hands back a second.

Against the ``redis`` target (a redis-server alone, pinned to the server's CPU), from the
generator: M entries of about P bytes (a room message as the bus writes it: one JSON field),
appended from one redis-py connection with the bus's APPEND script (``server/cluster/
scripts.py``: INCR, then XADD with that id), B to a pipeline, then M more with APPEND_MANY, B
to a call, as the bus appends a burst; then read back with ``XREAD COUNT`` as a node reads the
log. redis-benchmark, when installed, adds both scripts, a plain ``XADD`` and ``XREAD COUNT
100`` from 4 connections, 16 commands each in flight: Redis's side of the ceiling without a
Python client in the way. docs/BENCHMARKS.md turns these into the cluster's limits.
"""

from __future__ import annotations

import asyncio
import csv
import hashlib
import importlib
import shutil
import subprocess
import time
from typing import Any

from ..core import cluster as cl
from ..core import cluster_codec as codec
from ..core.limits import CLUSTER_LOG_ENTRIES, CLUSTER_READ_COUNT
from ..server.cluster.scripts import APPEND, APPEND_MANY
from .cluster import RunningCluster
from .measure import Result
from .servers import Running
from .specs import RedisLog

BENCHMARK_CLIENTS = 4
BENCHMARK_PIPELINE = 16
# Entries per APPEND_MANY call in redis-benchmark's run of it.
BENCHMARK_MANY = 10
# Entries per XREAD in redis-benchmark's read run (it reads the log's first ones again and again).
XREAD_COUNT = 100
# The node the benchmark appends as, and its boot id: the scripts write only under a lease that
# holds it (scripts.py, fencing), so the lease is set for the run, without an expiry.
NODE = "bench"
BOOT = "bench-boot"


def entry_fields(size: int) -> list[str]:
    """The stream fields of a room message whose names and values come to about ``size``
    bytes (never less than its fixed part takes), flat as the APPEND script takes them."""

    def fields(text: str) -> list[str]:
        said = cl.Said("a", 1, "b0", "#lobby", "", text, False, 1764547200.123456)
        return [item for pair in codec.encode(said).items() for item in pair]

    return fields("x" * max(0, size - flat_size(fields(""))))


def flat_size(fields: list[str]) -> int:
    return sum(len(item.encode()) for item in fields)


def benchmark_rps(output: str) -> float:
    """Requests per second from ``redis-benchmark --csv`` output (its last data line). The
    first column repeats the command unescaped (an entry's JSON brings quotes and commas), so
    the columns are counted from the right, as many as the header has."""
    lines = output.splitlines()
    if not lines:
        return 0.0
    columns = len(next(csv.reader(lines[:1])))
    rps = 0.0
    for line in lines[1:]:
        cells = line.rsplit(",", columns - 1)
        if len(cells) == columns:
            try:
                rps = float(cells[1].strip('"'))
            except ValueError:
                continue
    return rps


async def run(spec: RedisLog, server: Running, result: Result) -> None:
    if not isinstance(server, RunningCluster):
        raise RuntimeError("redis-log runs against the redis target")
    try:
        redis: Any = importlib.import_module("redis.asyncio")
    except ImportError:
        raise RuntimeError("redis-py is not importable (pip install 'tcp-chat[cluster]')") from None
    client = redis.Redis(host="127.0.0.1", port=server.redis_port, decode_responses=True)
    try:
        await client.set(cl.lease_key(NODE), BOOT)
        await _append(spec, server, client, result)
        await _read(spec, server, client, result)
    finally:
        await client.aclose()
    await asyncio.to_thread(_redis_benchmark, spec, server, result)


def _redis_cpu(server: RunningCluster) -> float:
    return sum(server.redis_cpu_seconds())


async def _append(spec: RedisLog, server: RunningCluster, client: Any, result: Result) -> None:
    """M entries with APPEND, B to a pipeline (``appends_per_s``), then M more with APPEND_MANY,
    B to a call, as the bus appends a burst of room messages (``appends_many_per_s``)."""
    fields = entry_fields(spec.P)
    result.figures["entry_bytes"] = flat_size(fields)
    append = client.register_script(APPEND)
    append_many = client.register_script(APPEND_MANY)
    keys = [cl.lease_key(NODE), cl.SEQ_KEY, cl.LOG_KEY]
    for name in ("appends", "appends_many"):
        cpu = _redis_cpu(server)
        start = time.monotonic()
        done = 0
        while done < spec.M:
            batch = min(spec.B, spec.M - done)
            pipe = client.pipeline(transaction=False)
            if name == "appends":
                for _ in range(batch):
                    args = [BOOT, CLUSTER_LOG_ENTRIES, *fields]
                    await append(keys=keys, args=args, client=pipe)
            else:
                values = [fields[1]] * batch
                args = [BOOT, CLUSTER_LOG_ENTRIES, fields[0], *values]
                await append_many(keys=keys, args=args, client=pipe)
            await pipe.execute()
            done += batch
        elapsed = max(time.monotonic() - start, 1e-9)
        used = _redis_cpu(server) - cpu
        result.figures[f"{name}_per_s"] = done / elapsed
        result.figures[f"{name}_redis_cpu_pct"] = 100 * used / elapsed
        result.figures[f"{name}_per_redis_cpu_s"] = done / used if used > 0 else 0.0


async def _read(spec: RedisLog, server: RunningCluster, client: Any, result: Result) -> None:
    """Read the whole log back, CLUSTER_READ_COUNT entries a call, as one node does."""
    position = cl.Position()
    cpu = _redis_cpu(server)
    start = time.monotonic()
    read = 0
    while True:
        answer = await client.xread({cl.LOG_KEY: position.after}, count=CLUSTER_READ_COUNT)
        if not answer:
            break
        for _, entries in answer:
            for entry_id, _fields in entries:
                position.accept(entry_id)
                read += 1
    elapsed = max(time.monotonic() - start, 1e-9)
    used = _redis_cpu(server) - cpu
    if read < min(2 * spec.M, CLUSTER_LOG_ENTRIES):  # a script refused, or wrote elsewhere
        raise RuntimeError(f"read {read} entries back of the {2 * spec.M} appended")
    result.figures["read"] = read
    result.figures["reads_per_s"] = read / elapsed
    result.figures["reads_per_redis_cpu_s"] = read / used if used > 0 else 0.0


def _redis_benchmark(spec: RedisLog, server: RunningCluster, result: Result) -> None:
    """redis-benchmark's figures for APPEND (EVALSHA), XADD and XREAD, in entries a second,
    with Redis's CPU share."""
    tool = shutil.which("redis-benchmark")
    if tool is None:
        result.figures["benchmark_missing"] = 1
        return
    fields = entry_fields(spec.P)
    sha = hashlib.sha1(APPEND.encode()).hexdigest()  # the scripts are loaded by now
    many = hashlib.sha1(APPEND_MANY.encode()).hexdigest()
    burst = [fields[1]] * BENCHMARK_MANY
    fenced = [cl.lease_key(NODE), cl.SEQ_KEY, cl.LOG_KEY, BOOT]  # the keys, then the boot id
    # (command, entries each request moves): a read hands back XREAD_COUNT entries at once.
    runs: dict[str, tuple[list[object], int]] = {
        "bench_append": (["EVALSHA", sha, 3, *fenced, CLUSTER_LOG_ENTRIES, *fields], 1),
        "bench_append_many": (
            ["EVALSHA", many, 3, *fenced, CLUSTER_LOG_ENTRIES, fields[0], *burst],
            BENCHMARK_MANY,
        ),
        "bench_xadd": (
            ["XADD", "tcpchat:bench", "MAXLEN", "~", CLUSTER_LOG_ENTRIES, "*", *fields],
            1,
        ),
        "bench_xread": (["XREAD", "COUNT", XREAD_COUNT, "STREAMS", cl.LOG_KEY, "0-0"], XREAD_COUNT),
    }
    for name, (words, entries) in runs.items():
        requests = max(1, spec.M // entries)
        argv = [tool, "-p", str(server.redis_port), "-n", str(requests), "-q", "--csv"]
        argv += ["-c", str(BENCHMARK_CLIENTS), "-P", str(BENCHMARK_PIPELINE)]
        argv += [str(word) for word in words]
        cpu = _redis_cpu(server)
        start = time.monotonic()
        out = subprocess.run(argv, capture_output=True, text=True, timeout=300, check=False)
        elapsed = max(time.monotonic() - start, 1e-9)
        if out.returncode != 0:
            raise RuntimeError(f"redis-benchmark {words[0]}: {out.stderr.strip()[-300:]}")
        result.figures[f"{name}_per_s"] = benchmark_rps(out.stdout) * entries
        result.figures[f"{name}_redis_cpu_pct"] = 100 * (_redis_cpu(server) - cpu) / elapsed
