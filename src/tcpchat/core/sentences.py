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

import time
from collections.abc import Sequence
from typing import Callable

from . import events as ev
from .codes import PART, is_part
from .limits import CROWD_NAMES_TEXT, LOBBY
from .text import pad, text_width

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


def history_mark(event: ev.Message) -> str:
    """What goes before a message sent again from the history: ``[2026-12-01 12:00:01 UTC #412]``,
    its original time and id (``/history before 412`` pages back from it)."""
    stamp = time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(event.time))
    return f"[{stamp} UTC #{event.id}]"


def elsewhere_mark(room: str) -> str:
    """What goes before a message said in a room other than the one you talk in: ``[#ops]``."""
    return f"[{room}]"


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


def in_lobby(room: str | None) -> bool:
    """True for #lobby (or no room named, as a 2.0 server sends): its words stay those of a chat
    with one room ("Delivered to ALL", "3 users online")."""
    return room is None or room == LOBBY


def nobody_else(room: str | None, local: bool = False) -> str:
    """What the client shows after your message when nobody got it (``local``: said while the
    server was cut off from its cluster, when only its own users could get it)."""
    where = NOBODY_ELSE if in_lobby(room) else f"nobody else is in {room}"
    return where.replace("else", "else on this server", 1) if local else where


def delivered(event: ev.Delivered) -> str:
    """The confirmation of your message: who got it."""
    if event.to is not None:
        return f"Delivered to {event.to}."
    if event.recipients == 0:
        return f"{nobody_else(event.room, event.local).capitalize()}: your message reached no one."
    where = "ALL" if in_lobby(event.room) else event.room
    here = " on this server" if event.local else ""
    return f"Delivered to {where} ({plural(event.recipients, 'user')}{here})."


def undelivered(event: ev.Undelivered) -> str:
    return (
        f"Not delivered to {event.to}: {event.to} was disconnected ({event.reason}) "
        "before your message could be sent."
    )


# --- who is online -----------------------------------------------------------------------------


def users_in(n: int, room: str | None) -> str:
    """``3 users online`` in #lobby, ``3 users in #ops`` elsewhere."""
    return users_online(n) if in_lobby(room) else f"{plural(n, 'user')} in {room}"


def _where(room: str | None) -> str:
    return "" if in_lobby(room) else f" {room}"


def _why(reason: str) -> str:
    """A leave's reason in brackets; a /part without one has none. A reason a user gave keeps
    its "part: " as a quit's keeps its "quit: ", so that none passes for the server's own
    ("server lost")."""
    return "" if reason == PART else f" ({reason})"


def joined(event: ev.Joined) -> str:
    if event.room == LOBBY:  # online already: a /join of #lobby, not a login
        return f"{event.name} joined {LOBBY}. {plural(event.online, 'user')} in {LOBBY}."
    return f"{event.name} joined{_where(event.room)}. {users_in(event.online, event.room)}."


def _count_brief(n: int, room: str | None) -> str:
    """The count after a brief join or leave: ``(3 online)`` in #lobby, ``(3 members)`` in
    another room, so that a room's members are not read as the chat's users."""
    return f"({n} online)" if in_lobby(room) else f"({plural(n, 'member')})"


def joined_brief(event: ev.Joined, name: Paint = _as_is, words: Paint = _as_is) -> str:
    if event.room == LOBBY:  # online already: the count is #lobby's
        return name(event.name) + words(f" joined {LOBBY} ({plural(event.online, 'member')})")
    count = _count_brief(event.online, event.room)
    return name(event.name) + words(f" joined{_where(event.room)} {count}")


def _parted(event: ev.Left) -> bool:
    """A /part of #lobby: its user is still online, so the notice names the room."""
    return in_lobby(event.room) and is_part(event.reason)


def left(event: ev.Left) -> str:
    if _parted(event):
        where, count = f" {LOBBY}", f"{plural(event.online, 'user')} in {LOBBY}"
    else:
        where, count = _where(event.room), users_in(event.online, event.room)
    return f"{event.name} left{where}{_why(event.reason)}. {count}."


def left_brief(event: ev.Left, name: Paint = _as_is, words: Paint = _as_is) -> str:
    reason = _why(event.reason)[2:-1]
    said = f": {reason}" if reason else ""
    if _parted(event):  # still online: the count is #lobby's
        where, count = f" {LOBBY}", f"({plural(event.online, 'member')})"
    else:
        where, count = _where(event.room), _count_brief(event.online, event.room)
    return name(event.name) + words(f" left{where}{said} {count}")


def crowd(event: ev.Crowd) -> str:
    """``37 joined #ops: ana, bob, ... and 34 more. 250 users in #ops.``"""
    verb = "joined" if event.joined else "left"
    shown = event.names[:CROWD_NAMES_TEXT]
    names = ", ".join(shown)
    more = event.count - len(shown)
    if more > 0:
        names += f" and {more} more"
    online = users_in(event.online, event.room)
    return f"{event.count} {verb}{_where(event.room)}: {names}. {online}."


def in_room(event: ev.InRoom) -> str:
    """Your answer to /join: the room, who is there, its topic."""
    names = ", ".join(event.users) + in_room_more(event)
    topic = f" {topic_line(event.topic)}" if event.topic else ""
    return f"{in_room_head(event)} {in_room_intro(event)}{names}.{topic}"


def in_room_head(event: ev.InRoom) -> str:
    """The first words of the answer to /join: ``You joined #ops.``"""
    return f"You joined {event.room}." if event.joined else f"You are talking in {event.room} now."


