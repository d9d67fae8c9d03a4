"""Configuration: one table of options per program; flags > environment > file > defaults.

Each option is declared once (name, type, default, help). From that table come the argparse flags,
the ``TCPCHAT_<NAME>`` environment variables, the keys of the INI file and the frozen ``Config``
the program runs with, so the four can never disagree.
"""

from __future__ import annotations

import argparse
import configparser
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, fields
from typing import Any, Callable

from .core import limits
from .core.errors import ConfigError

ENV_PREFIX = "TCPCHAT_"
SERVER_CONFIG_FILE = "/etc/tcp-chat/server.conf"


def parse_bool(text: str) -> bool:
    value = text.strip().lower()
    if value in ("1", "true", "yes", "on"):
        return True
    if value in ("0", "false", "no", "off"):
        return False
    raise ValueError(f"not a yes/no value: {text!r}")


def _port(text: str) -> int:
    port = int(text)
    if not 0 <= port <= 65535:
        raise ValueError(f"not a TCP port: {text!r}")
    return port


def _positive_int(text: str) -> int:
    number = int(text)
    if number < 1:
        raise ValueError(f"must be at least 1: {text!r}")
    return number


def _size(text: str) -> int:
    number = int(text)
    if number < 0:
        raise ValueError(f"must be 0 or more: {text!r}")
    return number


def _positive_float(text: str) -> float:
    number = float(text)
    if not number > 0:
        raise ValueError(f"must be above 0: {text!r}")
    return number


def _ipv6_prefix(text: str) -> int:
    bits = int(text)
    if not 1 <= bits <= 128:
        raise ValueError(f"not an IPv6 prefix length (1-128): {text!r}")
    return bits


def _level(text: str) -> str:
    level = text.strip().upper()
    if level not in ("DEBUG", "INFO", "WARNING", "ERROR"):
        raise ValueError(f"not a log level (DEBUG, INFO, WARNING, ERROR): {text!r}")
    return level


def _choice(*choices: str) -> Callable[[str], str]:
    def parse(text: str) -> str:
        value = text.strip().lower()
        if value not in choices:
            raise ValueError(f"not one of {', '.join(choices)}: {text!r}")
        return value

    return parse


@dataclass(frozen=True)
class Option:
    name: str  # attribute of the config; flag --name-with-dashes; env TCPCHAT_NAME
    parse: Callable[[str], Any]
    default: Any
    help: str
    metavar: str | None = None
    short: str | None = None

    @property
    def flag(self) -> str:
        return "--" + self.name.replace("_", "-")

    @property
    def env(self) -> str:
        return ENV_PREFIX + self.name.upper()

    @property
    def is_bool(self) -> bool:
        return self.parse is parse_bool


