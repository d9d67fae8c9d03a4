"""One benchmark client connection, and opening many of them from several loopback addresses.

A ``Peer`` is an ``asyncio.Protocol``: it sends its dialect's hello on connect, scans what arrives
for the joined marker, then cuts the stream at newlines and hands whole lines to its ``Tally``
(receiving) and counts acknowledgements (sending with a bounded window). It never parses a line
it does not have to: a chunk of ten thousand join notices costs one regular-expression scan.

A peer may join ``rooms`` after registering (its messages go to the last one) and may carry a
``Watch``: an object fed every body of whole lines after joining, which counts what a scenario
needs beyond messages (answers to joins, notices, history).
"""

from __future__ import annotations

import asyncio
import os
import socket
import struct
import time
from collections.abc import Sequence
from typing import Callable, Protocol, cast

from .dialects import Dialect
from .stats import Tally

# Clients connect from 127.0.0.2 ... so that 10,000 connections per server, several servers per
# run and the sockets left in TIME_WAIT never exhaust one address's ephemeral ports.
SOURCE_ADDRESSES = 16
# Linux: take the local port at connect() time, so one port serves several destinations.
_IP_BIND_ADDRESS_NO_PORT = getattr(socket, "IP_BIND_ADDRESS_NO_PORT", 24)
# Linux: the kernel stamps each packet as it arrives (CLOCK_REALTIME); recvmsg hands it over.
_SO_TIMESTAMPNS = getattr(socket, "SO_TIMESTAMPNS", 35)
_TIMESPEC = struct.Struct("qq")
_STAMP_SPACE = socket.CMSG_SPACE(_TIMESPEC.size)


class Progress:
    """Counts down the markers still expected by all receivers; ``done`` is set at zero, or as
    soon as a peer is lost (the count would never reach zero then). The count is a stopping rule
    only: ``Tally.check`` finds out afterwards what was lost, duplicated or out of order."""

    __slots__ = ("remaining", "done", "finished_at", "failure")

    def __init__(self, remaining: int) -> None:
        self.remaining = remaining
        self.done = asyncio.Event()
        self.finished_at = 0.0
        self.failure = ""
        if remaining <= 0:
            self.done.set()

    def add(self, count: int) -> None:
        self.remaining -= count
        if self.remaining <= 0 and not self.done.is_set():
            self.finished_at = time.monotonic()
            self.done.set()

    def fail(self, why: str) -> None:
        if not self.done.is_set():
            self.failure = why
            self.finished_at = time.monotonic()
            self.done.set()


class Sender:
    """A sender's window: at most ``window`` messages written and not yet acknowledged."""

    __slots__ = ("index", "total", "window", "size", "sent", "acked")

    def __init__(self, index: int, total: int, window: int, size: int) -> None:
        self.index = index
        self.total = total
        self.window = window
        self.size = size
        self.sent = 0
        self.acked = 0


class Watch(Protocol):
    """Something a scenario counts in what a peer receives after joining, besides messages."""

    def feed(self, body: bytes, now: float) -> None:
        """``body``: whole lines, arrived at ``now`` (``time.monotonic``)."""
        ...


