"""The wire format, sans I/O: line framing, parsing lines into commands, rendering events to bytes.

Nothing here touches a socket or an event loop. The transport calls ``LineDecoder.feed`` with the
bytes it read, passes each item to ``parse_line`` and hands the command to the hub; it renders what
the hub returns with ``render``. See docs/PROTOCOL.md for the contract these functions implement.
"""

from __future__ import annotations

import calendar
import functools
import json
import re
import time as _time
import unicodedata
from dataclasses import dataclass
from json.encoder import encode_basestring
from typing import Callable, Union

from . import events as ev
from .commands import (
    COMMANDS_BY_NAME,
    LITERAL_SLASH,
    BadLine,
    BadUsage,
    Blank,
    Command,
    Say,
    UnknownCommand,
)
from .limits import MAX_BLANK_RUN, MAX_LINE_BYTES

# --- neutralising control characters and blank padding ---------------------------------------

REPLACEMENT = "\ufffd"
_NEUTRAL: dict[int, str] = {c: REPLACEMENT for c in range(0x00, 0x20)}
_NEUTRAL[0x09] = " "
_NEUTRAL.update({c: REPLACEMENT for c in range(0x7F, 0xA0)})  # DEL and C1 (CSI is U+009B)
_NEUTRAL.update({c: REPLACEMENT for c in (0x2028, 0x2029)})  # line and paragraph separators
_NEUTRAL.update({c: REPLACEMENT for c in range(0x202A, 0x202F)})  # bidi embeddings and overrides
_NEUTRAL.update({c: REPLACEMENT for c in range(0x2066, 0x206A)})  # bidi isolates


def neutralise(text: str) -> str:
    """Replace every character that could move a cursor, start a line or reorder text.

    Applied once to every decoded line (by ``neutralise_line``), so the hub, the logs and every
    renderer only ever see clean text: one gate at the entrance rather than one at every exit.
    """
    if text.isprintable():  # nothing to replace: every character above is non-printable
        return text
    return text.translate(_NEUTRAL)


# Characters that move the cursor but show nothing, besides the space separators (Zs, which
# ``\s`` covers): letters and symbols that fonts draw empty. Format characters (Cf) and the
# unassigned code points reserved as default-ignorable are blank too: most terminals draw them as
# nothing, but some give them a column, and a run of them must not become padding there.
_BLANK_LOOKALIKES = (
    "\u115f\u1160"  # Hangul choseong and jungseong fillers
    "\u2800"  # braille pattern blank
    "\u3164\uffa0"  # Hangul filler, halfwidth Hangul filler
    "\U0001d159"  # musical symbol null notehead
)
_RESERVED_IGNORABLE: tuple[tuple[int, int], ...] = (
    (0x2065, 0x2065),
    (0xFFF0, 0xFFF8),
    (0xE0000, 0xE0000),
    (0xE0002, 0xE001F),
    (0xE0080, 0xE00FF),
    (0xE01F0, 0xE0FFF),
)
# Outside these planes no character is a mark or a format character.
_MARK_PLANES = (range(0x20000), range(0xE0000, 0xE1000))
_ASCII_CAP = " " * MAX_BLANK_RUN
_ASCII_RUN = " " * (MAX_BLANK_RUN + 1)
_ASCII_RUNS = re.compile(f" {{{MAX_BLANK_RUN + 1},}}")
_ASCII_RUN_BYTES = _ASCII_RUN.encode()
_ASCII_CONTROLS = bytes([*range(0x20), 0x7F])
# A line shorter than this is checked as a str: on bytes, the calls cost more than they save.
_CHECK_BYTES_FROM = 256


def _char_class(codes: list[int]) -> str:
    """A regular-expression character set body for ``codes`` (sorted), as ranges."""
    parts: list[str] = []
    start = end = -2
    for code in [*codes, -2]:
        if code == end + 1:
            end = code
            continue
        if start >= 0:
            low, high = re.escape(chr(start)), re.escape(chr(end))
            parts.append(low if start == end else f"{low}-{high}")
        start = end = code
    return "".join(parts)


