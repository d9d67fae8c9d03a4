"""Unit tests of the log's defences: quoting caps, the budget per client address, rotation.

The budget runs on an injected clock: no test sleeps.
"""

from __future__ import annotations

import logging
import re
from pathlib import Path

import pytest

from tcpchat.core import limits
from tcpchat.core.errors import ConfigError
from tcpchat.server.config import server_config
from tcpchat.server.log_files import SizeCappedFileHandler
from tcpchat.server.logs import (
    FORMAT,
    LOGGER_NAME,
    AddressBudget,
    SafeFormatter,
    SessionLog,
    clip,
    received,
    report_suppressed,
)
from tcpchat.server.logs import (
    setup as setup_logging,
)


class Clock:
    """Time that moves only when the test says so."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class Kept(logging.Handler):
    """Keeps what reaches the handlers, formatted as the log file would have it."""

    def __init__(self) -> None:
        super().__init__()
        self.setFormatter(SafeFormatter(FORMAT))
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(self.format(record))

    def bytes(self) -> int:
        return sum(len(line.encode("utf-8")) + 1 for line in self.lines)


class Budgeted:
    """A logger with an ``AddressBudget`` on a test clock, and what it let through."""

    def __init__(self, name: str, **budget: float) -> None:
        self.clock = Clock()
        self.logger = logging.getLogger(f"test_logs.{name}")
        self.logger.setLevel(logging.DEBUG)
        self.logger.propagate = False
        self.kept = Kept()
        self.logger.handlers = [self.kept]
        self.budget = AddressBudget(self.logger, clock=self.clock, **budget)
        self.logger.filters = [self.budget]

    def say(self, ip: str | None, size: int = 100, level: int = logging.INFO) -> None:
        """One record that costs ``size`` bytes of log (33 of them are the time stamp and level)."""
        extra = {"ip": ip} if ip is not None else None
        self.logger.log(level, "m" * (size - 33), extra=extra)

    def summaries(self) -> list[str]:
        return [line for line in self.kept.lines if "suppressed" in line]


@pytest.fixture
def log(request: pytest.FixtureRequest) -> Budgeted:
    return Budgeted(request.node.name, burst=1000, rate=100, report_every=10)


# --- quoting caps --------------------------------------------------------------------------------


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


def test_session_log_prefixes_the_session_and_tags_the_address(log: Budgeted) -> None:
    records: list[logging.LogRecord] = []
    log.logger.addFilter(lambda record: records.append(record) or True)
    session = SessionLog(log.logger, {"sid": 7, "peer": "10.0.0.1:5000", "ip": "10.0.0.1"})
    session.info("connected (%d connections)", 1)
    assert log.kept.lines[-1].endswith("INFO    [#7 10.0.0.1:5000] connected (1 connections)")
    assert records[-1].ip == "10.0.0.1"


def test_a_percent_in_the_peer_is_a_character_with_or_without_arguments(log: Budgeted) -> None:
    """An IPv6 peer with its zone (a link-local client) writes "%" in the prefix."""
    peer = "[fe80::1%eth0]:5000"
    session = SessionLog(log.logger, {"sid": 8, "peer": peer, "ip": "fe80::/64"})
    session.info("connected (%d connections)", 2)
    session.info("registered as %s (1 online)", "anna")
    session.warning("disconnected (timed out)")
    assert [line.split(" ", 3)[3].strip() for line in log.kept.lines[-3:]] == [
        f"[#8 {peer}] connected (2 connections)",
        f"[#8 {peer}] registered as anna (1 online)",
        f"[#8 {peer}] disconnected (timed out)",
    ]


# --- the budget per address ----------------------------------------------------------------------


def test_a_burst_passes_then_the_address_is_suppressed_then_one_summary(log: Budgeted) -> None:
    for _ in range(10):  # 10 x 100 bytes: the burst of 1000
        log.say("10.0.0.1")
    assert len(log.kept.lines) == 10
    for _ in range(30):
        log.say("10.0.0.1")
    assert len(log.kept.lines) == 10  # kept out, not yet reported
    log.clock.now += 9.9
    log.budget.report()
    assert log.summaries() == []
    log.clock.now += 0.1
    log.budget.report()
    (summary,) = log.summaries()
    assert summary.endswith(
        "WARNING suppressed 30 log records (2.9 KiB) from 10.0.0.1 in the last 10 s"
    )
    log.clock.now += 60
    log.budget.report()
    assert len(log.summaries()) == 1  # nothing more kept out, nothing more to say


def test_a_record_of_control_characters_spends_what_the_file_gets(log: Budgeted) -> None:
    """Each control character is written as its escape (\\x01, four bytes): the budget counts
    those bytes, not the one a character was sent as, so such records write no more than clean
    ones (the abuse benchmark's burst-public-fit wrote four times the rate)."""
    sent = "\x01" * 50  # 50 bytes sent, 200 written
    for _ in range(20):
        log.logger.info("%s -> ALL: %s", "mallory", sent, extra={"ip": "10.0.0.1"})
    assert all(line.endswith("-> ALL: " + "\\x01" * 50) for line in log.kept.lines)
    written = log.kept.bytes()
    # 249 bytes a record, the burst 1000: a record passes while some budget is left (11 did as
    # 99 bytes each, when counted as sent)
    assert len(log.kept.lines) == 5
    assert 1000 <= written <= 1000 + 250
    log.clock.now += 10
    log.budget.report()
    (summary,) = log.summaries()
    assert "suppressed 15 log records (3.6 KiB)" in summary


def test_a_due_summary_is_written_before_the_next_record_of_any_address(log: Budgeted) -> None:
    for _ in range(12):
        log.say("10.0.0.1")
    log.clock.now += 10
    log.say("10.0.0.2")
    assert "suppressed 2 log records" in log.kept.lines[-2]
    assert log.kept.lines[-1].endswith("m" * 67)


def test_the_budget_refills_at_its_rate(log: Budgeted) -> None:
    for _ in range(11):
        log.say("10.0.0.1")
    assert len(log.kept.lines) == 10
    log.clock.now += 1.0  # 100 bytes more: one record
    log.say("10.0.0.1")
    log.say("10.0.0.1")
    assert len(log.kept.lines) == 11


def test_each_address_has_its_own_budget(log: Budgeted) -> None:
    for _ in range(50):
        log.say("10.0.0.1")
    for _ in range(10):
        log.say("10.0.0.2")
    lines = log.kept.lines
    assert len(lines) == 20
    log.clock.now += 10
    log.budget.report()
    (summary,) = log.summaries()
    assert "suppressed 40 log records" in summary and "from 10.0.0.1" in summary


def test_errors_and_the_servers_own_records_always_pass(log: Budgeted) -> None:
    for _ in range(50):
        log.say("10.0.0.1")
    log.say("10.0.0.1", level=logging.ERROR)
    log.say(None)  # start, stop, listening: about no address
    log.say(None, level=logging.WARNING)
    assert len(log.kept.lines) == 13
    assert "ERROR" in log.kept.lines[10]


def test_report_everything_writes_what_is_pending_at_once(log: Budgeted) -> None:
    for _ in range(15):
        log.say("10.0.0.1")
    log.clock.now += 2
    log.budget.report(everything=True)
    (summary,) = log.summaries()
    assert summary.endswith("suppressed 5 log records (0.5 KiB) from 10.0.0.1 in the last 2 s")


def test_report_suppressed_reaches_the_budget_on_the_tcpchat_logger() -> None:
    logger = logging.getLogger(LOGGER_NAME)
    saved = (logger.handlers[:], logger.filters[:], logger.propagate, logger.level)
    kept, clock = Kept(), Clock()
    budget = AddressBudget(logger, burst=100, rate=1, report_every=10, clock=clock)
    logger.handlers, logger.filters, logger.propagate = [kept], [budget], False
    logger.setLevel(logging.INFO)
    try:
        for _ in range(3):
            logger.info("x" * 67, extra={"ip": "10.0.0.9"})
        clock.now += 10
        report_suppressed()
        assert "suppressed 2 log records" in kept.lines[-1]
    finally:
        logger.handlers, logger.filters, logger.propagate = saved[:3]
        logger.setLevel(saved[3])


def test_idle_addresses_are_forgotten(log: Budgeted) -> None:
    for n in range(100):
        log.say(f"10.0.{n}.1")
    for _ in range(20):
        log.say("10.0.0.1")
    log.clock.now += 10
    log.budget.report()  # the summary for 10.0.0.1; every bucket is full again
    log.clock.now += 10
    log.budget.report()
    assert not log.budget._budgets  # noqa: SLF001 (the table must not grow with every address)


def test_an_ordinary_user_is_never_suppressed() -> None:
    """Default budget: 2 lines a second of 300 characters for ten minutes, all logged."""
    log = Budgeted("ordinary")
    for _ in range(2 * 600):
        log.say("10.0.0.1", size=400)
        log.clock.now += 0.5
    assert len(log.kept.lines) == 1200 and log.summaries() == []


def test_twenty_people_behind_one_address_chatting_are_all_logged() -> None:
    """Default budget: an office behind one NAT joins at once, then each says a line a second."""
    log = Budgeted("office")
    for _ in range(20 * 2):
        log.say("10.0.0.1", size=100)
    for _ in range(600):
        for _ in range(20):
            log.say("10.0.0.1", size=200)
        log.clock.now += 1.0
    assert len(log.kept.lines) == 40 + 20 * 600 and log.summaries() == []


def test_one_address_attacking_stays_under_20_kb_a_second() -> None:
    """Default budget: 2,000 records a second of 500 bytes for a minute, as the /quit loop makes."""
    log = Budgeted("attack")
    seconds = 60
    for _ in range(seconds * 100):
        for _ in range(20):
            log.say("127.1.0.1", size=500)
        log.clock.now += 0.01
        log.budget.report()
    log.budget.report(everything=True)
    assert len(log.summaries()) == seconds // 10
    assert log.kept.bytes() < limits.LOG_BUDGET_BURST_BYTES + seconds * 9 * 1024
    sustained = (log.kept.bytes() - limits.LOG_BUDGET_BURST_BYTES) / seconds
    assert sustained < 20_000
    assert re.search(
        r"suppressed \d+ log records \(\d+ KiB\) from 127\.1\.0\.1", log.summaries()[0]
    )


# --- rotation ------------------------------------------------------------------------------------


def test_rotation_counts_bytes_and_keeps_the_backups(tmp_path: Path) -> None:
    path = tmp_path / "chat.log"
    handler = SizeCappedFileHandler(path, maxBytes=1000, backupCount=2, encoding="utf-8")
    handler.setFormatter(SafeFormatter("%(message)s"))
    logger = logging.getLogger("test_logs.rotation")
    logger.propagate = False
    logger.handlers = [handler]
    try:
        for n in range(40):
            # 100 replacement characters: 100 characters, but 300 bytes in UTF-8.
            logger.warning("%02d %s", n, "\ufffd" * 100)
    finally:
        handler.close()
    files = sorted(tmp_path.iterdir())
    assert [f.name for f in files] == ["chat.log", "chat.log.1", "chat.log.2"]
    assert all(0 < f.stat().st_size <= 1000 for f in files)
    assert path.read_text(encoding="utf-8").splitlines()[-1].startswith("39 ")


def test_setup_rotates_the_file_and_installs_one_budget(
    tmp_path: Path, tcpchat_logger: logging.Logger
) -> None:
    setup_logging("INFO", str(tmp_path), True, max_bytes=5000, backups=3)
    path = setup_logging("INFO", str(tmp_path), True, max_bytes=5000, backups=3)
    assert path is not None and re.search(r"chat-[\d_-]+\.log$", path)
    assert sum(isinstance(f, AddressBudget) for f in tcpchat_logger.filters) == 1
    (rotating,) = [h for h in tcpchat_logger.handlers if isinstance(h, SizeCappedFileHandler)]
    assert (rotating.maxBytes, rotating.backupCount) == (5000, 3)


def test_log_size_cap_and_backups_come_from_flags_env_and_file(tmp_path: Path) -> None:
    conf = tmp_path / "server.conf"
    conf.write_text("[server]\nlog_max_bytes = 1000\nlog_backups = 2\n", encoding="utf-8")
    defaults = server_config({"config": "/dev/null"}, {})
    assert (defaults.log_max_bytes, defaults.log_backups) == (10 * 1024 * 1024, 5)
    from_file = server_config({"config": str(conf)}, {})
    assert (from_file.log_max_bytes, from_file.log_backups) == (1000, 2)
    env = {"TCPCHAT_LOG_MAX_BYTES": "0", "TCPCHAT_LOG_BACKUPS": "7"}
    from_env = server_config({"config": str(conf)}, env)
    assert (from_env.log_max_bytes, from_env.log_backups) == (0, 7)
    flags = {"config": str(conf), "log_max_bytes": 3, "log_backups": 1}
    assert server_config(flags, env).log_max_bytes == 3
    with pytest.raises(ConfigError, match="TCPCHAT_LOG_BACKUPS"):
        server_config({"config": "/dev/null"}, {"TCPCHAT_LOG_BACKUPS": "0"})
    with pytest.raises(ConfigError, match="TCPCHAT_LOG_MAX_BYTES"):
        server_config({"config": "/dev/null"}, {"TCPCHAT_LOG_MAX_BYTES": "-1"})


def test_raw_lines_at_debug_show_the_text_only_where_log_text_allows() -> None:
    assert received("hello there", log_text=True) == "'hello there'"
    assert received("hello there", log_text=False) == "11 characters"
    assert received("/w bob hunter2", log_text=False) == "/w (14 characters)"
    assert received("  /me waves", log_text=False) == "/me (11 characters)"
    assert received("//not a command", log_text=False) == "15 characters"


def test_a_line_that_may_be_the_password_is_never_quoted() -> None:
    assert received("sesame", log_text=True, secret=True) == "6 characters"
    assert received("/pass sesame", log_text=True, secret=True) == "/pass (12 characters)"
