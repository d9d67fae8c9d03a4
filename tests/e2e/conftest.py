"""Fixtures the end-to-end tests share: servers started with the options a test needs, and a
TLS certificate for them."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import WAIT, ServerProcess, need_tool


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


@pytest.fixture(scope="module")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1 and localhost, and its key (PEM files)."""
    openssl = need_tool("openssl")
    folder = tmp_path_factory.mktemp("tls")
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(
        [openssl, "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
         "-subj", "/CN=localhost", "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost",
         "-keyout", str(key), "-out", str(cert)],
        check=True, capture_output=True, timeout=WAIT * 3,
    )  # fmt: skip
    return cert, key
