"""Where the server listens: ``--host`` with one address or several, IPv4 and IPv6 (issue 17)."""

from __future__ import annotations

import asyncio
import contextlib
import errno
import socket
import ssl
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tcpchat.config import parse_hosts
from tcpchat.server import listeners, ports
from tcpchat.server.admission import Admission
from tcpchat.server.app import ChatServer
from tcpchat.server.config import ServerConfig, server_config
from tcpchat.server.connection import Connection
from tcpchat.server.irc import IrcGate
from tcpchat.server.ports import ListenError, bind, split_hosts
from tests.conftest import WAIT


def ipv6_loopback() -> bool:
    """Whether ``::1`` can be bound here. Not every machine has it (a container whose IPv6 is
    turned off, as Docker's default networks do), so the tests that need it are skipped there,
    under CI too: it says where they run, not that a tool is missing."""
    if not socket.has_ipv6:
        return False
    try:
        with socket.socket(socket.AF_INET6, socket.SOCK_STREAM) as s:
            s.bind(("::1", 0))
    except OSError:
        return False
    return True


needs_ipv6 = pytest.mark.skipif(not ipv6_loopback(), reason="no IPv6 loopback (::1) here")


@pytest.fixture
def opened() -> Iterator[list[socket.socket]]:
    """The sockets a test bound, closed after it."""
    socks: list[socket.socket] = []
    yield socks
    for sock in socks:
        sock.close()


@pytest.mark.parametrize(
    ("text", "hosts"),
    [
        ("127.0.0.1", "127.0.0.1"),
        (" 127.0.0.1 , [::1] ", "127.0.0.1,::1"),
        ("0.0.0.0,::,0.0.0.0", "0.0.0.0,::"),
        ("*", "*"),
        ("", ""),
        ("chat.example.org", "chat.example.org"),
    ],
)
def test_host_takes_a_list_of_addresses(text: str, hosts: str) -> None:
    assert parse_hosts(text) == hosts


@pytest.mark.parametrize("text", ["127.0.0.1,", ",::1", "a,,b", "[]"])
def test_an_empty_address_in_a_list_is_refused(text: str) -> None:
    with pytest.raises(ValueError, match="an empty address"):
        parse_hosts(text)


def test_every_address_is_star_or_nothing() -> None:
    assert split_hosts("*") == [None]
    assert split_hosts("") == [None]
    assert split_hosts("127.0.0.1, ::1") == ["127.0.0.1", "::1"]


def test_the_list_comes_from_flags_environment_and_file_alike(tmp_path: Path) -> None:
    conf = tmp_path / "server.conf"
    conf.write_text("[server]\nhost = 0.0.0.0, ::\n")
    assert server_config({"config": str(conf)}, {}).host == "0.0.0.0,::"
    env = {"TCPCHAT_HOST": "127.0.0.1,[::1]"}
    assert server_config({"config": str(conf)}, env).host == "127.0.0.1,::1"


@needs_ipv6
def test_several_addresses_listen_on_one_free_port(opened: list[socket.socket]) -> None:
    opened += bind("127.0.0.1,::1", 0)
    assert [s.family for s in opened] == [socket.AF_INET, socket.AF_INET6]
    ports = {s.getsockname()[1] for s in opened}
    assert len(ports) == 1 and ports != {0}


@needs_ipv6
def test_ipv6_alone_is_ipv6_only(opened: list[socket.socket]) -> None:
    opened += bind("::", 0)
    assert len(opened) == 1
    assert opened[0].getsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY) == 1


def test_a_port_in_use_names_the_address(opened: list[socket.socket]) -> None:
    opened += bind("127.0.0.1", 0)
    port = opened[0].getsockname()[1]
    with pytest.raises(ListenError) as failure:
        bind("127.0.0.1", port)
    assert failure.value.errno == errno.EADDRINUSE
    assert str(failure.value) == f"cannot listen on 127.0.0.1:{port}: Address already in use"


@needs_ipv6
def test_an_ipv6_address_is_named_in_brackets(opened: list[socket.socket]) -> None:
    opened += bind("::1", 0)
    port = opened[0].getsockname()[1]
    with pytest.raises(ListenError, match=rf"^cannot listen on \[::1\]:{port}: "):
        bind("127.0.0.1,::1", port)


