"""What a client can ask for: one frozen dataclass per command, and the table of commands.

The table is the one place that names every command, its aliases, usage and help line;
``parse.parse_line`` uses it to turn a line into a command and the hub uses it for ``/help``.
Which commands are allowed in which session state is decided in ``hub.py``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Union

from .limits import MAX_QUIT_REASON_CHARS


@dataclass(frozen=True)
class Say:
    """A plain line: a public message, or the name/password while the session is not active.

    ``text`` has the spaces around it stripped; ``line`` is the line exactly as sent (a password
    is compared with that)."""

    text: str
    line: str = field(default="", compare=False)


@dataclass(frozen=True)
class Whisper:
    name: str
    text: str


@dataclass(frozen=True)
class Action:
    text: str


@dataclass(frozen=True)
class ListUsers:
    pass


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


def _word_and_text(rest: str) -> Command | None:
    parts = rest.split(None, 1)
    if len(parts) < 2 or not parts[1].strip():
        return None
    return Whisper(parts[0], parts[1].strip())


def _quit(rest: str) -> Command:
    # Everyone sees the reason in the leave notice and the log keeps it: cut it here, where it
    # enters, as IRC servers do, so every later use of it is bounded.
    if len(rest) > MAX_QUIT_REASON_CHARS:
        rest = rest[: MAX_QUIT_REASON_CHARS - 1].rstrip(" ") + "…"
    return Quit(rest)


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
        _text(Action),
        confirmed=True,
    ),
    CommandSpec(
        "users", ("who", "names"), "/users", "list who is online", lambda rest: ListUsers()
    ),
    CommandSpec("nick", ("name",), "/nick NAME", "choose or change your name", _one_word(Nick)),
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
