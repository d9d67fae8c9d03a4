"""The real server, keeping its history in memory when it keeps none of its own.

Client tests of history (a replay on joining, ``/history``, ``/search``) need a server that
answers them. Until the server is wired to a store it runs with ``core/archive.NoArchive``; this
script runs the same server (same flags, same code) with ``MemoryArchive`` behind the hub's
archive seam instead. Once the server passes a store of its own that keeps history, that store
is used and this one is not. Run as ``python tests/e2e/history_server.py [tcp-server flags]``.
"""

from __future__ import annotations

import sys
from typing import Any

from tcpchat.cli import server_main
from tcpchat.core.archive import Archive
from tcpchat.core.events import Message
from tcpchat.core.hub import Hub
from tcpchat.core.limits import HubLimits
from tcpchat.server import app


class MemoryArchive:
    """An ``Archive`` in a few dicts: every room message and topic for the life of the process."""

    search_kind = "memory"

    def __init__(self) -> None:
        self.messages: dict[str, list[Message]] = {}
        self.topics: dict[str, tuple[str, str]] = {}

    def last_id(self) -> int:
        return 0

    def keep(self, room_key: str | None, message: Message) -> None:
        if room_key is not None:
            self.messages.setdefault(room_key, []).append(message)

    def recent(self, room_key: str, limit: int, before_id: int | None = None) -> list[Message]:
        kept = self.messages.get(room_key, [])
        found = [m for m in kept if before_id is None or m.id < before_id]
        return found[-limit:]

    def search(self, room_key: str, text: str, limit: int) -> list[Message]:
        words = text.casefold().split()
        kept = self.messages.get(room_key, [])
        found = [m for m in kept if all(w in m.text.casefold() for w in words)]
        return found[-limit:]

    def topic(self, room_key: str) -> tuple[str, str] | None:
        return self.topics.get(room_key)

    def keep_topic(self, room_key: str, name: str, topic: str) -> None:
        self.topics[room_key] = (name, topic)


class MemoryHub(Hub):
    def __init__(self, config: HubLimits | None = None, archive: Archive | None = None) -> None:
        keeps = archive is not None and archive.search_kind
        super().__init__(config, archive if keeps else MemoryArchive())


def main(argv: list[str]) -> int:
    patched: Any = app
    patched.Hub = MemoryHub
    return server_main(argv)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
