"""The room scenarios' pure parts (who is in which room, what each client hears, how a storm's
joins are accounted for, the history table) and one tiny real run of the room and storm
scenarios."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from tcpchat.bench import cli, report, rooms
from tcpchat.bench.dialects import ChatDialect, IrcDialect, padded
from tcpchat.bench.replay import HistoryWatch, search_words
from tcpchat.bench.scenarios import (
    Fanout,
    Latency,
    Replay,
    Result,
    Rooms,
    Storm,
    applies,
    parse_spec,
    server_args,
)
from tcpchat.bench.servers import TARGETS
from tcpchat.bench.stats import Tally
from tcpchat.bench.storm import ROOM, ChatWatch, IrcWatch, StormCount


def test_chat_clients_join_their_room_after_the_name_and_are_ready_at_its_answer() -> None:
    chat = ChatDialect()
    assert chat.hello(3, False, ("#r1",)) == b"/mode json\nb3\n/join #r1\n"
    assert chat.ready(3, ("#r1",)) == b'"room":"#r1","online":'
    assert chat.ready(3) == chat.joined
    answer = (
        b'{"type":"room","time":"t","room":"#r1","online":4,"users":[],"topic":"","joined":true}'
    )
    notice = b'{"type":"join","time":"t","name":"b9","online":5,"room":"#r1"}'
    assert chat.ready(3, ("#r1",)) in answer and chat.ready(3, ("#r1",)) not in notice


def test_irc_clients_join_the_lobby_channel_and_their_room_or_no_channel_at_all() -> None:
    irc = IrcDialect()
    assert b"JOIN #bench,#r2\r\n" in irc.hello(5, False, ("#r2",))
    assert irc.ready(5, ("#r2",)) == b" 366 b5 #r2 "
    alone = irc.hello(5, False, in_lobby=False)
    assert b"JOIN" not in alone and irc.ready(5, in_lobby=False) == irc.registered
    assert irc.message(1, 2, 3, 40, "#r2").startswith(b"PRIVMSG #r2 :%1.2.3% ")
    assert irc.message(1, 2, 3, 40).startswith(b"PRIVMSG #bench :")


def test_a_message_from_a_room_one_is_not_in_counts_as_a_stranger() -> None:
    tally = Tally()
    line = b"".join(
        b'{"type":"message","text":"' + padded(s, 0, 0, 30).encode() + b'"}\n' for s in (0, 1, 2)
    )
    tally.feed(line, 0)
    loss = tally.check(senders=3, messages=1, own=-1, expect=frozenset({0, 2}))
    assert (loss.expected, loss.received, loss.strangers) == (2, 2, 1)


def test_room_layout_puts_senders_first_and_each_client_hears_its_room_and_the_lobby() -> None:
    spec = Rooms(N=3, C=4, S=2, M=1, L=1)
    clients = rooms.layout(spec)
    assert len(clients) == 3 * 4 + 1
    assert [room for room, _ in clients[:6]] == ["#r0", "#r0", "#r1", "#r1", "#r2", "#r2"]
    assert clients[6] == (None, frozenset({6}))
    members = {r: sum(1 for room, _ in clients if room == r) for r in ("#r0", "#r1", "#r2")}
    assert members == {"#r0": 4, "#r1": 4, "#r2": 4}
    for room, hears in clients:
        if room == "#r1":
            assert hears == frozenset({2, 3, 6})


@pytest.fixture
def event_loop_set() -> Iterator[None]:
    """A current event loop for the test: Python 3.9's ``asyncio.Event`` binds to it when made,
    and after another test's ``asyncio.run`` there is none."""
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    yield
    asyncio.set_event_loop(None)
    loop.close()


def chat_lines(*events: dict[str, object]) -> bytes:
    return b"".join(json.dumps(e, separators=(",", ":")).encode() + b"\n" for e in events)


def test_chat_watch_counts_joins_told_one_by_one_and_in_crowds(event_loop_set: None) -> None:
    count = StormCount(5)
    first, last = ChatWatch(count, ChatDialect()), ChatWatch(count, ChatDialect())
    first.feed(chat_lines({"type": "room", "room": ROOM, "online": 1}), 1.0)
    first.feed(chat_lines({"type": "join", "name": "b2", "online": 2, "room": ROOM}), 1.1)
    last.feed(chat_lines({"type": "room", "room": ROOM, "online": 5}), 1.2)
    crowd = {"type": "crowd", "room": ROOM, "joined": True, "names": [], "count": 3, "online": 5}
    lobby = {"type": "crowd", "room": "#lobby", "joined": True, "names": [], "count": 9}
    first.feed(chat_lines(lobby, crowd), 2.0)
    assert (first.place, first.heard, first.known) == (1, 4, 5)
    assert (last.place, last.heard, last.known) == (5, 0, 5)
    assert (count.answered, count.complete) == (2, 2)
    assert not count.done.is_set()