SERVER_OPTIONS: tuple[Option, ...] = (
    Option(
        "config",
        str,
        SERVER_CONFIG_FILE,
        "INI file with a [server] section (read only if it exists, unless given)",
        "FILE",
    ),
    Option("host", str, limits.DEFAULT_HOST, "address to listen on", "ADDR"),
    Option("port", _port, limits.DEFAULT_PORT, "TCP port to listen on (0: any free port)", "PORT"),
    Option(
        "log_dir",
        str,
        limits.DEFAULT_LOG_DIR,
        "directory for the log file, one per start ('' for none)",
        "DIR",
    ),
    Option("log_file", parse_bool, True, "write a log file in --log-dir"),
    Option(
        "log_max_bytes",
        _size,
        limits.LOG_MAX_BYTES,
        "size at which the log file is rotated (0: never)",
        "BYTES",
    ),
    Option(
        "log_backups",
        _positive_int,
        limits.LOG_BACKUPS,
        "rotated log files kept (FILE.1 the newest)",
        "N",
    ),
    Option("log_level", _level, "INFO", "DEBUG, INFO, WARNING or ERROR", "LEVEL"),
    Option("log_text", parse_bool, True, "log the text of messages (--no-log-text keeps it out)"),
    Option("max_line", _positive_int, limits.MAX_LINE_BYTES, "longest line in bytes", "BYTES"),
    Option(
        "max_outbox",
        _positive_int,
        limits.MAX_OUTBOX_BYTES,
        "bytes queued for one client before it is dropped",
        "BYTES",
    ),
    Option(
        "max_connections", _positive_int, limits.MAX_CONNECTIONS, "connections at once in all", "N"
    ),
    Option(
        "max_per_ip",
        _positive_int,
        limits.MAX_CONNECTIONS_PER_IP,
        "connections at once from one IP address",
        "N",
    ),
    Option(
        "ipv6_prefix",
        _ipv6_prefix,
        limits.IPV6_ORIGIN_PREFIX,
        "IPv6 connections count per network of this prefix length for --max-per-ip "
        "(128: per address)",
        "BITS",
    ),
    Option(
        "flood_burst",
        _positive_float,
        float(limits.FLOOD_BURST),
        "lines a client may send at once before flood control",
        "N",
    ),
    Option(
        "flood_rate",
        _positive_float,
        limits.FLOOD_RATE_PER_S,
        "lines per second a client may keep sending",
        "N",
    ),
    Option(
        "handshake_timeout",
        _positive_float,
        limits.HANDSHAKE_TIMEOUT_S,
        "seconds to choose a name",
        "S",
    ),
    Option(
        "ping_interval",
        _positive_float,
        limits.PING_INTERVAL_S,
        "seconds of silence before a JSON-mode client is pinged",
        "S",
    ),
    Option("ping_timeout", _positive_float, limits.PING_TIMEOUT_S, "seconds to answer a ping", "S"),
    Option("password_file", str, "", "file holding the server password (first line)", "FILE"),
    Option("tls_cert", str, "", "PEM certificate chain; with --tls-key enables TLS", "FILE"),
    Option("tls_key", str, "", "PEM private key for --tls-cert", "FILE"),
    Option(
        "tls_port", _port, 0, "port for TLS; 0 (default): TLS replaces plain text on --port", "PORT"
    ),
    Option(
        "tls_handshake_timeout",
        _positive_float,
        limits.TLS_HANDSHAKE_TIMEOUT_S,
        "seconds a client has to finish the TLS handshake",
        "S",
    ),
    Option(
        "loop",
        _choice("auto", "asyncio", "uvloop"),
        "auto",
        "event loop: asyncio, uvloop (needs tcp-chat[fast]) or auto",
        "LOOP",
    ),
)

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
    Option("port", _port, limits.DEFAULT_PORT, "server port", "PORT"),
    Option("name", str, "", "your name (asked for if not given)", "NAME"),
    Option("json", parse_bool, False, "print the server's JSON events as they come (for programs)"),
    Option("color", parse_bool, True, "colours (off with --no-color, NO_COLOR or TERM=dumb)"),
    Option("bell", parse_bool, False, "ring the terminal bell on private messages and mentions"),
    Option("reconnect", parse_bool, True, "reconnect with backoff when the connection drops"),
    Option("tls", parse_bool, False, "connect with TLS"),
    Option("tls_ca", str, "", "CA file to verify the server (default: the system's)", "FILE"),
    Option("tls_insecure", parse_bool, False, "do not verify the server certificate (testing)"),
    Option(
        "wait",
        _positive_float,
        5.0,
        "pipe mode: seconds to wait for delivery confirmations at end of input",
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
        "file holding the server password, if the server has one (first line)",
        "FILE",
    ),
)


def add_options(parser: argparse.ArgumentParser, options: Sequence[Option]) -> None:
    """Declare ``options`` as flags. Unset flags stay absent so lower layers can fill them."""
    for opt in options:
        names = [opt.flag] + ([opt.short] if opt.short else [])
        default_text = (
            "yes"
            if opt.default is True
            else "no"
            if opt.default is False
            else (repr(opt.default) if opt.default == "" else str(opt.default))
        )
        help_text = f"{opt.help} (default: {default_text}; env {opt.env})"
        if opt.is_bool:
            parser.add_argument(
                *names,
                dest=opt.name,
                action=argparse.BooleanOptionalAction,
                default=argparse.SUPPRESS,
                help=help_text,
            )
        else:
            parser.add_argument(
                *names,
                dest=opt.name,
                type=_argparse_type(opt),
                default=argparse.SUPPRESS,
                metavar=opt.metavar,
                help=help_text,
            )


def _argparse_type(opt: Option) -> Callable[[str], Any]:
    def convert(text: str) -> Any:
        try:
            return opt.parse(text)
        except ValueError as exc:
            raise argparse.ArgumentTypeError(str(exc)) from None

    convert.__name__ = opt.name  # argparse names the type in its error message
    return convert


