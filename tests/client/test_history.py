"""The input history file."""

from __future__ import annotations

from pathlib import Path

from tcpchat.client import history as ui


def test_history_lives_under_xdg_state_home(tmp_path: Path) -> None:
    path = ui.history_path({"XDG_STATE_HOME": str(tmp_path)})
    assert path == tmp_path / "tcp-chat" / "history"
    ui.save_history(path, ["one", "два"])
    assert ui.load_history(path) == ["one", "два"]
    assert path.stat().st_mode & 0o777 == 0o600


def test_history_in_an_unwritable_place_is_ignored(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("")
    ui.save_history(blocker / "sub" / "history", ["x"])  # no exception
    assert ui.load_history(blocker / "sub" / "history") == []
