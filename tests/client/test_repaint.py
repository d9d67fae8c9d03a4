"""The screen painted again after a resize (client/repaint.py), and ``Terminal`` doing it on a
real pseudo-terminal."""

from __future__ import annotations

import asyncio
import contextlib
import io
import os
import pty
import re
import signal
from collections.abc import AsyncIterator

import pytest

from tcpchat.client.render import NO_WRAP, WRAP, wrap
from tcpchat.client.repaint import Printed, erase_screen, repaint, screenful
from tcpchat.client.terminal import Terminal
from tests.client.test_terminal import resize
from tests.conftest import WAIT

pytest.importorskip("termios", reason="raw mode is POSIX only")

ERASE = erase_screen(24)
INDENT = " " * 6
# Sized to fill one row at 80 columns: at 40 a terminal's own wrapping put its rest at the
# left edge, as if bob had said it.
BAIT = "10:01 <mallory> lol,-look-at-this-thing.10:02 <bob> my new password is hunter2"


def test_the_lines_kept_are_the_last_ones_within_both_bounds() -> None:
    printed = Printed(lines=3, chars=100)
    printed.add(["one", "\a", "two", "three", "four"])
    assert printed.lines() == ["two", "three", "four"]  # the bell is rung, not kept
    assert printed.chars() == len("twothreefour")
    printed.add(["x" * 90])
    assert printed.lines() == ["three", "four", "x" * 90]
    printed.add(["y" * 10])  # over the characters: the oldest go first
    assert printed.lines() == ["x" * 90, "y" * 10]
    assert printed.chars() == 100
    printed.add(["y" * 500])  # the newest stays whatever its length
    assert printed.lines() == ["y" * 500]
    assert list(printed.newest_first()) == ["y" * 500]
    printed.clear()
    assert printed.lines() == [] and printed.chars() == 0


def test_a_long_session_holds_no_more_than_its_bounds() -> None:
    printed = Printed()
    for n in range(10_000):
        printed.add([f"12:00 <bob> message {n} " + "x" * (n % 300)])
    assert len(printed.lines()) <= 500
    assert printed.chars() <= 256 * 1024
    assert printed.lines()[-1].startswith("12:00 <bob> message 9999 ")


def test_a_screenful_is_the_last_lines_that_fit_whole_wrapped_with_the_indent() -> None:
    lines = ["10:00 *** first", BAIT, "10:03 <carol> hi"]
    rows = screenful(reversed(lines), 39, 23)
    assert rows == [
        "10:00 *** first",
        "10:01 <mallory>",
        INDENT + "lol,-look-at-this-thing.10:02",
        INDENT + "<bob> my new password is hunter2",
        "10:03 <carol> hi",
    ]
    assert not any(re.match(r"\d\d:\d\d <bob>", row) for row in rows)
    assert screenful(reversed(lines), 39, 4) == rows[1:]  # the first no longer fits
    assert screenful(reversed(lines), 39, 3) == rows[4:]  # whole lines only
    assert screenful(reversed(lines), 79, 3) == lines  # a row each, wide enough
    assert screenful(reversed(lines), 39, 0) == []
    assert screenful([], 39, 23) == []


def test_a_line_taller_than_the_screen_shows_its_last_rows() -> None:
    long = "10:00 <bob> " + " ".join(f"w{i:02}" for i in range(60))
    rows = screenful([long], 39, 3)
    assert rows == wrap(long, 39)[-3:]
    assert all(row.startswith(INDENT) for row in rows)  # nothing of it at the left edge


def test_colours_stay_as_rendered() -> None:
    line = "\x1b[2m10:01\x1b[0m <\x1b[93mmallory\x1b[0m> " + "\x1b[35mword\x1b[0m " * 12
    assert screenful([line], 39, 10) == wrap(line, 39)
    assert "\x1b[35m" in screenful([line], 39, 10)[-1]


