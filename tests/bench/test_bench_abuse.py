"""The pure parts of the abuse measurement: attacker addresses, counting, judging the targets of
issue 11, and the figures tables and the section they are written to."""

from __future__ import annotations

import ipaddress
import math

import pytest

from tcpchat.bench.abuse.counting import (
    drop_reasons,
    event_rate,
    forged_rows,
    growth_rate,
    is_undelivered,
    log_levels,
    online_leak,
    password_answers,
    proc_net_tcp,
    visual_lines,
    worst_stop,
)
from tcpchat.bench.abuse.net import LINE_LIMIT, fitting_control_bytes
from tcpchat.bench.abuse.net import sources as _sources
from tcpchat.bench.abuse.phase import USERS, Phase
from tcpchat.bench.abuse.silent import excess_refused_after
from tcpchat.bench.abuse.table import render, write_section
from tcpchat.bench.abuse.targets import (
    ATTACKER_STOPPED_S,
    CONFIRMED_AFTER_DROP,
    CONFIRMED_UNREAD,
    FILLER_TRIES,
    FORGE_TRIES,
    FORGED,
    FORGED_FILLER,
    HELD_ALLOWED,
    JOIN_WORST_MS,
    NOTICES,
    RECIPIENT_DROPPED,
    SENDERS_DROPPED,
    SENDERS_STOPPED,
    TRIES_PER_S,
    judge,
)
from tcpchat.bench.abuse.undelivered import readable_marks, tally


def test_attackers_use_distinct_loopback_addresses() -> None:
    sources = _sources(600)
    assert len(set(sources)) == 600
    assert all(ipaddress.ip_address(s).is_loopback for s in sources)
    assert "127.0.0.1" not in sources  # the ordinary users' address stays theirs


@pytest.mark.parametrize("prefix", [b"", b"/w user0 ", b"/quit "])
def test_fitting_control_bytes_stay_within_the_line_limit_once_neutralised(prefix: bytes) -> None:
    n = fitting_control_bytes(prefix)
    assert len(prefix) + 3 * n <= LINE_LIMIT < len(prefix) + 3 * (n + 1)


def test_table_reports_latency_loss_memory_and_counters() -> None:
    phase = Phase("flood", "20 flooders")
    phase.latencies_ms = [1.0, 2.0, 3.0, 50.0]
    phase.sent, phase.received = 2, 2 * (USERS - 1) - 1
    phase.baseline_rss_kib, phase.peak_rss_kib = 24 * 1024, 30 * 1024
    phase.count("flooder connections (each dropped)", 7)
    row = render([phase]).splitlines()[-1]
    assert "| flood " in row and "2.0 / 50.0 / 50.0" in row
    assert f"1 of {2 * (USERS - 1)}" in row and "24.0 -> 30.0" in row
    assert "flooder connections (each dropped): 7" in row


def test_lines_a_dropped_user_could_not_send_count_as_lost() -> None:
    phase = Phase("burst", "")
    phase.sent, phase.unsent, phase.received = 10, 150, 90
    assert phase.expected == 160 * (USERS - 1)
    assert f"{160 * 9 - 90} of {160 * 9}" in render([phase]).splitlines()[-1]


def test_a_check_without_ordinary_users_shows_no_latency() -> None:
    row = render([Phase("names", "look-alikes", users=False)]).splitlines()[-1]
    assert "| -  " in row or "| - |" in row


LOG = b"""\
2026-11-27 10:00:00,001 INFO    [#1 127.0.0.1:5000] connected (1 connections)
2026-11-27 10:00:00,002 ERROR   socket.accept() out of system resource
Traceback (most recent call last):
OSError: [Errno 24] Too many open files
2026-11-27 10:00:00,003 WARNING [#2 127.1.0.1:51] dropping client: send queue exceeded (9 bytes)
2026-11-27 10:00:00,004 WARNING [#3 127.1.0.1:52] dropping client: send queue exceeded (1 bytes)
"""


def test_log_records_are_counted_by_level_and_drops_by_reason() -> None:
    assert log_levels(LOG) == {"INFO": 1, "ERROR": 1, "WARNING": 2}  # tracebacks are no records
    assert drop_reasons(LOG) == {"send queue exceeded": 2}


@pytest.mark.parametrize(
    "line",
    [
        b'{"type":"undelivered","to":"bob","id":7}\n',
        b'{"type":"not_delivered","to":"bob"}\n',
        b"!!! Not delivered to bob: he was dropped.\n",
    ],
)
def test_not_delivered_notices_are_recognised_in_any_wording(line: bytes) -> None:
    assert is_undelivered(line)


def test_a_delivery_confirmation_is_no_notice() -> None:
    assert not is_undelivered(b'{"type":"delivered","to":"bob","text":"w1: hi"}\n')
    assert not is_undelivered(b"*** Delivered to bob.\n")


def test_the_online_count_is_found_in_text_and_json_greetings() -> None:
    text = b"*** Welcome to tcp-chat 2.0. 3 users online. Type /help.\n*** Enter your password:\n"
    assert online_leak(text) == "3 users online"
    assert online_leak(b'{"type":"welcome","online":1}\n') == '"online": 1'
    assert online_leak(b"*** Welcome to tcp-chat.\n*** Enter your password:\n") == ""
    assert online_leak(b'{"type":"welcome","online":null}\n') == ""


