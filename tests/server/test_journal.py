"""The log's account of a command, read from the hub's real answers (``server/journal.py``)."""

from __future__ import annotations

import logging

import pytest

from tcpchat.core.parse import parse_line
from tcpchat.server.journal import journal
from tests.core.test_hub_rooms import RoomChat


def test_a_part_naming_its_room_without_hash_logs_only_the_reason(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """The review: "/part ops see you later" logged "alice left #ops: ops see you later"."""
    chat = RoomChat()
    alice = chat.join("alice")
    chat.line(alice, "/join #ops")
    command = parse_line("/part ops see you later")
    assert command is not None
    out = chat.hub.handle(alice, command, chat.now)
    log = logging.LoggerAdapter(logging.getLogger("test.journal"), {})
    with caplog.at_level(logging.INFO, logger="test.journal"):
        journal(log, alice, out, log_text=True, command=command)
    assert [r.getMessage() for r in caplog.records] == ["alice left #ops: see you later"]
