"""End-to-end: the real server process on an ephemeral port, users on raw sockets as with nc."""

from __future__ import annotations

import importlib.util
import json
import re
import shutil
import signal
import socket
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tcpchat import __version__
from tests.conftest import IN_CI, ROOT, WAIT, Peer, ServerProcess, child_env, join_peer


def test_broadcast_reaches_everyone_else_and_confirms_to_sender(connect: Any) -> None:
    alice, bob, carol = connect("alice"), connect("bob"), connect("carol")
    alice.send("hello everyone\n")
    assert alice.expect(r"Delivered") == "*** Delivered to ALL (2 users)."
    assert bob.expect(r"^<") == "<alice> hello everyone"
    assert carol.expect(r"^<") == "<alice> hello everyone"


def test_alone_the_sender_is_told_nobody_received_it(connect: Any) -> None:
    alice = connect("alice")
    alice.send("anyone here?\n")
    assert alice.line() == "*** Nobody else is online: your message reached no one."


def test_private_message_and_its_confirmation(connect: Any) -> None:
    alice, bob, carol = connect("alice"), connect("bob"), connect("carol")
    alice.send("/w bob see you at 5\n")
    assert alice.expect(r"Delivered") == "*** Delivered to bob."
    assert bob.expect(r"^\[PM") == "[PM from alice] see you at 5"
    carol.send("/users\n")  # carol's next line is the answer: she saw no private message
    assert carol.expect(r"online").startswith("*** 3 users online")
    assert not any("see you" in line for line in carol.seen)


def test_private_message_to_unknown_name_is_an_error(connect: Any) -> None:
    alice = connect("alice")
    alice.send("/w zed hello\n")
    assert alice.line() == "!!! No such user: zed. Type /users to see who is online."


def test_private_message_to_yourself_is_an_error(connect: Any) -> None:
    alice = connect("alice")
    alice.send("/msg Alice hello\n")
    assert alice.line() == "!!! You cannot send a private message to yourself."


def test_taken_name_is_refused_then_another_is_accepted(connect: Any) -> None:
    connect("alice")
    peer = connect()
    peer.send("ALICE\n")
    assert peer.line() == '!!! The name "ALICE" is taken. Choose another one.'
    assert peer.line() == "*** Enter your name:"
    peer.send("alice2\n")
    assert peer.line() == "*** You are alice2. 2 users online: alice, alice2."


@pytest.mark.parametrize("line", [b"\n", b"   \n", b"/nick\n", b"\x80\xfe\n", b"/users\n"])
def test_a_refused_name_line_gets_one_error_and_a_fresh_prompt(connect: Any, line: bytes) -> None:
    peer = connect()
    peer.send(line)
    assert peer.line().startswith("!!! ")
    assert peer.line() == "*** Enter your name:"
    peer.send("alice\n")
    assert peer.line().startswith("*** You are alice.")


def test_in_json_mode_an_empty_name_gets_an_error_and_a_prompt(connect: Any) -> None:
    peer = connect(json_mode=True)
    peer.send("\n")
    assert json.loads(peer.line())["code"] == "name_invalid"
    assert json.loads(peer.line())["type"] == "prompt"


def test_cyrillic_names_and_text_travel_intact(connect: Any) -> None:
    anna, boris = connect("Анна"), connect("Борис")
    anna.send("Привет, Борис! Как дела?\n")
    assert boris.expect(r"^<") == "<Анна> Привет, Борис! Как дела?"
    boris.send("/w анна всё хорошо\n")
    assert anna.expect(r"^\[PM") == "[PM from Борис] всё хорошо"
    assert boris.expect("Delivered") == "*** Delivered to Анна."


def test_users_lists_who_is_online_with_the_count(connect: Any) -> None:
    connect("bob")
    alice = connect("alice")
    alice.send("/users\n")
    assert alice.line() == "*** 2 users online: alice, bob."


