"""The in-process measure of the server's CPU per message (``bench/inprocess.py``): every
receiver is written every message, on either port."""

from __future__ import annotations

import asyncio

import pytest

from tcpchat.bench import inprocess


@pytest.mark.parametrize("native", [False, True])
def test_every_receiver_is_written_every_message(native: bool) -> None:
    clients, senders, messages = 5, 2, 10
    per_message, written = asyncio.run(
        inprocess.measure(native, clients, senders, messages, window=4)
    )
    assert per_message > 0
    # Each message (100 characters of text) reaches the other clients, in lines longer than it.
    assert written > senders * messages * (clients - 1) * 100


def test_main_prints_one_line_per_run(capsys: pytest.CaptureFixture[str]) -> None:
    assert (
        inprocess.main(["--clients", "3", "--senders", "1", "--messages", "5", "--runs", "2"]) == 0
    )
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 2 and all(line.startswith("IRC: ") for line in lines)
