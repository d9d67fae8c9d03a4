"""Property tests: random byte streams through framing, parsing, the hub and rendering.

Whatever clients send, split wherever TCP splits it: nothing raises, every line that leaves the
server is valid UTF-8 with no raw control character, and nothing grows without bound.
"""

from __future__ import annotations

import json
import re
import unicodedata
from itertools import zip_longest

from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from tcpchat.core import events as ev
from tcpchat.core import text as text_module
from tcpchat.core.codes import JSON
from tcpchat.core.framing import LineDecoder
from tcpchat.core.hub import Hub
from tcpchat.core.limits import MAX_BLANK_RUN, HubLimits
from tcpchat.core.output import Out, ToAll, ToSessions
from tcpchat.core.parse import parse_line
from tcpchat.core.session import State
from tcpchat.core.text import neutralise, neutralise_line
from tcpchat.core.wire import event_fields, render

MAX_LINE = 64
# Help is the longest answer to one line; everything else is one or two short lines.
MAX_REPLY_BYTES = 4096
# Every line a person reads starts with one of these, which no user can produce (PROTOCOL.md §4).
TEXT_MARKERS = ("*** ", "!!! ", "<", "* ", "[PM from ")
RAW_CONTROL = re.compile(r"[\x00-\x08\x0a-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]")

FRAGMENTS = [
    b"\n",
    b"\r\n",
    b"\r",
    b"alice",
    b"bob",
    "Борис".encode(),
    b"/w ",
    b"/msg ",
    b"/me ",
    b"/nick ",
    b"/users",
    b"/help",
    b"/quit",
    b"/mode json",
    b"/mode text",
    b"/ping ",
    b"/pong ",
    b"/pass ",
    b"//",
    b"/",
    b" ",
    b"\x1b[2J",
    b"\x00",
    b"\x07",
    b"\xc2\x9b",
    b"\xe2\x80\xae",
    b"\xff",
    b"\xc3",
    b"x" * 70,
    "ＡＬＩＣＥ".encode(),
]
chunks = st.one_of(st.sampled_from(FRAGMENTS), st.binary(max_size=20))
stream = st.lists(chunks, max_size=60).map(b"".join)
cuts = st.lists(st.integers(min_value=0, max_value=2000), max_size=10)


def split(data: bytes, points: list[int]) -> list[bytes]:
    edges = sorted({p % (len(data) + 1) for p in points} | {0, len(data)})
    return [data[a:b] for a, b in zip(edges, edges[1:])]


def check_output(out: Out) -> None:
    per_session: dict[int, int] = {}
    for item in out:
        if not isinstance(item, (ToAll, ToSessions)):
            continue
        for mode in ("text", "json"):
            data = render(item.event, mode)
            text = data.decode("utf-8")  # raises if not UTF-8
            assert text.endswith("\n")
            for line in text[:-1].split("\n"):
                assert not RAW_CONTROL.search(line), line
                assert mode == "json" or line.startswith(TEXT_MARKERS), line
        size = len(render(item.event, "text"))
        for key in [s.id for s in item.to] if isinstance(item, ToSessions) else [0]:  # 0: all
            per_session[key] = per_session.get(key, 0) + size
    assert all(size <= MAX_REPLY_BYTES for size in per_session.values()), per_session


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(streams=st.lists(st.tuples(stream, cuts), min_size=1, max_size=3))
@example(streams=[(b"/help\nalice\n/help\n/mode json\n/help\n", [3, 9])])
@example(streams=[(b"alice\n\x1b[2J\xc2\x9b\n", []), (b"bob\n/w alice \x07hi\n", [5])])
def test_random_input_never_breaks_the_server_core(streams: list[tuple[bytes, list[int]]]) -> None:
    hub = Hub(HubLimits(max_line=MAX_LINE))
    now = 1000.0
    clients = []
    for _ in streams:
        session, out = hub.connect("127.0.0.1:1", now)
        check_output(out)
        clients.append((session, LineDecoder(MAX_LINE)))
    # Interleave the clients' chunks the way a server would read them.
    pieces = [
        [(i, part) for part in split(data, points)] for i, (data, points) in enumerate(streams)
    ]
    order = [item for group in zip_longest(*pieces) for item in group if item is not None]
    for index, part in order:
        session, decoder = clients[index]
        now += 0.01
        for frame in decoder.feed(part):
            check_output(hub.handle(session, parse_line(frame), now))
        assert decoder.buffered <= MAX_LINE + 1
    check_output(hub.sweep(now + 3600))
    for session, decoder in clients:
        for frame in decoder.feed_eof():
            check_output(hub.handle(session, parse_line(frame), now))
        check_output(hub.disconnect(session, "connection closed", now))
    assert len(hub.roster) == 0 and not hub.sessions
    assert all(session.state is State.CLOSED for session, _ in clients)


any_text = st.text(max_size=40)  # every code point, quotes, backslashes and controls included
maybe_name = st.one_of(st.none(), any_text)
seconds = st.floats(min_value=0, max_value=4e9, allow_nan=False)
ids = st.integers(min_value=0, max_value=2**53)


