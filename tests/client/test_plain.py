"""The client without raw mode (issue 17): what it imports, when the plain mode is chosen, how it
reads lines and hides a password, and what its screen writes."""

from __future__ import annotations

import asyncio
import io
import os
import pty
import select
import subprocess
import sys
import termios
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tcpchat.cli import server_main
from tcpchat.client.console import LineReader, ansi_console
from tcpchat.client.plain import ERASE_ROW, PlainScreen, Wanted
from tcpchat.client.render import NO_WRAP, WRAP
from tcpchat.client.terminal import raw_mode_available
from tests.conftest import POSIX_ONLY, WAIT, child_env, poll_until, without_modules

# Every module of the client's path: the client package, what it stands on, the entry points.
IMPORT_ALL = """
import importlib, pkgutil, sys
for name in {blocked!r}:
    try:
        importlib.import_module(name)
    except ImportError:
        pass
    else:
        raise SystemExit(f"{{name}} could be imported: the test would prove nothing")
import tcpchat.client, tcpchat.core
names = ["tcpchat", "tcpchat.cli", "tcpchat.config"]  # __main__ would run the CLI
for package in (tcpchat.client, tcpchat.core):
    names += [f"{{package.__name__}}.{{m.name}}" for m in pkgutil.iter_modules(package.__path__)]
for name in names:
    importlib.import_module(name)
from tcpchat.client.terminal import raw_mode_available
print(len(names), raw_mode_available(0, {{"TERM": "xterm"}}))
"""


def test_every_client_module_imports_without_the_posix_only_modules(tmp_path: Path) -> None:
    """As on Windows: termios, tty, fcntl and resource cannot be imported, and every module of
    the client's path still loads; raw mode is then said to be unavailable."""
    done = subprocess.run(
        [sys.executable, "-c", IMPORT_ALL.format(blocked=POSIX_ONLY)],
        env=child_env(PYTHONPATH=without_modules(tmp_path, *POSIX_ONLY)),
        capture_output=True,
        text=True,
        timeout=WAIT,
    )
    assert done.returncode == 0, done.stderr
    count, raw = done.stdout.split()
    assert int(count) > 20 and raw == "False"


