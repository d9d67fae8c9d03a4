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
from dataclasses import dataclass
from typing import Any, Callable

from .core.errors import ConfigError

ENV_PREFIX = "TCPCHAT_"


def parse_bool(text: str) -> bool:
    value = text.strip().lower()
    if value in ("1", "true", "yes", "on"):
        return True
    if value in ("0", "false", "no", "off"):
        return False
    raise ValueError(f"not a yes/no value: {text!r}")


def parse_port(text: str) -> int:
    port = int(text)
    if not 0 <= port <= 65535:
        raise ValueError(f"not a TCP port: {text!r}")
    return port


def parse_positive_int(text: str) -> int:
    number = int(text)
    if number < 1:
        raise ValueError(f"must be at least 1: {text!r}")
    return number


def parse_size(text: str) -> int:
    number = int(text)
    if number < 0:
        raise ValueError(f"must be 0 or more: {text!r}")
    return number


def parse_positive_float(text: str) -> float:
    number = float(text)
    if not number > 0:
        raise ValueError(f"must be above 0: {text!r}")
    return number


def parse_ipv6_prefix(text: str) -> int:
    bits = int(text)
    if not 1 <= bits <= 128:
        raise ValueError(f"not an IPv6 prefix length (1-128): {text!r}")
    return bits


# A --host that means every address of the machine, IPv4 and IPv6.
EVERY_ADDRESS = ("", "*")


def parse_hosts(text: str) -> str:
    """Addresses to listen on: one, or several separated by commas (``127.0.0.1,::1``), an IPv6
    one in brackets or not; ``*`` or nothing is every address, IPv4 and IPv6. Returns them
    comma-separated without spaces, brackets or repeats."""
    if text.strip() in EVERY_ADDRESS:
        return text.strip()
    hosts: list[str] = []
    for part in text.split(","):
        host = part.strip()
        if host.startswith("[") and host.endswith("]"):
            host = host[1:-1].strip()
        if not host:
            raise ValueError(f"an empty address in the list: {text!r}")
        if host not in hosts:
            hosts.append(host)
    return ",".join(hosts)


def parse_level(text: str) -> str:
    level = text.strip().upper()
    if level not in ("DEBUG", "INFO", "WARNING", "ERROR"):
        raise ValueError(f"not a log level (DEBUG, INFO, WARNING, ERROR): {text!r}")
    return level


def parse_count(maximum: int) -> Callable[[str], int]:
    """A parser for a whole number from 0 to ``maximum``."""

    def parse(text: str) -> int:
        number = int(text)
        if not 0 <= number <= maximum:
            raise ValueError(f"must be from 0 to {maximum}: {text!r}")
        return number

    return parse


def parse_choice(*choices: str) -> Callable[[str], str]:
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


def add_options(parser: argparse.ArgumentParser, options: Sequence[Option]) -> None:
    """Declare ``options`` as flags. Unset flags stay absent so lower layers can fill them."""
    for opt in options:
        names = [opt.flag] + ([opt.short] if opt.short else [])
        default = help_default(opt)
        said = f"default: {default}; " if default is not None else ""
        help_text = f"{opt.help} ({said}env {opt.env})"
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


def help_default(opt: Option) -> str | None:
    """The default as ``--help`` shows it, or None when there is nothing to add: the help text
    already says it (in its own words, which know better than the value) or there is none."""
    if "default" in opt.help or opt.default in ("", None):
        return None
    if isinstance(opt.default, bool):
        return "yes" if opt.default else "no"
    if isinstance(opt.default, float) and opt.default.is_integer():
        return str(int(opt.default))  # a count of lines or seconds: "10", not "10.0"
    return str(opt.default)


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
    # The sections of tcp-chat's files; another is a typo ([srv]) that would leave every key of
    # the file unread, the program starting on its defaults without a word.
    unknown = [name for name in parser.sections() if name not in ("server", "client")]
    if unknown:
        raise ConfigError(
            f"config file {path}: unknown section [{unknown[0]}] (this reads [{section}])"
        )
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


def read_password(path: str) -> str | None:
    """The server password: the first line of the file at ``path`` (None for no path)."""
    if not path:
        return None
    try:
        with open(path, encoding="utf-8") as f:
            password = f.readline().rstrip("\r\n")
    except OSError as exc:
        raise ConfigError(f"cannot read password file {path}: {exc.strerror}") from None
    if not password:
        raise ConfigError(f"password file {path} is empty")
    return password