WELCOME = b"*** Welcome to tcp-chat 2.0.\n*** Enter your password:\n"


def test_every_wrong_password_the_server_compared_counts_as_a_try() -> None:
    answer = WELCOME + (
        b'{"type":"error","code":"bad_password","text":"Wrong password. Try again."}\n'
        b'{"type":"prompt","field":"password"}\n'
        b'{"type":"error","code":"bad_password","text":"Wrong password. Try again."}\n'
        b'{"type":"bye","reason":"wrong password","text":"Wrong password. Goodbye."}\n'
    )
    assert password_answers(answer) == (3, 0)


def test_tries_held_off_by_a_backoff_or_a_ban_are_no_tries() -> None:
    waited = WELCOME + (
        b'{"type":"error","code":"password_wait","text":"Too many wrong passwords: wait 2 s"}\n'
        b'{"type":"error","code":"password_wait","text":"Too many wrong passwords: wait 2 s"}\n'
        b'{"type":"bye","reason":"wrong password","text":"Wrong password. Goodbye."}\n'
    )
    assert password_answers(waited) == (0, 2)  # that last bye came after no comparison
    banned = b"!!! Too many wrong passwords from your address. Try again in 15 minutes.\n"
    assert password_answers(banned) == (0, 1)
    bye = b'{"type":"bye","reason":"too many wrong passwords","text":"Goodbye."}\n'
    assert password_answers(WELCOME + bye) == (0, 1)


def test_rates_are_taken_over_the_second_half() -> None:
    samples = [(0.0, 0.0), (5.0, 100.0), (10.0, 600.0)]
    assert growth_rate(samples, 0.0, 10.0) == pytest.approx(100.0)
    assert growth_rate([(9.0, 1.0)], 0.0, 10.0) == 0.0
    assert event_rate([1.0, 6.0, 7.0, 9.5, 10.0], 0.0, 10.0) == pytest.approx(3 / 5)


def test_proc_net_tcp_gives_each_socket_its_peer() -> None:
    v4 = (
        "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  "
        "timeout inode\n"
        "   0: 0100007F:1F90 0100017F:9DA1 01 00000000:00000000 00:00000000 00000000  1000 "
        "0 4242 1 0 20 4 30 10 -1\n"
    )
    assert proc_net_tcp(v4) == {4242: "127.1.0.1"}
    v6 = (
        "  sl  local_address remote_address st tx_queue rx_queue tr tm->when retrnsmt uid "
        "timeout inode\n"
        "   0: 0000000000000000FFFF00000100007F:1F90 0000000000000000FFFF00000101017F:C350 01 "
        "00000000:00000000 00:00000000 00000000 1000 0 77 1 0 20 4 30 10 -1\n"
    )
    assert proc_net_tcp(v6) == {77: "127.1.1.1"}


def test_a_padded_line_forges_a_row_at_the_width_it_was_made_for() -> None:
    line = "<mallory> lol" + " " * 67 + "<alice> my password is hunter2"
    assert forged_rows(line, 80) == ["<alice> my password is hunter2"]
    assert forged_rows(line, 100) == []
    collapsed = "<mallory> lol <alice> my password is hunter2"
    assert forged_rows(collapsed, 80) == []


def test_wide_characters_take_two_columns_when_wrapping() -> None:
    assert visual_lines("李" * 5, 4) == ["李李", "李李", "李"]


def test_an_attacker_never_stopped_within_the_target_is_infinitely_late() -> None:
    assert worst_stop([(0.5, True), (1.5, True)], 2.0) == 1.5
    assert math.isinf(worst_stop([(0.5, True), (3.0, False)], 2.0))
    assert math.isnan(worst_stop([(0.5, False)], 2.0))  # cut short by the phase: unknown
    assert worst_stop([], 2.0) == 0.0  # never got in


def test_silent_connections_beyond_the_limit_must_all_be_closed() -> None:
    assert excess_refused_after([0.1, 0.2, 0.3], total=23, allowed=20) == 0.3
    assert math.isinf(excess_refused_after([0.1], total=23, allowed=20))
    assert excess_refused_after([], total=20, allowed=20) == 0.0


def test_confirmations_are_matched_against_what_the_reader_could_read() -> None:
    lines = [
        b'{"type":"delivered","to":"bob","text":"w0: yyy"}',
        b'{"type":"delivered","to":"bob","text":"w1: yyy"}',
        b'{"type":"leave","name":"bob","reason":"send queue exceeded"}',
        b'{"type":"delivered","to":"bob","text":"w2: yyy"}',
        b'{"type":"undelivered","to":"bob","id":4}',
        b'{"type":"error","code":"no_such_user","text":"No such user: bob."}',
    ]
    told = tally(lines, "bob")
    assert told.confirmed == {0, 1, 2} and told.after_leave == 1
    assert told.notices == 1 and told.refusals == 1
    received = b"[PM from alice] w0: yyy\n[PM from alice] w1: yy"  # w1 was cut off
    assert readable_marks(received) == {0}


