"""Every phase of the abuse benchmark, in the order they run and appear in the tables."""

from __future__ import annotations

from .bursts import burst
from .cheap_flood import cheap_flood
from .forging import forging
from .guessing import SPACED, guessing, spaced_password
from .logfill import quit_flood
from .lookalikes import lookalikes
from .phase import Attack, Phase
from .round_one import flooders, never_readers, slowloris, storm
from .silent import SILENT_CONNECTIONS, silent
from .undelivered import undelivered

ROUND_TWO = "INFO"  # issue 11's phases run at the server's default log level
# The targets for silent connections (memory, a newcomer, the log) are for one address;
# from many, the limits still hold.
_ONE_ADDRESS = ("users", "attacker", "held", "silent", "log-rate")
_MANY = ("users", "attacker", "held")
_FLOOD = ("users", "attacker", "log-rate")
_BURST = ("users", "senders", "log-rate")
_LOG = ("users", "log-rate")
PASSWORD = "correct horse battery staple"
# Enough addresses that the per-address limit lets the silent connections reach the total one.
_SPREAD = SILENT_CONNECTIONS // 20
# A host whose file limit is below --max-connections (a container's 1024, say).
_LOW_FILES = 1024

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
        (
            Phase(
                "baseline-2",
                "none (default limits, the server logging at INFO as in round two)",
                log_level=ROUND_TWO,
                targets=_LOG,
            ),
            None,
        ),
        (
            Phase(
                "silent-tls",
                f"{SILENT_CONNECTIONS} silent TCP connections to the TLS port, one address",
                log_level=ROUND_TWO,
                tls=True,
                targets=_ONE_ADDRESS,
            ),
            silent(tls=True),
        ),
        (
            Phase(
                "silent-tls-many",
                f"{SILENT_CONNECTIONS} silent TCP connections to the TLS port, {_SPREAD} addresses",
                log_level=ROUND_TWO,
                tls=True,
                targets=_MANY,
            ),
            silent(addresses=_SPREAD, tls=True),
        ),
        (
            Phase(
                "silent-plain",
                f"{SILENT_CONNECTIONS} silent connections to the plain port, one address",
                log_level=ROUND_TWO,
                targets=_ONE_ADDRESS,
            ),
            silent(),
        ),
        (
            Phase(
                "silent-plain-many",
                f"{SILENT_CONNECTIONS} silent connections to the plain port, {_SPREAD} addresses",
                log_level=ROUND_TWO,
                targets=_MANY,
            ),
            silent(addresses=_SPREAD),
        ),
        (
            Phase(
                "silent-plain-fdlimit",
                f"as silent-plain-many, the server's file limit {_LOW_FILES} "
                "(below --max-connections)",
                log_level=ROUND_TWO,
                max_files=_LOW_FILES,
                # The backlog may hold what the server cannot accept: no "refused" target.
                targets=("users", "held", "accept-errors"),
            ),
            silent(addresses=_SPREAD),
        ),
        (
            Phase(
                "silent-tls-fdlimit",
                f"as silent-tls, the server's file limit {_LOW_FILES} (below --max-connections)",
                log_level=ROUND_TWO,
                tls=True,
                max_files=_LOW_FILES,
                targets=(*_ONE_ADDRESS, "accept-errors"),
            ),
            silent(tls=True),
        ),
        (
            Phase(
                "ping-flood",
                "one connection sends /ping and blank lines as fast as it can",
                log_level=ROUND_TWO,
                targets=_FLOOD,
            ),
            cheap_flood(1),
        ),
        (
            Phase(
                "ping-flood-20",
                "20 connections from one address send /ping and blank lines as fast as they can",
                log_level=ROUND_TWO,
                targets=_FLOOD,
            ),
            cheap_flood(20),
        ),
        (
            Phase(
                "burst-public",
                "10 users from one address each paste 10 lines of 4,000 control bytes at once",
                log_level=ROUND_TWO,
                targets=_BURST,
            ),
            burst(10),
        ),
        (
            Phase(
                "burst-whisper",
                "9 users from one address each whisper 10 lines of 4,000 control bytes to user0",
                log_level=ROUND_TWO,
                targets=_BURST,
            ),
            burst(9, to="user0"),
        ),
        (
            Phase(
                "burst-public-fit",
                "as burst-public, each line as many control bytes as fit the line limit once "
                "neutralised (1,365)",
                log_level=ROUND_TWO,
                targets=_BURST,
            ),
            burst(10, fit=True),
        ),
        (
            Phase(
                "burst-whisper-fit",
                "as burst-whisper, each line as many control bytes as fit the line limit once "
                "neutralised (1,362)",
                log_level=ROUND_TWO,
                targets=_BURST,
            ),
            burst(9, to="user0", fit=True),
        ),
        (
            Phase(
                "lookalikes",
                "names that pass for alice, bob or a reserved name; real names in other scripts",
                log_level=ROUND_TWO,
                users=False,
                targets=("lookalikes",),
            ),
            lookalikes,
        ),
        (
            Phase(
                "log-quit",
                "20 connections from one address: connect, /quit with a 4,000-byte reason, again",
                log_level=ROUND_TWO,
                targets=_LOG,
            ),
            quit_flood(),
        ),
        (
            Phase(
                "log-quit-no-text",
                "as log-quit, the server started with --no-log-text",
                ["--no-log-text"],
                log_level=ROUND_TWO,
                targets=_LOG,
            ),
            quit_flood(),
        ),
        (
            Phase(
                "log-quit-fit",
                "as log-quit, each reason as many control bytes as fit the line limit once "
                "neutralised (1,363)",
                log_level=ROUND_TWO,
                targets=_LOG,
            ),
            quit_flood(fit=True),
        ),
        (
            Phase(
                "undelivered",
                "alice whispers to bob, who never reads, at 1.9/s until he is dropped; "
                "16 others post 4 KB lines at 1.9/s",
                log_level=ROUND_TWO,
                targets=("users", "undelivered", "log-rate"),
            ),
            undelivered,
        ),
        (
            Phase(
                "password-guess",
                "--password-file; 20 connections from one address try 3 wrong passwords, again",
                log_level=ROUND_TWO,
                password=PASSWORD,
                targets=("users", "tries", "password", "log-rate"),
            ),
            guessing,
        ),
        (
            Phase(
                "password-spaces",
                f"the password is {SPACED!r}: can it be entered?",
                log_level=ROUND_TWO,
                users=False,
                password=SPACED,
                targets=("password",),
            ),
            spaced_password,
        ),
        (
            Phase(
                "forging",
                "messages and quit reasons padded to forge '<alice> ...' rows at 80-132 columns",
                log_level=ROUND_TWO,
                users=False,
                targets=("forging",),
            ),
            forging,
        ),
    ]
