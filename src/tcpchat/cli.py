"""Command-line entry points: ``tcp-server``, ``tcp-client``, ``python -m tcpchat server|client``.

Exit codes: 0 done (a clean stop on SIGINT, SIGTERM or SIGHUP included), 1 runtime failure
reported in one line (port in use, connection refused), 2 bad usage; the client's pipe mode adds
3, some line refused or not delivered (``client/pipe.py``).
"""

from __future__ import annotations

import argparse
import asyncio
import importlib
import io
import logging
import os
import sys
from collections.abc import Sequence
from typing import NoReturn

from . import __version__
from .client.config import CLIENT_OPTIONS, ClientConfig, client_config
from .config import add_options
from .core.errors import ChatError, ConfigError
from .server.config import SERVER_OPTIONS, ServerConfig, server_config
from .server.log_files import LogDirInUse
from .server.logs import LOGGER_NAME, is_journal
from .server.logs import setup as setup_logging

SERVER_DESCRIPTION = (
    "Run the tcp-chat server. People join with tcp-client, nc or telnet; see docs/PROTOCOL.md "
    "(in a checkout, or in /usr/share/doc/tcp-chat once installed). "
    "Settings come from flags, then TCPCHAT_* environment variables, then the [server] section "
    "of the config file, then defaults."
)
CLIENT_DESCRIPTION = (
    "Chat on a tcp-chat server. In a terminal it is interactive (full-screen, or plain where the "
    "terminal has no raw mode, or with --plain); with stdin from a pipe or file it sends each "
    "line and prints events as plain lines (or JSON with --json)."
)
# What the server says on Windows, where it does not run (its listeners and signals are POSIX).
NOT_ON_WINDOWS = "the server runs on Linux, BSD and macOS, not on Windows (the client does)"
CLIENT_EPILOG = (
    "Exit status: 0 done (in pipe mode: every line sent was delivered or answered without an "
    "error); 1 no connection, name refused or connection lost; 2 bad usage; 3 pipe mode: some "
    "line was refused (by the server, or too long to send) or a message was not delivered or "
    "not confirmed within --wait; 130 interrupted (Ctrl+C)."
)


class _ServerVersion(argparse.Action):
    """``--version``: the version, then how this server's history is searched (which depends
    on the SQLite this Python was built with), each on its own line; then exit."""

    def __call__(self, parser: argparse.ArgumentParser, *args: object, **kwargs: object) -> None:
        from .server.store_db import search_support

        print(f"{parser.prog} {__version__}\nhistory search: {search_support()}")
        parser.exit()


def journal_error() -> str:
    """What begins an error line on stderr: the journal's priority ``err`` when stderr is the
    journal (under systemd), so that ``journalctl -p err`` shows it; nothing elsewhere."""
    return "<3>" if is_journal(sys.stderr) else ""


class _ServerParser(argparse.ArgumentParser):
    """argparse's, but a usage error in the journal is one line at priority ``err``, without
    the usage (one journal record per line, each at priority ``info``, hid the one that
    matters); on a terminal it is argparse's own."""

    def error(self, message: str) -> NoReturn:
        priority = journal_error()
        if not priority:
            super().error(message)
        self.exit(2, f"{priority}{self.prog}: error: {message}\n")


def server_parser(prog: str = "tcp-server") -> argparse.ArgumentParser:
    parser = _ServerParser(prog=prog, description=SERVER_DESCRIPTION)
    parser.add_argument(
        "--version",
        action=_ServerVersion,
        nargs=0,
        help="show the version and how the history is searched (FTS5 or LIKE), then exit",
    )
    add_options(parser, SERVER_OPTIONS)
    return parser


def client_parser(prog: str = "tcp-client") -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=prog, description=CLIENT_DESCRIPTION, epilog=CLIENT_EPILOG
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    add_options(parser, CLIENT_OPTIONS)
    return parser


def server_main(argv: Sequence[str] | None = None, prog: str = "tcp-server") -> int:
    parser = server_parser(prog)
    flags = vars(parser.parse_args(argv))
    if sys.platform == "win32":
        print(f"{prog}: {NOT_ON_WINDOWS}", file=sys.stderr)
        return 1
    try:
        config = server_config(flags, os.environ)
    except ConfigError as exc:
        return config_error(parser.prog, exc)
    return run_server(config)