def in_room_intro(event: ev.InRoom) -> str:
    """``3 users here: ``; the caller lists ``event.users``, then ``in_room_more``."""
    return f"{plural(event.online, 'user')} here: "


def in_room_more(event: ev.InRoom) -> str:
    """`` and 150 more`` after the names listed, when not everyone is."""
    more = event.online - len(event.users)
    return f" and {more} more" if more > 0 else ""


def topic_line(topic: str) -> str:
    return f"Topic: {topic}"


def parted(event: ev.Parted) -> str:
    if event.current is None:
        return f"You left {event.room}. You are in no room now: /join a room to talk."
    return f"You left {event.room}. You are talking in {event.current}."


ROOMS_NONE = "No rooms."


def room_list_intro(event: ev.RoomList) -> str:
    return f"{plural(len(event.rooms), 'room')}:"


def room_rows(rooms: Sequence[tuple[str, int, str]]) -> list[str]:
    """One row per room, columns aligned as a terminal shows them (``#中文`` takes 5 columns):
    ``#ops     3 users  deploys only``."""
    width = max((text_width(name) for name, _, _ in rooms), default=0)
    count = max((len(plural(n, "user")) for _, n, _ in rooms), default=0)
    rows = [
        f"{pad(name, width)}  {plural(n, 'user').ljust(count)}  {topic}" for name, n, topic in rooms
    ]
    return [row.rstrip(" ") for row in rows]


def topic(event: ev.Topic) -> str:
    if event.by is None:
        if event.topic:
            return f"Topic of {event.room}: {event.topic}"
        return f"{event.room} has no topic."
    if event.topic:
        return f"{event.by} set the topic of {event.room}: {event.topic}"
    return f"{event.by} cleared the topic of {event.room}."


def history_begin(event: ev.HistoryBegin) -> str:
    n = plural(event.count, "message")
    if event.kind == "search":
        found = f"{n}, oldest first" if event.count else "nothing found"
        return f'Search in {event.room} for "{event.query}": {found}.'
    if event.kind == "replay":
        if event.count == 1:
            return f"History of {event.room}: the last message."
        return f"History of {event.room}: the last {n}, oldest first."
    if event.count == 0:
        return f"History of {event.room}: no earlier messages."
    return f"History of {event.room}: {n}, oldest first."


def history_end(event: ev.HistoryEnd) -> str:
    if event.kind == "search":
        return "End of search results."
    return f"End of history of {event.room}."


def history_begin_brief(event: ev.HistoryBegin) -> str:
    """The client's separator line before earlier messages: ``history of #ops: 20 messages``,
    ``search in #ops for "deploy": 3 messages``."""
    n = plural(event.count, "message")
    if event.kind == "search":
        return (
            f'search in {event.room} for "{event.query}": {n if event.count else "nothing found"}'
        )
    if event.count == 0:
        return f"history of {event.room}: no earlier messages"
    return f"history of {event.room}: {n}"


def history_end_brief(event: ev.HistoryEnd) -> str:
    """The client's separator line after them."""
    return "end of search results" if event.kind == "search" else "end of history"


def renamed(event: ev.Renamed) -> str:
    if event.you:
        return f"You are now known as {event.new}."
    return f"{event.old} is now known as {event.new}."


def registered_intro(event: ev.Registered) -> str:
    """``You are bob. 2 users online: ``; the caller lists ``event.users`` after it, and
    ``and_more(event.more)``."""
    return f"You are {event.name}. {users_online(len(event.users) + event.more)}: "


def user_list_intro(event: ev.UserList) -> str:
    """``2 users online: ``, ``2 users in #ops: ``; the caller lists ``event.users`` after it. A
    list of #lobby asked for by name says so: its members are not all online once someone has
    left it by /part."""
    if event.room is None:
        return f"{users_online(len(event.users))}: "
    return f"{plural(len(event.users), 'user')} in {event.room}: "


def listed(names: Sequence[str], more: int = 0) -> str:
    """Names as a sentence ends with them: ``alice, bob.``, ``alice, bob and 9 more.``"""
    return ", ".join(names) + (f" and {more} more." if more else ".")


# --- the session -------------------------------------------------------------------------------


def welcome(event: ev.Welcome) -> str:
    online = "" if event.online is None else f"{users_online(event.online)}. "
    return f"Welcome to tcp-chat {event.version}. {online}Type /help for commands."


def prompt(event: ev.Prompt) -> str:
    return f"Enter your {event.field}:"


def mode(event: ev.ModeChanged) -> str:
    return f"Mode: {event.mode}."


HELP_INTRO = "Commands (any other line is a public message; //text sends /text):"


# A usage longer than this has a row of its own, its text under the others': one long usage
# (/history's two forms) would push every text to the right, and most rows past 80 columns.
HELP_USAGE_COLUMNS = 22


def help_rows(rows: Sequence[tuple[str, str]]) -> list[str]:
    """The rows of a list of commands, usages aligned: ``/w NAME TEXT  send a private ...``."""
    widths = [text_width(usage) for usage, _ in rows]
    width = max((w for w in widths if w <= HELP_USAGE_COLUMNS), default=0)
    out: list[str] = []
    for (usage, text), used in zip(rows, widths):
        if used > width:
            out += [usage, f"{'':{width}}  {text}"]
        else:
            out.append(f"{usage}{' ' * (width - used)}  {text}")
    return out


def ping(event: ev.PingRequest) -> str:
    return f"PING {event.token}"


def pong(event: ev.PongReply) -> str:
    return f"PONG {event.token}".rstrip()


def pong_brief(event: ev.PongReply) -> str:
    return f"pong {event.token}".rstrip()
