"""The cluster failure bench: the tally of a name race, the answers it reads, the tables, the
merge into docs/BENCHMARKS.md, the skip without redis-server, and a quick real run (3 nodes and
a redis-server; skipped without one, as the cluster tests are)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tcpchat.bench import cluster_failures as cf
from tests.conftest import need_tool


def test_answers_to_a_name_are_told_apart() -> None:
    assert cf.outcome("*** You are r1-user5. 3 users online: a, b, r1-user5.") == cf.GRANTED
    assert cf.outcome('!!! The name "r1-user5" is taken. Choose another one.') == cf.REFUSED
    looks = '!!! The name "r1-users" looks too much like "r1-user5", who is online. Choose another.'
    assert cf.outcome(looks) == cf.REFUSED
    assert cf.outcome("*** Wait: the other servers are checking your name.") is None
    assert cf.outcome("*** Enter your name:") is None


def test_a_race_where_each_name_was_granted_once_passes() -> None:
    wanted = ["x", "y", "x", "y"]
    got = cf.tally(
        wanted, [("x", cf.GRANTED), ("y", cf.REFUSED), ("x", cf.REFUSED), ("y", "granted")]
    )
    assert got == cf.RaceTally(
        names=2, granted=2, refused=2, unanswered=0, duplicates=(), missing=()
    )
    assert got.passed


def test_a_name_granted_twice_or_never_fails_the_run() -> None:
    wanted = ["x", "y", "z", "x", "y", "z"]
    answers = [
        ("x", cf.GRANTED),
        ("y", cf.REFUSED),
        ("z", cf.GRANTED),
        ("x", cf.GRANTED),
        ("y", None),
        ("z", cf.REFUSED),
    ]
    got = cf.tally(wanted, answers)
    assert (got.granted, got.refused, got.unanswered) == (3, 2, 1)
    assert got.duplicates == ("x",) and got.missing == ("y",)
    assert not got.passed
    # No duplicate but one name missing is a failure too.
    assert not cf.tally(["x", "y"], [("x", cf.GRANTED), ("y", cf.REFUSED)]).passed


def test_grants_are_counted_by_the_node_of_each_client() -> None:
    answers = [cf.GRANTED, cf.REFUSED, cf.GRANTED, cf.GRANTED, None, cf.REFUSED]
    assert cf.grants_by_node(answers, 3) == (2, 0, 1)


def test_the_race_table_shows_every_run_and_names_the_failures() -> None:
    good = cf.RaceRun(cf.tally(["x", "y"], [("x", cf.GRANTED), ("y", cf.GRANTED)]), 0.0312, (1, 1))
    bad = cf.RaceRun(cf.tally(["x", "y"], [("x", cf.GRANTED), ("x", cf.GRANTED)]), 0.05, (2, 0))
    lines = cf.race_table([good, bad]).splitlines()
    header = [cell.strip() for cell in lines[0].split("|")[1:-1]]
    assert header == [
        "run",
        "granted",
        "refused",
        "no answer",
        "duplicates",
        "missing",
        "granted on a / b / c",
        "first name sent to last answer, ms",
        "result",
    ]
    first = [cell.strip() for cell in lines[2].split("|")[1:-1]]
    second = [cell.strip() for cell in lines[3].split("|")[1:-1]]
    assert first == ["1", "2", "0", "0", "0", "0", "1 / 1", "31", "pass"]
    assert second == ["2", "2", "0", "0", "x", "y", "2 / 0", "50", "**FAIL**"]


def test_the_kill_tables_hold_each_run_and_the_spread_against_lease_plus_two() -> None:
    runs = [
        cf.KillRun(5.6, 5.7, 110, cf.KILL_USERS),
        cf.KillRun(6.2, 6.25, 120, cf.KILL_USERS),
        cf.KillRun(None, 7.5, 150, cf.KILL_USERS - 1, ("k3-b4 not registered",)),
    ]
    assert [run.passed for run in runs] == [True, True, False]
    rows = [[c.strip() for c in line.split("|")[1:-1]] for line in cf.kill_table(runs).splitlines()]
    assert rows[2] == ["1", "5.60", "5.70", "110", "10 of 10", "pass"]
    assert rows[4] == ["3", "-", "7.50", "150", "9 of 10", "**FAIL**: k3-b4 not registered"]
    spread = [
        [c.strip() for c in line.split("|")[1:-1]] for line in cf.spread_table(runs).splitlines()
    ]
    assert spread[2] == [
        "every leave seen by every user on a",
        "5.60",
        "5.90",
        "6.20",
        "7",
        "**not met** (1 missed)",
    ]
    assert spread[3] == [
        "one of b's names free again on a",
        "5.70",
        "6.25",
        "7.50",
        "7",
        "**not met** (0 missed)",
    ]
    assert cf.spread_table(runs[:2]).count("| met") == 2


def test_the_section_replaces_its_own_markers_only() -> None:
    page = "# Benchmarks\n\n<!-- bench:begin x -->\nold\n<!-- bench:end -->\n"
    once = cf.merge(page, f"{cf.BEGIN}\nfirst\n{cf.END}")
    assert once == page + f"\n{cf.BEGIN}\nfirst\n{cf.END}\n"
    twice = cf.merge(once, f"{cf.BEGIN}\nsecond\n{cf.END}")
    assert twice == page + f"\n{cf.BEGIN}\nsecond\n{cf.END}\n"


def test_without_redis_server_it_says_so_and_writes_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    real = cf.shutil.which
    monkeypatch.setattr(
        cf.shutil, "which", lambda name: None if name == "redis-server" else real(name)
    )
    page = tmp_path / "BENCHMARKS.md"
    page.write_text("# Benchmarks\n", encoding="utf-8")
    assert cf.main(["--quick", "--write", str(page)]) == 0
    assert "skipped: redis-server is not installed" in capsys.readouterr().out
    assert page.read_text(encoding="utf-8") == "# Benchmarks\n"


def test_a_quick_run_races_for_names_kills_a_node_and_writes_its_section(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    need_tool("redis-server")
    pytest.importorskip("redis")
    page = tmp_path / "BENCHMARKS.md"
    page.write_text("# Benchmarks\n\nwritten by hand\n", encoding="utf-8")
    assert cf.main(["--quick", "--dir", str(tmp_path / "run"), "--write", str(page)]) == 0
    out = capsys.readouterr().out
    text = page.read_text(encoding="utf-8")
    assert text.startswith("# Benchmarks\n\nwritten by hand\n") and cf.END in text
    assert "### The name race" in out and "### kill -9 of a node" in out
    # Two races of 300 clients: each had 300 answers, whatever their outcome.
    race_rows = [line for line in out.splitlines() if line.startswith(("| 1 ", "| 2 "))]
    assert len(race_rows) >= 3  # two race runs and one kill run
    assert "2 runs out of 2 passed" in out
    assert (tmp_path / "run" / "node-b-kill1.log").exists()