@functools.cache
def _padding() -> tuple[re.Pattern[str], re.Pattern[str]]:
    """Two patterns over neutralised text: a space followed by what may be a combining mark (the
    quick test), and a run of more than MAX_BLANK_RUN blanks with the first MAX_BLANK_RUN as
    group 1.

    Combining marks (Mn, Me) take no column: between blanks they neither end a run nor count, so
    a space with a mark on it, repeated, is a run too. The sets come from the interpreter's own
    Unicode tables, scanned on first use (about 10 ms, which a process that never meets text
    other than ASCII need not pay).
    """
    blanks: list[int] = []
    marks: list[int] = []
    for plane in _MARK_PLANES:
        for code in plane:
            category = unicodedata.category(chr(code))
            if category == "Cf":
                blanks.append(code)
            elif category in ("Mn", "Me"):
                marks.append(code)
    blanks += [ord(c) for c in _BLANK_LOOKALIKES]
    blanks += [c for low, high in _RESERVED_IGNORABLE for c in range(low, high + 1)]
    bmp_marks = _char_class([c for c in marks if c <= 0xFFFF])
    # Outside the BMP the quick test takes the span of each plane's marks whole: a long list of
    # ranges is slow to test, and it would be tested after every space.
    planes = ([c for c in marks if 0xFFFF < c < 0xE0000], [c for c in marks if c >= 0xE0000])
    spans = "".join(f"{chr(min(found))}-{chr(max(found))}" for found in planes)
    space_mark = re.compile(f" [{bmp_marks}{spans}]")
    blank = f"[\\s{_char_class(sorted(set(blanks)))}]"
    # The exact test tries the marks outside the BMP only for characters outside it, for the
    # same reason.
    astral_marks = _char_class([c for c in marks if c > 0xFFFF])
    mark = f"(?:[{bmp_marks}]|(?=[^\\x00-\\uffff])[{astral_marks}])*"
    one = f"{blank}{mark}"
    runs = re.compile(f"({one * MAX_BLANK_RUN}){one}(?:{one})*")
    return space_mark, runs


def _has_blank_lookalike(text: str) -> bool:
    """Whether ``text`` holds a letter or symbol that fonts draw empty (six substring searches,
    faster than a regular expression)."""
    for c in _BLANK_LOOKALIKES:
        if c in text:
            return True
    return False


def neutralise_line(text: str) -> str:
    """What the server does to every line a client sends: ``neutralise``, then cut every run of
    more than MAX_BLANK_RUN blank characters to its first MAX_BLANK_RUN.

    Blank is everything that moves the cursor but shows nothing (see ``_BLANK_LOOKALIKES``), so
    no padding can push a user's text to the start of a row on a terminal that wraps the line:
    padding made of visible characters stays visible. Returns ``text`` itself when nothing changed.
    """
    printable = text.isprintable()
    if not printable:
        text = text.translate(_NEUTRAL)
        printable = text.isprintable()  # unless there was more than control characters
    # Every blank but the space and the look-alikes is unprintable; without those and without a
    # mark on a space, a run of blanks is a run of spaces: a substring, found as fast as
    # ``isprintable`` runs.
    only_spaces = text.isascii() or (
        printable and not _has_blank_lookalike(text) and _padding()[0].search(text) is None
    )
    if only_spaces:
        return text if _ASCII_RUN not in text else _ASCII_RUNS.sub(_ASCII_CAP, text)
    return _padding()[1].sub(r"\1", text)


# --- framing ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class LineTooLong:
    """A line passed the limit; its bytes were dropped up to the next newline."""


@dataclass(frozen=True)
class InvalidUtf8:
    """A complete line that was not UTF-8; it was dropped."""


Frame = Union[str, LineTooLong, InvalidUtf8]


