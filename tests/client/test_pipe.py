"""Pipe mode's text output, sans I/O: what it prints for an event as the client core took it."""

from __future__ import annotations

import asyncio
import errno
import io
import os

import pytest

from tcpchat.client.config import ClientConfig
from tcpchat.client.core import Seen
from tcpchat.client.pipe import EXIT_USAGE, _Printer, run_pipe
from tcpchat.core import events as ev

T = 1_800_000_000.0


def printed(*seen: Seen, raw: bool = False) -> list[str]:
    out = io.StringIO()
    printer = _Printer(out, raw)
    for s in seen:
        printer.show(s, b'{"type":"x"}\n')
    return out.getvalue().splitlines()


def test_a_message_of_another_room_says_its_room_as_the_server_text_mode_does() -> None:
    message = ev.Message(T, 1, "bob", None, False, "hi", "#ops")
    assert printed(Seen(message, elsewhere="#ops"), Seen(message)) == [
        "[#ops] <bob> hi",
        "<bob> hi",
    ]


def test_a_replay_is_printed_once_its_first_new_message_comes_and_repeats_not_at_all() -> None:
    begin = ev.HistoryBegin(T, "#ops", "replay", 1)
    old = ev.Message(T, 412, "bob", None, False, "missed", "#ops", history=True)
    end = ev.HistoryEnd(T, "#ops", "replay", 1)
    assert printed(Seen(begin, hidden=True), Seen(old, hidden=True)) == []
    assert printed(Seen(old, opens=begin), Seen(end)) == [
        "*** History of #ops: the last message.",
        "[2027-01-15 08:00:00 UTC #412] <bob> missed",
        "*** End of history of #ops.",
    ]


def test_json_prints_every_event_as_it_came() -> None:
    begin = ev.HistoryBegin(T, "#ops", "replay", 1)
    assert printed(Seen(begin, hidden=True), raw=True) == ['{"type":"x"}']


def test_a_reader_gone_stops_the_printing_without_an_error() -> None:
    """A broken pipe is no failure: nothing more is written, and stdout's descriptor now leads
    to the null device, so a flush of what is still buffered (Python's, at exit) cannot fail."""
    read_end, write_end = os.pipe()
    os.close(read_end)
    with os.fdopen(write_end, "w", encoding="utf-8") as out:
        printer = _Printer(out, False)
        message = ev.Message(T, 1, "bob", None, False, "hi", "#lobby")
        printer.show(Seen(message), b"")
        assert printer.gone
        printer.show(Seen(message), b"")
        out.write("still buffered\n")
        out.flush()


class _FullDisk(io.StringIO):
    def write(self, text: str) -> int:
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))


def test_any_other_write_error_is_said_once_and_printing_stops(
    capsys: pytest.CaptureFixture[str],
) -> None:
    printer = _Printer(_FullDisk(), True)
    printer.show(Seen(ev.Message(T, 1, "bob", None, False, "hi", "#lobby")), b"{}\n")
    printer.show(Seen(ev.Message(T, 2, "bob", None, False, "hi", "#lobby")), b"{}\n")
    assert capsys.readouterr().err == (
        "tcp-client: cannot write to stdout (No space left on device): printing stopped\n"
    )


def test_pipe_mode_without_a_name_says_why_it_is_pipe_mode(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """The UX review ran `tcp-client > out.txt` at a terminal and was told stdin was no terminal."""
    status = asyncio.run(run_pipe(ClientConfig(), io.StringIO(), io.StringIO()))
    assert status == EXIT_USAGE
    assert capsys.readouterr().err == (
        "tcp-client: --name is needed in pipe mode (stdin or stdout is not a terminal, or --json)\n"
    )
