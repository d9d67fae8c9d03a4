"""Rooms end to end: the real server, users on real sockets as nc and bots would be."""

from __future__ import annotations

from pathlib import Path
from typing import Callable

from tests.conftest import Peer, ServerProcess

Connect = Callable[..., Peer]


def test_rooms_over_nc_join_talk_mark_and_part(connect: Connect) -> None:
    alice, bob, cid = connect("alice"), connect("bob"), connect("cid")
    alice.send("/join #ops\n")
    alice.expect(r"^\*\*\* You joined #ops\. 1 user here: alice\.$")
    bob.send("/join ops\n")
    bob.expect(r"^\*\*\* You joined #ops\. 2 users here: alice, bob\.$")
    alice.expect(r"^\*\*\* bob joined #ops\. 2 users in #ops\.$")
    alice.send("deploy at noon\n")
    alice.expect(r"^\*\*\* Delivered to #ops \(1 user\)\.$")
    bob.expect(r"^<alice> deploy at noon$")
    # bob talks in #lobby again: #ops messages now say where they were said
    bob.send("/join #lobby\n")
    bob.expect(r"^\*\*\* You are talking in #lobby now\. 3 users here")
    alice.send("/me is deploying\n")
    bob.expect(r"^\[#ops\] \* alice is deploying$")
    cid.send("lobby news\n")
    bob.expect(r"^<cid> lobby news$")
    alice.expect(r"^\[#lobby\] <cid> lobby news$")
    alice.send("/part #ops all done\n")
    alice.expect(r"^\*\*\* You left #ops\. You are talking in #lobby\.$")
    bob.expect(r"^\*\*\* alice left #ops \(part: all done\)\. 1 user in #ops\.$")
    # cid was never in #ops and heard none of it
    cid.send("/ping x\n")
    assert cid.expect(r"^\*\*\* PONG x$")
    assert not [line for line in cid.seen if "ops" in line]


def test_rooms_topic_and_users_over_nc(connect: Connect, server: ServerProcess) -> None:
    alice, bob = connect("alice"), connect("bob")
    alice.send("/join #Общий\n")
    alice.expect(r"^\*\*\* You joined #Общий\.")
    alice.send("/topic только по делу\n")
    alice.expect(r"^\*\*\* alice set the topic of #Общий: только по делу$")
    bob.send("/rooms\n")
    bob.expect(r"^\*\*\* 2 rooms:$")
    bob.expect(r"^\*\*\* #lobby  2 users$")
    bob.expect(r"^\*\*\* #Общий  1 user   только по делу$")
    bob.send("/join #ОБЩИЙ\n")
    bob.expect(r"^\*\*\* You joined #Общий\. 2 users here: alice, bob\. Topic: только по делу$")
    bob.send("/users #общий\n")
    bob.expect(r"^\*\*\* 2 users in #Общий: alice, bob\.$")
    bob.send("/users\n")
    bob.expect(r"^\*\*\* 2 users online: alice, bob\.$")
    bob.send("/part #общий see you\n")
    bob.expect(r"^\*\*\* You left #Общий\.")
    # the log tells what each did
    server.wait_log(r"alice joined #Общий \(1 member\)")
    server.wait_log(r"alice set the topic of #Общий: только по делу")
    server.wait_log(r"bob left #Общий: see you")


def test_rooms_in_json_mode_carry_the_room(connect: Connect) -> None:
    alice = connect("alice", json_mode=True)
    bob = connect("bob", json_mode=True)
    alice.send("/join #ops\n")
    room = alice.event("room")
    assert (room["room"], room["joined"], room["online"], room["users"]) == (
        "#ops",
        True,
        1,
        ["alice"],
    )
    bob.send("/join #ops\n")
    bob.event("room")
    join = alice.event("join")
    assert (join["room"], join["name"], join["online"]) == ("#ops", "bob", 2)
    bob.send("hi ops\n")
    message = alice.event("message")
    assert (message["room"], message["from"], message["text"]) == ("#ops", "bob", "hi ops")
    delivered = bob.event("delivered")
    assert (delivered["room"], delivered["recipients"]) == ("#ops", 1)
    # #lobby's events are those of 2.0: no room key
    alice.send("/join #lobby\n")
    alice.event("room")
    alice.send("hi lobby\n")
    message = bob.event("message")
    assert "room" not in message and message["text"] == "hi lobby"
    bob.send("/part\n")
    part = bob.event("part")
    assert (part["room"], part["current"]) == ("#ops", "#lobby")
    bob.send("/rooms\n")
    rooms = bob.event("rooms")["rooms"]
    assert rooms == [
        {"room": "#lobby", "users": 2, "topic": ""},
        {"room": "#ops", "users": 1, "topic": ""},
    ]


def test_a_big_room_gathers_its_joins_into_one_notice(tmp_path: Path) -> None:
    server = ServerProcess(tmp_path, "--big-room", "2")
    peers: list[Peer] = []
    try:
        for name in ("ann", "bob", "cid", "dan", "eve"):
            peer = Peer(server.port)
            peers.append(peer)
            peer.expect(r"^\*\*\* Enter your name:")
            peer.send(f"{name}\n")
            peer.expect(r"^\*\*\* You are ")
        ann = peers[0]
        # ann saw bob join one by one; the lobby grew past 2 with cid, so cid, dan and eve
        # come as one notice at the next sweep (about a second).
        ann.expect(r"^\*\*\* bob joined\. 2 users online\.$")
        gathered = ann.expect(r"^\*\*\* \d+ joined: ")
        assert gathered == "*** 3 joined: cid, dan, eve. 5 users online."
        for peer in peers[1:]:
            peer.send("/quit\n")
        # bob and cid left a big room: gathered; dan's leave makes it small again, so what
        # was gathered goes first, then one notice per leave as in any small room.
        assert ann.line() == "*** 2 left: bob, cid. 3 users online."
        assert ann.line() == "*** dan left (quit). 2 users online."
        assert ann.line() == "*** eve left (quit). 1 user online."
    finally:
        for peer in peers:
            peer.close()
        server.stop()


def test_a_client_of_today_sees_no_room_words(connect: Connect) -> None:
    alice, bob = connect("alice"), connect("bob")
    alice.expect(r"^\*\*\* bob joined\. 2 users online\.$")
    bob.send("hello\n")
    assert bob.line() == "*** Delivered to ALL (1 user)."
    assert alice.line() == "<bob> hello"
    bob.send("/quit\n")
    assert alice.line() == "*** bob left (quit). 1 user online."