def test_targets_are_judged_from_the_figures() -> None:
    targets = ("users", "attacker", "held", "silent", "tries", "accept-errors")
    phase = Phase("silent-tls", "", targets=targets)
    phase.latencies_ms = [1.0] * 90 + [80.0] * 10
    phase.sent, phase.received = 10, 10 * (USERS - 1)
    phase.attacker_sockets, phase.peak_rss_kib, phase.log_bytes = 5000, 200 * 1024, 10
    phase.fact(ATTACKER_STOPPED_S, math.inf)
    phase.fact(HELD_ALLOWED, 20)
    phase.fact(JOIN_WORST_MS, 12.0)
    verdicts = {target: met for target, _, met in judge(phase)}
    assert verdicts["ordinary users lose no message"] == "yes"
    assert verdicts["their p99 latency under 50 ms"] == "NO"
    assert verdicts["attacker refused or dropped within 2 s"] == "NO"
    assert verdicts["server sockets held stay within the limits"] == "NO"
    assert verdicts["server RSS under 100 MiB"] == "NO"
    assert verdicts["a new ordinary user gets in within 1 s"] == "yes"
    assert verdicts["log grows by less than 100 KB"] == "yes"
    assert verdicts["password guessing under 1 try/s per address sustained"] == "n/a"
    assert verdicts["accept errors logged once per interval, not per failure"] == "yes"
    phase.log_levels = {"ERROR": 180_000}
    assert judge(phase)[-1][2] == "NO"
    phase.fact(TRIES_PER_S, 0.5)
    assert ("password guessing under 1 try/s per address sustained", "0.5 tries/s", "yes") in (
        judge(phase)
    )


def test_lies_are_judged_only_once_the_reader_was_dropped() -> None:
    phase = Phase("undelivered", "", targets=("undelivered",))
    assert judge(phase)[0][2] == "n/a"
    phase.fact(RECIPIENT_DROPPED, 1)
    phase.fact(CONFIRMED_UNREAD, 4)
    phase.fact(NOTICES, 4)
    phase.fact(CONFIRMED_AFTER_DROP, 0)
    assert [met for _, _, met in judge(phase)] == ["yes", "yes"]


OLD_SECTION = """intro
<!-- abuse:begin -->
Measured 2026-11-26 by `python -m tcpchat.bench.abuse` (10 ordinary users, 10 s a phase):

| phase    | attack | ordinary users' latency p50 / p99 / max (ms) | their messages lost | server RSS MiB (idle -> peak) | attack counters |
|----------|--------|-----|-----|-----|-----|
| baseline | none   | 2.7 / 4.9 / 5.1 | 0 of 1440 | 24.4 -> 24.8 |  |
| flood    | 20 flooders | 13.8 / 32.1 / 32.5 | 0 of 1440 | 24.4 -> 25.5 | flooder connections (each dropped): 2901 |
<!-- abuse:end -->
outro
"""  # noqa: E501


def test_writing_a_section_keeps_the_rows_of_phases_not_run_again() -> None:
    phase = Phase("flood", "20 flooders", targets=("users",))
    phase.sent = phase.received = 0
    phase.measured = "2026-12-01, 5 s"
    doc = write_section(OLD_SECTION, "abuse", [phase], ["baseline", "flood"])
    assert doc.startswith("intro\n<!-- abuse:begin -->") and doc.endswith(
        "<!-- abuse:end -->\noutro\n"
    )
    rows = [line for line in doc.splitlines() if line.startswith("| baseline") or "| flood" in line]
    assert "2.7 / 4.9 / 5.1" in rows[0] and "2026-11-26" in rows[0]  # kept, with its date
    assert "2026-12-01, 5 s" in rows[1] and "2901" not in rows[1]  # replaced
    assert "| flood | ordinary users lose no message" in " ".join(doc.split("  "))
    again = write_section(doc, "abuse", [phase], ["baseline", "flood"])
    assert again == doc  # a second write of the same figures changes nothing


def test_writing_to_a_missing_section_is_refused() -> None:
    with pytest.raises(ValueError):
        write_section("no markers here", "abuse-after", [], [])


def test_senders_stopped_for_what_they_sent_are_no_dropped_readers() -> None:
    phase = Phase("burst-public", "", targets=("senders",))
    phase.fact(SENDERS_DROPPED, 0)
    phase.fact(SENDERS_STOPPED, 30)
    assert judge(phase) == [
        (
            "no fast reader dropped (the senders, who read too)",
            "0 dropped as slow readers (30 for what they sent)",
            "yes",
        )
    ]


def test_forging_is_judged_for_space_and_visible_padding_apart() -> None:
    phase = Phase("forging", "", targets=("forging",))
    phase.fact(FORGED, 0)
    phase.fact(FORGE_TRIES, 8)
    phase.fact(FORGED_FILLER, 8)
    phase.fact(FILLER_TRIES, 8)
    assert [(measured, met) for _, measured, met in judge(phase)] == [
        ("0 of 8 tries forged a row", "yes"),
        ("8 of 8 tries forged a row", "NO"),
    ]
