"""End-to-end: a real IRC client (irssi, in tmux) in the same rooms as an nc user and a
``tcp-client`` user: it joins #lobby, talks with both, whispers both ways, changes its nick and
quits, and each side's own record (irssi's logs, the nc socket, the client's output) is read."""

from __future__ import annotations

import re
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import (
    WAIT,
    Lines,
    ServerProcess,
    child_env,
    join_peer,
    need_tool,
    poll_until,
)
from tests.e2e.tmux import TmuxPane

IRSSI_CONFIG = """\
settings = {{
  core = {{ real_name = "Ivy Irssi"; user_name = "ivy"; nick = "ivy"; }};
  "fe-common/core" = {{
    autolog = "yes";
    autolog_path = "{logs}/$0.log";
    autolog_level = "all";
  }};
}};
"""


class PipeClient(Lines):
    """``tcp-client`` reading its lines from a pipe (its pipe mode), output read in a thread."""

    def __init__(self, port: int, name: str) -> None:
        self.proc = subprocess.Popen(
            [
                sys.executable,
                "-c",
                "from tcpchat.cli import client_main; raise SystemExit(client_main())",
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
                "--name",
                name,
            ],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
            encoding="utf-8",
            env=child_env(),
        )
        super().__init__()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for text in self.proc.stdout:
            self.add(text.rstrip("\n"))

    def say(self, text: str) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write(text + "\n")
        self.proc.stdin.flush()

    def close(self) -> None:
        if self.proc.stdin is not None:
            self.proc.stdin.close()
        try:
            self.proc.wait(WAIT)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(WAIT)


def wait_file(path: Path, pattern: str, pane: TmuxPane) -> str:
    """Wait until irssi's log ``path`` has a line matching ``pattern`` (irssi writes as it
    shows); fail with its screen."""
    regex = re.compile(pattern)

    def found() -> str | None:
        text = path.read_text("utf-8", "replace") if path.exists() else ""
        return next((row for row in text.splitlines() if regex.search(row)), None)

    try:
        return poll_until(found, f"no {pattern!r} in {path.name}")
    except AssertionError as failure:
        text = path.read_text("utf-8", "replace") if path.exists() else ""
        screen = pane.run("capture-pane", "-p", "-t", "t")
        raise AssertionError(f"{failure}:\n{text}\nscreen:\n{screen}") from None


@pytest.fixture
def server(tmp_path: Path) -> Iterator[ServerProcess]:
    srv = ServerProcess(tmp_path, "--irc-port", "0", "--server-name", "irc.test")
    yield srv
    srv.stop()


def test_irssi_talks_with_nc_and_tcp_client_users(server: ServerProcess, tmp_path: Path) -> None:
    irssi = need_tool("irssi")
    irc_port = int(server.wait_log(r"IRC listening on 127\.0\.0\.1:(\d+)").group(1))
    home, logs = tmp_path / "irssi", tmp_path / "irssi-logs"
    home.mkdir()
    logs.mkdir()
    (home / "config").write_text(IRSSI_CONFIG.format(logs=logs))
    ann = join_peer(server.port, "ann")
    cid = PipeClient(server.port, "cid")
    cid.wait_for(r"^\*\*\* You are cid\.")
    pane = TmuxPane(
        tmp_path,
        f"{irssi} --home={home} --connect=127.0.0.1 --port={irc_port} --nick=ivy",
        120,
        40,
    )
    try:
        lobby = logs / "#lobby.log"
        ann.expect(r"^\*\*\* ivy joined\.")
        wait_file(lobby, r"Topic|ann|cid|ivy", pane)

        ann.send("hello from nc\n")
        wait_file(lobby, r"<.?ann> hello from nc", pane)
        cid.say("hello from tcp-client")
        wait_file(lobby, r"<.?cid> hello from tcp-client", pane)

        pane.type("/window goto #lobby")
        pane.keys("Enter")
        pane.type("hello from irssi")
        pane.keys("Enter")
        assert ann.expect(r"^<ivy>") == "<ivy> hello from irssi"
        cid.wait_for(r"^<ivy> hello from irssi$")

        ann.send("/w ivy a secret for ivy\n")
        wait_file(logs / "ann.log", r"<.?ann> a secret for ivy", pane)
        pane.type("/msg ann a secret for ann")
        pane.keys("Enter")
        assert "a secret for ann" in ann.expect(r"a secret for ann")
        pane.type("/msg cid one for cid")
        pane.keys("Enter")
        cid.wait_for(r"ivy.*one for cid")

        pane.type("/nick ivy2")
        pane.keys("Enter")
        ann.expect(r"^\*\*\* ivy is now known as ivy2\.")
        ann.send("/nick ann2\n")
        wait_file(lobby, r"ann is now known as ann2", pane)

        pane.type("/quit bye all")
        pane.keys("Enter")
        assert "bye all" in ann.expect(r"^\*\*\* ivy2 left")
        cid.wait_for(r"ivy2 left.*bye all")
    finally:
        pane.close()
        cid.close()
        ann.close()
