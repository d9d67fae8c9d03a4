"""What a terminal sends, as keys: bytes in, keys out, without a terminal."""

from __future__ import annotations

from tcpchat.client.keys import KeyDecoder, Paste


def test_decoder_splits_keys_and_utf8_across_reads() -> None:
    d = KeyDecoder()
    assert d.feed(b"hi\x1b[") == ["h", "i"]
    assert d.feed(b"D") == ["left"]
    data = "Жж".encode()
    assert d.feed(data[:1]) == []
    assert d.feed(data[1:]) == ["Ж", "ж"]
    assert d.feed(b"\x1bOA\x1b[3~\x1b[1;5C\x1bb\x7f\r\x03\x04") == [
        "up",
        "delete",
        "ctrl-right",
        "alt-b",
        "backspace",
        "enter",
        "ctrl-c",
        "ctrl-d",
    ]


def test_decoder_turns_bracketed_paste_into_one_paste_even_across_reads() -> None:
    d = KeyDecoder()
    assert d.feed(b"x\x1b[200~one\ntwo\x1b[20") == ["x"]
    assert d.feed(b"1~y") == [Paste("one\ntwo"), "y"]


def test_decoder_drops_unknown_sequences_and_control_characters() -> None:
    d = KeyDecoder()
    assert d.feed(b"\x1b[99za\x00\x1cb") == ["a", "b"]
