"""End-to-end: the real server process, real sockets, users as nc would be."""

from __future__ import annotations

from typing import Any

from tests.conftest import Peer, ServerProcess


def test_broadcast_reaches_everyone_else_and_confirms_to_sender(connect: Any) -> None:
    alice, bob, carol = connect("alice"), connect("bob"), connect("carol")
    alice.send("hello everyone\n")
    assert alice.expect(r"Delivered") == "*** Delivered to ALL (2 users)."
    assert bob.expect(r"^<") == "<alice> hello everyone"
    assert carol.expect(r"^<") == "<alice> hello everyone"


def test_smoke(server: ServerProcess, connect: Any) -> None:
    alice = connect("alice")
    alice.send("/users\n")
    assert alice.expect("online:") == "*** 1 user online: alice."
    assert isinstance(alice, Peer)
