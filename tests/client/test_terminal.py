"""The raw-mode terminal (client/terminal.py) on a real pseudo-terminal."""

from __future__ import annotations

import asyncio
import io
import os
import pty
import signal

import pytest

from tcpchat.client.terminal import Terminal
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
