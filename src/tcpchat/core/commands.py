"""What a client can ask for: one frozen dataclass per command, and the table of commands.

The table is the one place that names every command, its aliases, usage and help line;
``parse.parse_line`` uses it to turn a line into a command and the hub uses it for ``/help``.
Which commands are allowed in which session state is decided in ``hub.py``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Union

from .limits import (
    HISTORY_PAGE_MAX,
    HISTORY_REPLAY,
    MAX_QUIT_REASON_CHARS,
)
from .records import quick_init
from .text import is_blank


@quick_init
@dataclass(frozen=True)
class Say:
    """A plain line: a public message, or the name/password while the session is not active.

    ``text`` has the spaces around it stripped; ``line`` is the line exactly as sent (a password
    is compared with that)."""

    text: str
    line: str = field(default="", compare=False)
    room: str = ""  # said in this room (an IRC PRIVMSG #room); "": the current room
    notice: bool = False  # an IRC NOTICE: shown as any message, passed on to IRC as a NOTICE


@quick_init
@dataclass(frozen=True)
class Whisper:
    name: str
    text: str
    notice: bool = False


@quick_init
@dataclass(frozen=True)
class Action:
    text: str
    room: str = ""  # as for Say


@dataclass(frozen=True)
class ListUsers:
    room: str = ""  # "": everyone online


@dataclass(frozen=True)
class Join:
    room: str  # as typed: "ops" means "#ops"


@dataclass(frozen=True)
class Part:
    room: str = ""  # "": the current room
    reason: str = ""


@dataclass(frozen=True)
class PartAll:
    """Leave every room at once (IRC's ``JOIN 0``): one line, charged once however many rooms
    it leaves."""


@dataclass(frozen=True)
class ListRooms:
    pass


@dataclass(frozen=True)
class SetTopic:
    topic: str | None  # None: show the topic; "": clear it
    room: str = ""  # the topic of this room (one you are in); "": the current room


@dataclass(frozen=True)
class ShowHistory:
    count: int
    before: int | None = None  # only messages with a smaller id


@dataclass(frozen=True)
class Search:
    text: str


@dataclass(frozen=True)
class ShowHelp:
    pass


@dataclass(frozen=True)
class Quit:
    reason: str = ""


@dataclass(frozen=True)
class Nick:
    name: str


@dataclass(frozen=True)
class SetMode:
    mode: str


@dataclass(frozen=True)
class Ping:
    token: str = ""


@dataclass(frozen=True)
class Pong:
    token: str


@dataclass(frozen=True)
class Password:
    password: str


@dataclass(frozen=True)
class Blank:
    """An empty or all-space line: nothing to do, but it was sent and costs its share."""


@dataclass(frozen=True)
class UnknownCommand:
    name: str


@dataclass(frozen=True)
class BadUsage:
    """A known command with missing or wrong arguments."""

    usage: str


@dataclass(frozen=True)
class BadLine:
    """A line the framing refused (too long, not UTF-8); ``code`` is the protocol error code.
    ``more``: another part of a line that goes on and on, not a line of its own."""

    code: str
    more: bool = False


Command = Union[
    Say,
    Whisper,
    Action,
    ListUsers,
    Join,
    Part,
    PartAll,
    ListRooms,
    SetTopic,
    ShowHistory,
    Search,
    ShowHelp,
    Quit,
    Nick,
    SetMode,
    Ping,
    Pong,
    Password,
    Blank,
    UnknownCommand,
    BadUsage,
    BadLine,
]


def _one_word(make: Callable[[str], Command]) -> Callable[[str], Command | None]:
    def build(rest: str) -> Command | None:
        words = rest.split()
        return make(words[0]) if len(words) == 1 else None

    return build


def _text(make: Callable[[str], Command]) -> Callable[[str], Command | None]:
    def build(rest: str) -> Command | None:
        return make(rest) if rest else None

    return build


def _shown(rest: str) -> Command | None:
    """/me's action, if anything of it shows (``text.is_blank``)."""
    return None if is_blank(rest) else Action(rest)


def _none(make: Callable[[], Command]) -> Callable[[str], Command | None]:
    def build(rest: str) -> Command | None:
        return make()

    return build


def _word_and_text(rest: str) -> Command | None:
    parts = rest.split(None, 1)
    if len(parts) < 2 or is_blank(parts[1]):
        return None
    return Whisper(parts[0], parts[1].strip())


def _clip(text: str, limit: int) -> str:
    # Everyone sees a reason in the leave notice and the log keeps it: cut it here, where it
    # enters, as IRC servers do, so every later use of it is bounded.
    return text if len(text) <= limit else text[: limit - 1].rstrip(" ") + "…"


def _quit(rest: str) -> Command:
    return Quit(_clip(rest, MAX_QUIT_REASON_CHARS))


def _users(rest: str) -> Command | None:
    words = rest.split()
    return ListUsers(words[0] if words else "") if len(words) <= 1 else None


def _part(rest: str) -> Command:
    room, _, reason = rest.partition(" ")
    if not room.startswith("#"):
        room, reason = "", rest
    return Part(room, _clip(reason.strip(), MAX_QUIT_REASON_CHARS))


def _topic(rest: str) -> Command | None:
    if not rest:
        return SetTopic(None)
    return SetTopic("" if rest == "-" else rest)


# The highest message id a /history can name: SQLite's integers are 64-bit, and a bigger one
# names nothing older than this does.
_MAX_ID = 2**63 - 1


def _number(word: str) -> int | None:
    """``word`` as a number if it is ASCII digits only (``str.isdigit`` also takes ``²``, which
    ``int`` refuses), at most ``_MAX_ID``; None if it is not a number."""
    if not (word.isascii() and word.isdigit()):
        return None
    digits = word.lstrip("0") or "0"
    return _MAX_ID if len(digits) > 19 else min(int(digits), _MAX_ID)


def _history(rest: str) -> Command | None:
    words = rest.split()
    before: int | None = None
    if words and words[0].lower() == "before":
        before = _number(words[1]) if len(words) > 1 else None
        if before is None:
            return None
        words = words[2:]
    if len(words) > 1:
        return None
    count = _number(words[0]) if words else HISTORY_REPLAY
    if count is None or not 1 <= count <= HISTORY_PAGE_MAX:
        return None
    return ShowHistory(count, before)


def _search(rest: str) -> Command | None:
    return Search(rest) if rest else None


def _mode(rest: str) -> Command | None:
    mode = rest.strip().lower()
    return SetMode(mode) if mode in ("json", "text") else None


@dataclass(frozen=True)
class CommandSpec:
    name: str
    aliases: tuple[str, ...]
    usage: str
    help: str
    # Takes the text after the command word (stripped); None means the usage was wrong.
    build: Callable[[str], Command | None]
    # Takes that text exactly as sent instead, spaces included (a password).
    exact: bool = False
    # Sends a message: the server answers the line with ``delivered`` or an ``error`` naming it
    # (as it answers every plain line), so a client can wait for one (docs/PROTOCOL.md section 5).
    confirmed: bool = False
    # Runs the session rather than the chat (the mode, the answer to a ping, the password): a
    # client program sends it itself for its user, and keeps it out of its help and completion.
    plumbing: bool = False


COMMANDS: tuple[CommandSpec, ...] = (
    CommandSpec(
        "w",
        ("msg", "whisper"),
        "/w NAME TEXT",
        "send a private message to NAME",
        _word_and_text,
        confirmed=True,
    ),
    CommandSpec(
        "me",
        (),
        "/me ACTION",
        "tell everyone what you do (* you ACTION)",
        _shown,
        confirmed=True,
    ),
    CommandSpec(
        "users",
        ("who", "names"),
        "/users",
        "list who is online (/users ROOM: who is in ROOM)",
        _users,
    ),
    CommandSpec(
        "join",
        ("j",),
        "/join ROOM",
        "join ROOM (#name; made if new) and talk there; or talk in a room you are in",
        _one_word(Join),
    ),
    CommandSpec(
        "part",
        ("leave",),
        "/part [ROOM] [REASON]",
        "leave ROOM (by default the room you talk in)",
        _part,
    ),
    CommandSpec(
        "rooms", ("list",), "/rooms", "list the rooms: members and topic", _none(ListRooms)
    ),
    CommandSpec(
        "topic",
        (),
        "/topic [TEXT|-]",
        "show or set the topic of your room (- clears it)",
        _topic,
    ),
    CommandSpec(
        "history",
        (),
        "/history [N] | /history before ID [N]",
        f"show earlier messages of your room (N up to {HISTORY_PAGE_MAX})",
        _history,
    ),
    CommandSpec(
        "search",
        (),
        "/search TEXT",
        "find the newest messages of your room with every word of TEXT",
        _search,
    ),
    # The whole rest is the name wanted: "john smith" is told what a name holds, not the usage
    # (the client sends a name typed at its prompt as /nick NAME).
    CommandSpec("nick", ("name",), "/nick NAME", "choose or change your name", _text(Nick)),
    CommandSpec("help", ("?",), "/help", "show this list of commands", lambda rest: ShowHelp()),
    CommandSpec("quit", ("exit", "bye"), "/quit [REASON]", "leave the chat", _quit),
    CommandSpec(
        "mode",
        (),
        "/mode json|text",
        "switch to JSON events (for programs) or text",
        _mode,
        plumbing=True,
    ),
    CommandSpec(
        "ping",
        (),
        "/ping [TOKEN]",
        "check the server answers (it says pong)",
        lambda rest: Ping(rest),
    ),
    CommandSpec(
        "pong",
        (),
        "/pong TOKEN",
        "answer a ping from the server",
        _one_word(Pong),
        plumbing=True,
    ),
    CommandSpec(
        "pass",
        (),
        "/pass PASSWORD",
        "give the server password",
        _text(Password),
        exact=True,
        plumbing=True,
    ),
)

COMMANDS_BY_NAME: dict[str, CommandSpec] = {
    word: spec for spec in COMMANDS for word in (spec.name, *spec.aliases)
}

# Text that starts a message with a slash must be sent as "//text".
LITERAL_SLASH = "//"
