"""The original 1.0 client, sans I/O: how it is recognised, and what it can read.

The 1.0 client sends each typed line with no line end (one ``send`` per line) and decodes what it
receives as ASCII, so ``decode('ascii')`` raises on the first non-ASCII byte. Its signature is
bytes with no line end followed by silence, on a connection that never sent a line end: a
line-framed client (nc, telnet, tcp-client, a bot) sends a line and its end in one write, and a
line split by the network is completed within a round trip. A telnet that negotiates options (in
character mode a person types a byte at a time) is never taken for one.

The transport keeps a ``LegacyWatch`` per connection: after each read it asks ``after_read``
whether to (re)start the silence timer (``LEGACY_SILENCE_S``), and when the timer fires it asks
``silence`` whether the connection is now served in legacy mode: each read is one line, and
everything sent to it goes through ``ascii_safe``.
"""

from __future__ import annotations

import re
import unicodedata
from collections import OrderedDict

# Cyrillic letters written in Latin ones (close to the ICAO passport scheme), so a 1.0 user reads
# "Anna" rather than "????" for a name in the script the chat sees most after Latin. Other scripts
# become "?" but for what NFKD decomposes (accents dropped, ligatures split).
_CYRILLIC = dict(
    zip(
        "абвгдеёжзийклмнопрстуфхцчшщъыьэюяіїєґў",
        (
            *("a", "b", "v", "g", "d", "e", "e", "zh", "z", "i", "i", "k", "l", "m", "n", "o"),
            *("p", "r", "s", "t", "u", "f", "kh", "ts", "ch", "sh", "shch", "ie", "y", "", "e"),
            *("iu", "ia", "i", "i", "ie", "g", "u"),
        ),
    )
)
_TRANSLITERATION = {ord(k): v for k, v in _CYRILLIC.items()}
_TRANSLITERATION.update(
    {ord(k.upper()): v.capitalize() for k, v in _CYRILLIC.items() if k.upper() != k}
)


# A word as a name is one: ASCII letters, digits and "_-.", and any character beyond ASCII.
_WORD = re.compile(r"(?:[A-Za-z0-9_.\-]|[^\x00-\x7f])+")
# Never in a name (names hold letters, digits and "_-."), so "Vera~" is nobody's name.
CONVERTED = "~"


def ascii_safe(text: str) -> str:
    """``text`` in ASCII only, for a 1.0 client: Cyrillic transliterated, accents and other marks
    dropped (``NFKD``), anything else ``?``, and each word so made followed by ``~``. ASCII text
    comes back as it is.

    The mark keeps a converted name from passing for an ASCII one: ``Вера`` is ``Vera~`` beside
    ``Vera``, ``alicé`` is ``alice~`` beside ``alice``, and ``Сервер`` cannot pass for the
    server. Two converted names may still read alike (``Анна`` and ``Ánna``)."""
    if text.isascii():
        return text
    return _WORD.sub(_converted, text)


def _converted(found: re.Match[str]) -> str:
    word = found.group()
    if word.isascii():
        return word
    core = word.rstrip(".-")  # a full stop or dash after the word stays after the mark
    text = unicodedata.normalize("NFKD", core.translate(_TRANSLITERATION))
    ascii_text = "".join(c for c in text if not unicodedata.combining(c))
    return ascii_text.encode("ascii", "replace").decode() + CONVERTED + word[len(core) :]


def ascii_safe_bytes(data: bytes) -> bytes:
    """Lines the server made (UTF-8) as a 1.0 client can decode them."""
    if data.isascii():
        return data
    return _CONVERTED.get(data)


# What is kept of the conversions, in bytes (what was converted and what it became), and the
# largest conversion kept: the bytes handed to a write may be a whole flush of #lobby.
CONVERTED_KEPT_BYTES = 2 * 1024 * 1024
CONVERTED_KEPT_MAX_BYTES = CONVERTED_KEPT_BYTES // 8


class Converted:
    """The last conversions, least recently used first out: what a room says goes to each of its
    1.0 users as the same bytes, converted once for all of them. Bounded by bytes, not entries."""

    __slots__ = ("_kept", "size", "_limit", "_largest")

    def __init__(
        self, limit: int = CONVERTED_KEPT_BYTES, largest: int = CONVERTED_KEPT_MAX_BYTES
    ) -> None:
        self._kept: OrderedDict[bytes, bytes] = OrderedDict()
        self.size = 0  # bytes held: each conversion's input and output
        self._limit = limit
        self._largest = largest

    def get(self, data: bytes) -> bytes:
        """``data`` converted (``ascii_safe``), kept for the next 1.0 user it goes to."""
        done = self._kept.get(data)
        if done is not None:
            self._kept.move_to_end(data)
            return done
        done = ascii_safe(data.decode("utf-8", "replace")).encode("ascii")
        size = len(data) + len(done)
        if size <= self._largest:
            self._kept[data] = done
            self.size += size
            while self.size > self._limit:
                old, converted = self._kept.popitem(last=False)
                self.size -= len(old) + len(converted)
        return done

    def __len__(self) -> int:
        return len(self._kept)


_CONVERTED = Converted()


class LegacyWatch:
    """Whether one connection is a 1.0 client: watching, decided no, or legacy.

    ``after_read`` after each read (with what the telnet filter and the decoder saw), ``silence``
    when the timer it asked for fires. Once a line end or a telnet command is seen the watch ends
    for good: nothing is asked of the connection after that.
    """

    __slots__ = ("watching", "legacy")

    def __init__(self, enabled: bool = True) -> None:
        self.watching = enabled
        self.legacy = False

    def after_read(self, line_end: bool, held: int, telnet: bool) -> bool:
        """A read came: True if the silence timer should (re)start now, False if it should stop.
        ``line_end``: the read held a line end; ``held``: bytes the decoder now holds of an
        unfinished line; ``telnet``: the connection sent a telnet command."""
        if not self.watching:
            return False
        if line_end or telnet:
            self.watching = False
            return False
        return held > 0

    def silence(self, held: int) -> bool:
        """The timer fired: True if the connection just became a legacy one (the caller then
        ends the line the decoder holds and logs it)."""
        if not self.watching or held <= 0:
            return False
        self.watching = False
        self.legacy = True
        return True
