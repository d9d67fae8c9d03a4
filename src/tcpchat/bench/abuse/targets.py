"""The targets of issue 11, judged from a phase's figures: one row per target, "yes" when met,
"NO" when missed, "n/a" when the phase did not measure it. Pure functions of ``Phase``."""

from __future__ import annotations

import math
from collections.abc import Callable

from ..stats import percentile
from .phase import GRACE_S, USERS, Phase

# Keys of Phase.facts that the attacks fill in and the targets read.
ATTACKER_STOPPED_S = "attacker_stopped_s"  # worst time until refused or dropped (inf: never)
HELD_ALLOWED = "held_allowed"  # attackers' sockets the limits let the server hold
JOIN_WORST_MS = "join_worst_ms"  # slowest newcomer's join (inf: one did not get in)
SENDERS_DROPPED = "senders_dropped"  # senders who read promptly, dropped as slow readers
SENDERS_STOPPED = "senders_stopped"  # senders dropped for what they sent (not a reader's drop)
TRIES_PER_S = "tries_per_s"
LOOKALIKES_ACCEPTED, LOOKALIKES_TRIED = "lookalikes_accepted", "lookalikes_tried"
REAL_ACCEPTED, REAL_TRIED = "real_accepted", "real_tried"
RECIPIENT_DROPPED = "recipient_dropped"  # 1 if the reader that stopped reading was dropped
CONFIRMED_UNREAD = "confirmed_unread"  # confirmed to the sender, never readable by the reader
NOTICES = "undelivered_notices"
CONFIRMED_AFTER_DROP = "confirmed_after_drop"
FORGED, FORGE_TRIES = "forged", "forge_tries"  # padded with spaces, as in the finding
FORGED_FILLER, FILLER_TRIES = "forged_filler", "filler_tries"  # padded with visible dots
ONLINE_LEAK = "online_leak"  # 1 if the greeting before the password tells who is online
SPACED_PASSWORD_OK = "spaced_password_ok"

P99_MS = 50.0
STOPPED_S = 2.0
LOG_RATE = 20_000  # bytes a second
SILENT_LOG = 100_000  # bytes in all
SILENT_RSS_KIB = 100 * 1024
JOIN_MS = 1000.0
TRIES = 1.0
# At the file limit: a record a second for failed accepts and one for refusals, at most.
ACCEPT_RECORDS_PER_S = 2

Row = tuple[str, str, str]  # (target, measured, verdict)


def _verdict(met: bool | None) -> str:
    return "n/a" if met is None else ("yes" if met else "NO")


def _seconds(value: float) -> str:
    return "never" if math.isinf(value) else f"{value:.2f} s"


def _users(p: Phase) -> list[Row]:
    if not p.users:
        return []
    expected = p.expected
    lost = expected - p.received
    p99 = percentile(sorted(p.latencies_ms), 0.99)
    dropped = ", ".join(f"{u} ({why})" for u, why in sorted(p.users_dropped.items()))
    who = f"{len(p.users_dropped)} of {USERS} users dropped" + (f": {dropped}" if dropped else "")
    return [
        ("ordinary users lose no message", f"{lost} of {expected} lost", _verdict(lost == 0)),
        (f"their p99 latency under {P99_MS:.0f} ms", f"{p99:.1f} ms", _verdict(p99 < P99_MS)),
        (
            "no fast reader dropped",
            who,
            _verdict(not p.users_dropped),
        ),
    ]


def _attacker(p: Phase) -> list[Row]:
    worst = p.facts.get(ATTACKER_STOPPED_S)
    if worst is None or math.isnan(worst):
        return [(f"attacker refused or dropped within {STOPPED_S:.0f} s", "not measured", "n/a")]
    return [
        (
            f"attacker refused or dropped within {STOPPED_S:.0f} s",
            f"worst {_seconds(worst)}",
            _verdict(worst <= STOPPED_S),
        )
    ]


def _log_rate(p: Phase) -> list[Row]:
    if p.log_rate < 0:
        return [("log growth under 20 KB/s sustained", "not measured", "n/a")]
    return [
        (
            "log growth under 20 KB/s sustained",
            f"{p.log_rate / 1000:.1f} KB/s ({p.log_level} and up)",
            _verdict(p.log_rate < LOG_RATE),
        )
    ]


def _held(p: Phase) -> list[Row]:
    allowed = p.facts.get(HELD_ALLOWED, -1.0)
    return [
        (
            "server sockets held stay within the limits",
            f"attackers' held, at the peak: {p.attacker_sockets} (limits allow {allowed:.0f})",
            _verdict(None if allowed < 0 else p.attacker_sockets <= allowed),
        )
    ]


def _silent(p: Phase) -> list[Row]:
    """The targets of 5,000 silent connections from one address, besides the sockets held."""
    join = p.facts.get(JOIN_WORST_MS)
    return [
        (
            "server RSS under 100 MiB",
            f"{p.peak_rss_kib / 1024:.1f} MiB",
            _verdict(p.peak_rss_kib < SILENT_RSS_KIB),
        ),
        (
            "a new ordinary user gets in within 1 s",
            "not measured"
            if join is None
            else ("refused or timed out" if math.isinf(join) else f"worst {join:.0f} ms"),
            _verdict(None if join is None else join < JOIN_MS),
        ),  # fmt: skip
        (
            "log grows by less than 100 KB",
            f"{p.log_bytes / 1000:.1f} KB",
            _verdict(None if p.log_bytes < 0 else p.log_bytes < SILENT_LOG),
        ),
    ]


