"""End-to-end: look-alike names against the real server over loopback sockets (issue 11, #4)."""

from __future__ import annotations

from typing import Any


def test_an_impostor_of_an_online_name_is_refused_with_a_new_prompt(connect: Any) -> None:
    alice = connect("alice")
    impostor = connect()
    impostor.send("аӏісе\n")  # all Cyrillic: a, palochka, i, es, ie
    assert impostor.line() == (
        '!!! The name "аӏісе" looks too much like "alice", who is online. Choose another one.'
    )
    assert impostor.line() == "*** Enter your name:"
    impostor.send("alice\u034f\n")  # combining grapheme joiner: invisible
    assert impostor.line() == "!!! A name may not contain invisible characters."
    assert impostor.line() == "*** Enter your name:"
    impostor.send("ꜱᴇʀᴠᴇʀ\n")
    assert impostor.line() == (
        '!!! The name "ꜱᴇʀᴠᴇʀ" looks like the reserved name "server". Choose another one.'
    )
    assert impostor.line() == "*** Enter your name:"
    impostor.send("Анна\n")
    assert impostor.line() == "*** You are Анна. 2 users online: alice, Анна."
    impostor.send("/w аӏісе hello\n")  # a look-alike spelling reaches the real alice
    assert alice.expect(r"^\[PM") == "[PM from Анна] hello"


def test_an_impostor_in_json_mode_gets_name_taken(connect: Any) -> None:
    connect("bob")
    impostor = connect(json_mode=True)
    impostor.send("ВОВ\n")  # Cyrillic capitals
    error = impostor.event("error")
    assert error["code"] == "name_taken" and '"bob"' in error["text"]
    assert impostor.event("prompt")["field"] == "name"
