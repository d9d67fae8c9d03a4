"""The two wire protocols the generator speaks, as bytes to send and bytes to look for. No I/O.

A ``Dialect`` says how a client joins, how it sends one benchmark message, what tells it that it has
joined and what acknowledges a message it sent:

- tcp-chat (``ChatDialect``): ``/mode json`` then the name; joined on the ``registered`` event; a
  message is a plain line; the server acknowledges each with a ``delivered`` event, sent after the
  message was queued for every recipient.
- IRC (``IrcDialect``): ``NICK``/``USER``/``JOIN #bench``; joined at the end of the ``NAMES`` reply;
  a message is ``PRIVMSG #bench``. IRC has no delivery confirmation, so each message is followed by
  ``PING`` and the ``PONG`` stands in for it: the server answers it after it has fanned the message
  out. Senders first become operators and set user mode ``+F`` (ngircd's relaxed flood control).
"""

from __future__ import annotations

import json
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

    def hello(self, index: int, sender: bool) -> bytes:
        return f"/mode json\n{name_of(index)}\n".encode()

    def message(self, sender: int, seq: int, micros: int, size: int) -> bytes:
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

    def hello(self, index: int, sender: bool) -> bytes:
        nick = name_of(index)
        lines = [f"NICK {nick}", f"USER {nick} 0 * :bench"]
        if sender:
            lines += [f"OPER {self.operator} {self.password}", f"MODE {nick} +F"]
        lines.append(f"JOIN {CHANNEL}")
        return "".join(line + "\r\n" for line in lines).encode()

    def message(self, sender: int, seq: int, micros: int, size: int) -> bytes:
        text = padded(sender, seq, micros, size)
        return f"PRIVMSG {CHANNEL} :{text}\r\nPING :{seq}\r\n".encode()

    def pongs(self, body: bytes) -> bytes:
        out = []
        for line in body.splitlines():
            if line.startswith(self.ping):
                out.append(b"PONG " + line[len(self.ping) :] + b"\r\n")
        return b"".join(out)


Dialect = Union[ChatDialect, IrcDialect]