def test_a_port_taken_on_a_later_address_is_tried_again(monkeypatch: pytest.MonkeyPatch) -> None:
    """With port 0 the free port of the first address may be taken on another: a few tries."""
    tries: list[int] = []
    taken = OSError(errno.EADDRINUSE, "Address already in use")

    def bind_all(targets: object, port: int, listen: bool) -> list[socket.socket]:
        tries.append(port)
        if len(tries) < 3:
            raise ListenError("[::1]:40000", taken)
        return []

    monkeypatch.setattr(ports, "_bind_all", bind_all)
    assert bind("127.0.0.1,127.0.0.2", 0) == []
    assert tries == [0, 0, 0]
    tries.clear()
    with pytest.raises(ListenError):
        bind("127.0.0.1,127.0.0.2", 5000)  # a port chosen by the user is not changed
    assert tries == [5000]


# --- making room for a TLS handshake ------------------------------------------------------------


class RecordingGate:
    """A listener's gate that admits everyone and notes what it is told."""

    speaks_irc = False

    def __init__(self) -> None:
        self.calls: list[str] = []

    def admit_socket(
        self, sock: socket.socket, peer: object, tls: bool, proxy: bool = False
    ) -> str | None:
        self.calls.append(f"admit {peer} proxy={proxy}")
        return "127.0.0.1"

    def make_protocol(
        self, origin: str, tls: bool, peer: tuple[str, int] | None = None, via: str = ""
    ) -> asyncio.Protocol:
        return asyncio.Protocol()

    def header_read(self) -> None:
        self.calls.append("header read")

    def abandon(self, protocol: asyncio.Protocol) -> None:
        self.calls.append("abandon")


async def one_turn() -> None:
    """Let the loop run once what is ready (each task scheduled takes its next step)."""
    loop = asyncio.get_running_loop()
    turned = loop.create_future()
    loop.call_soon(turned.set_result, None)
    await turned


def test_a_connection_is_cut_short_for_a_handshake_only_once_it_started() -> None:
    """A task cancelled before its first step runs none of its code: it would neither give its
    place back nor close its socket. So only a started one, in its handshake, makes room; a
    proxy's, until its header is read and it is admitted, does not either."""

    async def run() -> None:
        gate = RecordingGate()
        server = socket.create_server(("127.0.0.1", 0))
        server.setblocking(False)
        tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)  # no handshake gets that far here
        listener = listeners.Listener(server, gate, tls, handshake_timeout=10.0)
        clients = [socket.create_connection(server.getsockname()) for _ in range(2)]
        try:
            plain, peer = server.accept()
            proxied, proxy = server.accept()
            listener._start(plain, peer, "127.0.0.1", proxy=False)
            listener._start(proxied, proxy, "(PROXY header)", proxy=True)
            assert not listener.oldest_handshake()  # neither has started
            await one_turn()  # one step each: a handshake begun, a header awaited
            oldest = listener.oldest_handshake()  # the one in its handshake
            assert oldest and listener.cut_short(oldest[1])
            for _ in range(100):  # the cancellation reaches it in a loop turn or a few
                if gate.calls:
                    break
                await one_turn()
            assert gate.calls == ["abandon"]
            assert plain.fileno() == -1  # closed
            assert not listener.oldest_handshake()  # the proxy's is spared while it reads
            assert proxied.fileno() >= 0
        finally:
            listener.close()
            await listener.wait_closed()
            for sock in (*clients, server):
                sock.close()

    asyncio.run(asyncio.wait_for(run(), 10))


class CountingAdmission(Admission):
    """The server's admission, noting the most TLS handshakes it ever counted at once and
    every connection it admitted."""

    def __init__(self, max_handshakes: int, expected: int, per_origin: int = 1000) -> None:
        super().__init__(max_total=1000, max_per_origin=per_origin, max_handshakes=max_handshakes)
        self.most = 0
        self.admitted = 0
        self.expected = expected
        self.all_in = asyncio.Event()

    def admit(self, origin: str, tls: bool = False) -> str | None:
        refusal = super().admit(origin, tls)
        self.most = max(self.most, self.handshakes)
        self.admitted += refusal is None
        if self.admitted == self.expected:
            self.all_in.set()
        return refusal


def closed_by_server(sock: socket.socket) -> bool:
    """Whether the server closed ``sock``'s connection (it sent nothing)."""
    sock.setblocking(False)
    try:
        return sock.recv(1) == b""
    except BlockingIOError:
        return False
    except ConnectionResetError:
        return True


