"""The interactive terminal client (placeholder: behaves as pipe mode until the UI lands)."""

from __future__ import annotations

import sys

from .client import run_pipe
from .config import ClientConfig


async def run_interactive(config: ClientConfig) -> int:
    return await run_pipe(config, sys.stdin, sys.stdout)
