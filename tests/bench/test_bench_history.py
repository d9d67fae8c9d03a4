"""The history benchmark: a small run crosses every step and writes its section."""

from __future__ import annotations

from pathlib import Path

import pytest

from tcpchat.bench import history


def test_a_quick_run_prints_every_figure_and_writes_its_section(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    page = tmp_path / "BENCHMARKS.md"
    page.write_text("# Benchmarks\n\nwritten by hand\n", encoding="utf-8")
    args = ["--quick", "--like", "--rows", "2000", "--keeps", "400", "--dir", str(tmp_path)]
    assert history.main([*args, "--write", str(page)]) == 0
    out = capsys.readouterr().out
    for figure in ("replay: last 20 of a room", "/history before ID", "all of the above"):
        assert figure in out
    assert "rows written and indexed per second" in out and "| all CPUs" in out
    text = page.read_text(encoding="utf-8")
    assert text.startswith("# Benchmarks\n\nwritten by hand\n") and history.END in text
    assert history.merge(text, "NEW") == "# Benchmarks\n\nwritten by hand\n\nNEW\n"
