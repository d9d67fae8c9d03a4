"""Telnet, sans I/O: what a telnet client adds to the text stream is taken out and answered.

A ``TelnetFilter`` sits before the ``LineDecoder`` of every connection. The transport feeds it
the bytes it read and gives what ``feed`` returns to the decoder; when ``pending`` is set it calls
``take()`` for the bytes to send back as they are (never rendered as events) and whether the line
the decoder holds must be dropped (the user pressed Ctrl+C). It also turns the line ends telnet
sends besides LF (CR NUL, a lone CR) into LF. No telnet command byte ever reaches the decoder, so
negotiation never reaches the hub or another user.

Applied to every connection, not only text mode: IAC is 0xFF, a byte that never occurs in UTF-8,
so a client that speaks the protocol (JSON included) never sends it, and the filter costs such a
client two byte scans per read.
"""

from __future__ import annotations

import re

from .limits import TELNET_SUBNEGOTIATION_MAX_BYTES

# RFC 854 command codes (SUSP, ABORT and EOF: RFC 1184), and the options we agree to:
# TIMING-MARK (RFC 860) and BINARY (RFC 856).
IAC = 255
DONT = 254
DO = 253
WONT = 252
WILL = 251
SB = 250
EL = 248
EC = 247
AYT = 246
AO = 245
IP = 244
BRK = 243
SUSP = 237
XEOF = 236
SE = 240
BINARY = 0
TIMING_MARK = 6

# Outside binary mode a telnet client (inetutils', netkit's) compares each typed byte without its
# top bit to the terminal's special characters, so the second byte of a UTF-8 letter can go out
# as a command: у (D1 83) as D1 IAC IP, since 0x83 is Ctrl+C (0x03) with the top bit set; я (D1
# 8F) as abort output (Ctrl+O), К (D0 9A) as suspend (Ctrl+Z), М (D0 9C) as break (Ctrl+\).
# A command where a UTF-8 sequence still lacks a byte is no key a person pressed: it is taken
# back as the byte it stands for, with the terminal's usual special characters (stty's
# defaults; erase as Ctrl+H, since Ctrl+? would be 0xFF, which UTF-8 never holds).
_TYPED_AS = {IP: 0x83, BRK: 0x9C, AO: 0x8F, SUSP: 0x9A, EL: 0x95, EC: 0x88, XEOF: 0x84, AYT: 0x94}
# Commands a connection may send between two line ends: PuTTY sends about ten option requests
# before its first line, Ctrl+C is two. Past this the run counts as a bad line of its own
# (``floods``) and the rest of that read is dropped: commands form no line, so an endless stream
# of them would cost nothing else (an abuse review: one connection sending IAC NOP kept the
# server at 100 % CPU).
TELNET_COMMANDS_PER_LINE = 32
_LINE_END = re.compile(rb"[\r\n]")
# What a telnet client is asked once it shows itself (its first command): to send binary, with
# its top bits kept, so that no letter after the first turns into a command.
_OFFER = bytes((IAC, DO, BINARY))

# What "Are You There" gets: a line in the text mode's server voice, so a person sees it as the
# server's and no user can produce it (every user line starts with "<", "*" or "[PM").
AYT_REPLY = b"*** tcp-chat: yes, I am here.\n"

# Commands that mean "forget what I was typing": interrupt (Ctrl+C), break, abort output, erase
# line, erase character. We keep no editing buffer of our own, so erasing a character is taken
# as starting the line over, the safe reading: nothing half-edited is ever sent.
_DISCARDING = frozenset({IP, BRK, AO, EL, EC})

_DATA, _COMMAND, _OPTION, _SUB, _SUB_IAC = range(5)
_IAC_BYTE = b"\xff"
# A CR that ends a line without an LF: CR NUL (RFC 854's bare carriage return, which character
# mode sends for Enter) or a CR followed by anything but LF. CR LF is left to the decoder.
_LONE_CR = re.compile(rb"\r(?:\x00|(?!\n))")


