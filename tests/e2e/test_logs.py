"""End-to-end: nobody can fill the disk through the log (issue 11, finding 5).

The real server, real sockets: one address quits with a 4,000-byte reason in a loop, before the
server password; the log stays within its budget while an ordinary user is logged in full. And the
log file rotates at its size cap, and each start removes the oldest files of earlier ones past
theirs. Where its stderr is the journal, each line begins with its priority and has no time stamp.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tcpchat.core.limits import (
    LOG_BUDGET_BURST_BYTES,
    LOG_BUDGET_RATE_BYTES_PER_S,
    LOG_KEEP_BYTES,
    MAX_QUIT_REASON_CHARS,
)
from tcpchat.server.log_files import LOCK_NAME, log_file_name
from tests.conftest import WAIT, Peer, ServerProcess, child_env, poll_until, stop_process

ATTACKER = "127.1.0.1"  # a loopback address of its own, so it has a budget of its own


def quit_at_once(port: int, reason: str, source: str | None = None) -> None:
    """Connect, leave with ``reason`` without waiting for any prompt, read until closed."""
    peer = Peer(port, source=source)
    try:
        peer.send(f"/quit {reason}\n")
        assert peer.closed()
    finally:
        peer.close()


def test_an_address_quitting_in_a_loop_before_the_password_cannot_fill_the_log(
    tmp_path: Path,
) -> None:
    secret = tmp_path / "password"
    secret.write_text("open sesame\n", encoding="utf-8")
    started = time.monotonic()
    srv = ServerProcess(tmp_path, "--password-file", str(secret))
    try:
        alice = Peer(srv.port)
        alice.expect("password")
        alice.send("/pass open sesame\n")
        alice.expect("name")
        alice.send("alice\n")
        alice.expect("^\\*\\*\\* You are alice")
        for n in range(300):
            quit_at_once(srv.port, "x" * 4000, source=ATTACKER)
            if n % 40 == 0:  # an ordinary user goes on talking through the attack (8 lines)
                alice.send(f"ordinary line {n // 40}\n")
                alice.expect("reached no one|Delivered")
        assert srv.stop() == 0
    finally:
        srv.stop()
    elapsed = time.monotonic() - started
    (log_file,) = srv.log_dir.glob("chat-*.log")
    text = log_file.read_text(encoding="utf-8")
    # The attacker's share is its budget; the server's own lines and alice's fit in 8 KiB.
    bound = LOG_BUDGET_BURST_BYTES + LOG_BUDGET_RATE_BYTES_PER_S * elapsed + 8 * 1024
    size = log_file.stat().st_size
    assert size < bound, f"{size} bytes of log in {elapsed:.1f} s (bound {bound:.0f})"
    # Without the budget the 300 quits alone would have written 300 records of the reason.
    assert size < 300 * MAX_QUIT_REASON_CHARS
    cut = "x" * (MAX_QUIT_REASON_CHARS - 1) + "…"
    quits = re.findall(r"\[#\d+ 127\.1\.0\.1:\d+\] disconnected \(quit: (x*…?)\)$", text, re.M)
    assert quits and set(quits) == {cut}
    assert "closing session" not in text and "x" * MAX_QUIT_REASON_CHARS not in text
    (summary,) = re.findall(r"WARNING suppressed (\d+) log records \(.*\) from 127\.1\.0\.1", text)
    # Every attacking connection writes two records (connected, disconnected); the rest were
    # counted instead.
    assert len(quits) + int(summary) <= 600
    for n in range(8):
        assert f"alice -> ALL (0 users): ordinary line {n}" in text


def test_the_log_file_rotates_at_its_size_cap_and_keeps_its_backups(tmp_path: Path) -> None:
    srv = ServerProcess(tmp_path, "--log-max-bytes", "4000", "--log-backups", "2")
    try:
        for n in range(100):  # about 33 KB of records: more than three files' worth
            quit_at_once(srv.port, f"{n:03d} " + "r" * 100)
        srv.wait_log(r"disconnected \(quit: 099 r+\)$")
        assert srv.stop() == 0
    finally:
        srv.stop()
    files = sorted(srv.log_dir.glob("chat-*"), key=lambda f: f.name)
    (current,) = [f for f in files if f.name.endswith(".log")]
    assert [f.name for f in files] == [current.name, current.name + ".1", current.name + ".2"]
    assert all(f.stat().st_size <= 4000 for f in files)
    assert current.read_text(encoding="utf-8").rstrip("\n").endswith("INFO    stopped")
    kept = "".join(f.read_text(encoding="utf-8") for f in files)
    assert "listening on" not in kept  # the oldest records went with the oldest file
    assert "listening on" in srv.stderr()  # the console had everything


def start_and_stop(tmp_path: Path, after: str, *args: str) -> tuple[str, str]:
    """Run the real server once (its log files in tmp_path/logs), once the clock has left the
    second of the file named ``after`` so that this start's file has a name of its own: (its
    stderr, its log file's name)."""
    poll_until(lambda: log_file_name() != after, "the clock's next second")
    srv = ServerProcess(tmp_path, *args)
    try:
        assert srv.stop() == 0
    finally:
        srv.stop()
    path = srv.wait_log(r"INFO    logging to (.*)$").group(1)
    return srv.stderr(), Path(path).name


