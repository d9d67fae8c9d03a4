"""The real server and its history database at start: a database it cannot use stops it with
one line on stderr and exit status 1, before it listens; a usable one is opened and said so."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from tcpchat.server.store_db import DB_FILE, search_support
from tests.conftest import WAIT, ServerProcess, child_env

AS_ROOT = hasattr(os, "geteuid") and os.geteuid() == 0
NOBODY = 65534


def start(
    tmp_path: Path, *args: str, user: int | None = None, python: str = sys.executable
) -> subprocess.CompletedProcess[str]:
    """Run the server from tmp_path with ``args`` (as ``user`` with ``python``, if given); it is
    expected to stop at once."""
    command = [python, "-m", "tcpchat", "server", "--config", os.devnull]
    command += ["--host", "127.0.0.1", "--port", "0", "--no-log-file", *args]
    return subprocess.run(
        command,
        capture_output=True,
        text=True,
        env=child_env(),
        cwd=tmp_path,
        timeout=WAIT,
        **({} if user is None else {"user": user}),
    )


def one_line_and_exit_1(result: subprocess.CompletedProcess[str], *wanted: str) -> str:
    lines = result.stderr.splitlines()
    assert result.returncode == 1, result.stderr
    assert len(lines) == 1, result.stderr
    assert "Traceback" not in result.stderr and "listening" not in result.stderr
    assert " ERROR " in lines[0]
    for text in wanted:
        assert text in lines[0], lines[0]
    return lines[0]


def test_a_corrupt_database_stops_the_start_with_one_line(tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.mkdir()
    (data / DB_FILE).write_bytes(b"not a database at all\n" * 500)
    result = start(tmp_path, "--data-dir", str(data))
    one_line_and_exit_1(result, str(data / DB_FILE), "not a usable history database")


@pytest.mark.parametrize("where", ["a file", "under a file"])
def test_a_data_dir_that_cannot_be_made_stops_the_start(tmp_path: Path, where: str) -> None:
    """Fails for root too: no permission is involved."""
    (tmp_path / "taken").write_text("a regular file\n")
    data = tmp_path / "taken" if where == "a file" else tmp_path / "taken" / "data"
    result = start(tmp_path, "--data-dir", str(data))
    one_line_and_exit_1(result, f"cannot make the directory {data}", "--data-dir")


@pytest.mark.skipif(AS_ROOT, reason="root writes in read-only directories anyway")
def test_a_read_only_data_dir_stops_the_start(tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.mkdir(mode=0o500)
    try:
        result = start(tmp_path, "--data-dir", str(data))
    finally:
        data.chmod(0o700)
    one_line_and_exit_1(result, f"cannot write in {data}")


@pytest.mark.skipif(not AS_ROOT, reason="needs root to run the server as another user")
def test_a_data_dir_the_service_user_cannot_write_stops_the_start() -> None:
    """As root (CI runs as root), a read-only directory is one the server's user does not own:
    the server runs as nobody in a directory of root's, as a packaged service would if its data
    directory belonged to someone else."""
    # This interpreter may live where nobody cannot read (root's home); the system's can run the
    # server, which needs only the standard library.
    python = shutil.which("python3", path="/usr/bin:/bin")
    if python is None:
        assert not os.environ.get("CI"), "CI needs /usr/bin/python3 for this test"
        pytest.skip("no system python3 to run the server as another user")
    place = Path(tempfile.mkdtemp(prefix="tcpchat-ro-"))
    try:
        place.chmod(0o755)
        data = place / "data"
        data.mkdir(mode=0o755)
        result = start(place, "--data-dir", str(data), user=NOBODY, python=python)
        one_line_and_exit_1(result, f"cannot write in {data}")
    finally:
        shutil.rmtree(place)


def test_no_history_starts_whatever_is_in_the_data_dir(tmp_path: Path) -> None:
    (tmp_path / "data").write_text("not a directory\n")
    server = ServerProcess(tmp_path, "--no-history", "--data-dir", str(tmp_path / "data"))
    try:
        server.wait_log(r"history off \(--no-history\)")
    finally:
        assert server.stop() == 0, server.stderr()


def test_the_server_opens_its_history_and_says_how_it_searches(tmp_path: Path) -> None:
    server = ServerProcess(tmp_path)  # the default --data-dir: ./data
    try:
        line = server.wait_log(r"history in (\S+) \(ids from 1\), search: (.*)$")
        assert line.group(1) == os.path.join("data", DB_FILE)
        assert line.group(2) == search_support()
    finally:
        assert server.stop() == 0, server.stderr()
    assert (tmp_path / "data" / DB_FILE).is_file()
