"""A stand-in for the 1.0 server that tcp-chat 2 replaces, for the client's tests.

It behaves as the original ``server.py`` did on the wire: it greets each connection with plain
text (no tcp-chat 2 welcome), takes the first thing it receives as the user's name, and from then
on passes every line on. It records what each connection sent, so a test can check the client
sent nothing the old server would have shown to its users.
"""

from __future__ import annotations

import socket
import threading

from tests.conftest import WAIT


class OldServer:
    """The 1.0 server on 127.0.0.1 and a free port, in a thread; ``close`` stops it."""

    def __init__(self, greeting: bytes = b"Welcome! Enter your name: ") -> None:
        self.greeting = greeting
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port: int = self.listener.getsockname()[1]
        self.received: list[bytes] = []  # what each finished connection sent, in order
        self.finished = threading.Condition()
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self.listener.accept()
            except OSError:
                return
            threading.Thread(target=self._session, args=(conn,), daemon=True).start()

    def _session(self, conn: socket.socket) -> None:
        got = b""
        with conn:
            try:
                conn.sendall(self.greeting)
                while True:
                    data = conn.recv(4096)
                    if not data:
                        break
                    if not got:  # the 1.0 server's first read is the name: it tells everyone
                        conn.sendall(data.strip() + b" has joined the chat!\n")
                    got += data
            except OSError:
                pass
        with self.finished:
            self.received.append(got)
            self.finished.notify_all()

    def wait_sessions(self, count: int = 1) -> list[bytes]:
        """What the first ``count`` connections sent, once they have ended (fails after WAIT)."""
        with self.finished:
            if not self.finished.wait_for(lambda: len(self.received) >= count, WAIT):
                raise AssertionError(f"only {len(self.received)} of {count} sessions ended")
            return list(self.received)

    def close(self) -> None:
        self.listener.close()
