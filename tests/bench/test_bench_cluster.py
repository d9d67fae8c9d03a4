"""The benchmark's cluster parts: specs, which target runs what, the Redis wire and figures,
the report's comparison of one node in cluster mode with the standalone server, and a tiny real
run against a real redis-server (skipped without one, as the cluster tests are)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tcpchat.bench import cli, report, servers
from tcpchat.bench.cluster import encode_command, redis_args
from tcpchat.bench.measure import node_of_index
from tcpchat.bench.redis_log import benchmark_rps, entry_fields, flat_size
from tcpchat.bench.scenarios import Result, applies, parse_spec
from tcpchat.bench.servers import TARGETS
from tcpchat.bench.specs import Cross, Pause, RedisLog
from tcpchat.core import cluster as cl
from tcpchat.core import cluster_codec as codec
from tests.conftest import need_tool


def test_parse_spec_reads_the_cluster_scenarios() -> None:
    assert parse_spec("cross:K=5000,R=20,D=5") == Cross(K=5000, R=20, D=5.0)
    assert parse_spec("pause:C=100,S=10,R=500,D=8,X=3") == Pause(C=100, S=10, R=500, X=3.0)
    assert parse_spec("redis-log:M=1000,B=10") == RedisLog(M=1000, B=10)
    for bad in ("cross:K=1", "pause:D=2,X=2", "pause:C=5,S=5", "redis-log:Q=1"):
        with pytest.raises(ValueError):
            parse_spec(bad)


def test_cluster_scenarios_run_on_cluster_targets_only_and_one_to_thousands_also_alone() -> None:
    one, two = TARGETS["ours-cluster1-asyncio"], TARGETS["ours-cluster2-asyncio"]
    alone, redis = TARGETS["ours-asyncio"], TARGETS["redis"]
    fanout, latency = parse_spec("fanout:C=6,S=2,M=2"), parse_spec("latency:C=6,S=2")
    cross, pause, log = Cross(K=4), Pause(C=6, S=2, D=2, X=1), RedisLog(M=10)
    runs = {
        (target.name, spec.kind)
        for target in (one, two, alone, redis)
        for spec in (fanout, latency, cross, pause, log, parse_spec("capacity:K=10"))
        if not applies(spec, target)
    }
    assert runs == {
        ("ours-cluster1-asyncio", "fanout"),
        ("ours-cluster1-asyncio", "latency"),
        ("ours-cluster2-asyncio", "fanout"),
        ("ours-cluster2-asyncio", "latency"),
        ("ours-cluster2-asyncio", "cross"),
        ("ours-cluster2-asyncio", "pause"),
        ("ours-asyncio", "fanout"),
        ("ours-asyncio", "latency"),
        ("ours-asyncio", "cross"),
        ("ours-asyncio", "capacity"),
        ("redis", "redis-log"),
    }


def test_clients_are_split_over_the_nodes_in_turn() -> None:
    place = node_of_index(2)
    assert [place(i) for i in range(5)] == [0, 1, 0, 1, 0]
    assert {node_of_index(1)(i) for i in range(5)} == {0}


def test_redis_runs_without_persistence_on_loopback() -> None:
    args = redis_args(6390, Path("/tmp/x"))
    assert args[args.index("--save") + 1] == ""
    assert args[args.index("--appendonly") + 1] == "no"
    assert args[args.index("--bind") + 1] == "127.0.0.1"


def test_commands_are_encoded_as_resp_arrays() -> None:
    assert encode_command("CLIENT", "PAUSE", 3000, "WRITE") == (
        b"*4\r\n$6\r\nCLIENT\r\n$5\r\nPAUSE\r\n$4\r\n3000\r\n$5\r\nWRITE\r\n"
    )


def test_log_entries_have_the_asked_size_and_decode_as_a_room_message() -> None:
    fields = entry_fields(100)
    assert flat_size(fields) == 100
    entry = codec.decode(dict(zip(fields[::2], fields[1::2])))
    assert isinstance(entry, cl.Said) and entry.room == "#lobby"
    assert flat_size(entry_fields(10)) > 10  # never shorter than its fixed fields


def test_redis_benchmark_csv_gives_requests_per_second() -> None:
    csv = (
        '"test","rps","avg_latency_ms","min_latency_ms"\n'
        '"EVALSHA abc 2 tcpchat:seq tcpchat:log","117647.06","0.473","0.120"\n'
    )
    assert benchmark_rps(csv) == pytest.approx(117647.06)
    assert benchmark_rps("") == 0.0
    # The command is echoed as it is: an entry's JSON brings unescaped quotes and commas.
    json_line = '"XADD k * e ["said","a",1]","249999.98","0.177","0.048"\n'
    assert benchmark_rps(csv.splitlines()[0] + "\n" + json_line) == pytest.approx(249999.98)


def test_cluster_cost_compares_one_node_with_the_standalone_server() -> None:
    results = [
        Result("fanout X", "fanout", "ours-asyncio", {"deliveries_per_s": 1000.0}),
        Result("fanout X", "fanout", "ours-cluster1-asyncio", {"deliveries_per_s": 850.0}),
        Result("fanout X", "fanout", "ours-cluster2-asyncio", {"deliveries_per_s": 1200.0}),
    ]
    text = report.cluster_cost(results)
    assert "| fanout X" in text and "0.85x" in text and "1.20x" not in text
    assert report.cluster_cost(results[:1]) == ""
    assert "One node in cluster mode" in report.section(results, [])


def test_every_suite_holds_the_cluster_scenarios() -> None:
    for specs in cli.SUITES.values():
        kinds = {parse_spec(text).kind for text in specs}
        assert {"cross", "pause", "redis-log"} <= kinds
    assert {"ours-cluster1-asyncio", "ours-cluster2-asyncio", "redis"} <= set(
        cli.DEFAULT_TARGETS.split(",")
    )


def test_quick_runs_against_a_real_redis(tmp_path: Path) -> None:
    """One node in cluster mode loses nothing; the redis target reports the log's figures."""
    need_tool("redis-server")
    pytest.importorskip("redis")
    out = tmp_path / "bench.json"
    argv = ["--scenario", "fanout:C=4,S=2,M=10", "--scenario", "redis-log:M=500,B=50"]
    argv += ["--targets", "ours-cluster1-asyncio,redis", "--no-pin", "--gen-loop", "asyncio"]
    assert cli.main([*argv, "--json", str(out)]) == 0, "the benchmark reported an error"
    fanout, log = json.loads(out.read_text())["results"]
    assert (fanout["figures"]["expected"], fanout["figures"]["received"]) == (60, 60)
    assert log["figures"]["appends_many_per_s"] > 0 and log["figures"]["read"] == 1000


