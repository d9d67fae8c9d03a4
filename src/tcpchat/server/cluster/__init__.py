"""Cluster mode's adapter (docs/CLUSTER.md): the Redis side of the hub's cluster seam.

Imported only when ``--cluster`` is given, so a server without it never imports redis-py (the
optional extra ``tcp-chat[cluster]``). ``reach`` is the start-up check: redis-py present, Redis
answering, each failure one ``ConfigError`` line (exit 1) before anything listens.
"""

from __future__ import annotations

import asyncio
import importlib
import time
from types import ModuleType
from typing import Any

from ...core.errors import ConfigError
from ...core.limits import CLUSTER_COMMAND_TIMEOUT_S
from ..config import shown_url

MISSING_EXTRA = "--cluster needs the Redis client: pip install 'tcp-chat[cluster]'"
# Between two tries to reach Redis at start (--cluster-wait): short, then doubling to this.
FIRST_RETRY_S = 0.1
LAST_RETRY_S = 2.0


def redis_asyncio() -> ModuleType:
    """redis-py's asyncio client; ``ConfigError`` saying how to install it if it is missing."""
    try:
        return importlib.import_module("redis.asyncio")
    except ImportError:
        raise ConfigError(MISSING_EXTRA) from None


async def reach(url: str, wait: float) -> Any:
    """A connected redis-py client for ``url``, trying for up to ``wait`` seconds.

    Raises ``ConfigError`` (one line, exit 1) if the extra is missing or Redis does not answer
    in time. The caller closes the client (``await client.aclose()``).
    """
    module = redis_asyncio()
    # A socket_timeout in the URL's query wins over this one (redis-py's from_url).
    try:
        client = module.from_url(
            url,
            decode_responses=True,
            socket_connect_timeout=2,
            socket_timeout=CLUSTER_COMMAND_TIMEOUT_S,
        )
    except ValueError as exc:  # what parse_cluster_url could not know of redis-py's rules
        raise ConfigError(f"--cluster {shown_url(url)}: {exc}") from None
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
            await asyncio.sleep(min(pause, left))
            pause = min(pause * 2, LAST_RETRY_S)
