"""The two wire protocols the generator speaks, as bytes to send and bytes to look for. No I/O.

A ``Dialect`` says how a client joins, how it sends one benchmark message, what tells it that it has
joined and what acknowledges a message it sent:

- tcp-chat (``ChatDialect``): ``/mode json`` then the name; joined on the ``registered`` event; a
  message is a plain line; the server acknowledges each with a ``delivered`` event, sent after the
  message was queued for every recipient.
- IRC (``IrcDialect``): ``NICK``/``USER``/``JOIN #bench``; joined at the end of the ``NAMES`` reply;
  a message is ``PRIVMSG #bench``. IRC has no delivery confirmation, so each message is followed by
  ``PING`` and the ``PONG`` stands in for it: the server answers it after it has fanned the message
  out. On ngircd senders first become operators and set user mode ``+F`` (its relaxed flood
  control). ``OURS_IRC`` is the same dialect for our server's IRC listener: its channel is
  ``#lobby``, which the server joins every client to at registration (so no JOIN is sent for it),
  and there is no OPER (ours has no operators and no flood control in the benchmark).

Rooms: a client may also join ``rooms`` (``#r3``) after registering; the last one is where its
messages go, and it counts as joined once the server has answered that join. On tcp-chat everyone
is in ``#lobby`` from registration on; on IRC ``#bench`` stands for it, joined only by clients
that are ``in_lobby`` (a join storm registers its clients in no channel at all); on our IRC
listener ``#lobby`` is that channel too, as it is for native clients.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Union

from .stats import marker

CHANNEL = "#bench"


def name_of(index: int) -> str:
    """The name (nick) of client ``index``: short enough for IRC's 9-character default."""
    return f"b{index}"


def padded(sender: int, seq: int, micros: int, size: int) -> str:
    """Message text of at least ``size`` bytes: the marker, a space, then filler."""
    head = marker(sender, seq, micros)
    return head + " " + "x" * max(0, size - len(head) - 1)


@dataclass(frozen=True)
class ChatDialect:
    name: str = "tcp-chat"
    joined: bytes = b'"type":"registered"'
    ack: bytes = b'"type":"delivered"'
    ping: bytes = b'"type":"ping"'
    echoes: bool = True  # the delivered event repeats the text, marker included
    # The answer to one's own /join (the `room` event) and the notices of others' joins.
    room_answer: bytes = b'"type":"room"'
    join_notice: bytes = b'"type":"join"'
    crowd_notice: bytes = b'"type":"crowd"'
    history_end: bytes = b'"type":"history_end"'

    def hello(
        self, index: int, sender: bool, rooms: Sequence[str] = (), in_lobby: bool = True
    ) -> bytes:
        """Name, then a /join per room (everyone is in #lobby anyway: ``in_lobby`` is IRC's)."""
        lines = ["/mode json", name_of(index), *(f"/join {room}" for room in rooms)]
        return "".join(line + "\n" for line in lines).encode()

    def ready(self, index: int, rooms: Sequence[str] = (), in_lobby: bool = True) -> bytes:
        """What tells client ``index`` that it has joined: its last room's `room` answer (only
        that event has ``"room"`` right before ``"online"``), or ``registered``."""
        if rooms:
            return f'"room":"{rooms[-1]}","online":'.encode()
        return self.joined

    def join(self, room: str) -> bytes:
        return f"/join {room}\n".encode()

    def part(self, room: str) -> bytes:
        return f"/part {room}\n".encode()

    def search(self, text: str) -> bytes:
        return f"/search {text}\n".encode()

    def message(
        self, sender: int, seq: int, micros: int, size: int, room: str | None = None
    ) -> bytes:
        """A plain line: it goes to the sender's current room (the last it joined)."""
        return (padded(sender, seq, micros, size) + "\n").encode()

    def pongs(self, body: bytes) -> bytes:
        """Answers to the server's pings found in ``body`` (complete lines)."""
        out = []
        for line in body.splitlines():
            if self.ping in line:
                token = json.loads(line).get("token", "")
                out.append(f"/pong {token}\n".encode())
        return b"".join(out)


@dataclass(frozen=True)
class IrcDialect:
    name: str = "irc"
    joined: bytes = b" 366 "
    ack: bytes = b" PONG "
    ping: bytes = b"PING "
    echoes: bool = False
    operator: str = "bench"  # the [Operator] block of the generated ngircd.conf
    password: str = "bench"
    registered: bytes = b" 376 "  # end of the message of the day: registration is complete
    join_notice: bytes = b" JOIN "  # one's own join is echoed too, before its NAMES reply
    names_reply: bytes = b" 353 "
    channel: str = CHANNEL  # the lobby: where messages go when a client talks in no room
    lobby_joined: bool = False  # the server joins every client to ``channel`` itself
    oper: bool = True  # senders become operators and set +F (ngircd's relaxed flood control)

    def hello(
        self, index: int, sender: bool, rooms: Sequence[str] = (), in_lobby: bool = True
    ) -> bytes:
        nick = name_of(index)
        lines = [f"NICK {nick}", f"USER {nick} 0 * :bench"]
        if sender and self.oper:
            lines += [f"OPER {self.operator} {self.password}", f"MODE {nick} +F"]
        channels = self._channels(rooms, in_lobby)
        if self.lobby_joined:
            channels = [c for c in channels if c != self.channel]
        if channels:
            lines.append("JOIN " + ",".join(channels))
        return "".join(line + "\r\n" for line in lines).encode()

    def ready(self, index: int, rooms: Sequence[str] = (), in_lobby: bool = True) -> bytes:
        """The end of the NAMES reply of the last channel joined, or of the MOTD if none."""
        channels = self._channels(rooms, in_lobby)
        if not channels:
            return self.registered
        return f" 366 {name_of(index)} {channels[-1]} ".encode()

    def join(self, room: str) -> bytes:
        return f"JOIN {room}\r\n".encode()

    def message(
        self, sender: int, seq: int, micros: int, size: int, room: str | None = None
    ) -> bytes:
        text = padded(sender, seq, micros, size)
        return f"PRIVMSG {room or self.channel} :{text}\r\nPING :{seq}\r\n".encode()

    def pongs(self, body: bytes) -> bytes:
        out = []
        for line in body.splitlines():
            if line.startswith(self.ping):
                out.append(b"PONG " + line[len(self.ping) :] + b"\r\n")
        return b"".join(out)

    def _channels(self, rooms: Sequence[str], in_lobby: bool) -> list[str]:
        return ([self.channel] if in_lobby else []) + list(rooms)


# Our server's IRC listener: everyone is in #lobby from registration on, as on the native port.
OURS_IRC = IrcDialect(channel="#lobby", lobby_joined=True, oper=False)

Dialect = Union[ChatDialect, IrcDialect]
