"""End-to-end: the real ``tcp-client`` in a real terminal (tmux) against the real server.

Each test starts its own tmux server on a private socket with a fixed window size, types with
``send-keys`` and asserts on what ``capture-pane`` shows, as a person would see it.
"""

from __future__ import annotations

import re
import shlex
import signal
import socket
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Callable

import pytest

from tcpchat.client.render import HANGING_INDENT
from tests.conftest import WAIT, Peer, ServerProcess, child_env
from tests.e2e.old_server import OldServer
from tests.e2e.tmux import TmuxPane

COLUMNS, ROWS = 100, 30
POLL_S = 0.05
INDENT = " " * HANGING_INDENT


class Screen(TmuxPane):
    """``tcp-client`` running in a detached tmux session of its own."""

    def __init__(self, tmp: Path, args: list[str], **env: str) -> None:
        pane_env = child_env(LANG="C.UTF-8", LC_ALL="C.UTF-8")
        pane_env.pop("NO_COLOR", None)
        pane_env.pop("TERM", None)
        # Terminal settings before and after, to check the client restored them.
        self.stty = tmp / f"tcpchat-stty-{uuid.uuid4().hex[:8]}"
        # tmux sets TERM in the pane itself, so the client's environment goes on its command
        # line; the client runs as the installed ``tcp-client`` script does.
        settings = {
            "XDG_STATE_HOME": str(tmp / "state"),
            "XDG_CONFIG_HOME": str(tmp / "config"),
            **env,
        }
        client = " ".join(
            shlex.quote(a)
            for a in [
                "env",
                *(f"{k}={v}" for k, v in settings.items()),
                sys.executable,
                "-c",
                "from tcpchat.cli import client_main; raise SystemExit(client_main())",
                *args,
            ]
        )
        # The shell prints the exit status: tmux's own pane_dead_status proved unreliable.
        super().__init__(
            tmp,
            f"stty -g > {self.stty}.before; {client}; echo [exit $?]; stty -g > {self.stty}.after",
            COLUMNS,
            ROWS,
            pane_env,
        )

    def rows(self, escapes: bool = False) -> list[str]:
        """The screen and its scrollback row by row, as a person sees them."""
        flags = ["-p", "-S", "-200"] + (["-e"] if escapes else [])
        return self.run("capture-pane", "-t", "t", *flags).split("\n")

    def text(self, escapes: bool = False) -> str:
        """The screen and its scrollback, as lines with trailing blanks removed: the rows of a line
        the client wrapped (each after the first starts with its hanging indent) joined again."""
        flags = ["-p", "-J", "-S", "-200"] + (["-e"] if escapes else [])
        lines: list[str] = []
        for row in self.run("capture-pane", "-t", "t", *flags).split("\n"):
            if lines and lines[-1].strip() and row.startswith(INDENT) and row.strip():
                lines[-1] += " " + row[len(INDENT) :]
            else:
                lines.append(row)
        return "\n".join(lines)

    def cursor(self) -> tuple[int, int]:
        x, y = self.run("display-message", "-p", "-t", "t", "#{cursor_x} #{cursor_y}").split()
        return int(x), int(y)

    def input_row(self) -> str:
        """The row the cursor is on: the prompt and what is being typed."""
        _, y = self.cursor()
        rows = self.run("capture-pane", "-t", "t", "-p").split("\n")
        return rows[y].rstrip() if y < len(rows) else ""

    def status(self) -> int | None:
        """The client's exit status once it has exited, else None."""
        found = re.findall(r"^\[exit (\d+)\]$", self.text(), re.MULTILINE)
        return int(found[-1]) if found else None

    def bell_rang(self) -> bool:
        """Whether the client rang the terminal bell (tmux flags the window)."""
        return self.run("display-message", "-p", "-t", "t", "#{window_bell_flag}").strip() == "1"

    def wait(self, what: str | Callable[[], bool], timeout: float = WAIT) -> str:
        """Wait until the screen shows ``what`` (a regex) or until ``what()`` is true."""
        deadline = time.monotonic() + timeout
        pause = threading.Event()
        while True:
            screen = self.text()
            if callable(what) and what():
                return screen
            if isinstance(what, str) and re.search(what, screen, re.MULTILINE):
                return screen
            if time.monotonic() > deadline:
                raise AssertionError(f"the screen never showed {what!r}:\n{screen}")
            pause.wait(POLL_S)

    def wait_exit(self, timeout: float = WAIT) -> int:
        """Wait for the client to exit; check it left the terminal settings as it found them."""
        after = Path(f"{self.stty}.after")
        self.wait(lambda: self.status() is not None and after.exists(), timeout)
        self.wait(lambda: after.read_text().strip() != "", timeout)
        assert after.read_text() == Path(f"{self.stty}.before").read_text()
        status = self.status()
        assert status is not None
        return status


