"""Unit tests of the log's defences: what a record may quote of a user's text."""

from __future__ import annotations

import logging

from tcpchat import limits
from tcpchat.logs import SafeFormatter, clip


def test_clip_keeps_short_text_whole() -> None:
    assert clip("hello") == "hello"
    assert clip("x" * limits.LOG_TEXT_MAX_CHARS) == "x" * limits.LOG_TEXT_MAX_CHARS


def test_clip_cuts_long_text_and_says_how_much_was_cut() -> None:
    text = "x" * (limits.LOG_TEXT_MAX_CHARS + 3712)
    assert clip(text) == "x" * limits.LOG_TEXT_MAX_CHARS + "… (+3712 characters)"


def test_clip_cuts_an_echo_of_user_input_shorter() -> None:
    text = "Unknown command: /" + "y" * 4000 + ". Type /help for the commands."
    clipped = clip(text, echo=True)
    assert clipped.startswith("Unknown command: /yyy")
    assert clipped.endswith(f"… (+{len(text) - limits.LOG_ECHO_MAX_CHARS} characters)")
    assert len(clipped) < limits.LOG_ECHO_MAX_CHARS + 30


def test_formatter_escapes_control_characters_as_hex() -> None:
    record = logging.LogRecord("t", logging.INFO, "", 0, "a\nb\x1b[2J\x9bc\u2028d", None, None)
    line = SafeFormatter("%(message)s").format(record)
    assert line == "a\\x0ab\\x1b[2J\\x9bc\\u2028d"
