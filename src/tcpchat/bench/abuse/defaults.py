"""What the abuse phases take from the server: its default limits, and the way it lifts the
open-file limit (the measuring process needs thousands of sockets too)."""

from __future__ import annotations

from ...core.limits import (
    FLOOD_BURST,
    FLOOD_RATE_PER_S,
    MAX_CONNECTIONS,
    MAX_CONNECTIONS_PER_IP,
)
from ...server.main import raise_file_limit

__all__ = [
    "FLOOD_BURST",
    "FLOOD_RATE_PER_S",
    "MAX_CONNECTIONS",
    "MAX_CONNECTIONS_PER_IP",
    "raise_file_limit",
]
