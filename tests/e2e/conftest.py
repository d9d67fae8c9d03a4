"""Fixtures the end-to-end tests share: servers started with the options a test needs (the TLS
certificate is tests/conftest.py's)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import ServerProcess


@pytest.fixture
def make_server(tmp_path: Path) -> Iterator[Any]:
    """``make_server(*args)`` starts the real server with ``args``; all are stopped at the end."""
    servers: list[ServerProcess] = []

    def start(*args: str) -> ServerProcess:
        srv = ServerProcess(tmp_path, *args)
        servers.append(srv)
        return srv

    yield start
    for srv in servers:
        srv.stop()