@pytest.fixture
def screen(tmp_path: Path) -> Iterator[Callable[..., Screen]]:
    """``screen(port, "--name", "alice", NO_COLOR="1")`` starts a client in tmux."""
    screens: list[Screen] = []

    def start(port: int, *args: str, **env: str) -> Screen:
        s = Screen(tmp_path, ["--host", "127.0.0.1", "--port", str(port), *args], **env)
        screens.append(s)
        return s

    yield start
    for s in screens:
        s.close()


def joined(scr: Screen, name: str) -> Screen:
    scr.wait(rf"You are {re.escape(name)}\.")
    scr.wait(lambda: scr.input_row() == f"{name}>")
    return scr


def test_half_typed_line_and_cursor_survive_ten_incoming_messages(
    server: ServerProcess, connect: Any, screen: Any
) -> None:
    bob, carol = connect("bob"), connect("carol")
    alice = joined(screen(server.port, "--name", "alice"), "alice")
    alice.type("half-typed text")
    alice.keys("Left", "Left", "Left", "Left", "Left")
    alice.wait(lambda: alice.cursor()[0] == len("alice> half-typed text") - 5)
    # Two senders, so that neither passes the server's flood limit.
    for i in range(1, 11):
        (bob if i % 2 else carol).send(f"incoming message {i}\n")
    alice.wait(r"<carol> incoming message 10$")
    screen_text = alice.text()
    for i in range(1, 11):
        assert f"<{'bob' if i % 2 else 'carol'}> incoming message {i}" in screen_text
    assert alice.input_row() == "alice> half-typed text"
    assert alice.cursor()[0] == len("alice> half-typed text") - 5
    # Typing goes on where the cursor was.
    alice.type("X")
    alice.keys("Enter")
    assert bob.expect(r"^<alice>") == "<alice> half-typedX text"
    alice.wait(r"<alice> half-typedX text \u27132$")
    assert alice.input_row() == "alice>"


def test_padding_cannot_make_a_row_that_passes_for_another_users_line(
    server: ServerProcess, connect: Any, screen: Any
) -> None:
    mallory = connect("mallory")
    bob = joined(screen(server.port, "--name", "bob"), "bob")
    # The attack as found: in an 80-column nc, 67 spaces put "<alice> ..." at the start of a row.
    mallory.send("lol" + " " * 67 + "<alice> my password is hunter2\n")
    bob.wait(r"<mallory> lol {8}<alice> my password is hunter2$")
    # Visible filler sized so that a terminal wrapping by itself would start a row with the time
    # stamp and "<alice>"; the client breaks at the space instead and indents the rest.
    filler = "x" * (COLUMNS - len("12:34 <mallory> lol ") - 1)
    mallory.send(f"lol {filler} 12:34 <alice> I am the real alice\n")
    bob.wait(r"I am the real alice$")
    rows = bob.rows()
    assert not [row for row in rows if re.match(r"(\d\d:\d\d )?<alice>", row)], rows
    forged = rows.index(INDENT + "12:34 <alice> I am the real alice")
    assert rows[forged - 1].endswith(filler)
    assert all(len(row) < COLUMNS for row in rows)


