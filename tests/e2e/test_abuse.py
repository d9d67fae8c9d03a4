"""Everything at once: while a slowloris, a flooder, a never-reader and a connection storm attack,
two ordinary users keep talking, and every one of their messages arrives, in order."""

from __future__ import annotations

import socket
import threading
from collections.abc import Callable
from pathlib import Path

from tests.conftest import WAIT, Peer, Pump, ServerProcess, join_peer

STORM_CONNECTIONS = 2000
MESSAGES_EACH = 30


def _in_background(stop: threading.Event, work: Callable[[], None]) -> threading.Thread:
    def run() -> None:
        try:
            work()
        except OSError:
            pass  # the server dropping an attacker is the expected end

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread


def test_ordinary_users_are_unharmed_by_four_attacks_at_once(tmp_path: Path) -> None:
    srv = ServerProcess(
        tmp_path, "--handshake-timeout", "2", "--max-outbox", "65536", "--flood-burst", "40"
    )
    stop = threading.Event()
    threads: list[threading.Thread] = []
    try:
        alice, bob = join_peer(srv.port, "alice"), join_peer(srv.port, "bob")
        alice_in, bob_in = Pump(alice), Pump(bob)

        # 1. Slowloris: one byte of a name every 0.1 s, never a newline.
        # Each attacker from an address of its own: a session ended for abuse makes its address
        # wait before connecting again, which would turn the storm's refusals into that.
        loris = Peer(srv.port, source="127.0.0.2")

        def drip() -> None:
            for _ in range(int(WAIT * 10)):
                loris.sock.sendall(b"z")
                if stop.wait(0.1):
                    return

        # 2. Never-reader: joins with a tiny receive buffer and never reads.
        sleeper = socket.socket()
        sleeper.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        sleeper.bind(("127.0.0.4", 0))
        sleeper.connect(("127.0.0.1", srv.port))
        sleeper.sendall(b"sleeper\n")

        # 3. Flooder: as many 3 KB lines as it can until the server drops it.
        flooder = join_peer(srv.port, "flooder", source="127.0.0.3")
        flood_line = b"f" * 3000 + b"\n"

        def flood() -> None:
            for _ in range(5000):
                flooder.sock.sendall(flood_line * 10)
                if stop.is_set():
                    return

        # 4. Connection storm: thousands of connects, in waves of 100 open at once.
        def storm() -> None:
            for _ in range(STORM_CONNECTIONS // 100):
                wave = []
                for _ in range(100):
                    try:
                        address = ("127.0.0.1", srv.port)
                        wave.append(socket.create_connection(address, WAIT, ("127.0.0.5", 0)))
                    except OSError:
                        pass
                if wave:  # hold the wave until the server has seen it
                    wave[-1].recv(1024)
                for sock in wave:
                    sock.close()
                if stop.is_set():
                    return

        for work in (drip, flood, storm):
            threads.append(_in_background(stop, work))

        # Meanwhile alice and bob talk, one line each at a time, as people do.
        for i in range(MESSAGES_EACH):
            alice.send(f"from alice {i}\n")
            bob.send(f"from bob {i}\n")
            bob_in.wait_for(rf"^<alice> from alice {i}$")
            alice_in.wait_for(rf"^<bob> from bob {i}$")

        got_by_bob = [line for line in bob_in.lines if line.startswith("<alice>")]
        got_by_alice = [line for line in alice_in.lines if line.startswith("<bob>")]
        assert got_by_bob == [f"<alice> from alice {i}" for i in range(MESSAGES_EACH)]
        assert got_by_alice == [f"<bob> from bob {i}" for i in range(MESSAGES_EACH)]
        assert len(alice_in.wait_for(r"^\*\*\* Delivered", count=MESSAGES_EACH)) >= MESSAGES_EACH

        # And the attackers were dealt with.
        bob_in.wait_for(r"^\*\*\* flooder left \(flooding\)")
        assert loris.expect("Goodbye") == "*** You did not choose a name in time. Goodbye."
        srv.wait_log(r"refused: Too many connections from your address")
        sleeper.close()
    finally:
        stop.set()
        for thread in threads:
            thread.join(WAIT)
        assert srv.stop() == 0
    assert "Traceback" not in srv.stderr()
