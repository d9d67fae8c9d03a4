"""The IRC listener's connections: the same ``Connection`` (outbox, flush, limits, drops), with
IRC lines in (``core/irc.IrcClient``) and IRC lines out (``core/irc_render``).

``IrcGate`` stands between a ``Listener`` and the server: it admits each socket as the server
admits every other (the same connection limits), tells a refused IRC client why in an ``ERROR``
line, and makes an ``IrcConnection`` for each admitted one.
"""

from __future__ import annotations

import asyncio
import logging
import socket
import time
from typing import Protocol

from ..core import codes
from ..core.events import Event
from ..core.framing import Frame, LineDecoder
from ..core.irc import CloseLink, IrcClient, Routed, Step
from ..core.irc_queries import IrcNetwork
from ..core.irc_wire import IRC_MAX_LINE
from ..core.session import State
from .connection import Connection, Host
from .logs import LOGGER_NAME, received

log = logging.getLogger(LOGGER_NAME)


class IrcHost(Host, Protocol):
    """What an IRC connection needs from the server besides what every connection needs."""

    irc: IrcNetwork

    def admit_socket(
        self, sock: socket.socket, peer: object, tls: bool, proxy: bool = False, irc: bool = False
    ) -> str | None: ...
    def abandon(self, protocol: asyncio.Protocol) -> None: ...
    def header_read(self) -> None: ...
    def handshake_wait(self) -> bool: ...


class IrcConnection(Connection):
    """One IRC client: its lines go through its ``IrcClient`` to the hub."""

    __slots__ = ("irc", "network")
    MODE = codes.IRC

    def __init__(
        self,
        server: IrcHost,
        origin: str | None = None,
        tls: bool = False,
        peer: tuple[str, int] | None = None,
        via: str = "",
    ) -> None:
        super().__init__(server, origin, tls, peer, via)
        self.network = server.irc
        self.decoder = LineDecoder(IRC_MAX_LINE)
        self.irc: IrcClient | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        super().connection_made(transport)
        if self.session is None:  # cut short as its handshake ended: closed already
            return
        self.irc = IrcClient(self.network, self.server.hub, self.session)

    def data_received(self, data: bytes) -> None:
        # No telnet and no 1.0 client here: IRC is lines of its own.
        if self.outbox.open and not (self.fresh and self.proxy_header(data)):
            self._take(self.decoder.feed(data))

    def _process(self, frames: list[Frame]) -> None:
        irc, session, server, outbox = self.irc, self.session, self.server, self.outbox
        assert irc is not None and session is not None
        debug = log.isEnabledFor(logging.DEBUG)
        for index, frame in enumerate(frames):
            if session.state is State.CLAIMING and self.patient:  # JOIN after NICK and USER
                self._hold(frames[index:])
                return
            if debug:  # never a password: PASS comes before the session has a name
                secret = session.state is State.PASSWORD
                self.log.debug("< %s", received(frame, server.config.log_text, secret))
            self._carry_out(irc.receive(frame, time.time()))
            if not outbox.open:
                return

    def _carry_out(self, steps: list[Step]) -> None:
        server, outbox, visit = self.server, self.outbox, self.visit
        for step in steps:
            if type(step) is bytes:
                self.send(step)
            elif type(step) is Routed:
                command = step.command
                if command is not None:
                    if not visit.announced:
                        visit.line(command)
                    told = step.out if step.unseen is None else step.out + step.unseen
                    server.journal(self, told, command)
                server.route(step.out)
            elif isinstance(step, CloseLink):
                self.close_after_flush(step.reason)
            if not outbox.open:
                return

    def answered(self, event: Event) -> bool:
        """The hub's later answer to this client (a cluster's answer to its NICK, or to its
        PRIVMSG to a nick: core/irc_late.py): True if it was turned into IRC's replies here and
        must not be rendered as it is."""
        if self.irc is None:
            return False
        steps = self.irc.concluded(event)
        if steps is None:
            return False
        self._carry_out(steps)
        return True

    def connection_lost(self, exc: Exception | None) -> None:
        super().connection_lost(exc)
        if self.session is not None:
            self.network.forget(self.session)


class IrcGate:
    """A listener's gate for IRC: the server's admission, IRC's words, IRC connections."""

    speaks_irc = True

    def __init__(self, server: IrcHost) -> None:
        self.server = server

    def admit_socket(
        self, sock: socket.socket, peer: object, tls: bool, proxy: bool = False
    ) -> str | None:
        return self.server.admit_socket(sock, peer, tls, proxy, irc=True)

    def make_protocol(
        self, origin: str, tls: bool, peer: tuple[str, int] | None = None, via: str = ""
    ) -> asyncio.Protocol:
        return IrcConnection(self.server, origin, tls, peer, via)

    def header_read(self) -> None:
        self.server.header_read()

    def handshake_wait(self) -> bool:
        return self.server.handshake_wait()

    def abandon(self, protocol: asyncio.Protocol) -> None:
        self.server.abandon(protocol)