class TelnetFilter:
    """Strips telnet commands from a byte stream, answers them, and normalises line ends.

    ``feed(data)`` returns the bytes for the ``LineDecoder``. Option negotiation is refused
    (``DO x`` gets ``WONT x``, ``WILL x`` gets ``DONT x``; ``WONT``/``DONT`` confirm what we
    already do and get nothing, so no loop can start) except ``DO TIMING-MARK``, answered with
    ``WILL TIMING-MARK`` once everything before it is processed (telnet discards all output after
    Ctrl+C until that answer comes), and the client's BINARY: asked for (``DO BINARY``) at its
    first command, and answered only when a request changes what is agreed (RFC 1143), so no
    loop can start either. Ours stays refused: a telnet that reads binary shows our bare LF line
    ends as a staircase. A command in the middle of a UTF-8 sequence is the byte a telnet client
    outside binary mode turned into one (``_TYPED_AS``). Subnegotiation (``SB ... SE``) is
    skipped whole, up to ``TELNET_SUBNEGOTIATION_MAX_BYTES``. ``IAC IAC`` is a literal 0xFF
    byte (RFC 854), which the decoder then refuses as invalid UTF-8. Sequences split across
    reads are handled.
    """

    __slots__ = (
        "_state",
        "_verb",
        "_sub",
        "_after_cr",
        "_tail",
        "_binary",
        "_asked",
        "_run",
        "_repaired",
        "floods",
        "_replies",
        "_discard",
        "pending",
        "seen",
    )

    def __init__(self) -> None:
        self._state = _DATA
        self._verb = 0
        self._sub = 0  # bytes skipped in the current subnegotiation
        self._after_cr = False  # the last read ended with a CR taken as a line end
        self._tail = b""  # the end of the last read, if it may be a UTF-8 sequence cut short
        self._binary = False  # the client agreed to send binary
        self._asked = False  # our DO BINARY awaits the client's answer
        self._run = 0  # commands since the last line end
        self._repaired = False  # the last command was a letter's byte, taken back
        self.floods = 0  # runs of commands past TELNET_COMMANDS_PER_LINE, not told yet
        self._replies = bytearray()
        self._discard = False
        self.pending = False  # take() has something
        self.seen = False  # a telnet command came on this connection

    def feed(self, data: bytes) -> bytes:
        """The clean bytes of ``data``; then, if ``pending``, call ``take()``."""
        if self._state == _DATA and not self._after_cr and _IAC_BYTE not in data:
            self._tail = data[-3:] if data and data[-1] >= 0x80 else b""
            if self._run and _LINE_END.search(data):
                self._run = 0
            if b"\r" not in data:
                return data  # what nearly every read is: no scan but the two above
            return self._line_ends(data)
        if self._state != _DATA or _IAC_BYTE in data:
            data = self._commands(data)
        if data:  # (a read of commands alone keeps what the last data ended with)
            self._tail = data[-3:] if data[-1] >= 0x80 else b""
        return self._line_ends(data)

    def take(self) -> tuple[bytes, bool]:
        """The bytes to send back as they are, and whether to drop the line the decoder holds
        (before feeding it what ``feed`` returned)."""
        replies, discard = bytes(self._replies), self._discard
        self._replies.clear()
        self._discard = False
        self.pending = False
        return replies, discard

    def _line_ends(self, data: bytes) -> bytes:
        if self._after_cr and data:
            # The CR that ended the last read was a line end already: its LF or NUL is not a
            # second one.
            self._after_cr = False
            if data[0] in (0x0A, 0x00):
                data = data[1:]
        if b"\r" not in data or (
            data.count(b"\r") == data.count(b"\r\n")  # all CR LF: the decoder's business
        ):
            return data
        if data.endswith(b"\r"):
            # An LF may follow in the next read; waiting for it would leave a client that ends
            # lines with a lone CR a line behind, so the line ends now and that LF is skipped.
            self._after_cr = True
            data = data[:-1] + b"\n"
        return _LONE_CR.sub(b"\n", data)

    def _commands(self, data: bytes) -> bytes:
        out = bytearray()
        i, end = 0, len(data)
        while i < end:
            state = self._state
            if state == _DATA:
                j = data.find(_IAC_BYTE, i)
                if j < 0:
                    self._data(out, data[i:])
                    break
                self._data(out, data[i:j])
                i = j + 1
                self._state = _COMMAND
                self._run += 1
                if self._run > TELNET_COMMANDS_PER_LINE:
                    # No client does this: the rest of the read is not looked at, so a read
                    # costs at most this many commands' work (and AYT answers).
                    self._run, self._state = 0, _DATA
                    self.floods += 1
                    break
                if not self.seen:
                    self.seen = self._asked = True
                    self._reply(_OFFER)
                continue
            if state == _SUB:
                j = data.find(_IAC_BYTE, i)
                stop = end if j < 0 else j
                room = TELNET_SUBNEGOTIATION_MAX_BYTES - self._sub
                if stop - i > room:
                    # No SE within the limit: the subnegotiation ends there, and the bytes
                    # after it are data again, in this read as in the next.
                    self._sub, i = TELNET_SUBNEGOTIATION_MAX_BYTES, i + room
                    self._state = _DATA
                    continue
                self._sub += stop - i
                i = stop
                if j >= 0:
                    i = j + 1
                    self._state = _SUB_IAC
                continue
            byte = data[i]
            i += 1
            if state == _SUB_IAC:
                if byte == IAC:  # an escaped 0xFF inside the subnegotiation
                    self._sub += 1
                    over = self._sub > TELNET_SUBNEGOTIATION_MAX_BYTES  # past it: data again
                    self._state = _DATA if over else _SUB
                    continue
                if byte == SE:
                    self._state = _DATA
                    continue
                state = _COMMAND  # SB cut short by another command (RFC 854 calls it an error)
            if state == _COMMAND:
                self._state = _DATA
                if byte == IAC:
                    out.append(IAC)
                elif byte in (WILL, WONT, DO, DONT):
                    self._verb = byte
                    self._state = _OPTION
                elif byte == SB:
                    self._sub = 0
                    self._state = _SUB
                elif byte in _TYPED_AS and _unfinished(self._tail + out[-3:]):
                    out.append(_TYPED_AS[byte])
                    # A letter, not a command: not counted, nor the timing mark telnet asks
                    # for after it (D1 IAC IP IAC DO TIMING-MARK).
                    self._run -= 1
                    self._repaired = True
                    continue
                elif byte == AYT:
                    self._reply(AYT_REPLY)
                elif byte in _DISCARDING:
                    self._drop_partial_line(out)
                # NOP, DM, GA, a stray SE and unknown commands mean nothing to a chat.
                if byte not in (WILL, WONT, DO, DONT):
                    self._repaired = False
                continue
            # _OPTION: the option byte of WILL/WONT/DO/DONT
            self._state = _DATA
            if self._repaired and self._verb == DO and byte == TIMING_MARK:
                self._run -= 1
            self._repaired = False
            if byte == BINARY and self._verb in (WILL, WONT):
                self._binary_option(self._verb == WILL)
            elif self._verb == DO:
                verb = WILL if byte == TIMING_MARK else WONT
                self._reply(bytes((IAC, verb, byte)))
            elif self._verb == WILL:
                self._reply(bytes((IAC, DONT, byte)))
        return bytes(out)

    def _data(self, out: bytearray, piece: bytes) -> None:
        """``piece`` of data between commands, for the decoder; a line end in it starts the
        count of commands again."""
        if self._run and _LINE_END.search(piece):
            self._run = 0
        out += piece

    def _binary_option(self, wanted: bool) -> None:
        """The client's WILL (``wanted``) or WONT BINARY, answered only when it changes what is
        agreed (RFC 1143; its answer to our own DO gets none)."""
        if self._asked:
            self._asked = False
        elif self._binary != wanted:
            self._reply(bytes((IAC, DO if wanted else DONT, BINARY)))
        self._binary = wanted

    def _reply(self, data: bytes) -> None:
        self._replies += data
        self.pending = True

    def _drop_partial_line(self, out: bytearray) -> None:
        """Forget the line being typed: what this read holds after its last line end, and, if it
        holds no line end, what the decoder holds too."""
        last = max(out.rfind(b"\n"), out.rfind(b"\r"))
        if last >= 0:
            del out[last + 1 :]
        else:
            out.clear()
            self._discard = True
            self.pending = True


def _unfinished(tail: bytes | bytearray) -> bool:
    """True if ``tail`` (the last bytes given to the decoder) ends inside a UTF-8 sequence: after
    a lead byte, with fewer continuation bytes than it announces."""
    for back in range(1, min(len(tail), 3) + 1):
        byte = tail[-back]
        if byte < 0x80:
            return False
        if byte >= 0xC0:  # a lead: 110xxxxx wants 1 more, 1110xxxx 2, 11110xxx 3
            wants = 1 if byte < 0xE0 else 2 if byte < 0xF0 else 3
            return back <= wants
    return False
