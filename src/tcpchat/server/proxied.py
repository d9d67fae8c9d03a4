"""Reading a PROXY protocol header (``core/proxy.py``) off an accepted socket, before the
connection is handed to the loop: what comes after the header (the client's first line, its
TLS handshake) stays in the socket for the protocol that follows.

Each read first peeks, then takes exactly the header's bytes, so a byte of the client's never
has to be given back; the wait for more is bounded by the caller (``asyncio.wait_for``).
"""

from __future__ import annotations

import asyncio
import socket

from ..core.proxy import HEADER_MAX_BYTES, header_size, parse_header


async def read_header(sock: socket.socket) -> tuple[str, int] | None:
    """The address and port the proxy's header on ``sock`` (non-blocking) gives for its client,
    None for a header without one (a health check). Raises ProxyHeaderError for something else
    than a header (``header_size`` refuses one longer than ``HEADER_MAX_BYTES``, so the reads are
    bounded), ConnectionError if the proxy closes first, OSError for a socket error."""
    loop = asyncio.get_running_loop()
    taken = b""
    while True:
        try:
            peeked = sock.recv(HEADER_MAX_BYTES - len(taken), socket.MSG_PEEK)
        except (BlockingIOError, InterruptedError):
            await _readable(loop, sock)
            continue
        if not peeked:
            raise ConnectionError("closed before the end of its PROXY header")
        size = header_size(taken + peeked)
        # Everything peeked is header while its end is not in sight.
        end = len(taken) + len(peeked) if size is None else min(size, len(taken) + len(peeked))
        taken += sock.recv(end - len(taken))
        if size is not None and len(taken) == size:
            return parse_header(taken)
        if len(taken) == end:  # all there was is taken: wait for more
            await _readable(loop, sock)


async def _readable(loop: asyncio.AbstractEventLoop, sock: socket.socket) -> None:
    """Return when ``sock`` has something to read (or is closed, or failed)."""
    ready = loop.create_future()

    def wake() -> None:
        if not ready.done():
            ready.set_result(None)

    fd = sock.fileno()
    loop.add_reader(fd, wake)
    try:
        await ready
    finally:
        loop.remove_reader(fd)
