"""Sockets for the abuse phases: connect from a chosen loopback address, plain or TLS, and join
as a user. All traffic stays on 127.0.0.0/8; every wait has a timeout."""

from __future__ import annotations

import asyncio
import shutil
import socket
import ssl
import subprocess
from pathlib import Path

from .counting import parse_json_line

CONNECT_TIMEOUT_S = 5.0
# A 4,000-byte line of control bytes renders to about 12 KB (each becomes U+FFFD); the
# StreamReader's default limit of 64 KiB would do, but a burst of them must never trip it.
READ_LIMIT = 1 << 20
USER_ADDRESS = "127.0.0.1"  # the ordinary users' address; attackers use 127.1.x.y
# Errors that answer a name (or a password) and leave the session waiting for another one.
_REFUSING_CODES = ("name_", "bad_password", "not_registered")

Stream = tuple[asyncio.StreamReader, asyncio.StreamWriter]

LINE_LIMIT = 4096  # the server's default --max-line
# What the finding pasted: each control byte becomes U+FFFD, 3 bytes, once neutralised.
CONTROL_BYTES = 4000


def fitting_control_bytes(prefix: bytes) -> int:
    """The most control bytes a line starting with ``prefix`` can carry and still be within the
    line limit once each has become U+FFFD (3 bytes): an attacker's answer to a server that holds
    neutralised lines to the limit."""
    return (LINE_LIMIT - len(prefix)) // 3


def sources(count: int) -> list[str]:
    """Attackers' loopback addresses (127.1.0.1, ...), so the per-IP limit does not stop them
    before the limit under test does, and the ordinary users' address stays theirs."""
    return [f"127.1.{i // 250}.{i % 250 + 1}" for i in range(count)]


async def connect_socket(port: int, source: str = USER_ADDRESS, rcvbuf: int = 0) -> socket.socket:
    """A non-blocking TCP socket from ``source`` connected to 127.0.0.1:``port``.

    ``rcvbuf`` > 0 shrinks the receive buffer first (a client that reads slowly or never).
    Raises OSError or asyncio.TimeoutError; the socket is closed then.
    """
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        if rcvbuf:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
        sock.setblocking(False)
        sock.bind((source, 0))
        loop = asyncio.get_running_loop()
        await asyncio.wait_for(loop.sock_connect(sock, ("127.0.0.1", port)), CONNECT_TIMEOUT_S)
    except BaseException:
        sock.close()
        raise
    return sock


async def open_stream(
    port: int,
    source: str = USER_ADDRESS,
    rcvbuf: int = 0,
    tls: ssl.SSLContext | None = None,
) -> Stream:
    """Connect as ``connect_socket`` does and wrap the socket in asyncio streams (TLS if given)."""
    sock = await connect_socket(port, source, rcvbuf)
    try:
        if tls is None:
            return await asyncio.open_connection(sock=sock, limit=READ_LIMIT)
        return await asyncio.wait_for(
            asyncio.open_connection(
                sock=sock, limit=READ_LIMIT, ssl=tls, server_hostname="localhost"
            ),
            CONNECT_TIMEOUT_S,
        )
    except BaseException:
        sock.close()
        raise


class Refused(Exception):
    """The server did not let a user in; the message is its last words (or what happened)."""


async def join(
    port: int,
    name: str,
    source: str = USER_ADDRESS,
    password: str = "",
    tls: ssl.SSLContext | None = None,
    timeout: float = CONNECT_TIMEOUT_S,
    text: bool = False,
) -> Stream:
    """Connect, switch to JSON (unless ``text``: as in nc), give the password if any and
    ``name``; return once registered.

    Raises Refused with what the server answered (a refused name, a full server, a closed
    connection), or OSError / asyncio.TimeoutError. The caller closes the writer.
    """
    reader, writer = await open_stream(port, source, tls=tls)
    try:
        hello = ("" if text else "/mode json\n") + (f"/pass {password}\n" if password else "")
        writer.write(f"{hello}{name}\n".encode())
        last = ""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            line = await asyncio.wait_for(reader.readline(), max(0.0, deadline - loop.time()))
            if not line:
                raise Refused(last or "connection closed")
            event = parse_json_line(line)
            if event is None:
                last = line.decode("utf-8", "replace").strip()  # a refusal comes before JSON
                if text and last.startswith("*** You are "):
                    return reader, writer
                if text and last.startswith("!!! "):
                    raise Refused(last)
                continue
            kind = str(event.get("type", ""))
            if kind == "registered":
                return reader, writer
            if kind == "bye" or (
                kind == "error" and str(event.get("code", "")).startswith(_REFUSING_CODES)
            ):
                raise Refused(str(event.get("text", kind)))
    except BaseException:
        writer.close()
        raise


async def pause(stop: asyncio.Event, seconds: float) -> None:
    """Wait ``seconds``, or less if ``stop`` is set meanwhile."""
    if seconds > 0:
        try:
            await asyncio.wait_for(stop.wait(), seconds)
        except asyncio.TimeoutError:
            pass


def make_certificate(directory: Path) -> tuple[Path, Path]:
    """A throwaway self-signed certificate and key for a TLS listener, made with ``openssl``.

    Reuses the pair if ``directory`` already holds one. Raises RuntimeError without openssl.
    """
    cert, key = directory / "abuse-cert.pem", directory / "abuse-key.pem"
    if cert.exists() and key.exists():
        return cert, key
    openssl = shutil.which("openssl")
    if openssl is None:
        raise RuntimeError("the TLS phases need the openssl command")
    subprocess.run(
        [openssl, "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
         "-nodes", "-days", "1", "-subj", "/CN=localhost",
         "-keyout", str(key), "-out", str(cert)],
        check=True, capture_output=True,
    )  # fmt: skip
    return cert, key


def client_tls() -> ssl.SSLContext:
    """A client context that trusts anything: the server's certificate is the throwaway one."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    return context
