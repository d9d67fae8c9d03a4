"""The PROXY protocol header (core/proxy.py): how much of a stream is header, what it says, and
which peers may send one."""

from __future__ import annotations

import ipaddress
import struct

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tcpchat.core.proxy import (
    V1_MAX_BYTES,
    V2_MAX_BYTES,
    V2_SIGNATURE,
    Proxies,
    ProxyHeaderError,
    begins_with_header,
    header_size,
    parse_header,
    parse_networks,
)

V1_TCP4 = b"PROXY TCP4 203.0.113.7 192.0.2.1 40001 54321\r\n"
V1_TCP6 = b"PROXY TCP6 2001:db8::7 2001:db8::1 40001 54321\r\n"
V1_FULL = (
    b"PROXY TCP6 ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff "
    b"ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff 65535 65535\r\n"
)
V1_LONGEST = V1_FULL.replace(b"TCP6", b"UNKNOWN")  # what the protocol's 107 bytes are for


def v2(command: int, family: int, body: bytes) -> bytes:
    """A version 2 header as HAProxy's send-proxy-v2 writes it."""
    return V2_SIGNATURE + bytes([command, family]) + struct.pack("!H", len(body)) + body


def v2_tcp4(source: str, port: int, tlvs: bytes = b"") -> bytes:
    addresses = ipaddress.IPv4Address(source).packed + ipaddress.IPv4Address("192.0.2.1").packed
    return v2(0x21, 0x11, addresses + struct.pack("!HH", port, 54321) + tlvs)


def v2_tcp6(source: str, port: int) -> bytes:
    addresses = ipaddress.IPv6Address(source).packed + ipaddress.IPv6Address("::1").packed
    return v2(0x21, 0x21, addresses + struct.pack("!HH", port, 6667))


# A TLV as HAProxy adds them: type 0x05 (a unique id), its length, its value.
UNIQUE_ID = b"\x05" + struct.pack("!H", 12) + b"0123456789ab"


@pytest.mark.parametrize(
    ("header", "told"),
    [
        (V1_TCP4, ("203.0.113.7", 40001)),
        (V1_TCP6, ("2001:db8::7", 40001)),
        (V1_FULL, ("ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", 65535)),
        (V1_LONGEST, None),
        (b"PROXY UNKNOWN\r\n", None),
        (b"PROXY TCP4 203.0.113.7 192.0.2.1 0 54321\r\n", ("203.0.113.7", 0)),
        (b"PROXY UNKNOWN ffff::1 ffff::2 1 2\r\n", None),
        (v2_tcp4("203.0.113.7", 40001), ("203.0.113.7", 40001)),
        (v2_tcp4("203.0.113.7", 40001, UNIQUE_ID), ("203.0.113.7", 40001)),
        (v2_tcp6("2001:db8::7", 5), ("2001:db8::7", 5)),
        (v2(0x20, 0x00, b""), None),  # LOCAL: HAProxy's health check
        (v2(0x20, 0x11, bytes(12)), None),  # LOCAL with addresses: still the proxy's own
        (v2(0x21, 0x00, b""), None),  # PROXY, family unspecified
        (v2(0x21, 0x31, b"/run/socket".ljust(216, b"\0")), None),  # from a Unix socket
    ],
)
def test_a_header_is_measured_and_read(header: bytes, told: tuple[str, int] | None) -> None:
    assert header_size(header + b"Anna\n") == len(header)
    assert parse_header(header) == told


@pytest.mark.parametrize("header", [V1_TCP4, v2_tcp4("203.0.113.7", 1, UNIQUE_ID)])
def test_a_header_arriving_a_byte_at_a_time_is_measured_once_it_can_be(header: bytes) -> None:
    # The reader takes whatever header_size leaves open, so it never needs to see past the end.
    sizes = [header_size(header[:end]) for end in range(1, len(header) + 1)]
    known = [size for size in sizes if size is not None]
    assert sizes[-1] == len(header)
    assert set(known) == {len(header)}
    if header.startswith(V2_SIGNATURE):
        assert sizes.index(len(header)) == 15  # the length field is the 15th and 16th byte
    else:
        assert sizes.count(None) == len(header) - 1  # only the line's end tells


@pytest.mark.parametrize(
    ("start", "why"),
    [
        (b"Anna\n", "not a PROXY protocol header"),
        (b"\x16\x03\x01\x02\x00", "not a PROXY protocol header"),  # a TLS ClientHello
        (b"NICK anna\r\n", "not a PROXY protocol header"),
        (b"PROXY" + b"x", "not a PROXY protocol header"),
        (b"\r\n\r\n\x00\r\nQUIX", "not a PROXY protocol header"),
        (b"PROXY TCP4 " + b"1" * 200, "without its end in 107 bytes"),
        (V2_SIGNATURE + b"\x21\x11" + struct.pack("!H", 4000), "of 4016 bytes"),
    ],
)
def test_what_cannot_start_a_header_is_refused_at_once(start: bytes, why: str) -> None:
    with pytest.raises(ProxyHeaderError, match=why):
        header_size(start)


