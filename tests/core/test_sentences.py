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


def test_the_answer_to_join_is_one_sentence_in_text_mode_made_of_the_clients_parts() -> None:
    event = ev.InRoom(T, "#ops", 53, ("alice", "bob"), "deploys only", True)
    assert render_text(event) == (
        "*** You joined #ops. 53 users here: alice, bob and 51 more. Topic: deploys only"
    )
    assert sentences.in_room_head(event) == "You joined #ops."
    assert sentences.in_room_intro(event) == "53 users here: "
    assert sentences.in_room_more(event) == " and 51 more"
    switch = ev.InRoom(T, "#ops", 2, ("alice", "bob"), "", False)
    assert render_text(switch) == "*** You are talking in #ops now. 2 users here: alice, bob."
    assert sentences.in_room_more(switch) == ""


def test_the_brief_history_separators_say_what_the_block_is() -> None:
    assert sentences.history_begin_brief(ev.HistoryBegin(T, "#ops", "replay", 20)) == (
        "history of #ops: 20 messages"
    )
    assert sentences.history_begin_brief(ev.HistoryBegin(T, "#ops", "page", 0)) == (
        "history of #ops: no earlier messages"
    )
    assert sentences.history_begin_brief(ev.HistoryBegin(T, "#ops", "search", 1, "x y")) == (
        'search in #ops for "x y": 1 message'
    )
    assert sentences.history_end_brief(ev.HistoryEnd(T, "#ops", "page", 3)) == "end of history"
    assert sentences.history_end_brief(ev.HistoryEnd(T, "#ops", "search", 3)) == (
        "end of search results"
    )


def test_room_rows_align_by_the_columns_a_terminal_gives() -> None:
    """The UX review: a CJK room name pushed its row five columns right of the others."""
    rows = sentences.room_rows(
        [("#ops", 3, "deploys"), ("#中文聊天室", 1, "汉字"), ("#lobby", 12, "")]
    )
    assert rows == [
        "#ops         3 users   deploys",
        "#中文聊天室  1 user    汉字",
        "#lobby       12 users",
    ]


def test_a_long_usage_has_a_row_of_its_own_and_the_rest_stay_narrow() -> None:
    rows = sentences.help_rows(
        [("/w NAME TEXT", "whisper"), ("/history [N] | /history before ID [N]", "earlier")]
    )
    assert rows == [
        "/w NAME TEXT  whisper",
        "/history [N] | /history before ID [N]",
        "              earlier",
    ]
