"""What the cluster's options accept: ``--cluster``'s Redis URL, checked before anything starts
so that a typo is a usage error (exit 2), and ``--node-name``."""

from __future__ import annotations

import re
from urllib.parse import parse_qs, urlsplit

from ..core.cluster_codec import NODE_NAME_MAX_CHARS, is_word
from ..core.errors import ConfigError

# What --cluster accepts: redis-py's URL schemes (TLS and a Unix socket included).
CLUSTER_SCHEMES = ("redis://", "rediss://", "unix://")


# Query parameters redis-py's from_url reads as numbers; a bad one is a usage error here.
_CLUSTER_NUMBERS = ("db", "socket_timeout", "socket_connect_timeout", "health_check_interval")
# The others a URL may have (redis-py hands them to its connections; one it does not know would
# fail every connection, reported as Redis out of reach).
_CLUSTER_OPTIONS = frozenset(
    (*_CLUSTER_NUMBERS, "password", "username", "client_name", "socket_keepalive")
    + ("retry_on_timeout", "max_connections", "timeout", "ssl_cert_reqs", "ssl_ca_certs")
    + ("ssl_ca_path", "ssl_certfile", "ssl_keyfile", "ssl_check_hostname", "ssl_min_version")
    + ("ssl_ciphers", "ssl_password", "ssl_include_verify_flags", "ssl_exclude_verify_flags")
    + ("socket_read_size", "legacy_responses")
)


def shown_url(url: str) -> str:
    """``url`` as it may be logged or shown: a password in it (``//USER:PASS@``, ``password=``
    or ``ssl_password=``, the key file's) is replaced by ``***``, in a URL mistyped too."""
    url = re.sub(r"(//[^/@:]*):[^/]*@", r"\1:***@", url)
    return re.sub(r"(?i)([?&](?:ssl_)?password=)[^&#]*", r"\1***", url)


def parse_cluster_url(text: str) -> str:
    """A Redis URL as redis-py's ``from_url`` takes it, checked here so that a typo is a usage
    error (exit 2) rather than a failure to reach Redis."""
    url = text.strip()
    if not url:
        return url
    shown = repr(shown_url(url))
    if not url.startswith(CLUSTER_SCHEMES):
        raise ValueError(f"not a Redis URL (redis://HOST:PORT/DB): {shown}")
    try:
        parts = urlsplit(url)
        port = parts.port  # ValueError if it is not a number from 0 to 65535
    except ValueError as exc:
        raise ValueError(f"{exc}: {shown}") from None
    if parts.scheme == "unix":
        if not parts.path:
            raise ValueError(f"no socket path (unix:///PATH): {shown}")
    elif not parts.hostname or port == 0:
        raise ValueError(f"no host or no port (redis://HOST:PORT/DB): {shown}")
    elif parts.path not in ("", "/") and not parts.path[1:].isdigit():
        raise ValueError(f"the database is a number (redis://HOST:PORT/DB): {shown}")
    for key, values in parse_qs(parts.query).items():
        if key in _CLUSTER_NUMBERS and not all(_is_number(value) for value in values):
            raise ValueError(f"{key} is a number: {shown}")
        if key == "protocol":  # every connection of a node speaks RESP2 (cluster/__init__.py)
            raise ValueError(f"the protocol is tcp-chat's to choose, not the URL's: {shown}")
        if key not in _CLUSTER_OPTIONS:
            raise ValueError(f"unknown option {key!r} in the URL: {shown}")
    return url


def _is_number(text: str) -> bool:
    try:
        return float(text) >= 0
    except ValueError:
        return False


def parse_node_name(text: str) -> str:
    name = text.strip()
    if name and not is_word(name):
        raise ValueError(
            f"a node name is up to {NODE_NAME_MAX_CHARS} printable ASCII characters "
            f"without spaces: {text!r}"
        )
    return name


def default_node_name(host: str, tail: int) -> str:
    """``HOST:TAIL`` (this machine's name and the port, or the process id), or with the host's
    first label alone if the whole name is too long for a node name (a pod's or a long FQDN);
    ConfigError if neither is one (``--node-name`` then says which)."""
    for part in (host, host.split(".")[0]):
        name = f"{part}:{tail}"
        if is_word(name):
            return name
    raise ConfigError(
        f"the host name {host!r} makes no node name (up to {NODE_NAME_MAX_CHARS} printable "
        "ASCII characters without spaces): give one with --node-name"
    )
