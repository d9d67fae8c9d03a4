"""End-to-end: ``tcp-client`` with stdin from a pipe, against the real server."""

from __future__ import annotations

import json
import select
import signal
import socket
import subprocess
import sys
import time
from typing import Any

import pytest

from tcpchat.core.limits import GREETING_WAIT_S, HANDSHAKE_WAIT_S
from tests.conftest import WAIT, Peer, ServerProcess, child_env
from tests.e2e.old_server import OldServer

CLIENT = [
    sys.executable,
    "-c",
    "from tcpchat.cli import client_main; raise SystemExit(client_main())",
]


def run_client(
    port: int, *args: str, stdin: str = "", **env: str
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*CLIENT, "--host", "127.0.0.1", "--port", str(port), *args],
        input=stdin,
        capture_output=True,
        text=True,
        encoding="utf-8",
        env=child_env(**env),
        timeout=WAIT * 3,
    )


def test_echo_hello_delivers_and_exits_0(server: ServerProcess, connect: Any) -> None:
    bob = connect("bob")
    done = run_client(server.port, "--name", "bot", stdin="hello\n")
    assert done.returncode == 0, done.stderr
    assert bob.expect(r"^<bot>") == "<bot> hello"
    assert "*** Delivered to ALL (1 user)." in done.stdout.splitlines()
    assert bob.expect(r"bot left") == "*** bot left (quit). 1 user online."
    assert done.stderr == ""


def test_events_are_plain_lines_and_cyrillic_works(server: ServerProcess, connect: Any) -> None:
    connect("Борис")
    done = run_client(server.port, "--name", "Бот", stdin="/w Борис привет\n/users\n")
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert "*** You are Бот. 2 users online: Борис, Бот." in lines
    assert "*** Delivered to Борис." in lines
    assert "*** 2 users online: Борис, Бот." in lines
    assert not any("\x1b" in line for line in lines)


def test_json_prints_the_server_events(server: ServerProcess) -> None:
    done = run_client(server.port, "--name", "bot", "--json", stdin="hi\n/w nobody x\n")
    assert done.returncode == 3, done.stderr  # the whisper was refused
    events = [json.loads(line) for line in done.stdout.splitlines()]
    kinds = [e["type"] for e in events]
    assert kinds[0] == "registered"
    assert "delivered" in kinds and "error" in kinds
    assert events[-1]["type"] == "bye"
    # Lines 1 and 2 were "/mode json" and "/nick bot"; the answers name the line they answer.
    answers = {e["type"]: e["line"] for e in events if e["type"] in ("delivered", "error")}
    assert answers == {"delivered": 3, "error": 4}


def test_own_name_nick_then_whisper_waits_for_and_counts_the_whisper_delivered(
    server: ServerProcess, connect: Any
) -> None:
    """Issue 12's bug: the error answering /nick is not taken for the whisper's."""
    bob = connect("bob")
    done = run_client(server.port, "--name", "bot", stdin="/nick bot\n/w bob hi\n")
    assert bob.expect(r"^\[PM") == "[PM from bot] hi"
    lines = done.stdout.splitlines()
    assert "*** Delivered to bob." in lines
    assert lines.index("*** Delivered to bob.") < lines.index("*** Goodbye, bot.")
    # The /nick was refused (usage: already your name), the whisper was not: only one failure.
    assert done.stderr == "tcp-client: 1 line refused\n"
    assert done.returncode == 3


def test_a_refused_line_is_exit_3_and_said_on_stderr(server: ServerProcess) -> None:
    done = run_client(server.port, "--name", "bot", stdin="hello\n/w nobody hi\nbye\n")
    assert done.returncode == 3
    assert "!!! No such user: nobody." in done.stdout
    assert done.stdout.count("*** Nobody else is online") == 2
    assert done.stderr == "tcp-client: 1 line refused\n"


