"""The 1.0 client: how it is told apart (no sockets, no clock), and what it can read."""

from __future__ import annotations

from tcpchat.core.legacy import Converted, LegacyWatch, ascii_safe, ascii_safe_bytes


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


def test_conversions_are_kept_for_the_next_user_within_a_bound_in_bytes() -> None:
    """A review: the conversions were kept 256 at a time whatever their size, and the bytes of a
    write may be a whole flush of #lobby (115 KB in its run): about 100 MB held for one 1.0 user
    in a busy room. Now what is kept is counted in bytes, and a conversion larger than an eighth
    of that is not kept."""
    kept = Converted(limit=40_000, largest=5_000)
    line = "*** Борис joined.\n".encode()
    first = kept.get(line)
    assert kept.get(line) is first  # the next 1.0 user gets the same bytes, not converted again
    assert first == b"*** Boris~ joined.\n"
    for n in range(200):  # 200 flushes of about 3 KB, each its own
        kept.get(f"{n} ".encode() + "Вера пишет. ".encode() * 120)
        assert kept.size <= 40_000
    assert 0 < len(kept) < 200
    before = kept.size
    big = "Ж".encode() * 3_000  # 12,001 bytes with what it becomes: too large to keep
    converted = kept.get(big)
    assert converted == b"Zh" * 3_000 + b"~"
    assert kept.get(big) is not converted and kept.size == before
