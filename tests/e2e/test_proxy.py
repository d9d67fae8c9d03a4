"""End-to-end: behind a proxy that speaks the PROXY protocol (``--proxy-from``), connections are
counted, limited and logged as the client the header names: with headers written by hand, and
through a real HAProxy (apt ``haproxy``) with ``send-proxy`` and ``send-proxy-v2``."""

from __future__ import annotations

import ipaddress
import re
import signal
import socket
import ssl
import struct
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest

from tcpchat.core.codes import UNTRUSTED_PROXY
from tcpchat.core.limits import MAX_TLS_HANDSHAKES
from tcpchat.server.listeners import NO_HEADER
from tests.conftest import WAIT, Peer, join_peer, need_tool, poll_until
from tests.e2e.haproxy import CHAT_CHECK, IRC_CHECK, ON_DOWN, PRIVILEGES, Haproxy
from tests.e2e.irc_harness import IrcPeer

V2_SIGNATURE = b"\r\n\r\n\x00\r\nQUIT\n"


def v1(source: str, port: int) -> bytes:
    family = "TCP6" if ":" in source else "TCP4"
    target = "::1" if ":" in source else "127.0.0.1"
    return f"PROXY {family} {source} {target} {port} 54321\r\n".encode()


def v2_tcp6(source: str, port: int) -> bytes:
    """A version 2 header, IPv6, with a TLV (a unique id) after the addresses."""
    body = ipaddress.IPv6Address(source).packed + ipaddress.IPv6Address("::1").packed
    body += struct.pack("!HH", port, 54321) + b"\x05" + struct.pack("!H", 4) + b"abcd"
    return V2_SIGNATURE + b"\x21\x21" + struct.pack("!H", len(body)) + body


def proxied(port: int, header: bytes, name: str | None = None) -> Peer:
    """A connection that begins as a proxy's does: ``header``, then (with ``name``) the name,
    in the same write."""
    peer = Peer(port)
    peer.send(header + (f"{name}\n".encode() if name else b""))
    return peer


def test_the_header_names_whom_a_connection_counts_and_logs_under(make_server: Any) -> None:
    srv = make_server("--proxy-from", "127.0.0.1", "--max-per-ip", "2")
    srv.wait_log(r"INFO +connections from 127\.0\.0\.1/32 begin with a PROXY header$")
    anna = proxied(srv.port, v1("203.0.113.7", 40001), "Анна")
    anna.expect(r"^\*\*\* You are Анна\.")
    srv.wait_log(r"\[#\d+ 203\.0\.113\.7:40001\] connected through the proxy 127\.0\.0\.1:\d+ \(")
    srv.wait_log(r"\[#\d+ 203\.0\.113\.7:40001\] registered as Анна")
    second = proxied(srv.port, v1("203.0.113.7", 40002), "Second")
    second.expect(r"^\*\*\* You are Second\.")
    # The third from 203.0.113.7 meets its address's limit, which 127.0.0.1 had met already.
    third = proxied(srv.port, v1("203.0.113.7", 40003))
    assert third.line() == "!!! Too many connections from your address (limit 2)."
    assert third.closed()
    srv.wait_log(r"\[203\.0\.113\.7:40003\] refused: Too many connections from your address")
    # Others behind the same proxy are not held back by it, over IPv6 and version 2 too.
    bob = proxied(srv.port, v1("198.51.100.9", 40004), "Bob")
    bob.expect(r"^\*\*\* You are Bob\.")
    ivan = proxied(srv.port, v2_tcp6("2001:db8::7", 40005), "Ivan")
    ivan.expect(r"^\*\*\* You are Ivan\.")
    srv.wait_log(r"\[#\d+ \[2001:db8::7\]:40005\] registered as Ivan")
    anna.send("/w Bob привет\n")
    assert anna.expect(r"Delivered") == "*** Delivered to Bob."
    assert bob.expect(r"^\[PM") == "[PM from Анна] привет"
    for peer in (anna, second, bob, ivan):
        peer.close()


