"""End-to-end: telnet against the real server, over a raw socket and with the real ``telnet``
program in tmux, as a person would use it (issue 13, item 3)."""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Callable

import pytest

from tcpchat.core.telnet import AYT_REPLY
from tests.conftest import WAIT, Peer, ServerProcess, need_tool
from tests.e2e.tmux import TmuxPane

IAC, DO, WILL, WONT, DONT, SB, SE = b"\xff", b"\xfd", b"\xfb", b"\xfc", b"\xfe", b"\xfa", b"\xf0"
IP, AYT = b"\xf4", b"\xf6"
TM, ECHO, SGA, NAWS, TTYPE = b"\x06", b"\x01", b"\x03", b"\x1f", b"\x18"
POLL_S = 0.05


def read_until(peer: Peer, wanted: bytes) -> bytes:
    """Raw bytes from ``peer`` until ``wanted`` has come (telnet replies are not lines)."""
    deadline = time.monotonic() + WAIT
    while wanted not in peer.buf:
        left = deadline - time.monotonic()
        assert left > 0, f"no {wanted!r}; got {peer.buf!r}"
        peer.sock.settimeout(left)
        chunk = peer.sock.recv(65536)
        assert chunk, f"closed before {wanted!r}; got {peer.buf!r}"
        peer.buf += chunk
    head, _, peer.buf = peer.buf.partition(wanted)
    return head + wanted


def test_a_telnet_that_negotiates_on_connect_chooses_its_name(connect: Any) -> None:
    """As PuTTY does: options and a terminal type before the name; all refused, name accepted."""
    bob = connect("bob")
    ann = connect()
    ann.send(IAC + WILL + NAWS + IAC + WILL + TTYPE + IAC + DO + ECHO + IAC + DO + SGA)
    ann.send(IAC + SB + NAWS + b"\x00\x64\x00\x1e" + IAC + SE + b"ann\r\n")
    read_until(ann, IAC + DONT + NAWS + IAC + DONT + TTYPE + IAC + WONT + ECHO + IAC + WONT + SGA)
    assert ann.expect("^\\*\\*\\* You are") == "*** You are ann. 2 users online: ann, bob."
    assert bob.expect("joined") == "*** ann joined. 2 users online."


def test_ctrl_c_is_answered_and_the_user_keeps_chatting(connect: Any) -> None:
    """telnet's Ctrl+C: IAC IP IAC DO TIMING-MARK. The half-typed line is dropped, the mark is
    answered (telnet shows nothing until it is), and chat goes on both ways."""
    ann, bob = connect("ann"), connect("bob")
    ann.send(b"half a li" + IAC + IP + IAC + DO + TM)
    read_until(ann, IAC + WILL + TM)
    bob.send("still there?\n")
    assert ann.expect("^<") == "<bob> still there?"
    ann.send(b"yes\r\n")
    assert bob.expect("^<") == "<ann> yes"  # nothing of the half line, no invalid UTF-8
    ann.send(IAC + AYT)
    assert read_until(ann, AYT_REPLY).endswith(AYT_REPLY)
    ann.send(b"/quit\r\n")
    assert ann.expect("Goodbye") == "*** Goodbye, ann."


def test_an_endless_stream_of_commands_costs_as_bad_lines_and_ends_the_session(
    connect: Any,
) -> None:
    """IAC NOP forms no line, so nothing charged it: one connection kept the server at 100 %
    CPU (an abuse review). Each run of more than 32 commands with no line between is a bad
    line (and the rest of its read is dropped): answered once, and ten end the session, as ten
    over-long lines do."""
    bob, mallory = connect("bob"), connect("mallory")
    mallory.send((IAC + b"\xf1") * 200)
    read_until(mallory, IAC + DO + b"\x00")  # BINARY asked for, at the first command
    told = mallory.expect("^!!!")
    assert told == "!!! Too many telnet commands without a line; they were ignored."
    for _ in range(8):  # a read's rest is dropped past a run: one bad line a read at most
        mallory.send((IAC + b"\xf1") * 33)
        assert mallory.expect("^!!!") == told
    mallory.send((IAC + b"\xf1") * 33)
    assert mallory.expect("Goodbye") == "*** Too many over-long or invalid lines. Goodbye."
    assert mallory.closed()
    assert bob.expect("left") == "*** mallory left (too many bad lines). 1 user online."


def test_character_mode_line_ends_cr_nul_and_lone_cr(connect: Any) -> None:
    ann, bob = connect("ann"), connect("bob")
    for byte in b"one\r\x00":  # character mode: a byte per write, Enter is CR NUL
        ann.send(bytes((byte,)))
    assert bob.expect("^<") == "<ann> one"
    ann.send(b"two\r")
    assert bob.expect("^<") == "<ann> two"
    ann.send(b"\nthree\n")  # the LF of that CR is not one more (blank) line
    assert bob.expect("^<") == "<ann> three"