def test_padding_is_cut_so_a_wrapped_line_cannot_pass_for_someone_elses(connect: Any) -> None:
    # In an 80-column nc, 67 spaces would push "<alice> ..." to the start of a row of its own.
    mallory, bob = connect("mallory"), connect("bob")
    mallory.send("lol" + " " * 67 + "<alice> my password is hunter2\n")
    assert bob.expect("^<") == "<mallory> lol" + " " * 8 + "<alice> my password is hunter2"
    # Blank look-alikes are padding too, and the sender is shown what the others got.
    mallory.send("/w bob psst" + "\u3164\u2800\u00a0" * 20 + "<alice> hi\n")
    expected = "psst" + ("\u3164\u2800\u00a0" * 3)[:8] + "<alice> hi"
    assert bob.expect(r"^\[PM") == f"[PM from mallory] {expected}"
    mallory.send("/mode json\n")
    mallory.send("hello" + " " * 30 + "there\n")
    assert mallory.event("delivered")["text"] == "hello" + " " * 8 + "there"
    assert bob.expect("^<") == "<mallory> hello" + " " * 8 + "there"
    mallory.send("/quit bye" + " " * 70 + "*** alice is an admin\n")
    left = "*** mallory left (quit: bye" + " " * 8 + "*** alice is an admin). 1 user online."
    assert bob.expect("left") == left


def test_a_line_of_control_bytes_is_not_passed_on_three_times_larger(connect: Any) -> None:
    alice, bob = connect("alice"), connect("bob")
    alice.send(b"\x01" * 4000 + b"\n")  # 4000 bytes, 12000 once each is U+FFFD
    assert alice.expect("^!!!") == "!!! Line too long (the limit is 4096 bytes); it was dropped."
    alice.send(b"\x01" * 1000 + b"\n")
    assert bob.expect("^<") == "<alice> " + "\ufffd" * 1000


def test_join_and_rename_are_announced(connect: Any) -> None:
    alice = connect("alice")
    connect("bob")
    assert alice.expect("joined") == "*** bob joined. 2 users online."
    alice.send("/nick alicia\n")
    assert alice.line() == "*** You are now known as alicia."


def test_rename_is_announced_to_others(connect: Any) -> None:
    alice, bob = connect("alice"), connect("bob")
    bob.send("/nick robert\n")
    assert alice.expect("known as") == "*** bob is now known as robert."
    alice.send("/w robert hi\n")
    assert bob.expect(r"^\[PM") == "[PM from alice] hi"


def test_leave_is_announced_on_quit_with_the_reason(connect: Any) -> None:
    alice, bob = connect("alice"), connect("bob")
    bob.send("/quit see you\n")
    assert bob.line() == "*** Goodbye, bob."
    assert bob.closed()
    assert alice.expect("left") == "*** bob left (quit: see you). 1 user online."


def test_leave_is_announced_on_an_abrupt_close(connect: Any) -> None:
    alice, bob = connect("alice"), connect("bob")
    bob.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
    bob.close()  # linger 0: a reset, as when a laptop loses its network
    assert alice.expect("left").startswith("*** bob left (connection")


@pytest.mark.parametrize("last", ["/users\n", "/quit done\n"])
def test_a_script_that_half_closes_gets_every_answer(connect: Any, last: str) -> None:
    # printf 'carol\nhello\n/users\n' | nc -N: all lines, then end of input at once. Several
    # rounds, so that the end of input often arrives while the answers wait for the next flush.
    alice = connect("alice")
    for n in range(5):
        script = connect()
        script.send(f"carol{n}\nhello {n}\n{last}")
        script.sock.shutdown(socket.SHUT_WR)
        assert (
            script.expect(r"^\*\*\* You are ")
            == f"*** You are carol{n}. 2 users online: alice, carol{n}."
        )
        assert script.expect(r"^\*\*\* (Delivered|Nobody)") == "*** Delivered to ALL (1 user)."
        final = "*** 2 users online" if last == "/users\n" else f"*** Goodbye, carol{n}."
        assert script.expect(r"^\*\*\* (2 users|Goodbye)").startswith(final)
        assert script.closed()
        assert alice.expect(f"carol{n}>") == f"<carol{n}> hello {n}"


def test_unknown_command_points_at_help(connect: Any) -> None:
    alice = connect("alice")
    alice.send("/dance\n")
    assert alice.line() == "!!! Unknown command: /dance. Type /help for the commands."
    alice.send("/help\n")
    assert alice.line().startswith("*** Commands")
    assert alice.expect(r"/w NAME TEXT").startswith("*** /w NAME TEXT")