def test_a_header_in_pieces_or_with_the_first_line_leaves_the_line_whole(
    make_server: Any,
) -> None:
    srv = make_server("--proxy-from", "127.0.0.1")
    header = v2_tcp6("2001:db8::8", 40010)
    peer = Peer(srv.port)
    peer.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    for index in range(len(header)):  # a byte per write
        peer.send(header[index : index + 1])
    peer.expect(r"^\*\*\* Enter your name:")
    peer.send("Вера\n")
    peer.expect(r"^\*\*\* You are Вера\.")
    srv.wait_log(r"\[#\d+ \[2001:db8::8\]:40010\] registered as Вера")
    # The header's end and a whole command in one write: nothing of the command is lost.
    other = proxied(srv.port, v1("203.0.113.9", 40011), "Олег\n/users")
    assert other.expect(r"^\*\*\* You are") == "*** You are Олег. 2 users online: Вера, Олег."
    assert other.line() == "*** 2 users online: Вера, Олег."
    peer.close()
    other.close()


def test_a_proxy_address_without_a_header_is_closed_and_counted_out(make_server: Any) -> None:
    srv = make_server(
        "--proxy-from", "127.0.0.0/8", "--max-connections", "2", "--tls-handshake-timeout", "0.5"
    )
    # Not a header (someone on the proxy's machine, or a proxy without send-proxy): told why,
    # closed.
    for attempt in range(4):
        peer = Peer(srv.port)
        peer.send(f"Анна{attempt}\n")
        assert peer.line() == f"!!! {NO_HEADER}"
        peer.sock.settimeout(WAIT)
        assert peer.sock.recv(4096) == b""  # an orderly close, not a reset that may lose it
    srv.wait_log(r"\[127\.0\.0\.1:\d+\] closed: no PROXY header \(--proxy-from\): not a PROXY")
    # Silent: told and closed when the wait runs out.
    silent = Peer(srv.port)
    assert silent.closed()
    assert silent.seen == [f"!!! {NO_HEADER}"]
    # None of them still counts: two connections (the limit) are taken.
    first = proxied(srv.port, v1("203.0.113.7", 1), "first")
    first.expect(r"^\*\*\* You are first\.")
    second = proxied(srv.port, b"PROXY UNKNOWN\r\n", "second")  # counted as the proxy itself
    second.expect(r"^\*\*\* You are second\.")
    srv.wait_log(r"\[#\d+ 127\.0\.0\.1:\d+\] registered as second")
    third = proxied(srv.port, v1("203.0.113.8", 3))
    assert third.line() == "!!! Server full (2 connections). Try again later."
    for peer in (first, second, third):
        peer.close()
    assert "Traceback" not in srv.stderr()


def test_connections_waiting_for_their_header_meet_the_total_limit(make_server: Any) -> None:
    srv = make_server("--proxy-from", "127.0.0.1", "--max-connections", "2")
    waiting = [Peer(srv.port), Peer(srv.port)]  # accepted in order, both still silent
    third = Peer(srv.port)
    assert third.line() == "!!! Server full (2 connections). Try again later."
    assert third.closed()
    waiting[0].send(v1("203.0.113.7", 1) + "Анна\n".encode())
    waiting[0].expect(r"^\*\*\* You are Анна\.")
    for peer in (*waiting, third):
        peer.close()


def test_a_proxied_tls_client_is_not_cut_short_to_make_room_for_its_own_handshake(
    make_server: Any, certificate: tuple[Path, Path]
) -> None:
    """Silent TLS handshakes at their cap: the oldest is cut short for a new one, never the
    proxied connection that has just read its header and is about to start its own."""
    cert, key = certificate
    srv = make_server(
        "--proxy-from", "127.0.0.1", "--tls-cert", str(cert), "--tls-key", str(key),
        "--tls-handshake-timeout", str(WAIT * 6),  # the silent ones close only when cut short
    )  # fmt: skip
    proxied_raw = socket.create_connection(("127.0.0.1", srv.port), WAIT)  # its header waits
    extra = 5
    silent = [
        socket.create_connection(("127.0.0.1", srv.port), WAIT, (f"127.0.4.{i % 15 + 1}", 0))
        for i in range(MAX_TLS_HANDSHAKES + extra)
    ]
    # The cap was met: the oldest silent ones were cut short for the last ones, all accepted.
    assert all(closed_by_server(sock) for sock in silent[:extra])
    proxied_raw.sendall(v1("203.0.113.30", 40030))
    tls = tls_join(proxied_raw, cert, "Ада")
    srv.wait_log(r"\[#\d+ 203\.0\.113\.30:40030\] registered as Ада")
    assert closed_by_server(silent[extra])  # the room was made by the next oldest
    tls.close()
    for sock in silent:
        sock.close()


