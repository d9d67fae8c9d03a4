"""The interactive client's pieces that need no terminal: completion, history, commands."""

from __future__ import annotations

from tcpchat.client import ui


def test_tab_completes_commands_at_the_start_of_the_line() -> None:
    start, words = ui.complete("/wh", 3, [], "alice")
    assert (start, words) == (0, ["/whisper ", "/who "])
    assert "/r " in ui.complete("/", 1, [], "alice")[1]
    assert "/mode " not in ui.complete("/", 1, [], "alice")[1]


def test_tab_completes_names_but_not_your_own() -> None:
    names = ["alice", "bob", "Bobby", "Борис"]
    assert ui.complete("b", 1, names, "alice") == (0, ["bob: ", "Bobby: "])
    assert ui.complete("/w b", 4, names, "alice") == (3, ["bob ", "Bobby "])
    assert ui.complete("hi бо", 5, names, "alice") == (3, ["Борис "])
    assert ui.complete("hi @bo", 6, names, "alice") == (3, ["@bob ", "@Bobby "])
    assert ui.complete("a", 1, names, "alice") == (0, [])
