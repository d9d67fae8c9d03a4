"""End-to-end: rooms in the real ``tcp-client`` in a real terminal (tmux), against the real server.

The prompt names the room you talk in, messages of your other rooms say theirs, Tab completes
room names, a reconnect puts you back in your rooms, and history comes dimmed between separators,
once. The screens and their helpers are those of ``test_client_tmux.py`` (and
``test_client_plain.py`` for the plain mode, which shows rooms the same way).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import WAIT, Peer, ServerProcess, join_peer
from tests.e2e import test_client_plain, test_client_tmux
from tests.e2e.test_client_tmux import Screen, joined

screen = test_client_tmux.screen  # the fixture that starts a client in tmux
plain = test_client_plain.plain  # the same in the plain mode, reached each way

STAMP = r"\d\d:\d\d"
DATED = r"\d{4}-\d\d-\d\d \d\d:\d\d #\d+"


@pytest.fixture
def history_server(tmp_path: Path) -> Iterator[ServerProcess]:
    """The real server, keeping its history in SQLite under the test's directory (the default)."""
    srv = ServerProcess(tmp_path)
    yield srv
    srv.stop()


def dimmed(scr: Screen, text: str) -> bool:
    """Whether ``text`` shows dim on the screen: tmux writes an attribute when it changes, so the
    last dim sequence before it must come after the last reset."""
    shown = scr.text(escapes=True)
    before = shown[: shown.index(text)]
    resets = [m.start() for m in re.finditer(r"\x1b\[0[;m]", before)]
    dims = [m.start() for m in re.finditer(r"\x1b\[2m", before)]
    return bool(dims) and dims[-1] > max(resets, default=-1)


def in_room(port: int, name: str, *rooms: str) -> Peer:
    """A text-mode user in ``rooms`` (and #lobby), talking in the last one."""
    peer = join_peer(port, name)
    for room in rooms:
        peer.send(f"/join {room}\n")
        peer.expect(rf"^\*\*\* You joined #{room}\.")
    return peer


def command(scr: Screen, line: str) -> None:
    scr.type(line)
    scr.keys("Enter")


def test_joining_a_room_puts_it_in_the_prompt(server: ServerProcess, screen: Any) -> None:
    bob = in_room(server.port, "bob", "ops")
    alice = joined(screen(server.port, "--name", "alice"), "alice")
    command(alice, "/join ops")
    # The block's rows after the first are indented (Screen.text joins them to the first).
    alice.wait(rf"^{STAMP} \*\*\* You joined #ops\. 2 users here: alice, bob$")
    assert re.search(r"^ +2 users here: alice, bob$", "\n".join(alice.rows()), re.M)
    alice.wait(lambda: alice.input_row() == "alice@#ops>")
    assert bob.expect(r"alice joined #ops") == "*** alice joined #ops. 2 users in #ops."
    command(alice, "/join lobby")
    alice.wait(r"\*\*\* You are talking in #lobby now\. 2 users here: alice, bob$")
    alice.wait(lambda: alice.input_row() == "alice>")
    command(alice, "/join #ops")
    alice.wait(lambda: alice.input_row() == "alice@#ops>")
    command(alice, "/part #ops see you")
    alice.wait(r"\*\*\* You left #ops\. You are talking in #lobby\.$")
    alice.wait(lambda: alice.input_row() == "alice>")
    assert bob.expect(r"alice left") == "*** alice left #ops (part: see you). 1 user in #ops."
    command(alice, "/part")
    alice.wait(r"You left #lobby\. You are in no room now")
    alice.wait(lambda: alice.input_row() == "alice (no room)>")


def test_messages_from_another_room_say_which(server: ServerProcess, screen: Any) -> None:
    bob = in_room(server.port, "bob", "ops")
    alice = joined(screen(server.port, "--name", "alice"), "alice")
    command(alice, "/join ops")
    alice.wait(lambda: alice.input_row() == "alice@#ops>")
    bob.send("in ops\n")
    alice.wait(rf"^{STAMP} <bob> in ops$")
    carol = join_peer(server.port, "carol")
    alice.wait(rf"^{STAMP} \[#lobby\] --> carol joined \(3 online\)$")
    carol.send("in the lobby\n")
    alice.wait(rf"^{STAMP} \[#lobby\] <carol> in the lobby$")
    command(alice, "for ops")
    assert bob.expect(r"^<alice>") == "<alice> for ops"
    alice.wait(rf"^{STAMP} <alice> for ops \u27131$")
    command(alice, "/join lobby")
    alice.wait(lambda: alice.input_row() == "alice>")
    bob.send("still in ops\n")
    alice.wait(rf"^{STAMP} \[#ops\] <bob> still in ops$")
    carol.send("lobby again\n")
    alice.wait(rf"^{STAMP} <carol> lobby again$")
    assert dimmed(alice, "[#ops]") and not dimmed(alice, "still in ops")