def closed_by_server(sock: socket.socket) -> bool:
    """True once the server closed ``sock`` without a word, within WAIT."""
    sock.settimeout(WAIT)
    try:
        return sock.recv(4096) == b""
    except ConnectionResetError:
        return True
    except socket.timeout:
        return False


def test_without_proxy_from_a_header_is_not_believed(make_server: Any) -> None:
    """A proxy set to send headers to a server not told to read them (a rollout, or the proxy
    seen from another address): its connections are told and closed, they never become a user
    (a version 2 header's signature holds the line "QUIT")."""
    srv = make_server("--max-per-ip", "1", "--irc-port", "0", "--server-name", "irc.test")
    watcher = join_peer(srv.port, "watcher", source="127.0.0.2")
    refused = f"!!! {UNTRUSTED_PROXY}."
    for header in (v1("203.0.113.7", 40001), v2_tcp6("2001:db8::7", 40002)):
        liar = proxied(srv.port, header, "Анна")
        liar.expect(r"^\*\*\* Enter your name:")
        assert liar.line() == refused
        assert liar.closed()
        assert liar.seen[-1] == refused  # nothing after it: no name taken
    srv.wait_log(
        rf"WARNING +\[#\d+ 127\.0\.0\.1:\d+\] disconnected \({UNTRUSTED_PROXY}\)$", count=2
    )
    irc_port = int(srv.wait_log(r"IRC listening on 127\.0\.0\.1:(\d+) \(IRC\)").group(1))
    ivy = IrcPeer(irc_port)
    ivy.sock.sendall(v2_tcp6("2001:db8::8", 40003) + b"NICK ivy\r\nUSER ivy 0 * :Ivy\r\n")
    assert ivy.raw_line() == f"ERROR :Closing link: {UNTRUSTED_PROXY}.".encode()
    assert ivy.closed()
    # Nobody joined or left meanwhile, and the address counted was the socket's.
    watcher.send("/users\n")
    assert watcher.expect(r"online") == "*** 1 user online: watcher."
    assert "203.0.113.7" not in srv.stderr() and "through the proxy" not in srv.stderr()
    watcher.close()


def test_connections_from_elsewhere_are_taken_as_they_are(make_server: Any) -> None:
    srv = make_server("--proxy-from", "192.0.2.1,2001:db8::/32")
    anna = join_peer(srv.port, "Анна")
    srv.wait_log(r"\[#\d+ 127\.0\.0\.1:\d+\] registered as Анна")
    assert "through the proxy" not in srv.stderr()
    anna.close()


def tls_join(raw: socket.socket, cert: Path, name: str) -> ssl.SSLSocket:
    """The TLS handshake on ``raw`` (after its header), then ``name``, until registered."""
    tls = ssl.create_default_context(cafile=str(cert)).wrap_socket(raw, server_hostname="127.0.0.1")
    tls.sendall(f"{name}\n".encode())
    data, deadline = b"", time.monotonic() + WAIT
    while f"You are {name}".encode() not in data:
        assert time.monotonic() < deadline, data
        chunk = tls.recv(4096)
        assert chunk, data
        data += chunk
    return tls


def test_the_header_comes_before_a_tls_handshake_and_an_irc_registration(
    make_server: Any, certificate: tuple[Path, Path]
) -> None:
    cert, key = certificate
    srv = make_server(
        "--proxy-from", "127.0.0.1", "--tls-cert", str(cert), "--tls-key", str(key),
        "--irc-port", "0", "--server-name", "irc.test",
    )  # fmt: skip
    raw = socket.create_connection(("127.0.0.1", srv.port), WAIT)
    raw.sendall(v1("203.0.113.20", 40020))
    tls = tls_join(raw, cert, "Зоя")
    srv.wait_log(r"\[#\d+ 203\.0\.113\.20:40020\] registered as Зоя")
    irc_port = int(srv.wait_log(r"IRC listening on 127\.0\.0\.1:(\d+) \(IRC\)").group(1))
    direct = IrcPeer(irc_port)  # from the proxy's address, without a header: told in IRC's way
    direct.send("NICK ivy")
    assert direct.raw_line() == f"ERROR :Closing link: {NO_HEADER}".encode()
    assert direct.closed()
    ivy = IrcPeer(irc_port)
    ivy.sock.sendall(v2_tcp6("2001:db8::21", 40021))
    ivy.register("ivy")
    srv.wait_log(r"\[#\d+ \[2001:db8::21\]:40021\] registered as ivy")
    tls.close()
    ivy.close()


