"""The client's core, sans I/O: what the chat means at this end, and what to do with a typed line.

The interactive client (``ui.py``) and pipe mode (``pipe.py``) each keep one ``ClientCore`` and
drive it from both sides:

* ``typed(line)`` says what to do with a line the user typed: ``Send`` it (maybe rewritten:
  ``/r hi`` becomes ``/w carol hi``), ``Leave`` (``/quit``), or answer here (``Refuse`` with a
  reason, ``LocalHelp``). After sending, the caller reports the line's number on the connection
  (``ServerLink.send`` returns it) with ``sent(number, line)``.
* ``receive(event)`` gives a ``Seen``: the event and what it means here (the line it answers and
  whether that line failed, whether it deserves the bell, the room to mark it with, whether it was
  shown before). The core keeps the roster, your name, who last wrote to you privately, and your
  rooms (``rooms.MyRooms``: the one you talk in, those you are in, those seen, for Tab).
* After a reconnect, ``rejoin()`` gives the lines that put you back in your rooms.

An answer is tied to its line by the number the server puts in it (``line``, docs/PROTOCOL.md
section 5), never by order or by error code; an ``undelivered`` names the message by its id. No
sockets, no clock, no terminal: tests drive it with event objects and lines.
"""

from __future__ import annotations

import dataclasses
import re
from collections import OrderedDict
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Union

from ..core import commands as cmd
from ..core import events as ev
from ..core.codes import is_part
from ..core.limits import UNDELIVERED_MEMORY
from ..core.names import fold, name_key
from ..core.parse import parse_line
from ..core.rooms import LOBBY_KEY, room_key
from ..core.text import neutralise
from .completion import REPLY_WORDS, complete
from .rooms import MyRooms

# The client's own command: /r TEXT answers whoever last sent you a private message.
CLIENT_COMMANDS = (("/r TEXT", "reply privately to whoever last sent you a private message"),)


@dataclass(frozen=True)
class Sent:
    """A line sent on this connection: its number there (what the server's ``line`` names)."""

    number: int
    text: str


# --- what to do with a typed line ---------------------------------------------------------------


@dataclass(frozen=True)
class Send:
    """Send ``text`` (paced), then report its number with ``ClientCore.sent``."""

    text: str


@dataclass(frozen=True)
class Leave:
    """The user quits: send ``line`` (``/quit`` and the reason), wait briefly for the goodbye."""

    line: str


@dataclass(frozen=True)
class Refuse:
    """Nothing is sent; show ``reason`` as an error. ``keep``: the line is still wanted, so an
    editor gives it back to the user to send later."""

    reason: str
    keep: bool = False


@dataclass(frozen=True)
class LocalHelp:
    """Show the commands: the client's own, then ``rows`` (the server's a person uses)."""

    rows: tuple[tuple[str, str], ...]


@dataclass(frozen=True)
class UseName:
    """Ask the server for ``name`` (the answer typed at the name prompt)."""

    name: str


Typed = Union[Send, Leave, Refuse, LocalHelp, None]
NameTyped = Union[UseName, Leave, Refuse, LocalHelp]

# What an empty answer at the name prompt is told.
NAME_NEEDED = "A name is needed: type one and press Enter (/help for help, /quit to leave)."


# --- what an event means here -------------------------------------------------------------------


@dataclass(frozen=True)
class Seen:
    """An event and what it means at this end; the caller shows it, then acts on the rest."""

    event: ev.Event
    # The line a ``delivered``, ``error`` or ``undelivered`` answers, if it was one of ours.
    answers: Sent | None = None
    # ``answers`` was refused (an error) or never reached its recipient (undelivered).
    failed: bool = False
    # A private message, or a public one naming you, from someone else.
    bell: bool = False
    # Your own name changed: a prompt that shows it needs redrawing.
    renamed_me: bool = False
    # The room to mark the event with (``[#ops]``): it belongs to a room other than the one you
    # talk in, and its words do not say which (a message; a notice of #lobby).
    elsewhere: str | None = None
    # Show nothing: a replayed message you were shown before (live, or before a reconnect), or
    # the end of a replay all of whose messages were.
    hidden: bool = False
    # A replay's opening line, held back until its first message not shown before: show it
    # first (its count is what is left to show).
    opens: ev.HistoryBegin | None = None
    # The room you talk in changed (join, part, switch): a prompt that shows it needs redrawing.
    moved: bool = False

    def events(self) -> tuple[ev.Event, ...]:
        """What to show for this, in order: nothing, the event, or a held-back opening first."""
        if self.hidden:
            return ()
        return (self.event,) if self.opens is None else (self.opens, self.event)


