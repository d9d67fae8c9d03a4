"""IRC lines, sans I/O: one line into its tags, source, verb and parameters; text made safe.

RFC 1459 section 2.3 and the modern client protocol (modern.ircdocs.horse, "Messages"): a line is
``[@tags ]['':'source ]VERB [params] [:trailing]``, at most 512 bytes with its CR LF, tags aside
(at most 8191 bytes more, IRCv3 message-tags). ``core/irc.py`` uses these to read what an IRC
client sends; ``core/irc_render.py`` to write what it reads.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import NamedTuple

from .limits import NAME_MAX_CHARS, ROOM_NAME_MAX_CHARS
from .names import name_key, past_length
from .text import ASCII_RUN, neutralise_line

# RFC 1459 2.3: 512 bytes with the CR LF; what a client sends beyond it is refused (417).
IRC_LINE_BYTES = 512
# IRCv3 message-tags: the tags of a line a client sends, with their '@' and the space.
IRC_TAG_BYTES = 8191
# The framing's hard limit for one line: the two together (what a line holds after it is refused).
IRC_MAX_LINE = IRC_LINE_BYTES + IRC_TAG_BYTES
# A line of this many characters fits in 512 bytes whatever they are (4 bytes at most each).
SURELY_FITS = (IRC_LINE_BYTES - 2) // 4

# mIRC formatting (modern.ircdocs.horse/formatting): bold, colour (with its digits), hex colour,
# reset, monospace, reverse, italics, strikethrough, underline.
_FORMATTING = re.compile(
    r"\x03(?:\d{1,2}(?:,\d{1,2})?)?"
    r"|\x04(?:[0-9a-fA-F]{6}(?:,[0-9a-fA-F]{6})?)?"
    r"|[\x02\x0f\x11\x16\x1d\x1e\x1f]"
)


@dataclass(frozen=True)
class IrcMessage:
    """One line from a client. ``verb`` is upper-cased; ``params`` holds the trailing one last."""

    verb: str
    params: tuple[str, ...] = ()
    tags: str = ""  # as sent, without the '@' (the server reads none of them)
    body_bytes: int = 0  # the bytes of the line without its tags (the 512 limit)


# Targets one PRIVMSG, NOTICE, JOIN, PART or NAMES takes (TARGMAX in 005). Past them the first
# MAX_TARGETS are carried out and the next one is named in one 407 ERR_TOOMANYTARGETS, as ngircd
# answers a PRIVMSG to more than its 25 (InspIRCd and ergo drop the excess without a word).
MAX_TARGETS = 8
TOO_MANY_TARGETS = f"Too many targets: only the first {MAX_TARGETS} were taken"


class Targets(NamedTuple):
    """A command's targets: those to carry out, and the first one left out ("" if none)."""

    taken: list[str]
    dropped: str


def targets(text: str) -> Targets:
    """A command's comma-separated targets: each once, however it is written (``NAMES
    #a,#A,...`` would multiply its answer: a name's or a room's key decides, ``name_key``),
    none empty (it would be an empty middle word in the numeric that answers it), at most
    MAX_TARGETS; the caller answers ``dropped``, if any, with one 407 after the others."""
    distinct: dict[str, str] = {}
    longest = max(NAME_MAX_CHARS, ROOM_NAME_MAX_CHARS)
    for target in text.split(","):
        if target:
            # One longer than any name or room is nobody's: its own text, no key made for it.
            key = target if past_length(target, longest) else name_key(target)
            distinct.setdefault(key, target)
            if len(distinct) > MAX_TARGETS:
                break
    kept = list(distinct.values())
    return Targets(kept[:MAX_TARGETS], kept[MAX_TARGETS] if len(kept) > MAX_TARGETS else "")


def parse_message(line: str) -> IrcMessage | None:
    """``line`` (its CR LF removed) as a message; None for a line with no verb (blank)."""
    rest = line
    tags = ""
    if rest.startswith("@"):
        tags, _, rest = rest[1:].partition(" ")
    body_bytes = len(rest.encode("utf-8")) + 2
    rest = rest.lstrip(" ")
    if rest.startswith(":"):  # a source: a client must not send one, servers ignore it
        _, _, rest = rest.partition(" ")
    head, sep, trailing = rest.partition(" :")
    words = head.split()
    if not words:
        return None
    params = tuple(words[1:]) + ((trailing,) if sep else ())
    return IrcMessage(words[0].upper(), params, tags, body_bytes)