def test_a_line_too_long_to_send_is_refused_by_the_client(server: ServerProcess) -> None:
    done = run_client(server.port, "--name", "bot", stdin="x" * 5000 + "\nok\n")
    assert done.returncode == 3
    assert done.stderr.splitlines() == [
        "tcp-client: Too long to send (5000 bytes; the server takes 4096).",
        "tcp-client: 1 line refused",
    ]
    assert "*** Nobody else is online: your message reached no one." in done.stdout


def test_quit_in_the_input_ends_it_with_the_reason(server: ServerProcess, connect: Any) -> None:
    bob = connect("bob")
    done = run_client(server.port, "--name", "bot", stdin="hello\n/quit done here\nnot sent\n")
    assert done.returncode == 0, done.stderr
    assert bob.expect(r"^<bot>") == "<bot> hello"
    assert bob.expect(r"bot left") == "*** bot left (quit: done here). 1 user online."
    assert "not sent" not in done.stdout


def test_a_name_refused_for_any_reason_fails_at_once(server: ServerProcess) -> None:
    """The error answering the name's line refuses it, whatever its code (issue 13, item 1)."""
    started = time.monotonic()
    done = run_client(server.port, "--name", "john smith", stdin="hello\n")
    assert done.returncode == 1
    assert done.stderr.startswith("tcp-client: ") and "did not answer" not in done.stderr
    assert time.monotonic() - started < HANDSHAKE_WAIT_S


def test_many_lines_are_paced_under_the_flood_limit(server: ServerProcess, connect: Any) -> None:
    bob = connect("bob")
    lines = [f"line {i}" for i in range(1, 16)]
    done = run_client(server.port, "--name", "bot", stdin="\n".join(lines) + "\n")
    assert done.returncode == 0, done.stderr
    for line in lines:
        assert bob.expect(r"^<bot>") == f"<bot> {line}"
    assert "rate" not in done.stdout
    assert done.stdout.count("*** Delivered to ALL") == 15


def test_a_taken_name_fails_in_a_pipe(server: ServerProcess, connect: Any) -> None:
    connect("bot")
    done = run_client(server.port, "--name", "bot", stdin="hello\n")
    assert done.returncode == 1
    assert "taken" in done.stderr


def test_without_a_name_a_pipe_is_a_usage_error(server: ServerProcess) -> None:
    done = run_client(server.port, stdin="hello\n")
    assert done.returncode == 2
    assert "--name" in done.stderr


@pytest.mark.parametrize("closed", ["stdout", "stdin"])
def test_a_client_started_with_a_stream_closed_still_runs(
    server: ServerProcess, connect: Any, closed: str
) -> None:
    """`tcp-client ... >&-` was a traceback (sys.stdout is None); `<&-` is an empty input."""
    bob = connect("bob")
    command = " ".join(f"'{word}'" for word in [*CLIENT, "--port", str(server.port)])
    redirect = ">&-" if closed == "stdout" else "<&-"
    done = subprocess.run(
        ["sh", "-c", f"exec {command} --host 127.0.0.1 --name bot {redirect}"],
        input="hello\n" if closed == "stdout" else None,
        stdout=subprocess.PIPE if closed == "stdin" else None,
        stderr=subprocess.PIPE,
        text=True,
        env=child_env(),
        timeout=WAIT * 3,
    )
    assert (done.returncode, done.stderr) == (0, "")
    if closed == "stdout":
        assert bob.expect(r"^<bot>") == "<bot> hello"
    assert bob.expect(r"bot left") == "*** bot left (quit). 1 user online."


def test_refused_connection_is_one_line_and_exit_1() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    done = run_client(port, "--name", "bot", stdin="hello\n")
    assert done.returncode == 1
    assert done.stderr == (
        f"tcp-client: cannot connect to 127.0.0.1:{port}: "
        "connection refused (is the server running?)\n"
    )


