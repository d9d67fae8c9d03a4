"""The server's options (one table: flags, ``TCPCHAT_*`` variables and the INI file's
``[server]`` keys all come from it) and the frozen configuration the server runs with."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, fields
from typing import Any

from ..config import (
    Option,
    parse_bool,
    parse_choice,
    parse_count,
    parse_hosts,
    parse_ipv6_prefix,
    parse_level,
    parse_port,
    parse_positive_float,
    parse_positive_int,
    parse_size,
    resolve,
)
from ..core import limits
from ..core.errors import ConfigError
from ..core.proxy import parse_networks
from .cluster_options import parse_cluster_url, parse_node_name

SERVER_CONFIG_FILE = "/etc/tcp-chat/server.conf"
# A server name as IRC writes it in the source of its replies: a host name, no spaces.
_IRC_SERVER_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9.-]{0,62}")


def parse_optional_port(text: str) -> int:
    """A port, or "off" (and "" or -1) for none: -1."""
    if text.strip().lower() in ("", "off", "-1"):
        return -1
    return parse_port(text)


def parse_wait(text: str) -> float:
    seconds = float(text)
    if not seconds >= 0:
        raise ValueError(f"must be 0 or more: {text!r}")
    return seconds


SERVER_OPTIONS: tuple[Option, ...] = (
    Option(
        "config",
        str,
        SERVER_CONFIG_FILE,
        "INI file with a [server] section (read only if it exists, unless given)",
        "FILE",
    ),
    Option(
        "host",
        parse_hosts,
        limits.DEFAULT_HOST,
        "address to listen on, or several separated by commas (0.0.0.0,:: or * is every "
        "address, IPv4 and IPv6; :: alone is IPv6 only)",
        "ADDR",
    ),
    Option(
        "port", parse_port, limits.DEFAULT_PORT, "TCP port to listen on (0: any free port)", "PORT"
    ),
    Option(
        "log_dir",
        str,
        limits.DEFAULT_LOG_DIR,
        "directory for the log file, one per start ('' for none); one server to a directory",
        "DIR",
    ),
    Option("log_file", parse_bool, True, "write a log file in --log-dir"),
    Option(
        "log_max_bytes",
        parse_size,
        limits.LOG_MAX_BYTES,
        "size at which the log file is rotated (0: never)",
        "BYTES",
    ),
    Option(
        "log_backups",
        parse_positive_int,
        limits.LOG_BACKUPS,
        "rotated log files kept (FILE.1 the newest)",
        "N",
    ),
    Option(
        "log_keep_starts",
        parse_size,
        limits.LOG_KEEP_STARTS,
        "keep the log files of this many starts in --log-dir, this one's included: at start "
        "those of older starts are removed (0: no limit)",
        "N",
    ),
    Option(
        "log_keep_bytes",
        parse_size,
        limits.LOG_KEEP_BYTES,
        "bytes the log files of earlier starts may take in --log-dir: at start the oldest are "
        "removed until the rest fit (0: no limit)",
        "BYTES",
    ),
    Option("log_level", parse_level, "INFO", "DEBUG, INFO, WARNING or ERROR", "LEVEL"),
    Option(
        "log_text",
        parse_bool,
        True,
        "log the text of messages (--no-log-text: at no level, DEBUG included)",
    ),
    Option("max_line", parse_positive_int, limits.MAX_LINE_BYTES, "longest line in bytes", "BYTES"),
    Option(
        "max_outbox",
        parse_positive_int,
        limits.MAX_OUTBOX_BYTES,
        "bytes a client may leave unread beyond the kernel's buffer before its lines wait "
        "(dropped if it stays so for 2 s)",
        "BYTES",
    ),
    Option(
        "max_connections",
        parse_positive_int,
        limits.MAX_CONNECTIONS,
        "connections at once in all",
        "N",
    ),
    Option(
        "max_per_ip",
        parse_positive_int,
        limits.MAX_CONNECTIONS_PER_IP,
        "connections at once from one IP address; names registered from it: as many at once "
        "(at least 30), that many again every 15 s",
        "N",
    ),
    Option(
        "ipv6_prefix",
        parse_ipv6_prefix,
        limits.IPV6_ORIGIN_PREFIX,
        "IPv6 connections count per network of this prefix length for --max-per-ip "
        "(128: per address)",
        "BITS",
    ),
    Option(
        "proxy_from",
        parse_networks,
        "",
        "addresses or networks of proxies (HAProxy send-proxy) whose connections begin with a "
        "PROXY protocol header: counted, limited and logged as the client it names",
        "ADDRS",
    ),
    Option(
        "flood_burst",
        parse_positive_float,
        float(limits.FLOOD_BURST),
        "lines a client may send at once before flood control",
        "N",
    ),
    Option(
        "flood_rate",
        parse_positive_float,
        limits.FLOOD_RATE_PER_S,
        "lines per second a client may keep sending",
        "N",
    ),
    Option(
        "handshake_timeout",
        parse_positive_float,
        limits.HANDSHAKE_TIMEOUT_S,
        "seconds to choose a name",
        "S",
    ),
    Option(
        "ping_interval",
        parse_positive_float,
        limits.PING_INTERVAL_S,
        "seconds of silence before a JSON-mode client is pinged",
        "S",
    ),
    Option(
        "ping_timeout", parse_positive_float, limits.PING_TIMEOUT_S, "seconds to answer a ping", "S"
    ),
    Option("password_file", str, "", "file holding the server password (first line)", "FILE"),
    Option("tls_cert", str, "", "PEM certificate chain; with --tls-key enables TLS", "FILE"),
    Option("tls_key", str, "", "PEM private key for --tls-cert", "FILE"),
    Option(
        "tls_port",
        parse_port,
        0,
        "port for TLS; 0 (default): TLS replaces plain text on --port",
        "PORT",
    ),
    Option(
        "irc_port",
        parse_optional_port,
        -1,
        "also listen for IRC clients (irssi, WeeChat, bots) on this port; off by default "
        "(0: any free port; docs/IRC.md)",
        "PORT",
    ),
    Option(
        "irc_tls_port",
        parse_optional_port,
        -1,
        "also listen for IRC clients over TLS on this port (needs --tls-cert and --tls-key)",
        "PORT",
    ),
    Option(
        "server_name",
        str,
        "",
        "the server's name in IRC replies, which no user may take while an IRC port is open "
        "(default: the host name)",
        "NAME",
    ),
    Option(
        "tls_handshake_timeout",
        parse_positive_float,
        limits.TLS_HANDSHAKE_TIMEOUT_S,
        "seconds a client has to finish the TLS handshake (and a proxy to send its PROXY header)",
        "S",
    ),
    Option(
        "legacy",
        parse_bool,
        True,
        "serve original 1.0 clients (lines without a line end, ASCII only) in a legacy mode "
        "(--no-legacy: never)",
    ),
    Option(
        "big_room",
        parse_positive_int,
        limits.BIG_ROOM_MEMBERS,
        "members above which a room's join and leave notices come as one line a second",
        "N",
    ),
    Option("max_rooms", parse_positive_int, limits.MAX_ROOMS, "rooms that may exist at once", "N"),
    Option(
        "data_dir",
        str,
        limits.DEFAULT_DATA_DIR,
        "directory for the history database (history.sqlite3), made if missing",
        "DIR",
    ),
    Option(
        "history",
        parse_bool,
        True,
        "keep room messages in the database under --data-dir (--no-history: keep nothing)",
    ),
    Option(
        "history_replay",
        parse_count(limits.HISTORY_REPLAY_MAX),
        limits.HISTORY_REPLAY,
        f"last messages of a room shown to whoever joins it (0: none, at most "
        f"{limits.HISTORY_REPLAY_MAX})",
        "N",
    ),
    Option(
        "store_private", parse_bool, False, "also keep private messages in the history database"
    ),
    Option(
        "history_days",
        parse_size,
        limits.HISTORY_DAYS,
        "days a message is kept (0: until a cap below pushes it out)",
        "DAYS",
    ),
    Option(
        "history_max_rows",
        parse_size,
        limits.HISTORY_MAX_ROWS,
        "messages kept at most, the oldest deleted first (0: no cap)",
        "N",
    ),
    Option(
        "history_max_mb",
        parse_size,
        limits.HISTORY_MAX_BYTES // 2**20,
        "MiB the history database's pages in use may take, search index included, the oldest "
        "messages deleted first (the file passes it by the index's merges in progress, tens "
        "of MB, and does not shrink; 0: no cap)",
        "MB",
    ),
    Option(
        "cluster",
        parse_cluster_url,
        "",
        "join a cluster of servers sharing users, rooms and history through this Redis "
        "(redis://HOST:PORT/DB; needs tcp-chat[cluster]; docs/CLUSTER.md)",
        "URL",
    ),
    Option(
        "node_name",
        parse_node_name,
        "",
        "this server's name in the cluster (default: host name and port, HOST:PORT; HOST:PID "
        "with --port 0)",
        "NAME",
    ),
    Option(
        "cluster_wait",
        parse_wait,
        0.0,
        "seconds to keep trying to reach Redis at start (0: fail at once)",
        "S",
    ),
    Option(
        "loop",
        parse_choice("auto", "asyncio", "uvloop"),
        "auto",
        "event loop: asyncio, uvloop (needs tcp-chat[fast]) or auto",
        "LOOP",
    ),
)


@dataclass(frozen=True)
class ServerConfig:
    config: str = ""
    host: str = limits.DEFAULT_HOST
    port: int = limits.DEFAULT_PORT
    log_dir: str = limits.DEFAULT_LOG_DIR
    log_file: bool = True
    log_max_bytes: int = limits.LOG_MAX_BYTES
    log_backups: int = limits.LOG_BACKUPS
    log_keep_starts: int = limits.LOG_KEEP_STARTS
    log_keep_bytes: int = limits.LOG_KEEP_BYTES
    log_level: str = "INFO"
    log_text: bool = True
    max_line: int = limits.MAX_LINE_BYTES
    max_outbox: int = limits.MAX_OUTBOX_BYTES
    max_connections: int = limits.MAX_CONNECTIONS
    max_per_ip: int = limits.MAX_CONNECTIONS_PER_IP
    ipv6_prefix: int = limits.IPV6_ORIGIN_PREFIX
    proxy_from: str = ""
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
    irc_port: int = -1  # -1: no IRC listener
    irc_tls_port: int = -1
    server_name: str = ""
    loop: str = "auto"
    legacy: bool = True
    big_room: int = limits.BIG_ROOM_MEMBERS
    max_rooms: int = limits.MAX_ROOMS
    data_dir: str = limits.DEFAULT_DATA_DIR
    history: bool = True
    history_replay: int = limits.HISTORY_REPLAY
    store_private: bool = False
    history_days: int = limits.HISTORY_DAYS
    history_max_rows: int = limits.HISTORY_MAX_ROWS
    history_max_mb: int = limits.HISTORY_MAX_BYTES // 2**20
    cluster: str = ""
    node_name: str = ""
    cluster_wait: float = 0.0


def server_config(flags: Mapping[str, Any], environ: Mapping[str, str]) -> ServerConfig:
    values = resolve(SERVER_OPTIONS, flags, environ, "server", SERVER_CONFIG_FILE)
    names = {f.name for f in fields(ServerConfig)}
    config = ServerConfig(**{k: v for k, v in values.items() if k in names})
    if bool(config.tls_cert) != bool(config.tls_key):
        raise ConfigError("TLS needs both --tls-cert and --tls-key")
    if (config.tls_port > 0 or config.irc_tls_port >= 0) and not config.tls_cert:
        flag = "--tls-port" if config.tls_port > 0 else "--irc-tls-port"  # (else in silence)
        raise ConfigError(f"{flag} needs --tls-cert and --tls-key")
    if config.server_name and not _IRC_SERVER_NAME.fullmatch(config.server_name):
        raise ConfigError(
            f"not a server name for IRC: {config.server_name!r} (letters, digits, . -)"
        )
    return config