def test_double_slash_sends_a_literal_slash(connect: Any) -> None:
    alice, bob = connect("alice"), connect("bob")
    alice.send("//etc/hosts is a file\n")
    assert bob.expect("^<") == "<alice> /etc/hosts is a file"


def test_telnet_crlf_line_endings_work(connect: Any) -> None:
    alice, bob = connect("alice"), connect("bob")
    alice.send("over telnet\r\n")
    assert bob.expect("^<") == "<alice> over telnet"


def test_messages_from_one_sender_arrive_in_order(connect: Any) -> None:
    alice, bob = connect("alice"), connect("bob")
    alice.send("".join(f"line {i}\n" for i in range(8)))
    got = [bob.expect("^<") for _ in range(8)]
    assert got == [f"<alice> line {i}" for i in range(8)]


def test_json_mode_events_for_programs(connect: Any) -> None:
    bot = connect("bot", json_mode=True)
    alice = connect("alice")
    joined = bot.event("join")
    assert (joined["name"], joined["online"]) == ("alice", 2)
    alice.send("hi bot\n")
    msg = bot.event("message")
    assert msg["from"] == "alice" and msg["text"] == "hi bot" and msg["private"] is False
    assert isinstance(msg["id"], int) and msg["time"].endswith("Z")
    bot.send("/w alice hello alice\n")
    delivered = bot.event("delivered")
    assert delivered["to"] == "alice" and delivered["recipients"] == 1
    assert delivered["id"] > msg["id"] and delivered["text"] == "hello alice"
    assert alice.expect(r"^\[PM") == "[PM from bot] hello alice"
    bot.send("/w nobody x\n")
    assert bot.event("error")["code"] == "no_such_user"
    bot.send("/users\n")
    assert bot.event("users")["users"] == ["alice", "bot"]


def test_json_and_text_users_see_the_same_message(connect: Any) -> None:
    bot, alice, carol = connect("bot", json_mode=True), connect("alice"), connect("carol")
    carol.send("hello both\n")
    assert bot.event("message")["text"] == "hello both"
    assert alice.expect("^<") == "<carol> hello both"
    delivered = carol.expect("Delivered")
    assert delivered == "*** Delivered to ALL (2 users)."


def test_every_connection_action_and_disconnect_is_logged(
    server: ServerProcess, connect: Any
) -> None:
    alice, bob = connect("alice"), connect("bob")
    alice.send("public words\n")
    alice.send("/w bob secret words\n")
    alice.send("/w ghost boo\n")
    alice.expect("No such user")
    bob.send("/quit bye\n")
    server.wait_log(r"bob disconnected \(quit: bye\)")
    (log_file,) = server.log_dir.glob("chat-*.log")
    assert re.fullmatch(r"chat-\d{4}-\d\d-\d\d_\d\d-\d\d-\d\d\.log", log_file.name)
    text = log_file.read_text(encoding="utf-8")
    for expected in (
        "listening on 127.0.0.1:",
        "connected (1 connection)",
        "registered as alice",
        "alice -> ALL (1 user): public words",
        "alice -> bob: secret words",
        "user error no_such_user",
        "bob disconnected (quit: bye)",
    ):
        assert expected in text, expected
    assert "public words" in server.stderr()  # the console gets the same records


def test_no_log_text_keeps_message_bodies_out_of_the_log(tmp_path: Path) -> None:
    srv = ServerProcess(tmp_path, "--no-log-text")
    try:
        alice, _ = join_peer(srv.port, "alice"), join_peer(srv.port, "bob")
        alice.send("top secret\n")
        alice.expect("Delivered")
        srv.wait_log(r"alice -> ALL \(1 user\): 10 characters")
        assert "top secret" not in srv.stderr()
    finally:
        srv.stop()