# HAProxy's health check with send-proxy-v2: a version 2 header of the command LOCAL, no address.
LOCAL_V2 = V2_SIGNATURE + b"\x20\x00\x00\x00"


def test_health_checks_given_up_while_the_server_stood_still_do_not_count_on_its_return(
    make_server: Any,
) -> None:
    """HAProxy ends a health check that got no greeting within its ``timeout check`` with a
    reset. While a server is stopped (SIGSTOP, a paused VM) each check waits in the kernel's
    backlog, already reset, behind the others; served at once on its return they would count
    together under the proxy's address and meet ``max_per_ip``. They are closed unserved
    instead, while a check still waiting for its answer gets it."""
    srv = make_server("--proxy-from", "127.0.0.1", "--max-per-ip", "2", "--log-level", "DEBUG")
    given_up = 8  # four times the limit
    srv.proc.send_signal(signal.SIGSTOP)
    try:
        for _ in range(given_up):
            check = socket.create_connection(("127.0.0.1", srv.port), WAIT)
            check.sendall(LOCAL_V2)
            check.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            check.close()  # a reset, as HAProxy's
        waiting = Peer(srv.port)  # the check in progress when the server runs on
        waiting.send(LOCAL_V2)
    finally:
        srv.proc.send_signal(signal.SIGCONT)
    assert waiting.line().startswith("*** Welcome to tcp-chat ")
    srv.wait_log(
        r"DEBUG +\[127\.0\.0\.1:\d+\] closed: the proxy's own connection \(a health check\) "
        r"was closed by the proxy before it was served$",
        count=given_up,
    )
    waiting.close()
    # The proxy's address has its whole allowance: two users on the proxy's host.
    users = [proxied(srv.port, v1("127.0.0.1", 40000 + n), f"local{n}") for n in range(2)]
    for peer in users:
        peer.expect(r"^\*\*\* You are local\d\.")
        peer.close()
    log = srv.stderr()
    assert "Too many connections" not in log
    assert "WARNING" not in log
    assert not re.search(r"INFO .*\[#\d+ 127\.0\.0\.1:\d+\] connected \(", log)


# --- a real HAProxy ------------------------------------------------------------------------------


@pytest.mark.parametrize("send", ["send-proxy-v2", "send-proxy"])
def test_users_behind_a_real_haproxy_are_seen_as_themselves(
    make_server: Any, tmp_path: Path, send: str
) -> None:
    srv = make_server("--proxy-from", "127.0.0.1", "--log-level", "DEBUG")
    haproxy = Haproxy(tmp_path, [srv.port], send)
    try:
        anna = join_peer(haproxy.port, "Анна")
        bob = join_peer(haproxy.port, "Bob")
        for peer, name in ((anna, "Анна"), (bob, "Bob")):
            client_port = peer.sock.getsockname()[1]
            found = srv.wait_log(
                rf"\[#\d+ 127\.0\.0\.1:{client_port}\] connected through the proxy "
                rf"127\.0\.0\.1:(\d+)"
            )
            assert int(found.group(1)) != client_port  # the proxy's own connection
            srv.wait_log(rf"\[#\d+ 127\.0\.0\.1:{client_port}\] registered as {name}")
        anna.send("/w Bob через прокси\n")
        assert anna.expect(r"Delivered") == "*** Delivered to Bob."
        assert bob.expect(r"^\[PM") == "[PM from Анна] через прокси"
        # HAProxy's health checks (v2: LOCAL; v1: a header naming the proxy itself) come and go
        # quietly, as the proxy's own connections.
        srv.wait_log(r"DEBUG +\[#\d+ 127\.0\.0\.1:\d+\] connected \(", count=3)
        anna.close()
        bob.close()
    finally:
        haproxy.stop()
    log = srv.stderr()
    assert "no PROXY header" not in log
    assert "WARNING" not in log


