"""What a scenario is asked to do: one frozen dataclass per kind, and ``parse_spec`` for the
``KIND:KEY=VALUE,...`` form (``fanout:C=100,S=10,M=500``). No I/O.

Kinds: fanout, latency, mixed, mixed-latency, capacity, rooms, storm, replay, and for cluster
mode cross, pause, redis-log. Keys: C clients (rooms: users per room), S senders (rooms: per
room), M messages per sender (redis-log: entries in all), P text bytes, W window, R messages per
second in all, D seconds, K connections, J joins in flight, N rooms, L lobby senders, T seconds
allowed, H stored messages, Q measured joins and searches, B members of a big room (our server's
--big-room; redis-log: entries per pipeline), X seconds of a Redis pause.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from typing import Any, Union

# Joins in flight at once (J); connections waiting to be accepted stay under the backlog.
JOIN_CONCURRENCY = 100


@dataclass(frozen=True)
class Fanout:
    """C clients join; S of them each send M messages of P bytes, at most W unacknowledged."""

    C: int = 100
    S: int = 10
    M: int = 500
    P: int = 100
    W: int = 8
    J: int = JOIN_CONCURRENCY
    kind: str = field(default="fanout", init=False)

    @property
    def title(self) -> str:
        return f"fanout C={self.C} S={self.S} M={self.M} P={self.P} W={self.W}"


@dataclass(frozen=True)
class Latency:
    """C clients join; S of them send R messages a second in all, for D seconds (the steady
    load: its server CPU per delivery too)."""

    C: int = 100
    S: int = 10
    R: int = 1000
    D: float = 5.0
    P: int = 100
    J: int = JOIN_CONCURRENCY
    kind: str = field(default="latency", init=False)

    @property
    def title(self) -> str:
        return f"latency C={self.C} R={self.R}/s D={self.D:g}s P={self.P}"


@dataclass(frozen=True)
class Mixed:
    """The fan-out in a mixed room: C clients in our server's ``#lobby``, every other one (odd
    indices) on its IRC port and the rest on its native port; S senders, so half of each kind,
    each send M messages of P bytes, at most W unacknowledged."""

    C: int = 100
    S: int = 10
    M: int = 500
    P: int = 100
    W: int = 8
    J: int = JOIN_CONCURRENCY
    kind: str = field(default="mixed", init=False)

    @property
    def title(self) -> str:
        return f"mixed C={self.C} S={self.S} M={self.M} P={self.P} W={self.W}"


@dataclass(frozen=True)
class MixedLatency:
    """The latency scenario in a mixed room (as ``Mixed``): S senders of both kinds send R
    messages a second in all for D seconds; latencies from each kind of sender to each kind of
    receiver."""

    C: int = 100
    S: int = 10
    R: int = 1000
    D: float = 5.0
    P: int = 100
    J: int = JOIN_CONCURRENCY
    kind: str = field(default="mixed-latency", init=False)

    @property
    def title(self) -> str:
        return f"mixed-latency C={self.C} R={self.R}/s D={self.D:g}s P={self.P}"


@dataclass(frozen=True)
class Capacity:
    """K clients join; then one message must reach the K-1 others."""

    K: int = 1000
    P: int = 100
    J: int = JOIN_CONCURRENCY
    kind: str = field(default="capacity", init=False)

    @property
    def title(self) -> str:
        return f"capacity K={self.K}"


@dataclass(frozen=True)
class Rooms:
    """N rooms of C users each, everyone in the lobby too; in each room S users send M messages
    of P bytes to it (at most W unacknowledged), and L users who stay in the lobby send M each
    there. Each receiver must get its rooms' messages, once and in order, and no other."""

    N: int = 10
    C: int = 100
    S: int = 2
    M: int = 200
    P: int = 100
    W: int = 8
    L: int = 1
    J: int = JOIN_CONCURRENCY
    kind: str = field(default="rooms", init=False)

    @property
    def title(self) -> str:
        return f"rooms N={self.N} C={self.C} S={self.S} M={self.M} P={self.P} W={self.W} L={self.L}"


@dataclass(frozen=True)
class Storm:
    """K clients register, then all join one room at once; within T seconds every join must be
    accounted for; then one message must reach the K-1 others in the room."""

    K: int = 10000
    P: int = 100
    J: int = JOIN_CONCURRENCY
    T: float = 60.0
    B: int = 0  # our server's --big-room (0: its default), so that a small storm has crowds
    kind: str = field(default="storm", init=False)

    @property
    def title(self) -> str:
        return f"storm K={self.K}" + (f" B={self.B}" if self.B else "")