@pytest.mark.parametrize("where", ["flags", "config file"])
def test_no_log_text_keeps_message_bodies_out_of_debug_records_too(
    tmp_path: Path, where: str
) -> None:
    if where == "flags":
        srv = ServerProcess(tmp_path, "--no-log-text", "--log-level", "DEBUG")
    else:
        conf = tmp_path / "server.conf"
        conf.write_text("[server]\nlog_text = no\nlog_level = DEBUG\n", encoding="utf-8")
        srv = ServerProcess(tmp_path, "--config", str(conf))
    try:
        alice, bob = join_peer(srv.port, "alice"), join_peer(srv.port, "bob")
        alice.send("my password is hunter2\n/w bob psst hunter3\n/me hides hunter4\n")
        assert bob.expect("hunter4")
        srv.wait_log(r"alice -> ALL \(1 user\) \(action\): 13 characters")
        srv.wait_log(r"< /w \(19 characters\)")
        assert "hunter" not in srv.stderr()
    finally:
        srv.stop()


def test_sigterm_tells_everyone_and_exits_zero_quickly(server: ServerProcess, connect: Any) -> None:
    alice, bot = connect("alice"), connect("bot", json_mode=True)
    server.proc.send_signal(signal.SIGTERM)
    assert alice.expect("shutting down") == "*** Server is shutting down."
    assert bot.event("shutdown")["text"] == "Server is shutting down."
    assert alice.closed() and bot.closed()
    assert server.proc.wait(2.0) == 0
    assert "stopping: 2 connections" in server.stderr() and "stopped" in server.stderr()


def test_sigint_stops_cleanly_too(server: ServerProcess, connect: Any) -> None:
    connect("alice")
    assert server.stop(signal.SIGINT) == 0
    assert "Traceback" not in server.stderr()
    assert "stopping: 1 connection\n" in server.stderr()  # not "1 connections"


def test_sighup_stops_cleanly_unless_started_with_nohup(
    server: ServerProcess, connect: Any, tmp_path: Path
) -> None:
    """Closing the terminal a server runs in (SIGHUP) stops it as Ctrl+C does: users told, log
    written. Under nohup (SIGHUP ignored from the start) it goes on serving."""
    alice = connect("alice")
    server.proc.send_signal(signal.SIGHUP)
    assert alice.expect("shutting down") == "*** Server is shutting down."
    assert server.proc.wait(WAIT) == 0
    assert "received SIGHUP" in server.stderr() and "stopped" in server.stderr()
    nohup = shutil.which("nohup")
    assert nohup is not None  # coreutils
    (tmp_path / "nohup").mkdir()
    kept = ServerProcess(
        tmp_path / "nohup", command=(nohup, sys.executable, "-m", "tcpchat", "server")
    )
    try:
        kept.proc.send_signal(signal.SIGHUP)
        bob = Peer(kept.port)  # still serving after the hangup
        bob.expect(r"Enter your name")
        bob.send("bob\n")
        bob.expect(r"^\*\*\* You are bob")
        assert "received SIGHUP" not in kept.stderr()
    finally:
        assert kept.stop() == 0


def test_port_in_use_is_one_clear_line_and_exit_1(server: ServerProcess, tmp_path: Path) -> None:
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "tcpchat",
            "server",
            "--port",
            str(server.port),
            "--log-dir",
            "",
            "--config",
            "/dev/null",
            "--no-history",  # the first server holds ./data/history.sqlite3
        ],
        capture_output=True,
        text=True,
        env=child_env(),
        timeout=WAIT,
        cwd=tmp_path,
    )
    assert result.returncode == 1
    assert "cannot listen on 127.0.0.1:" in result.stderr
    assert "Traceback" not in result.stderr


def test_bad_flag_is_a_usage_error(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "tcpchat", "server", "--port", "99999"],
        capture_output=True,
        text=True,
        env=child_env(),
        timeout=WAIT,
        cwd=tmp_path,
    )
    assert result.returncode == 2 and "not a TCP port" in result.stderr


@pytest.mark.parametrize(
    ("conf", "args", "said"),
    [
        ("", ["--tls-port", "54322"], "--tls-port needs --tls-cert and --tls-key"),
        ("[srv]\nport = 6000\n", [], "unknown section [srv] (this reads [server])"),
    ],
)
def test_settings_that_would_be_ignored_in_silence_are_a_usage_error(
    tmp_path: Path, conf: str, args: list[str], said: str
) -> None:
    """A --tls-port without a certificate listened on nothing, and a misspelled section left
    every key of the file unread: the server started on its defaults without a word (a
    newcomer's review)."""
    (tmp_path / "server.conf").write_text(conf, "utf-8")
    result = subprocess.run(
        [sys.executable, "-m", "tcpchat", "server", "--config", "server.conf", *args],
        capture_output=True,
        text=True,
        env=child_env(),
        timeout=WAIT,
        cwd=tmp_path,
    )
    assert result.returncode == 2 and said in result.stderr.splitlines()[-1], result.stderr