def test_marks_the_terminal_draws_wide_cannot_make_a_row_that_passes_for_another_users_line(
    server: ServerProcess, connect: Any, screen: Any
) -> None:
    """U+302E is a spacing mark with a combining class: the client counted it 0 columns, tmux
    draws it 2, so tmux itself wrapped the row the client thought fitted, at its left edge."""
    mallory = connect("mallory")
    bob = joined(screen(server.port, "--name", "bob"), "bob")
    marks = "\u302e" * ((COLUMNS - len("12:34 <mallory> ")) // 2)
    mallory.send(f"{marks} 12:34 <alice> I am the real alice\n")
    bob.wait(r"I am the real alice$")
    rows = bob.rows()
    assert not [row for row in rows if re.match(r"(\d\d:\d\d )?<alice>", row)], rows
    (last,) = [row for row in rows if row.endswith("I am the real alice")]
    assert last.startswith(INDENT), rows


def test_a_long_message_wraps_at_word_boundaries_under_the_time_stamp(
    server: ServerProcess, connect: Any, screen: Any
) -> None:
    carol = connect("carol")
    bob = joined(screen(server.port, "--name", "bob"), "bob")
    bob.type("half typed")
    words = [f"word{i}" for i in range(60)]
    carol.send(" ".join(words) + "\n")
    bob.wait(r"word59$")
    rows = bob.rows()
    first = next(i for i, row in enumerate(rows) if "<carol> word0 " in row)
    assert re.match(r"\d\d:\d\d <carol> word0 ", rows[first])
    wrapped = [rows[first]]
    for row in rows[first + 1 :]:
        if not row.startswith(INDENT):
            break
        wrapped.append(row)
    assert len(wrapped) > 2
    assert all(row.startswith(INDENT) and row[len(INDENT)] != " " for row in wrapped[1:])
    assert all(len(row) < COLUMNS for row in wrapped)
    assert " ".join(wrapped).split()[2:] == words  # every word whole, none cut at the edge
    assert bob.input_row() == "bob> half typed"
    # Once the window is narrower, the next message is wrapped to its new width.
    bob.run("resize-window", "-t", "t", "-x", "60")
    carol.send("narrow " + " ".join(words) + " done\n")
    bob.wait(r"word59 done$")
    rows = bob.rows()
    first = next(i for i, row in enumerate(rows) if "<carol> narrow " in row)
    assert all(len(row) < 60 for row in rows[first:])
    assert bob.input_row() == "bob> half typed"


def test_tab_completes_names_and_commands(server: ServerProcess, connect: Any, screen: Any) -> None:
    connect("bob")
    connect("Борислав")
    alice = joined(screen(server.port, "--name", "alice"), "alice")
    alice.type("Бо")
    alice.keys("Tab")
    alice.wait(lambda: alice.input_row() == "alice> Борислав:")
    alice.keys("C-u")
    alice.type("/wh")
    alice.keys("Tab")
    alice.wait(lambda: alice.input_row() == "alice> /whisper")
    alice.keys("C-u")
    alice.type("/w b")
    alice.keys("Tab")
    alice.wait(lambda: alice.input_row() == "alice> /w bob")


def test_cyrillic_name_and_messages_typed_and_received(
    server: ServerProcess, connect: Any, screen: Any
) -> None:
    boris = connect("Борис")
    scr = screen(server.port)
    scr.wait(r"Your name:")
    scr.type("Алиса")
    scr.keys("Enter")
    joined(scr, "Алиса")
    boris.send("Привет, Алиса! Как дела?\n")
    scr.wait(r"<Борис> Привет, Алиса! Как дела\?$")
    scr.type("Отлично, Борис")
    scr.keys("Left", "BSpace")
    scr.type("и")
    scr.keys("Enter")
    assert boris.expect(r"^<Алиса>") == "<Алиса> Отлично, Борис"
    scr.wait(r"<Алиса> Отлично, Борис \u27131$")


def test_no_color_means_no_escape_sequences(
    server: ServerProcess, connect: Any, screen: Any
) -> None:
    bob = connect("bob")
    coloured = joined(screen(server.port, "--name", "alice"), "alice")
    plain = joined(screen(server.port, "--name", "carol", NO_COLOR="1"), "carol")
    bob.send("/w carol psst\n")
    bob.send("hello alice and carol\n")
    plain.wait(r"<bob> hello alice and carol$")
    coloured.wait(r"<bob> hello alice and carol$")
    assert "\x1b[" in coloured.text(escapes=True)  # so the check below means something
    assert "\x1b" not in plain.text(escapes=True)


@pytest.mark.parametrize("how", [["--no-color"], ["TERM=dumb"]])
def test_no_color_flag_and_dumb_terminal(
    server: ServerProcess, screen: Any, how: list[str]
) -> None:
    if how[0].startswith("TERM="):
        scr = screen(server.port, "--name", "alice", TERM="dumb")
    else:
        scr = screen(server.port, "--name", "alice", *how)
    joined(scr, "alice")
    assert "\x1b" not in scr.text(escapes=True)


def test_r_replies_to_the_last_private_sender(
    server: ServerProcess, connect: Any, screen: Any
) -> None:
    bob, carol = connect("bob"), connect("carol")
    alice = joined(screen(server.port, "--name", "alice"), "alice")
    bob.send("/w alice first\n")
    carol.send("/w alice psst, it is carol\n")
    alice.wait(r"\[PM from carol\] psst, it is carol$")
    alice.type("/r got it")
    alice.keys("Enter")
    assert carol.expect(r"^\[PM") == "[PM from alice] got it"
    alice.wait(r"\[PM to carol\] got it \u2713$")


def test_r_without_a_private_message_says_so(server: ServerProcess, screen: Any) -> None:
    alice = joined(screen(server.port, "--name", "alice"), "alice")
    alice.type("/r hello?")
    alice.keys("Enter")
    alice.wait(r"!!! Nobody has sent you a private message yet\.$")


def test_own_message_alone_says_nobody_got_it(server: ServerProcess, screen: Any) -> None:
    alice = joined(screen(server.port, "--name", "alice"), "alice")
    alice.type("anyone here?")
    alice.keys("Enter")
    alice.wait(r"<alice> anyone here\? \u2717 nobody else is online$")


def test_error_from_the_server_shows_what_was_not_sent(server: ServerProcess, screen: Any) -> None:
    alice = joined(screen(server.port, "--name", "alice"), "alice")
    alice.type("/w nobody are you there")
    alice.keys("Enter")
    alice.wait(r"!!! No such user: nobody\..*\(not sent: /w nobody are you there\)$")


def test_own_name_nick_then_whisper_shows_the_whisper_delivered(
    server: ServerProcess, connect: Any, screen: Any
) -> None:
    """Issue 12's bug: both lines go out before the first answer (a paste), and the error that
    answers the /nick is not taken for the whisper's."""
    bob = connect("bob")
    alice = joined(screen(server.port, "--name", "alice"), "alice")
    alice.run("set-buffer", "-b", "p", "/nick alice\n/w bob hi\n")
    alice.run("paste-buffer", "-p", "-b", "p", "-t", "t")
    assert bob.expect(r"^\[PM") == "[PM from alice] hi"
    alice.wait(r"\[PM to bob\] hi \u2713$")
    text = alice.text()
    assert "!!! " in text  # the /nick was refused ...
    assert "not sent" not in text  # ... and said so without blaming the whisper


def test_reconnects_after_the_server_restarts_on_the_same_port(tmp_path: Path, screen: Any) -> None:
    def while_down(alice: Screen) -> None:
        alice.wait(lambda: "[reconnecting" in alice.input_row())

    reconnects_after_a_restart(tmp_path, lambda port: screen(port, "--name", "alice"), while_down)


def reconnects_after_a_restart(
    tmp_path: Path,
    start: Callable[[int], Screen],
    while_down: Callable[[Screen], None] = lambda alice: None,
) -> None:
    """alice's client (``start(port)``) sees its server stop (``while_down`` checks what it
    shows meanwhile), reconnects to the new one on the same port, and talks to bob there."""
    (tmp_path / "first").mkdir()
    (tmp_path / "second").mkdir()
    first = ServerProcess(tmp_path / "first")
    port = first.port
    alice = joined(start(port), "alice")
    try:
        first.stop()
        alice.wait(r"Connection to 127\.0\.0\.1:\d+ lost\. Reconnecting in 1 s")
        while_down(alice)
        second = ServerProcess(tmp_path / "second", port=port)
    finally:
        first.stop()
    try:
        alice.wait(r"Reconnected to 127\.0\.0\.1:\d+\.$", timeout=WAIT * 2)
        alice.wait(r"You are alice\. 1 user online")
        alice.wait(lambda: alice.input_row() == "alice>")
        bob = Peer(second.port)
        bob.expect(r"Enter your name")
        bob.send("bob\n")
        bob.expect(r"^\*\*\* You are bob")
        alice.type("back again")
        alice.keys("Enter")
        assert bob.expect(r"^<alice>") == "<alice> back again"
        bob.close()
    finally:
        second.stop()


def test_reconnect_keeps_trying_while_the_name_is_still_taken(tmp_path: Path, screen: Any) -> None:
    (tmp_path / "first").mkdir()
    (tmp_path / "second").mkdir()
    first = ServerProcess(tmp_path / "first")
    port = first.port
    alice = joined(screen(port, "--name", "alice"), "alice")
    first.stop()
    # Start the new server only after a failed try: the next one is 2 s away.
    alice.wait(r"connection refused \(is the server running\?\)\. Next try in 2 s\.$")
    second = ServerProcess(tmp_path / "second", port=port)
    try:
        ghost = Peer(port)
        ghost.expect(r"Enter your name")
        ghost.send("alice\n")
        ghost.expect(r"^\*\*\* You are alice")
        alice.wait(
            r'The name "alice" is taken.*\(the server may still hold the old connection\)\. '
            r"Next try in 4 s\.$",
            timeout=WAIT * 2,
        )
        ghost.send("/quit\n")
        ghost.close()
        alice.wait(r"Reconnected to 127\.0\.0\.1:\d+\.$", timeout=WAIT * 2)
        alice.wait(lambda: alice.input_row() == "alice>")
    finally:
        second.stop()


def test_no_reconnect_exits_when_the_connection_drops(tmp_path: Path, screen: Any) -> None:
    srv = ServerProcess(tmp_path)
    alice = joined(screen(srv.port, "--name", "alice", "--no-reconnect"), "alice")
    srv.stop()
    assert alice.wait_exit() == 0  # the server said it was shutting down
    assert "Disconnected from the server." in alice.text()
    assert "Traceback" not in alice.text()


def test_a_server_gone_at_the_name_prompt_is_told_at_once_and_the_name_goes_to_the_next(
    tmp_path: Path, screen: Any
) -> None:
    """The server stops while "Your name:" waits: that is shown without a key pressed, the
    half-typed name stays, and the name typed goes to a server started later on the port."""
    (tmp_path / "first").mkdir()
    (tmp_path / "second").mkdir()
    first = ServerProcess(tmp_path / "first")
    port = first.port
    scr = screen(port)
    try:
        scr.wait(lambda: scr.input_row() == "Your name:")
        scr.type("али")
        first.stop()
        scr.wait(
            r"Connection to 127\.0\.0\.1:\d+ lost \(Server is shutting down\)\. "
            r"Type your name to connect again"
        )
        assert scr.input_row() == "Your name: али"
        scr.type("са")
        scr.keys("Enter")
        scr.wait(r"connection refused \(is the server running\?\)\. Next try in 1 s\.$")
    finally:
        first.stop()
    second = ServerProcess(tmp_path / "second", port=port)
    try:
        scr.wait(r"Connected to 127\.0\.0\.1:\d+\.$", timeout=WAIT * 2)
        joined(scr, "алиса")
        assert scr.text().count("Welcome to tcp-chat") == 1
    finally:
        second.stop()


def test_a_name_typed_after_the_server_stopped_waiting_for_one_goes_to_a_new_connection(
    tmp_path: Path, screen: Any
) -> None:
    """The server drops a connection with no name after --handshake-timeout: not worth a word
    to the person still thinking; the name they then type joins over a new connection."""
    srv = ServerProcess(tmp_path, "--handshake-timeout", "1")
    try:
        scr = screen(srv.port)
        scr.wait(lambda: scr.input_row() == "Your name:")
        srv.wait_log(r"disconnected \(timed out\)")
        scr.type("alice")
        scr.keys("Enter")
        joined(scr, "alice")
        assert "lost" not in scr.text() and "!!!" not in scr.text()
    finally:
        srv.stop()


def test_no_reconnect_exits_at_once_when_the_server_goes_at_the_name_prompt(
    tmp_path: Path, screen: Any
) -> None:
    srv = ServerProcess(tmp_path)
    scr = screen(srv.port, "--no-reconnect")
    scr.wait(lambda: scr.input_row() == "Your name:")
    srv.stop(signal.SIGKILL)  # no word from the server: exit 1
    assert scr.wait_exit() == 1
    assert re.search(r"Disconnected from 127\.0\.0\.1:\d+\.", scr.text())
    assert "Traceback" not in scr.text()


def test_ctrl_c_leaves_cleanly_without_a_traceback(
    server: ServerProcess, connect: Any, screen: Any
) -> None:
    bob = connect("bob")
    alice = joined(screen(server.port, "--name", "alice"), "alice")
    alice.type("something half typed")
    alice.keys("C-c")
    assert alice.wait_exit() == 130
    assert "Traceback" not in alice.text()
    assert bob.expect(r"alice left") == "*** alice left (quit). 1 user online."


def test_ctrl_d_and_quit_leave_and_the_server_announces_it(
    server: ServerProcess, connect: Any, screen: Any
) -> None:
    bob = connect("bob")
    alice = joined(screen(server.port, "--name", "alice"), "alice")
    alice.keys("C-d")
    assert alice.wait_exit() == 0
    assert bob.expect(r"alice left") == "*** alice left (quit). 1 user online."
    carol = joined(screen(server.port, "--name", "carol"), "carol")
    carol.type("/quit see you")
    carol.keys("Enter")
    assert carol.wait_exit() == 0
    assert bob.expect(r"carol left") == "*** carol left (quit: see you). 1 user online."
    assert "Goodbye, carol." in carol.text()


def test_refused_connection_is_one_line_and_exit_code_1(screen: Any) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    scr = screen(port, "--name", "alice")
    assert scr.wait_exit() == 1
    lines = [line for line in scr.text().splitlines() if line.strip()]
    assert lines[0] == (
        f"tcp-client: cannot connect to 127.0.0.1:{port}: "
        "connection refused (is the server running?)"
    )
    assert not any("Traceback" in line for line in lines)


def test_a_taken_name_is_asked_again(server: ServerProcess, connect: Any, screen: Any) -> None:
    connect("alice")
    scr = screen(server.port, "--name", "alice")
    scr.wait(r'!!! The name "alice" is taken\. Choose another one\.$')
    scr.wait(lambda: scr.input_row() == "Your name:")
    scr.type("alice2")
    scr.keys("Enter")
    joined(scr, "alice2")


def test_a_name_refused_for_any_reason_is_asked_again_at_once(
    server: ServerProcess, screen: Any
) -> None:
    """The error answering the name's line is a refusal whatever its code, and says what a name
    holds: the client sends it as /nick NAME, whose usage the user never typed (issue 13, item
    1; a newcomer's review)."""
    scr = screen(server.port)
    scr.wait(r"Your name:")
    scr.type("john smith")
    scr.keys("Enter")
    scr.wait(r"!!! A name holds letters, digits", timeout=WAIT / 2)
    scr.wait(lambda: scr.input_row() == "Your name:")
    scr.type("john")
    scr.keys("Enter")
    joined(scr, "john")


def test_paste_guard_asks_before_sending_many_lines(
    server: ServerProcess, connect: Any, screen: Any
) -> None:
    bob = connect("bob")
    alice = joined(screen(server.port, "--name", "alice"), "alice")
    lines = [f"pasted line {i}" for i in range(1, 7)]
    alice.run("set-buffer", "-b", "p", "\n".join(lines) + "\n")
    alice.run("paste-buffer", "-p", "-b", "p", "-t", "t")
    alice.wait(lambda: alice.input_row() == "Send 6 pasted lines? [y/N]")
    alice.keys("n")
    # Declined is not thrown away: it is in the input, as one line (issue 13, item 13).
    alice.wait(
        r"Paste of 6 lines not sent: it is in the input as one line \(Ctrl\+U clears it\)\.$"
    )
    alice.wait(lambda: alice.input_row() == "alice> " + " ".join(lines))
    alice.keys("C-u")
    alice.wait(lambda: alice.input_row() == "alice>")
    alice.run("paste-buffer", "-p", "-b", "p", "-t", "t")
    alice.wait(lambda: alice.input_row() == "Send 6 pasted lines? [y/N]")
    alice.keys("y")
    for line in lines:
        assert bob.expect(r"^<alice>") == f"<alice> {line}"
    alice.wait(r"<alice> pasted line 6 \u27131$")
    assert "rate" not in alice.text()


def test_a_paste_the_terminal_hands_over_in_parts_is_asked_about_once_whole(
    tmp_path: Path, server: ServerProcess, screen: Any
) -> None:
    """Without bracketed paste, a terminal hands 300 lines over in reads of 4 KB: each part was
    asked about, the question for one replacing the one before, and "y" sent the last 51
    lines, the first 249 gone (a review in tmux)."""
    alice = joined(screen(server.port, "--name", "alice"), "alice")
    lines = [f"bulk line {i} with some padding text to make it longer" for i in range(1, 301)]
    pasted = tmp_path / "paste.txt"
    pasted.write_text("\n".join(lines) + "\n", encoding="utf-8")
    alice.run("load-buffer", "-b", "big", str(pasted))
    alice.run("paste-buffer", "-b", "big", "-t", "t")  # no -p: not bracketed
    alice.wait(lambda: alice.input_row() == "Send 300 pasted lines? [y/N]")
    alice.keys("n")
    alice.wait(r"Paste of 300 lines not sent: it is in the input as one line")


def test_a_prompt_wider_than_the_terminal_is_cut_not_wrapped(
    server: ServerProcess, screen: Any
) -> None:
    """At 20 columns the prompt ``alice@#a-rather-long-room-name> `` wrapped, and each key's
    redraw left a row of it behind, nine of them after a few words (a review in tmux)."""
    alice = joined(screen(server.port, "--name", "alice"), "alice")
    alice.run("resize-window", "-t", "t", "-x", "20", "-y", "10")
    alice.type("/join #a-rather-long-room-name")
    alice.keys("Enter")
    alice.wait(lambda: alice.input_row() == "alice@#…>")  # joined: the prompt names the room
    alice.type("hello there typing")
    alice.wait(lambda: alice.input_row().startswith("alice@#…> "))
    alice.wait(lambda: alice.input_row().endswith("typing"))
    assert sum("alice@#" in row for row in alice.rows()) == 1


def test_a_short_paste_is_sent_without_asking(
    server: ServerProcess, connect: Any, screen: Any
) -> None:
    bob = connect("bob")
    alice = joined(screen(server.port, "--name", "alice"), "alice")
    alice.run("set-buffer", "-b", "p", "one\ntwo\nthree (still typing")
    alice.run("paste-buffer", "-p", "-b", "p", "-t", "t")
    assert bob.expect(r"^<alice>") == "<alice> one"
    assert bob.expect(r"^<alice>") == "<alice> two"
    alice.wait(lambda: alice.input_row() == "alice> three (still typing")


def test_history_is_kept_between_sessions(
    tmp_path: Path, server: ServerProcess, screen: Any
) -> None:
    first = joined(screen(server.port, "--name", "alice"), "alice")
    first.type("remember me")
    first.keys("Enter")
    first.wait(r"<alice> remember me")
    # Written as entered, not at exit: a crash keeps it (issue 13, item 13).
    history = tmp_path / "state" / "tcp-chat" / "history"
    assert history.read_text(encoding="utf-8").splitlines() == ["remember me"]
    first.keys("C-d")
    assert first.wait_exit() == 0
    second = joined(screen(server.port, "--name", "alice"), "alice")
    second.keys("Up")
    second.wait(lambda: second.input_row() == "alice> remember me")


def test_help_lists_client_and_server_commands(server: ServerProcess, screen: Any) -> None:
    alice = joined(screen(server.port, "--name", "alice"), "alice")
    alice.type("/help")
    alice.keys("Enter")
    text = alice.wait(r"\*\*\*\s+/ping")
    assert re.search(r"\*\*\*\s+/r TEXT\s+reply privately", text)
    assert re.search(r"\*\*\*\s+/w NAME TEXT\s+send a private message", text)
    assert "/mode" not in text


def test_nick_change_updates_the_prompt(server: ServerProcess, screen: Any) -> None:
    alice = joined(screen(server.port, "--name", "alice"), "alice")
    alice.type("/nick alicia")
    alice.keys("Enter")
    alice.wait(r"You are now known as alicia\.$")
    alice.wait(lambda: alice.input_row() == "alicia>")


def test_bell_rings_on_private_messages_and_mentions_only_with_bell(
    server: ServerProcess, connect: Any, screen: Any
) -> None:
    bob = connect("bob")
    quiet = joined(screen(server.port, "--name", "alice"), "alice")
    loud = joined(screen(server.port, "--name", "carol", "--bell"), "carol")
    bob.send("hello everyone\n")
    loud.wait(r"<bob> hello everyone$")
    assert not loud.bell_rang()
    bob.send("carol: are you there?\n")
    loud.wait(r"<bob> carol: are you there\?$")
    assert loud.bell_rang()
    bob.send("/w alice psst\n")
    quiet.wait(r"\[PM from bob\] psst$")
    assert not quiet.bell_rang()


def test_a_line_over_the_server_limit_is_kept_not_sent(server: ServerProcess, screen: Any) -> None:
    alice = joined(screen(server.port, "--name", "alice"), "alice")
    alice.run("set-buffer", "-b", "p", "x" * 5000)
    alice.run("paste-buffer", "-p", "-b", "p", "-t", "t")
    alice.wait(lambda: alice.input_row().endswith("x" * 40))
    alice.keys("Enter")
    alice.wait(
        r"!!! Too long to send \(5000 bytes; the server takes 4096\)\. Your line was kept\.$"
    )
    assert alice.input_row().endswith("x" * 40)


def test_a_refused_pasted_line_leaves_what_follows_it_in_the_input(
    server: ServerProcess, screen: Any
) -> None:
    """The UX review pasted a line too long to send and a second one: the refused line was put
    back over the second, which was lost. Now the second stays and the first is under Up."""
    alice = joined(screen(server.port, "--name", "alice"), "alice")
    alice.run("set-buffer", "-b", "p", "x" * 5000 + "\nmy draft tail")
    alice.run("paste-buffer", "-p", "-b", "p", "-t", "t")
    alice.wait(
        r"!!! Too long to send \(5000 bytes; the server takes 4096\)\. Your line is in the input "
        r"history \(Up\)\.$"
    )
    alice.wait(lambda: alice.input_row().endswith("my draft tail"))
    alice.keys("Up")
    alice.wait(lambda: alice.input_row().endswith("x" * 40))


def test_a_server_that_is_not_tcp_chat_2_is_one_line_and_exit_1(screen: Any) -> None:
    """Against the 1.0 server the terminal client says so and exits, having sent nothing the
    old server would show its users (issue 13, item 7)."""
    old = OldServer(b"Welcome! Enter your name: ")
    try:
        scr = screen(old.port)
        assert scr.wait_exit() == 1
        lines = [line for line in scr.text().splitlines() if line.strip()]
        assert lines[0] == (
            f"tcp-client: 127.0.0.1:{old.port} does not speak tcp-chat 2 "
            "(it said: 'Welcome! Enter your name:')"
        )
        assert old.wait_sessions() == [b""]
    finally:
        old.close()


def test_help_quit_and_an_empty_name_at_the_name_prompt(
    server: ServerProcess, connect: Any, screen: Any
) -> None:
    """At "Your name:" /help shows the help, an empty name is asked again with a reason, and
    /quit leaves: none is taken for a name (issue 13, item 2)."""
    bob = connect("bob")
    scr = screen(server.port)
    scr.wait(lambda: scr.input_row() == "Your name:")
    scr.type("/help")
    scr.keys("Enter")
    scr.wait(r"/r TEXT")
    scr.wait(lambda: scr.input_row() == "Your name:")
    scr.keys("Enter")
    scr.wait(r"!!! A name is needed: type one and press Enter \(/help for help, /quit to leave")
    scr.wait(lambda: scr.input_row() == "Your name:")
    scr.type("/quit")
    scr.keys("Enter")
    assert scr.wait_exit() == 0
    bob.send("/users\n")
    assert "1 user online: bob" in bob.expect(r"online")
    assert "joined" not in scr.text()


def test_the_password_is_asked_without_echo_and_again_when_wrong(
    tmp_path: Path, screen: Any
) -> None:
    """Against a server with a password the terminal client asks for it, shows nothing of what
    is typed, and asks again after a wrong one (issue 13, item 9)."""
    secret = tmp_path / "password"
    secret.write_text("open sesame\n")
    server = ServerProcess(tmp_path, "--password-file", str(secret))
    try:
        scr = screen(server.port, "--name", "alice")
        scr.wait(lambda: scr.input_row() == "Password:")
        scr.type("wrong guess")
        scr.wait(lambda: scr.cursor()[0] == len("Password: "))
        assert scr.input_row() == "Password:"
        scr.keys("Enter")
        scr.wait(r"!!! Wrong password\. Try again\.$")
        scr.wait(lambda: scr.input_row() == "Password:")
        scr.type("open sesame")
        scr.keys("Enter")
        joined(scr, "alice")
        text = scr.text()
        assert "wrong guess" not in text and "open sesame" not in text
        scr.keys("C-d")
        assert scr.wait_exit() == 0
        history = tmp_path / "state" / "tcp-chat" / "history"
        assert not history.exists() or "sesame" not in history.read_text()
    finally:
        server.stop()


def test_a_sent_two_line_paste_is_in_the_history(
    tmp_path: Path, server: ServerProcess, connect: Any, screen: Any
) -> None:
    """The lines of a bracketed paste that is sent are kept as typed lines are (issue 13)."""
    bob = connect("bob")
    alice = joined(screen(server.port, "--name", "alice"), "alice")
    alice.run("set-buffer", "-b", "p", "first pasted\nsecond pasted\n")
    alice.run("paste-buffer", "-p", "-b", "p", "-t", "t")
    assert bob.expect(r"^<alice>") == "<alice> first pasted"
    assert bob.expect(r"^<alice>") == "<alice> second pasted"
    alice.keys("Up")
    alice.wait(lambda: alice.input_row() == "alice> second pasted")
    alice.keys("Up")
    alice.wait(lambda: alice.input_row() == "alice> first pasted")
    history = tmp_path / "state" / "tcp-chat" / "history"
    assert history.read_text(encoding="utf-8").splitlines() == ["first pasted", "second pasted"]


def test_two_clients_at_once_keep_both_histories(
    tmp_path: Path, server: ServerProcess, screen: Any
) -> None:
    """Two clients sharing a history file each add their lines; neither overwrites the other's
    when it exits (issue 13, item 13)."""
    alice = joined(screen(server.port, "--name", "alice"), "alice")
    bob = joined(screen(server.port, "--name", "bob"), "bob")
    alice.type("from alice")
    alice.keys("Enter")
    alice.wait(r"<alice> from alice")
    bob.type("from bob")
    bob.keys("Enter")
    bob.wait(r"<bob> from bob")
    bob.keys("C-d")
    assert bob.wait_exit() == 0
    alice.keys("C-d")
    assert alice.wait_exit() == 0
    history = tmp_path / "state" / "tcp-chat" / "history"
    assert history.read_text(encoding="utf-8").splitlines() == ["from alice", "from bob"]


def test_the_reconnect_status_counts_down(tmp_path: Path, screen: Any) -> None:
    """While the server is away the input row says how long until the next try, second by
    second (issue 13, item 13)."""
    srv = ServerProcess(tmp_path)
    alice = joined(screen(srv.port, "--name", "alice"), "alice")
    srv.stop()
    alice.wait(r"Next try in 2 s\.$")
    alice.wait(lambda: alice.input_row() == "[reconnecting in 2 s] alice>")
    alice.wait(lambda: alice.input_row() == "[reconnecting in 1 s] alice>")
    alice.keys("C-d")
    assert alice.wait_exit() == 0


def test_the_clients_own_notices_wrap_at_word_boundaries(
    server: ServerProcess, screen: Any
) -> None:
    """A notice of the client's own, wider than the window, wraps between words under the time
    stamp (issue 13, item 13)."""
    scr = screen(server.port)
    scr.wait(lambda: scr.input_row() == "Your name:")
    scr.run("resize-window", "-t", "t", "-x", "40")
    scr.keys("Enter")
    scr.wait(r"!!! A name is needed")
    rows = scr.rows()
    first = next(i for i, row in enumerate(rows) if "!!! A name is needed" in row)
    wrapped = [rows[first]]
    for row in rows[first + 1 :]:
        if not row.startswith(INDENT) or not row.strip():
            break
        wrapped.append(row)
    assert len(wrapped) > 1
    assert all(len(row.rstrip()) < 40 for row in wrapped)
    words = " ".join(wrapped).split()
    assert " ".join(words[1:]) == (
        "!!! A name is needed: type one and press Enter (/help for help, /quit to leave)."
    )