def test_tls_handshakes_in_progress_never_pass_their_cap() -> None:
    """A burst of silent TLS connections, all waiting in the backlog at once: each is admitted
    (the oldest handshake cut short for it), and the handshakes counted never pass the cap, not
    even inside one batch of accepts, where those accepted just now have not begun."""

    async def run() -> None:
        server = ChatServer(ServerConfig(log_file=False))
        server.admission = admission = CountingAdmission(max_handshakes=4, expected=30)
        sock = socket.create_server(("127.0.0.1", 0))
        sock.setblocking(False)
        server._listen(sock, server, ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER))
        listener = server.listeners[0]
        clients = [socket.create_connection(sock.getsockname()) for _ in range(30)]
        try:
            await asyncio.wait_for(admission.all_in.wait(), WAIT)
            assert admission.most == 4
            for _ in range(100):  # the last ones begin their handshakes in a turn or a few
                if admission.handshakes == 4 and listener.in_handshake:
                    break
                await one_turn()
            assert (admission.handshakes, admission.total) == (4, 4)
            for _ in range(100):  # the 26 oldest are closed by the server, each in its task
                if sum(map(closed_by_server, clients)) == 26:
                    break
                await one_turn()
            assert [closed_by_server(client) for client in clients] == [True] * 26 + [False] * 4
        finally:
            listener.close()
            await listener.wait_closed()
            for client in clients:
                client.close()

    asyncio.run(run())


# --- handshakes that end in the very turn another connection comes ------------------------------


async def turn_until(condition: Callable[[], bool], what: str) -> None:
    """Let the loop turn until ``condition`` holds; fail after WAIT seconds."""
    deadline = time.monotonic() + WAIT
    while not condition():
        assert time.monotonic() < deadline, f"{what}: not within {WAIT} s"
        await one_turn()


class HandTls:
    """A TLS client driven by hand: the test chooses when its last handshake message goes."""

    def __init__(self, address: tuple[str, int]) -> None:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
        self.sock = socket.create_connection(address)
        self.sock.setblocking(False)
        self.incoming, self.outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
        self.tls = context.wrap_bio(self.incoming, self.outgoing)
        with contextlib.suppress(ssl.SSLWantReadError):
            self.tls.do_handshake()
        self.sock.sendall(self.outgoing.read())  # its hello

    async def last_message(self) -> bytes:
        """Read the server's side of the handshake: the client's last message, not sent yet."""
        deadline = time.monotonic() + WAIT
        while True:
            try:
                self.tls.do_handshake()
                return self.outgoing.read()
            except ssl.SSLWantReadError:
                pass
            try:
                self.incoming.write(self.sock.recv(65536))
            except BlockingIOError:
                assert time.monotonic() < deadline, "no answer from the server"
                await one_turn()

    async def answer_the_close(self) -> None:
        """Read what the server sends until it ends the connection, answering its TLS
        close_notify as a client does."""
        deadline = time.monotonic() + WAIT
        while True:
            try:
                data = self.sock.recv(65536)
            except BlockingIOError:
                assert time.monotonic() < deadline, "the server did not close"
                await one_turn()
                continue
            except ConnectionResetError:
                return
            if not data:
                return
            self.incoming.write(data)
            try:
                while self.tls.read(65536):
                    pass
            except ssl.SSLWantReadError:
                continue
            except ssl.SSLZeroReturnError:
                pass
            with contextlib.suppress(ssl.SSLError):  # b"" or the error: its close_notify came
                self.tls.unwrap()
            self.sock.sendall(self.outgoing.read())
            return


def tls_server(
    certificate: tuple[Path, Path],
    max_handshakes: int,
    listening: int = 1,
    per_origin: int = 1000,
    irc: bool = False,
) -> tuple[ChatServer, CountingAdmission, list[listeners.Listener]]:
    """A server whose admission counts (``CountingAdmission``), with ``listening`` TLS
    listeners (IRC ones with ``irc``) on free loopback ports (to close with ``close_all``)."""
    server = ChatServer(ServerConfig(log_file=False))
    server.admission = CountingAdmission(max_handshakes, expected=0, per_origin=per_origin)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(*map(str, certificate))
    for _ in range(listening):
        sock = socket.create_server(("127.0.0.1", 0))
        sock.setblocking(False)
        server._listen(sock, IrcGate(server) if irc else server, context)
    return server, server.admission, server.listeners


async def close_all(server: ChatServer, *clients: socket.socket) -> None:
    for listener in server.listeners:
        listener.close()
    for listener in server.listeners:
        await listener.wait_closed()
    for conn in list(server.connections):
        if conn.transport is not None:
            conn.transport.abort()
    for client in clients:
        client.close()


def in_handshake_alone(listener: listeners.Listener) -> Connection:
    """The one connection of ``listener`` in its TLS handshake."""
    [protocol] = [started[1] for started in listener._starting.values() if started]
    assert isinstance(protocol, Connection)
    return protocol


