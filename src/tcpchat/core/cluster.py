"""Cluster mode's pure logic (docs/CLUSTER.md): no I/O, no clock; ``server/cluster/`` does the
talking to Redis and hands time in as ``now``.

- Redis keys, and the names' claim keys (``names.look_keys``: a claim holds a name and its
  look-alikes cluster-wide);
- entry ids: a log entry's id is ``0-N`` with ``N`` its message id, given by ``INCR`` in the
  script that appends it, so ids are the same on every node and grow in log order;
- ``Position``: where a node resumes reading a stream, and the dedupe of entries read twice
  (leases, backoff and reaping: ``lease.py``);
- the entries themselves (``Entry``): what one line of the log says, to and from the flat string
  fields a stream holds. An entry of a kind this version does not know is skipped, not an error:
  a newer node may say more.
"""

from __future__ import annotations

import functools
import json
import json.encoder
from collections.abc import Callable, Mapping, Sequence
from dataclasses import MISSING, dataclass, fields
from typing import Union

from .limits import LOBBY, MAX_TOPIC_CHARS
from .names import display_form, look_keys, name_problem
from .rooms import room_key, room_problem
from .session import Session
from .text import neutralise_line

# How long a private message to the old name of a user of this node who renamed still reaches
# them: the old name's release goes out right after the rename, one round trip to Redis.
RENAMED_WITHIN_S = 10.0

PREFIX = "tcpchat:"
SEQ_KEY = PREFIX + "seq"  # the last id given
LOG_KEY = PREFIX + "log"  # room messages, topics, presence: the one ordered stream
NODES_KEY = PREFIX + "nodes"  # nodes that joined and were not reaped
TOPICS_KEY = PREFIX + "topics"  # room key -> its last topic entry (a joining node's topics)
TOPICS_ORDER_KEY = PREFIX + "topics:order"  # room keys scored by their topic entry's id


def inbox_key(node: str) -> str:
    """The stream of private messages for ``node``'s users."""
    return f"{PREFIX}inbox:{node}"


def lease_key(node: str) -> str:
    """``node``'s lease: its boot id, with a TTL it renews."""
    return f"{PREFIX}node:{node}"


def held_key(node: str) -> str:
    """The set of name keys ``node`` holds (what its release or reap frees)."""
    return f"{PREFIX}names:{node}"


def members_key(node: str) -> str:
    """The hash of ``node``'s users: display name -> their rooms (a joining node's snapshot)."""
    return f"{PREFIX}members:{node}"


def claim_keys(name: str) -> tuple[str, ...]:
    """The keys a claim on ``name`` holds: one per look key, so that a look-alike of a name
    held on another node is refused as it is on one server."""
    return tuple(f"{PREFIX}name:{key}" for key in look_keys(name))


def holder_value(node: str, name: str) -> str:
    """What a claim key holds: the node and the display name (for "looks too much like")."""
    return f"{node}\t{name}"


def parse_holder(value: str) -> tuple[str, str]:
    """(node, display name) of a claim key's value."""
    node, _, name = value.partition("\t")
    return node, name


class ClusterState:
    """This node in its cluster, as the hub keeps it: its name, whether its link to Redis is
    up, and the users of the other nodes (sessions without a connection), by node."""

    def __init__(self, node: str) -> None:
        self.node = node
        self.linked = True
        self.remote: dict[str, dict[Session, None]] = {}
        # Names this node asked the cluster for and has no answer for yet, by look key: a second
        # session of this node asking for one of them is refused here (Redis cannot tell two
        # sessions of one node apart: a claim carries the node and the name).
        self.claiming: dict[str, tuple[Session, str]] = {}
        # This node's users renamed lately, by the key of their old name, with when: the old
        # name is this node's until its release is run, and a private message to it that Redis
        # let into this node's inbox meanwhile is theirs (``RENAMED_WITHIN_S``; one per user).
        self.renamed: dict[str, tuple[Session, float]] = {}

    def remember_rename(self, session: Session, old_key: str, now: float) -> None:
        """``session`` gave up the name of key ``old_key`` at ``now``; older ones forgotten."""
        stale = [
            k for k, (s, at) in self.renamed.items() if s is session or now - at > RENAMED_WITHIN_S
        ]
        for key in stale:
            del self.renamed[key]
        self.renamed[old_key] = (session, now)

    def renamed_from(self, key: str, now: float) -> Session | None:
        """The user of this node who had the name of key ``key`` until a moment ago."""
        session, at = self.renamed.get(key, (None, 0.0))
        return session if session is not None and now - at <= RENAMED_WITHIN_S else None


# --- entry ids and positions --------------------------------------------------------------------


def entry_id(message_id: int) -> str:
    """The stream entry id of the entry numbered ``message_id``."""
    return f"0-{message_id}"


def id_of(entry: str) -> int:
    """The number of a stream entry id ``0-N``; ValueError for any other (not ours)."""
    ms, dash, seq = entry.partition("-")
    if ms != "0" or not dash or not seq.isdigit():
        raise ValueError(f"not a tcp-chat entry id: {entry!r}")
    return int(seq)


