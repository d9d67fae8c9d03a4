"""End-to-end abuse: bad input, floods, slow readers, storms, timeouts, TLS and the password.

Each test runs the real server with the limit under test set low, so it is reached quickly, and
checks what the offender sees, what everyone else sees, and what the log says.
"""

from __future__ import annotations

import re
import socket
import ssl
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

from tests.conftest import WAIT, Peer, Pump, ServerProcess, child_env, join_peer

# --- bad input -------------------------------------------------------------------------------


def test_overlong_line_is_dropped_with_an_error_and_the_session_goes_on(connect: Any) -> None:
    alice, bob = connect("alice"), connect("bob")
    alice.send("x" * 5000 + "\nstill here\n")
    assert alice.expect("^!!!") == "!!! Line too long (the limit is 4096 bytes); it was dropped."
    assert bob.expect("^<") == "<alice> still here"


def test_endless_line_without_newline_ends_in_a_disconnect(
    server: ServerProcess, connect: Any
) -> None:
    alice, bob = connect("alice"), connect("bob")
    alice.send(b"y" * 4096 * 12)  # never a newline
    assert alice.expect("Goodbye") == "*** Too many over-long or invalid lines. Goodbye."
    assert alice.closed()
    assert bob.expect("left") == "*** alice left (too many bad lines). 1 user online."
    server.wait_log(r"WARNING .*disconnected \(too many bad lines\)")


def test_invalid_utf8_is_refused_and_nothing_else_breaks(connect: Any) -> None:
    alice, bob = connect("alice"), connect("bob")
    # Not 0xFF: that is telnet's IAC, taken out before lines are cut (PROTOCOL.md section 1).
    alice.send(b"\x80\xfe broken\nfine\n")
    assert alice.expect("^!!!") == "!!! That line was not valid UTF-8 and was dropped."
    assert bob.expect("^<") == "<alice> fine"


def test_escape_sequences_and_control_characters_reach_nobody(connect: Any) -> None:
    alice, bob = connect("alice"), connect("bob")
    alice.send("\x1b[2J\x1b[31mred\x07\x00 \x9b6n x\u202eevil\x0b tail\n".encode())
    line = bob.expect("^<")
    assert line == "<alice> \ufffd[2J\ufffd[31mred\ufffd\ufffd \ufffd6n x\ufffdevil\ufffd tail"
    assert not re.search(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]", line)


def test_a_line_cannot_be_forged_to_look_like_the_server(connect: Any) -> None:
    alice, bob = connect("alice"), connect("bob")
    alice.send("hi\r*** carol joined. 3 users online.\n")
    # A lone CR ends a line (as telnet's character mode sends it): two lines, both alice's.
    assert bob.expect("^<") == "<alice> hi"
    assert bob.expect("^<") == "<alice> *** carol joined. 3 users online."


def test_names_with_control_characters_or_markup_are_refused(connect: Any) -> None:
    peer = connect()
    for bad in ("bo\x1b[1mb", "<server>", "*** admin"):
        peer.send(f"{bad}\n")
        assert peer.line().startswith("!!! A name holds letters")
        assert peer.line() == "*** Enter your name:"


def test_log_records_cannot_be_forged(server: ServerProcess, connect: Any) -> None:
    alice, bob = connect("alice"), connect("bob")
    alice.send("evil\r2026-01-01 00:00:00,000 ERROR fake\u2028record\x1b[2J\n")
    bob.expect("^<")
    server.wait_log("alice -> ALL")
    (log_file,) = server.log_dir.glob("*.log")
    lines = log_file.read_text(encoding="utf-8").splitlines()
    stamp = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3} (DEBUG|INFO|WARNING|ERROR)")
    assert all(stamp.match(line) for line in lines), lines
    (record,) = [line for line in lines if "fake" in line]
    assert "alice -> ALL" in record and "\x1b" not in record


