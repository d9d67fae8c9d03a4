"""Cluster mode's adapter (docs/CLUSTER.md): the Redis side of the hub's cluster seam.

Imported only when ``--cluster`` is given, so a server without it never imports redis-py (the
optional extra ``tcp-chat[cluster]``). ``reach`` is the start-up check: redis-py present, Redis
answering, each failure one ``ConfigError`` line (exit 1) before anything listens; ``lasting``
tells an error Redis would give again from one that passes.
"""

from __future__ import annotations

import asyncio
import importlib
import inspect
import logging
import re
import time
from collections.abc import Collection
from types import ModuleType
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from ...core import cluster as cl
from ...core.errors import ConfigError
from ...core.limits import CLUSTER_COMMAND_TIMEOUT_S, CLUSTER_LEASE_S
from ..cluster_options import shown_url
from ..logs import LOGGER_NAME

log = logging.getLogger(LOGGER_NAME)

MISSING_EXTRA = (
    "--cluster needs the Redis client: pip install 'tcp-chat[cluster]' (in a checkout: "
    ".venv/bin/pip install redis)"
)
# The oldest redis-py the extra takes (pyproject.toml), and what a node says of an older one.
OLDEST_REDIS_PY = (5, 0, 1)
TOO_OLD = "--cluster needs redis-py 5.0.1 or newer: pip install 'tcp-chat[cluster]'"
# How often a node joining looks at a lease of its name that another process holds.
TWIN_POLL_S = 0.2
# Between two tries to reach Redis at start (--cluster-wait): short, then doubling to this.
FIRST_RETRY_S = 0.1
LAST_RETRY_S = 2.0


def options_taken() -> set[str]:
    """The URL options the installed redis-py takes: those it parses and its connections'
    parameters. ``parse_cluster_url`` knows the newest redis-py's; an older one (the newest for
    Python 3.9 is 7.0) takes fewer."""
    connection = importlib.import_module("redis.asyncio.connection")
    taken = set(connection.URL_QUERY_ARGUMENT_PARSERS)
    for kind in (connection.AbstractConnection, connection.Connection, connection.SSLConnection):
        taken |= set(inspect.signature(kind.__init__).parameters)
    return taken


def options_not_taken(url: str, taken: Collection[str]) -> list[str]:
    """The options in ``url``'s query that are not among ``taken``, sorted."""
    asked = {key for key, _ in parse_qsl(urlsplit(url).query, keep_blank_values=True)}
    return sorted(asked.difference(taken))


def not_loaded(exc: ImportError) -> str:
    """The line for redis-py's asyncio client failing to import with ``exc``: missing (the
    extra is not installed), too old to have it, or installed without what it needs itself (a
    copy of the package alone: async_timeout on Python before 3.11.3), which says what."""
    if exc.name == "redis":
        return MISSING_EXTRA
    if exc.name == "redis.asyncio":
        return TOO_OLD
    return (
        f"--cluster: the Redis client (redis-py) is installed but does not load ({exc}): "
        "pip install 'tcp-chat[cluster]' installs it with what it needs"
    )


def too_old(version: str) -> bool:
    """Whether redis-py ``version`` ("4.3.4") is older than the extra's 5.0.1 (its asyncio client
    lacks what a node uses: a traceback, not a line, with 4.x, which distributions ship)."""
    match = re.match(r"(\d+)\.(\d+)(?:\.(\d+))?", version)
    if match is None:
        return False  # not a version we can read: let it try
    return tuple(int(part or 0) for part in match.groups()) < OLDEST_REDIS_PY


def redis_asyncio() -> ModuleType:
    """redis-py's asyncio client; ``ConfigError`` saying how to install it if it is missing or
    too old."""
    try:
        module = importlib.import_module("redis.asyncio")
    except ImportError as exc:
        raise ConfigError(not_loaded(exc)) from None
    version = str(getattr(importlib.import_module("redis"), "__version__", ""))
    if too_old(version):
        raise ConfigError(f"{TOO_OLD} (this one is {version})")
    return module


