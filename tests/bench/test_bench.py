"""The load generator's pure parts (accounting, dialects, specs, report) and one tiny real run."""

from __future__ import annotations

import asyncio
import json
import time
from array import array
from pathlib import Path

import pytest

from tcpchat.bench import cli, report
from tcpchat.bench.dialects import ChatDialect, IrcDialect, padded
from tcpchat.bench.peer import Peer, open_peer
from tcpchat.bench.scenarios import Capacity, Fanout, Latency, Result, parse_spec
from tcpchat.bench.servers import ngircd_config
from tcpchat.bench.stats import Loss, Spread, Tally, marker, percentile
from tests.conftest import WAIT


def chat_line(sender: int, seq: int, sent: int) -> bytes:
    event = {
        "type": "message",
        "id": 1,
        "from": f"b{sender}",
        "text": padded(sender, seq, sent, 40),
    }
    return (json.dumps(event) + "\n").encode()


def test_tally_counts_each_message_once_in_order_with_latency() -> None:
    tally = Tally()
    tally.feed(chat_line(0, 0, 100) + chat_line(1, 0, 100) + chat_line(0, 1, 150), 400)
    tally.feed(chat_line(1, 1, 300), 500)
    latencies: array[int] = array("q")
    loss = tally.check(senders=2, messages=2, latencies=latencies)
    assert loss == Loss(expected=4, received=4, duplicates=0, disorder=0, strangers=0)
    assert loss.clean
    assert sorted(latencies) == [200, 250, 300, 300]


def test_tally_reports_lost_duplicated_and_reordered_messages() -> None:
    tally = Tally()
    lines = [chat_line(0, 2, 0), chat_line(0, 0, 0), chat_line(0, 0, 0), chat_line(1, 9, 0)]
    tally.feed(b"".join(lines), 0)
    loss = tally.check(senders=2, messages=3)
    assert (loss.expected, loss.received, loss.lost) == (6, 2, 4)
    assert (loss.duplicates, loss.disorder, loss.strangers) == (1, 1, 1)
    assert not loss.clean


def test_tally_skips_the_receivers_own_messages_echoed_in_delivered() -> None:
    tally = Tally()
    tally.feed(chat_line(0, 0, 0) + chat_line(1, 0, 0), 0)
    loss = tally.check(senders=2, messages=1, own=0)
    assert (loss.expected, loss.received) == (1, 1)


def test_markers_pass_through_irc_lines() -> None:
    irc = IrcDialect()
    sent = irc.message(3, 7, 1234, 100)
    assert sent.startswith(b"PRIVMSG #bench :%3.7.1234% ")
    assert sent.endswith(b"\r\nPING :7\r\n")
    tally = Tally()
    relayed = b":b3!~b3@127.0.0.2 PRIVMSG #bench :" + padded(3, 7, 1234, 100).encode() + b"\r\n"
    assert tally.feed(relayed, 0) == 1
    assert tally.check(senders=4, messages=8).received == 1


def test_padded_text_has_the_requested_size_and_starts_with_the_marker() -> None:
    text = padded(12, 345, 678, 100)
    assert len(text) == 100
    assert text.startswith(marker(12, 345, 678) + " ")


def test_dialects_answer_pings() -> None:
    chat = ChatDialect()
    body = b'{"type":"ping","time":"t","token":"17"}\n{"type":"join","name":"x"}\n'
    assert chat.pongs(body) == b"/pong 17\n"
    assert IrcDialect().pongs(b"PING :bench.irc\r\n:x NOTICE y\r\n") == b"PONG :bench.irc\r\n"


def test_irc_senders_become_operators_for_relaxed_flood_control() -> None:
    hello = IrcDialect().hello(4, sender=True).decode()
    assert "NICK b4\r\n" in hello and "MODE b4 +F\r\n" in hello
    assert hello.index("OPER ") < hello.index("JOIN #bench")
    assert "OPER" not in IrcDialect().hello(4, sender=False).decode()


def test_ngircd_config_is_loopback_without_penalties() -> None:
    text = ngircd_config(6668, "/tmp/x")
    assert "Ports = 6668" in text and "Listen = 127.0.0.1" in text
    assert "MaxPenaltyTime = 0" in text and "PAM = no" in text


def test_percentile_is_nearest_rank() -> None:
    values = list(range(1, 101))
    assert percentile(values, 0.5) == 50
    assert percentile(values, 0.99) == 99
    assert percentile(values, 1.0) == 100
    assert percentile([], 0.5) == 0.0
    assert Spread.of([3.0, 1.0, 2.0]) == Spread(3, 2.0, 3.0, 3.0)


def test_parse_spec_reads_kind_and_settings() -> None:
    assert parse_spec("fanout:C=100,S=10,M=500") == Fanout(C=100, S=10, M=500)
    assert parse_spec("latency:c=50, r=200, d=2.5") == Latency(C=50, R=200, D=2.5)
    assert parse_spec("capacity:K=10000") == Capacity(K=10000)
    for bad in ("nothing:C=1", "fanout:X=1", "fanout:C=5,S=5", "capacity:K=0", "fanout:C"):
        with pytest.raises(ValueError):
            parse_spec(bad)


