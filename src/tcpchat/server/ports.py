"""The server's ports: bound at the very start, listening once the server is ready.

``reserve_ports`` binds every port the configuration asks for (chat, TLS, IRC) before anything
else starts, without listening: a port in use, an address not this machine's or a bad
certificate stops the start at once, before a cluster is joined (a node restarted by systemd
every few seconds on a taken port would otherwise join and leave the cluster each time) or a
database opened. Connections to a bound port are refused until ``ChatServer.start`` listens on
it, so nobody connects to a server still waiting for its Redis.
"""

from __future__ import annotations

import errno
import socket
import ssl
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ..config import EVERY_ADDRESS, parse_hosts
from ..core.errors import ConfigError
from ..core.limits import LISTEN_BACKLOG, SAME_PORT_TRIES
from .admission import format_peer

if TYPE_CHECKING:
    from .config import ServerConfig


class ListenError(OSError):
    """The server cannot listen on ``where`` (``[::1]:54321``): the port is taken, the address
    is not this machine's, or its name is unknown; the message says which, ``errno`` is the
    system's."""

    def __init__(self, where: str, failure: OSError) -> None:
        super().__init__(f"cannot listen on {where}: {failure.strerror or failure}")
        self.errno = failure.errno
        self.where = where


def split_hosts(host: str) -> list[str | None]:
    """The addresses of a ``--host`` value (several separated by commas, config.parse_hosts),
    as getaddrinfo takes them: None for every address."""
    hosts = parse_hosts(host)
    if hosts in EVERY_ADDRESS:
        return [None]
    return [*hosts.split(",")]


def bind(host: str, port: int, listen: bool = True) -> list[socket.socket]:
    """Listening sockets for ``host`` as asyncio's ``create_server`` makes them: one per address
    it resolves to ('', '*' and '0.0.0.0'-style wildcards included), IPv6 ones with
    IPV6_V6ONLY (so ``::`` is IPv6 only; ``0.0.0.0,::`` or ``*`` is both). ``host`` may list
    several, separated by commas; with port 0 they all get the same free port. Without
    ``listen`` they are only bound (the port is taken, connections to it are refused) until
    ``start_listening``.

    Raises ListenError (port in use, an address not this machine's, an unknown name)."""
    targets: list[tuple[Any, ...]] = []
    for name in split_hosts(host):
        try:
            infos = socket.getaddrinfo(
                name, port, socket.AF_UNSPEC, socket.SOCK_STREAM, 0, socket.AI_PASSIVE
            )
        except OSError as exc:
            raise ListenError(format_peer((name or "*", port)), exc) from None
        for family, kind, proto, _, address in infos:
            if (family, kind, proto, address) not in targets:
                targets.append((family, kind, proto, address))
    # With port 0, the port the first address got may be taken on another one: try again.
    tries = SAME_PORT_TRIES if port == 0 and len(targets) > 1 else 1
    for attempt in range(1, tries + 1):
        try:
            return _bind_all(targets, port, listen)
        except ListenError as exc:
            if exc.errno != errno.EADDRINUSE or attempt == tries:
                raise
    raise AssertionError("not reached: the last try returns or raises")


def _bind_all(targets: list[tuple[Any, ...]], port: int, listen: bool) -> list[socket.socket]:
    """A socket bound (and listening, with ``listen``) on each (family, type, proto, address)
    of ``targets``, all on ``port`` (0: the port the first one gets); none is left open if one
    fails."""
    socks: list[socket.socket] = []
    chosen = port
    for family, kind, proto, address in targets:
        where = (address[0], chosen or address[1], *address[2:])
        try:
            socks.append(_listening(family, kind, proto, where, listen))
        except OSError as exc:
            for sock in socks:
                sock.close()
            raise ListenError(format_peer(where), exc) from None
        chosen = chosen or int(socks[-1].getsockname()[1])
    return socks


def _listening(
    family: int, kind: int, proto: int, address: tuple[Any, ...], listen: bool
) -> socket.socket:
    """A non-blocking socket bound to ``address``, listening with ``listen``; closed again if
    that fails."""
    sock = socket.socket(family, kind, proto)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        if family == socket.AF_INET6 and hasattr(socket, "IPPROTO_IPV6"):
            sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
        sock.bind(address)
        if listen:
            sock.listen(LISTEN_BACKLOG)
        sock.setblocking(False)
    except OSError:
        sock.close()
        raise
    return sock


def start_listening(sock: socket.socket) -> None:
    """Listen on ``sock``, bound by ``bind(..., listen=False)``. Raises ListenError (another
    program took the port meanwhile: both bound with SO_REUSEADDR, it listened first)."""
    try:
        sock.listen(LISTEN_BACKLOG)
    except OSError as exc:
        raise ListenError(format_peer(sock.getsockname()), exc) from None


@dataclass
class Ports:
    """The server's sockets with the TLS context of each, bound at the very start
    (``reserve_ports``: a port in use or a bad certificate stops the start before a cluster is
    joined or a database opened), listening from ``ChatServer.start`` on."""

    chat: list[tuple[socket.socket, ssl.SSLContext | None]] = field(default_factory=list)
    irc: list[tuple[socket.socket, ssl.SSLContext | None]] = field(default_factory=list)

    def close(self) -> None:
        for sock, _ in (*self.chat, *self.irc):
            sock.close()


def reserve_ports(cfg: ServerConfig) -> Ports:
    """Bind (without listening) the chat ports, plain and TLS, and the IRC ones asked for."""
    tls = tls_context(cfg.tls_cert, cfg.tls_key) if cfg.tls_cert else None
    chat: list[tuple[int, ssl.SSLContext | None]] = [(cfg.port, tls)]
    if tls is not None and cfg.tls_port:
        chat = [(cfg.port, None), (cfg.tls_port, tls)]
    irc = [(port, context) for port, context in ((cfg.irc_port, None), (cfg.irc_tls_port, tls))]
    ports = Ports()
    try:
        for plans, into in ((chat, ports.chat), (irc, ports.irc)):
            for port, context in plans:
                if port >= 0:
                    into.extend((sock, context) for sock in bind(cfg.host, port, listen=False))
    except BaseException:
        ports.close()
        raise
    return ports


def tls_context(cert: str, key: str) -> ssl.SSLContext:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    try:
        context.load_cert_chain(cert, key)
    except (OSError, ssl.SSLError) as exc:
        raise ConfigError(f"cannot load TLS certificate {cert} / key {key}: {exc}") from None
    return context
