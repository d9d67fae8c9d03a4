"""The wire formats, sans I/O: events rendered as text lines or JSON objects, and read back.

The server renders what the hub returns with ``render``; clients read JSON-mode lines back into
events with ``parse_event``. See docs/PROTOCOL.md sections 4 and 5.
"""

from __future__ import annotations

import calendar
import dataclasses
import json
import time as _time
from json.encoder import encode_basestring
from typing import Callable

from . import events as ev
from . import sentences
from .codes import JSON
from .limits import LOBBY
from .sentences import plural as plural  # where the server found it before sentences.py
from .text import neutralise

# --- rendering -------------------------------------------------------------------------------


def render_text(event: ev.Event, elsewhere: bool = False) -> str:
    """The line a person reads in nc or telnet, without its newline: the words of
    ``sentences``, marked ``***`` (about the chat) or ``!!!`` (something went wrong).

    ``elsewhere``: the reader talks in another room than the event's, so a message says its room
    first (``[#ops] <alice> hi``). A message from the history says its time and id first."""
    if isinstance(event, ev.Message):
        if event.history:
            return f"{sentences.history_mark(event)} {sentences.message(event)}"
        if elsewhere and event.to is None:
            room = event.room or LOBBY
            return f"{sentences.elsewhere_mark(room)} {sentences.message(event)}"
        return sentences.message(event)
    if isinstance(event, ev.Delivered):
        return f"*** {sentences.delivered(event)}"
    if isinstance(event, ev.Joined):
        return f"*** {sentences.joined(event)}"
    if isinstance(event, ev.Left):
        return f"*** {sentences.left(event)}"
    if isinstance(event, ev.Renamed):
        return f"*** {sentences.renamed(event)}"
    if isinstance(event, ev.Error):
        return f"!!! {event.text}"
    if isinstance(event, ev.Undelivered):
        return f"!!! {sentences.undelivered(event)}"
    if isinstance(event, ev.Welcome):
        return f"*** {sentences.welcome(event)}"
    if isinstance(event, ev.Prompt):
        return f"*** {sentences.prompt(event)}"
    if isinstance(event, ev.Registered):
        intro = sentences.registered_intro(event)
        return f"*** {intro}{sentences.listed(event.users, event.more)}"
    if isinstance(event, ev.UserList):
        return f"*** {sentences.user_list_intro(event)}{sentences.listed(event.users)}"
    if isinstance(event, ev.Help):
        rows = [sentences.HELP_INTRO, *sentences.help_rows(event.commands)]
        return "\n".join(f"*** {row}" for row in rows)
    if isinstance(event, ev.Crowd):
        return f"*** {sentences.crowd(event)}"
    if isinstance(event, ev.InRoom):
        return f"*** {sentences.in_room(event)}"
    if isinstance(event, ev.Parted):
        return f"*** {sentences.parted(event)}"
    if isinstance(event, ev.Topic):
        return f"*** {sentences.topic(event)}"
    if isinstance(event, ev.HistoryBegin):
        return f"*** {sentences.history_begin(event)}"
    if isinstance(event, ev.HistoryEnd):
        return f"*** {sentences.history_end(event)}"
    if isinstance(event, ev.RoomList):
        rows = [sentences.room_list_intro(event), *sentences.room_rows(event.rooms)]
        return "\n".join(f"*** {row}" for row in rows)
    if isinstance(event, ev.ModeChanged):
        return f"*** {sentences.mode(event)}"
    if isinstance(event, ev.PingRequest):
        return f"*** {sentences.ping(event)}"
    if isinstance(event, ev.PongReply):
        return f"*** {sentences.pong(event)}"
    if isinstance(event, (ev.Shutdown, ev.Notice, ev.Bye)):
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


# Each event's "type" in JSON (docs/PROTOCOL.md section 5).
TYPE_NAMES: dict[type, str] = {
    ev.Welcome: "welcome",
    ev.Prompt: "prompt",
    ev.ModeChanged: "mode",
    ev.Registered: "registered",
    ev.Joined: "join",
    ev.Left: "leave",
    ev.Renamed: "rename",
    ev.Message: "message",
    ev.Delivered: "delivered",
    ev.Undelivered: "undelivered",
    ev.UserList: "users",
    ev.InRoom: "room",
    ev.Parted: "part",
    ev.RoomList: "rooms",
    ev.Topic: "topic",
    ev.Crowd: "crowd",
    ev.HistoryBegin: "history",
    ev.HistoryEnd: "history_end",
    ev.Help: "help",
    ev.Error: "error",
    ev.PingRequest: "ping",
    ev.PongReply: "pong",
    ev.Shutdown: "shutdown",
    ev.Notice: "notice",
    ev.Bye: "bye",
}
# Fields whose JSON key is not the field's name.
_KEYS = {"sender": "from"}
# Fields left out of the JSON object when they have this value: a message of a private chat has
# no room, a live message is not history (and a 2.0 reader sees what it always saw).
_LEFT_OUT: dict[str, object] = {
    "room": None,
    "history": False,
    "more": 0,
    "notice": False,
    "local": False,
}