class LineDecoder:
    """Splits a byte stream into lines.

    ``feed(data)`` returns the complete items found so far: a ``str`` for each line (terminator and
    a trailing CR removed, control characters neutralised, blank runs capped), ``LineTooLong`` once
    per over-long line (and once more per ``max_line`` bytes of a line that goes on and on, or for a
    line that neutralising would make longer than ``max_line`` bytes) and ``InvalidUtf8`` for a
    line that does not decode. It never raises on input. The buffer never
    holds more than ``max_line`` bytes plus one read, and each byte is scanned once.
    """

    __slots__ = ("_buf", "_max", "_discarding", "_discarded")

    def __init__(self, max_line: int = MAX_LINE_BYTES) -> None:
        self._buf = bytearray()
        self._max = max_line
        self._discarding = False
        self._discarded = 0  # bytes dropped since the last LineTooLong of an endless line

    @property
    def buffered(self) -> int:
        """Bytes held while waiting for the end of a line."""
        return len(self._buf)

    def feed(self, data: bytes) -> list[Frame]:
        out: list[Frame] = []
        start = 0
        end = len(data)
        while start < end:
            nl = data.find(b"\n", start)
            if nl < 0:
                self._keep(data, start, end, out)
                break
            if self._discarding:
                self._discarding = False
            elif len(self._buf) + (nl - start) > self._max + 1:  # +1: a CR before LF is allowed
                self._buf.clear()
                out.append(LineTooLong())
            else:
                if self._buf:
                    self._buf += data[start:nl]
                    raw = bytes(self._buf)
                    self._buf.clear()
                else:
                    raw = data[start:nl]
                out.append(_decode(raw, self._max))
            start = nl + 1
        return out

    def _keep(self, data: bytes, start: int, end: int, out: list[Frame]) -> None:
        """Hold the start of a line that has no newline yet, or drop it once it is too long."""
        if self._discarding:
            self._discarded += end - start
        else:
            total = len(self._buf) + (end - start)
            if total <= self._max + 1:
                self._buf += data[start:end]
                return
            self._buf.clear()
            self._discarding = True
            self._discarded = total - (self._max + 1)
            out.append(LineTooLong())
        # A line that never ends counts as one more over-long line for every ``max_line`` bytes,
        # so the session's budget of over-long lines also ends an endless stream.
        while self._discarded > self._max:
            self._discarded -= self._max
            out.append(LineTooLong())

    def feed_eof(self) -> list[Frame]:
        """Call when the peer closed: a last line without a newline still counts."""
        if self._discarding or not self._buf:
            self._buf.clear()
            return []
        raw = bytes(self._buf)
        self._buf.clear()
        return [_decode(raw, self._max)]


def _decode(raw: bytes, limit: int) -> Frame:
    if raw.endswith(b"\r"):
        raw = raw[:-1]
    size = len(raw)
    if size > limit:
        return LineTooLong()
    # Most lines are printable ASCII with no run of spaces to cut, and are let through at once,
    # so that looking for padding costs them nothing: a long line is told apart on its bytes (a
    # table lookup per byte, three times as fast as ``str.isprintable``), a short one as a str.
    if (
        size >= _CHECK_BYTES_FROM
        and raw.isascii()
        and len(raw.translate(None, _ASCII_CONTROLS)) == size
        and _ASCII_RUN_BYTES not in raw
    ):
        return raw.decode("ascii")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        return InvalidUtf8()
    if len(text) == size and text.isprintable() and _ASCII_RUN not in text:  # ASCII: a byte each
        return text
    clean = neutralise_line(text)
    # A control character becomes U+FFFD, three bytes: what the server passes on is held to the
    # limit too, or a line of control bytes would travel to everyone at three times its size.
    if clean is not text and len(clean.encode("utf-8")) > limit:
        return LineTooLong()
    return clean


# --- parsing ---------------------------------------------------------------------------------


def parse_line(frame: Frame) -> Command:
    """Turn one decoded item into a command (``Blank`` for an empty or all-space line)."""
    if isinstance(frame, LineTooLong):
        return BadLine("line_too_long")
    if isinstance(frame, InvalidUtf8):
        return BadLine("invalid_utf8")
    line = frame.strip(" ")
    if not line:
        return Blank()
    if line.startswith(LITERAL_SLASH):
        return Say(line[1:], frame)
    if not line.startswith("/"):
        return Say(line, frame)
    word, _, rest = frame.lstrip(" ")[1:].partition(" ")
    spec = COMMANDS_BY_NAME.get(word.lower())
    if spec is None:
        return UnknownCommand(word)
    command = spec.build(rest if spec.exact else rest.strip(" "))
    return BadUsage(spec.usage) if command is None else command


