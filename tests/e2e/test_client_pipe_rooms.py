"""End-to-end: ``tcp-client`` in a pipe, in rooms, against the real server: confirmations and
exit statuses hold in any room, the text output says room events in the server's words, and
``--json`` passes the room events through."""

from __future__ import annotations

import json
from typing import Any

from tests.conftest import ServerProcess
from tests.e2e.test_client_pipe import run_client


def test_a_message_in_a_room_waits_for_its_confirmation_and_exits_0(
    server: ServerProcess, connect: Any
) -> None:
    bob = connect("bob")
    bob.send("/join ops\n")
    bob.expect(r"^\*\*\* You joined #ops")
    stdin = "/join ops\nhello ops\n/rooms\n/topic deploys only\n"
    done = run_client(server.port, "--name", "bot", stdin=stdin)
    assert done.returncode == 0, done.stderr
    assert bob.expect(r"^<bot>") == "<bot> hello ops"
    lines = done.stdout.splitlines()
    assert "*** You joined #ops. 2 users here: bob, bot." in lines
    assert "*** Delivered to #ops (1 user)." in lines
    rooms = lines.index("*** 2 rooms:")
    assert lines[rooms + 1 : rooms + 3] == ["*** #lobby  2 users", "*** #ops    2 users"]
    assert "*** bot set the topic of #ops: deploys only" in lines
    assert done.stderr == ""


def test_a_plain_line_in_no_room_is_refused_and_exits_3(server: ServerProcess) -> None:
    done = run_client(server.port, "--name", "bot", stdin="/part\nanyone?\n")
    assert done.returncode == 3
    assert "*** You left #lobby. You are in no room now: /join a room to talk." in done.stdout
    assert "1 line refused" in done.stderr


def test_json_passes_the_room_events_through(server: ServerProcess) -> None:
    stdin = "/join ops\nhi\n/part ops bye\n/join no!room\n"
    done = run_client(server.port, "--name", "bot", "--json", stdin=stdin)
    assert done.returncode == 3, done.stderr  # the last /join was refused
    events = [json.loads(line) for line in done.stdout.splitlines()]
    kinds = [e["type"] for e in events]
    assert kinds[:1] == ["registered"] and kinds[-1] == "bye"
    room = events[kinds.index("room")]
    assert (room["room"], room["joined"], room["users"]) == ("#ops", True, ["bot"])
    delivered = events[kinds.index("delivered")]
    assert (delivered["room"], delivered["recipients"], delivered["line"]) == ("#ops", 0, 4)
    part = events[kinds.index("part")]
    assert (part["room"], part["current"]) == ("#ops", "#lobby")
    assert events[kinds.index("error")]["code"] == "room_invalid"