def quick_privmsg(line: str) -> tuple[str, str] | None:
    """(channel, text) of ``line`` if it is the commonest line of all, ``PRIVMSG #room :text``:
    no tags, no source, one target (a channel), a trailing text that is not empty and not CTCP.
    None for any other line, which goes through ``parse_message``; for a line this reads, that
    reads the same ``PRIVMSG`` with these two parameters (``tests/core/test_irc_quick.py``)."""
    if not line.startswith("PRIVMSG #"):
        return None
    head, sep, text = line.partition(" :")
    if not sep or not text or text[0] == "\x01":
        return None
    words = head.split()
    if len(words) != 2 or "," in words[1]:
        return None
    return words[1], text


def quick_ping(line: str) -> str | None:
    """The token of ``line`` if it is ``PING token`` or ``PING :token`` (a token without spaces;
    what clients and bots send to measure the lag), read without ``parse_message``; None for any
    other line, which goes through it. For a line this reads, that reads ``PING`` with the
    token first."""
    if not line.startswith("PING "):
        return None
    if line.startswith("PING :"):
        token = line[6:]  # the trailing parameter: anything
    else:
        token = line[5:]
        # One word: a printable text without a space has no blank at all (str.split's).
        if " " in token or not token.isprintable():
            return None
    return token or None


def fits(line: str) -> bool:
    """True if ``line`` (without its CR LF, without tags) is within IRC's 512 bytes."""
    return len(line) <= SURELY_FITS or len(line.encode("utf-8")) + 2 <= IRC_LINE_BYTES


def strip_formatting(text: str) -> str:
    """``text`` without mIRC formatting codes: what a person meant to say, with no bytes that
    would reach a native user's terminal as replacement characters (docs/IRC.md)."""
    if "\x03" not in text and "\x04" not in text and text.isprintable():
        return text
    return _FORMATTING.sub("", text)


def user_text(text: str) -> str:
    """Text from an IRC client as the hub takes it: formatting removed, then every other control
    character neutralised and blank padding cut, as for every line of the native port."""
    if text.isascii() and text.isprintable() and ASCII_RUN not in text:
        return text  # the commonest text, which neither step changes: two scans, not five
    return neutralise_line(strip_formatting(text))


def ctcp(text: str) -> tuple[str, str] | None:
    """A CTCP request (``\\x01VERB rest\\x01``) as (VERB, rest); None for ordinary text."""
    if not text.startswith("\x01"):
        return None
    body = text[1:-1] if text.endswith("\x01") else text[1:]
    verb, _, rest = body.partition(" ")
    return verb.upper(), rest


def line(*words: str, source: str = "", tags: str = "", text: bool = False) -> bytes:
    """One line to send: the last word becomes the trailing parameter (with its ':') when it is
    ``text`` (a message, a reason: always written so), empty, holds a space or starts with ':';
    every other word must hold none of those. The last word is cut (between characters) where
    the line would pass 512 bytes: a topic (in TOPIC, 332 or 322) or a reason of 390 characters
    can be four times that; lines built to fit (353's names, a message's pieces) never are."""
    parts: list[str] = []
    if source:
        parts.append(":" + source)
    *head, last = words
    parts += head
    if text or not last or " " in last or last.startswith(":"):
        last = ":" + last
    parts.append(last)
    body = " ".join(parts).encode("utf-8")
    if len(body) > IRC_LINE_BYTES - 2:
        cut = IRC_LINE_BYTES - 2
        while (body[cut] & 0xC0) == 0x80:  # not inside a character
            cut -= 1
        body = body[:cut]
    return (b"@" + tags.encode("utf-8") + b" " if tags else b"") + body + b"\r\n"


def escape_tag_value(value: str) -> str:
    """An IRCv3 tag value with ``;``, space, backslash, CR and LF escaped."""
    return (
        value.replace("\\", "\\\\")
        .replace(";", "\\:")
        .replace(" ", "\\s")
        .replace("\r", "\\r")
        .replace("\n", "\\n")
    )


def split_text(text: str, room: int) -> list[str]:
    """``text`` in pieces of at most ``room`` bytes of UTF-8, cut between characters (at a
    space when one is near): what a long native message becomes for IRC's 512-byte lines."""
    data = text.encode("utf-8")
    if len(data) <= room:
        return [text]
    pieces: list[str] = []
    while len(data) > room:
        cut = room
        while cut > 0 and (data[cut] & 0xC0) == 0x80:  # not inside a character
            cut -= 1
        space = data.rfind(b" ", max(0, cut - 40), cut)
        if space > 0:
            cut = space
        pieces.append(data[:cut].decode("utf-8"))
        data = data[cut:].lstrip(b" ")
    if data:
        pieces.append(data.decode("utf-8"))
    return pieces