def test_each_start_removes_the_oldest_log_files_of_earlier_starts(tmp_path: Path) -> None:
    """A restart loop cannot fill the log directory: each start keeps the newest files of the
    last --log-keep-starts starts within --log-keep-bytes, and leaves other files alone."""
    logs = tmp_path / "logs"
    logs.mkdir()
    earlier = [f"chat-2026-01-0{day}_00-00-00.log{n}" for day in range(1, 6) for n in ("", ".1")]
    others = ["notes.txt", "chat-notes.log", "chat-2026-01-01_00-00-00.log.gz"]
    for name in earlier + others:
        (logs / name).write_text("old\n", encoding="utf-8")

    console, first = start_and_stop(tmp_path, "", "--log-keep-starts", "3")
    assert re.search(
        rf"INFO    removed 6 log files of earlier starts \(24 bytes\) from {re.escape(str(logs))} "
        rf"\(--log-keep-starts 3, --log-keep-bytes {LOG_KEEP_BYTES}\)$",
        console,
        re.M,
    ), console
    assert {p.name for p in logs.iterdir()} == {*earlier[6:], first, *others, LOCK_NAME}

    console, second = start_and_stop(tmp_path, first)  # the defaults: ten starts, nothing to remove
    assert "removed" not in console
    assert {p.name for p in logs.iterdir()} == {*earlier[6:], first, second, *others, LOCK_NAME}

    console, third = start_and_stop(tmp_path, second, "--log-keep-bytes", "1")
    assert re.search(r"INFO    removed 6 log files of earlier starts \(", console), console
    assert {p.name for p in logs.iterdir()} == {third, *others, LOCK_NAME}
    assert all((logs / name).read_text(encoding="utf-8") == "old\n" for name in others)


# --- what a record says -------------------------------------------------------------------------


def test_a_refused_name_is_logged_with_the_name_tried(tmp_path: Path) -> None:
    srv = ServerProcess(tmp_path)
    try:
        peer = Peer(srv.port)
        peer.send("john smith\n\n/nick " + "n" * 400 + "\n")
        srv.wait_log(r'INFO .*name "john smith" refused: name_invalid: ')
        srv.wait_log(r'INFO .*name "" refused: name_invalid: A name cannot be empty')
        clipped = srv.wait_log(r'name "(n+)… \(\+\d+ characters\)" refused')
        assert len(clipped.group(1)) < 400
        peer.close()
    finally:
        srv.stop()


def test_disconnects_name_the_user_and_connections_are_counted_in_english(
    tmp_path: Path,
) -> None:
    srv = ServerProcess(tmp_path)
    try:
        alice = Peer(srv.port)
        alice.send("alice\n")
        alice.expect("You are alice")
        srv.wait_log(r"\] connected \(1 connection\)$")
        bob = Peer(srv.port)
        bob.send("bob\n")
        bob.expect("You are bob")
        srv.wait_log(r"\] connected \(2 connections\)$")
        alice.send("one\x1b[2Jtwo\n")  # bob sees ESC replaced; the log keeps it, escaped
        assert bob.expect("^<alice>") == "<alice> one\ufffd[2Jtwo"
        srv.wait_log(r"alice -> ALL \(1 user\): one\\x1b\[2Jtwo$")
        bob.send("/quit lunch\n")
        srv.wait_log(r"INFO .*\] bob disconnected \(quit: lunch\)$")
        alice.close()
        srv.wait_log(r"INFO .*\] alice disconnected \(connection (closed|lost)\)")
    finally:
        srv.stop()


