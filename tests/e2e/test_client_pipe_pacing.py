"""End-to-end: ``tcp-client`` in a pipe paces each line by what the server charges for it, and
says goodbye with a /quit the server takes."""

from __future__ import annotations

import time
from typing import Any

from tcpchat.core.flood import line_cost
from tcpchat.core.limits import FLOOD_BURST, FLOOD_RATE_PER_S
from tests.conftest import WAIT, ServerProcess
from tests.e2e.test_client_pipe import run_client


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
