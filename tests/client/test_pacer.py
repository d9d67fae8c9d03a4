"""The client's pacer against the server's own flood check, sans I/O: the real hub, our clock.

A line is sent when ``Pacer.take`` says it may be; the hub must then never answer it
``rate_limited``, whatever the line costs (docs/PROTOCOL.md section 9)."""

from __future__ import annotations

from typing import Any, cast

from hypothesis import given, settings
from hypothesis import strategies as st

from tcpchat.client.link import Pacer, ServerLink
from tcpchat.core import codes
from tcpchat.core import events as ev
from tcpchat.core.limits import FLOOD_BURST, FLOOD_RATE_PER_S, PACER_HEADROOM_LINES
from tests.core.test_hub import Chat

HANDSHAKE = ("/mode json", "/nick bot")  # what the pipe sends before its first line


class _Writer:
    def write(self, data: bytes) -> None:
        pass


def rate_limited(lines: list[str], pauses: list[float] | None = None) -> list[str]:
    """The lines of a script the hub refused for flooding, the script sent as a pipe does: the
    handshake at once, then each line when the pacer lets it go (after the script's own pause
    before it, if any)."""
    chat = Chat()
    session = chat.connect()
    link = ServerLink(cast(Any, None), cast(Any, _Writer()))
    for line in HANDSHAKE:
        link.send(line)
        chat.line(session, line)
    pacer = Pacer.for_link(link)  # no welcome read: the server's default limits
    pacer.at = chat.now  # the test's clock from here on
    refused = []
    for i, line in enumerate([*lines, "/quit"]):
        chat.now += pauses[i] if pauses and i < len(pauses) else 0.0
        chat.now += pacer.take(line, chat.now)
        chat.take(session)
        chat.line(session, line)
        answers = chat.take(session)
        if any(isinstance(e, ev.Error) and e.code == codes.RATE_LIMITED for e in answers):
            refused.append(line)
    return refused


def test_seven_lookups_then_a_message_and_the_quit_are_never_rate_limited() -> None:
    assert rate_limited(["/rooms"] * 7 + ["final msg"]) == []
    assert rate_limited(["/history 1"] * 7 + ["final msg"]) == []


def test_a_mix_of_joins_lookups_and_messages_is_never_rate_limited() -> None:
    script = ["/join #a", "/history before 10 3", "/join #lobby", "hi", "/search x"] * 4
    assert rate_limited(script) == []


@settings(max_examples=200, deadline=None)
@given(
    st.lists(
        st.sampled_from(
            ["hi", "/rooms", "/list", "/history 3", "/search x", "", "/ping", "/users", "/join #a"]
        ),
        max_size=40,
    ),
    st.lists(st.floats(min_value=0.0, max_value=3.0), max_size=40),
)
def test_no_script_is_ever_rate_limited(lines: list[str], pauses: list[float]) -> None:
    assert rate_limited(lines, pauses) == []


def test_the_pacer_waits_what_each_line_costs_once_its_burst_is_spent() -> None:
    pacer = Pacer(FLOOD_BURST, FLOOD_RATE_PER_S, now=0.0)
    burst = FLOOD_BURST - PACER_HEADROOM_LINES  # 9 tokens
    assert [pacer.take("/rooms", 0.0) for _ in range(4)] == [0.0] * 4  # 8 spent
    assert pacer.take("/rooms", 0.0) == 1.0 / FLOOD_RATE_PER_S  # 1 left, 2 needed
    assert pacer.take("hello", 0.5) == 1.0 / FLOOD_RATE_PER_S
    assert pacer.take("", 1.0) == 0.25 / FLOOD_RATE_PER_S
    assert pacer.take("hello", 100.0) == 0.0  # refilled to the burst, no further
    assert pacer.tokens == burst - 1
