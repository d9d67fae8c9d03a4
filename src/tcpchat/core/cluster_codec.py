"""Cluster log entries (``cluster.py``) to and from the one JSON field of a stream entry, and
what another node wrote checked as a client's line is: the log is data, and a buggy or hostile
writer must not put a control sequence on a terminal, forge an IRC line, or make a user, a room
or a node that no node would have accepted. An entry of a kind this version does not know is
skipped (``decode`` gives None), not an error: a newer node may say more.
"""

from __future__ import annotations

import functools
import json
import json.encoder
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import MISSING, fields

from .cluster import (
    KINDS,
    Arrived,
    Bounced,
    Departed,
    Entry,
    Renamed,
    Said,
    Struck,
    TopicSet,
    Whispered,
)
from .limits import LOBBY, MAX_TOPIC_CHARS
from .names import category, display_form, name_problem
from .rooms import room_key, room_problem
from .text import neutralise_line

_KIND_OF = {cls: kind for kind, cls in KINDS.items()}


# Each kind's fields in order, how many a writer must give, and the JSON types each may hold.
_JSON_TYPES: dict[str, tuple[type, ...]] = {
    "str": (str,),
    "int": (int,),
    "float": (int, float),
    "bool": (bool,),
}
_LAYOUT: dict[type, tuple[tuple[str, ...], int, tuple[tuple[type, ...], ...]]] = {
    cls: (
        tuple(f.name for f in fields(cls)),
        sum(1 for f in fields(cls) if f.default is MISSING),
        tuple(_JSON_TYPES[str(f.type)] for f in fields(cls)),
    )
    for cls in KINDS.values()
}
FIELD = "e"  # the one field of a stream entry: a JSON array, its kind then its values


def _not_json(value: object) -> object:
    raise TypeError(f"{type(value).__name__} is not in a log entry")


def _json_encoder() -> Callable[[object], str]:
    """One compact JSON encoder for every entry. ``json.dumps`` with options builds a new
    encoder per call, and ``JSONEncoder.encode`` builds a new C encoder per call under it (and a
    dict to catch cycles, which an entry's flat list of values cannot have): the C encoder is
    built once here, where the interpreter has it (3.2 to 1.8 µs an entry; docs/BENCHMARKS.md)."""
    make = getattr(json.encoder, "c_make_encoder", None)
    if make is None:
        plain = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), check_circular=False)
        return plain.encode
    # markers (None: no cycle check), default, string encoder, indent, key separator, item
    # separator, sort_keys, skipkeys, allow_nan: as JSONEncoder passes them.
    strings = json.encoder.encode_basestring
    encoder = make(None, _not_json, strings, None, ":", ",", False, False, True)
    join = "".join

    def encode(value: object) -> str:
        return join(encoder(value, 0))

    return encode


_JSON = _json_encoder()


def encode(entry: Entry) -> dict[str, str]:
    """The stream fields of ``entry``: one, ``e`` (``FIELD``), holding ``encode_value``."""
    return {FIELD: encode_value(entry)}


def encode_value(entry: Entry) -> str:
    """``entry`` as a compact JSON array of its kind and its values in order (a node reads every
    entry of the log, so parsing it must be cheap)."""
    return _JSON([_KIND_OF[type(entry)], *entry.__dict__.values()])  # the fields, in order


def _json(raw: str) -> object:
    """``raw`` parsed; ValueError for anything but JSON this version could have written (nested
    past the interpreter's depth is RecursionError from ``json``: no entry of ours is)."""
    try:
        return json.loads(raw)
    except RecursionError:
        raise ValueError("JSON nested too deep") from None


def decode(values: Mapping[str, str]) -> Entry | None:
    """The entry these stream fields hold; None for a kind this version does not know. Values
    missing, or of the wrong type, are a ValueError: the log was written by something that is
    not us. Values past those this version knows (a newer node's) are left out."""
    raw = values.get(FIELD)
    if raw is None:
        raise ValueError("not a tcp-chat entry")
    data = _json(raw)
    if not isinstance(data, list) or not data:
        raise ValueError("not a tcp-chat entry")
    cls = KINDS.get(data[0]) if isinstance(data[0], str) else None
    if cls is None:
        return None
    names, required, types = _LAYOUT[cls]
    args = data[1 : len(names) + 1]
    if len(args) < required:
        raise ValueError(f"{data[0]} entry with {len(args)} values, not {required}")
    for value, allowed in zip(args, types):
        if type(value) not in allowed:  # exact types: JSON's true is no int here
            raise ValueError(f"{data[0]} entry with a value of the wrong type: {value!r}")
    return checked(cls(*args))


# --- what another node wrote, checked as a client's line is --------------------------------------

# The most characters of a text from the log: far above any line a node takes (``--max-line``
# is the sender's node's to set), yet a bound on what a broken entry can make this node hold.
MAX_ENTRY_TEXT = 1 << 20
NODE_NAME_MAX_CHARS = 64  # a node's name (--node-name, in Redis keys and log lines) at most

# Names, room names and texts in the log were checked by the node that wrote them, but the log is
# data: a buggy or hostile writer must not put a control sequence on a terminal, forge an IRC
# line, or make a user or a room that no node would have accepted from a client.


