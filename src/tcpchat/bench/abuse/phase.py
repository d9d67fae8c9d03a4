"""One phase of the abuse benchmark: how it is set up, what it measured, and what an attack gets
to work with (the ``Arena``)."""

from __future__ import annotations

import asyncio
import ssl
import time
from collections.abc import Awaitable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from ..servers import RunningServer

USERS = 10
USER_RATE = 1.5  # lines a second per ordinary user: under the default flood rate of 2
PHASE_S = 10.0
# The ordinary users send for the phase's length; the attack goes on this long after, while
# their last lines arrive.
GRACE_S = 1.0


@dataclass
class Phase:
    """A phase: the first fields say how to run it, the rest are filled in by the run.

    ``targets`` names the targets of issue 11 this phase is judged by (see ``targets.py``).
    ``facts`` holds the attack's own figures that a target reads, under the keys of
    ``targets.py``; ``counters`` and ``notes`` are what the table shows of the attack.
    """

    name: str
    attack: str
    server_args: list[str] = field(default_factory=list)
    log_level: str = "WARNING"
    users: bool = True  # ten ordinary users chat through the phase
    tls: bool = False  # the server also listens with TLS (on a port of its own)
    password: str = ""  # the server asks for this password
    max_files: int = 0  # cap on the server's open-file limit (0: the benchmark's own)
    targets: tuple[str, ...] = ()
    seconds: float = PHASE_S
    # --- measured ---
    latencies_ms: list[float] = field(default_factory=list)
    sent: int = 0
    unsent: int = 0  # lines that ordinary users who were dropped could not send any more
    joined: int = 0
    received: int = 0
    peak_rss_kib: int = 0
    baseline_rss_kib: int = 0
    notes: list[str] = field(default_factory=list)
    counters: dict[str, int] = field(default_factory=dict)
    users_dropped: dict[str, str] = field(default_factory=dict)  # user -> reason seen
    log_bytes: int = -1  # growth of the server's log from the attack's start to the end
    log_rate: float = -1.0  # bytes a second in the second half of the attack
    log_levels: dict[str, int] = field(default_factory=dict)
    log_drops: dict[str, int] = field(default_factory=dict)  # "dropping client" per reason
    # Peak of the server's sockets whose peer is not 127.0.0.1, held for 0.5 s or more.
    attacker_sockets: int = -1
    server_sockets: int = -1  # peak of all the server's sockets
    facts: dict[str, float] = field(default_factory=dict)
    measured: str = ""  # date and phase length, for the table

    @property
    def expected(self) -> int:
        """Lines the ordinary users should have received: every line each would have sent, to
        each of the others (a dropped user's later lines count as lost too)."""
        return (self.sent + self.unsent) * (USERS - 1)

    def count(self, key: str, n: int = 1) -> None:
        self.counters[key] = self.counters.get(key, 0) + n

    def note(self, text: str) -> None:
        self.notes.append(text)

    def fact(self, key: str, value: float) -> None:
        self.facts[key] = value


@dataclass
class Arena:
    """What an attack works with: the server, its ports, the phase to count into, and a clock
    that ends the attack ``phase.seconds`` + GRACE_S after it started (or sooner, on ``stop``)."""

    phase: Phase
    server: RunningServer
    port: int
    tls_port: int
    tls: ssl.SSLContext | None
    stop: asyncio.Event
    started: float
    workdir: Path

    @property
    def until(self) -> float:
        return self.started + self.phase.seconds + GRACE_S

    def over(self) -> bool:
        return self.stop.is_set() or time.monotonic() >= self.until

    def elapsed(self) -> float:
        return time.monotonic() - self.started

    async def pause(self, seconds: float) -> None:
        """Wait ``seconds``, cut short by the end of the attack's time or by ``stop``."""
        seconds = min(seconds, self.until - time.monotonic())
        if seconds > 0:
            try:
                await asyncio.wait_for(self.stop.wait(), seconds)
            except asyncio.TimeoutError:
                pass


Attack = Callable[[Arena], Awaitable[None]]
