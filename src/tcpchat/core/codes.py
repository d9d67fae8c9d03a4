"""The protocol's names for things, as constants: error codes, why a session ended, modes.

Like IRC's numerics, these are what programs match on; the hub, the server, the log and the clients
all use these constants, never their own copies of the strings (docs/PROTOCOL.md sections 3 and 5
list them for people writing clients).
"""

from __future__ import annotations

# --- modes a session reads the server in (``/mode``) ---------------------------------------------
TEXT = "text"
JSON = "json"
MODES = (TEXT, JSON)
# A session of the IRC listener reads IRC lines: "irc", or "irc-" and the letters of what it
# negotiated that changes its lines (core/irc_render.py), so that sessions with the same
# capabilities share one rendering of a broadcast.
IRC = "irc"


def is_irc(mode: str) -> bool:
    return mode.startswith(IRC)


def answers_pings(mode: str) -> bool:
    """True for the modes of programs (JSON, IRC), which the server pings when they are quiet;
    a person in nc or telnet is never pinged."""
    return mode != TEXT


# --- error codes (``Error.code``) -----------------------------------------------------------------
LINE_TOO_LONG = "line_too_long"
INVALID_UTF8 = "invalid_utf8"
TELNET_FLOOD = "telnet_flood"  # telnet commands, a run of them with no line between
NAME_INVALID = "name_invalid"
NAME_TAKEN = "name_taken"
NAME_UNCHECKED = "name_unchecked"  # cluster mode: Redis could not check it just now
NAME_RESERVED = "name_reserved"
NO_SUCH_USER = "no_such_user"
SELF_WHISPER = "self_whisper"
UNKNOWN_COMMAND = "unknown_command"
USAGE = "usage"
NOT_REGISTERED = "not_registered"
RATE_LIMITED = "rate_limited"
BAD_PASSWORD = "bad_password"
PASSWORD_WAIT = "password_wait"
ROOM_INVALID = "room_invalid"  # not a room name, or one too like a room that exists
NO_SUCH_ROOM = "no_such_room"
NOT_IN_ROOM = "not_in_room"  # a room you are not in, or no current room for a plain line
TOO_MANY_ROOMS = "too_many_rooms"  # yours (limits.MAX_ROOMS_PER_USER) or the server's
SEARCH_BUSY = "search_busy"  # a /search stopped past its time, or refused while searches wait
HISTORY_OFF = "history_off"  # /history or /search on a server started with --no-history

# The errors that refuse a name: after one, the server asks for a name again.
NAME_ERRORS = frozenset({NAME_INVALID, NAME_TAKEN, NAME_RESERVED, NAME_UNCHECKED})
# Errors that mean a client broke a limit rather than made a typo (the log says WARNING).
LIMIT_ERRORS = frozenset({LINE_TOO_LONG, INVALID_UTF8, RATE_LIMITED})

# --- why a session ended (``Bye.reason``, ``Left.reason``, ``Undelivered.reason``) ---------------
QUIT = "quit"  # "quit: TEXT" when the user gave a reason (``quit_reason``)
CONNECTION_CLOSED = "connection closed"
CONNECTION_LOST = "connection lost"
SERVER_SHUTDOWN = "server shutdown"
SERVER_LOST = "server lost"  # cluster mode: the user's server left the cluster without a word
# Cluster mode: the name was taken on another server while this one was cut off from them.
NAME_LOST = "name taken elsewhere"
# Cluster mode: Redis failed to record a name this server gave while cut off from the others.
NAME_UNRECORDED = "name not recorded"
TIMED_OUT = "timed out"
FLOODING = "flooding"
SEND_QUEUE_EXCEEDED = "send queue exceeded"
TOO_MANY_BAD_LINES = "too many bad lines"
TOO_MANY_UNKNOWN = "too many unknown commands"
TOO_MANY_NAMES = "too many refused names"
IRC_CLIENT = "an IRC client at the chat port"  # its first line was CAP, NICK, USER or PASS
# A proxy's PROXY header on a connection from an address not in --proxy-from: not believed.
UNTRUSTED_PROXY = "PROXY header from an address not in --proxy-from"
WRONG_PASSWORD = "wrong password"
# The last try of a connection came while its address had to wait: it was not compared.
PASSWORD_UNCHECKED = "password tries used up while waiting"
PASSWORD_BANNED = "too many wrong passwords"
# The server failed on what the client sent (a bug of ours): the connection is closed, and it
# costs its address the pause of an abusive ending, so that a line that makes the server fail,
# sent in a loop, cannot fill the log with tracebacks.
SERVER_ERROR = "server error"

# Endings the server chose because of what the client did: each costs the client's address a
# pause before its next connection is taken (limits.ABUSE_PENALTY_S).
ABUSE_ENDINGS = frozenset(
    {
        FLOODING,
        SEND_QUEUE_EXCEEDED,
        TOO_MANY_BAD_LINES,
        TOO_MANY_UNKNOWN,
        TOO_MANY_NAMES,
        SERVER_ERROR,
    }
)
# Endings that are nobody's fault (the log says INFO); any other means the server ended a session
# because of what the client did or failed to do (WARNING).
ORDINARY_ENDINGS = frozenset(
    {
        QUIT,
        CONNECTION_CLOSED,
        CONNECTION_LOST,
        SERVER_SHUTDOWN,
        SERVER_LOST,
        NAME_LOST,
        NAME_UNRECORDED,
    }
)


# Notices (events.Notice): the server's link to the other servers of its cluster.
CLUSTER_DOWN = "cluster_down"
CLUSTER_UP = "cluster_up"

PART = "part"  # a /part's reason in its leave notice; "part: TEXT" with the user's reason


def part_reason(text: str) -> str:
    """The reason of a ``/part`` with ``text`` (which may be empty)."""
    return f"{PART}: {text}" if text else PART


def is_part(reason: str) -> bool:
    """A leave notice's reason for a /part (``part``, ``part: TEXT``), not a session's end."""
    return reason == PART or reason.startswith(PART + ": ")


def quit_reason(text: str) -> str:
    """The reason of a ``/quit`` with ``text`` (which may be empty)."""
    return f"{QUIT}: {text}" if text else QUIT


def is_ordinary(reason: str) -> bool:
    """True if a session that ended for ``reason`` ended in the ordinary way (quit included)."""
    return reason in ORDINARY_ENDINGS or reason.startswith(QUIT + ":")
