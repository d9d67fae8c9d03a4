"""The pure parts of the abuse phases: reading server lines, log records, /proc tables and
rates, and deciding what a line on a terminal looks like. No I/O, no clock."""

from __future__ import annotations

import json
import math
import re
import unicodedata
from collections.abc import Sequence
from typing import Any

# "2026-11-27 10:00:00,123 WARNING [#12 127.1.0.1:5000] ...": logs.FORMAT.
_RECORD = re.compile(rb"^\S+ \S+ (DEBUG|INFO|WARNING|ERROR|CRITICAL)\b", re.MULTILINE)
_DROP = re.compile(rb"dropping client: ([^(\n]+?) \(")
_ONLINE = re.compile(rb"\d+ users? online", re.IGNORECASE)
# What starts a line a person trusts: another user's message or action, a private message, the
# server's notices and errors.
_LINE_START = re.compile(r"^(<[^<>\s]+> |\* \S|\*\*\* |!!! |\[PM from )")
# Event types (JSON mode) a fixed server may use to say a confirmed message never went out.
_UNDELIVERED_TYPES = ("undeliver", "not_deliver", "notdeliver", "not-deliver")


def parse_json_line(line: bytes) -> dict[str, Any] | None:
    """A JSON-mode line as a dict; None for anything else (text, a refusal, a torn line)."""
    if not line.startswith(b"{"):
        return None
    try:
        event = json.loads(line)
    except ValueError:
        return None
    return event if isinstance(event, dict) else None


def is_undelivered(line: bytes) -> bool:
    """Whether a line from the server says that a message was not delivered after all.

    Tolerant on purpose, since the fix defines the wording: a JSON event whose type starts with
    "undeliver" or "not_deliver", or any line containing "not delivered".
    """
    event = parse_json_line(line)
    if event is not None and str(event.get("type", "")).lower().startswith(_UNDELIVERED_TYPES):
        return True
    return b"not delivered" in line.lower()


def log_levels(log: bytes) -> dict[str, int]:
    """How many records of each level ``log`` holds (traceback lines are not records)."""
    counts: dict[str, int] = {}
    for match in _RECORD.finditer(log):
        level = match.group(1).decode()
        counts[level] = counts.get(level, 0) + 1
    return counts


def drop_reasons(log: bytes) -> dict[str, int]:
    """How many "dropping client: REASON (...)" records ``log`` holds, per reason."""
    counts: dict[str, int] = {}
    for match in _DROP.finditer(log):
        reason = match.group(1).decode("utf-8", "replace")
        counts[reason] = counts.get(reason, 0) + 1
    return counts


def online_leak(greeting: bytes) -> str:
    """What a greeting says about who is online ("3 users online", or a JSON "online" count);
    '' if nothing."""
    found = _ONLINE.search(greeting)
    if found:
        return found.group(0).decode()
    for line in greeting.splitlines():
        event = parse_json_line(line)
        if event is not None and isinstance(event.get("online"), int):  # null says nothing
            return f'"online": {event["online"]}'
    return ""


def password_answers(answer: bytes) -> tuple[int, int]:
    """(passwords compared and found wrong, tries held off) in what one connection of a guesser
    got back in JSON mode.

    A compared wrong password is an error ``bad_password``, or the ``bye`` "wrong password"
    that ends the session at its last try. Anything else held the guesser off: another error
    code on a password (a backoff), another bye (a ban), a refusal before the greeting. Since a
    server may end the session with "wrong password" after a try it did not compare, that bye
    counts as compared only if no earlier answer on the connection held the guesser off.
    """
    compared = held = 0
    greeted = False
    for line in answer.splitlines():
        event = parse_json_line(line)
        if event is None:
            if not greeted and line.startswith(b"!!!"):
                held += 1  # refused at the door
            greeted = greeted or line.startswith(b"***")
            continue
        greeted = True
        kind, code = event.get("type"), str(event.get("code", ""))
        if kind == "error" and code == "bad_password":
            compared += 1
        elif kind == "error" and "password" in code:
            held += 1
        elif kind == "bye":
            if event.get("reason") == "wrong password" and not held:
                compared += 1
            elif event.get("reason") != "wrong password":
                held += 1
    return compared, held


def growth_rate(samples: Sequence[tuple[float, float]], start: float, end: float) -> float:
    """Growth per second of a cumulative figure (log size) over the second half of
    [start, end], from (time, value) samples in time order; 0.0 without two samples in it."""
    middle = start + (end - start) / 2
    inside = [(t, v) for t, v in samples if middle <= t <= end]
    if len(inside) < 2 or inside[-1][0] <= inside[0][0]:
        return 0.0
    (t0, v0), (t1, v1) = inside[0], inside[-1]
    return (v1 - v0) / (t1 - t0)


def event_rate(times: Sequence[float], start: float, end: float) -> float:
    """Events per second over the second half of [start, end] (a rate once it is sustained)."""
    middle = start + (end - start) / 2
    if end <= middle:
        return 0.0
    return sum(1 for t in times if middle <= t < end) / (end - middle)


def proc_net_tcp(text: str) -> dict[int, str]:
    """Socket inode -> remote address, from the text of /proc/net/tcp or /proc/net/tcp6."""
    peers: dict[int, str] = {}
    for row in text.splitlines()[1:]:
        fields = row.split()
        if len(fields) < 10:
            continue
        remote = fields[2].split(":")[0]
        peers[int(fields[9])] = _hex_address(remote)
    return peers


def _hex_address(hexed: str) -> str:
    raw = bytes.fromhex(hexed)
    # The kernel prints each 32-bit word in host order (little-endian on the machines we run).
    words = [raw[i : i + 4][::-1] for i in range(0, len(raw), 4)]
    if len(words) == 1:
        return ".".join(str(b) for b in words[0])
    joined = b"".join(words)
    if joined[:12] == b"\0" * 10 + b"\xff\xff":  # an IPv4 address in an IPv6 socket
        return ".".join(str(b) for b in joined[12:])
    return ":".join(joined[i : i + 2].hex() for i in range(0, 16, 2))


def visual_lines(line: str, width: int) -> list[str]:
    """How a terminal of ``width`` columns that wraps long lines shows ``line`` (as nc prints
    it): cut every ``width`` cells, a wide character moving whole to the next row."""
    rows: list[str] = []
    row: list[str] = []
    used = 0
    for ch in line:
        if unicodedata.combining(ch):
            row.append(ch)
            continue
        cells = 2 if unicodedata.east_asian_width(ch) in ("W", "F") else 1
        if used + cells > width:
            rows.append("".join(row))
            row, used = [], 0
        row.append(ch)
        used += cells
    rows.append("".join(row))
    return rows


def forged_rows(line: str, width: int) -> list[str]:
    """The rows after the first that a reader would take for a line of their own: another
    user's message, a private message, or a server notice starting at the left edge."""
    return [row for row in visual_lines(line, width)[1:] if _LINE_START.match(row)]


def worst_stop(spans: list[tuple[float, bool]], target: float) -> float:
    """The longest time an attacker went on before it was refused or dropped; inf if one went
    on for longer than ``target`` and was never stopped; nan if no connection lived long
    enough to tell (a phase shorter than ``target``). ``spans`` as ``Attacker.stopped_after``
    gives them; no spans at all (every join refused) is 0.0."""
    if not spans:
        return 0.0
    worst = math.nan
    for seconds, stopped in spans:
        if stopped:
            worst = seconds if math.isnan(worst) else max(worst, seconds)
        elif seconds >= target:
            return math.inf
    return worst