def test_the_server_on_windows_says_where_it_runs_in_one_line(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(sys, "platform", "win32")
    assert server_main(["--port", "0", "--config", os.devnull]) == 1
    err = capsys.readouterr().err
    assert err == (
        "tcp-server: the server runs on Linux, BSD and macOS, not on Windows (the client does)\n"
    )


@pytest.fixture
def tty() -> Iterator[tuple[int, int]]:
    """A pseudo-terminal: (the terminal's side, the side a person types into)."""
    controller, terminal = pty.openpty()
    yield terminal, controller
    os.close(terminal)
    os.close(controller)


def test_raw_mode_needs_a_terminal_and_not_a_dumb_one(tty: tuple[int, int]) -> None:
    terminal, _ = tty
    assert raw_mode_available(terminal, {"TERM": "xterm"})
    assert not raw_mode_available(terminal, {"TERM": "dumb"})
    read_end, write_end = os.pipe()
    try:
        assert not raw_mode_available(read_end, {"TERM": "xterm"})
    finally:
        os.close(read_end)
        os.close(write_end)


def test_ansi_sequences_only_on_a_terminal_that_names_itself(tty: tuple[int, int]) -> None:
    terminal, _ = tty
    with open(os.dup(terminal), "w", encoding="utf-8") as stream:
        assert ansi_console(stream, {"TERM": "xterm-256color"})[0]
        assert not ansi_console(stream, {"TERM": "dumb"})[0]
        assert not ansi_console(stream, {})[0]
    assert not ansi_console(io.StringIO(), {"TERM": "xterm"})[0]


class Lines:
    """What a LineReader hands over, as an asyncio queue."""

    def __init__(self) -> None:
        self.queue: asyncio.Queue[str | None] = asyncio.Queue()

    def line(self, text: str) -> None:
        self.queue.put_nowait(text)

    def end(self) -> None:
        self.queue.put_nowait(None)

    async def next(self) -> str | None:
        return await asyncio.wait_for(self.queue.get(), WAIT)


def _reader(lines: Lines, stream: Any) -> LineReader:
    return LineReader(lines.line, lines.end, lambda: lines.line("interrupted"), stream)


def test_lines_are_read_one_per_request_whole_and_decoded() -> None:
    """A line split across reads, and a character split across them, arrive whole; nothing is
    read before it is asked for; the end of input ends it."""

    async def main() -> None:
        read_end, write_end = os.pipe()
        lines = Lines()
        with open(read_end, encoding="utf-8") as stream:
            reader = _reader(lines, stream)
            reader.start()
            data = "Привет, мир\r\nsecond\n".encode()
            os.write(write_end, data[:3])  # half of the second letter
            reader.request()
            os.write(write_end, data[3:])
            assert await lines.next() == "Привет, мир"
            assert lines.queue.empty()  # "second" waits for the next request
            reader.request()
            assert await lines.next() == "second"
            os.close(write_end)
            reader.request()
            assert await lines.next() is None

    asyncio.run(main())


def test_a_secret_line_is_read_without_echo_and_the_echo_comes_back(tty: tuple[int, int]) -> None:
    """While a password is read the terminal does not echo it (but echoes its line end); after
    it, or when the reader is closed during it (Ctrl+C), the settings are as they were."""
    terminal, controller = tty
    before = termios.tcgetattr(terminal)

    async def read_one(close_early: bool) -> str | None:
        lines = Lines()
        with open(os.dup(terminal), encoding="utf-8") as stream:
            reader = _reader(lines, stream)
            reader.start()
            reader.request(secret=True)
            # The reader's thread turns the echo off: the loop may wait for it.
            poll_until(lambda: not termios.tcgetattr(terminal)[3] & termios.ECHO, "echo still on")
            assert termios.tcgetattr(terminal)[3] & termios.ECHONL
            if close_early:
                reader.close()
                return None
            os.write(controller, b"open sesame\n")
            return await lines.next()

    assert asyncio.run(read_one(close_early=False)) == "open sesame"
    assert termios.tcgetattr(terminal) == before
    assert select.select([controller], [], [], WAIT)[0], "the line end was not echoed"
    echoed = os.read(controller, 1024)
    assert b"sesame" not in echoed and echoed.endswith(b"\n")
    asyncio.run(read_one(close_early=True))
    assert termios.tcgetattr(terminal) == before


class Out(io.BytesIO):
    def fileno(self) -> int:
        raise OSError("not a terminal")  # 80 columns, as on a pipe


@pytest.mark.parametrize("ansi", [True, False])
def test_events_leave_the_prompts_row_whole(ansi: bool) -> None:
    """Events that come while the prompt shows are printed on rows of their own, the prompt's
    row erased first where the terminal can do it (else they start on the next row), then the
    prompt again; a line entered goes to the session."""
    entered: list[str] = []

    async def main() -> bytes:
        got = asyncio.Event()

        def enter(text: str) -> None:  # called on the loop, as the session's input is
            entered.append(text)
            got.set()

        out = Out()
        read_end, write_end = os.pipe()
        wanted: Wanted = ("alice> ", False)
        with open(read_end, encoding="utf-8") as stdin:
            screen = PlainScreen(lambda: wanted, enter, lambda: None, ansi, out, "utf-8", stdin)
            screen.start()
            assert out.getvalue() == b"alice> "
            screen.show(["12:00 <bob> one", "12:00 <bob> two"])
            os.write(write_end, b"hello\n")
            await asyncio.wait_for(got.wait(), WAIT)
            assert entered == ["hello"]
            screen.show(["12:00 <alice> hello"])
            screen.stop()
            os.close(write_end)
        return out.getvalue()

    off = ERASE_ROW if ansi else "\n"
    after_enter = "alice> " if ansi else ""  # a dumb terminal gets it with the answer
    # Rows printed with autowrap off, where the terminal takes it: no row can spill to the left
    # edge of the next (render.NO_WRAP).
    no, wrap = (NO_WRAP, WRAP) if ansi else ("", "")
    expected = (
        f"alice> {off}{no}12:00 <bob> one\n12:00 <bob> two\n{wrap}alice> "
        f"{after_enter}{off if ansi else ''}{no}12:00 <alice> hello\n{wrap}"
    )
    assert asyncio.run(main()).decode() == expected