async def reach(url: str, wait: float) -> Any:
    """A connected redis-py client for ``url``, trying for up to ``wait`` seconds.

    Raises ``ConfigError`` (one line, exit 1) if the extra is missing or Redis does not answer
    in time. The caller closes the client (``await client.aclose()``).
    """
    module = redis_asyncio()
    unknown = options_not_taken(url, options_taken())
    if unknown:  # (else redis-py's TypeError at the first command, taken for Redis unreachable)
        version = getattr(importlib.import_module("redis"), "__version__", "?")
        words, them = ("the option", "it") if len(unknown) == 1 else ("the options", "them")
        raise ConfigError(
            f"--cluster {shown_url(url)}: redis-py {version} does not take {words} "
            f"{', '.join(map(repr, unknown))}: leave {them} out, or use redis-py 8 (Python 3.10 or "
            "newer)"
        )
    # A socket_timeout in the URL's query wins over this one (redis-py's from_url).
    try:
        client = module.from_url(
            url,
            decode_responses=True,
            socket_connect_timeout=2,
            socket_timeout=CLUSTER_COMMAND_TIMEOUT_S,
            # RESP2, as the link's own connections speak (wire.py): each logs in the same way.
            # RESP3 logs in with HELLO, which a Redis without a password lets in whatever the
            # password, while AUTH refuses it: the pool would pass and those fail for ever.
            protocol=2,
        )
    except ValueError as exc:  # what parse_cluster_url could not know of redis-py's rules
        raise ConfigError(f"--cluster {shown_url(url)}: {exc}") from None
    try:
        return await _ping_until(client, url, wait)
    except asyncio.CancelledError:  # a stop signal while waiting (server/main.py)
        await client.aclose()
        raise


async def _ping_until(client: Any, url: str, wait: float) -> Any:
    """``client`` once Redis answers it, trying for ``wait`` seconds: ``ConfigError`` if not."""
    deadline = time.monotonic() + wait
    pause = FIRST_RETRY_S
    while True:
        try:
            await client.ping()
            return client
        except Exception as exc:  # redis-py's ConnectionError, TimeoutError, AuthenticationError
            left = deadline - time.monotonic()
            if left <= 0:
                await client.aclose()
                waited = f" (tried for {wait:g} s)" if wait else ""
                raise ConfigError(
                    f"cannot reach the cluster's Redis at {shown_url(url)}{waited}: {exc}"
                ) from None
            if pause == FIRST_RETRY_S and wait > LAST_RETRY_S:  # in silence, it looks hung
                log.warning(
                    "cannot reach the cluster's Redis at %s yet (%s); trying for %.0f s more",
                    shown_url(url),
                    exc,
                    left,
                )
            await asyncio.sleep(min(pause, left))
            pause = min(pause * 2, LAST_RETRY_S)


# Redis's errors that pass: out of memory, read-only during a failover, busy or loading,
# snapshots failing, the scripts lost (redis-py's classes, and the codes in the message).
_PASSING = ("OutOfMemoryError", "ReadOnlyError", "BusyLoadingError", "NoScriptError")
_PASSING_CODES = ("OOM", "used memory", "READONLY", "BUSY", "LOADING", "MISCONF", "TRYAGAIN")


def lasting(error: Exception) -> bool:
    """True for an error Redis would give again for the same command (a key of the wrong type,
    a permission missing); false for one that passes."""
    text = str(error)
    return type(error).__name__ not in _PASSING and not any(c in text for c in _PASSING_CODES)


class NodeNameTaken(ConfigError):
    """Another running server renews the lease of this node's name."""


_BOOTTIME: int | None = getattr(time, "CLOCK_BOOTTIME", None)


def lease_clock() -> float:
    """Seconds on the clock a lease is kept on: one that never steps back and that counts a
    suspend of the machine (Linux's CLOCK_BOOTTIME; the monotonic clock elsewhere), as Redis's
    TTL, running on, does."""
    return time.clock_gettime(_BOOTTIME) if _BOOTTIME is not None else time.monotonic()


async def lease_free(
    redis: Any, node: str, boots: Collection[str], length: float = CLUSTER_LEASE_S
) -> None:
    """Return once no other process holds the lease of node ``node`` (``boots``: this run's):
    a run of this node killed less than a lease ago leaves one, which lapses. One renewed
    meanwhile is another server running as ``node``: ``NodeNameTaken`` (one line, exit 1 at
    start), for two nodes of one name would each take the other's names and users for theirs."""
    key = cl.lease_key(node)
    held, ttl = await redis.get(key), await redis.pttl(key)
    if held is None or held in boots:
        return
    log.info("cluster: waiting for the lease of an earlier run of node %s to lapse", node)
    deadline = time.monotonic() + length + 1
    while time.monotonic() < deadline:
        await asyncio.sleep(TWIN_POLL_S)
        now_held, now_ttl = await redis.get(key), await redis.pttl(key)
        if now_held is None or now_ttl < 0:
            return
        if now_held != held or now_ttl > ttl:
            break
        ttl = now_ttl
    raise NodeNameTaken(
        f"another server is running as cluster node {node!r} (it renews its lease): give each "
        "node a name of its own (--node-name)"
    )