def test_irc_watch_knows_the_names_it_was_given_and_the_joins_after_its_own(
    event_loop_set: None,
) -> None:
    count = StormCount(4)
    watch = IrcWatch(count, IrcDialect(), 2)
    watch.feed(
        b":b2!~b2@h JOIN :#storm\r\n"
        b":srv 353 b2 = #storm :b2 @b0 b1\r\n"
        b":srv 366 b2 #storm :End of NAMES list\r\n",
        1.0,
    )
    assert (watch.answered, watch.known, count.complete) == (True, 3, 0)
    watch.feed(b":b3!~b3@h JOIN :#storm\r\n", 1.5)
    assert watch.known == 4 and count.complete == 1 and not count.done.is_set()


def test_parse_spec_reads_the_room_storm_and_replay_kinds() -> None:
    assert parse_spec("rooms:N=10,C=100,S=2,L=0") == Rooms(N=10, C=100, S=2, L=0)
    assert parse_spec("storm:K=10000,T=30.5,B=50") == Storm(K=10000, T=30.5, B=50)
    assert parse_spec("replay:H=1000,N=2,Q=5") == Replay(H=1000, N=2, Q=5)
    for bad in ("rooms:C=2,S=2", "storm:K=1", "replay:H=1,N=2", "storm:B=0"):
        with pytest.raises(ValueError):
            parse_spec(bad)


def test_history_variants_run_only_where_messages_are_stored_and_replay_only_with_it() -> None:
    nohist, ngircd = TARGETS["ours-uvloop-nohist"], TARGETS["ngircd"]
    assert applies(Fanout(), nohist) == "" and applies(Latency(), nohist) == ""
    assert applies(Rooms(), nohist) == "" and applies(Storm(), nohist) != ""
    assert applies(Replay(), nohist) != "" and applies(Replay(), ngircd) != ""
    assert server_args(Storm(B=7), TARGETS["ours-asyncio"]) == ["--big-room", "7"]
    assert server_args(Storm(B=7), ngircd) == []


def test_history_cost_compares_each_loop_with_and_without_history() -> None:
    results = [
        Result("fanout X", "fanout", "ours-uvloop", {"deliveries_per_s": 900.0, "lost": 0}),
        Result("fanout X", "fanout", "ours-uvloop-nohist", {"deliveries_per_s": 1000.0}),
        Result("fanout X", "fanout", "ngircd", {"deliveries_per_s": 500.0}),
    ]
    text = report.history_cost(results)
    assert "| fanout X" in text and "0.90x" in text and "ngircd" not in text
    assert report.history_cost(results[2:]) == ""


def test_tiny_room_and_storm_runs_against_the_real_server_account_for_everything(
    tmp_path: Path,
) -> None:
    """Rooms: every message reaches its room and the lobby senders' everyone, nothing strays;
    a storm with crowds (big room of 4): all joins answered and accounted for."""
    out = tmp_path / "bench.json"
    argv = ["--scenario", "rooms:N=2,C=3,S=1,M=10,L=1", "--scenario", "storm:K=12,T=10,B=4"]
    argv += ["--targets", "ours-asyncio", "--no-pin", "--gen-loop", "asyncio", "--json", str(out)]
    assert cli.main(argv) == 0, "the benchmark reported an error"
    room_run, storm_run = json.loads(out.read_text())["results"]
    figures = room_run["figures"]
    # Room members hear their room's sender (10) and the lobby sender (10); the lobby sender
    # hears nobody else; 2 rooms of 3 and the lobby sender: 4 members * 20 + 2 senders * 10.
    assert (figures["expected"], figures["received"], figures["strangers"]) == (100, 100, 0)
    # The server kept history in a data directory of the run's own and stored every message.
    assert figures["said"] == figures["stored"] == 30
    storm = storm_run["figures"]
    assert storm["answered"] == storm["complete"] == storm["places"] == 12
    assert storm["first_heard"] == 11 and storm["reached"] == 11


def test_history_watch_counts_each_bracket_and_wakes_at_its_end() -> None:
    watch = HistoryWatch(ChatDialect())
    watch.feed(b'{"type":"history","kind":"replay"}\n{"type":"message","history":true}\n', 1.0)
    watch.feed(b'{"type":"message","history":true}\n{"type":"history_end"}\n', 2.0)
    assert watch.last_count == 2 and watch.messages == 0


def test_searches_cycle_through_word_frequencies_and_are_the_same_every_run() -> None:
    words = search_words(10)
    assert words == search_words(10)
    assert words[3].startswith("zzqx") and len(words[4].split()) == 2


def test_tiny_replay_against_the_real_server_replays_twenty_and_finds(tmp_path: Path) -> None:
    """A database filled by the store's filler, the server started on it: each join replays
    the room's last 20 messages, and a search of a common word finds some."""
    out = tmp_path / "bench.json"
    argv = ["--scenario", "replay:H=300,N=2,Q=10", "--targets", "ours-asyncio"]
    argv += ["--no-pin", "--gen-loop", "asyncio", "--json", str(out)]
    assert cli.main(argv) == 0, "the benchmark reported an error"
    (result,) = json.loads(out.read_text())["results"]
    figures = result["figures"]
    assert figures["replayed"] == 20 and figures["found_max"] > 0
    assert figures["replay_p99_ms"] > 0 and figures["search_p99_ms"] > 0
