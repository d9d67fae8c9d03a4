"""End-to-end: the client notices a server that hangs (SIGSTOP: the kernel still takes the
connection's bytes, the server answers none), in the terminal (tmux) and in pipe mode.

``--server-timeout 4`` (``TCPCHAT_SERVER_TIMEOUT=4``) makes the figures small: a line
unconfirmed for 1 s is told, the server is pinged after 2 s of silence and given up after 4 s.
"""

from __future__ import annotations

import re
import signal
import subprocess
from pathlib import Path
from typing import Callable

from tests.conftest import WAIT, ServerProcess, child_env, join_peer
from tests.e2e import test_client_tmux
from tests.e2e.test_client_pipe import CLIENT
from tests.e2e.test_client_tmux import Screen, joined

TIMEOUT = "4"


screen = test_client_tmux.screen  # the fixture that starts a client in tmux


def test_a_hung_server_is_told_given_up_and_the_client_reconnects_when_it_is_back(
    tmp_path: Path, screen: Callable[..., Screen]
) -> None:
    srv = ServerProcess(tmp_path)
    try:
        alice = joined(screen(srv.port, "--name", "alice", TCPCHAT_SERVER_TIMEOUT=TIMEOUT), "alice")
        srv.proc.send_signal(signal.SIGSTOP)
        try:
            alice.type("are you there?")
            alice.keys("Enter")
            alice.wait(r"\*\*\* Waiting for the server \(your line is not confirmed yet\)\.$")
            alice.wait(lambda: alice.input_row().startswith("[waiting for the server] alice>"))
            alice.wait(
                r"Not confirmed before the connection closed \(it may still arrive\): "
                r"are you there\?$"
            )
            alice.wait(r"The server has not answered for \d+ s\. Reconnecting in 1 s")
            # The kernel still accepts connections for the stopped server: it says nothing. The
            # address spoke tcp-chat a moment ago: no hint of a TLS or IRC port (a review).
            alice.wait(r"said nothing within 2 s: the server is not answering\. Next try in 2 s\.$")
        finally:
            srv.proc.send_signal(signal.SIGCONT)
        alice.wait(r"Reconnected to 127\.0\.0\.1:\d+\.$", timeout=WAIT * 2)
        alice.wait(lambda: alice.input_row() == "alice>")
        bob = join_peer(srv.port, "bob")
        alice.type("back again")
        alice.keys("Enter")
        assert bob.expect(r"^<alice> back") == "<alice> back again"
        alice.wait(r"<alice> back again ✓1$")
        assert alice.text().count("Waiting for the server") == 1
        bob.close()
    finally:
        srv.proc.send_signal(signal.SIGCONT)
        srv.stop()


def test_pipe_mode_ends_as_a_lost_connection_when_the_server_hangs(tmp_path: Path) -> None:
    """A bot whose input stays open (``tail -f | tcp-client``) is not kept waiting forever."""
    srv = ServerProcess(tmp_path)
    client: subprocess.Popen[str] | None = None
    try:
        bob = join_peer(srv.port, "bob")
        client = subprocess.Popen(
            [*CLIENT, "--host", "127.0.0.1", "--port", str(srv.port), "--name", "bot"]
            + ["--server-timeout", TIMEOUT],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            encoding="utf-8",
            env=child_env(),
        )
        assert client.stdin is not None
        client.stdin.write("hello\n")
        client.stdin.flush()
        assert bob.expect(r"^<bot>") == "<bot> hello"
        srv.proc.send_signal(signal.SIGSTOP)
        try:
            assert client.wait(WAIT) == 1
        finally:
            srv.proc.send_signal(signal.SIGCONT)
        assert client.stderr is not None
        stderr = client.stderr.read()
        # "1 message not confirmed" follows when the stop came before the bot read its answer.
        lost = r"tcp-client: the connection was lost: the rest of the input not sent(, .*)?\n"
        assert re.fullmatch(lost, stderr), stderr
        bob.close()
    finally:
        if client is not None and client.poll() is None:
            client.kill()
            client.wait(WAIT)
        srv.proc.send_signal(signal.SIGCONT)
        srv.stop()


def test_a_ping_the_user_types_is_still_answered_on_screen(
    tmp_path: Path, screen: Callable[..., Screen]
) -> None:
    srv = ServerProcess(tmp_path)
    try:
        alice = joined(screen(srv.port, "--name", "alice", "--server-timeout", TIMEOUT), "alice")
        alice.type("/ping mine")
        alice.keys("Enter")
        alice.wait(r"\*\*\* pong mine$")
    finally:
        srv.stop()
