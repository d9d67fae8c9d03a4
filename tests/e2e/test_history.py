"""History end to end: the real server keeping room messages in SQLite across restarts."""

from __future__ import annotations

from pathlib import Path

from tests.conftest import Peer, ServerProcess, join_peer


def join(server: ServerProcess, name: str, json_mode: bool = False) -> Peer:
    return join_peer(server.port, name, json_mode=json_mode)


def test_history_is_replayed_on_joining_after_a_server_restart(tmp_path: Path) -> None:
    fast = ("--flood-burst", "100")  # alice types faster than people do
    server = ServerProcess(tmp_path, *fast)
    try:
        alice = join(server, "alice")
        alice.send("/join #ops\n")
        alice.expect(r"^\*\*\* You joined #ops\.")
        alice.send("/topic deploys only\n")
        alice.expect(r"set the topic")
        for n in range(1, 26):
            alice.send(f"deploy step {n}\n")
            alice.expect(r"^\*\*\* Nobody else is in #ops")
        alice.send("/w alice psst\n")  # refused, and private messages are not kept anyway
        alice.expect(r"^!!! ")
        alice.close()
    finally:
        assert server.stop() == 0  # SIGTERM: everything kept is written before the exit
    server = ServerProcess(tmp_path, *fast)
    try:
        bob = join(server, "bob")
        bob.send("/join #OPS\n")
        assert bob.line() == "*** You joined #ops. 1 user here: bob. Topic: deploys only"
        assert bob.line() == "*** History of #ops: the last 20 messages, oldest first."
        replay = [bob.line() for _ in range(20)]
        assert bob.line() == "*** End of history of #ops."
        assert replay[0].endswith(" #6] <alice> deploy step 6")
        assert replay[-1].endswith(" #25] <alice> deploy step 25")
        assert all(line.startswith("[20") and " UTC #" in line for line in replay)
        bob.send("hello again\n")
        assert bob.line() == "*** Nobody else is in #ops: your message reached no one."
        # ids go on after a restart
        bob.send("/history 1\n")
        bob.expect(r"^\*\*\* History of #ops: 1 message")
        assert bob.line().endswith(" #26] <bob> hello again")
        bob.send("/history before 6 3\n")
        bob.expect(r"^\*\*\* History of #ops: 3 messages")
        assert [bob.line()[-6:] for _ in range(3)] == ["step 3", "step 4", "step 5"]
        assert bob.line() == "*** End of history of #ops."
    finally:
        server.stop()


def test_search_finds_words_of_the_current_room_in_json_and_text(tmp_path: Path) -> None:
    server = ServerProcess(tmp_path)
    try:
        alice = join(server, "alice")
        alice.send("/join #ops\n")
        alice.expect(r"^\*\*\* You joined")
        for text in ("Деплой прошёл успешно", "deploy failed: disk full", "lunch?"):
            alice.send(text + "\n")
            alice.expect(r"^\*\*\* Nobody else")
        alice.send("/join #lobby\n")
        alice.expect(r"talking in #lobby")
        alice.send("deploy talk in the lobby\n")
        alice.expect(r"^\*\*\* Nobody else is online")
        bot = join(server, "bot", json_mode=True)
        bot.send("/join #ops\n")
        bot.event("room")
        replay = bot.event("history")
        assert (replay["room"], replay["kind"], replay["count"]) == ("#ops", "replay", 3)
        bot.event("history_end")
        bot.send("/search DEPLOY\n")
        found = bot.event("history")
        assert (found["kind"], found["count"], found["query"]) == ("search", 1, "DEPLOY")
        message = bot.event("message")
        assert (message["history"], message["room"], message["text"]) == (
            True,
            "#ops",
            "deploy failed: disk full",
        )
        assert bot.event("history_end")["count"] == 1
        bot.send('/search деплой "OR" AND *\n')  # query syntax is never interpreted
        assert bot.event("history")["count"] == 0
        bot.send("/search деплой\n")
        assert bot.event("history")["count"] == 1
        assert bot.event("message")["text"] == "Деплой прошёл успешно"
        alice.send("/search nothing here\n")
        alice.expect(r"^\*\*\* Search in ")
        assert alice.seen[-1] == '*** Search in #lobby for "nothing here": nothing found.'
        assert alice.line() == "*** End of search results."
    finally:
        server.stop()


def test_without_history_nothing_is_kept_or_replayed(tmp_path: Path) -> None:
    server = ServerProcess(tmp_path, "--no-history")
    try:
        alice = join(server, "alice")
        alice.send("/join #ops\n")
        alice.expect(r"^\*\*\* You joined")
        alice.send("remember me\n")
        alice.expect(r"^\*\*\* Nobody else")
        bob = join(server, "bob")
        bob.send("/join #ops\n")
        assert bob.line() == "*** You joined #ops. 2 users here: alice, bob."
        bob.send("/history\n")
        assert bob.line() == "!!! This server keeps no history (--no-history)."
        bob.send("/search remember\n")
        assert bob.line() == "!!! This server keeps no history (--no-history)."
    finally:
        server.stop()
    assert not (tmp_path / "data").exists()