@dataclass(frozen=True)
class Replay:
    """A server started on H stored messages spread over N rooms: Q joins of those rooms, each
    timed until its replay has ended, and Q searches, each timed until its results have ended."""

    H: int = 1_000_000
    N: int = 10
    Q: int = 500
    J: int = JOIN_CONCURRENCY
    kind: str = field(default="replay", init=False)

    @property
    def title(self) -> str:
        return f"replay H={self.H} N={self.N} Q={self.Q}"


@dataclass(frozen=True)
class Cross:
    """One sender says R messages a second for D seconds to K-1 receivers: in a cluster the
    sender is on node a and every receiver on node b. A delivery is timed when the kernel queued
    it to the receiver's socket (the generator's reading of thousands of sockets is not timed)."""

    K: int = 5000
    R: int = 2
    D: float = 10.0
    P: int = 100
    J: int = JOIN_CONCURRENCY
    kind: str = field(default="cross", init=False)

    @property
    def title(self) -> str:
        return f"cross K={self.K} R={self.R}/s D={self.D:g}s"


@dataclass(frozen=True)
class Pause:
    """Cluster mode: the latency scenario (C clients, S senders, R messages a second in all for
    D seconds) with ``CLIENT PAUSE`` of X seconds (writes) sent to Redis halfway through:
    nothing may be lost, doubled or reordered."""

    C: int = 100
    S: int = 10
    R: int = 500
    D: float = 8.0
    X: float = 3.0
    P: int = 100
    J: int = JOIN_CONCURRENCY
    kind: str = field(default="pause", init=False)

    @property
    def title(self) -> str:
        return f"pause C={self.C} R={self.R}/s D={self.D:g}s X={self.X:g}s"


@dataclass(frozen=True)
class RedisLog:
    """One Redis alone: M log entries of about P bytes appended with the bus's script, B to a
    pipeline, from one connection; then read back as a node reads them; and redis-benchmark's
    figures for the same script and for XADD (the reference)."""

    M: int = 200_000
    B: int = 100
    P: int = 100
    kind: str = field(default="redis-log", init=False)

    @property
    def title(self) -> str:
        return f"redis-log M={self.M} B={self.B} P={self.P}"


Spec = Union[
    Fanout, Latency, Mixed, MixedLatency, Capacity, Rooms, Storm, Replay, Cross, Pause, RedisLog
]
_KINDS: dict[str, type[Spec]] = {
    "fanout": Fanout,
    "latency": Latency,
    "mixed": Mixed,
    "mixed-latency": MixedLatency,
    "capacity": Capacity,
    "rooms": Rooms,
    "storm": Storm,
    "replay": Replay,
    "cross": Cross,
    "pause": Pause,
    "redis-log": RedisLog,
}
_FRACTIONAL = frozenset({"D", "T", "X"})


def parse_spec(text: str) -> Spec:
    """``fanout:C=100,S=10,M=500`` -> Fanout(C=100, S=10, M=500). ValueError with the reason."""
    kind, _, rest = text.strip().partition(":")
    cls = _KINDS.get(kind.strip().lower())
    if cls is None:
        raise ValueError(f"unknown scenario {kind!r} ({', '.join(_KINDS)})")
    known = [f.name for f in fields(cls) if f.init]
    values: dict[str, Any] = {}
    for item in filter(None, (part.strip() for part in rest.split(","))):
        key, sep, value = item.partition("=")
        key = key.strip().upper()
        if not sep or key not in known:
            raise ValueError(f"{kind}: unknown setting {item!r} (known: {', '.join(known)})")
        number = float(value) if key in _FRACTIONAL else int(value)
        if number <= 0 and not (key == "L" and number == 0):
            raise ValueError(f"{kind}: {key} must be positive")
        values[key] = number
    spec: Spec = cls(**values)
    if isinstance(spec, (Fanout, Latency, Mixed, MixedLatency, Rooms, Pause)) and not (
        1 <= spec.S < spec.C
    ):
        raise ValueError(f"{kind}: need 1 <= S < C")
    if isinstance(spec, (Capacity, Storm, Cross)) and spec.K < 2:
        raise ValueError(f"{kind}: need K >= 2")
    if isinstance(spec, Replay) and spec.H < spec.N:
        raise ValueError("replay: need H >= N (every room has history)")
    if isinstance(spec, Pause) and spec.X >= spec.D:
        raise ValueError("pause: need X < D (the pause falls inside the run)")
    return spec
