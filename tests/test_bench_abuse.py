"""The pure parts of the abuse measurement: attacker addresses and the figures table."""

from __future__ import annotations

import ipaddress

from tcpchat.bench.abuse.net import sources as _sources
from tcpchat.bench.abuse.phase import USERS, Phase
from tcpchat.bench.abuse.table import render


def test_attackers_use_distinct_loopback_addresses() -> None:
    sources = _sources(600)
    assert len(set(sources)) == 600
    assert all(ipaddress.ip_address(s).is_loopback for s in sources)
    assert "127.0.0.1" not in sources  # the ordinary users' address stays theirs


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
