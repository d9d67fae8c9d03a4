"""The raw-mode terminal (client/terminal.py) on a real pseudo-terminal."""

from __future__ import annotations

import asyncio
import io
import os
import pty
import signal

import pytest

from tcpchat.client.keys import Key, Paste
from tcpchat.client.terminal import Terminal, _as_paste, fit_prompt, visible_width
from tests.conftest import WAIT

pytest.importorskip("termios", reason="raw mode is POSIX only")


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
