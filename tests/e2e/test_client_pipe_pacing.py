"""End-to-end: ``tcp-client`` in a pipe paces each line by what the server charges for it, says
goodbye with a /quit the server takes, and never exits 0 with input it did not send."""

from __future__ import annotations

import os
import re
import select
import signal
import subprocess
import time
from typing import Any

from tcpchat.core.flood import line_cost
from tcpchat.core.limits import FLOOD_BURST, FLOOD_RATE_PER_S
from tests.conftest import WAIT, ServerProcess, child_env
from tests.e2e.test_client_pipe import CLIENT, run_client


def test_lookups_that_cost_two_lines_are_paced_so_none_is_rate_limited(
    server: ServerProcess,
) -> None:
    """Seven /rooms (2 lines of the budget each) then a message: nothing is refused, the run
    ends once the pacing allows, and the server logs a quit, not a dropped connection."""
    script = ["/rooms"] * 7 + ["final msg"]
    started = time.monotonic()
    done = run_client(server.port, "--name", "roomsbot", stdin="\n".join(script) + "\n")
    took = time.monotonic() - started
    assert "Slow down" not in done.stdout
    assert done.stderr == ""
    assert done.returncode == 0
    assert "*** Nobody else is online: your message reached no one." in done.stdout
    assert done.stdout.splitlines()[-1] == "*** Goodbye, roomsbot."
    # What the handshake, the script and the /quit cost beyond the burst, at the server's rate.
    spent = sum(map(line_cost, ["/mode json", "/nick roomsbot", *script, "/quit"]))
    pacing = (spent - FLOOD_BURST + 1) / FLOOD_RATE_PER_S
    assert took < pacing + WAIT / 2
    server.wait_log(r"roomsbot disconnected \(quit\)")
    assert "roomsbot disconnected (connection closed)" not in server.stderr()


def test_json_history_lookups_are_not_rate_limited(tmp_path: Any) -> None:
    srv = ServerProcess(tmp_path)  # history on: /history answers
    try:
        script = ["/history 1"] * 7 + ["final msg"]
        done = run_client(srv.port, "--name", "histbot", "--json", stdin="\n".join(script) + "\n")
        assert "rate_limited" not in done.stdout
        assert (done.returncode, done.stderr) == (0, "")
        assert '"type":"bye"' in done.stdout.splitlines()[-1]
        srv.wait_log(r"histbot disconnected \(quit\)")
    finally:
        srv.stop()


def _start_client(port: int) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [*CLIENT, "--host", "127.0.0.1", "--port", str(port), "--name", "pipey"],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        env=child_env(),
    )  # fmt: skip


def _end(proc: subprocess.Popen[str]) -> None:
    proc.kill()
    proc.wait(WAIT)
    for stream in (proc.stdin, proc.stdout, proc.stderr):
        if stream is not None:
            stream.close()


def _wait_stdout(proc: subprocess.Popen[str], pattern: str) -> None:
    """Read the client's stdout until a line matches ``pattern`` (within WAIT)."""
    assert proc.stdout is not None
    deadline = time.monotonic() + WAIT
    while time.monotonic() < deadline:
        ready, _, _ = select.select([proc.stdout], [], [], deadline - time.monotonic())
        line = proc.stdout.readline() if ready else ""
        if re.search(pattern, line):
            return
        if not line:
            break
    raise AssertionError(f"the client never printed {pattern!r}")


def test_a_server_stopping_while_input_is_still_to_come_is_exit_1_and_said(
    tmp_path: Any,
) -> None:
    """The server says it is shutting down while stdin is open: the rest of the input was
    never sent, so the status is not 0 and stderr says so."""
    srv = ServerProcess(tmp_path)
    proc = _start_client(srv.port)
    try:
        _wait_stdout(proc, r"^\*\*\* You are pipey\.")
        srv.stop(signal.SIGTERM)
        assert proc.wait(WAIT) == 1  # stdin is still open: a line may come
        assert proc.stderr is not None
        assert proc.stderr.read() == (
            "tcp-client: the server is shutting down: the rest of the input not sent\n"
        )
    finally:
        _end(proc)
        srv.stop()


def test_lines_read_but_not_yet_sent_when_the_server_stops_are_counted(
    tmp_path: Any,
) -> None:
    """Input read to its end but still waiting for the pacer when the server stops: stderr
    counts the lines that were not sent."""
    srv = ServerProcess(tmp_path)
    proc = _start_client(srv.port)
    try:
        assert proc.stdin is not None
        proc.stdin.write("".join(f"line {i}\n" for i in range(40)))  # 20 s of pacing
        proc.stdin.close()
        _wait_stdout(proc, r"^\*\*\* Nobody else is online")  # the first went out
        srv.stop(signal.SIGTERM)
        assert proc.wait(WAIT) == 1
        assert proc.stderr is not None
        said = proc.stderr.read()
        # Lines sent just before the stop may also go unanswered ("3 messages not confirmed").
        found = re.fullmatch(
            r"tcp-client: the server is shutting down: (\d+) lines not sent"
            r"(, \d+ messages? not confirmed)?\n",
            said,
        )
        assert found, said
        assert 0 < int(found.group(1)) < 40
    finally:
        _end(proc)
        srv.stop()


def test_a_server_that_stops_answering_holds_the_end_to_wait_and_a_short_grace(
    tmp_path: Any,
) -> None:
    """--wait bounds the end of a run: a server stopped (SIGSTOP) after the first line answers
    neither the second nor the /quit, and the client gives up on the goodbye soon after --wait
    runs out instead of waiting the handshake's 10 s for it: exit 3, the message unconfirmed."""
    srv = ServerProcess(tmp_path)
    wait = 3.0
    proc = subprocess.Popen(
        [*CLIENT, "--port", str(srv.port), "--name", "pipey", "--wait", str(wait)],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        env=child_env(),
    )  # fmt: skip
    try:
        assert proc.stdin is not None and proc.stderr is not None
        proc.stdin.write("one\n")
        proc.stdin.flush()
        _wait_stdout(proc, r"^\*\*\* Nobody else is online")  # the first was answered
        os.kill(srv.proc.pid, signal.SIGSTOP)
        proc.stdin.write("two\n")
        proc.stdin.close()
        assert proc.wait(timeout=wait + 5) == 3  # a safety bound, not a speed test
        assert proc.stderr.read() == "tcp-client: 1 message not confirmed\n"
    finally:
        os.kill(srv.proc.pid, signal.SIGCONT)
        _end(proc)
        srv.stop()
