"""The 1.0 client: how it is told apart (no sockets, no clock), and what it can read."""

from __future__ import annotations

from tcpchat.core.legacy import LegacyWatch, ascii_safe, ascii_safe_bytes


def test_bytes_without_line_end_then_silence_is_a_legacy_client() -> None:
    watch = LegacyWatch()
    assert watch.after_read(line_end=False, held=5, telnet=False)  # start the timer
    assert watch.silence(held=5)
    assert watch.legacy and not watch.watching


def test_a_line_end_ever_seen_ends_the_watch_for_good() -> None:
    watch = LegacyWatch()
    assert not watch.after_read(line_end=True, held=0, telnet=False)
    assert not watch.after_read(line_end=False, held=3, telnet=False)
    assert not watch.silence(held=3)
    assert not watch.legacy


def test_a_telnet_typing_in_character_mode_is_never_legacy() -> None:
    watch = LegacyWatch()
    assert not watch.after_read(line_end=False, held=1, telnet=True)
    assert not watch.silence(held=1)


def test_nothing_held_starts_no_timer_and_a_late_timer_changes_nothing() -> None:
    watch = LegacyWatch()
    assert not watch.after_read(line_end=False, held=0, telnet=False)
    assert not watch.silence(held=0)
    assert watch.watching


def test_turned_off_it_never_decides_legacy() -> None:
    watch = LegacyWatch(enabled=False)
    assert not watch.after_read(line_end=False, held=5, telnet=False)
    assert not watch.silence(held=5)


def test_ascii_text_is_returned_as_it_is() -> None:
    text = "<bob> hi"
    assert ascii_safe(text) is text


def test_non_ascii_becomes_ascii_cyrillic_transliterated_marks_dropped() -> None:
    assert ascii_safe("Анна и Щукин") == "Anna~ i~ Shchukin~"
    assert ascii_safe("café naïve ﬁne") == "cafe~ naive~ fine~"
    assert ascii_safe("日本 ☃ \ufffd") == "??~ ?~ ?~"
    assert ascii_safe("ok, café. Fine-") == "ok, cafe~. Fine-"  # the mark before a full stop


def test_names_that_ascii_would_make_one_stay_apart() -> None:
    """A 1.0 user saw <alice> for alice and alicé, <Vera> for Vera and Вера, and <Server> from
    a user called Сервер (the attack review): "~" is never in a name."""
    shown = [ascii_safe(f"<{name}> hi") for name in ("alice", "alicé", "Vera", "Вера", "Сервер")]
    assert shown == ["<alice> hi", "<alice~> hi", "<Vera> hi", "<Vera~> hi", "<Server~> hi"]


def test_server_lines_decode_as_ascii() -> None:
    data = "*** Борис joined. 2 users online.\n[PM from Анна] всё хорошо\n".encode()
    assert ascii_safe_bytes(data).decode("ascii") == (
        "*** Boris~ joined. 2 users online.\n[PM from Anna~] vse~ khorosho~\n"
    )