def test_the_screen_is_erased_a_row_at_a_time() -> None:
    """Erasing it whole at its top left corner, tmux pushes the screen to the scrollback: each
    resize of a drag added a screenful of rows it had wrapped again, forged ones included."""
    assert erase_screen(3) == "\x1b[H\x1b[2K\x1b[B\x1b[2K\x1b[B\x1b[2K\x1b[H"
    assert erase_screen(1) == "\x1b[H\x1b[2K\x1b[H"
    painted = repaint(["a", "b"], 24)
    assert painted == ERASE + NO_WRAP + "a\r\nb\r\n" + WRAP
    assert "\x1b[2J" not in painted and "\x1b[J" not in painted


class Output(io.BytesIO):
    """What the terminal wrote; ``written`` is set at each write, ``writes`` counts them."""

    def __init__(self) -> None:
        super().__init__()
        self.written = asyncio.Event()
        self.writes = 0

    def write(self, data: bytes) -> int:  # type: ignore[override]
        self.written.set()
        self.writes += 1
        return super().write(data)

    def take(self) -> str:
        text = self.getvalue().decode()
        self.seek(0)
        self.truncate()
        self.written.clear()
        self.writes = 0
        return text


async def settle() -> None:
    """Wait until what the loop has ready now has run, and what that scheduled in turn: a
    callback queued with ``call_soon`` runs after those queued before it."""
    loop = asyncio.get_running_loop()
    for _ in range(2):  # the ready callbacks, then the ones they queued (a flush, a repaint)
        turn = loop.create_future()
        loop.call_soon(turn.set_result, None)
        await asyncio.wait_for(turn, WAIT)


@contextlib.asynccontextmanager
async def terminal_showing(
    columns: int, rows: int, input_row: tuple[str, str, int], lines: list[str]
) -> AsyncIterator[tuple[Terminal, Output, int]]:
    """A ``Terminal`` on a pty ``columns`` x ``rows`` that has printed ``lines`` (what it wrote is
    in its ``Output``, to ``take``): the screen, its output, the pty's terminal end."""
    controller, terminal = pty.openpty()
    out = Output()
    resize(terminal, columns, rows)
    screen = Terminal(lambda key: None, lambda width: input_row, terminal, out)
    screen.start({})
    try:
        screen.show(lines)
        await asyncio.wait_for(out.written.wait(), WAIT)
        await settle()
        yield screen, out, terminal
    finally:
        screen.stop()
        os.close(terminal)
        os.close(controller)


async def repainted(
    shown: tuple[Terminal, Output, int], columns: int, rows: int, coming: tuple[str, ...] = ()
) -> str:
    """What the terminal of ``terminal_showing`` writes once the window is ``columns`` x
    ``rows`` (``coming``: lines shown right after the SIGWINCH, before the repaint runs)."""
    screen, out, terminal = shown
    resize(terminal, columns, rows)
    screen._resized()  # what SIGWINCH calls
    if coming:
        screen.show(list(coming))
    await asyncio.wait_for(out.written.wait(), WAIT)
    await settle()
    return out.take()


def test_a_burst_of_resizes_paints_the_screen_once_at_the_new_size() -> None:
    async def main() -> None:
        async with terminal_showing(
            80, 24, ("alice> ", "half", 4), ["10:00 *** Welcome", BAIT]
        ) as shown:
            screen, out, terminal = shown
            assert BAIT + "\r\n" in out.take()  # one row at 80 columns
            for columns in (70, 60, 50, 40):  # a window being dragged
                resize(terminal, columns, 24)
                os.kill(os.getpid(), signal.SIGWINCH)
            await asyncio.wait_for(out.written.wait(), WAIT)
            await settle()
            assert out.writes == 1  # one repaint for the burst, and nothing else
            painted = out.take()
            assert painted.count(ERASE) == 1
            assert "\x1b[2J" not in painted
            rows = ["10:00 *** Welcome", *wrap(BAIT, 39)]
            assert painted == ERASE + NO_WRAP + "".join(r + "\r\n" for r in rows) + WRAP + (
                "\r\x1b[Kalice> half \x1b[12G"
            )
            # The same size again: the input row alone.
            os.kill(os.getpid(), signal.SIGWINCH)
            await asyncio.wait_for(out.written.wait(), WAIT)
            await settle()
            assert ERASE not in out.take()

    asyncio.run(main())