# --- rendering -------------------------------------------------------------------------------

TEXT = "text"
JSON = "json"


def plural(n: int, word: str) -> str:
    return f"{n} {word}" if n == 1 else f"{n} {word}s"


def render_text(event: ev.Event) -> str:
    """The line a person reads in nc or telnet, without its newline."""
    if isinstance(event, ev.Message):
        if event.to is not None:
            return f"[PM from {event.sender}] {event.text}"
        if event.action:
            return f"* {event.sender} {event.text}"
        return f"<{event.sender}> {event.text}"
    if isinstance(event, ev.Delivered):
        if event.to is not None:
            return f"*** Delivered to {event.to}."
        if event.recipients == 0:
            return "*** Nobody else is online: your message reached no one."
        return f"*** Delivered to ALL ({plural(event.recipients, 'user')})."
    if isinstance(event, ev.Joined):
        return f"*** {event.name} joined. {plural(event.online, 'user')} online."
    if isinstance(event, ev.Left):
        return f"*** {event.name} left ({event.reason}). {plural(event.online, 'user')} online."
    if isinstance(event, ev.Renamed):
        if event.you:
            return f"*** You are now known as {event.new}."
        return f"*** {event.old} is now known as {event.new}."
    if isinstance(event, ev.Error):
        return f"!!! {event.text}"
    if isinstance(event, ev.Undelivered):
        return (
            f"!!! Not delivered to {event.to}: {event.to} was disconnected ({event.reason}) "
            "before your message could be sent."
        )
    if isinstance(event, ev.Welcome):
        online = "" if event.online is None else f"{plural(event.online, 'user')} online. "
        return f"*** Welcome to tcp-chat {event.version}. {online}Type /help for commands."
    if isinstance(event, ev.Prompt):
        return f"*** Enter your {event.field}:"
    if isinstance(event, ev.Registered):
        return (
            f"*** You are {event.name}. {plural(len(event.users), 'user')} online: "
            f"{', '.join(event.users)}."
        )
    if isinstance(event, ev.UserList):
        return f"*** {plural(len(event.users), 'user')} online: {', '.join(event.users)}."
    if isinstance(event, ev.Help):
        width = max(len(usage) for usage, _ in event.commands)
        rows = [f"*** {usage.ljust(width)}  {text}" for usage, text in event.commands]
        return "*** Commands (any other line is a public message; //text sends /text):\n" + (
            "\n".join(rows)
        )
    if isinstance(event, ev.ModeChanged):
        return f"*** Mode: {event.mode}."
    if isinstance(event, ev.PingRequest):
        return f"*** PING {event.token}"
    if isinstance(event, ev.PongReply):
        return f"*** PONG {event.token}".rstrip()
    if isinstance(event, ev.Shutdown):
        return f"*** {event.text}"
    if isinstance(event, ev.Bye):
        return f"*** {event.text}"
    raise TypeError(f"no text rendering for {type(event).__name__}")


_second_cache: tuple[int, str] = (-1, "")


def iso_time(ts: float) -> str:
    """Seconds since the epoch as ISO 8601 UTC with milliseconds: 2026-11-25T12:34:56.789Z."""
    global _second_cache
    whole = int(ts)
    millis = int((ts - whole) * 1000)
    cached_second, prefix = _second_cache
    if whole != cached_second:  # strftime once a second, not once an event
        prefix = _time.strftime("%Y-%m-%dT%H:%M:%S", _time.gmtime(whole))
        _second_cache = (whole, prefix)
    return f"{prefix}.{millis:03d}Z"


