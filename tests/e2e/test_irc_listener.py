"""End-to-end: the IRC listener and the native port share one chat (real server, real sockets):
who sees what across the two, the listener over TLS, limits answered the IRC way."""

from __future__ import annotations

import socket
import ssl
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import WAIT, Peer, ServerProcess, join_peer
from tests.e2e.irc_harness import IrcPeer


def _irc_port(server: ServerProcess, tls: bool = False) -> int:
    kind = r"\(IRC, TLS\)" if tls else r"\(IRC\)"
    return int(server.wait_log(rf"IRC listening on 127\.0\.0\.1:(\d+) {kind}").group(1))


@pytest.fixture
def server(tmp_path: Path) -> Iterator[ServerProcess]:
    srv = ServerProcess(tmp_path, "--irc-port", "0", "--server-name", "irc.test")
    yield srv
    srv.stop()


def test_native_and_irc_users_see_each_other(server: ServerProcess) -> None:
    """Joins, messages, whispers both ways, nick changes and quits cross the two ports."""
    ann = join_peer(server.port, "ann")
    ivy = IrcPeer(_irc_port(server))
    lines = ivy.register("ivy")
    names = [line for line in lines if line.command == "353"]
    assert "ann" in names[0].params[-1].split()
    assert ann.expect(r"^\*\*\* ivy joined") == "*** ivy joined. 2 users online."

    ann.send("hi ivy\n")
    message = ivy.expect("PRIVMSG")
    assert (message.hostmask.nickname, message.params) == ("ann", ["#lobby", "hi ivy"])
    ivy.send("PRIVMSG #lobby :hi \x02ann\x02 \x1b[2J")
    assert ann.expect(r"^<ivy>") == "<ivy> hi ann \ufffd[2J"

    ann.send("/w ivy psst\n")
    whisper = ivy.expect("PRIVMSG")
    assert (whisper.hostmask.nickname, whisper.params) == ("ann", ["ivy", "psst"])
    ivy.send("PRIVMSG ann :back at you")
    assert "back at you" in ann.expect(r"back at you")

    ann.send("/nick anna\n")
    renamed = ivy.expect("NICK")
    assert (renamed.hostmask.nickname, renamed.params) == ("ann", ["anna"])
    ivy.send("NICK ivy2")
    ann.expect(r"^\*\*\* ivy is now known as ivy2\.")

    ann.send("/quit lunch\n")
    left = ivy.expect("QUIT")
    assert left.hostmask.nickname == "anna" and "lunch" in left.params[-1]
    ivy.close()


def test_a_native_room_is_a_channel(server: ServerProcess) -> None:
    ann = join_peer(server.port, "ann")
    ann.send("/join #ops\n")
    ann.expect(r"You joined #ops")
    ivy = IrcPeer(_irc_port(server))
    ivy.register("ivy")
    ivy.send("LIST")
    rows = [line.params[1] for line in ivy.sync() if line.command == "322"]
    assert rows == ["#lobby", "#ops"]
    ivy.send("JOIN #ops")
    ann.expect(r"ivy joined #ops")
    ann.send("/topic deploys\n")
    topic = ivy.expect("TOPIC")
    assert topic.params == ["#ops", "deploys"]
    ivy.send("PRIVMSG #ops :on it")
    assert ann.expect(r"<ivy>") == "<ivy> on it"
    ivy.close()


def test_too_many_targets_are_answered_with_one_407(server: ServerProcess) -> None:
    """The first 8 targets are served, the 9th is named in one 407, the rest in nothing."""
    ann = join_peer(server.port, "ann")
    ivy = IrcPeer(_irc_port(server))
    ivy.register("ivy")
    ivy.send("PRIVMSG ann," + ",".join(f"n{i}" for i in range(20)) + " :hi all")
    answer = ivy.sync()
    assert [line.params[1] for line in answer if line.command == "401"] == [
        f"n{i}" for i in range(7)
    ]
    too_many = [line for line in answer if line.command == "407"]
    assert [line.params for line in too_many] == [
        ["ivy", "n7", "Too many targets: only the first 8 were taken"]
    ]
    assert ann.expect(r"PM from ivy") == "[PM from ivy] hi all"
    ivy.close()