class Position:
    """Where a node is in a stream: the last entry it applied. It reads on after it (``after``
    is what ``XREAD`` takes), so a reconnect resumes where the link was lost; an entry at or
    before it (read again after a reconnect whose last read did arrive) is refused by
    ``accept``, so nothing is applied twice."""

    def __init__(self, last: int = 0) -> None:
        self.last = last

    @property
    def after(self) -> str:
        return entry_id(self.last)

    def accept(self, entry: str) -> int:
        """The number of ``entry`` if it is new (the caller applies it, and the position moves
        to it), else 0."""
        number = id_of(entry)
        if number <= self.last:
            return 0
        self.last = number
        return number

    def gap(self, oldest: int | None) -> int:
        """Entries lost to trimming: ``oldest`` is the id of the stream's oldest entry (None: the
        stream is empty). Ids grow by one per entry of every stream, so this counts at most the
        entries missed; 0 when the stream still holds the entry after this position."""
        if oldest is None or oldest <= self.last + 1:
            return 0
        return oldest - self.last - 1


# --- entries ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Said:
    """A message said in a room (``room``: its key; ``label``: its display name, "" for
    #lobby) by ``sender`` (a session ``session`` of ``node``)."""

    node: str
    session: int
    sender: str
    room: str
    label: str
    text: str
    action: bool
    time: float
    notice: bool = False  # said as an IRC NOTICE
    line: int = 0  # the sender's line it was, named in the sender's confirmation


@dataclass(frozen=True)
class Whispered:
    """A private message from ``sender`` (session ``session`` of ``node``) to ``to``."""

    node: str
    session: int
    sender: str
    to: str
    text: str
    time: float
    notice: bool = False
    line: int = 0


@dataclass(frozen=True)
class Arrived:
    """``name`` of ``node`` joined ``room`` (its display name ``label``; #lobby on
    registering)."""

    node: str
    name: str
    room: str
    label: str
    time: float


@dataclass(frozen=True)
class Departed:
    """``name`` of ``node`` left ``room`` for ``reason`` (a part); ``room`` "" (``EVERYWHERE``):
    left the chat (a quit, a drop), so every room it was in. ``label``: the room as its node
    names it (a look-alike room made at once elsewhere is found by it: ``Hub._local_room``;
    "" from a node before it was written)."""

    node: str
    name: str
    room: str
    reason: str
    time: float
    label: str = ""


@dataclass(frozen=True)
class Renamed:
    node: str
    old: str
    new: str
    time: float


@dataclass(frozen=True)
class TopicSet:
    node: str
    name: str
    room: str
    label: str
    topic: str
    time: float


@dataclass(frozen=True)
class Gone:
    """``node`` lost its lease: every user of it left (announced once, by the reaper)."""

    node: str
    time: float
    reason: str = ""  # why its users left ("": it lost its lease, codes.SERVER_LOST)


@dataclass(frozen=True)
class Struck:
    """A wrong server password from ``origin`` (an address, or an IPv6 /64) on ``node``: every
    node counts it against that origin, so that guessing goes no faster on N nodes than on one."""

    node: str
    origin: str
    time: float


EVERYWHERE = ""  # a Departed's room when the user left the chat altogether

Entry = Union[Said, Whispered, Arrived, Departed, Renamed, TopicSet, Gone, Struck]
KINDS: dict[str, type[Entry]] = {
    "said": Said,
    "whispered": Whispered,
    "arrived": Arrived,
    "departed": Departed,
    "renamed": Renamed,
    "topic": TopicSet,
    "gone": Gone,
    "struck": Struck,
}
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
        _need(is_name(entry.sender) and is_name(entry.to), entry)
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
    if isinstance(entry, Struck):  # an address as admission.origin_of writes it
        _need(is_word(entry.origin), entry)
        return entry
    return _clean(entry, reason=MAX_ENTRY_TEXT)


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
    """True if ``name`` is a chat name a client could have had accepted, as it is shown."""
    return display_form(name) == name and name_problem(name) is None


@functools.lru_cache(maxsize=1024)
def is_room(key: str, label: str) -> bool:
    """True if ``label`` ("" for #lobby) is a room name a client could have had accepted, as it
    is shown, and ``key`` its key."""
    label = label or LOBBY
    return display_form(label) == label and room_problem(label) is None and room_key(label) == key


def members(flat: Sequence[str]) -> dict[str, list[str]]:
    """A node's record of its users (a hash flattened: name, JSON list of room names, ...): the
    users with a proper name, each with the proper room names of theirs; the rest left out."""
    out: dict[str, list[str]] = {}
    for name, raw in zip(flat[::2], flat[1::2]):
        try:
            rooms = _json(raw)
        except ValueError:
            continue
        if not is_name(name) or not isinstance(rooms, list):
            continue
        out[name] = [r for r in rooms if isinstance(r, str) and is_room(room_key(r), r)]
    return out