def config_error(prog: str, exc: ConfigError) -> int:
    """A setting refused (in the config file, the environment or across flags): one line on
    stderr, exit 2, without the usage (twenty lines of it in the journal hid the one that
    matters)."""
    print(f"{journal_error()}{prog}: error: {exc}", file=sys.stderr)
    return 2


def run_server(config: ServerConfig) -> int:
    try:
        path = setup_logging(
            config.log_level,
            config.log_dir,
            config.log_file,
            config.log_max_bytes,
            config.log_backups,
            config.log_keep_starts,
            config.log_keep_bytes,
        )
    except LogDirInUse as exc:
        print(f"{journal_error()}tcp-server: logs: {exc}", file=sys.stderr)
        return 1
    except OSError as exc:
        print(
            f"{journal_error()}tcp-server: cannot write logs in {config.log_dir!r}: {exc.strerror}",
            file=sys.stderr,
        )
        return 1
    log = logging.getLogger(LOGGER_NAME)
    if path:
        log.info("logging to %s", path)
    from .server.main import run
    from .server.ports import ListenError

    try:
        _run(run(config), config.loop)
    except ListenError as exc:
        log.error("%s", exc)
        return 1
    except OSError as exc:
        log.error("cannot start: %s", exc.strerror or exc)
        return 1
    except ChatError as exc:
        log.error("%s", exc)
        return 1
    return 0


def client_main(argv: Sequence[str] | None = None, prog: str = "tcp-client") -> int:
    parser = client_parser(prog)
    flags = vars(parser.parse_args(argv))
    try:
        config = client_config(flags, os.environ)
    except ConfigError as exc:
        return config_error(parser.prog, exc)
    try:
        return _run(_client(config), "asyncio")
    except ChatError as exc:
        print(f"{prog}: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130


async def _client(config: ClientConfig) -> int:
    from .client.link import probe
    from .client.pipe import run_pipe

    if config.probe:
        return await probe(config)
    # Started with a stream closed (`tcp-client ... >&-`, `<&-`): no output, no input.
    stdin = sys.stdin if sys.stdin is not None else io.StringIO()
    stdout = sys.stdout if sys.stdout is not None else open(os.devnull, "w", encoding="utf-8")
    if stdin.isatty() and stdout.isatty() and not config.json:
        from .client.terminal import raw_mode_available

        if config.plain or not raw_mode_available(stdin.fileno(), os.environ):
            from .client.plain import run_plain

            return await run_plain(config)
        from .client import ui

        return await ui.run_interactive(config)
    return await run_pipe(config, stdin, stdout)


def _run(coro: object, loop: str) -> int:
    """Run ``coro`` on the chosen event loop (uvloop only when asked for or available)."""
    if loop in ("uvloop", "auto"):
        try:
            uvloop = importlib.import_module("uvloop")  # optional: tcp-chat[fast]
        except ImportError:
            if loop == "uvloop":
                raise ConfigError(
                    "--loop uvloop needs uvloop: pip install 'tcp-chat[fast]'"
                ) from None
        else:
            asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())
    result: object = asyncio.run(coro)  # type: ignore[arg-type]
    return int(result) if isinstance(result, int) else 0


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m tcpchat server|client [options]``."""
    args = list(sys.argv[1:] if argv is None else argv)
    if args and args[0] in ("server", "client"):
        which, rest = args[0], args[1:]
        if which == "server":
            return server_main(rest, prog="python -m tcpchat server")
        return client_main(rest, prog="python -m tcpchat client")
    if args and args[0] == "--version":
        print(f"tcp-chat {__version__}")
        return 0
    asked = bool(args) and args[0] in ("-h", "--help")
    # Asked for, the usage is the answer (stdout, as argparse does); otherwise a usage error.
    print(
        "usage: python -m tcpchat {server,client} [options]\n"
        "       python -m tcpchat server --help | client --help",
        file=sys.stdout if asked else sys.stderr,
    )
    return 0 if asked else 2