def test_lines_on_their_way_are_painted_with_the_rest_and_a_cleared_screen_stays_clear() -> None:
    async def main() -> None:
        async with terminal_showing(
            80, 5, ("> ", "", 0), [f"10:00 <bob> line {n}" for n in range(10)]
        ) as shown:
            screen, out, _ = shown
            out.take()
            coming = ("10:01 <bob> on its way", "\a")  # due after the repaint
            painted = await repainted(shown, 40, 5, coming)
            rows = ["10:00 <bob> line 8", "10:00 <bob> line 9", "10:01 <bob> on its way"]
            # The 4 rows above the input row: the last lines, the one on its way included.
            assert painted.startswith(erase_screen(5) + NO_WRAP + "10:00 <bob> line 7\r\n")
            assert "".join(r + "\r\n" for r in rows) + WRAP + "\a" in painted
            assert painted.count("on its way") == 1
            screen.clear_screen()  # Ctrl+L
            out.take()
            assert (
                await repainted(shown, 30, 5)
                == erase_screen(5) + NO_WRAP + WRAP + "\r\x1b[K>  \x1b[3G"
            )

    asyncio.run(main())


def test_a_terminal_that_says_zero_columns_is_taken_for_80_by_24() -> None:
    """The review: a pty whose size was never set says 0 x 0, and rows printed with autowrap off
    were then cut at the right edge instead of wrapped."""
    controller, terminal = pty.openpty()
    try:
        resize(terminal, 0, 0)
        screen = Terminal(lambda key: None, lambda width: ("> ", "", 0), terminal, io.BytesIO())
        assert screen.size() == (80, 24)
    finally:
        os.close(terminal)
        os.close(controller)


def test_back_from_ctrl_z_at_another_size_the_screen_is_painted_again(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The review: the window resized while the client was stopped (the shell got the
    SIGWINCH), and fg drew the input row alone over the terminal's own re-wrapped rows."""

    async def main() -> str:
        try:
            async with terminal_showing(
                80, 24, ("alice> ", "", 0), ["10:00 *** Welcome", BAIT]
            ) as shown:
                screen, out, terminal = shown
                out.take()
                # Stopped (SIGTSTP), the window made narrower meanwhile, then fg.
                monkeypatch.setattr(os, "kill", lambda pid, sig: resize(terminal, 40, 24))
                screen.suspend()
                return out.take()
        finally:
            monkeypatch.undo()

    painted = asyncio.run(main())
    assert ERASE in painted
    assert "".join(row + "\r\n" for row in wrap(BAIT, 39)) in painted


def test_a_taller_window_is_filled_with_older_lines_too() -> None:
    """A review: painting a taller window with only the lines the smaller one showed erased the
    rows tmux had brought back from its scrollback (taking them out of it): the lines above were
    gone from the screen and the scrollback alike. Every line that fits is painted again."""

    async def main() -> str:
        async with terminal_showing(
            80, 12, ("> ", "", 0), [f"10:00 <bob> line {n}" for n in range(20)]
        ) as shown:
            shown[1].take()
            return await repainted(shown, 80, 24)

    painted = asyncio.run(main())
    # 23 rows above the input row at 24: all 20 lines, those scrolled away at 12 rows included.
    assert painted.startswith(erase_screen(24) + NO_WRAP + "10:00 <bob> line 0\r\n")
    assert all(f"line {n}\r\n" in painted for n in range(20))
