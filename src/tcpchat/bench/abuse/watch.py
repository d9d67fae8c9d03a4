"""Watching the server while a phase runs: its memory, the sockets it holds and from whom (from
/proc), and the growth of its log (its stderr, where the benchmark sends every record)."""

from __future__ import annotations

import os
import time

from ..servers import RunningServer
from .counting import proc_net_tcp
from .net import USER_ADDRESS

# Listing thousands of file descriptors costs the measuring process too: not at every sample.
SOCKETS_EVERY = 5


class Watch:
    """Samples a running server; the runner calls ``sample`` every 0.1 s."""

    def __init__(self, server: RunningServer) -> None:
        self.server = server
        self.peak_rss_kib = 0
        self.peak_sockets = 0
        self.peak_attacker_sockets = 0
        self._attackers: set[int] = set()  # inodes of attackers' sockets at the last look
        self.log_samples: list[tuple[float, float]] = []  # (monotonic time, log size)
        self._ticks = 0

    def sample(self) -> None:
        self.peak_rss_kib = max(self.peak_rss_kib, self.server.memory_kib()[0])
        self.log_samples.append((time.monotonic(), float(self.log_size())))
        if self._ticks % SOCKETS_EVERY == 0:
            total, attackers = self.sockets()
            self.peak_sockets = max(self.peak_sockets, total)
            # Held: there at two looks in a row. A refused connection lives for a moment
            # between accept and close; catching it then is no socket held.
            held = len(attackers & self._attackers)
            self.peak_attacker_sockets = max(self.peak_attacker_sockets, held)
            self._attackers = attackers
        self._ticks += 1

    def log_size(self) -> int:
        try:
            return self.server.log_path.stat().st_size
        except OSError:
            return 0

    def read_log(self, start: int) -> bytes:
        """The server's log from byte ``start`` on."""
        try:
            with open(self.server.log_path, "rb") as f:
                f.seek(start)
                return f.read()
        except OSError:
            return b""

    def sockets(self) -> tuple[int, set[int]]:
        """(how many sockets the server process holds, the inodes of those whose peer is not an
        ordinary user).

        Listening sockets have no peer (0.0.0.0) and count in the first figure only. Sockets
        the kernel holds in the listen backlog are not the process's and count in neither.
        """
        fd_dir = f"/proc/{self.server.pid}/fd"
        inodes: list[int] = []
        try:
            for fd in os.listdir(fd_dir):
                try:
                    target = os.readlink(f"{fd_dir}/{fd}")
                except OSError:
                    continue
                if target.startswith("socket:["):
                    inodes.append(int(target[8:-1]))
        except OSError:
            return 0, set()
        peers: dict[int, str] = {}
        for table in ("tcp", "tcp6"):
            try:
                with open(f"/proc/{self.server.pid}/net/{table}", encoding="ascii") as f:
                    peers.update(proc_net_tcp(f.read()))
            except OSError:
                pass
        ours = (USER_ADDRESS, "0.0.0.0", "::")
        return len(inodes), {i for i in inodes if peers.get(i, USER_ADDRESS) not in ours}
