"""End-to-end: the original 1.0 client against the real server (issue 13, item 6).

``OldClient`` behaves as the 1.0 ``client.py`` does: one ``send`` per typed line with no line
end, and everything received decoded with ``decode('ascii')``, which raises on any other byte.
"""

from __future__ import annotations

import re
import socket
import time
from pathlib import Path
from typing import Any

import pytest

from tcpchat.core.limits import LEGACY_SILENCE_S
from tests.conftest import WAIT, ServerProcess


class OldClient:
    """The 1.0 client's wire behaviour, on a raw socket."""

    def __init__(self, port: int) -> None:
        self.sock = socket.create_connection(("127.0.0.1", port), WAIT)
        self.text = ""
        self.seen = 0  # how much of ``text`` expect() has consumed

    def say(self, line: str) -> None:
        self.sock.send(line.encode("ascii"))  # as 1.0 does: no newline

    def expect(self, pattern: str, timeout: float = WAIT) -> str:
        """Read until a line matching ``pattern`` (searched) arrives after the last one found."""
        regex = re.compile(pattern, re.MULTILINE)
        deadline = time.monotonic() + timeout
        while True:
            found = regex.search(self.text, self.seen)
            if found:
                end = self.text.find("\n", found.end())
                self.seen = len(self.text) if end < 0 else end + 1
                start = self.text.rfind("\n", 0, found.start()) + 1
                return self.text[start : self.seen].rstrip("\n")
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError(f"no {pattern!r} within {timeout}s; got {self.text!r}")
            self.sock.settimeout(left)
            try:
                chunk = self.sock.recv(4096)
            except socket.timeout:
                continue
            if not chunk:
                raise EOFError(f"closed; got {self.text!r}")
            self.text += chunk.decode("ascii")  # 1.0 crashes here on anything but ASCII

    def close(self) -> None:
        self.sock.close()


def test_a_1_0_client_picks_a_name_and_chats_both_ways_in_ascii(
    server: ServerProcess, connect: Any
) -> None:
    anna = connect("Анна")
    old = OldClient(server.port)
    try:
        old.expect(r"^\*\*\* Enter your name:")
        old.say("oldtimer")
        assert (
            old.expect(r"^\*\*\* You are")
            == "*** You are oldtimer. 2 users online: oldtimer, Anna~."
        )
        server.wait_log(r"legacy 1\.0 client")
        assert anna.expect("joined") == "*** oldtimer joined. 2 users online."

        anna.send("Привет всем! café\n")
        assert old.expect("^<") == "<Anna~> Privet~ vsem~! cafe~"
        old.say("hello anna")
        assert old.expect("Delivered") == "*** Delivered to ALL (1 user)."
        assert anna.expect("^<") == "<oldtimer> hello anna"

        old.say("/w oldtimer x")  # to itself: an error
        assert old.expect("^!!!") == "!!! You cannot send a private message to yourself."
        anna.send("/w oldtimer всё хорошо\n")
        assert old.expect(r"^\[PM") == "[PM from Anna~] vse~ khorosho~"
        old.say("/users")
        assert old.expect("online") == "*** 2 users online: oldtimer, Anna~."
        old.say("/quit")
        assert old.expect("Goodbye") == "*** Goodbye, oldtimer."
        assert anna.expect("left") == "*** oldtimer left (quit). 1 user online."
    finally:
        old.close()


def test_a_1_0_client_whispers_to_an_ascii_name(server: ServerProcess, connect: Any) -> None:
    bob = connect("bob")
    old = OldClient(server.port)
    try:
        old.expect(r"^\*\*\* Enter your name:")
        old.say("old")
        old.expect(r"^\*\*\* You are old\.")
        old.say("/w bob see you at 5")
        assert old.expect("Delivered") == "*** Delivered to bob."
        assert bob.expect(r"^\[PM") == "[PM from old] see you at 5"
    finally:
        old.close()


def test_with_no_legacy_a_line_without_end_waits_for_its_end(tmp_path: Path) -> None:
    server = ServerProcess(tmp_path, "--no-legacy")
    old = OldClient(server.port)
    try:
        old.expect(r"^\*\*\* Enter your name:")
        old.say("ann")
        with pytest.raises(AssertionError):  # well past the silence that would mean legacy
            old.expect(r"^\*\*\* You are", timeout=3 * LEGACY_SILENCE_S)
        old.sock.send(b"ie\n")
        assert old.expect(r"^\*\*\* You are") == "*** You are annie. 1 user online: annie."
        assert "legacy 1.0 client" not in server.stderr()
    finally:
        old.close()
        server.stop()