def test_every_suite_parses() -> None:
    for specs in cli.SUITES.values():
        for text in specs:
            parse_spec(text)


def test_summary_shows_ratios_to_ngircd() -> None:
    results = [
        Result("fanout X", "fanout", "ours-asyncio", {"deliveries_per_s": 500.0, "lost": 0}),
        Result("fanout X", "fanout", "ngircd", {"deliveries_per_s": 1000.0, "lost": 0}),
    ]
    text = report.summary(results)
    assert "| fanout X" in text and "0.50x" in text and "1,000" in text
    assert report.ratio(None, 3.0) == "-" and report.ratio(1.0, 0.0) == "-"


def test_merge_replaces_only_the_generated_section() -> None:
    first = report.merge("# Benchmarks\n\nHand-written notes.\n", report.section([], [("a", "b")]))
    assert first.startswith("# Benchmarks\n\nHand-written notes.\n")
    second = report.merge(first + "\nMore notes.\n", report.section([], [("a", "c")]))
    assert "**a**: c" in second and "**a**: b" not in second
    assert second.count(report.BEGIN) == 1 and second.endswith("More notes.\n")


def test_quick_run_against_the_real_server_loses_nothing(tmp_path: Path) -> None:
    """One tiny fan-out against our real server: every message arrives once, in order."""
    out = tmp_path / "bench.json"
    argv = [
        "--scenario",
        "fanout:C=4,S=2,M=10",
        "--targets",
        "ours-asyncio",
        "--no-pin",
        "--gen-loop",
        "asyncio",
        "--json",
        str(out),
    ]
    assert cli.main(argv) == 0, "the benchmark reported an error"
    (result,) = json.loads(out.read_text())["results"]
    figures = result["figures"]
    assert (figures["expected"], figures["received"]) == (60, 60)
    assert figures["duplicates"] == figures["disorder"] == 0


class Noticed(Peer):
    """A peer that says when something arrived and when its connection ended."""

    def __init__(self) -> None:
        super().__init__(0, ChatDialect())
        self.arrived = asyncio.Event()
        self.ended = asyncio.Event()

    def data_received(self, data: bytes) -> None:
        super().data_received(data)
        self.arrived.set()

    def connection_lost(self, exc: Exception | None) -> None:
        super().connection_lost(exc)
        self.ended.set()


def test_a_stamped_peer_times_what_arrives_by_the_kernels_stamp() -> None:
    async def main() -> None:
        connected: asyncio.Queue[asyncio.StreamWriter] = asyncio.Queue()

        async def accept(_: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            await connected.put(writer)

        server = await asyncio.start_server(accept, "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        peer = await open_peer("127.0.0.1", port, Noticed())
        writer = await asyncio.wait_for(connected.get(), WAIT)
        try:
            peer.stamp_arrivals()
            # The kernel starts stamping a moment after the first socket asks for it (a deferred
            # switch): until then a line is timed when read. Lines one at a time until one is.
            deadline = time.monotonic() + WAIT
            for attempt in range(100_000):
                assert time.monotonic() < deadline, "no line was stamped"
                peer.arrived.clear()
                before = time.monotonic_ns() // 1000
                writer.write(b"hello %d\n" % attempt)
                await writer.drain()
                await asyncio.wait_for(peer.arrived.wait(), WAIT)  # read by the stamped reader
                if peer.arrived_us:
                    break
            # The kernel's clock against ours: within a millisecond (two clocks, one reading each).
            assert before - 1000 <= peer.arrived_us <= time.monotonic_ns() // 1000 + 1000
            assert peer.buf.endswith(b"hello %d\n" % attempt)
            writer.close()  # the server hangs up: the stamped reader sees the end
            await asyncio.wait_for(peer.ended.wait(), WAIT)
            assert peer.gone
        finally:
            peer.close()
            server.close()

    asyncio.run(main())


def test_the_send_floor_writes_a_round_to_every_socket_and_fills_its_section(
    tmp_path: Path,
) -> None:
    """A small real run (a reading process, real loopback sockets): every way of writing gets
    figures, and ``--write`` replaces only its own section."""
    from tcpchat.bench import send_floor

    doc = tmp_path / "BENCHMARKS.md"
    doc.write_text("# Benchmarks\n\nNotes.\n", encoding="utf-8")
    for _ in range(2):  # the second run replaces the first one's table
        assert send_floor.main(["--sockets", "40", "--rounds", "2", "--write", str(doc)]) == 0
    text = doc.read_text(encoding="utf-8")
    assert text.startswith("# Benchmarks\n\nNotes.\n") and text.count(send_floor.BEGIN) == 1
    cells = [[c.strip() for c in line.split("|")[1:-1]] for line in text.splitlines()]
    rows = [row for row in cells if len(row) == 6 and row[1] == "40"]
    assert [row[0] for row in rows][:2] == ["socket.send loop", "asyncio transports"]
    for row in rows:
        assert float(row[2]) > 0 and float(row[5]) > 0  # µs a send, and for all 40
