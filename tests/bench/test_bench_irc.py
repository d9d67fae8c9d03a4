"""The IRC targets and the mixed room (issue 16): the dialect our IRC port is spoken with, which
scenarios run where, and one tiny real run of each against our server's IRC port."""

from __future__ import annotations

import json
from pathlib import Path

from tcpchat.bench import cli, report
from tcpchat.bench.dialects import OURS_IRC, ChatDialect, IrcDialect
from tcpchat.bench.scenarios import (
    Capacity,
    Fanout,
    Latency,
    Mixed,
    MixedLatency,
    Result,
    Rooms,
    Storm,
    applies,
    mixed_dialect,
    parse_spec,
)
from tcpchat.bench.servers import SERVER_NAME, TARGETS, RunningServer


def test_our_irc_port_is_spoken_to_in_the_lobby_without_ngircds_operator_lines() -> None:
    hello = OURS_IRC.hello(3, sender=True).decode()
    assert hello == "NICK b3\r\nUSER b3 0 * :bench\r\n"  # #lobby is joined at registration
    assert OURS_IRC.ready(3) == b" 366 b3 #lobby "
    assert OURS_IRC.message(3, 1, 2, 40).startswith(b"PRIVMSG #lobby :%3.1.2% ")
    assert b"JOIN #r1\r\n" in OURS_IRC.hello(3, False, ("#r1",))
    # ngircd's dialect is unchanged but for a precise ready marker.
    assert b"OPER bench bench\r\n" in IrcDialect().hello(3, sender=True)
    assert IrcDialect().ready(3) == b" 366 b3 #bench "


def test_irc_targets_run_the_one_room_and_mixed_scenarios_only() -> None:
    irc, native, ngircd = TARGETS["ours-irc-uvloop"], TARGETS["ours-uvloop"], TARGETS["ngircd"]
    assert irc.dialect is OURS_IRC and irc.kind == "ours" and irc.history
    for spec in (Fanout(), Latency(), Mixed(), MixedLatency()):
        assert applies(spec, irc) == ""
    for spec in (Rooms(), Capacity(), Storm()):
        assert applies(spec, irc) != ""
    assert applies(Mixed(), native) != "" and applies(MixedLatency(), ngircd) != ""
    assert isinstance(mixed_dialect(0), ChatDialect) and mixed_dialect(1) is OURS_IRC
    assert parse_spec("mixed:C=10,S=4,M=5") == Mixed(C=10, S=4, M=5)
    assert parse_spec("mixed-latency:C=10,S=2,R=50,D=1") == MixedLatency(C=10, S=2, R=50, D=1)


def test_irc_target_gets_an_irc_port_and_the_server_name(tmp_path: Path) -> None:
    server = RunningServer(TARGETS["ours-irc-asyncio"], tmp_path, pin=False)
    try:
        assert server.irc_port and server.irc_port != server.port
        assert server.port_for(OURS_IRC) == server.irc_port
        assert server.port_for(ChatDialect()) == server.port
        command = " ".join(str(a) for a in server.proc.args)
        assert f"--irc-port {server.irc_port} --server-name {SERVER_NAME}" in command
    finally:
        server.stop()


def test_summary_shows_the_latency_between_kinds() -> None:
    figures = {"irc_to_native_p99_ms": 1.5, "native_to_irc_p99_ms": 2.5, "lost": 0.0}
    text = report.summary([Result("mixed-latency X", "mixed-latency", "ours-irc-uvloop", figures)])
    assert "IRC -> native p99 ms" in text and "1.50" in text and "2.50" in text


def test_tiny_irc_and_mixed_runs_against_the_real_server_lose_nothing(tmp_path: Path) -> None:
    """Fan-out with IRC clients on our IRC port; a mixed room where native and IRC clients hear
    each other; its latency variant with a latency for each direction."""
    out = tmp_path / "bench.json"
    argv = ["--scenario", "fanout:C=4,S=2,M=10", "--scenario", "mixed:C=6,S=2,M=10"]
    argv += ["--scenario", "mixed-latency:C=4,S=2,R=100,D=0.3"]
    argv += ["--targets", "ours-irc-asyncio", "--no-pin", "--gen-loop", "asyncio"]
    argv += ["--json", str(out)]
    assert cli.main(argv) == 0, "the benchmark reported an error"
    fanout, mixed, latency = (r["figures"] for r in json.loads(out.read_text())["results"])
    assert (fanout["expected"], fanout["received"]) == (60, 60)
    assert fanout["said"] == fanout["stored"] == 20  # IRC messages are kept in history too
    assert (mixed["expected"], mixed["received"]) == (100, 100)
    assert mixed["duplicates"] == mixed["disorder"] == 0
    assert latency["lost"] == latency["duplicates"] == latency["disorder"] == 0
    # Client 0 sends natively, client 1 on IRC; receivers 2 (native) and 3 (IRC) hear both.
    for key in ("irc_to_native_p99_ms", "native_to_irc_p99_ms"):
        assert latency[key] > 0