def event_fields(event: ev.Event) -> dict[str, object]:
    """The JSON object for an event, as specified in docs/PROTOCOL.md section 5."""
    t = iso_time(event.time)
    if isinstance(event, ev.Message):
        return {
            "type": "message",
            "time": t,
            "id": event.id,
            "from": event.sender,
            "to": event.to,
            "private": event.to is not None,
            "action": event.action,
            "text": event.text,
        }
    if isinstance(event, ev.Delivered):
        return {
            "type": "delivered",
            "time": t,
            "id": event.id,
            "to": event.to,
            "private": event.to is not None,
            "action": event.action,
            "text": event.text,
            "recipients": event.recipients,
        }
    if isinstance(event, ev.Joined):
        return {"type": "join", "time": t, "name": event.name, "online": event.online}
    if isinstance(event, ev.Left):
        return {
            "type": "leave",
            "time": t,
            "name": event.name,
            "reason": event.reason,
            "online": event.online,
        }
    if isinstance(event, ev.Renamed):
        return {"type": "rename", "time": t, "old": event.old, "new": event.new, "you": event.you}
    if isinstance(event, ev.Error):
        return {"type": "error", "time": t, "code": event.code, "text": event.text}
    if isinstance(event, ev.Undelivered):
        return {
            "type": "undelivered",
            "time": t,
            "id": event.id,
            "to": event.to,
            "reason": event.reason,
        }
    if isinstance(event, ev.Welcome):
        return {
            "type": "welcome",
            "time": t,
            "server": "tcp-chat",
            "version": event.version,
            "online": event.online,
            "max_line": event.max_line,
            "flood_burst": event.flood_burst,
            "flood_rate": event.flood_rate,
        }
    if isinstance(event, ev.Prompt):
        return {
            "type": "prompt",
            "time": t,
            "field": event.field,
            "text": f"Enter your {event.field}:",
        }
    if isinstance(event, ev.Registered):
        return {"type": "registered", "time": t, "name": event.name, "users": list(event.users)}
    if isinstance(event, ev.UserList):
        return {"type": "users", "time": t, "users": list(event.users), "online": len(event.users)}
    if isinstance(event, ev.Help):
        return {
            "type": "help",
            "time": t,
            "commands": [{"usage": u, "help": h} for u, h in event.commands],
        }
    if isinstance(event, ev.ModeChanged):
        return {"type": "mode", "time": t, "mode": event.mode}
    if isinstance(event, ev.PingRequest):
        return {"type": "ping", "time": t, "token": event.token}
    if isinstance(event, ev.PongReply):
        return {"type": "pong", "time": t, "token": event.token}
    if isinstance(event, ev.Shutdown):
        return {"type": "shutdown", "time": t, "text": event.text}
    if isinstance(event, ev.Bye):
        return {"type": "bye", "time": t, "reason": event.reason, "text": event.text}
    raise TypeError(f"no JSON rendering for {type(event).__name__}")


# A str as a JSON string literal with non-ASCII characters kept (what json.dumps(...,
# ensure_ascii=False) writes for a str), in C where the interpreter has it.
_json_str: Callable[[str], str] = encode_basestring
_JSON_ENCODER = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), check_circular=False)
_JSON_BOOL = ("false", "true")


def _message_json(event: ev.Message) -> str:
    to = "null" if event.to is None else _json_str(event.to)
    return (
        f'{{"type":"message","time":"{iso_time(event.time)}","id":{event.id},'
        f'"from":{_json_str(event.sender)},"to":{to},"private":{_JSON_BOOL[event.to is not None]},'
        f'"action":{_JSON_BOOL[event.action]},"text":{_json_str(event.text)}}}'
    )


def _delivered_json(event: ev.Delivered) -> str:
    to = "null" if event.to is None else _json_str(event.to)
    return (
        f'{{"type":"delivered","time":"{iso_time(event.time)}","id":{event.id},"to":{to},'
        f'"private":{_JSON_BOOL[event.to is not None]},"action":{_JSON_BOOL[event.action]},'
        f'"text":{_json_str(event.text)},"recipients":{event.recipients}}}'
    )


def render(event: ev.Event, mode: str) -> bytes:
    """The bytes to send for ``event`` to a session in ``mode`` (TEXT or JSON), newline included."""
    if mode != JSON:
        line = render_text(event)
    # The events of every message are written out directly: the same JSON as ``event_fields``
    # gives (a test holds them equal), at a tenth of the cost.
    elif type(event) is ev.Message:
        line = _message_json(event)
    elif type(event) is ev.Delivered:
        line = _delivered_json(event)
    else:
        line = _JSON_ENCODER.encode(event_fields(event))
    return (line + "\n").encode("utf-8")


# --- reading events back (clients) -------------------------------------------------------------