@settings(max_examples=300, deadline=None)
@given(
    message=st.builds(ev.Message, seconds, ids, any_text, maybe_name, st.booleans(), any_text),
    delivered=st.builds(
        ev.Delivered, seconds, ids, maybe_name, st.booleans(), any_text, st.integers(0, 10**6)
    ),
)
def test_fast_json_of_messages_is_the_generic_encoding(
    message: ev.Message, delivered: ev.Delivered
) -> None:
    # Messages and confirmations skip json.dumps on the hot path; they must not differ from it.
    for event in (message, delivered):
        generic = json.dumps(event_fields(event), ensure_ascii=False, separators=(",", ":"))
        assert render(event, JSON) == (generic + "\n").encode()
        assert json.loads(render(event, JSON)) == event_fields(event)


@given(text=st.text(max_size=60))
@example(text="\u200dok\u00ad")  # printable-looking but not str.isprintable()
def test_neutralise_fast_path_agrees_with_the_full_table(text: str) -> None:
    assert neutralise(text) == text.translate(text_module._NEUTRAL)


# What PROTOCOL.md calls blank, spelled out one character at a time, independently of the
# regular expressions the server uses.
LOOKALIKES = "\u115f\u1160\u2800\u3164\uffa0\U0001d159"


def is_blank(c: str) -> bool:
    code = ord(c)
    reserved_ignorable = code in (0x2065, 0xE0000) or 0xFFF0 <= code <= 0xFFF8
    reserved_ignorable |= 0xE0002 <= code <= 0xE001F or 0xE0080 <= code <= 0xE00FF
    reserved_ignorable |= 0xE01F0 <= code <= 0xE0FFF
    category = unicodedata.category(c)
    return category in ("Zs", "Cf") or c in LOOKALIKES or reserved_ignorable


def is_mark(c: str) -> bool:
    return unicodedata.category(c) in ("Mn", "Me")


def cut_runs(text: str) -> str:
    """Keep the first MAX_BLANK_RUN blanks of each run (and the marks on them), drop the rest."""
    kept = []
    blanks = 0  # blanks so far in the current run; marks neither end a run nor count
    for c in text:
        if is_blank(c):
            blanks += 1
        elif not is_mark(c):
            blanks = 0
        if blanks <= MAX_BLANK_RUN:
            kept.append(c)
    return "".join(kept)


SPACES_AND_LOOKALIKES = (
    " \t\u00a0\u1680\u2000\u2003\u200a\u202f\u205f\u3000\u00ad\u200b\u200d\u2060\ufeff"
)
blank_heavy = st.text(
    alphabet=st.one_of(
        st.sampled_from(SPACES_AND_LOOKALIKES + LOOKALIKES + "\U000e0020\U000e0100\U0001d173"),
        st.sampled_from("\u0301\u034f\u20dd\ufe0f\U0001d167xé<>Жー😀\x00\x1b"),
        st.characters(),
    ),
    max_size=80,
)


@settings(max_examples=500, deadline=None)
@given(text=st.one_of(blank_heavy, st.text(max_size=80)))
@example(text="x" + " \u034f" * 20 + "y")
@example(text="\t" * 20)
def test_no_run_of_blanks_outlives_the_gate(text: str) -> None:
    clean = neutralise_line(text)
    assert clean == cut_runs(neutralise(text))
    assert neutralise_line(clean) == clean


@settings(max_examples=300, deadline=None)
@given(data=st.binary(max_size=200), limit=st.integers(min_value=1, max_value=64))
@example(data=b"\x00" * 30, limit=64)
@example(data=b"\xc2\x80" * 30, limit=64)
def test_a_decoded_line_never_outgrows_the_line_limit(data: bytes, limit: int) -> None:
    for frame in LineDecoder(limit).feed(data + b"\n"):
        if isinstance(frame, str):
            assert len(frame.encode("utf-8")) <= limit


# What a read is made of: whole lines of every kind the gate treats apart, and the bytes between.
READ_PIECES = [
    b"PRIVMSG #lobby :hi",
    b"hello there",
    b"x" * 40,
    b" ",
    b" " * 12,
    b"\r\n",
    b"\n",
    b"\r",
    b"\t",
    b"\x00",
    b"\x7f",
    b"\x1b[2J",
    "é".encode(),
    b"\xc3",
]


def _frames(decoder: LineDecoder, reads: list[bytes], whole: bool) -> list[object]:
    """What ``decoder`` makes of ``reads``, with each str's type and (if neutralised) its raw
    form; ``whole``: may take the reads whole (``feed``), or line by line (``_feed``)."""
    out: list[object] = []
    for data in reads:
        frames = decoder.feed(data) if whole else decoder._feed(data)
        out += [(type(f), f, getattr(f, "raw", None)) for f in frames]
    return out


@settings(max_examples=500, deadline=None)
@given(
    reads=st.lists(st.lists(st.sampled_from(READ_PIECES), max_size=12).map(b"".join), max_size=6),
    limit=st.sampled_from([8, 24, 64, 8703]),
)
@example(reads=[b"a\r\nb\nc\r\n"], limit=64)
@example(reads=[b"one\ntwo\npar", b"t\n"], limit=64)
@example(reads=[b"x" * 30 + b"\n", b"y\n"], limit=8)
def test_a_read_taken_whole_gives_what_it_gives_line_by_line(
    reads: list[bytes], limit: int
) -> None:
    assert _frames(LineDecoder(limit), reads, whole=True) == _frames(
        LineDecoder(limit), reads, whole=False
    )
