"""The input history file."""

from __future__ import annotations

from pathlib import Path

from tcpchat.client import history as ui


def test_history_lives_under_xdg_state_home(tmp_path: Path) -> None:
    path = ui.history_path({"XDG_STATE_HOME": str(tmp_path)})
    assert path == tmp_path / "tcp-chat" / "history"
    ui.append_history(path, "one")
    ui.append_history(path, "два")
    assert ui.load_history(path) == ["one", "два"]
    assert path.stat().st_mode & 0o777 == 0o600


def test_two_clients_at_once_keep_each_others_lines(tmp_path: Path) -> None:
    """Each line is appended as entered: neither client overwrites the other's (issue 13)."""
    path = tmp_path / "history"
    ui.append_history(path, "old")
    first, second = ui.load_history(path), ui.load_history(path)
    assert first == second == ["old"]
    ui.append_history(path, "from the first")
    ui.append_history(path, "from the second")
    ui.append_history(path, "the first again")
    assert ui.load_history(path) == ["old", "from the first", "from the second", "the first again"]


def test_the_file_is_cut_back_to_the_last_lines_past_its_size(tmp_path: Path) -> None:
    path = tmp_path / "history"
    for i in range(30):
        ui.append_history(path, f"line {i:02}", max_bytes=100, keep=5)
    assert path.stat().st_size <= 100
    assert ui.load_history(path)[-1] == "line 29"
    assert len(path.read_text().splitlines()) <= 12
    assert ui.load_history(path, limit=3) == ["line 27", "line 28", "line 29"]


def test_history_in_an_unwritable_place_is_ignored(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("")
    ui.append_history(blocker / "sub" / "history", "x")  # no exception
    assert ui.load_history(blocker / "sub" / "history") == []