def test_health_checks_are_logged_at_debug_only(tmp_path: Path) -> None:
    """``tcp-client --probe`` every 30 s, or a port check that connects and closes, writes no INFO
    record; a visitor who only asks for /help is a visitor."""
    srv = ServerProcess(tmp_path, "--log-level", "DEBUG")
    try:
        probe = subprocess.run(
            [sys.executable, "-m", "tcpchat", "client", "--probe", "--port", str(srv.port)],
            env=child_env(),
            capture_output=True,
            timeout=WAIT,
        )
        assert probe.returncode == 0, probe.stderr
        srv.wait_log(r"DEBUG   \[#1 .*\] disconnected \(quit\)$")
        Peer(srv.port).close()  # a port check
        srv.wait_log(r"DEBUG   \[#2 .*\] disconnected \(connection (closed|lost)\)")
        visitor = Peer(srv.port)
        visitor.send("/help\n/quit\n")
        assert visitor.closed()
        srv.wait_log(r"INFO    \[#3 .*\] disconnected \(quit\)$")
        records = srv.stderr()
        assert not re.search(r"(INFO|WARNING) +\[#[12] ", records), records
        assert re.search(r"DEBUG   \[#1 .*\] connected \(1 connection\)", records)
        assert re.search(r"INFO    \[#3 .*\] connected \(1 connection\)", records)
    finally:
        srv.stop()


# --- the journal ----------------------------------------------------------------------------------

# The time stamp every record begins with on a terminal, a file or docker logs.
STAMP = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3} (DEBUG|INFO|WARNING|ERROR) ")
# A record as journald reads it: its priority, its level name, no time stamp.
PRIORITY = re.compile(r"^<([2-7])>(DEBUG|INFO|WARNING|ERROR) ")


def stream_id(path: Path) -> str:
    """``JOURNAL_STREAM`` as systemd sets it for a service whose stderr is ``path``."""
    found = os.stat(path)
    return f"{found.st_dev}:{found.st_ino}"


def server_to_file(
    tmp_path: Path, stderr: Path, args: list[str], journal_stream: str | None = None
) -> subprocess.Popen[bytes]:
    """The real server with its stderr the file ``stderr`` (made empty first), and
    ``JOURNAL_STREAM`` set to ``journal_stream`` ("": that file's numbers) or not set."""
    stderr.write_text("", encoding="utf-8")
    env = child_env()
    env.pop("JOURNAL_STREAM", None)  # the one of a test run under systemd
    if journal_stream is not None:
        env["JOURNAL_STREAM"] = journal_stream or stream_id(stderr)
    command = [sys.executable, "-m", "tcpchat", "server", "--host", "127.0.0.1"]
    command += ["--config", os.devnull, "--no-history", "--log-dir", str(tmp_path / "logs")]
    with open(stderr, "ab") as stream:
        return subprocess.Popen(
            [*command, *args], stdout=subprocess.DEVNULL, stderr=stream, env=env, cwd=tmp_path
        )


def logged_port(proc: subprocess.Popen[bytes], stderr: Path) -> int:
    def port() -> int | None:
        found = re.search(r"listening on 127\.0\.0\.1:(\d+)$", read(stderr), re.M)
        if found is None and proc.poll() is not None:
            raise AssertionError(f"the server exited with {proc.returncode}:\n{read(stderr)}")
        return int(found.group(1)) if found else None

    return poll_until(port, "the server listening")


def wait_in_file(path: Path, pattern: str) -> None:
    """Wait until a line of ``path`` matches ``pattern``."""
    poll_until(lambda: re.search(pattern, read(path), re.M), f"{pattern} in {path}")


def read(path: Path) -> str:
    return path.read_text(encoding="utf-8")