def test_the_servers_name_is_reserved_on_both_ports(server: ServerProcess) -> None:
    """``--server-name irc.test``: neither a native user nor an IRC client may be irc.test,
    in any case or with its dot left out, so that nobody is shown as ``irc.test!~u@irc.test``."""
    native = Peer(server.port)
    native.expect(r"^\*\*\* Enter your name:")
    native.send("IRC.test\n")
    assert native.line() == '!!! The name "IRC.test" is reserved. Choose another one.'
    native.expect(r"^\*\*\* Enter your name:")
    native.send("irc_test\n")
    assert native.line() == (
        '!!! The name "irc_test" looks like the reserved name "irc.test". Choose another one.'
    )
    ivy = IrcPeer(_irc_port(server))
    ivy.send("NICK irc.test")
    assert ivy.expect("432").params == [
        "*",
        "irc.test",
        'The name "irc.test" is reserved. Choose another one.',
    ]
    ivy.register("ivy")
    ivy.send("NICK Irc.Test")
    assert ivy.expect("432").params == [
        "ivy",
        "Irc.Test",
        'The name "Irc.Test" is reserved. Choose another one.',
    ]
    native.close()
    ivy.close()


def test_without_an_irc_port_the_servers_name_is_anybodys(tmp_path: Path) -> None:
    """The server's name shows only to IRC clients: a server without an IRC port (the host name
    is its default) leaves it to its users, so that a host called like a person is no trap."""
    server = ServerProcess(tmp_path, "--server-name", "irc.test")
    try:
        join_peer(server.port, "irc.test").close()
    finally:
        server.stop()


def test_flooding_irc_client_is_told_then_disconnected(tmp_path: Path) -> None:
    server = ServerProcess(tmp_path, "--irc-port", "0", "--flood-burst", "5", "--flood-rate", "1")
    try:
        ivy = IrcPeer(_irc_port(server))
        ivy.register("ivy")
        ivy.send(b"\r\n".join(b"PRIVMSG #lobby :x" for _ in range(40)))
        notice = ivy.expect("NOTICE")
        assert "Slow down" in notice.params[-1]
        assert ivy.expect("ERROR").command == "ERROR"
        assert ivy.closed()
    finally:
        server.stop()


def test_irc_over_tls_with_the_servers_certificate(
    tmp_path: Path, certificate: tuple[Path, Path]
) -> None:
    cert, key = certificate
    server = ServerProcess(
        tmp_path,
        "--tls-cert", str(cert), "--tls-key", str(key), "--tls-port", "0",
        "--irc-tls-port", "0",
    )  # fmt: skip
    try:
        context = ssl.create_default_context(cafile=str(cert))
        raw = socket.create_connection(("127.0.0.1", _irc_port(server, tls=True)), WAIT)
        peer = IrcPeer(0, context.wrap_socket(raw, server_hostname="127.0.0.1"))
        lines = peer.register("tls")
        assert any(line.command == "JOIN" and line.params == ["#lobby"] for line in lines)
        peer.close()
    finally:
        server.stop()


def test_a_topic_kept_across_a_restart_still_names_who_set_it(tmp_path: Path) -> None:
    """333 (who set the topic, when) comes from the history database after a restart, as 332
    does; IRC clients show it as "Topic set by ..."."""
    options = ("--irc-port", "0", "--server-name", "irc.test")
    server = ServerProcess(tmp_path, *options)
    try:
        ann = join_peer(server.port, "анна")  # a Cyrillic name, as typed
        ann.send("/join #ops\n")
        ann.expect(r"You joined #ops")
        ann.send("/topic deploys only\n")
        ann.expect(r"set the topic")
        ann.close()
    finally:
        assert server.stop() == 0
    server = ServerProcess(tmp_path, *options)
    try:
        ivy = IrcPeer(_irc_port(server))
        ivy.register("ivy")
        ivy.send("JOIN #ops")
        lines = ivy.sync()
        (topic,) = [line for line in lines if line.command == "332"]
        (who,) = [line for line in lines if line.command == "333"]
        assert topic.params[1:] == ["#ops", "deploys only"]
        assert who.params[1] == "#ops" and who.params[2].startswith("анна!")
        assert abs(int(who.params[3]) - time.time()) < WAIT + 60
        ivy.close()
    finally:
        server.stop()
