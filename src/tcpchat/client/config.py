"""The client's options (one table: flags, ``TCPCHAT_*`` variables and the INI file's
``[client]`` keys all come from it) and the frozen configuration the client runs with."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, fields
from typing import Any

from ..config import (
    Option,
    parse_bool,
    parse_port,
    parse_positive_float,
    resolve,
)
from ..core import limits
from .liveness import SERVER_TIMEOUT_S

# The shortest --server-timeout: a ping every half of it, a quarter of a line of the server's
# flood budget each, stays far below the budget's rate (and a moment's lag is no hang).
SERVER_TIMEOUT_MIN_S = 4.0


def parse_server_timeout(text: str) -> float:
    """Seconds, 0 (no watch) or at least ``SERVER_TIMEOUT_MIN_S``."""
    number = float(text)
    if number != 0 and not SERVER_TIMEOUT_MIN_S <= number < float("inf"):
        raise ValueError(f"must be 0 or at least {SERVER_TIMEOUT_MIN_S:g} seconds: {text!r}")
    return number


CLIENT_OPTIONS: tuple[Option, ...] = (
    Option(
        "config",
        str,
        "",
        "INI file with a [client] section "
        "(default: $XDG_CONFIG_HOME/tcp-chat/client.conf if it exists)",
        "FILE",
    ),
    Option("host", str, limits.DEFAULT_HOST, "server address", "ADDR"),
    Option("port", parse_port, limits.DEFAULT_PORT, "server port", "PORT"),
    Option("name", str, "", "your name (asked for if not given)", "NAME"),
    Option("json", parse_bool, False, "print the server's JSON events as they come (for programs)"),
    Option("color", parse_bool, True, "colours (off with --no-color, NO_COLOR or TERM=dumb)"),
    Option(
        "plain",
        parse_bool,
        False,
        "plain interactive mode: lines typed with the terminal's own line input, events printed "
        "as they come (the default where the terminal cannot be put in raw mode: Windows, "
        "TERM=dumb)",
    ),
    Option("bell", parse_bool, False, "ring the terminal bell on private messages and mentions"),
    Option("reconnect", parse_bool, True, "reconnect with backoff when the connection drops"),
    Option(
        "server_timeout",
        parse_server_timeout,
        SERVER_TIMEOUT_S,
        "seconds of silence from the server before the client gives up on it: after half of "
        "them it sends /ping, and with no answer by the end it closes the connection (and "
        "reconnects, or a pipe ends as when the connection drops); 0: never, else at least 4",
        "S",
    ),
    Option("tls", parse_bool, False, "connect with TLS"),
    Option("tls_ca", str, "", "CA file to verify the server (default: the system's)", "FILE"),
    Option("tls_insecure", parse_bool, False, "do not verify the server certificate (testing)"),
    Option(
        "wait",
        parse_positive_float,
        5.0,
        "pipe mode: seconds to wait, once the input is sent, for delivery confirmations and "
        "the server's goodbye (at most 1 s more for the goodbye)",
        "S",
    ),
    Option(
        "probe",
        parse_bool,
        False,
        "connect, check the server answers a ping, exit 0 or 1 (health checks)",
    ),
    Option(
        "password_file",
        str,
        "",
        "file holding the server password, if the server has one (first line); else "
        "TCPCHAT_PASSWORD; else the terminal client asks for it (not shown as typed)",
        "FILE",
    ),
)


@dataclass(frozen=True)
class ClientConfig:
    config: str = ""
    host: str = limits.DEFAULT_HOST
    port: int = limits.DEFAULT_PORT
    name: str = ""
    json: bool = False
    color: bool = True
    plain: bool = False
    bell: bool = False
    reconnect: bool = True
    server_timeout: float = SERVER_TIMEOUT_S
    tls: bool = False
    tls_ca: str = ""
    tls_insecure: bool = False
    wait: float = 5.0
    probe: bool = False
    password_file: str = ""


def client_config(flags: Mapping[str, Any], environ: Mapping[str, str]) -> ClientConfig:
    base = environ.get("XDG_CONFIG_HOME") or os.path.join(os.path.expanduser("~"), ".config")
    default_file = os.path.join(base, "tcp-chat", "client.conf")
    values = resolve(CLIENT_OPTIONS, flags, environ, "client", default_file)
    names = {f.name for f in fields(ClientConfig)}
    return ClientConfig(**{k: v for k, v in values.items() if k in names})