def checked(entry: Entry) -> Entry:
    """``entry`` as this node may apply it: ValueError if a node's name, a name or a room in it
    is not one a node or a client could have had accepted; its texts neutralised as a client's
    line is, and a topic cut to a topic's length (texts only to ``MAX_ENTRY_TEXT``)."""
    _need(is_word(entry.node), entry)
    if isinstance(entry, Said):
        _need(is_name(entry.sender) and is_room(entry.room, entry.label), entry)
        return _clean(entry, text=MAX_ENTRY_TEXT)
    if isinstance(entry, Whispered):
        _need(is_name(entry.sender) and is_name(entry.to) and _is_run(entry.run), entry)
        return _clean(entry, text=MAX_ENTRY_TEXT)
    if isinstance(entry, Arrived):
        _need(is_name(entry.name) and is_room(entry.room, entry.label), entry)
        return entry
    if isinstance(entry, Departed):
        _need(is_name(entry.name) and (not entry.label or is_room(entry.room, entry.label)), entry)
        return _clean(entry, reason=MAX_ENTRY_TEXT)
    if isinstance(entry, Renamed):
        _need(is_name(entry.old) and is_name(entry.new), entry)
        return entry
    if isinstance(entry, TopicSet):
        _need(is_name(entry.name) and is_room(entry.room, entry.label), entry)
        return _clean(entry, topic=MAX_TOPIC_CHARS)
    if isinstance(entry, Bounced):
        _need(is_name(entry.to) and is_name(entry.recipient) and _is_run(entry.run), entry)
        return _clean(entry, reason=MAX_ENTRY_TEXT)
    if isinstance(entry, Struck):  # an address as admission.origin_of writes it
        _need(is_word(entry.origin), entry)
        return entry
    return _clean(entry, reason=MAX_ENTRY_TEXT)


def _is_run(run: str) -> bool:
    """A node's run id (``ClusterState.run``), or none (an older node's entry)."""
    return not run or is_word(run)


def _need(ok: bool, entry: Entry) -> None:
    if not ok:
        raise ValueError(f"{_KIND_OF[type(entry)]} entry with a name or room no client could have")


def _clean(entry: Entry, **limits: int) -> Entry:
    """``entry`` with each named text neutralised and cut to its limit in characters: itself
    when nothing changed."""
    values = dict(entry.__dict__)
    for name, limit in limits.items():
        values[name] = neutralise_line(values[name])[:limit]
    if all(values[name] is getattr(entry, name) for name in limits):
        return entry
    return type(entry)(**values)


@functools.lru_cache(maxsize=1024)
def is_word(text: str) -> bool:
    """1 to NODE_NAME_MAX_CHARS printable ASCII characters, no space: a node's name, an address."""
    return 0 < len(text) <= NODE_NAME_MAX_CHARS and all(32 < ord(c) < 127 for c in text)


@functools.lru_cache(maxsize=4096)
def is_name(name: str) -> bool:
    """True if ``name`` is a chat name a client could have had accepted, as it is shown (on
    another node: one on a newer Python knows characters that this one does not)."""
    return display_form(name) == name and name_problem(name, trusted=True) is None


@functools.lru_cache(maxsize=1024)
def is_room(key: str, label: str) -> bool:
    """True if ``label`` ("" for #lobby) is a room name a client could have had accepted, as it
    is shown, and ``key`` its key."""
    label = label or LOBBY
    ok = display_form(label) == label and room_problem(label, trusted=True) is None
    # A key holds the case folding of the node that made it: of characters this Python does
    # not know, this one's differs (a capital of Unicode 14 is its own lower case on 3.9).
    return ok and (room_key(label) == key or any(category(c) == "Cn" for c in label))


def members(flat: Sequence[str]) -> dict[str, list[str]]:
    """A node's record of its users (a hash flattened: name, JSON list of room names, ...): the
    users with a proper name, each with the proper room names of theirs; the rest left out."""
    parsed: list[tuple[str, object]] = []
    for name, raw in zip(flat[::2], flat[1::2]):
        try:
            parsed.append((name, _json(raw)))
        except ValueError:
            continue
    return _people(parsed)


def _people(pairs: Iterable[tuple[str, object]]) -> dict[str, list[str]]:
    """Names with their lists of room names: those with a proper name, each with the proper
    room names of theirs; the rest left out."""
    out: dict[str, list[str]] = {}
    for name, rooms in pairs:
        if isinstance(name, str) and is_name(name) and isinstance(rooms, list):
            out[name] = [r for r in rooms if isinstance(r, str) and is_room(room_key(r), r)]
    return out


# The most characters of a ``Gone``'s ``staying`` (some 10,000 users in #lobby alone): the
# entry stays in the log, and Redis may be joined again for being out of memory.
MAX_STAYING = 256 * 1024


def encode_staying(people: Mapping[str, Sequence[str]]) -> str:
    """The ``staying`` of a node's ``Gone`` as it joins again: its users (name -> room names),
    or "" (each is then seen to leave and come back) past ``MAX_STAYING`` characters."""
    if not people:
        return ""
    raw = _JSON({name: list(rooms) for name, rooms in people.items()})
    return raw if len(raw) <= MAX_STAYING else ""


def staying(raw: str) -> dict[str, list[str]]:
    """The users a ``Gone`` says its node still serves, checked as ``members`` are."""
    if not raw or len(raw) > MAX_STAYING:
        return {}
    try:
        people = _json(raw)
    except ValueError:
        return {}
    return _people(people.items()) if isinstance(people, dict) else {}
