"""The client's watch on the server, sans I/O: a fake clock, plain numbers."""

from __future__ import annotations

import asyncio
import socket
import time

import pytest

from tcpchat.client.config import parse_server_timeout
from tcpchat.client.link import ServerLink
from tcpchat.client.liveness import (
    CONFIRM_WAIT_S,
    SERVER_TIMEOUT_S,
    Dead,
    Liveness,
    Ping,
    Stalled,
)
from tests.conftest import WAIT

T = 1000.0  # when the connection opened


def test_a_silent_server_is_pinged_at_half_the_timeout_and_given_up_at_the_end() -> None:
    live = Liveness(SERVER_TIMEOUT_S, T)
    assert live.due() == T + 30
    assert live.check(T + 29.9) == []
    assert live.check(T + 30) == [Ping("tcp-client-1")]
    assert live.due() == T + 60
    assert live.check(T + 59.9) == []
    assert live.check(T + 60) == [Dead(60.0)]


def test_anything_from_the_server_resets_the_watch() -> None:
    live = Liveness(SERVER_TIMEOUT_S, T)
    live.heard(T + 20)  # a message from someone: the server is alive
    assert live.check(T + 30) == []
    assert live.due() == T + 50
    assert live.check(T + 50) == [Ping("tcp-client-1")]
    live.heard(T + 50.1)  # the pong
    assert live.check(T + 80) == []
    assert live.check(T + 80.1) == [Ping("tcp-client-2")]
    assert live.check(T + 110.1) == [Dead(60.0)]


def test_the_server_has_the_full_answer_time_from_the_ping_not_from_the_silence() -> None:
    """A loop that woke late (a suspended laptop, a busy machine) pings first: the silence it
    did not watch is not held against the server."""
    live = Liveness(SERVER_TIMEOUT_S, T)
    assert live.check(T + 3600) == [Ping("tcp-client-1")]
    assert live.check(T + 3629) == []
    assert live.check(T + 3630) == [Dead(3630.0)]


def test_only_the_answers_to_our_own_pings_are_ours() -> None:
    live = Liveness(SERVER_TIMEOUT_S, T)
    assert not live.ours("tcp-client-1")  # none sent yet
    live.check(T + 30)
    live.heard(T + 31)
    live.check(T + 61)
    assert live.ours("tcp-client-1") and live.ours("tcp-client-2")
    assert not live.ours("tcp-client-3")
    assert not live.ours("hello") and not live.ours("tcp-client-") and not live.ours("probe")
    assert not live.ours("tcp-client-0") and not live.ours("tcp-client-x1")


def test_a_line_unconfirmed_for_five_seconds_is_told_once() -> None:
    live = Liveness(SERVER_TIMEOUT_S, T)
    live.awaiting(1, T + 1)
    assert live.due() == T + 1 + CONFIRM_WAIT_S
    assert live.check(T + 5.9) == []
    assert live.check(T + 6) == [Stalled(5.0)]
    assert live.due() == T + 30  # nothing more to tell: the ping is next
    live.awaiting(2, T + 7)  # another line: the same wait, not told again
    assert live.check(T + 29) == []
    assert live.check(T + 30) == [Ping("tcp-client-1")]


def test_a_confirmation_starts_the_wait_again_and_none_left_ends_it() -> None:
    live = Liveness(SERVER_TIMEOUT_S, T)
    live.awaiting(1, T)
    live.awaiting(2, T + 4)  # a second line, while the first waits
    live.awaiting(1, T + 4.5)  # the first confirmed: the server is not stalled
    assert live.check(T + 5) == []
    assert live.check(T + 9.5) == [Stalled(5.0)]
    live.awaiting(0, T + 10)  # all confirmed
    live.awaiting(1, T + 11)  # a new line: a new wait, told again when it lasts
    assert live.check(T + 16) == [Stalled(5.0)]


def test_nothing_awaited_means_nothing_to_tell() -> None:
    live = Liveness(SERVER_TIMEOUT_S, T)
    live.awaiting(0, T)
    assert live.check(T + 29) == []


def test_a_short_timeout_scales_every_figure() -> None:
    """``--server-timeout 4`` (the tests' figure): ping at 2 s, give up at 4 s, and a line is
    told waiting after a quarter of it, before the link is given up."""
    live = Liveness(4.0, T)
    live.awaiting(1, T)
    assert live.check(T + 1) == [Stalled(1.0)]
    assert live.check(T + 2) == [Ping("tcp-client-1")]
    assert live.check(T + 4) == [Dead(4.0)]


def test_a_stall_and_a_ping_due_at_once_come_in_order() -> None:
    live = Liveness(SERVER_TIMEOUT_S, T)
    live.awaiting(1, T + 26)
    assert live.check(T + 31) == [Stalled(5.0), Ping("tcp-client-1")]


def test_a_line_sent_while_the_link_reads_makes_the_waiting_notice_come_on_time() -> None:
    """The review: the read's wait was set before the line was sent, so the notice came with
    the ping, half the timeout after the last line heard, instead of a quarter of it after the
    line. Now it comes before the ping is even asked for."""

    async def main() -> int:
        ours, theirs = socket.socketpair()
        reader, writer = await asyncio.open_connection(sock=ours)
        link = ServerLink(reader, writer)
        link.live = Liveness(8.0, time.monotonic())  # ping at 4 s; a line told after 2 s
        stalled = asyncio.Event()
        link.on_stall = stalled.set
        reading = asyncio.ensure_future(link.receive())
        try:
            # The receive under way (its first step was queued before this), its watch set.
            turn = asyncio.get_running_loop().create_future()
            asyncio.get_running_loop().call_soon(turn.set_result, None)
            await asyncio.wait_for(turn, WAIT)
            link.awaiting(1)  # a line sent now
            await asyncio.wait_for(stalled.wait(), WAIT)
            return link.live.asked  # pings asked for by then
        finally:
            reading.cancel()
            await link.close()
            theirs.close()

    assert asyncio.run(main()) == 0


@pytest.mark.parametrize(("text", "seconds"), [("0", 0.0), ("4", 4.0), ("60", 60.0)])
def test_the_server_timeout_is_off_or_at_least_four_seconds(text: str, seconds: float) -> None:
    """The review: --server-timeout 0.1 pinged the server into refusing the pings as a flood,
    and the refusals were counted as the user's lines."""
    assert parse_server_timeout(text) == seconds


@pytest.mark.parametrize("text", ["0.1", "3.9", "-1", "inf"])
def test_a_server_timeout_too_short_to_mean_a_hang_is_refused(text: str) -> None:
    with pytest.raises(ValueError, match="0 or at least 4 seconds"):
        parse_server_timeout(text)
