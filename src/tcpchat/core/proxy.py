"""The PROXY protocol (HAProxy's, versions 1 and 2): how a proxy in TCP mode tells the server
whom a connection is really from, in a header it sends before anything else.

Behind HAProxy every connection comes from the proxy's address, so the per-address limits would
count all users as one and the log would show the proxy. A server started with ``--proxy-from``
reads a header first on each connection from those addresses (``server/proxied.py`` does the
reading) and counts, limits and logs the connection under the address the header gives.
Connections from other addresses are taken as they are; one of them that begins with a header
(``begins_with_header``) is not believed, but told so and closed (``server/connection.py``).

Plain functions over bytes, no sockets: ``header_size`` says how much of a stream's start is
the header (so that the reader takes no byte past it: what follows is the client's own, a TLS
handshake for instance), ``parse_header`` what it says. Reference: haproxy's
doc/proxy-protocol.txt.
"""

from __future__ import annotations

import ipaddress
import struct
from typing import Union

V1_PREFIX = b"PROXY "
# Version 1's longest line: "PROXY TCP6 " + two full IPv6 addresses + two ports + CRLF.
V1_MAX_BYTES = 107
V2_SIGNATURE = b"\r\n\r\n\x00\r\nQUIT\n"
V2_FIXED_BYTES = 16  # the signature, version and command, family, length
# A version 2 header with its extensions (TLVs): the addresses need at most 52 bytes; HAProxy's
# own TLVs (the TLS details with send-proxy-v2-ssl-cn, a unique id) a few hundred. More is
# refused, so a connection's header costs the server a bounded buffer.
V2_MAX_BYTES = 2048
HEADER_MAX_BYTES = V2_MAX_BYTES

_V2_LOCAL, _V2_PROXY = 0x20, 0x21
_V2_TCP4, _V2_TCP6 = 0x11, 0x21
_V2_STREAM = 0x1  # the low half of the family byte: a stream (TCP) or unspecified (0)

Network = Union[ipaddress.IPv4Network, ipaddress.IPv6Network]


class ProxyHeaderError(ValueError):
    """The bytes are not a PROXY protocol header tcp-chat can use; the message says why."""


def header_size(start: bytes) -> int | None:
    """The length of the header that ``start`` (the first bytes of a connection) begins with, or
    None if more bytes are needed to tell. Raises ProxyHeaderError if ``start`` cannot be the
    beginning of a header, or announces one longer than tcp-chat reads."""
    if start[:1] == V2_SIGNATURE[:1]:
        known = start[: len(V2_SIGNATURE)]
        if not V2_SIGNATURE.startswith(known):
            raise ProxyHeaderError("not a PROXY protocol header")
        if len(start) < V2_FIXED_BYTES:
            return None
        size = V2_FIXED_BYTES + int(struct.unpack_from("!H", start, 14)[0])
        if size > V2_MAX_BYTES:
            raise ProxyHeaderError(f"a PROXY v2 header of {size} bytes (at most {V2_MAX_BYTES})")
        return size
    if not V1_PREFIX.startswith(start[: len(V1_PREFIX)]):
        raise ProxyHeaderError("not a PROXY protocol header")
    end = start.find(b"\r\n", 0, V1_MAX_BYTES)
    if end >= 0:
        return end + 2
    if len(start) >= V1_MAX_BYTES:
        raise ProxyHeaderError(f"a PROXY v1 line without its end in {V1_MAX_BYTES} bytes")
    return None


def begins_with_header(data: bytes) -> bool:
    """True if ``data``, the first bytes a connection sent, begin as a PROXY header does (a
    version 1 line, or the version 2 signature): what a proxy sends, never a chat client."""
    if data[: len(V2_SIGNATURE)] == V2_SIGNATURE:
        return True
    return data.startswith((b"PROXY TCP4 ", b"PROXY TCP6 ", b"PROXY UNKNOWN"))


def parse_header(header: bytes) -> tuple[str, int] | None:
    """The client's address and port as the proxy saw them, from a whole header (as long as
    ``header_size`` said); None when the header gives none (v1 ``UNKNOWN``, v2 ``LOCAL`` as in
    HAProxy's health checks, a family other than TCP over IPv4 or IPv6): the connection is then
    the proxy's own. Raises ProxyHeaderError for a malformed one."""
    if header.startswith(V2_SIGNATURE):
        return _parse_v2(header)
    return _parse_v1(header)