# --- budgets ---------------------------------------------------------------------------------


def test_unknown_command_budget_disconnects(make_server: Any) -> None:
    server = make_server("--flood-burst", "100")
    alice = join_peer(server.port, "alice")
    alice.send("/nope\n" * 20)
    assert alice.expect("Goodbye") == "*** Too many unknown commands. Goodbye."
    assert alice.closed()
    server.wait_log(r"WARNING .*disconnected \(too many unknown commands\)")


def test_name_attempt_budget_disconnects(connect: Any) -> None:
    peer = connect()
    peer.send("bad name\n" * 10)
    assert peer.expect("Goodbye") == "*** Too many refused names. Goodbye."
    assert peer.closed()


def test_flooder_is_slowed_then_dropped_while_others_chat(make_server: Any) -> None:
    srv = make_server("--flood-burst", "5", "--flood-rate", "1")
    alice, bob, carol = (
        join_peer(srv.port, "alice"),
        join_peer(srv.port, "bob"),
        join_peer(srv.port, "carol"),
    )
    flooder = Pump(alice)
    alice.send("".join(f"spam {i}\n" for i in range(40)))
    flooder.wait_for(r"^!!! Slow down")
    flooder.wait_for(r"too many lines too fast")
    assert flooder.wait_closed()
    assert bob.expect("left") == "*** alice left (flooding). 2 users online."
    # The name used one line of the burst of 5; four messages passed before flood control.
    assert [line for line in bob.seen if line.startswith("<alice>")] == [
        f"<alice> spam {i}" for i in range(4)
    ]
    carol.send("are we fine?\n")
    assert bob.expect("^<") == "<carol> are we fine?"
    srv.wait_log(r"WARNING .*user error rate_limited")


# --- timeouts --------------------------------------------------------------------------------


def test_silent_connection_is_closed_after_the_handshake_timeout(make_server: Any) -> None:
    srv = make_server("--handshake-timeout", "1")
    peer = Peer(srv.port)
    peer.expect("Enter your name")
    assert peer.expect("Goodbye", timeout=WAIT) == "*** You did not choose a name in time. Goodbye."
    assert peer.closed()
    srv.wait_log(r"WARNING .*disconnected \(timed out\)")


def test_slowloris_name_is_closed_after_the_handshake_timeout(make_server: Any) -> None:
    srv = make_server("--handshake-timeout", "1")
    peer = Peer(srv.port)
    peer.expect("Enter your name")
    stop = threading.Event()

    def drip() -> None:
        for _ in range(100):  # at most 10 s of one byte every 0.1 s, never a newline
            try:
                peer.sock.sendall(b"z")
            except OSError:
                return
            if stop.wait(0.1):
                return

    dripper = threading.Thread(target=drip, daemon=True)
    dripper.start()
    try:
        assert peer.expect("Goodbye") == "*** You did not choose a name in time. Goodbye."
    finally:
        stop.set()
        dripper.join(WAIT)


def test_dead_json_client_is_pinged_then_dropped(make_server: Any) -> None:
    srv = make_server("--ping-interval", "1", "--ping-timeout", "1")
    watcher = join_peer(srv.port, "watcher")
    ghost = Peer(srv.port)
    ghost.send("/mode json\nghost\n")
    ghost.event("registered")
    assert ghost.event("ping")["token"]
    # The ghost never answers; the text-mode watcher is never pinged.
    assert watcher.expect("left", timeout=WAIT) == "*** ghost left (timed out). 1 user online."
    assert not any("PING" in line for line in watcher.seen)


def test_answering_pings_keeps_a_quiet_json_client(make_server: Any) -> None:
    srv = make_server("--ping-interval", "1", "--ping-timeout", "1")
    bot = Peer(srv.port)
    bot.send("/mode json\nbot\n")
    bot.event("registered")
    for _ in range(3):
        ping = bot.event("ping", timeout=WAIT)
        bot.send(f"/pong {ping['token']}\n")
    bot.send("/users\n")
    assert bot.event("users")["users"] == ["bot"]


