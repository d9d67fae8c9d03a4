"""What the abuse phases take from the server: its default limits, and the way it lifts the
open-file limit (the measuring process needs thousands of sockets too).

All in one module because the package's layout changed while this tool was being written
(commit f114929 on main moved the limits into ``core/`` and the server into ``server/app.py``):
it looks in both places, so that the tool runs on either side of that change.
"""

from __future__ import annotations

import importlib
from types import ModuleType
from typing import Callable


def _first(*names: str) -> ModuleType:
    """The first of the modules ``names`` that exists."""
    for name in names:
        try:
            return importlib.import_module(name)
        except ModuleNotFoundError:
            continue
    raise ModuleNotFoundError(f"none of {', '.join(names)}")


_limits = _first("tcpchat.core.limits", "tcpchat.limits")
_server = _first("tcpchat.server.app", "tcpchat.server")

FLOOD_BURST: int = _limits.FLOOD_BURST
FLOOD_RATE_PER_S: float = _limits.FLOOD_RATE_PER_S
MAX_CONNECTIONS: int = _limits.MAX_CONNECTIONS
MAX_CONNECTIONS_PER_IP: int = _limits.MAX_CONNECTIONS_PER_IP
raise_file_limit: Callable[[int], int] = _server.raise_file_limit