def parse_time(text: object) -> float:
    """The inverse of ``iso_time``; 0.0 for anything else."""
    if not isinstance(text, str) or not text.endswith("Z"):
        return 0.0
    try:
        whole, _, millis = text[:-1].partition(".")
        base = calendar.timegm(_time.strptime(whole, "%Y-%m-%dT%H:%M:%S"))
        return base + (int(millis) / 1000 if millis.isdigit() else 0.0)
    except ValueError:
        return 0.0


def parse_event(line: str | bytes) -> ev.Event | None:
    """A JSON-mode line from the server as an event; None for anything unknown or malformed.

    Clients use this so that they share the server's event types (and ``render_text``). Text is
    neutralised again: a client does not have to trust the server to keep its terminal safe.
    """
    try:
        obj = json.loads(line)
    except ValueError:
        return None
    if not isinstance(obj, dict):
        return None
    try:
        return _event_from(obj)
    except (KeyError, TypeError, ValueError):
        return None


def _s(obj: dict[str, object], key: str) -> str:
    value = obj[key]
    if not isinstance(value, str):
        raise TypeError(key)
    return neutralise(value)


def _opt_s(obj: dict[str, object], key: str) -> str | None:
    return None if obj.get(key) is None else _s(obj, key)


def _i(obj: dict[str, object], key: str) -> int:
    value = obj[key]
    if not isinstance(value, int) or isinstance(value, bool):
        raise TypeError(key)
    return value


def _f(obj: dict[str, object], key: str) -> float:
    value = obj[key]
    if not isinstance(value, (int, float)) or isinstance(value, bool):
        raise TypeError(key)
    return float(value)


def _names(obj: dict[str, object], key: str) -> tuple[str, ...]:
    value = obj[key]
    if not isinstance(value, list):
        raise TypeError(key)
    return tuple(neutralise(str(v)) for v in value)


def _event_from(o: dict[str, object]) -> ev.Event | None:
    kind = o.get("type")
    t = parse_time(o.get("time"))
    if kind == "message":
        return ev.Message(
            t, _i(o, "id"), _s(o, "from"), _opt_s(o, "to"), bool(o.get("action")), _s(o, "text")
        )
    if kind == "delivered":
        return ev.Delivered(
            t,
            _i(o, "id"),
            _opt_s(o, "to"),
            bool(o.get("action")),
            _s(o, "text"),
            _i(o, "recipients"),
        )
    if kind == "join":
        return ev.Joined(t, _s(o, "name"), _i(o, "online"))
    if kind == "leave":
        return ev.Left(t, _s(o, "name"), _s(o, "reason"), _i(o, "online"))
    if kind == "rename":
        return ev.Renamed(t, _s(o, "old"), _s(o, "new"), bool(o.get("you")))
    if kind == "error":
        return ev.Error(t, _s(o, "code"), _s(o, "text"))
    if kind == "undelivered":
        return ev.Undelivered(t, _i(o, "id"), _s(o, "to"), _s(o, "reason"))
    if kind == "welcome":
        return ev.Welcome(
            t,
            _s(o, "version"),
            None if o.get("online") is None else _i(o, "online"),
            _i(o, "max_line"),
            _f(o, "flood_burst"),
            _f(o, "flood_rate"),
        )
    if kind == "prompt":
        return ev.Prompt(t, _s(o, "field"))
    if kind == "registered":
        return ev.Registered(t, _s(o, "name"), _names(o, "users"))
    if kind == "users":
        return ev.UserList(t, _names(o, "users"))
    if kind == "help":
        rows = o["commands"]
        if not isinstance(rows, list):
            raise TypeError("commands")
        return ev.Help(t, tuple((_s(r, "usage"), _s(r, "help")) for r in rows))
    if kind == "mode":
        return ev.ModeChanged(t, _s(o, "mode"))
    if kind == "ping":
        return ev.PingRequest(t, _s(o, "token"))
    if kind == "pong":
        return ev.PongReply(t, _s(o, "token"))
    if kind == "shutdown":
        return ev.Shutdown(t, _s(o, "text"))
    if kind == "bye":
        return ev.Bye(t, _s(o, "reason"), _s(o, "text"))
    return None