# --- slow readers and connection limits ---------------------------------------------------------


def test_client_that_never_reads_is_dropped_and_others_are_not_slowed(make_server: Any) -> None:
    srv = make_server("--max-outbox", "65536", "--flood-burst", "100000", "--flood-rate", "100000")
    sleeper = socket.socket()
    sleeper.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    # An address of its own: alice's megabytes of messages spend 127.0.0.1's log budget, and the
    # drop of the sleeper is to be logged.
    sleeper.bind(("127.0.0.2", 0))
    sleeper.connect(("127.0.0.1", srv.port))
    sleeper.sendall(b"sleeper\n")  # joins, then never reads a byte
    alice, bob = join_peer(srv.port, "alice"), join_peer(srv.port, "bob")
    alice_in, bob_in = Pump(alice), Pump(bob)
    text = "z" * 3000
    sent = 0
    for batch in range(200):  # at most 200 x 20 x 3 KB = 12 MB, until the sleeper is dropped
        alice.send("".join(f"{batch}.{i} {text}\n" for i in range(20)))
        sent += 20
        if any("sleeper left" in line for line in bob_in.lines):
            break
        bob_in.wait_for(rf"^<alice> {batch}\.19 ")
    assert bob_in.wait_for(r"sleeper left \(send queue exceeded\)")
    assert len(bob_in.wait_for(r"^<alice> ", count=sent)) == sent
    alice_in.wait_for(r"^\*\*\* Delivered", count=sent)
    srv.wait_log(r"WARNING .*dropping client: send queue exceeded")
    sleeper.close()


def test_connections_beyond_the_per_address_limit_are_refused(make_server: Any) -> None:
    srv = make_server("--max-per-ip", "3")
    peers = [Peer(srv.port) for _ in range(3)]
    for peer in peers:
        peer.expect("Enter your name")
    extra = Peer(srv.port)
    assert extra.line() == "!!! Too many connections from your address (limit 3)."
    assert extra.closed()
    # Another loopback address is another client address.
    if _can_bind("127.0.0.2"):
        other = Peer(srv.port, source="127.0.0.2")
        assert other.line().startswith("*** Welcome")
    srv.wait_log(r"WARNING .*refused: Too many connections from your address")


def _can_bind(host: str) -> bool:
    try:
        with socket.create_server((host, 0)):
            return True
    except OSError:
        return False


def test_connections_beyond_the_total_limit_are_refused(make_server: Any) -> None:
    srv = make_server("--max-connections", "2")
    first, second = Peer(srv.port), Peer(srv.port)
    first.expect("Enter your name")
    second.expect("Enter your name")
    third = Peer(srv.port)
    assert third.line() == "!!! Server full (2 connections). Try again later."
    first.send("first\n/quit\n")
    assert first.closed()
    srv.wait_log(r"first disconnected \(quit\)")
    fourth = Peer(srv.port)
    assert fourth.expect("Enter your name")


# --- TLS and password ----------------------------------------------------------------------------


def _tls_peer(port: int, cafile: Path) -> ssl.SSLSocket:
    context = ssl.create_default_context(cafile=str(cafile))
    raw = socket.create_connection(("127.0.0.1", port), timeout=WAIT)
    return context.wrap_socket(raw, server_hostname="127.0.0.1")


def test_tls_listener_speaks_the_same_protocol(
    make_server: Any, certificate: tuple[Path, Path]
) -> None:
    cert, key = certificate
    srv = make_server("--tls-cert", str(cert), "--tls-key", str(key))
    tls = _tls_peer(srv.port, cert)
    tls.sendall(b"secure\n")
    data = b""
    while b"You are secure" not in data:
        chunk = tls.recv(4096)
        assert chunk, data
        data += chunk
    tls.close()