def test_flags_beat_environment_beat_config_file(tmp_path: Path) -> None:
    conf = tmp_path / "server.conf"
    conf.write_text("[server]\nmax_line = 100\nlog_file = no\nflood_rate = 7\n", "utf-8")
    env = child_env(TCPCHAT_MAX_LINE="50", TCPCHAT_FLOOD_RATE="5")
    srv = ServerProcess(tmp_path, "--config", str(conf), "--flood-rate", "3", env=env)
    try:
        peer = Peer(srv.port)
        peer.send("/mode json\n")
        welcome = peer.event("welcome")
        assert welcome["type"] == "welcome"
        assert welcome["max_line"] == 50  # environment over file
        assert welcome["flood_rate"] == 3  # flag over environment
        assert not srv.log_dir.exists()  # log_file = no, from the file
        peer.close()
    finally:
        srv.stop()


def test_version_flag(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "tcpchat", "server", "--version"],
        capture_output=True,
        text=True,
        env=child_env(),
        timeout=WAIT,
    )
    first, search = result.stdout.splitlines()
    assert result.returncode == 0 and first == f"python -m tcpchat server {__version__}"
    assert search.startswith(("history search: SQLite FTS5", "history search: plain LIKE"))


@pytest.mark.parametrize("loop", ["asyncio", "uvloop"])
def test_chat_works_on_both_event_loops(tmp_path: Path, loop: str) -> None:
    if loop == "uvloop" and importlib.util.find_spec("uvloop") is None:
        if IN_CI:
            pytest.fail("uvloop is not installed (requirements-dev.txt installs it)")
        pytest.skip("uvloop is not installed")
    srv = ServerProcess(tmp_path, "--loop", loop, "--max-per-ip", "50")
    try:
        peers = [join_peer(srv.port, f"user{i}") for i in range(30)]  # a crowd joining at once
        peers[0].send("hello crowd\n/w user29 just you\n")
        assert peers[0].expect("Delivered") == "*** Delivered to ALL (29 users)."
        assert peers[29].expect("^<") == "<user0> hello crowd"
        assert peers[29].expect(r"^\[PM") == "[PM from user0] just you"
        peers[1].send("/quit\n")
        assert peers[2].expect("left") == "*** user1 left (quit). 29 users online."
    finally:
        assert srv.stop() == 0
    assert "Traceback" not in srv.stderr()


# --- from a checkout ----------------------------------------------------------------------------


def test_make_client_joins_the_server_from_a_checkout(server: ServerProcess, connect: Any) -> None:
    """What the README's Quick start says: `make run` in one terminal, `make client` in another
    (here in pipe mode; VPY: this interpreter instead of creating .venv)."""
    if shutil.which("make") is None:
        pytest.skip("make is not installed")
    alice = connect("alice")
    done = subprocess.run(
        [
            "make",
            "-s",
            "-C",
            str(ROOT),
            "client",
            f"PORT={server.port}",
            "HOST=127.0.0.1",
            "NAME=bob",
            f"VPY={sys.executable}",
        ],
        input="hello from make\n",
        env=child_env(),
        capture_output=True,
        text=True,
        timeout=WAIT,
    )
    assert done.returncode == 0, done.stderr
    assert alice.expect("^<bob>") == "<bob> hello from make"


def test_make_run_takes_host_and_port() -> None:
    if shutil.which("make") is None:
        pytest.skip("make is not installed")
    done = subprocess.run(
        ["make", "-n", "-C", str(ROOT), "run", "HOST=0.0.0.0", "PORT=6000", "VPY=python3"],
        capture_output=True,
        text=True,
        timeout=WAIT,
    )
    assert "-m tcpchat server --host 0.0.0.0 --port 6000 " in done.stdout
