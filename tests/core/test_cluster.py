"""Cluster mode's pure logic (core/cluster.py), without Redis: claim keys, entry ids, resume
positions and dedupe, the lease, the backoff, reaping, and the entries' stream form."""

from __future__ import annotations

import json
import unicodedata

import pytest

from tcpchat.core import cluster as cl
from tcpchat.core import cluster_codec as codec
from tcpchat.core.lease import Backoff, Lease, OutageIds, Stalls, reapable, young_redis_hold
from tcpchat.core.limits import MAX_TOPIC_CHARS


def test_a_name_claims_its_look_alikes_so_they_are_refused_on_every_node() -> None:
    # Two names conflict when their claims share a key, as in the roster's look-alike index.
    assert set(cl.claim_keys("Alice")) & set(cl.claim_keys("ALICE"))
    # "I" and "l" cannot be told apart: the two names share a claim key.
    assert set(cl.claim_keys("Il")) & set(cl.claim_keys("lI"))
    assert not set(cl.claim_keys("alice")) & set(cl.claim_keys("bob"))
    assert all(key.startswith("tcpchat:name:") for key in cl.claim_keys("Alice"))


def test_a_claim_value_names_the_node_and_the_display_name() -> None:
    value = cl.holder_value("node-a", "Ålice")
    assert cl.parse_holder(value) == ("node-a", "Ålice")


def test_entry_ids_are_message_ids() -> None:
    assert cl.entry_id(411) == "0-411"
    assert cl.id_of("0-411") == 411
    for foreign in ("1700000000000-0", "411", "0-", "0-x"):
        with pytest.raises(ValueError):
            cl.id_of(foreign)


def test_a_position_resumes_after_the_last_entry_applied() -> None:
    position = cl.Position(41)
    assert position.after == "0-41"
    assert position.accept("0-42") and position.accept("0-45")
    assert position.after == "0-45"


def test_entries_read_again_after_a_reconnect_are_applied_once() -> None:
    position = cl.Position()
    first = ["0-1", "0-2", "0-3"]
    again = ["0-2", "0-3", "0-4"]  # the last read arrived, the link dropped, XREAD from 0-1
    applied = [e for e in first + again if position.accept(e)]
    assert applied == ["0-1", "0-2", "0-3", "0-4"]


def test_a_gap_counts_the_entries_trimmed_away_while_cut_off() -> None:
    position = cl.Position(100)
    assert position.gap(None) == 0  # the stream is empty: nothing was missed
    assert position.gap(90) == 0
    assert position.gap(101) == 0
    assert position.gap(150) == 49


def test_the_lease_is_renewed_every_third_and_lapses_after_its_length() -> None:
    lease = Lease(length=6.0, renew=2.0)
    assert lease.millis == 6000
    assert lease.due(0.0) and lease.lapsed(0.0)
    lease.renewed(10.0)
    assert not lease.due(11.9) and lease.due(12.0)
    assert not lease.lapsed(15.9) and lease.lapsed(16.0)


def test_the_timer_wakes_when_a_renewal_is_due_not_at_its_next_whole_tick() -> None:
    lease = Lease(length=5.0, renew=5.0 / 3)
    assert lease.wait(0.0, most=1.0) == 0.0  # never renewed: at once
    lease.renewed(10.0)
    assert lease.wait(10.0, most=1.0) == 1.0
    assert lease.wait(11.0, most=1.0) == pytest.approx(2 / 3)
    assert lease.wait(12.0, most=1.0) == 0.0  # overdue


def test_a_late_answer_does_not_move_the_lease_back() -> None:
    lease = Lease(length=6.0, renew=2.0)
    lease.renewed(12.0)
    lease.renewed(10.0)  # the answer to an older renewal, arriving last
    assert lease.confirmed == 12.0


def test_a_lease_renewed_less_often_than_it_lasts_is_refused() -> None:
    with pytest.raises(ValueError):
        Lease(length=2.0, renew=2.0)


def test_reconnects_back_off_doubling_to_a_ceiling_and_start_over_after_success() -> None:
    backoff = Backoff(first=0.1, most=0.5)
    assert [backoff.next() for _ in range(5)] == [0.1, 0.2, 0.4, 0.5, 0.5]
    backoff.reset()
    assert backoff.next() == 0.1


