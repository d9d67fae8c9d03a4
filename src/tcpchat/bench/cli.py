"""``python -m tcpchat.bench``: run a suite of scenarios against each server and report.

For each scenario, each server in turn is started fresh, measured and stopped, so that the
servers compare within one run on one machine. Progress goes to stderr, the table to stdout, and
with ``--write FILE`` into the generated section of that Markdown file.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime
import importlib.metadata
import json
import os
import platform
import signal
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from dataclasses import asdict
from pathlib import Path

from ..server.main import raise_file_limit
from . import cluster, report, scenarios
from .servers import (
    GENERATOR_CPU,
    MAX_CONNECTIONS,
    TARGETS,
    Target,
    can_pin,
    keeps_history,
    unavailable,
)

SUITES: dict[str, tuple[str, ...]] = {
    "standard": (
        # Runs of a second or so: history on and off differ by less than the noise of shorter ones.
        "fanout:C=100,S=10,M=2000",
        "fanout:C=100,S=10,M=2000,W=64",
        "fanout:C=1000,S=5,M=500",
        "latency:C=100,S=10,R=1000,D=5",
        # Half native, half IRC clients in one room (ours-irc-* only; issue 16).
        "mixed:C=100,S=10,M=2000",
        "mixed-latency:C=100,S=10,R=1000,D=5",
        "rooms:N=10,C=100,S=2,M=500,W=64,L=1",
        "capacity:K=1000",
        "capacity:K=10000",
        "storm:K=10000,T=60",
        "replay:H=1000000,N=10,Q=500",
        # Cluster mode (ours-cluster*-*, redis; skipped without redis-server): fanout and latency
        # above run across two nodes too; here one sender to 5,000 on the other node (and on a
        # single server, to compare), one message at a time: each fan-out is over before the
        # next message; then a Redis pause, and the log's own ceiling.
        "cross:K=5000,R=2,D=10",
        "pause:C=100,S=10,R=500,D=8,X=3",
        "redis-log:M=200000,B=100,P=100",
    ),
    # Small numbers that still cross every code path: the smoke test and a quick look.
    "quick": (
        "fanout:C=6,S=2,M=20",
        "latency:C=6,S=2,R=200,D=0.5",
        "mixed:C=6,S=2,M=20",
        "mixed-latency:C=6,S=2,R=200,D=0.5",
        "rooms:N=2,C=4,S=2,M=10,L=1",
        "capacity:K=10",
        "storm:K=12,T=10,B=4",
        "replay:H=200,N=2,Q=10",
        "cross:K=20,R=50,D=0.5",
        "pause:C=6,S=2,R=100,D=2,X=0.5",
        "redis-log:M=2000,B=100,P=100",
    ),
}
DEFAULT_TARGETS = (
    "ours-asyncio,ours-asyncio-nohist,ours-uvloop,ours-uvloop-nohist,"
    "ours-irc-asyncio,ours-irc-uvloop,ngircd,ours-cluster1-asyncio,ours-cluster2-asyncio,"
    "ours-cluster2-uvloop,redis"
)


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m tcpchat.bench",
        description="Load generator for tcp-chat (and ngircd): fan-out throughput, latency, "
        "rooms, capacity, a join storm, history replay and search. Starts the servers itself on "
        "127.0.0.1; see docs/BENCHMARKS.md.",
    )
    p.add_argument("--suite", choices=sorted(SUITES), help="a named set of scenarios")
    p.add_argument(
        "--scenario",
        action="append",
        default=[],
        metavar="SPEC",
        help="a scenario such as fanout:C=100,S=10,M=500 (repeatable; after --suite's)",
    )
    p.add_argument(
        "--targets",
        default=DEFAULT_TARGETS,
        help="servers to measure, comma-separated (default: %(default)s; missing ones skipped)",
    )
    p.add_argument("--write", metavar="FILE", help="put the tables into this Markdown file")
    p.add_argument("--json", metavar="FILE", help="also write the raw figures as JSON")
    p.add_argument("--no-pin", action="store_true", help="do not pin server and generator")
    p.add_argument(
        "--gen-loop",
        choices=("auto", "asyncio", "uvloop"),
        default="auto",
        help="the generator's event loop (auto: uvloop if importable)",
    )
    p.add_argument(
        "--server-log-level", default="WARNING", help="our server's --log-level (default WARNING)"
    )
    p.add_argument(
        "--profile",
        metavar="DIR",
        help="run our server under cProfile, writing DIR/<target>-<n>.prof per run",
    )
    return p


def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(argv)
    specs_text = list(SUITES[args.suite]) if args.suite else []
    specs_text += args.scenario
    if not specs_text:
        specs_text = list(SUITES["standard"])
    try:
        specs = [scenarios.parse_spec(text) for text in specs_text]
    except ValueError as exc:
        parser().error(str(exc))
    targets: list[Target] = []
    skipped: list[str] = []
    for name in filter(None, (n.strip() for n in args.targets.split(","))):
        target = TARGETS.get(name)
        if target is None:
            parser().error(f"unknown target {name!r} (known: {', '.join(TARGETS)})")
        why = unavailable(target)
        if why:
            skipped.append(f"{name}: {why}")
            _say(f"skipping {name}: {why}")
        else:
            targets.append(target)
    pin = can_pin() and not args.no_pin
    if pin:
        os.sched_setaffinity(0, {GENERATOR_CPU})
    # 10,000 connections need 10,000 files here and in the servers, which inherit this limit.
    files = raise_file_limit(2 * MAX_CONNECTIONS)
    gen_loop = _generator_loop(args.gen_loop)
    started = datetime.datetime.now(datetime.timezone.utc)
    # SIGTERM unwinds like Ctrl+C, so that every started server is stopped on the way out.
    previous = signal.signal(signal.SIGTERM, signal.default_int_handler)
    try:
        results = asyncio.run(
            run_all(specs, targets, pin, args.server_log_level, args.profile or "")
        )
    except KeyboardInterrupt:
        _say("interrupted; servers stopped")
        return 130
    finally:
        signal.signal(signal.SIGTERM, previous)
    facts = _facts(started, gen_loop, pin, files, args.server_log_level, skipped)
    print(report.summary(results))
    print()
    for extra in (report.history_cost(results), report.cluster_cost(results)):
        if extra:
            print(extra)
            print()
    print(report.details(results))
    if args.write:
        path = Path(args.write)
        old = path.read_text(encoding="utf-8") if path.exists() else _PREAMBLE
        path.write_text(report.merge(old, report.section(results, facts)), encoding="utf-8")
        _say(f"wrote {path}")
    if args.json:
        Path(args.json).write_text(
            json.dumps({"facts": dict(facts), "results": [asdict(r) for r in results]}, indent=1),
            encoding="utf-8",
        )
    # Failing is for our server: a lost, duplicated or reordered message, or a run that broke.
    # Other servers' incomplete runs are figures in the table, not failures of this project.
    ours = [r for r in results if r.target.startswith("ours")]
    broken = [
        r
        for r in ours
        if r.error or any(r.figures.get(k) for k in ("lost", "duplicates", "disorder", "strangers"))
    ]
    for r in broken:
        _say(f"FAILED: {r.scenario} on {r.target}: {r.error or 'messages lost or out of order'}")
    return 1 if broken else 0


async def run_all(
    specs: Sequence[scenarios.Spec],
    targets: Sequence[Target],
    pin: bool,
    log_level: str,
    profile: str,
) -> list[scenarios.Result]:
    results: list[scenarios.Result] = []
    with tempfile.TemporaryDirectory(prefix="tcpchat-bench-") as tmp:
        workdir = Path(tmp)
        for n, spec in enumerate(specs, 1):
            chosen = []
            for target in targets:
                why = scenarios.applies(spec, target)
                if why:
                    _say(f"[{n}/{len(specs)}] {spec.title} not on {target.name}: {why}")
                else:
                    chosen.append(target)
            data_dir: Path | None = None
            if chosen:
                try:
                    data_dir = await asyncio.to_thread(scenarios.prepare, spec, workdir)
                except (OSError, RuntimeError) as exc:
                    for target in chosen:
                        results.append(
                            scenarios.Result(spec.title, spec.kind, target.name, error=str(exc))
                        )
                    _say(f"[{n}/{len(specs)}] {spec.title}: cannot prepare: {exc}")
                    continue
            for target in chosen:
                _say(f"[{n}/{len(specs)}] {spec.title} on {target.name} ...")
                results.append(
                    await _run_one(spec, target, workdir, pin, log_level, profile, n, data_dir)
                )
    return results


async def _run_one(
    spec: scenarios.Spec,
    target: Target,
    workdir: Path,
    pin: bool,
    log_level: str,
    profile: str,
    n: int,
    data_dir: Path | None,
) -> scenarios.Result:
    """Start ``target`` fresh, run ``spec`` against it, stop it."""
    prof = ""
    if profile and target.kind == "ours":
        os.makedirs(profile, exist_ok=True)
        prof = os.path.join(profile, f"{target.name}-{n}-{spec.kind}.prof")
    server = cluster.start(
        target,
        workdir,
        pin,
        log_level,
        prof,
        server_args=scenarios.server_args(spec, target),
        data_dir=data_dir,
    )
    try:
        await server.ready()
        result = await scenarios.run(spec, server)
    except RuntimeError as exc:
        result = scenarios.Result(spec.title, spec.kind, target.name, error=str(exc))
    finally:
        status = server.stop()
        await asyncio.sleep(0)  # let the closed transports finish
    if status not in (0, -15) and not result.error:
        result.error = f"server exited with {status}: {server.log_tail(5)}"
    scenarios.after_stop(server, result)
    _say("    " + _one_line(result))
    return result


def _one_line(result: scenarios.Result) -> str:
    shown = {k: round(v, 2) for k, v in result.figures.items()}
    return json.dumps(shown) + (f"  ERROR: {result.error}" if result.error else "")


def _say(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


def _generator_loop(wanted: str) -> str:
    if wanted in ("auto", "uvloop"):
        try:
            import uvloop  # type: ignore[import-not-found, unused-ignore]
        except ImportError:
            if wanted == "uvloop":
                raise SystemExit("--gen-loop uvloop: uvloop is not importable") from None
        else:
            asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())
            return f"uvloop {importlib.metadata.version('uvloop')}"
    return "asyncio"


def _facts(
    started: datetime.datetime,
    gen_loop: str,
    pin: bool,
    files: int,
    log_level: str,
    skipped: Sequence[str],
) -> list[tuple[str, str]]:
    facts = [
        ("date", started.strftime("%Y-%m-%d %H:%M UTC")),
        ("machine", _machine()),
        ("Python", f"{platform.python_implementation()} {platform.python_version()}"),
        ("generator", f"one process, {gen_loop}, open-file limit {files}"),
        (
            "pinning",
            "server on CPU 0, generator on CPU 1 (taskset)" if pin else "none",
        ),
        ("our server", f"--log-level {log_level} --no-log-file, flood control off"),
        ("history", _history_fact()),
        ("ngircd", _ngircd_version()),
        ("cluster", _cluster_fact()),
    ]
    facts += [("skipped", s) for s in skipped]
    return facts


def _history_fact() -> str:
    if not keeps_history():
        return "this server keeps no history yet (no --data-dir, --no-history)"
    return (
        "ours-* keep history in a fresh --data-dir in a temporary directory per run "
        "(the replay: one filled beforehand); ours-*-nohist run with --no-history; "
        "ours-irc-* are ours with history, --irc-port and IRC clients in #lobby"
    )


def _machine() -> str:
    model = ""
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            for line in f:
                if line.startswith("model name"):
                    model = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    memory = ""
    try:
        pages = os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
        memory = f", {pages / 2**30:.0f} GiB"
    except (ValueError, OSError):
        pass
    cpu = model or platform.machine()
    return f"{os.cpu_count()} CPUs{memory}, {cpu}, Linux {platform.release()}"


def _cluster_fact() -> str:
    version = cluster.redis_version()
    if version is None:
        return "redis-server not installed: cluster targets skipped"
    return (
        f"ours-cluster1-*, ours-cluster2-*: redis-server {version} (no persistence) and one or "
        "two nodes with --cluster, clients split in turn; server CPU is the nodes' and Redis's, "
        "all pinned to the server's CPU; redis: that Redis alone"
    )


def _ngircd_version() -> str:
    try:
        out = subprocess.run(
            ["ngircd", "--version"], capture_output=True, text=True, timeout=5, check=False
        ).stdout
    except (OSError, subprocess.TimeoutExpired):
        return "not installed"
    first = out.splitlines()[0] if out else "unknown"
    return first.split("-", 1)[0] + " (Debian package)"


_PREAMBLE = "# Benchmarks\n"