class Peer(asyncio.Protocol):
    """One client: joins, then receives (with a ``Tally``) and may send (with a ``Sender``)."""

    def __init__(
        self,
        index: int,
        dialect: Dialect,
        tally: Tally | None = None,
        progress: Progress | None = None,
        sender: Sender | None = None,
        rooms: Sequence[str] = (),
        in_lobby: bool = True,
        watch: Watch | None = None,
    ) -> None:
        self.index = index
        self.dialect = dialect
        self.tally = tally
        self.progress = progress
        self.sender = sender
        self.rooms = tuple(rooms)
        self.in_lobby = in_lobby
        self.talk = self.rooms[-1] if self.rooms else None  # where its messages go
        self.ready = dialect.ready(index, self.rooms, in_lobby)
        self.watch = watch
        self.transport: asyncio.Transport | None = None
        loop = asyncio.get_running_loop()
        self.answered: asyncio.Future[None] = loop.create_future()  # the first bytes came
        self.joined: asyncio.Future[None] = loop.create_future()
        self.windowed = False  # the sender pumps on acknowledgements (fan-out), not on a clock
        self.buf = b""  # before joining: everything so far
        self.tail = b""  # after joining: the incomplete last line
        self.bytes_in = 0
        self.gone = False
        # Set while arrivals are stamped by the kernel (``stamp_arrivals``): when the data being
        # fed arrived, in µs of time.monotonic; 0 for "now".
        self.arrived_us = 0
        self._stamped: socket.socket | None = None
        self._realtime_offset_ns = 0

    # --- asyncio callbacks -------------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's transports are not subclasses of asyncio.Transport, so no isinstance here.
        self.transport = cast(asyncio.Transport, transport)
        hello = self.dialect.hello(self.index, self.sender is not None, self.rooms, self.in_lobby)
        self.transport.write(hello)

    def data_received(self, data: bytes) -> None:
        self.bytes_in += len(data)
        if not self.answered.done():
            self.answered.set_result(None)
        if not self.joined.done():
            data = self._joining(data)
            if not self.joined.done():
                return
        data = self.tail + data
        cut = data.rfind(b"\n") + 1
        if cut == 0:
            self.tail = data
            return
        if cut == len(data):
            body, self.tail = data, b""
        else:
            body, self.tail = data[:cut], data[cut:]
        tally = self.tally
        if tally is not None:
            found = tally.feed(body, self.arrived_us or time.monotonic_ns() // 1000)
            if found and self.progress is not None:
                self.progress.add(found)
        if self.watch is not None:
            self.watch.feed(body, time.monotonic())
        sender = self.sender
        if sender is not None:
            acks = body.count(self.dialect.ack)
            if acks:
                sender.acked += acks
                if self.windowed:
                    self.pump()
        if self.dialect.ping in body and self.transport is not None:
            answer = self.dialect.pongs(body)
            if answer:
                self.transport.write(answer)

    def connection_lost(self, exc: Exception | None) -> None:
        self.gone = True
        why = f"closed before joining: {self.buf[-200:]!r}"
        for future in (self.answered, self.joined):
            if not future.done():
                future.set_exception(ConnectionError(why))
                future.exception()  # retrieved: nobody may be waiting any more
        if self.progress is not None:
            self.progress.fail(f"client {self.index} was disconnected")

    # --- joining and sending ------------------------------------------------------------------

    def _joining(self, data: bytes) -> bytes:
        """Look for the joined marker; once its line is complete, return what follows it."""
        self.buf += data
        at = self.buf.find(self.ready)
        if at < 0:
            return b""
        end = self.buf.find(b"\n", at)
        if end < 0:
            return b""
        rest, self.buf = self.buf[end + 1 :], b""
        self.joined.set_result(None)
        return rest

    def pump(self) -> None:
        """Fill the window: write as many messages as it allows, in one write."""
        sender, transport = self.sender, self.transport
        if sender is None or transport is None or transport.is_closing():
            return
        room = min(sender.window - (sender.sent - sender.acked), sender.total - sender.sent)
        if room <= 0:
            return
        now = time.monotonic_ns() // 1000
        first = sender.sent
        message, size, talk = self.dialect.message, sender.size, self.talk
        lines = [message(sender.index, seq, now, size, talk) for seq in range(first, first + room)]
        transport.write(b"".join(lines))
        sender.sent += room

    def send_one(self) -> None:
        """Write the next message now, window or not (the latency scenario paces by the clock)."""
        sender, transport = self.sender, self.transport
        if sender is None or transport is None or transport.is_closing():
            return
        if sender.sent >= sender.total:
            return
        now = time.monotonic_ns() // 1000
        transport.write(
            self.dialect.message(sender.index, sender.sent, now, sender.size, self.talk)
        )
        sender.sent += 1

    def write(self, data: bytes) -> None:
        """Send ``data`` as it is (a command of a scenario's own: /join, /search)."""
        if self.transport is not None and not self.transport.is_closing():
            self.transport.write(data)

    def close(self) -> None:
        self._unstamp()
        if self.transport is not None:
            self.transport.abort()

    # --- arrival stamps -------------------------------------------------------------------------

    def stamp_arrivals(self) -> None:
        """From now on, time what arrives by when the kernel queued it to this socket, not by when
        this process got round to reading it. One process reading thousands of sockets on one
        CPU reads the last of them many milliseconds after the first: without stamps, that is
        what a fan-out's tail would measure. The socket is read here (``recvmsg``, through a
        duplicate of its descriptor) and the transport only writes. The kernel turns stamping on
        a moment after the first socket asks (a deferred switch): data without a stamp is timed
        when read, which can only make a latency longer."""
        transport = self.transport
        if transport is None or transport.is_closing():
            return
        sock = transport.get_extra_info("socket")
        stamped = socket.socket(fileno=os.dup(sock.fileno()))
        stamped.setblocking(False)
        stamped.setsockopt(socket.SOL_SOCKET, _SO_TIMESTAMPNS, 1)
        self._realtime_offset_ns = _realtime_offset_ns()
        transport.pause_reading()
        asyncio.get_running_loop().add_reader(stamped.fileno(), self._read_stamped)
        self._stamped = stamped

    def _read_stamped(self) -> None:
        stamped = self._stamped
        if stamped is None:
            return
        try:
            data, ancillary, _, _ = stamped.recvmsg(65536, _STAMP_SPACE)
        except (BlockingIOError, InterruptedError):
            return
        except OSError as exc:
            self._unstamp()
            self.connection_lost(exc)
            return
        if not data:
            self._unstamp()
            self.connection_lost(None)
            return
        self.arrived_us = 0
        for level, kind, raw in ancillary:
            if level == socket.SOL_SOCKET and kind == _SO_TIMESTAMPNS and len(raw) >= 16:
                seconds, nanoseconds = _TIMESPEC.unpack_from(raw)
                arrived = seconds * 1_000_000_000 + nanoseconds - self._realtime_offset_ns
                self.arrived_us = arrived // 1000
        self.data_received(data)

    def _unstamp(self) -> None:
        stamped, self._stamped = self._stamped, None
        if stamped is not None:
            asyncio.get_running_loop().remove_reader(stamped.fileno())
            stamped.close()


def _realtime_offset_ns() -> int:
    """CLOCK_REALTIME minus CLOCK_MONOTONIC now: the one with the closest readings of three."""
    readings = []
    for _ in range(3):
        before = time.monotonic_ns()
        real = time.time_ns()
        after = time.monotonic_ns()
        readings.append((after - before, real - (before + after) // 2))
    return min(readings)[1]


async def open_peer(host: str, port: int, peer: Peer) -> Peer:
    """Connect ``peer`` to ``host:port`` from one of the loopback source addresses."""
    loop = asyncio.get_running_loop()
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        sock.setblocking(False)
        try:
            sock.setsockopt(socket.IPPROTO_IP, _IP_BIND_ADDRESS_NO_PORT, 1)
        except OSError:
            pass
        sock.bind((f"127.0.0.{2 + peer.index % SOURCE_ADDRESSES}", 0))
        await loop.sock_connect(sock, (host, port))
        await loop.create_connection(lambda: peer, sock=sock)
    except BaseException:
        sock.close()
        raise
    return peer


async def join_all(
    host: str,
    port: int | Callable[[Peer], int],
    peers: list[Peer],
    concurrency: int,
    unanswered: int,
    timeout: float,
    total_timeout: float,
) -> tuple[list[float], list[str]]:
    """Connect and join every peer, at most ``concurrency`` at a time, each within ``timeout``
    and all within ``total_timeout`` (peers not started by then fail at once). At most
    ``unanswered`` connections wait for the server's first bytes at any moment. ``port``: one
    for all, or each peer's (a mixed room: native and IRC clients on two ports).

    Returns the seconds each successful join took (connect to joined) and the failures.
    """
    gate = asyncio.Semaphore(concurrency)
    accepting = asyncio.Semaphore(unanswered)
    took: list[float] = []
    failures: list[str] = []
    deadline = time.monotonic() + total_timeout

    async def one(peer: Peer) -> None:
        async with gate:
            start = time.monotonic()
            left = min(timeout, deadline - start)
            if left <= 0:
                failures.append(f"client {peer.index}: not started within {total_timeout:.0f}s")
                return
            try:
                where = port if isinstance(port, int) else port(peer)
                await asyncio.wait_for(_join(host, where, peer, accepting), left)
            except (OSError, asyncio.TimeoutError) as exc:
                failures.append(f"client {peer.index}: {type(exc).__name__}: {exc}")
                peer.close()
                return
            took.append(time.monotonic() - start)

    await asyncio.gather(*(one(peer) for peer in peers))
    return took, failures


async def _join(host: str, port: int, peer: Peer, accepting: asyncio.Semaphore) -> None:
    async with accepting:
        await open_peer(host, port, peer)
        await peer.answered
    await peer.joined