def _parse_v1(header: bytes) -> tuple[str, int] | None:
    if not header.startswith(V1_PREFIX) or not header.endswith(b"\r\n"):
        raise ProxyHeaderError("not a PROXY protocol header")
    words = header[len(V1_PREFIX) : -2].split(b" ")
    if words[0] == b"UNKNOWN":  # whatever follows is to be ignored
        return None
    if len(words) != 5 or words[0] not in (b"TCP4", b"TCP6"):
        raise ProxyHeaderError("a PROXY v1 line is TCP4 or TCP6 and four fields, or UNKNOWN")
    family = ipaddress.IPv4Address if words[0] == b"TCP4" else ipaddress.IPv6Address
    try:
        if b"%" in words[1] or b"%" in words[2]:  # a zone (fe80::1%eth0): not an address here
            raise ValueError("a zone")
        source, _ = (family(word.decode("ascii")) for word in words[1:3])
    except (UnicodeDecodeError, ValueError):
        raise ProxyHeaderError("a PROXY v1 line with a bad address") from None
    port = _port(words[3])
    _port(words[4])
    return str(source), port


def _port(word: bytes) -> int:
    """A port as version 1 writes it: decimal, 0 to 65535, without leading zeros."""
    plain = word.isdigit() and len(word) <= 5 and (word == b"0" or word[:1] != b"0")
    if not plain or int(word) > 65535:
        raise ProxyHeaderError("a PROXY v1 line with a bad port")
    return int(word)


def _parse_v2(header: bytes) -> tuple[str, int] | None:
    command, family = header[12], header[13]
    if command == _V2_LOCAL:
        return None
    if command != _V2_PROXY:
        raise ProxyHeaderError(
            f"a PROXY header of version {command >> 4} or command {command & 15}"
        )
    if family >> 4 > 3 or family & 0x0F > 2:
        raise ProxyHeaderError(f"a PROXY v2 header of an unknown family {family:#04x}")
    if family & 0x0F not in (0, _V2_STREAM):
        raise ProxyHeaderError("a PROXY v2 header for datagrams, not a TCP connection")
    body = header[V2_FIXED_BYTES:]
    if family == _V2_TCP4:
        if len(body) < 12:
            raise ProxyHeaderError("a PROXY v2 header too short for its IPv4 addresses")
        return str(ipaddress.IPv4Address(body[:4])), int(struct.unpack_from("!H", body, 8)[0])
    if family == _V2_TCP6:
        if len(body) < 36:
            raise ProxyHeaderError("a PROXY v2 header too short for its IPv6 addresses")
        return str(ipaddress.IPv6Address(body[:16])), int(struct.unpack_from("!H", body, 32)[0])
    if family >> 4 == 3 and len(body) < 216:
        raise ProxyHeaderError("a PROXY v2 header too short for its Unix socket paths")
    return None  # unspecified, or a Unix socket's path: nothing an address limit can count


def parse_networks(text: str) -> str:
    """``--proxy-from``: addresses or networks (``10.0.0.5``, ``10.0.0.0/24``, ``::1``),
    separated by commas, in their normal written form; "" for none. ValueError if one is not
    an address or a network."""
    shown = []
    for part in text.split(","):
        word = part.strip()
        if not word:
            continue
        try:
            shown.append(str(ipaddress.ip_network(word, strict=False)))
        except ValueError:
            raise ValueError(f"not an address or network: {word!r}") from None
    return ",".join(shown)


class Proxies:
    """The addresses a connection must come from for its PROXY header to be read (``spec``: as
    ``parse_networks`` gives it)."""

    __slots__ = ("networks",)

    def __init__(self, spec: str) -> None:
        self.networks: tuple[Network, ...] = tuple(
            ipaddress.ip_network(word) for word in spec.split(",") if word
        )

    def __bool__(self) -> bool:
        return bool(self.networks)

    def trusted(self, peer: object) -> bool:
        """True if ``peer`` (a socket address as ``accept`` gives it) is one of the proxies."""
        if not self.networks or not isinstance(peer, tuple) or not peer:
            return False
        try:
            address = ipaddress.ip_address(str(peer[0]).split("%", 1)[0])
        except ValueError:
            return False
        if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
            address = address.ipv4_mapped
        return any(address in network for network in self.networks)
