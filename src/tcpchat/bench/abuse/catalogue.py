"""Every phase of the abuse benchmark, in the order they run and appear in the tables."""

from __future__ import annotations

from .phase import Attack, Phase
from .round_one import flooders, never_readers, slowloris, storm

# The first review ran with --max-connections 20000 and logged warnings only; its phases keep
# that, so that their figures stay comparable with the first table.
_ROUND_ONE = ["--max-connections", "20000"]


def catalogue() -> list[tuple[Phase, Attack | None]]:
    """Fresh phases (a run fills them in) with their attacks."""
    return [
        (Phase("baseline", "none", _ROUND_ONE), None),
        (
            Phase("flood", "20 flooders, 400-byte lines, reconnecting when dropped", _ROUND_ONE),
            flooders,
        ),
        (
            Phase(
                "never-readers",
                "200 joined clients that never read; a loud user sends 4 KB lines 150/s",
                [*_ROUND_ONE, "--flood-burst", "200", "--flood-rate", "200"],
            ),
            never_readers,
        ),
        (Phase("storm", "waves of 200 connections from 10 addresses", _ROUND_ONE), storm),
        (
            Phase(
                "slowloris",
                "1000 connections dripping a name, 1 byte/s",
                [*_ROUND_ONE, "--handshake-timeout", "5"],
            ),
            slowloris,
        ),
    ]
