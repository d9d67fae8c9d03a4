"""The chat's words for its events, in one place: what a person reads about each event.

The server's text mode (``wire.render_text``) and the client's screen (``client/render.py``) both
take their English from here, so a wording is changed once. They differ only in decoration: the
text mode puts ``*** `` or ``!!! `` in front, the client a time stamp, colours and check marks.

Functions take the event and return its words, without prefix or line end. Where the client
colours parts of a sentence, the function takes those parts through hooks: ``name`` for each name
in it, ``words`` for the fixed words around them, ``text`` for a message's text; each hook gets a
piece of plain text and returns it decorated, and defaults to leaving it as it is. Where the
client's screen says less than a line of nc (one row per join, a mark instead of a sentence per
confirmation), the short form is here too, as ``*_brief``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Callable

from . import events as ev

Paint = Callable[[str], str]


def _as_is(text: str) -> str:
    return text


def plural(n: int, word: str) -> str:
    """``1 user``, ``2 users``."""
    return f"{n} {word}" if n == 1 else f"{n} {word}s"


def users_online(n: int) -> str:
    return f"{plural(n, 'user')} online"


# --- messages ----------------------------------------------------------------------------------


def message(
    event: ev.Message, name: Paint = _as_is, words: Paint = _as_is, text: Paint = _as_is
) -> str:
    """A message as its recipient reads it: ``<bob> hi``, ``* bob waves``,
    ``[PM from bob] psst``."""
    return _said(event.sender, event.to, False, event.action, event.text, name, words, text)


def own_message(
    event: ev.Delivered, me: str, name: Paint = _as_is, words: Paint = _as_is, text: Paint = _as_is
) -> str:
    """Your own message as the client shows it once delivered: ``<alice> hi``, ``* alice waves``,
    ``[PM to bob] psst`` (the caller adds how many got it)."""
    return _said(me, event.to, True, event.action, event.text, name, words, text)


def _said(
    sender: str,
    to: str | None,
    mine: bool,
    action: bool,
    said: str,
    name: Paint,
    words: Paint,
    text: Paint,
) -> str:
    if to is not None:
        head = words("[PM to " if mine else "[PM from ") + name(to if mine else sender) + words("]")
        return f"{head} {text(said)}"
    if action:
        return f"* {name(sender)} {text(said)}"
    return f"<{name(sender)}> {text(said)}"


# The client shows it after your message when nobody got it; text mode says it as a sentence.
NOBODY_ELSE = "nobody else is online"


def delivered(event: ev.Delivered) -> str:
    """The confirmation of your message: who got it."""
    if event.to is not None:
        return f"Delivered to {event.to}."
    if event.recipients == 0:
        return f"{NOBODY_ELSE.capitalize()}: your message reached no one."
    return f"Delivered to ALL ({plural(event.recipients, 'user')})."


def undelivered(event: ev.Undelivered) -> str:
    return (
        f"Not delivered to {event.to}: {event.to} was disconnected ({event.reason}) "
        "before your message could be sent."
    )


# --- who is online -----------------------------------------------------------------------------


def joined(event: ev.Joined) -> str:
    return f"{event.name} joined. {users_online(event.online)}."


def joined_brief(event: ev.Joined, name: Paint = _as_is, words: Paint = _as_is) -> str:
    return name(event.name) + words(f" joined ({event.online} online)")


def left(event: ev.Left) -> str:
    return f"{event.name} left ({event.reason}). {users_online(event.online)}."


def left_brief(event: ev.Left, name: Paint = _as_is, words: Paint = _as_is) -> str:
    return name(event.name) + words(f" left: {event.reason} ({event.online} online)")


def renamed(event: ev.Renamed) -> str:
    if event.you:
        return f"You are now known as {event.new}."
    return f"{event.old} is now known as {event.new}."


def registered_intro(event: ev.Registered) -> str:
    """``You are bob. 2 users online: ``; the caller lists ``event.users`` after it."""
    return f"You are {event.name}. {users_online(len(event.users))}: "


def user_list_intro(event: ev.UserList) -> str:
    """``2 users online: ``; the caller lists ``event.users`` after it."""
    return f"{users_online(len(event.users))}: "


def listed(names: Sequence[str]) -> str:
    """Names as a sentence ends with them: ``alice, bob.``"""
    return ", ".join(names) + "."


# --- the session -------------------------------------------------------------------------------


def welcome(event: ev.Welcome) -> str:
    online = "" if event.online is None else f"{users_online(event.online)}. "
    return f"Welcome to tcp-chat {event.version}. {online}Type /help for commands."


def prompt(event: ev.Prompt) -> str:
    return f"Enter your {event.field}:"


def mode(event: ev.ModeChanged) -> str:
    return f"Mode: {event.mode}."


HELP_INTRO = "Commands (any other line is a public message; //text sends /text):"


def help_rows(rows: Sequence[tuple[str, str]]) -> list[str]:
    """The rows of a list of commands, usages aligned: ``/w NAME TEXT  send a private ...``."""
    width = max((len(usage) for usage, _ in rows), default=0)
    return [f"{usage.ljust(width)}  {text}" for usage, text in rows]


def ping(event: ev.PingRequest) -> str:
    return f"PING {event.token}"


def pong(event: ev.PongReply) -> str:
    return f"PONG {event.token}".rstrip()


def pong_brief(event: ev.PongReply) -> str:
    return f"pong {event.token}".rstrip()