def test_with_stderr_the_journal_each_line_begins_with_its_priority_and_no_time(
    tmp_path: Path,
) -> None:
    stderr = tmp_path / "stderr"
    args = ["--port", "0", "--max-per-ip", "1", "--log-level", "DEBUG"]
    chat = server_to_file(tmp_path, stderr, args, journal_stream="")
    try:
        port = logged_port(chat, stderr)
        alice = Peer(port)
        alice.send("alice\n")
        alice.expect("You are alice")
        refused = Peer(port)  # one more than --max-per-ip: a WARNING
        assert refused.closed()
        wait_in_file(stderr, r"^<4>WARNING \[127\.0\.0\.1:\d+\] refused: Too many connections")
        # A second server on the same port cannot start: an ERROR, and exit 1 (a restart loop).
        second = tmp_path / "second.stderr"
        args = ["--port", str(port), "--no-log-file"]
        taken = server_to_file(tmp_path, second, args, journal_stream="")
        assert taken.wait(WAIT) == 1
        assert re.search(rf"^<3>ERROR   cannot listen on 127\.0\.0\.1:{port}: ", read(second), re.M)
        alice.close()
        chat.terminate()
        assert chat.wait(WAIT) == 0
    finally:
        stop_process(chat)
    lines = read(stderr).splitlines()
    assert lines[-1] == "<6>INFO    stopped"
    assert all(PRIORITY.match(line) for line in lines), lines
    assert any(line.startswith("<7>DEBUG   [#1 127.0.0.1:") for line in lines)
    assert any(line.startswith("<6>INFO    [#1 127.0.0.1:") for line in lines)
    assert not any(STAMP.search(line) for line in lines)
    # The log file is as ever: time stamps, no priorities, the same records.
    (log_file,) = (tmp_path / "logs").glob("chat-*.log")
    records = log_file.read_text(encoding="utf-8").splitlines()
    assert all(STAMP.match(line) for line in records), records
    assert [STAMP.sub(r"\1 ", line) for line in records] == [
        PRIORITY.sub(r"\2 ", line) for line in lines
    ]


@pytest.mark.parametrize("journal_stream", [None, "another"], ids=["no variable", "another stream"])
def test_with_stderr_not_the_journal_the_lines_are_as_ever(
    tmp_path: Path, journal_stream: str | None
) -> None:
    """Without JOURNAL_STREAM, or with one a parent whose stderr was the journal left behind
    while this stderr goes to a file, every line begins with its time: what the file says."""
    if journal_stream is not None:
        (tmp_path / "journal").touch()
        journal_stream = stream_id(tmp_path / "journal")
    stderr = tmp_path / "stderr"
    chat = server_to_file(tmp_path, stderr, ["--port", "0"], journal_stream=journal_stream)
    try:
        port = logged_port(chat, stderr)
        peer = Peer(port)
        peer.send("alice\n/quit\n")
        assert peer.closed()
        wait_in_file(stderr, r"alice disconnected \(quit\)$")
        chat.terminate()
        assert chat.wait(WAIT) == 0
    finally:
        stop_process(chat)
    console = read(stderr)
    assert all(STAMP.match(line) for line in console.splitlines()), console
    assert console.rstrip("\n").endswith(" INFO    stopped")
    (log_file,) = (tmp_path / "logs").glob("chat-*.log")
    assert log_file.read_text(encoding="utf-8") == console


def test_a_second_server_on_the_same_log_dir_is_refused_and_the_first_keeps_its_file(
    tmp_path: Path,
) -> None:
    stderr = tmp_path / "stderr"
    chat = server_to_file(tmp_path, stderr, ["--port", "0"])
    try:
        port = logged_port(chat, stderr)
        (log_file,) = (tmp_path / "logs").glob("chat-*.log")
        second = tmp_path / "second.stderr"
        taken = server_to_file(tmp_path, second, ["--port", "0", "--log-keep-starts", "1"])
        assert taken.wait(WAIT) == 1
        assert read(second) == (
            f"tcp-server: logs: {tmp_path / 'logs'} is in use by another tcp-server "
            f"(pid {chat.pid}): give each server its own --log-dir and --data-dir\n"
        )
        # The first server's file is neither removed nor shared, and it goes on serving.
        assert list((tmp_path / "logs").glob("chat-*.log")) == [log_file]
        alice = Peer(port)
        alice.send("alice\n")
        alice.expect("You are alice")
        alice.close()
        chat.terminate()
        assert chat.wait(WAIT) == 0
    finally:
        stop_process(chat)
    # Once it stopped, the directory is free for the next start.
    third = server_to_file(tmp_path, tmp_path / "third.stderr", ["--port", "0"])
    try:
        logged_port(third, tmp_path / "third.stderr")
    finally:
        stop_process(third)
