"""End-to-end: a server listening on IPv4 and IPv6 at once, reached on both (issue 17)."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

from tests.conftest import WAIT, ServerProcess, child_env, join_peer
from tests.server.test_listeners import needs_ipv6


@needs_ipv6
def test_one_server_on_127_0_0_1_and_ipv6_loopback_at_once(tmp_path: Path) -> None:
    """``--host 127.0.0.1,::1``: one port on both; a user on each chats with the other, and the
    log writes the IPv6 peer in brackets."""
    server = ServerProcess(tmp_path, "--host", "127.0.0.1,::1")
    try:
        v6 = server.wait_log(r"listening on \[::1\]:(\d+)$")
        assert int(v6.group(1)) == server.port
        alice = join_peer(server.port, "alice")
        bob = join_peer(server.port, "bob", host="::1")
        alice.send("hello over IPv4\n")
        assert bob.expect(r"^<alice>") == "<alice> hello over IPv4"
        bob.send("/w alice hello over IPv6\n")
        assert alice.expect(r"^\[PM") == "[PM from bob] hello over IPv6"
        registered = server.wait_log(r"\[#\d+ (\S+)\] registered as bob")
        assert re.fullmatch(r"\[::1\]:\d+", registered.group(1))
        # The client, too, joins over IPv6.
        done = subprocess.run(
            [sys.executable, "-c", "from tcpchat.cli import client_main; client_main()"]
            + ["--host", "::1", "--port", str(server.port), "--name", "carol"],
            input="hi both\n",
            capture_output=True,
            text=True,
            env=child_env(),
            timeout=WAIT * 3,
        )
        assert "*** Delivered to ALL (2 users)." in done.stdout, done.stderr
        assert bob.expect(r"^<carol>") == "<carol> hi both"
        alice.close()
        bob.close()
    finally:
        server.stop()