def test_json_mode_is_untouched_by_the_filter(connect: Any) -> None:
    ann, bob = connect("ann", json_mode=True), connect("bob")
    ann.send("hello from json\r\n")
    assert bob.expect("^<") == "<ann> hello from json"


# --- the real telnet program ---------------------------------------------------------------


class TelnetScreen(TmuxPane):
    """The real ``telnet`` in a detached tmux session of its own."""

    def __init__(self, tmp: Path, port: int) -> None:
        telnet = need_tool("telnet")
        super().__init__(tmp, f"{telnet} 127.0.0.1 {port}", 100, 30)

    def text(self) -> str:
        return self.run("capture-pane", "-p", "-J", "-t", "t", "-S", "-200")

    def wait(self, pattern: str, count: int = 1) -> str:
        """Wait until the screen shows ``pattern`` (a regex) ``count`` times."""
        deadline = time.monotonic() + WAIT
        pause = threading.Event()
        while True:
            screen = self.text()
            if len(re.findall(pattern, screen, re.MULTILINE)) >= count:
                return screen
            if time.monotonic() > deadline:
                raise AssertionError(f"the screen never showed {pattern!r}:\n{screen}")
            pause.wait(POLL_S)

    def command(self, line: str) -> None:
        """A command at telnet's own prompt, through its escape character (Ctrl+])."""
        self.keys("C-]")
        self.wait(r"^telnet> ")
        self.type(line)
        self.keys("Enter")


@pytest.fixture
def telnet_screen(tmp_path: Path) -> Iterator[Callable[[int], TelnetScreen]]:
    screens: list[TelnetScreen] = []

    def start(port: int) -> TelnetScreen:
        screen = TelnetScreen(tmp_path, port)
        screens.append(screen)
        return screen

    yield start
    for screen in screens:
        screen.close()


def test_real_telnet_survives_ctrl_c_ayt_and_character_mode(
    server: ServerProcess, connect: Any, telnet_screen: Callable[[int], TelnetScreen]
) -> None:
    bob = connect("bob")
    ann = telnet_screen(server.port)
    ann.wait(r"^\*\*\* Enter your name:")
    ann.type("ann")
    ann.keys("Enter")
    ann.wait(r"^\*\*\* You are ann\.")
    bob.expect("ann joined")

    # Ctrl+C: telnet sends IAC IP and IAC DO TIMING-MARK, then shows nothing until answered. An
    # AYT's answer comes after that one: once it shows, bob's next line must show too (sent
    # before the server had the interrupt, telnet would rightly discard it).
    ayt = r"tcp-chat: yes, I am here\."
    ann.type("never sent")
    ann.keys("C-c")
    ann.command("send ayt")
    ann.wait(ayt)
    bob.send("after ctrl-c\n")
    ann.wait(r"<bob> after ctrl-c$")  # after the ^C telnet echoed
    ann.command("send ip")
    ann.command("send ayt")
    ann.wait(ayt, 2)
    bob.send("after send ip\n")
    ann.wait(r"^<bob> after send ip$")
    ann.command("send ayt")
    ann.wait(ayt, 3)
    ann.type("still here")
    ann.keys("Enter")
    assert bob.expect("^<") == "<ann> still here"

    # Character mode: telnet negotiates, sends a byte per key and CR NUL (or CR LF) for Enter.
    ann.command("mode character")
    ann.type("one key at a time")
    ann.keys("Enter")
    assert bob.expect("^<") == "<ann> one key at a time"
    bob.send("seen\n")
    ann.wait(r"^<bob> seen$")

    ann.type("/quit")
    ann.keys("Enter")
    ann.wait(r"\*\*\* Goodbye, ann\.")
    assert bob.expect("left") == "*** ann left (quit). 1 user online."
    assert "invalid" not in server.stderr()


def test_real_telnet_sends_cyrillic_whole(
    server: ServerProcess, connect: Any, telnet_screen: Callable[[int], TelnetScreen]
) -> None:
    """inetutils telnet, outside binary mode, compares each byte without its top bit to its
    special keys: у (D1 83) goes out as Ctrl+C, Н (D0 9D) opens its own prompt (Ctrl+]), х (D1
    85) is lost. The server takes back a command inside a letter, and asks telnet for binary at
    its first command; from the answer on, every letter goes out as typed."""
    bob = connect("bob")
    ann = telnet_screen(server.port)
    ann.wait(r"^\*\*\* Enter your name:")
    ann.type("тимур")  # у: D1 IAC IP IAC DO TIMING-MARK
    ann.keys("Enter")
    ann.wait(r"^\*\*\* You are тимур\.")
    bob.expect("тимур joined")
    alphabet = "".join(map(chr, range(0x410, 0x450))) + " ёЁ"
    ann.type(f"как у тебя дела? Нет, хорошо: {alphabet}")
    ann.keys("Enter")
    assert bob.expect("^<") == f"<тимур> как у тебя дела? Нет, хорошо: {alphabet}"
    assert "telnet>" not in ann.text()
