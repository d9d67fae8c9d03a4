"""The raw-mode terminal (client/terminal.py) on a real pseudo-terminal."""

from __future__ import annotations

import asyncio
import fcntl
import io
import os
import pty
import signal
import struct
import termios

import pytest

from tcpchat.client.keys import Key, Paste
from tcpchat.client.lineedit import LineEditor
from tcpchat.client.terminal import (
    ERASE_ROW,
    Terminal,
    _as_paste,
    back_to_input_row,
    fit_input_row,
    fit_prompt,
    rewrapped,
    visible_width,
)
from tcpchat.core.text import text_width
from tests.conftest import WAIT

pytest.importorskip("termios", reason="raw mode is POSIX only")


def resize(fd: int, columns: int, rows: int = 24) -> None:
    """Give the pseudo-terminal ``fd`` a new size, as a terminal window resized does."""
    fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", rows, columns, 0, 0))


def test_a_terminal_that_goes_away_is_a_hang_up_even_with_a_line_half_typed() -> None:
    """Once the terminal is gone, reading it ends at once every time: the client must leave as
    on SIGHUP (it kept reading a closed terminal at full CPU when a half-typed line made the
    end of input a mere Ctrl+D that deletes a character)."""

    async def main() -> None:
        controller, terminal = pty.openpty()
        keys: list[str] = []
        hung_up = asyncio.Event()
        screen = Terminal(
            lambda key: keys.append(str(key)),
            lambda width: ("> ", "half typed", 10),
            terminal,
            io.BytesIO(),
        )
        screen.start({signal.SIGHUP: hung_up.set})
        try:
            os.close(controller)  # the terminal emulator is gone
            await asyncio.wait_for(hung_up.wait(), WAIT)
            assert keys == []  # no key made up for it (a Ctrl+D would edit the line)
        finally:
            screen.stop()
            os.close(terminal)

    asyncio.run(main())


