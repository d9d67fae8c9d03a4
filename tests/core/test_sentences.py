"""The chat's words for its events: one source for the server's text mode and the client."""

from __future__ import annotations

from tcpchat.core import events as ev
from tcpchat.core import sentences
from tcpchat.core.wire import render_text

T = 1_800_000_000.0


def test_hooks_decorate_names_words_and_text_but_not_the_wording() -> None:
    event = ev.Message(T, 1, "bob", "alice", False, "psst")
    assert sentences.message(event) == render_text(event) == "[PM from bob] psst"
    assert (
        sentences.message(event, name=str.upper, words=lambda w: f"_{w}_", text=str.title)
        == "_[PM from _BOB_]_ Psst"
    )
    delivered = ev.Delivered(T, 1, None, True, "waves", 2)
    assert sentences.own_message(delivered, "alice") == "* alice waves"


def test_text_mode_ends_a_list_of_names_as_a_sentence() -> None:
    event = ev.Registered(T, "bob", ("alice", "bob"))
    assert sentences.registered_intro(event) == "You are bob. 2 users online: "
    assert render_text(event) == "*** You are bob. 2 users online: alice, bob."


def test_help_rows_align_the_usages() -> None:
    rows = sentences.help_rows((("/w NAME TEXT", "whisper"), ("/quit", "leave")))
    assert rows == ["/w NAME TEXT  whisper", "/quit         leave"]