def event_fields(event: ev.Event) -> dict[str, object]:
    """The JSON object for an event, as specified in docs/PROTOCOL.md section 5: its type and
    time, then its fields in order (tuples as lists), with a few keys added for readers' ease."""
    obj: dict[str, object] = {"type": TYPE_NAMES[type(event)], "time": iso_time(event.time)}
    if isinstance(event, ev.Welcome):
        obj["server"] = "tcp-chat"
    for field in dataclasses.fields(event)[1:]:
        value = getattr(event, field.name)
        if field.name in _LEFT_OUT and value == _LEFT_OUT[field.name]:
            continue
        obj[_KEYS.get(field.name, field.name)] = list(value) if type(value) is tuple else value
        if field.name == "to" and isinstance(event, (ev.Message, ev.Delivered)):
            obj["private"] = value is not None
    if isinstance(event, ev.Prompt):
        obj["text"] = f"Enter your {event.field}:"
    elif isinstance(event, ev.UserList):
        obj["online"] = len(event.users)
    elif isinstance(event, ev.Help):
        obj["commands"] = [{"usage": u, "help": h} for u, h in event.commands]
    elif isinstance(event, ev.RoomList):
        obj["rooms"] = [{"room": r, "users": n, "topic": t} for r, n, t in event.rooms]
    return obj


# A str as a JSON string literal with non-ASCII characters kept (what json.dumps(...,
# ensure_ascii=False) writes for a str), in C where the interpreter has it.
_json_str: Callable[[str], str] = encode_basestring
_JSON_ENCODER = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), check_circular=False)
_JSON_BOOL = ("false", "true")
_NOTICE_JSON = ("", ',"notice":true')
_LOCAL_JSON = ("", ',"local":true')


def _room_json(room: str | None) -> str:
    return "" if room is None else f',"room":{_json_str(room)}'


def _message_json(event: ev.Message) -> str:
    to = "null" if event.to is None else _json_str(event.to)
    history = ',"history":true' if event.history else ""
    history += _NOTICE_JSON[event.notice]
    return (
        f'{{"type":"message","time":"{iso_time(event.time)}","id":{event.id},'
        f'"from":{_json_str(event.sender)},"to":{to},"private":{_JSON_BOOL[event.to is not None]},'
        f'"action":{_JSON_BOOL[event.action]},"text":{_json_str(event.text)}'
        f"{_room_json(event.room)}{history}}}"
    )


def _delivered_json(event: ev.Delivered) -> str:
    to = "null" if event.to is None else _json_str(event.to)
    return (
        f'{{"type":"delivered","time":"{iso_time(event.time)}","id":{event.id},"to":{to},'
        f'"private":{_JSON_BOOL[event.to is not None]},"action":{_JSON_BOOL[event.action]},'
        f'"text":{_json_str(event.text)},"recipients":{event.recipients},"line":{event.line}'
        f"{_room_json(event.room)}{_NOTICE_JSON[event.notice]}{_LOCAL_JSON[event.local]}}}"
    )


def render(event: ev.Event, mode: str, elsewhere: bool = False) -> bytes:
    """The bytes to send for ``event`` to a session in ``mode`` (TEXT or JSON), newline included.
    ``elsewhere``: the reader talks in another room than the event's (``render_text``)."""
    if mode != JSON:
        line = render_text(event, elsewhere)
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


def _line(obj: dict[str, object]) -> int:
    """The ``line`` an answer names; 0 from a server that does not say (tcp-chat 2.0 did not)."""
    return _i(obj, "line") if obj.get("line") is not None else 0


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
            t,
            _i(o, "id"),
            _s(o, "from"),
            _opt_s(o, "to"),
            bool(o.get("action")),
            _s(o, "text"),
            _opt_s(o, "room"),
            bool(o.get("history")),
        )
    if kind == "delivered":
        return ev.Delivered(
            t,
            _i(o, "id"),
            _opt_s(o, "to"),
            bool(o.get("action")),
            _s(o, "text"),
            _i(o, "recipients"),
            _line(o),
            _opt_s(o, "room"),
            local=bool(o.get("local")),
        )
    if kind == "join":
        return ev.Joined(t, _s(o, "name"), _i(o, "online"), _opt_s(o, "room"))
    if kind == "leave":
        return ev.Left(t, _s(o, "name"), _s(o, "reason"), _i(o, "online"), _opt_s(o, "room"))
    if kind == "crowd":
        return ev.Crowd(
            t,
            _s(o, "room"),
            bool(o.get("joined")),
            _names(o, "names"),
            _i(o, "count"),
            _i(o, "online"),
        )
    if kind == "room":
        return ev.InRoom(
            t,
            _s(o, "room"),
            _i(o, "online"),
            _names(o, "users"),
            _s(o, "topic"),
            bool(o.get("joined")),
        )
    if kind == "part":
        return ev.Parted(t, _s(o, "room"), _opt_s(o, "current"), _opt_s(o, "reason") or "")
    if kind == "rooms":
        rooms = o["rooms"]
        if not isinstance(rooms, list):
            raise TypeError("rooms")
        return ev.RoomList(t, tuple((_s(r, "room"), _i(r, "users"), _s(r, "topic")) for r in rooms))
    if kind == "topic":
        return ev.Topic(t, _s(o, "room"), _s(o, "topic"), _opt_s(o, "by"))
    if kind == "history":
        query = _s(o, "query") if o.get("query") is not None else ""
        return ev.HistoryBegin(t, _s(o, "room"), _s(o, "kind"), _i(o, "count"), query)
    if kind == "history_end":
        return ev.HistoryEnd(t, _s(o, "room"), _s(o, "kind"), _i(o, "count"))
    if kind == "rename":
        return ev.Renamed(t, _s(o, "old"), _s(o, "new"), bool(o.get("you")))
    if kind == "error":
        return ev.Error(t, _s(o, "code"), _s(o, "text"), _line(o))
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
        return ev.Registered(
            t, _s(o, "name"), _names(o, "users"), _i(o, "more") if "more" in o else 0
        )
    if kind == "users":
        return ev.UserList(t, _names(o, "users"), _opt_s(o, "room"))
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
    if kind == "notice":
        return ev.Notice(t, _s(o, "code"), _s(o, "text"))
    if kind == "bye":
        return ev.Bye(t, _s(o, "reason"), _s(o, "text"))
    return None