def test_the_ids_for_a_link_loss_are_reserved_again_once_newer_entries_were_read() -> None:
    block = OutageIds(size=100, every=5.0)
    assert not block.stale(10**6, 0.0)  # none reserved yet: the link reserves at start
    assert block.reserved(300, 10.0) == 201
    assert not block.stale(300, 100.0)  # nothing said since: a quiet cluster keeps its block
    assert not block.stale(301, 14.9)  # at most every 5 s
    assert block.stale(301, 15.0)


def test_nodes_without_a_lease_are_reaped_by_the_others_never_by_themselves() -> None:
    listed = ["c", "a", "b", "me"]
    assert reapable(listed, alive=["a"], me="me") == ["b", "c"]
    assert reapable(listed, alive=["a", "b", "c", "me"], me="me") == []


def test_nobody_is_reaped_for_a_renewals_span_after_redis_answered_a_call_late() -> None:
    """A stall of Redis (an answer a second late or more) may have let live nodes' leases run
    out in it, their renewals held up: no reaping until they have had a renewal's span to
    renew. Answers in time, however many, change nothing; a later stall starts the span again,
    an earlier one never shortens it."""
    stalls = Stalls(slow=1.0, grace=5 / 3)
    assert stalls.calm(0.0)
    stalls.answered(sent=0.0, now=0.99)
    assert stalls.calm(0.99)
    stalls.answered(sent=1.0, now=4.8)  # CLIENT PAUSE 3800
    assert not stalls.calm(4.8) and not stalls.calm(6.4)
    assert stalls.calm(4.8 + 5 / 3)
    stalls.answered(sent=5.0, now=6.0)  # a second: a stall again
    assert not stalls.calm(7.5) and stalls.calm(6.0 + 5 / 3)
    stalls.answered(sent=2.0, now=3.5)  # answered late, told late: the span is not moved back
    assert not stalls.calm(7.5)
    stalls.hold(10.0, 6.0)  # back from a lost link: the others may be on their way back
    assert not stalls.calm(15.9) and stalls.calm(16.0)


def test_a_node_joining_a_redis_just_started_waits_as_a_node_back_from_a_lost_link_does() -> None:
    """What is left of the span since Redis started: nothing once Redis has been up longer;
    all of it when Redis does not say (INFO refused)."""
    assert young_redis_hold(0.4, 11.7) == pytest.approx(11.3)
    assert young_redis_hold(11.7, 11.7) == 0.0
    assert young_redis_hold(86_400.0, 11.7) == 0.0
    assert young_redis_hold(None, 11.7) == 11.7


@pytest.mark.parametrize(
    "entry",
    [
        cl.Said("a", 7, "Алиса", "#lobby", "", 'hello, "world" \\ ünïcödé', False, 1.5),
        cl.Said("a", 7, "alice", "#ops", "#Ops", "waves", True, 2.25),
        cl.Whispered("b", 3, "bob", "alice", "psst", 3.0),
        cl.Arrived("a", "alice", "#ops", "#Ops", 4.0),
        cl.Departed("a", "alice", "#ops", "quit: bye", 5.0),
        cl.Renamed("a", "alice", "alicia", 6.0),
        cl.TopicSet("a", "alice", "#ops", "#Ops", "deploys only", 7.0),
        cl.Gone("a", 8.0),
    ],
)
def test_every_entry_survives_its_stream_form(entry: cl.Entry) -> None:
    fields = codec.encode(entry)
    assert all(isinstance(v, str) for v in fields.values())
    assert codec.decode(fields) == entry


def test_entries_are_the_json_that_the_json_module_writes() -> None:
    """The encoder built once (``codec._JSON``) writes what ``json.dumps`` would, for every kind of
    value an entry holds, and refuses what JSON cannot hold."""
    import json

    said = cl.Said("a", 7, "Алиса", "#ops", "#Ops", 'q"\\\x00\u2028😀\n', True, 1e-7, True, 3)
    values = [codec._KIND_OF[type(said)], *said.__dict__.values()]
    assert codec.encode_value(said) == json.dumps(values, ensure_ascii=False, separators=(",", ":"))
    for value in ([1.5, -0.0, 10**20, None, [1, ["x"]]], {"k": 1}, "plain"):
        assert codec._JSON(value) == json.dumps(value, ensure_ascii=False, separators=(",", ":"))
    with pytest.raises(TypeError):
        codec._JSON([object()])


