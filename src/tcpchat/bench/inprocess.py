"""The server's own CPU per message fanned out, in one process: no sockets, no generator.

``python -m tcpchat.bench.inprocess [--native] [--messages M]`` starts a ``ChatServer`` (no
history, no listeners), connects C clients to it on transports that only count the bytes written
to them, and has S of them send M messages each in batches of W, as the fan-out scenario's clients
do (IRC: ``PRIVMSG #lobby`` then ``PING``; native: a plain line), with a flush after each round
of batches. It prints the process CPU time per message: what the server itself costs per message
to C-1 receivers, without the system calls, the history store or a generator sharing the
machine, so that two trees can be compared on a busy machine (docs/BENCHMARKS.md, issue 16).
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import time
from collections.abc import Sequence

from ..server.app import ChatServer
from ..server.config import ServerConfig
from ..server.connection import Connection
from ..server.irc import IrcConnection
from ..server.logs import LOGGER_NAME


class CountingTransport:
    """Just enough of an asyncio transport for a connection: it keeps a count of what it got."""

    def __init__(self, number: int) -> None:
        self.number = number
        self.written = 0

    def get_extra_info(self, name: str, default: object = None) -> object:
        return ("127.0.0.1", 1024 + self.number) if name == "peername" else default

    def set_write_buffer_limits(self, high: int | None = None, low: int | None = None) -> None:
        pass

    def write(self, data: bytes) -> None:
        self.written += len(data)

    def is_closing(self) -> bool:
        return False

    def get_write_buffer_size(self) -> int:
        return 0

    def close(self) -> None:
        pass

    def abort(self) -> None:
        pass


async def measure(
    native: bool = False,
    clients: int = 100,
    senders: int = 10,
    messages: int = 2000,
    window: int = 64,
) -> tuple[float, int]:
    """(CPU seconds per message, bytes written to all clients) for one run as described above."""
    config = ServerConfig(flood_burst=1e9, flood_rate=1e9, server_name="bench.irc")
    server = ChatServer(config)
    connections: list[Connection] = []
    for n in range(clients):
        conn = Connection(server, "127.0.0.1") if native else IrcConnection(server, "127.0.0.1")
        server.admission.enter("127.0.0.1")
        conn.connection_made(CountingTransport(n))  # type: ignore[arg-type]
        hello = f"/mode json\nb{n}\n" if native else f"NICK b{n}\r\nUSER b{n} 0 * :b\r\n"
        conn.data_received(hello.encode())
        connections.append(conn)
    server._flush()
    batches = [_batches(sender, messages, window, native) for sender in range(senders)]
    started = time.process_time()
    for round_ in range(len(batches[0])):
        for sender in range(senders):
            connections[sender].data_received(batches[sender][round_])
        server._flush()
    spent = time.process_time() - started
    written = sum(conn.transport.written for conn in connections)  # type: ignore[union-attr]
    return spent / (senders * messages), written


def _batches(sender: int, messages: int, window: int, native: bool) -> list[bytes]:
    lines = []
    for seq in range(messages):
        text = f"{sender:03d}{seq:07d} " + "x" * 89  # 100 characters, as the scenario's P=100
        lines.append(f"{text}\n" if native else f"PRIVMSG #lobby :{text}\r\nPING :{seq}\r\n")
    return ["".join(lines[i : i + window]).encode() for i in range(0, messages, window)]


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tcpchat.bench.inprocess", description=__doc__)
    parser.add_argument("--native", action="store_true", help="native JSON clients, not IRC")
    parser.add_argument("--clients", type=int, default=100)
    parser.add_argument("--senders", type=int, default=10)
    parser.add_argument("--messages", type=int, default=2000, help="per sender")
    parser.add_argument("--window", type=int, default=64, help="messages per read")
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args(argv)
    logging.getLogger(LOGGER_NAME).setLevel(logging.WARNING)
    kind = "native" if args.native else "IRC"
    for _ in range(args.runs):
        per_message, written = asyncio.run(
            measure(args.native, args.clients, args.senders, args.messages, args.window)
        )
        print(f"{kind}: {per_message * 1e6:.2f} us of CPU per message, {written:,} bytes written")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