def test_plain_and_tls_listeners_run_together(
    make_server: Any, certificate: tuple[Path, Path]
) -> None:
    cert, key = certificate
    with socket.create_server(("127.0.0.1", 0)) as probe:
        free_port = probe.getsockname()[1]
    srv = make_server("--tls-cert", str(cert), "--tls-key", str(key), "--tls-port", str(free_port))
    assert srv.tls_port == free_port
    plain = join_peer(srv.port, "plain")
    tls = _tls_peer(srv.tls_port, cert)
    tls.sendall(b"secure\nhello over tls\n")
    assert plain.expect("^<") == "<secure> hello over tls"
    tls.close()


def test_client_connects_with_tls_and_refuses_an_unknown_certificate(
    make_server: Any, certificate: tuple[Path, Path]
) -> None:
    cert, key = certificate
    srv = make_server("--tls-cert", str(cert), "--tls-key", str(key))
    base = [sys.executable, "-m", "tcpchat", "client", "--port", str(srv.port), "--tls",
            "--name", "bot", "--no-reconnect"]  # fmt: skip
    ok = subprocess.run(
        [*base, "--tls-ca", str(cert)], input="hi\n", capture_output=True, text=True,
        env=child_env(), timeout=WAIT * 2,
    )  # fmt: skip
    assert ok.returncode == 0, ok.stderr
    assert "reached no one" in ok.stdout
    refused = subprocess.run(
        base, input="hi\n", capture_output=True, text=True, env=child_env(), timeout=WAIT * 2
    )
    assert refused.returncode == 1
    assert "certificate" in refused.stderr.lower() and "Traceback" not in refused.stderr


def test_password_is_checked_before_the_name(make_server: Any, tmp_path: Path) -> None:
    secret = tmp_path / "password"
    secret.write_text("open sesame\n", encoding="utf-8")
    srv = make_server("--password-file", str(secret))
    peer = Peer(srv.port)
    assert peer.expect("Enter") == "*** Enter your password:"
    peer.send("alice\n")
    assert peer.line() == "!!! Wrong password. Try again."
    assert peer.line() == "*** Enter your password:"
    peer.send("/pass open sesame\n")
    assert peer.line() == "*** Enter your name:"
    peer.send("alice\n")
    assert peer.line().startswith("*** You are alice.")


def test_wrong_passwords_end_the_session(make_server: Any, tmp_path: Path) -> None:
    secret = tmp_path / "password"
    secret.write_text("open sesame\n", encoding="utf-8")
    srv = make_server("--password-file", str(secret))
    peer = Peer(srv.port)
    peer.expect("password")
    peer.send("a\nb\nc\n")
    assert peer.expect("Goodbye") == "*** Wrong password. Goodbye."
    assert peer.closed()
    srv.wait_log(r"WARNING .*disconnected \(wrong password\)")


def test_client_gives_the_password_from_its_password_file(make_server: Any, tmp_path: Path) -> None:
    secret = tmp_path / "password"
    secret.write_text("open sesame\n", encoding="utf-8")
    srv = make_server("--password-file", str(secret))
    watcher = Peer(srv.port)
    watcher.send("open sesame\nwatcher\n")
    watcher.expect("You are watcher")
    base = [sys.executable, "-m", "tcpchat", "client", "--port", str(srv.port), "--name", "bot"]
    ok = subprocess.run(
        [*base, "--password-file", str(secret)], input="hi\n", capture_output=True,
        text=True, env=child_env(), timeout=WAIT * 2,
    )  # fmt: skip
    assert ok.returncode == 0, ok.stderr
    assert watcher.expect("^<") == "<bot> hi"
    missing = subprocess.run(
        base, input="hi\n", capture_output=True, text=True, env=child_env(), timeout=WAIT * 2
    )
    assert missing.returncode == 1
    assert "wants a password" in missing.stderr and "Traceback" not in missing.stderr