def test_unknown_host_is_one_line_and_exit_1() -> None:
    done = subprocess.run(
        [*CLIENT, "--host", "no-such-host.invalid", "--name", "bot"],
        input="hello\n",
        capture_output=True,
        text=True,
        env=child_env(),
        timeout=WAIT * 3,
    )
    assert done.returncode == 1
    assert done.stderr.startswith("tcp-client: cannot connect to no-such-host.invalid:")
    assert len(done.stderr.splitlines()) == 1


def test_environment_variables_set_the_options(server: ServerProcess, connect: Any) -> None:
    bob = connect("bob")
    done = subprocess.run(
        CLIENT,
        input="from the environment\n",
        capture_output=True,
        text=True,
        env=child_env(
            TCPCHAT_HOST="127.0.0.1", TCPCHAT_PORT=str(server.port), TCPCHAT_NAME="envbot"
        ),
        timeout=WAIT * 3,
    )
    assert done.returncode == 0, done.stderr
    assert bob.expect(r"^<envbot>") == "<envbot> from the environment"


def test_a_quiet_client_answers_pings_and_stays(tmp_path: Any) -> None:
    srv = ServerProcess(tmp_path, "--ping-interval", "1", "--ping-timeout", "1")
    proc = subprocess.Popen(
        [*CLIENT, "--port", str(srv.port), "--name", "bot"],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env=child_env(),
    )  # fmt: skip
    try:
        srv.wait_log(r"registered as bot")
        watcher = Peer(srv.port)
        watcher.send("watcher\n")
        watcher.expect("You are watcher")
        # Three ping rounds pass; a client that did not answer would be dropped in two.
        with pytest.raises(AssertionError):
            watcher.expect(r"bot left", timeout=3.5)
        assert proc.stdin is not None
        proc.stdin.write("still here\n")
        proc.stdin.close()
        assert watcher.expect(r"^<bot>") == "<bot> still here"
        assert proc.wait(WAIT) == 0
    finally:
        proc.kill()
        srv.stop()


def test_a_lost_connection_ends_the_client_while_its_input_is_quiet(tmp_path: Any) -> None:
    """No waiting for the next input line: the server went away without a word, exit 1."""
    srv = ServerProcess(tmp_path)
    proc = subprocess.Popen(
        [*CLIENT, "--port", str(srv.port), "--name", "bot"],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        env=child_env(),
    )  # fmt: skip
    try:
        assert proc.stdout is not None
        ready, _, _ = select.select([proc.stdout], [], [], WAIT)
        assert ready and proc.stdout.readline().startswith("*** You are bot.")  # joined
        srv.stop(signal.SIGKILL)
        assert proc.wait(WAIT) == 1  # stdin is still open
    finally:
        proc.kill()
        proc.communicate()
        srv.stop()


@pytest.mark.parametrize("greeting", [b"Welcome! Enter your name: ", b"Welcome!\n"])
def test_a_server_that_is_not_tcp_chat_2_is_said_in_one_line_and_sees_nothing(
    greeting: bytes,
) -> None:
    """The 1.0 server takes the first line it gets as a name: the client sends nothing before
    the server's greeting shows it is tcp-chat 2 (issue 13, item 7)."""
    old = OldServer(greeting)
    try:
        started = time.monotonic()
        done = run_client(old.port, "--name", "bot", stdin="hello\n")
        took = time.monotonic() - started
        assert done.returncode == 1
        assert done.stderr == (
            f"tcp-client: 127.0.0.1:{old.port} does not speak tcp-chat 2 "
            f"(it said: {greeting.decode().strip()!r})\n"
        )
        assert took < GREETING_WAIT_S + WAIT / 2
        assert old.wait_sessions() == [b""]
    finally:
        old.close()