class ClientCore:
    """The state of one run of the client: who you are, who is online, what awaits an answer.

    ``joined`` starts a connection's session (after the handshake), ``disconnected`` ends it.
    ``refused`` and ``undelivered`` count the failures of the run, for an exit status.
    """

    def __init__(self, name: str = "") -> None:
        self.me = name
        self.registered = False
        self.max_line = 0  # the server's line limit in bytes; 0 until its welcome says
        self.users: dict[str, str] = {}  # name_key -> the name as shown
        self.last_private = ""  # who /r answers
        self.pending: dict[int, Sent] = {}  # lines awaiting delivered or an error, by number
        # Private messages the server confirmed, by message id: an undelivered names one.
        self._confirmed: OrderedDict[int, Sent] = OrderedDict()
        self.refused = 0  # lines the server refused with an error, or the client would not send
        self.undelivered = 0  # messages confirmed, then reported undelivered
        self.shutdown_seen = False  # the server said it was stopping: its going away is no failure
        self.where = MyRooms()  # the room you talk in, those you are in, those seen

    # --- the session ----------------------------------------------------------------------------

    def joined(self, registered: ev.Registered, welcome: ev.Welcome | None) -> Seen:
        """The handshake is done (``join`` returned ``registered``): chat from here on. Show the
        returned ``Seen`` as any other."""
        if welcome is not None:
            self.max_line = welcome.max_line
        self.shutdown_seen = False
        return self.receive(registered)

    def disconnected(self) -> list[Sent]:
        """The connection is gone: the lines still awaiting an answer, which the caller reports as
        not confirmed (they may or may not have been delivered). A new connection numbers its
        lines afresh, so nothing of this one is kept."""
        lost = sorted(self.pending.values(), key=lambda s: s.number)
        if self.registered:
            self.where.lost()
        self.registered = False
        self.pending.clear()
        self._confirmed.clear()
        return lost

    def names(self) -> list[str]:
        """Everyone online, as shown, sorted case-insensitively."""
        return sorted(self.users.values(), key=fold)

    @property
    def current(self) -> str | None:
        """The room your plain lines go to; None: you are in no room."""
        return self.where.current

    @property
    def rooms(self) -> list[str]:
        """The rooms you are in, in the order you joined them."""
        return self.where.rooms

    def rejoin(self) -> list[str]:
        """After ``joined`` on a new connection: the lines to send (paced, before anything typed)
        that put you back in your rooms, talking where you did (``MyRooms.rejoin``)."""
        return self.where.rejoin()

    def completions(self, line: str, cursor: int) -> tuple[int, list[str]]:
        """Tab completion for ``line`` with the cursor at ``cursor`` (see ``complete``)."""
        return complete(line, cursor, self.names(), self.me, self.where.known(), self.rooms)

    # --- typed lines ----------------------------------------------------------------------------

    def typed(self, line: str) -> Typed:
        """What to do with ``line`` as typed (or read from stdin); None for a blank line. A
        ``Refuse`` counts as a failure of the run (``refused``)."""
        answer = self._typed(line)
        if isinstance(answer, Refuse):
            self.refused += 1
        return answer

    def _typed(self, line: str) -> Typed:
        # As the server will read it (a tab is a space, a control character U+FFFD), so that
        # what is decided here holds there.
        text = neutralise(line).strip()
        if not text:
            return None
        word, _, rest = text.partition(" ")
        word, rest = word.lower(), rest.strip()
        if word in REPLY_WORDS:
            if not self.last_private:
                return Refuse("Nobody has sent you a private message yet.")
            if not rest:
                return Refuse("Usage: /r TEXT")
            text = f"/w {self.last_private} {rest}"
        else:
            command = parse_line(text)
            if isinstance(command, cmd.Blank):  # nothing of it shows: the server ignores it
                return None
            if isinstance(command, cmd.Quit):
                return Leave(f"/quit {command.reason}".rstrip())
            if isinstance(command, cmd.ShowHelp) and not self.registered:
                return LocalHelp(for_people((s.usage, s.help) for s in cmd.COMMANDS))
            spec = _spec(text)
            if spec is not None and spec.plumbing:
                return Refuse(f"{word} is not for people; this client handles it.")
        if not self.registered:
            return Refuse("Not connected: nothing was sent.", keep=True)
        size = len(text.encode("utf-8"))
        if self.max_line and size > self.max_line:
            return Refuse(
                f"Too long to send ({size} bytes; the server takes {self.max_line}).", keep=True
            )
        return Send(text)

    def named(self, line: str) -> NameTyped:
        """What to do with ``line`` typed at the name prompt, before joining: a name to ask
        for, or ``/help``, ``/quit`` and ``/nick NAME`` as they say; another command (or
        nothing) is refused here, so it is never taken for a name."""
        text = neutralise(line).strip()
        if not text:
            return Refuse(NAME_NEEDED)
        if not text.startswith("/") or text.startswith(cmd.LITERAL_SLASH):
            return UseName(text)
        command = parse_line(text)
        if isinstance(command, cmd.Quit):
            return Leave(f"/quit {command.reason}".rstrip())
        if isinstance(command, cmd.ShowHelp):
            return LocalHelp(for_people((s.usage, s.help) for s in cmd.COMMANDS))
        word, _, rest = text.partition(" ")
        if word.lower() in ("/nick", "/name"):
            return UseName(rest.strip()) if rest.strip() else Refuse(NAME_NEEDED)
        return Refuse(f"{word} works once you have a name. Type a name first (or /quit).")

    def sent(self, number: int, text: str) -> None:
        """``text`` went out as line ``number`` of this connection. A message waits for its
        ``delivered`` or ``error``; the server answers other lines otherwise (or not at all)."""
        if is_message(text):
            self.pending[number] = Sent(number, text)

    # --- events ---------------------------------------------------------------------------------

    def receive(self, event: ev.Event) -> Seen:
        """Take in ``event``; the returned ``Seen`` says what it means here."""
        if isinstance(event, ev.Delivered):
            if event.to is None:
                self.where.know(event.room)
                self.where.saw(event.room, event.id)
            mark = None if event.to is not None else self.where.elsewhere(event.room)
            return dataclasses.replace(self._answer(event), elsewhere=mark)
        if isinstance(event, (ev.Error, ev.Undelivered)):
            return self._answer(event)
        if isinstance(event, ev.Message):
            return self._message(event)
        if isinstance(event, (ev.InRoom, ev.Parted, ev.RoomList, ev.HistoryBegin, ev.HistoryEnd)):
            return self._room_event(event)
        where = self.where
        renamed_me = False
        elsewhere: str | None = None
        if isinstance(event, ev.Registered):
            self.me, self.registered = event.name, True
            self.users = {name_key(n): n for n in event.users}
            where.registered()
            return Seen(event, moved=True)
        if isinstance(event, ev.UserList):
            if event.room is None:  # everyone online
                self.users = {name_key(n): n for n in event.users}
            else:
                where.know(event.room)
                self.users.update((name_key(n), n) for n in event.users)
        elif isinstance(event, ev.Joined):
            self.users[name_key(event.name)] = event.name
            where.know(event.room)
            elsewhere = where.lobby_elsewhere(event.room)
        elif isinstance(event, ev.Left):
            # Someone who left a room by /part is still online; any other reason ends a session.
            if not is_part(event.reason):
                self.users.pop(name_key(event.name), None)
            where.know(event.room)
            elsewhere = where.lobby_elsewhere(event.room)
        elif isinstance(event, ev.Crowd):
            where.know(event.room)
            if event.joined:
                self.users.update((name_key(n), n) for n in event.names)
            elif room_key(event.room) == LOBBY_KEY:  # who leaves #lobby has mostly quit
                for n in event.names:
                    self.users.pop(name_key(n), None)
            elsewhere = where.lobby_elsewhere(event.room)
        elif isinstance(event, ev.Topic):
            where.know(event.room)
        elif isinstance(event, ev.Renamed):
            self.users.pop(name_key(event.old), None)
            self.users[name_key(event.new)] = event.new
            if event.you:
                self.me, renamed_me = event.new, True
            if self.last_private and name_key(self.last_private) == name_key(event.old):
                self.last_private = event.new
        elif isinstance(event, ev.Shutdown):
            self.shutdown_seen = True
        return Seen(event, renamed_me=renamed_me, elsewhere=elsewhere)

    def _room_event(
        self, event: ev.InRoom | ev.Parted | ev.RoomList | ev.HistoryBegin | ev.HistoryEnd
    ) -> Seen:
        if isinstance(event, ev.InRoom):
            self.where.entered(event)
            self.users.update((name_key(n), n) for n in event.users)
            return Seen(event, moved=True)
        if isinstance(event, ev.Parted):
            self.where.parted(event)
            return Seen(event, moved=True)
        if isinstance(event, ev.RoomList):
            self.where.listed(event)
            return Seen(event)
        if isinstance(event, ev.HistoryBegin):
            return Seen(event, hidden=self.where.history_begins(event))
        return Seen(event, hidden=self.where.history_ends(event))

    def _message(self, event: ev.Message) -> Seen:
        if event.to is not None:
            return Seen(event, bell=self._rings(event))
        self.where.know(event.room)
        if event.history:
            hidden, opens = self.where.from_history(event)
            return Seen(event, hidden=hidden, opens=opens)
        self.where.saw(event.room, event.id)
        elsewhere = self.where.elsewhere(event.room)
        return Seen(event, bell=self._rings(event), elsewhere=elsewhere)

    def _answer(self, event: ev.Delivered | ev.Error | ev.Undelivered) -> Seen:
        if isinstance(event, ev.Undelivered):
            self.undelivered += 1
            return Seen(event, self._confirmed.pop(event.id, None), failed=True)
        sent = self.pending.pop(event.line, None) if event.line else None
        if isinstance(event, ev.Error):
            self.refused += 1
            return Seen(event, sent, failed=sent is not None)
        if sent is not None and event.to is not None:
            self._confirmed[event.id] = sent
            while len(self._confirmed) > UNDELIVERED_MEMORY:
                self._confirmed.popitem(last=False)
        return Seen(event, sent)

    def _rings(self, message: ev.Message) -> bool:
        if name_key(message.sender) == name_key(self.me):
            return False
        if message.to is not None:
            self.last_private = message.sender
            return True
        return mentions(message.text, self.me)