def resolve(
    options: Sequence[Option],
    flags: Mapping[str, Any],
    environ: Mapping[str, str],
    section: str,
    default_file: str | None = None,
) -> dict[str, Any]:
    """Merge the layers: flags > environment > INI file section > defaults.

    The file is ``--config``/``TCPCHAT_CONFIG`` if given (then it must exist), else
    ``default_file`` if that exists. Raises ConfigError with a one-line reason.
    """
    by_name = {opt.name: opt for opt in options}
    values: dict[str, Any] = {opt.name: opt.default for opt in options}

    env_values: dict[str, Any] = {}
    for opt in options:
        if opt.env in environ:
            try:
                env_values[opt.name] = opt.parse(environ[opt.env])
            except ValueError as exc:
                raise ConfigError(f"environment variable {opt.env}: {exc}") from None

    path = flags.get("config") or env_values.get("config")
    must_exist = bool(path)
    path = path or default_file
    if path and (must_exist or os.path.exists(path)):
        values.update(_read_file(path, section, by_name))
    values.update(env_values)
    values.update(flags)
    values["config"] = path or ""
    return values


def _read_file(path: str, section: str, by_name: Mapping[str, Option]) -> dict[str, Any]:
    parser = configparser.ConfigParser(interpolation=None)
    try:
        with open(path, encoding="utf-8") as f:
            parser.read_file(f)
    except OSError as exc:
        raise ConfigError(f"cannot read config file {path}: {exc.strerror}") from None
    except configparser.Error as exc:
        raise ConfigError(f"config file {path}: {exc}") from None
    if not parser.has_section(section):
        return {}
    out: dict[str, Any] = {}
    for key, raw in parser.items(section):
        name = key.replace("-", "_")
        opt = by_name.get(name)
        if opt is None or name == "config":
            raise ConfigError(f"config file {path}: unknown key {key!r} in [{section}]")
        try:
            out[name] = opt.parse(raw)
        except ValueError as exc:
            raise ConfigError(f"config file {path}: {key}: {exc}") from None
    return out


@dataclass(frozen=True)
class ServerConfig:
    config: str = ""
    host: str = limits.DEFAULT_HOST
    port: int = limits.DEFAULT_PORT
    log_dir: str = limits.DEFAULT_LOG_DIR
    log_file: bool = True
    log_max_bytes: int = limits.LOG_MAX_BYTES
    log_backups: int = limits.LOG_BACKUPS
    log_level: str = "INFO"
    log_text: bool = True
    max_line: int = limits.MAX_LINE_BYTES
    max_outbox: int = limits.MAX_OUTBOX_BYTES
    max_connections: int = limits.MAX_CONNECTIONS
    max_per_ip: int = limits.MAX_CONNECTIONS_PER_IP
    ipv6_prefix: int = limits.IPV6_ORIGIN_PREFIX
    flood_burst: float = float(limits.FLOOD_BURST)
    flood_rate: float = limits.FLOOD_RATE_PER_S
    handshake_timeout: float = limits.HANDSHAKE_TIMEOUT_S
    tls_handshake_timeout: float = limits.TLS_HANDSHAKE_TIMEOUT_S
    ping_interval: float = limits.PING_INTERVAL_S
    ping_timeout: float = limits.PING_TIMEOUT_S
    password_file: str = ""
    tls_cert: str = ""
    tls_key: str = ""
    tls_port: int = 0
    loop: str = "auto"


@dataclass(frozen=True)
class ClientConfig:
    config: str = ""
    host: str = limits.DEFAULT_HOST
    port: int = limits.DEFAULT_PORT
    name: str = ""
    json: bool = False
    color: bool = True
    bell: bool = False
    reconnect: bool = True
    tls: bool = False
    tls_ca: str = ""
    tls_insecure: bool = False
    wait: float = 5.0
    probe: bool = False
    password_file: str = ""


def server_config(flags: Mapping[str, Any], environ: Mapping[str, str]) -> ServerConfig:
    values = resolve(SERVER_OPTIONS, flags, environ, "server", SERVER_CONFIG_FILE)
    names = {f.name for f in fields(ServerConfig)}
    config = ServerConfig(**{k: v for k, v in values.items() if k in names})
    if bool(config.tls_cert) != bool(config.tls_key):
        raise ConfigError("TLS needs both --tls-cert and --tls-key")
    return config


def client_config(flags: Mapping[str, Any], environ: Mapping[str, str]) -> ClientConfig:
    base = environ.get("XDG_CONFIG_HOME") or os.path.join(os.path.expanduser("~"), ".config")
    default_file = os.path.join(base, "tcp-chat", "client.conf")
    values = resolve(CLIENT_OPTIONS, flags, environ, "client", default_file)
    names = {f.name for f in fields(ClientConfig)}
    return ClientConfig(**{k: v for k, v in values.items() if k in names})
