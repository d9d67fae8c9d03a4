"""Unit tests of the log's journal form: the priority prefix journald reads, and when stderr is
taken for the journal (``JOURNAL_STREAM`` naming the very stream, as ``os.fstat`` finds it)."""

from __future__ import annotations

import io
import logging
import os
import re
import sys
from pathlib import Path

import pytest

from tcpchat.server.logs import (
    LOGGER_NAME,
    JournalFormatter,
    is_journal,
    journal_priority,
)
from tcpchat.server.logs import (
    setup as setup_logging,
)

# The time stamp every record of a file or a terminal begins with.
STAMP = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3} ")


def record(level: int, message: str, exc: BaseException | None = None) -> logging.LogRecord:
    info = (type(exc), exc, exc.__traceback__) if exc is not None else None
    return logging.LogRecord(LOGGER_NAME, level, __file__, 1, message, None, info)


def stream_id(path: Path) -> str:
    """``JOURNAL_STREAM`` as systemd would write it for the file at ``path``."""
    found = os.stat(path)
    return f"{found.st_dev}:{found.st_ino}"


@pytest.mark.parametrize(
    ("level", "priority"),
    [
        (logging.DEBUG, 7),
        (logging.INFO, 6),
        (logging.WARNING, 4),
        (logging.ERROR, 3),
        (logging.CRITICAL, 2),
        (logging.INFO + 5, 6),  # a level of its own between two counts as the lower one
        (logging.NOTSET, 7),
    ],
)
def test_each_level_has_its_syslog_priority(level: int, priority: int) -> None:
    assert journal_priority(level) == priority


def test_a_journal_record_begins_with_its_priority_and_has_no_time_stamp() -> None:
    formatter = JournalFormatter()
    assert formatter.format(record(logging.WARNING, "dropping client")) == (
        "<4>WARNING dropping client"
    )
    assert formatter.format(record(logging.INFO, "listening")) == "<6>INFO    listening"
    assert formatter.format(record(logging.DEBUG, "< 'hi'")) == "<7>DEBUG   < 'hi'"


def test_a_journal_record_escapes_control_characters_so_it_stays_one_line() -> None:
    line = JournalFormatter().format(record(logging.INFO, "a\nb\x1b[2J"))
    assert line == "<6>INFO    a\\x0ab\\x1b[2J"


def test_every_line_of_a_traceback_carries_the_errors_priority() -> None:
    try:
        raise RuntimeError("our bug")
    except RuntimeError as exc:
        lines = JournalFormatter().format(record(logging.ERROR, "unhandled", exc)).split("\n")
    assert lines[0] == "<3>ERROR   unhandled"
    assert lines[-1] == "<3>RuntimeError: our bug"
    assert len(lines) > 3 and all(line.startswith("<3>") for line in lines)


def test_a_stream_is_the_journal_only_if_journal_stream_names_it(tmp_path: Path) -> None:
    path, other = tmp_path / "stderr", tmp_path / "elsewhere"
    other.touch()
    with open(path, "w", encoding="utf-8") as stream:
        assert is_journal(stream, {"JOURNAL_STREAM": stream_id(path)})
        # Inherited from a parent whose stderr was the journal, while this one goes to a file.
        assert not is_journal(stream, {"JOURNAL_STREAM": stream_id(other)})
        assert not is_journal(stream, {})
        for junk in ("", ":", "abc", stream_id(path).split(":")[0], "1:2:3", f"{stream_id(path)}x"):
            assert not is_journal(stream, {"JOURNAL_STREAM": junk}), junk


def test_a_pipe_is_the_journal_when_its_numbers_are_given() -> None:
    """journald hands a service a stream socket; a pipe has a device and inode the same way."""
    read_end, write_end = os.pipe()
    os.close(read_end)
    with os.fdopen(write_end, "w") as pipe:
        found = os.fstat(pipe.fileno())
        assert is_journal(pipe, {"JOURNAL_STREAM": f"{found.st_dev}:{found.st_ino}"})
        assert not is_journal(pipe, {"JOURNAL_STREAM": f"{found.st_dev}:{found.st_ino + 1}"})


def test_a_stream_without_a_file_descriptor_is_never_the_journal() -> None:
    assert not is_journal(io.StringIO(), {"JOURNAL_STREAM": "1:2"})


def logged_through_setup(tmp_path: Path, journal_stream: str | None) -> tuple[str, str]:
    """What one WARNING and one INFO record become on a stderr that is the file ``stderr``
    (``JOURNAL_STREAM`` set to ``journal_stream``, or to that file's numbers for ""), and in the
    log file: (stderr, the file)."""
    path = tmp_path / "stderr"
    with open(path, "w", encoding="utf-8") as stderr, pytest.MonkeyPatch.context() as patch:
        patch.setattr(sys, "stderr", stderr)
        if journal_stream is not None:
            patch.setenv("JOURNAL_STREAM", journal_stream or stream_id(path))
        else:
            patch.delenv("JOURNAL_STREAM", raising=False)
        log_file = setup_logging("INFO", str(tmp_path / "logs"), True)
        logger = logging.getLogger(LOGGER_NAME)
        logger.warning("cannot reach the cluster's Redis")
        logger.info("stopped")
        for handler in logger.handlers:
            handler.flush()
    assert log_file is not None
    return path.read_text(encoding="utf-8"), Path(log_file).read_text(encoding="utf-8")


def test_setup_writes_the_journal_form_to_a_stderr_that_is_the_journal(
    tmp_path: Path, tcpchat_logger: logging.Logger
) -> None:
    console, file = logged_through_setup(tmp_path, "")
    assert console.splitlines() == [
        "<4>WARNING cannot reach the cluster's Redis",
        "<6>INFO    stopped",
    ]
    # The file never gets the prefix, and keeps its time stamps.
    lines = file.splitlines()
    assert [STAMP.sub("", line) for line in lines] == [
        "WARNING cannot reach the cluster's Redis",
        "INFO    stopped",
    ]
    assert all(STAMP.match(line) for line in lines)


@pytest.mark.parametrize("journal_stream", [None, "1:2"], ids=["no variable", "another stream"])
def test_setup_writes_time_stamps_to_a_stderr_that_is_not_the_journal(
    tmp_path: Path, tcpchat_logger: logging.Logger, journal_stream: str | None
) -> None:
    console, file = logged_through_setup(tmp_path, journal_stream)
    assert console == file
    assert [STAMP.sub("", line) for line in console.splitlines()] == [
        "WARNING cannot reach the cluster's Redis",
        "INFO    stopped",
    ]
    assert all(STAMP.match(line) for line in console.splitlines())