def test_an_entry_of_an_unknown_kind_is_skipped_and_a_broken_one_is_an_error() -> None:
    assert codec.decode({"e": '["from-the-future", 1]'}) is None
    for broken in ('["gone"]', '["gone", 1, 2.0]', '["gone", "a", "late"]', "{}", "[", "[]"):
        with pytest.raises(ValueError):
            codec.decode({"e": broken})
    with pytest.raises(ValueError):
        codec.decode({"k": "gone", "node": "a"})


def test_what_another_node_wrote_is_checked_as_a_clients_line_is() -> None:
    """The log is data: a name or room no client could have had accepted makes the entry
    broken (skipped); texts come out neutralised and cut as a client's line would."""

    def decoded(entry: cl.Entry) -> cl.Entry | None:
        return codec.decode(codec.encode(entry))

    forged = "x\r\nPRIVMSG #lobby :forged"
    for broken in (
        cl.Arrived("a", forged, "#lobby", "#lobby", 1.0),
        cl.Arrived("a", "", "#lobby", "#lobby", 1.0),
        cl.Arrived("a", "alice", "#a b", "#a b\r\nKILL", 1.0),
        cl.Arrived("a", "alice", "#ops", "#dev", 1.0),  # a label that is not the room's
        cl.Said("a", 1, "ALICE\u200b", "#lobby", "", "hi", False, 1.0),
        cl.Whispered("a", 1, "alice", forged, "hi", 1.0),
        cl.Renamed("a", "alice", " ", 1.0),
        cl.TopicSet("a", "alice", "#ops", "", "t", 1.0),
        # a node's name goes into Redis keys and log lines: as --node-name takes one
        cl.Arrived("a b", "alice", "#lobby", "", 1.0),
        cl.Gone("a\ud800", 1.0, ""),
        cl.Said("", 1, "alice", "#lobby", "", "hi", False, 1.0),
        cl.Struck("n" * (codec.NODE_NAME_MAX_CHARS + 1), "127.0.0.1", 1.0),
        cl.Struck("a", "127.0.0.1\ud800", 1.0),
        # a run is matched against this node's own: a word, as a node's name
        cl.Whispered("a", 1, "alice", "bob", "hi", 1.0, False, 0, "r 1"),
        cl.Bounced("a", 1, "alice", "bob", 7, "quit", 1.0, "r\x1b"),
    ):
        with pytest.raises(ValueError):
            decoded(broken)
    # JSON can escape half a surrogate pair, which no UTF-8 (a socket, SQLite) can carry.
    lone = codec.decode({"e": '["said", "a", 1, "alice", "#lobby", "", "x\\ud800y", false, 1.0]'})
    assert isinstance(lone, cl.Said) and lone.text == "x\ufffdy"
    lone.text.encode("utf-8")
    older = codec.decode({"e": '["bounced", "b", 1, "alice", "bob", 7, "quit", 1.0]'})
    assert older == cl.Bounced("b", 1, "alice", "bob", 7, "quit", 1.0, "")  # a node without runs
    said = decoded(cl.Said("a", 1, "alice", "#lobby", "", "x\x1b[2Jy\r\n" + "z" * 9000, False, 1.0))
    assert isinstance(said, cl.Said) and "\x1b" not in said.text and "\r" not in said.text
    assert len(said.text) == 9008 and said.text.startswith("x")  # not cut: --max-line may be long
    huge = decoded(
        cl.Said("a", 1, "alice", "#lobby", "", "z" * (codec.MAX_ENTRY_TEXT + 5), False, 1.0)
    )
    assert isinstance(huge, cl.Said) and len(huge.text) == codec.MAX_ENTRY_TEXT
    topic = decoded(cl.TopicSet("a", "alice", "#ops", "#ops", "t" * 1000, 1.0))
    assert isinstance(topic, cl.TopicSet) and len(topic.topic) == MAX_TOPIC_CHARS
    deep = '["said", ' + "[" * 100_000 + "]" * 100_000 + "]"
    with pytest.raises(ValueError):
        codec.decode({"e": deep})  # json's RecursionError is a broken entry, as any other
    assert codec.members(["alice", "[" * 100_000]) == {}
    members = codec.members(
        ["alice", '["#lobby", "#ops", "#a b", 7]', forged, '["#lobby"]', "bob", "{"]
    )
    assert members == {"alice": ["#lobby", "#ops"]}


