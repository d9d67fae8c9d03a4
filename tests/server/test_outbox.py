"""The outbox and the flush rule, without a transport: byte literals in, byte literals out."""

from __future__ import annotations

import pytest

from tcpchat.core import events as ev
from tcpchat.core.output import ToSessions
from tcpchat.core.session import Session
from tcpchat.server.fanout import Broadcasts
from tcpchat.server.outbox import Outbox, Phase, flush_delay


def message(n: int) -> ev.Message:
    return ev.Message(1.0, n, "bob", None, False, f"line {n}")


def test_the_first_flush_after_a_quiet_spell_is_at_once_then_at_most_every_interval() -> None:
    assert flush_delay(flushed_at=0.0, now=10.0, interval=0.002) == 0.0
    assert flush_delay(flushed_at=10.0, now=10.0005, interval=0.002) == pytest.approx(0.0015)
    assert flush_delay(flushed_at=10.0, now=10.002, interval=0.002) == 0.0


def test_a_new_outbox_gets_its_own_lines_only_until_it_is_online() -> None:
    shared, box = Broadcasts(), Outbox()
    shared.add(message(1))
    assert box.phase is Phase.HANDSHAKE
    assert box.add(b"*** Enter your name:\n") is True  # it was empty: schedule a flush
    assert box.add(b"*** more\n") is False
    assert box.take(shared, None) == [b"*** Enter your name:\n", b"*** more\n"]
    box.go_online(len(shared), "text")
    shared.add(message(2))
    assert box.take(shared, None) == [b"<bob> line 2\n"]  # only what came after it joined


def test_broadcasts_made_before_a_private_line_come_first_and_are_counted() -> None:
    shared, box = Broadcasts(), Outbox()
    box.go_online(0, "text")
    shared.add(message(1))
    box.catch_up(shared, None)
    box.add(b"[PM from ann] hi\n")
    assert box.size == len(b"<bob> line 1\n[PM from ann] hi\n")
    assert box.take(shared, None) == [b"<bob> line 1\n", b"[PM from ann] hi\n"]
    assert box.size == 0


def test_most_clients_take_the_shared_bytes_as_they_are() -> None:
    shared, one, two = Broadcasts(), Outbox(), Outbox()
    for box in (one, two):
        box.go_online(0, "text")
    shared.add(message(1))
    shared.add(message(2))
    first, second = one.take(shared, None), two.take(shared, None)
    assert first == [b"<bob> line 1\n<bob> line 2\n"] and first[0] is second[0]


def test_while_paused_nothing_is_taken_and_everything_waits_in_order() -> None:
    shared, box = Broadcasts(), Outbox()
    box.go_online(0, "text")
    box.paused = True
    shared.add(message(1))
    assert box.take(shared, None) == []
    box.rewind()  # the shared queue is emptied after every client took its share
    shared.clear()
    box.add(b"[PM from ann] hi\n")
    box.paused = False
    assert box.take(shared, None) == [b"<bob> line 1\n", b"[PM from ann] hi\n"]


def test_closing_takes_what_came_before_and_accepts_nothing_after() -> None:
    box = Outbox()
    box.add(b"*** Goodbye.\n")
    box.close()
    assert box.phase is Phase.CLOSING and not box.open
    assert box.take(Broadcasts(), None) == [b"*** Goodbye.\n"]


def test_a_discarded_outbox_names_the_private_messages_that_never_left() -> None:
    alice = Session(1, "127.0.0.1:1", 0.0, 10.0)
    whisper = ToSessions((alice,), message(1), confirmed=alice)
    box = Outbox()
    box.add(b"x" * 100, whisper)  # ends at byte 100
    box.take(Broadcasts(), None)
    box.written(100, buffered=0)  # the kernel took it all
    assert box.receipts == []
    box.add(b"y" * 50, whisper)  # ends at byte 150
    box.take(Broadcasts(), None)
    box.written(50, buffered=30)  # the transport still holds the last 30 bytes
    box.add(b"z" * 10, whisper)  # never handed over
    assert box.discard(buffered=30) == [whisper, whisper]
    assert box.phase is Phase.CLOSED and box.size == 0 and box.lines == []
