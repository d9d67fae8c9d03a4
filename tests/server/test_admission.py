"""Admission: origins, connection counting and the log tally, without sockets."""

from __future__ import annotations

import pytest

from tcpchat.server.admission import Admission, Tally, format_peer, origin_of


@pytest.mark.parametrize(
    ("ip", "origin"),
    [
        ("203.0.113.7", "203.0.113.7"),
        ("::ffff:203.0.113.7", "203.0.113.7"),  # IPv4 on a dual-stack socket
        ("2001:db8:1:2:3:4:5:6", "2001:db8:1:2::/64"),
        ("2001:db8:1:2:ffff::1", "2001:db8:1:2::/64"),  # the same host, another address
        ("fe80::1%eth0", "fe80::/64"),
        ("not an address", "not an address"),
    ],
)
def test_an_ipv6_host_counts_as_its_64_and_ipv4_as_itself(ip: str, origin: str) -> None:
    assert origin_of(ip) == origin


def test_the_ipv6_prefix_is_configurable() -> None:
    assert origin_of("2001:db8:1:2:3:4:5:6", 48) == "2001:db8:1::/48"
    assert origin_of("2001:db8:1:2:3:4:5:6", 128) == "2001:db8:1:2:3:4:5:6"


def test_peers_are_formatted_with_brackets_for_ipv6() -> None:
    assert format_peer(("127.0.0.1", 5000)) == "127.0.0.1:5000"
    assert format_peer(("::1", 5000, 0, 0)) == "[::1]:5000"
    assert format_peer(None) == "?"


def test_admission_counts_per_origin_and_in_all_and_gives_places_back() -> None:
    gate = Admission(max_total=3, max_per_origin=2)
    assert gate.admit("a") is None and gate.admit("a") is None
    assert "your address" in (gate.admit("a") or "")
    assert gate.admit("b") is None
    assert "Server full" in (gate.admit("c") or "")
    gate.release("a")
    assert gate.admit("c") is None
    assert gate.total == 3 and gate.per_origin == {"a": 1, "b": 1, "c": 1}
    for origin in ("a", "b", "c", "c"):  # releasing what was never admitted changes nothing
        gate.release(origin)
    assert gate.total == 0 and gate.per_origin == {}
    gate.closed = True
    assert "shutting down" in (gate.admit("a") or "")


def test_a_tally_logs_the_first_then_one_line_per_interval_with_the_count() -> None:
    tally = Tally(interval=10.0)
    assert tally.tick(0.0) == 0
    assert [tally.tick(t) for t in (1.0, 2.0, 9.9)] == [None, None, None]
    assert tally.tick(10.0) == 3
    assert tally.tick(10.5) is None


def test_tls_handshakes_in_progress_are_counted_and_given_back() -> None:
    gate = Admission(max_total=100, max_per_origin=100, max_handshakes=2)
    assert gate.admit("a", tls=True) is None and not gate.handshakes_full
    assert gate.admit("b", tls=True) is None and gate.handshakes_full
    assert gate.admit("c") is None  # a plain connection has no handshake
    gate.handshake_over()
    assert not gate.handshakes_full
    assert gate.handshakes == 1 and gate.total == 3
