"""End-to-end: the client where the terminal cannot be put in raw mode, as on Windows (issue 17).

The real ``tcp-client`` runs in tmux (``test_client_tmux.Screen``) in its plain mode, reached
three ways: asked for with ``--plain``; chosen by itself because ``termios`` (and ``tty``,
``fcntl``, ``resource``) cannot be imported, as on Windows, by a ``sitecustomize`` that refuses
them; and chosen by itself on ``TERM=dumb``. Each goes through the session the full client's tests
check: the name prompt, messages arriving while a line is typed, a whisper and its confirmation,
a reconnect after the server restarts, Ctrl+C and Ctrl+D. Pipe mode and ``--json`` run without
those modules too.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Callable

import pytest

from tests.conftest import POSIX_ONLY, WAIT, ServerProcess, child_env, without_modules
from tests.e2e.test_client_tmux import Screen, joined, reconnects_after_a_restart

# How the plain mode is reached: the client's arguments and environment.
MODES = ["--plain", "no termios", "TERM=dumb"]


@pytest.fixture(params=MODES)
def plain(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Callable[..., Screen]]:
    """``plain(port, "--name", "alice")`` starts a client in tmux, in the plain mode."""
    mode: str = request.param
    screens: list[Screen] = []

    def start(port: int, *args: str) -> Screen:
        flags = ["--host", "127.0.0.1", "--port", str(port), *args]
        if mode == "--plain":
            s = Screen(tmp_path, ["--plain", *flags])
        elif mode == "no termios":
            s = Screen(tmp_path, flags, PYTHONPATH=without_modules(tmp_path, *POSIX_ONLY))
        else:
            s = Screen(tmp_path, flags, TERM="dumb")
        screens.append(s)
        return s

    yield start
    for s in screens:
        s.close()


def typed(scr: Screen, line: str) -> None:
    scr.type(line)
    scr.keys("Enter")


def test_the_name_is_asked_and_help_lists_the_plain_modes_keys(
    server: ServerProcess, connect: Any, plain: Any
) -> None:
    """The plain mode was chosen (its /help lists Enter, not Tab), the name prompt works as in
    the full client, /help included."""
    bob = connect("bob")
    alice = plain(server.port)
    alice.wait(lambda: alice.input_row() == "Your name:")
    typed(alice, "/help")
    alice.wait(r"/r TEXT\s+reply privately")
    alice.wait(lambda: alice.input_row() == "Your name:")
    typed(alice, "alice")
    joined(alice, "alice")
    assert bob.expect(r"alice joined") == "*** alice joined. 2 users online."
    typed(alice, "/help")
    text = alice.wait(r"\*\*\*\s+/ping")
    assert re.search(r"\*\*\*\s+Enter\s+send the line \(editing and history are your", text)
    assert re.search(r"\*\*\*\s+/w NAME TEXT\s+send a private message", text)
    assert "Tab" not in text and "/mode" not in text
    alice.wait(lambda: alice.input_row() == "alice>")


def test_messages_arriving_while_a_line_is_typed_leave_both_whole(
    server: ServerProcess, connect: Any, plain: Any
) -> None:
    """Ten messages arrive while alice types: each is shown whole on a line of its own, and the
    line she was typing goes out whole when she presses Enter."""
    bob, carol = connect("bob"), connect("carol")
    alice = joined(plain(server.port, "--name", "alice"), "alice")
    alice.type("half typed")
    alice.wait(lambda: alice.input_row().endswith("half typed"))
    for i in range(1, 11):  # two senders, so that neither passes the flood limit
        (bob if i % 2 else carol).send(f"incoming message {i}\n")
    alice.wait(r"<carol> incoming message 10$")
    for i in range(1, 11):
        sender = "bob" if i % 2 else "carol"
        alice.wait(rf"^\d\d:\d\d <{sender}> incoming message {i}$")
    typed(alice, " and the rest")
    assert bob.expect(r"^<alice>") == "<alice> half typed and the rest"
    assert carol.expect(r"^<alice>") == "<alice> half typed and the rest"
    alice.wait(r"^\d\d:\d\d <alice> half typed and the rest \u27132$")
    alice.wait(lambda: alice.input_row() == "alice>")


def test_a_whisper_is_confirmed_and_r_replies(
    server: ServerProcess, connect: Any, plain: Any
) -> None:
    bob = connect("bob")
    alice = joined(plain(server.port, "--name", "alice"), "alice")
    typed(alice, "/w bob psst")
    assert bob.expect(r"^\[PM") == "[PM from alice] psst"
    alice.wait(r"\[PM to bob\] psst \u2713$")
    bob.send("/w alice psst yourself\n")
    alice.wait(r"\[PM from bob\] psst yourself$")
    typed(alice, "/r got it")
    assert bob.expect(r"^\[PM") == "[PM from alice] got it"
    alice.wait(r"\[PM to bob\] got it \u2713$")
    typed(alice, "/w nobody are you there")
    alice.wait(r"!!! No such user: nobody\..*\(not sent: /w nobody are you there\)$")
    alice.wait(lambda: alice.input_row() == "alice>")


def test_it_reconnects_after_the_server_restarts(tmp_path: Path, plain: Any) -> None:
    reconnects_after_a_restart(tmp_path, lambda port: plain(port, "--name", "alice"))


def test_ctrl_c_leaves_cleanly_without_a_traceback(
    server: ServerProcess, connect: Any, plain: Any
) -> None:
    bob = connect("bob")
    alice = joined(plain(server.port, "--name", "alice"), "alice")
    alice.type("something half typed")
    alice.keys("C-c")
    assert alice.wait_exit() == 130  # and the terminal settings are as they were
    assert "Traceback" not in alice.text()
    assert bob.expect(r"alice left") == "*** alice left (quit). 1 user online."
    assert "half typed" not in bob.seen[-1]


def test_ctrl_d_leaves_and_the_server_announces_it(
    server: ServerProcess, connect: Any, plain: Any
) -> None:
    bob = connect("bob")
    alice = joined(plain(server.port, "--name", "alice"), "alice")
    alice.keys("C-d")
    assert alice.wait_exit() == 0
    assert bob.expect(r"alice left") == "*** alice left (quit). 1 user online."
    assert "Goodbye, alice." in alice.text()
    assert "Traceback" not in alice.text()


# --- pipe mode and --json without the POSIX-only modules ----------------------------------------

CLIENT = [
    sys.executable,
    "-c",
    "from tcpchat.cli import client_main; raise SystemExit(client_main())",
]


def _pipe(tmp: Path, port: int, *args: str, stdin: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*CLIENT, "--host", "127.0.0.1", "--port", str(port), *args],
        input=stdin,
        capture_output=True,
        text=True,
        encoding="utf-8",
        env=child_env(PYTHONPATH=without_modules(tmp, *POSIX_ONLY)),
        timeout=WAIT * 3,
    )


def test_pipe_mode_and_json_need_no_posix_only_module(
    tmp_path: Path, server: ServerProcess, connect: Any
) -> None:
    bob = connect("bob")
    done = _pipe(tmp_path, server.port, "--name", "bot", stdin="hello\n/w bob psst\n")
    assert (done.returncode, done.stderr) == (0, "")
    assert bob.expect(r"^<bot>") == "<bot> hello"
    assert bob.expect(r"^\[PM") == "[PM from bot] psst"
    assert "*** Delivered to bob." in done.stdout.splitlines()
    done = _pipe(tmp_path, server.port, "--name", "bot", "--json", stdin="hi\n")
    assert (done.returncode, done.stderr) == (0, "")
    kinds = [json.loads(line)["type"] for line in done.stdout.splitlines()]
    assert kinds[0] == "registered" and "delivered" in kinds and kinds[-1] == "bye"