def test_cluster_targets_are_skipped_with_a_reason_without_redis_server(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    real = servers.shutil.which
    monkeypatch.setattr(
        servers.shutil, "which", lambda name: None if name == "redis-server" else real(name)
    )
    for name in ("ours-cluster1-asyncio", "ours-cluster2-asyncio", "redis"):
        assert "redis-server is not installed" in servers.unavailable(TARGETS[name])
    assert servers.unavailable(TARGETS["ours-asyncio"]) == ""


def test_the_summary_shows_latency_across_nodes_only_when_measured() -> None:
    alone = Result("latency X", "latency", "ours-asyncio", {"p99_ms": 4.0})
    two = Result(
        "latency X", "latency", "ours-cluster2-asyncio", {"p99_ms": 9.0, "cross_p99_ms": 9.5}
    )
    assert "from one node to another" not in report.summary([alone])
    assert "from one node to another" in report.summary([alone, two])


def test_the_paired_cost_runs_both_in_turn_and_fills_its_section(tmp_path: Path) -> None:
    """A tiny real run of ``cluster_cost`` (a real Redis, real servers): each round runs the
    standalone server and one node, the table gives the median ratio and every round's, and
    ``--write`` replaces only its own section."""
    need_tool("redis-server")
    pytest.importorskip("redis")
    from tcpchat.bench import cluster_cost

    doc = tmp_path / "BENCHMARKS.md"
    doc.write_text("# Benchmarks\n\nNotes.\n", encoding="utf-8")
    argv = ["--scenario", "fanout:C=4,S=2,M=10", "--rounds", "2", "--no-pin"]
    for _ in range(2):  # the second run replaces the first one's table
        assert cluster_cost.main([*argv, "--write", str(doc)]) == 0
    text = doc.read_text(encoding="utf-8")
    assert text.startswith("# Benchmarks\n\nNotes.\n") and text.count(cluster_cost.BEGIN) == 1
    cells = [[c.strip() for c in line.split("|")[1:-1]] for line in text.splitlines()]
    row = next(r for r in cells if len(r) == 7 and r[1] == "deliveries/s")
    assert row[0] == "fanout C=4 S=2 M=10 P=100 W=8"
    rounds = [float(r) for r in row[6].split()]
    assert len(rounds) == 2 and all(r > 0 for r in rounds)
    low, high = sorted(rounds)
    assert low - 0.01 <= float(row[4].rstrip("x")) <= high + 0.01  # their median, rounded
    assert row[5] == f"{low:.2f}-{high:.2f}"


def test_the_paired_cost_counts_a_round_only_when_both_runs_finished() -> None:
    from tcpchat.bench.cluster_cost import Pairs

    pairs = Pairs("fanout X")
    ok = {"deliveries_per_s": 100.0, "deliveries_per_cpu_s": 120.0}
    pairs.add(
        Result("fanout X", "fanout", "ours-asyncio", ok),
        Result("fanout X", "fanout", "ours-cluster1-asyncio", {**ok, "deliveries_per_s": 80.0}),
    )
    pairs.add(
        Result("fanout X", "fanout", "ours-asyncio", ok),
        Result("fanout X", "fanout", "ours-cluster1-asyncio", error="server exited with 1"),
    )
    lossy = {**ok, "lost": 3.0}
    pairs.add(
        Result("fanout X", "fanout", "ours-asyncio", ok),
        Result("fanout X", "fanout", "ours-cluster1-asyncio", lossy),
    )
    assert pairs.ratios("deliveries_per_s") == [0.8, 1.0]  # the lossy round counts, and fails
    assert pairs.ratios("deliveries_per_cpu_s") == [1.0, 1.0]
    assert pairs.errors == [
        "ours-cluster1-asyncio: server exited with 1",
        "ours-cluster1-asyncio: lost",
    ]