@pytest.mark.parametrize(
    ("header", "why"),
    [
        (b"PROXY TCP4 203.0.113.7 192.0.2.1 40001\r\n", "four fields"),
        (b"PROXY UDP4 203.0.113.7 192.0.2.1 1 2\r\n", "four fields"),
        (b"PROXY TCP4 2001:db8::7 192.0.2.1 1 2\r\n", "bad address"),
        (b"PROXY TCP6 203.0.113.7 2001:db8::1 1 2\r\n", "bad address"),
        (b"PROXY TCP4 203.0.113.7 192.0.2.1 65536 2\r\n", "bad port"),
        (b"PROXY TCP4 203.0.113.7 192.0.2.1 1 -2\r\n", "bad port"),
        (b"PROXY TCP4 203.0.113.7 192.0.2.1 \xd9\xa1 2\r\n", "bad port"),  # an Arabic digit
        (b"PROXY TCP4 \xd0\x90.0.0.1 192.0.2.1 1 2\r\n", "bad address"),
        (b"PROXY  TCP4 203.0.113.7 192.0.2.1 1 2\r\n", "four fields"),
        (b"PROXY TCP6 fe80::1%eth0 ::1 1 2\r\n", "bad address"),  # a zone is no address
        (b"PROXY TCP6 fe80::1 ::1%2 1 2\r\n", "bad address"),
        (b"PROXY TCP4 203.0.113.7 192.0.2.1 080 2\r\n", "bad port"),  # no leading zeros
        (b"PROXY TCP4 203.0.113.7 192.0.2.1 1 00\r\n", "bad port"),
        (v2(0x21, 0x41, bytes(12)), "unknown family 0x41"),
        (v2(0x21, 0xF1, bytes(36)), "unknown family 0xf1"),
        (v2(0x21, 0x13, bytes(12)), "unknown family 0x13"),
        (v2(0x21, 0x31, bytes(215)), "too short for its Unix socket paths"),
        (v2(0x22, 0x11, bytes(12)), "command 2"),
        (v2(0x11, 0x11, bytes(12)), "version 1"),
        (v2(0x21, 0x12, bytes(12)), "datagrams"),
        (v2(0x21, 0x11, bytes(11)), "too short for its IPv4"),
        (v2(0x21, 0x21, bytes(35)), "too short for its IPv6"),
    ],
)
def test_a_malformed_header_is_refused(header: bytes, why: str) -> None:
    assert header_size(header) == len(header)
    with pytest.raises(ProxyHeaderError, match=why):
        parse_header(header)


def test_the_longest_headers_read_are_bounded() -> None:
    assert len(V1_LONGEST) == V1_MAX_BYTES
    assert header_size(V1_LONGEST[:-1]) is None
    with pytest.raises(ProxyHeaderError):
        header_size(V1_LONGEST[:-2] + b" \r\n")
    largest = v2(0x21, 0x11, bytes(V2_MAX_BYTES - 16))
    assert header_size(largest) == V2_MAX_BYTES
    assert parse_header(largest) == ("0.0.0.0", 0)
    with pytest.raises(ProxyHeaderError):
        header_size(v2(0x21, 0x11, bytes(V2_MAX_BYTES - 15)))


@given(st.binary(max_size=300))
def test_any_bytes_are_a_header_or_a_clear_refusal(data: bytes) -> None:
    try:
        size = header_size(data)
        if size is not None and size <= len(data):
            told = parse_header(data[:size])
            assert told is None or 0 <= told[1] <= 65535
    except ProxyHeaderError:
        pass


@given(st.sampled_from([V1_TCP4, V1_TCP6, v2_tcp4("10.1.2.3", 9, UNIQUE_ID)]), st.binary())
def test_what_follows_a_header_is_never_counted_in_it(header: bytes, after: bytes) -> None:
    assert header_size(header + after) == len(header)


def test_proxy_addresses_are_written_normally_and_refused_clearly() -> None:
    assert parse_networks(" 10.0.0.5, 10.1.0.0/16 ,::1,, 2001:db8::/32") == (
        "10.0.0.5/32,10.1.0.0/16,::1/128,2001:db8::/32"
    )
    assert parse_networks("") == ""
    assert parse_networks("10.1.2.3/16") == "10.1.0.0/16"  # the network it is in
    with pytest.raises(ValueError, match="not an address or network: 'haproxy.local'"):
        parse_networks("10.0.0.5,haproxy.local")


def test_only_the_proxies_listed_are_believed() -> None:
    proxies = Proxies(parse_networks("10.0.0.5,192.168.0.0/24,fd00::/8"))
    assert proxies
    assert proxies.trusted(("10.0.0.5", 40000))
    assert proxies.trusted(("192.168.0.77", 40000))
    assert proxies.trusted(("::ffff:10.0.0.5", 40000, 0, 0))  # an IPv4 client of a v6 socket
    assert proxies.trusted(("fd12::1%eth0", 40000, 0, 2))
    assert not proxies.trusted(("10.0.0.6", 40000))
    assert not proxies.trusted(("2001:db8::1", 40000, 0, 0))
    assert not proxies.trusted("/run/tcp-chat.sock")
    assert not proxies.trusted(("not an address", 1))
    assert not Proxies("")
    assert not Proxies("").trusted(("10.0.0.5", 40000))


@pytest.mark.parametrize(
    ("first", "header"),
    [
        (V1_TCP4 + b"Anna\n", True),
        (b"PROXY UNKNOWN\r\n", True),
        (v2_tcp4("203.0.113.7", 1), True),
        (V2_SIGNATURE, True),
        (b"Anna\n", False),
        (b"PROXY\n", False),  # a name someone may well type
        (b"\r\n\r\n", False),  # blank lines
        (b"\xff\xfd\x03", False),  # telnet
        (b"NICK anna\r\n", False),
    ],
)
def test_a_connections_first_bytes_tell_a_proxy_from_a_client(first: bytes, header: bool) -> None:
    assert begins_with_header(first) is header