def test_tab_completes_a_room_after_join_and_part(server: ServerProcess, screen: Any) -> None:
    bob = in_room(server.port, "bob", "operations", "design")  # noqa: F841 (stays online)
    alice = joined(screen(server.port, "--name", "alice"), "alice")
    command(alice, "/rooms")
    alice.wait(r"\*\*\* 3 rooms:.*#operations +1 user$")
    rows = "\n".join(alice.rows())
    assert re.search(r"^ +#design +1 user\n +#lobby +2 users\n +#operations +1 user$", rows, re.M)
    alice.type("/join op")
    alice.keys("Tab")
    alice.wait(lambda: alice.input_row() == "alice> /join #operations")
    alice.keys("Enter")
    alice.wait(lambda: alice.input_row() == "alice@#operations>")
    alice.type("/part o")
    alice.keys("Tab")
    alice.wait(lambda: alice.input_row() == "alice@#operations> /part #operations")


def test_a_replay_on_joining_is_dimmed_between_separators_and_shown_once(
    history_server: ServerProcess, screen: Any
) -> None:
    bob = in_room(history_server.port, "bob", "ops")
    for text in ("first from the past", "second from the past"):
        bob.send(f"{text}\n")
        bob.expect(r"Nobody else is in #ops")
    alice = joined(screen(history_server.port, "--name", "alice"), "alice")
    command(alice, "/join ops")
    alice.wait(rf"^{STAMP} ── end of history ──$")
    bob.send("live now\n")
    text = alice.wait(rf"^{STAMP} <bob> live now$")
    block = text[text.index("You joined #ops.") :].splitlines()
    start = next(i for i, row in enumerate(block) if "── history of #ops" in row)
    assert re.fullmatch(rf"{STAMP} ── history of #ops: 2 messages ──", block[start])
    assert re.fullmatch(rf"{DATED} <bob> first from the past", block[start + 1])
    assert re.fullmatch(rf"{DATED} <bob> second from the past", block[start + 2])
    assert re.fullmatch(rf"{STAMP} ── end of history ──", block[start + 3])
    assert dimmed(alice, "first from the past") and dimmed(alice, "second from the past")
    assert dimmed(alice, "end of history") and not dimmed(alice, "live now")
    # Out and in again: only what was said meanwhile is replayed.
    command(alice, "/part")
    alice.wait(lambda: alice.input_row() == "alice>")
    bob.send("while you were out\n")
    bob.expect(r"Nobody else is in #ops")
    command(alice, "/join ops")
    alice.wait(r"── history of #ops: 1 message ──$")
    text = alice.wait(rf"^{DATED} <bob> while you were out\n{STAMP} ── end of history ──$")
    assert text.count("first from the past") == 1
    assert text.count("live now") == 1
    # What you ask for is shown, seen or not; a search says what it looked for.
    command(alice, "/search past")
    text = alice.wait(rf'^{STAMP} ── search in #ops for "past": 2 messages ──$')
    text = alice.wait(rf"^{STAMP} ── end of search results ──$")
    assert text.count("first from the past") == 2


def test_a_reconnect_goes_back_into_every_room_paced_and_talks_where_it_did(
    tmp_path: Path, screen: Any
) -> None:
    (tmp_path / "first").mkdir()
    (tmp_path / "second").mkdir()
    first = ServerProcess(tmp_path / "first")
    port = first.port
    rooms = [f"r{i}" for i in range(1, 13)]  # more joins than the server's burst of lines
    alice = joined(screen(port, "--name", "alice"), "alice")
    try:
        for room in rooms:
            command(alice, f"/join {room}")
        alice.wait(r"You joined #r12\. 1 user here: alice$")
        command(alice, "/join r3")
        alice.wait(lambda: alice.input_row() == "alice@#r3>")
        first.stop()
        alice.wait(r"Connection to 127\.0\.0\.1:\d+ lost\.")
        second = ServerProcess(tmp_path / "second", port=port)
    finally:
        first.stop()
    try:
        alice.wait(r"Reconnected to 127\.0\.0\.1:\d+\.$", timeout=WAIT * 2)
        alice.wait(r"You are talking in #r3 now\. ", timeout=WAIT * 2)
        alice.wait(lambda: alice.input_row() == "alice@#r3>")
        bob = in_room(second.port, "bob", "r3")
        command(alice, "back in r3")
        assert bob.expect(r"^<alice>") == "<alice> back in r3"
        bob.send("/users #r12\n")
        assert bob.expect(r"in #r12") == "*** 1 user in #r12: alice."
        assert "Slow down" not in alice.text()
        bob.close()
    finally:
        second.stop()


def test_the_plain_mode_shows_rooms_as_the_full_client_does(
    server: ServerProcess, plain: Any
) -> None:
    bob = in_room(server.port, "bob", "ops")
    alice = joined(plain(server.port, "--name", "alice"), "alice")
    command(alice, "/join ops")
    alice.wait(rf"^{STAMP} \*\*\* You joined #ops\. 2 users here: alice, bob$")
    alice.wait(lambda: alice.input_row() == "alice@#ops>")
    carol = join_peer(server.port, "carol")
    carol.send("in the lobby\n")
    alice.wait(rf"^{STAMP} \[#lobby\] <carol> in the lobby$")
    bob.send("in ops\n")
    alice.wait(rf"^{STAMP} <bob> in ops$")
    command(alice, "/rooms")
    alice.wait(r"\*\*\* 2 rooms: #lobby +3 users +#ops +2 users$")
    command(alice, "/part")
    alice.wait(lambda: alice.input_row() == "alice>")