def mentions(text: str, name: str) -> bool:
    """True if ``text`` names ``name`` as a word (any case), as in "bob: hi" or "hi @bob"."""
    if not name:
        return False
    pattern = r"(?<![\w.-])" + re.escape(name) + r"(?![\w-])"
    return re.search(pattern, text, re.IGNORECASE) is not None


def is_message(line: str) -> bool:
    """True if the server answers ``line`` with ``delivered`` or an error naming it: a plain line
    or ``//text`` (a public message), or a command marked ``confirmed`` in the table."""
    text = neutralise(line).strip(" ")
    if not text.startswith("/") or text.startswith(cmd.LITERAL_SLASH):
        return bool(text)
    spec = _spec(text)
    return spec is not None and spec.confirmed


def _spec(text: str) -> cmd.CommandSpec | None:
    """The table's entry for the command ``text`` starts with, if it is one."""
    if not text.startswith("/") or text.startswith(cmd.LITERAL_SLASH):
        return None
    return cmd.COMMANDS_BY_NAME.get(text[1:].partition(" ")[0].lower())


def for_people(rows: Iterable[tuple[str, str]]) -> tuple[tuple[str, str], ...]:
    """The (usage, help) rows of a list of commands (the table's, or a ``help`` event's) without
    the plumbing: the commands a person types."""
    return tuple((usage, text) for usage, text in rows if not _is_plumbing(usage))


def _is_plumbing(usage: str) -> bool:
    spec = _spec(usage.split(" ", 1)[0])
    return spec is not None and spec.plumbing


# --- the server's first line -------------------------------------------------------------------

GREETED = "greeted"  # a tcp-chat 2 (or later) server: switch to JSON mode and go on
REFUSED = "refused"  # a tcp-chat server that refused the connection ("!!! Server full ...")
FOREIGN = "foreign"  # anything else: another program, or the 1.0 server

# The first line of every tcp-chat 2 session, in text mode (core/sentences.welcome), whatever the
# server's options: "*** Welcome to tcp-chat 2.0.0. ..."; a later major version keeps it.
_GREETING = re.compile(r"\*\*\* Welcome to tcp-chat (\d+)\.")


def greeting_kind(first_line: str) -> str:
    """What the server's first line (stripped) says about it: GREETED, REFUSED or FOREIGN. The
    client sends nothing before it knows, so that another server never sees our lines."""
    found = _GREETING.match(first_line)
    if found and int(found.group(1)) >= 2:
        return GREETED
    if first_line.startswith("!!! "):
        return REFUSED
    return FOREIGN