def test_a_port_of_the_wrong_kind_is_said_with_what_to_try() -> None:
    """A TLS or IRC port says nothing to a plain client, and a plain port answers a TLS
    handshake with what is not TLS: the one line says what to try (a newcomer's review)."""
    silent = OldServer(b"")
    try:
        done = run_client(silent.port, "--name", "bot", stdin="hello\n")
        assert done.returncode == 1
        assert done.stderr == (
            f"tcp-client: 127.0.0.1:{silent.port} said nothing within 2 s: a TLS port needs "
            "--tls (and an IRC port an IRC client), or the server is not answering\n"
        )
        plain = OldServer(b"*** Welcome to tcp-chat 2.0.0. 0 users online.\n")
        try:
            done = run_client(plain.port, "--name", "bot", "--tls", stdin="hello\n")
            assert done.returncode == 1
            assert done.stderr.startswith(f"tcp-client: TLS handshake with 127.0.0.1:{plain.port}")
            assert done.stderr.endswith("(a plain port? leave out --tls)\n")
        finally:
            plain.close()
    finally:
        silent.close()


def test_a_pipe_takes_the_password_from_a_file_or_the_environment(tmp_path: Any) -> None:
    """--password-file and TCPCHAT_PASSWORD answer the server's password prompt; without one
    the client says where to put it (issue 13, item 9)."""
    secret = tmp_path / "password"
    secret.write_text("open sesame\n")
    server = ServerProcess(tmp_path, "--password-file", str(secret))
    try:
        done = run_client(server.port, "--name", "a", "--password-file", str(secret), stdin="hi\n")
        assert done.returncode == 0, done.stderr
        done = run_client(server.port, "--name", "b", stdin="hi\n", TCPCHAT_PASSWORD="open sesame")
        assert done.returncode == 0, done.stderr
        done = run_client(server.port, "--name", "c", stdin="hi\n", TCPCHAT_PASSWORD="guess")
        assert (done.returncode, done.stderr) == (1, "tcp-client: wrong password\n")
        done = run_client(server.port, "--name", "d", stdin="hi\n")
        assert done.returncode == 1
        assert done.stderr == (
            "tcp-client: the server wants a password (--password-file or TCPCHAT_PASSWORD)\n"
        )
    finally:
        server.stop()


@pytest.mark.parametrize("unbuffered", ["1", ""], ids=["unbuffered", "buffered"])
def test_a_reader_that_goes_away_leaves_the_client_sending_and_confirming(
    server: ServerProcess, connect: Any, unbuffered: str
) -> None:
    """``... | tcp-client --name headbot | head -1``: once stdout's reader is gone the client
    prints nothing more, yet sends the rest of its input, reads the confirmations and exits 0
    once they are in, with nothing on stderr (no traceback, and no BrokenPipeError from
    Python's flush of a dead stdout at exit, which only a buffered stdout has to flush)."""
    bob = connect("bob")
    env = child_env(PYTHONUNBUFFERED=unbuffered)
    if not unbuffered:
        del env["PYTHONUNBUFFERED"]
    wait = 3.0
    proc = subprocess.Popen(
        [*CLIENT, "--port", str(server.port), "--name", "headbot", "--wait", str(wait)],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        env=env,
    )  # fmt: skip
    try:
        assert proc.stdin is not None and proc.stdout is not None and proc.stderr is not None
        ready, _, _ = select.select([proc.stdout], [], [], WAIT)
        assert ready and proc.stdout.readline().startswith("*** You are headbot.")
        proc.stdout.close()  # as head -1 does: the client's next write finds no reader
        proc.stdin.write("a\nb\nc\n")
        proc.stdin.close()
        for line in ("a", "b", "c"):
            assert bob.expect(r"^<headbot>") == f"<headbot> {line}"
        assert proc.wait(timeout=wait + 5) == 0  # a safety bound, not a speed test
        assert proc.stderr.read() == ""
        assert bob.expect(r"headbot left") == "*** headbot left (quit). 1 user online."
    finally:
        proc.kill()
        proc.wait(WAIT)
        if proc.stderr is not None:
            proc.stderr.close()
