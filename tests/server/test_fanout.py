"""The shared broadcast queue, driven directly: order, skips, modes, rendering once per mode."""

from __future__ import annotations

from unittest import mock

from hypothesis import given
from hypothesis import strategies as st

from tcpchat.core import events as ev
from tcpchat.core.codes import JSON, TEXT
from tcpchat.core.hub import Session
from tcpchat.core.limits import NAME_MAX_CHARS
from tcpchat.core.text import neutralise
from tcpchat.core.wire import render
from tcpchat.server import fanout
from tcpchat.server.fanout import Broadcasts, size_bound


def session(number: int) -> Session:
    return Session(number, f"127.0.0.1:{number}", 0.0, 10)


def say(sender: str, text: str, message_id: int = 1) -> ev.Message:
    return ev.Message(0.0, message_id, sender, None, False, text)


def test_entries_come_back_in_order_from_any_position() -> None:
    shared = Broadcasts()
    for event in (say("ann", "one"), ev.Joined(0.0, "bob", 2), say("ann", "two")):
        shared.add(event)
    assert len(shared) == 3
    assert b"".join(shared.since(0, TEXT, None)) == (
        b"<ann> one\n*** bob joined. 2 users online.\n<ann> two\n"
    )
    assert shared.since(1, TEXT, None) == [b"*** bob joined. 2 users online.\n", b"<ann> two\n"]
    assert shared.since(2, TEXT, None) == [b"<ann> two\n"]
    assert shared.since(3, TEXT, None) == []


def test_the_skipped_session_does_not_get_its_own_entries() -> None:
    ann, bob = session(1), session(2)
    shared = Broadcasts()
    shared.add(say("ann", "hello"), skip=ann)
    shared.add(say("bob", "hi"), skip=bob)
    shared.add(ev.Joined(0.0, "cid", 3))
    assert shared.since(0, TEXT, ann) == [b"<bob> hi\n", b"*** cid joined. 3 users online.\n"]
    assert shared.since(0, TEXT, bob) == [b"<ann> hello\n", b"*** cid joined. 3 users online.\n"]
    assert shared.since(1, TEXT, ann) == [b"<bob> hi\n", b"*** cid joined. 3 users online.\n"]
    assert b"".join(shared.since(0, TEXT, session(3))).count(b"\n") == 3


def test_a_sender_catching_up_on_its_own_message_alone_takes_nothing_and_renders_nothing() -> None:
    ann, bob = session(1), session(2)
    draw = mock.Mock(side_effect=render)
    shared = Broadcasts(draw)
    shared.add(say("ann", "hello"), skip=ann)
    assert shared.since(0, TEXT, ann) == []
    assert draw.call_count == 0  # left for the first reader who gets it
    shared.add(say("bob", "hi"), skip=bob)
    assert shared.since(1, TEXT, ann) == [b"<bob> hi\n"]
    assert shared.since(0, TEXT, bob) == [b"<ann> hello\n"]
    assert shared.since(0, TEXT, None) == [b"<ann> hello\n<bob> hi\n"]
    assert draw.call_count == 2


def test_each_mode_gets_its_own_rendering_made_once() -> None:
    render = mock.Mock(wraps=fanout.render)
    shared = Broadcasts(render)
    shared.add(say("ann", "hello"))
    text = shared.since(0, TEXT, None)
    assert shared.since(0, TEXT, None) == text
    json_lines = shared.since(0, JSON, None)
    assert shared.since(0, JSON, None) == json_lines
    assert render.call_count == 2  # once per mode, however many recipients
    shared.add(say("ann", "again", 2))
    assert b"".join(shared.since(0, JSON, None)).count(b"\n") == 2
    assert render.call_count == 3  # only the new entry
    assert text == [b"<ann> hello\n"]
    assert json_lines[0].startswith(b'{"type":"message",')


def test_clear_starts_a_new_round() -> None:
    ann = session(1)
    shared = Broadcasts()
    shared.add(say("ann", "hello"), skip=ann)
    shared.since(0, TEXT, None)
    shared.clear()
    assert len(shared) == 0 and not shared
    shared.add(say("bob", "hi"))
    assert shared.since(0, TEXT, ann) == [b"<bob> hi\n"]


def test_recipients_of_everything_share_one_joined_buffer() -> None:
    ann = session(1)
    shared = Broadcasts()
    shared.add(say("ann", "one"), skip=ann)
    shared.add(say("bob", "two"))
    first = shared.since(0, TEXT, session(2))
    assert first == [b"<ann> one\n<bob> two\n"]
    assert shared.since(0, TEXT, session(3))[0] is first[0]
    shared.add(say("bob", "three"))
    assert shared.since(0, TEXT, session(2)) == [b"<ann> one\n<bob> two\n<bob> three\n"]
    assert shared.since(0, TEXT, ann) == [b"<bob> two\n", b"<bob> three\n"]


@given(
    text=st.text(max_size=200),
    name=st.text(min_size=1, max_size=NAME_MAX_CHARS),
    mode=st.sampled_from([TEXT, JSON]),
)
def test_the_size_bound_is_never_below_the_rendered_size(text: str, name: str, mode: str) -> None:
    text = neutralise(text)  # what the hub gets from the decoder
    for event in (
        ev.Message(1e9, 2**53, name, None, True, text),
        ev.Left(1e9, name, text, 10**6),
        ev.Joined(1e9, name, 10**6),
        ev.Renamed(1e9, name, name, False),
    ):
        assert len(render(event, mode)) <= size_bound(event)
