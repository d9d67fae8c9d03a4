"""Where the server listens: ``--host`` with one address or several, IPv4 and IPv6 (issue 17)."""

from __future__ import annotations

import asyncio
import errno
import socket
import ssl
from collections.abc import Iterator
from pathlib import Path

import pytest

from tcpchat.config import parse_hosts
from tcpchat.server import listeners
from tcpchat.server.admission import Admission
from tcpchat.server.app import ChatServer
from tcpchat.server.config import ServerConfig, server_config
from tcpchat.server.listeners import ListenError, bind, split_hosts
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

    def bind_all(targets: object, port: int) -> list[socket.socket]:
        tries.append(port)
        if len(tries) < 3:
            raise ListenError("[::1]:40000", taken)
        return []

    monkeypatch.setattr(listeners, "_bind_all", bind_all)
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
            assert not listener.evict_oldest()  # neither has started
            await one_turn()  # one step each: a handshake begun, a header awaited
            assert listener.evict_oldest()  # the one in its handshake
            for _ in range(100):  # the cancellation reaches it in a loop turn or a few
                if gate.calls:
                    break
                await one_turn()
            assert gate.calls == ["abandon"]
            assert plain.fileno() == -1  # closed
            assert not listener.evict_oldest()  # the proxy's is spared while it reads
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

    def __init__(self, max_handshakes: int, expected: int) -> None:
        super().__init__(max_total=1000, max_per_origin=1000, max_handshakes=max_handshakes)
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
