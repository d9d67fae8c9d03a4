"""The flood rule, sans I/O: what each line costs, and how a bucket refills (core/flood.py)."""

from __future__ import annotations

import pytest

from tcpchat.core.flood import cost, line_cost, refilled
from tcpchat.core.limits import FLOOD_CHEAP_LINE_COST, FLOOD_LOOKUP_COST
from tcpchat.core.parse import parse_line


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("hello", 1.0),
        ("//rooms is a message", 1.0),
        ("/join #ops", 1.0),
        ("/quit", 1.0),
        ("/nick bot", 1.0),
        ("/history bogus", 1.0),  # a usage error is answered as any line
        ("/rooms", FLOOD_LOOKUP_COST),
        ("/list", FLOOD_LOOKUP_COST),
        ("/history 1", FLOOD_LOOKUP_COST),
        ("/history before 10 3", FLOOD_LOOKUP_COST),
        ("/search deploy", FLOOD_LOOKUP_COST),
        ("", FLOOD_CHEAP_LINE_COST),
        ("   ", FLOOD_CHEAP_LINE_COST),
        ("/ping", FLOOD_CHEAP_LINE_COST),
        ("/pong abc", FLOOD_CHEAP_LINE_COST),
    ],
)
def test_a_line_costs_what_the_server_charges_for_the_command_it_parses_to(
    line: str, expected: float
) -> None:
    assert line_cost(line) == expected == cost(parse_line(line))


def test_a_bucket_refills_at_its_rate_up_to_its_burst() -> None:
    assert refilled(0.0, 100.0, 101.5, burst=10.0, rate=2.0) == 3.0
    assert refilled(-2.0, 100.0, 101.0, burst=10.0, rate=2.0) == 0.0  # a debt is paid first
    assert refilled(9.0, 100.0, 200.0, burst=10.0, rate=2.0) == 10.0