def _accept_errors(p: Phase) -> list[Row]:
    loud = p.log_levels.get("ERROR", 0) + p.log_levels.get("WARNING", 0)
    allowed = ACCEPT_RECORDS_PER_S * (p.seconds + GRACE_S) + 2
    return [
        (
            "accept errors logged once per interval, not per failure",
            f"{p.log_levels.get('ERROR', 0)} ERROR, {p.log_levels.get('WARNING', 0)} WARNING "
            "records",
            _verdict(None if p.log_bytes < 0 else loud <= allowed),
        )
    ]


def _senders(p: Phase) -> list[Row]:
    dropped = p.facts.get(SENDERS_DROPPED)
    stopped = p.facts.get(SENDERS_STOPPED, 0.0)
    return [
        (
            "no fast reader dropped (the senders, who read too)",
            "not measured"
            if dropped is None
            else f"{dropped:.0f} dropped as slow readers ({stopped:.0f} for what they sent)",
            _verdict(None if dropped is None else dropped == 0),
        )
    ]


def _tries(p: Phase) -> list[Row]:
    rate = p.facts.get(TRIES_PER_S)
    return [
        (
            "password guessing under 1 try/s per address sustained",
            "not measured" if rate is None else f"{rate:.1f} tries/s",
            _verdict(None if rate is None else rate < TRIES),
        )
    ]


def _lookalikes(p: Phase) -> list[Row]:
    f = p.facts
    if LOOKALIKES_TRIED not in f:
        return [("look-alike names refused", "not measured", "n/a")]
    return [
        (
            "look-alike and reserved-looking names refused",
            f"accepted {f[LOOKALIKES_ACCEPTED]:.0f} of {f[LOOKALIKES_TRIED]:.0f}",
            _verdict(f[LOOKALIKES_ACCEPTED] == 0),
        ),
        (
            "names in Cyrillic, Greek, CJK, accented Latin stay welcome",
            f"accepted {f.get(REAL_ACCEPTED, 0):.0f} of {f.get(REAL_TRIED, 0):.0f}",
            _verdict(f.get(REAL_ACCEPTED) == f.get(REAL_TRIED)),
        ),
    ]


def _undelivered(p: Phase) -> list[Row]:
    f = p.facts
    if not f.get(RECIPIENT_DROPPED):
        return [("the sender learns of every confirmed message not written", "reader not "
                 "dropped in the phase", "n/a")]  # fmt: skip
    unread, notices = f.get(CONFIRMED_UNREAD, 0.0), f.get(NOTICES, 0.0)
    after = f.get(CONFIRMED_AFTER_DROP, 0.0)
    return [
        (
            "the sender learns of every confirmed message not written",
            f"{unread:.0f} confirmed but never readable; {notices:.0f} 'not delivered' notices",
            _verdict(notices >= unread),
        ),
        (
            "nothing confirmed after the drop",
            f"{after:.0f} confirmed after the reader's leave notice",
            _verdict(after == 0),
        ),
    ]


def _forging(p: Phase) -> list[Row]:
    f = p.facts
    rows: list[Row] = []
    for forged, tries, how in (
        (FORGED, FORGE_TRIES, "padded with spaces, as in the finding"),
        (FORGED_FILLER, FILLER_TRIES, "padded with visible dots"),
    ):
        target = f"no user text starts a row that looks like another's ({how})"
        if tries not in f:
            rows.append((target, "not measured", "n/a"))
        else:
            measured = f"{f[forged]:.0f} of {f[tries]:.0f} tries forged a row"
            rows.append((target, measured, _verdict(f[forged] == 0)))
    return rows


def _password(p: Phase) -> list[Row]:
    f = p.facts
    rows: list[Row] = []
    if ONLINE_LEAK in f:
        rows.append(
            (
                "nothing about the chat before the password",
                "online count shown" if f[ONLINE_LEAK] else "nothing shown",
                _verdict(not f[ONLINE_LEAK]),
            )
        )
    if SPACED_PASSWORD_OK in f:
        rows.append(
            (
                "a password with leading/trailing spaces can be entered",
                "yes" if f[SPACED_PASSWORD_OK] else "no",
                _verdict(bool(f[SPACED_PASSWORD_OK])),
            )
        )
    return rows


JUDGES: dict[str, Callable[[Phase], list[Row]]] = {
    "users": _users,
    "attacker": _attacker,
    "log-rate": _log_rate,
    "held": _held,
    "silent": _silent,
    "accept-errors": _accept_errors,
    "senders": _senders,
    "tries": _tries,
    "lookalikes": _lookalikes,
    "undelivered": _undelivered,
    "forging": _forging,
    "password": _password,
}


def judge(phase: Phase) -> list[Row]:
    """Every target ``phase`` is judged by, in the order of ``phase.targets``."""
    rows: list[Row] = []
    for key in phase.targets:
        rows += JUDGES[key](phase)
    return rows