def test_an_entry_from_a_newer_node_keeps_what_this_one_knows() -> None:
    newer = '["gone", "a", 8.0, "server shutdown", "{}", "a field to come"]'
    assert codec.decode({"e": newer}) == cl.Gone("a", 8.0, "server shutdown", "{}")
    older = '["said", "a", 7, "alice", "#ops", "#Ops", "hi", false, 2.5]'
    assert codec.decode({"e": older}) == cl.Said("a", 7, "alice", "#ops", "#Ops", "hi", False, 2.5)


# Assigned in Unicode 15 (Python 3.12), unknown to 3.9-3.11: Kawi letters; and in Unicode 14
# (3.11), unknown to 3.9 and 3.10: Latin small letter fengdigraph with retroflex hook (U+1DF00).
KAWI = "\U00011f04\U00011f05\U00011f06"
NEWER_LATIN = "ab\U0001df00c"


@pytest.mark.parametrize("name", [KAWI, NEWER_LATIN])
def test_a_name_that_a_node_on_a_newer_python_accepted_is_read_on_every_node(name: str) -> None:
    """Character categories come from the interpreter's Unicode (13 in Python 3.9, 15 in
    3.12): a node refusing what another accepted skipped all that user's entries, so its
    messages were "Delivered" and never shown there (found in review). What the origin took
    is read, unless no table here knows the character or it is never allowed."""
    said = cl.Said("a", 1, name, "#" + name, "#" + name, "hi", False, 1.0)
    assert codec.decode(codec.encode(said)) == said
    renamed = cl.Renamed("a", "alice", name, 1.0)
    assert codec.decode(codec.encode(renamed)) == renamed
    assert codec.members([name, json.dumps(["#lobby", "#" + name])]) == {
        name: ["#lobby", "#" + name]
    }
    for never in ("\u0378x", "x\u200by", "x\x1b", "\U00011f04\u0430"):  # unassigned in 15.0,
        # invisible, a control, two scripts: refused from any node
        with pytest.raises(ValueError):
            codec.decode(codec.encode(cl.Renamed("a", "alice", never, 1.0)))


def test_a_rooms_key_made_where_its_characters_are_known_is_taken_as_given() -> None:
    """A key holds its node's case folding: a Unicode 14 capital (Vithkuqi U+10570) is folded
    on 3.11 and left as it is on 3.9, so a 3.9 node refused every entry of that room (found in
    review). A node takes the key as given when the room's name has a character it does not
    know; otherwise the key must be the name's, as before."""
    label = "#" + KAWI  # unknown to 3.9-3.11, known from 3.12 on
    said = cl.Said("a", 1, "alice", "#folded-elsewhere", label, "hi", False, 1.0)
    if unicodedata.category(KAWI[0]) == "Cn":
        assert codec.decode(codec.encode(said)) == said
    else:
        with pytest.raises(ValueError):
            codec.decode(codec.encode(said))
    known = cl.Said("a", 1, "alice", "#ops", "#dev", "hi", False, 1.0)
    with pytest.raises(ValueError):
        codec.decode(codec.encode(known))


def test_the_users_a_node_joining_again_still_serves_go_in_its_gone_entry() -> None:
    people = {"alice": ["#lobby", "#ops"], "Вера": ["#lobby"], "kim": []}
    raw = codec.encode_staying(people)
    entry = codec.decode(codec.encode(cl.Gone("a", 1.0, "", raw)))
    assert isinstance(entry, cl.Gone) and codec.staying(entry.staying) == people
    assert codec.encode_staying({}) == ""  # nobody stays: an older node's entry says the same
    many = {f"user{i}": ["#lobby", f"#room{i}"] for i in range(20_000)}  # over MAX_STAYING
    assert codec.encode_staying(many) == ""


def test_what_a_gone_entry_says_stays_is_checked_as_a_clients_line_is() -> None:
    forged = "*** Server"
    raw = json.dumps({"alice": ["#lobby", "#a b", 7], forged: ["#lobby"], "bob": "#lobby"})
    assert codec.staying(raw) == {"alice": ["#lobby"]}
    for broken in ("", "[", "[]", '"alice"', "[" * 100_000, "{" + " " * codec.MAX_STAYING):
        assert codec.staying(broken) == {}