def test_a_prompt_wider_than_half_the_row_is_cut_to_it() -> None:
    """Wider than the row, the input row wrapped and each redraw (each key, each second of a
    reconnect's countdown) left a row of the prompt behind (a review in tmux, 20 columns)."""
    assert fit_prompt("alice@#a-rather-long-room-name> ", 20) == "alice@#…> "
    long = "[reconnecting in 2 s] Maximilian_Alexander_Hohenberg@#infrastructure-oncall-emea> "
    assert fit_prompt(long, 80) == "[reconnecting in 2 s] Maximilian_Alex…> "
    assert fit_prompt("Send 51 pasted lines? [y/N] ", 20) == "…s? [y/N] "  # the choice shows
    assert fit_prompt("\x1b[1malice\x1b[0m@#ops> ", 80) == "\x1b[1malice\x1b[0m@#ops> "
    for columns in range(4, 40):
        assert visible_width(fit_prompt(long, columns)) <= max(columns // 2, 4) + 1


def test_the_rest_of_a_paste_is_a_paste_however_few_lines_it_has() -> None:
    """A terminal hands a big paste over in reads of 4 KB: a last part of one line was typed,
    its first key taken for the answer to "Send N pasted lines?" and its Enter sent the line."""
    keys: list[Key] = ["a", "b", "enter", "c"]
    assert _as_paste(keys) == keys  # typed: one Enter in a read
    assert _as_paste(keys, going_on=True) == [Paste("ab\nc")]
    assert _as_paste(["up"], going_on=True) == ["up"]  # a key no paste has
    assert _as_paste([], going_on=True) == []
    assert _as_paste(["n"], going_on=True) == ["n"]  # alone in its read: typed, an answer


def test_the_input_row_is_erased_on_every_row_a_reflowing_terminal_made_of_it() -> None:
    """A terminal narrowed from 100 to 40 columns wraps an input row of 98 columns (a space
    after the line) into three rows: the redraw erases the cursor's row and the others, and
    starts on the first (only the cursor's row was erased, a stale copy of the line left above
    the new one). Nothing erases to the end of the screen, which tmux takes at the top left corner
    for a clear screen: the screen then went to the scrollback, and came back at a resize."""
    up, under = "\x1b[A\x1b[2K", "\x1b[B\x1b[2K"
    row = "x" * 97 + " "  # as drawn: the line, and a space where the cursor may be
    assert back_to_input_row(None, 40) == ERASE_ROW  # none on the screen
    assert back_to_input_row(("alice> ", 7), 40) == ERASE_ROW
    assert back_to_input_row((row[:40], 39), 40) == ERASE_ROW  # still one row
    assert back_to_input_row((row, 97), 40) == ERASE_ROW + up * 2  # the cursor on the last row
    assert back_to_input_row((row, 97), 120) == ERASE_ROW  # wider: nothing moved
    assert back_to_input_row((row, 7), 40) == ERASE_ROW + "\x1b7" + under * 2 + "\x1b8"
    assert back_to_input_row((row, 50), 40) == ERASE_ROW + "\x1b7" + under + "\x1b8" + up
    assert back_to_input_row((row[:41], 40), 40) == ERASE_ROW + up  # the space wrapped alone
    for columns in range(1, 120):
        for column in range(0, 98):
            erase = back_to_input_row((row, column), columns)
            rows = 1 + erase.count("\x1b[2K")  # the cursor's, and each other erased
            assert rows == -(-98 // columns)
            assert "\x1b[J" not in erase


def test_a_wide_character_rewrapped_goes_whole_to_the_next_row() -> None:
    """``Your name: 小明王小明王小明`` drawn on 30 columns is three rows on 14, not two: the 明 that
    does not fit after ``Your name: 小`` starts the second row. Counted by columns alone, the
    first row was left on the screen above the new input row."""
    row = "Your name: " + "小明王" * 2 + "小明" + " "
    assert rewrapped(row, 27, 14) == (2, 0)  # on the space, two rows down
    assert rewrapped(row, 11, 14) == (0, 2)  # on the 小
    assert rewrapped(row, 13, 14) == (1, 1)  # on the 明 that moved down
    assert rewrapped(row, 27, 30) == (0, 0)
    assert rewrapped("ab\u0301c ", 3, 2) == (1, 0)  # a mark takes no room of its own
    assert back_to_input_row((row, 27), 14) == ERASE_ROW + "\x1b[A\x1b[2K" * 2


def test_a_redraw_after_the_window_narrowed_erases_every_row_of_the_old_input_row() -> None:
    async def main() -> None:
        controller, terminal = pty.openpty()
        out = io.BytesIO()
        resize(terminal, 100)
        screen = Terminal(
            lambda key: None,
            lambda width: ("alice> ", "x" * min(90, width - 8), min(90, width - 8)),
            terminal,
            out,
        )
        screen.start({})
        try:
            drawn = out.getvalue().decode()
            # A space after the row, so the cursor is inside what was written, then its column.
            assert drawn.endswith("\r\x1b[Kalice> " + "x" * 90 + " \x1b[98G")
            resize(terminal, 40)
            out.seek(0)
            out.truncate()
            screen.redraw()
            erased = "\r\x1b[K" + "\x1b[A\x1b[2K" * 2
            assert out.getvalue().decode() == erased + "alice> " + "x" * 32 + " \x1b[40G"
            out.seek(0)
            out.truncate()
            resize(terminal, 20)
            screen.stop()  # the row it leaves is erased too, whole
            assert out.getvalue().decode().startswith("\r\x1b[K\x1b[A\x1b[2K\x1b")
        finally:
            screen.stop()
            os.close(terminal)
            os.close(controller)

    asyncio.run(main())


def test_the_input_row_is_never_wider_than_a_terminal_of_a_few_cells() -> None:
    """At 4 columns the cut prompt ``a…> `` and the line wrapped, and the cursor showed on
    another row than its letter: the row, with the space after the line, fits whatever the
    width, the line first."""
    assert fit_input_row("alice> ", 80) == ("alice> ", 72)
    assert fit_input_row("alice> ", 10) == ("al…> ", 4)
    assert fit_input_row("alice> ", 6) == ("a…> ", 1)
    assert fit_input_row("alice> ", 5) == ("", 4)
    assert fit_input_row("alice> ", 1) == ("", 0)
    prompts = ["alice> ", "\x1b[1mMaximilian\x1b[0m@#ops> ", "Send 51 pasted lines? [y/N] "]
    editor = LineEditor()
    editor.set("ab漢字\u0301é😀 " * 3)
    for columns in range(1, 40):
        for prompt in prompts:
            shown, room = fit_input_row(prompt, columns)
            for cursor in range(len(editor.text) + 1):
                editor.cursor = cursor
                line, column = editor.view(room)
                assert visible_width(shown) + text_width(line) + 1 <= max(columns, 1)
                assert column <= max(room - 1, 0)