def test_a_handshake_that_ends_as_others_arrive_is_not_the_one_cut_short(
    certificate: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    """At a cap of one, A's handshake ends in the loop turn in which two more connections are
    accepted, before A's task resumes: A is a session now, not a handshake to cut short. The
    first newcomer takes the free place; the second waits a turn, then cuts the first short.
    A stays, and the handshakes never pass one."""

    async def run() -> None:
        server, admission, [listener] = tls_server(certificate, max_handshakes=1)
        address = listener.sock.getsockname()
        alice = HandTls(address)
        await turn_until(lambda: listener.in_handshake, "alice in her handshake")
        conn = in_handshake_alone(listener)
        last = await alice.last_message()
        listener.pause()  # the next two wait in the backlog
        newcomers = [socket.create_connection(address) for _ in range(2)]
        made = Connection.connection_made

        def connection_made(self: Connection, transport: asyncio.BaseTransport) -> None:
            made(self, transport)
            if self is conn:  # accepted in this turn, before her task resumes
                listener.resume()
                asyncio.get_running_loop().call_soon(listener._accept)

        monkeypatch.setattr(Connection, "connection_made", connection_made)
        alice.sock.sendall(last)
        try:
            await turn_until(lambda: closed_by_server(newcomers[0]), "the first newcomer cut")
            assert conn.session is not None and conn in server.connections
            assert conn.transport is not None and not conn.transport.is_closing()
            assert not closed_by_server(alice.sock) and not closed_by_server(newcomers[1])
            assert (admission.most, admission.handshakes, admission.total) == (1, 1, 2)
        finally:
            await close_all(server, alice.sock, *newcomers)

    asyncio.run(run())


@pytest.mark.parametrize("irc", [False, True], ids=["chat", "irc"])
def test_a_handshake_cut_short_as_it_ends_is_closed_and_counted_once(
    certificate: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch, irc: bool
) -> None:
    """At a cap of one, a newcomer cuts A's handshake short in the loop turn in which it ends,
    before A's connection is made: A's place was given back, so A is closed then, not counted
    in again (the handshakes counted would drift below those in progress), and quietly, on the
    IRC port too."""

    async def run() -> None:
        server, admission, [listener] = tls_server(certificate, max_handshakes=1, irc=irc)
        failures: list[dict[str, object]] = []
        asyncio.get_running_loop().set_exception_handler(
            lambda _, context: failures.append(context)
        )
        address = listener.sock.getsockname()
        alice = HandTls(address)
        await turn_until(lambda: listener.in_handshake, "alice in her handshake")
        conn = in_handshake_alone(listener)
        last = await alice.last_message()
        listener.pause()
        newcomer = socket.create_connection(address)
        made = Connection.connection_made

        def connection_made(self: Connection, transport: asyncio.BaseTransport) -> None:
            if self is conn:  # the newcomer is accepted first, in the same turn
                listener.resume()
                listener._accept()
            made(self, transport)

        monkeypatch.setattr(Connection, "connection_made", connection_made)
        alice.sock.sendall(last)
        try:
            await turn_until(lambda: closed_by_server(alice.sock), "alice closed")
            await turn_until(lambda: listener.in_handshake, "the newcomer in its handshake")
            assert conn.session is None and not server.connections
            assert (admission.most, admission.handshakes, admission.total) == (1, 1, 1)
            assert not closed_by_server(newcomer)
            assert failures == []
        finally:
            await close_all(server, alice.sock, newcomer)

    asyncio.run(run())


def test_a_burst_on_two_tls_listeners_waits_for_room_instead_of_being_refused(
    certificate: tuple[Path, Path],
) -> None:
    """The cap on handshakes is the server's, the listeners several (IPv4 and IPv6, the chat
    and IRC ports): a burst that fills it on one listener makes the other's wait a turn too,
    then cut the oldest short, rather than refuse."""

    async def run() -> None:
        server, admission, both = tls_server(certificate, max_handshakes=2, listening=2)
        refused: list[str] = []
        server._log_refusal = lambda address, why: refused.append(why)  # type: ignore[method-assign]
        first, second = (listener.sock.getsockname() for listener in both)
        clients = [socket.create_connection(first) for _ in range(2)]
        clients.append(socket.create_connection(second))
        try:
            await turn_until(lambda: closed_by_server(clients[0]), "the oldest cut short")
            await turn_until(lambda: both[1].in_handshake, "the last in its handshake")
            assert refused == []
            assert (admission.most, admission.handshakes, admission.total) == (2, 2, 2)
        finally:
            await close_all(server, *clients)

    asyncio.run(run())


def test_a_connection_over_its_address_limit_cuts_no_handshake_short(
    certificate: tuple[Path, Path],
) -> None:
    """At the cap on handshakes, a TLS connection from an address at its own limit is refused
    without cutting anyone's handshake short first: one address could otherwise keep cutting
    the handshakes of others."""

    async def run() -> None:
        server, admission, [listener] = tls_server(certificate, max_handshakes=1, per_origin=1)
        address = listener.sock.getsockname()
        silent = socket.create_connection(address)
        await turn_until(lambda: listener.in_handshake, "the first in its handshake")
        again = socket.create_connection(address)  # same address, at its limit
        try:
            await turn_until(lambda: closed_by_server(again), "the second refused")
            assert listener.in_handshake and not closed_by_server(silent)
            assert (admission.handshakes, admission.total) == (1, 1)
        finally:
            await close_all(server, silent, again)

    asyncio.run(run())


def test_the_handshake_cut_short_is_the_oldest_of_every_listener(
    certificate: tuple[Path, Path],
) -> None:
    """The cap is the server's, the listeners several: a flood on one (the IRC port, the IPv6
    socket) cuts its own oldest silent handshake short, not a newer client's on another."""

    async def run() -> None:
        server, admission, (first, second) = tls_server(certificate, max_handshakes=3, listening=2)
        flood = [socket.create_connection(second.sock.getsockname()) for _ in range(2)]
        await turn_until(lambda: admission.handshakes == 2 and second.in_handshake, "the flood")
        alice = socket.create_connection(first.sock.getsockname())
        await turn_until(lambda: first.in_handshake, "alice in her handshake")
        flood.append(socket.create_connection(second.sock.getsockname()))
        try:
            await turn_until(lambda: closed_by_server(flood[0]), "the oldest of the flood cut")
            await turn_until(lambda: admission.handshakes == 3, "the newest in its handshake")
            assert not closed_by_server(alice) and first.in_handshake
            assert not any(map(closed_by_server, flood[1:]))
        finally:
            await close_all(server, alice, *flood)

    asyncio.run(run())


@pytest.mark.parametrize("loop", ["asyncio", "uvloop"])
@pytest.mark.parametrize("made", [True, False], ids=["after", "before"])
def test_a_server_stopping_as_a_handshake_ends_stops_at_once(
    certificate: tuple[Path, Path],
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
    loop: str,
    made: bool,
) -> None:
    """The server stops in the loop turn in which A's handshake ends. After A's connection is
    made, A is a session, which the stop ends with its goodbye: the listener does not cancel
    the task that started it (uvloop would then close A's transport without ever telling A).
    Before, A's place is given back as the listener closes, and A is closed as it is made, not
    a session the stop has gone past. Either way the stop waits for nobody and nothing stays
    counted."""
    if loop == "uvloop":  # (make test installs it; the RPM's %check has the standard library)
        pytest.importorskip("uvloop", reason="the extra tcp-chat[fast]")

    async def run() -> None:
        server, admission, [listener] = tls_server(certificate, max_handshakes=1)
        alice = HandTls(listener.sock.getsockname())
        await turn_until(lambda: listener.in_handshake, "alice in her handshake")
        conn = in_handshake_alone(listener)
        last = await alice.last_message()
        original = Connection.connection_made

        def connection_made(self: Connection, transport: asyncio.BaseTransport) -> None:
            if self is conn and not made:
                listener.close()
            original(self, transport)
            if self is conn and made:
                listener.close()

        monkeypatch.setattr(Connection, "connection_made", connection_made)
        alice.sock.sendall(last)
        try:
            await asyncio.wait_for(listener.wait_closed(), WAIT)
            if made:
                await turn_until(lambda: conn.session is not None, "alice's session")
                assert conn.transport is not None and not conn.transport.is_closing()
                assert conn in server.connections
            else:
                assert conn.session is None and conn not in server.connections
            stopped = asyncio.gather(server._shutdown(), alice.answer_the_close())
            await asyncio.wait_for(stopped, WAIT)
            assert not server.connections and admission.total == 0
            assert "did not flush" not in caplog.text
        finally:
            await close_all(server, alice.sock)

    if loop == "uvloop":
        import uvloop

        runner = uvloop.new_event_loop()
        try:
            runner.run_until_complete(run())
        finally:
            runner.close()
    else:
        asyncio.run(run())