def _join_when_there_is_room(port: int, name: str, source: str) -> Peer:
    """``name`` joined from ``source``, tried again while a health check holds the last place
    for a moment (the server answers ``!!! Server full``); bounded."""
    for _ in range(50):
        try:
            return join_peer(port, name, source=source)
        except (AssertionError, EOFError, OSError):
            continue
    raise AssertionError(f"{name} never got in")


def test_a_full_server_behind_haproxy_gets_nobody_new_but_keeps_its_users(
    make_server: Any, tmp_path: Path
) -> None:
    """A server at its ``--max-connections`` answers the proxy's checks ``Server full``, on the
    chat port and the IRC port: HAProxy sends it nobody new (NOLB) but keeps its users, whom a
    DOWN would cut off (``on-marked-down shutdown-sessions``), and it is UP once it has room.
    (Filling a server takes silent connections from a few hundred addresses.)"""
    srv = make_server(
        "--proxy-from", "127.0.0.1", "--max-connections", "4", "--irc-port", "0"
    )  # fmt: skip
    irc = int(srv.wait_log(r"IRC listening on 127\.0\.0\.1:(\d+)").group(1))
    haproxy = Haproxy(tmp_path, [srv.port], irc_ports=[irc])

    def status() -> set[str]:
        return {haproxy.stat(backend, "node0")["status"] for backend in ("nodes", "irc_nodes")}

    peers: list[Peer] = []
    try:
        poll_until(lambda: status() == {"UP"}, "the server UP")
        anna = join_peer(haproxy.port, "Анна")
        peers.append(anna)
        # Straight to the server, each from an address of its own, until it is full.
        for n in range(3):
            peers.append(_join_when_there_is_room(srv.port, f"f{n}", f"127.0.0.{n + 2}"))

        def checked_full() -> bool:
            return status() == {"NOLB"} and {
                haproxy.stat(backend, "node0")["check_status"] for backend in ("nodes", "irc_nodes")
            } == {"L7OKC"}

        poll_until(checked_full, "the full server NOLB")
        # Checks go on every 100 ms (two failed ones in a row take a server out: fall 2); the
        # server is still in, not DOWN, after more of them.
        srv.wait_log(r"refused: Server full", count=6)
        poll_until(checked_full, "the full server still NOLB")
        anna.send("всё ещё здесь\n")
        assert anna.expect(r"Delivered") == "*** Delivered to ALL (3 users)."
        # Room for both backends' checks at once (each holds a place while it runs).
        for _ in range(3):
            peers.pop().close()
        poll_until(lambda: status() == {"UP"}, "the server UP with room again")
        peers.append(join_peer(haproxy.port, "Bob"))
    finally:
        for peer in peers:
            peer.close()
        haproxy.stop()


def test_the_haproxy_configuration_in_the_docs_is_one_haproxy_takes(tmp_path: Path) -> None:
    binary = need_tool("haproxy")
    docs = (Path(__file__).resolve().parents[2] / "docs" / "CLUSTER.md").read_text()
    found = re.search(r"```\n(# /etc/haproxy/haproxy\.cfg.*?)```", docs, re.S)
    assert found, "docs/CLUSTER.md shows an HAProxy configuration"
    conf = tmp_path / "haproxy.cfg"
    conf.write_text(found.group(1))
    checked = subprocess.run(
        [binary, "-c", "-f", str(conf)], capture_output=True, text=True, timeout=WAIT
    )
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert "Configuration file is valid" in checked.stdout
    # Both ports (chat and IRC) tell the nodes whom each connection is from.
    assert len(re.findall(r"default-server .* send-proxy-v2\n", found.group(1))) == 2
    # The users of a node taken out are cut off there, to reconnect to one that answers.
    assert len(re.findall(rf"default-server .*{ON_DOWN} send-proxy-v2\n", found.group(1))) == 2
    # The health checks are those the tests run (tests/e2e/haproxy.py), with a timeout; so
    # are the lines that keep HAProxy from running as root (where the tests can use them).
    for check in (CHAT_CHECK, IRC_CHECK, PRIVILEGES):
        assert check in found.group(1)
    assert re.search(r"\n    timeout check \d+s\n", found.group(1))
