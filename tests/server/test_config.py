"""The server's options that are checked before anything starts: a Redis URL for --cluster."""

from __future__ import annotations

import asyncio
import importlib
import inspect

import pytest

from tcpchat.core.cluster_codec import NODE_NAME_MAX_CHARS, is_word
from tcpchat.core.errors import ConfigError
from tcpchat.server.cluster_options import (
    _CLUSTER_OPTIONS,
    default_node_name,
    parse_cluster_url,
    shown_url,
)

GOOD = [
    "",  # not a cluster node
    "redis://127.0.0.1:6379/0",
    "redis://redis.example.org/3",
    "rediss://:secret@10.0.0.5:6380/0?ssl_cert_reqs=none",
    "redis://[::1]:6379",
    "unix:///run/redis/redis.sock?db=2",
    "redis://127.0.0.1:6379/0?socket_timeout=2.5",
    "redis://127.0.0.1:6379/0?client_name=chat&health_check_interval=10&socket_keepalive=true",
]
BAD = [
    ("http://example.org", "not a Redis URL"),
    ("redis://127.0.0.1:notaport/0", "Port"),
    ("redis://127.0.0.1:99999/0", "out of range"),
    ("redis://[::1", "IPv6"),
    ("redis://127.0.0.1:6379/abc", "database is a number"),
    ("redis://127.0.0.1:6379/0?socket_timeout=abc", "socket_timeout is a number"),
    ("redis://127.0.0.1:6379/0?db=x", "db is a number"),
    ("redis:///0", "no host"),
    ("unix://", "no socket path"),
    ("redis://127.0.0.1:6379/0?protocol=3", "protocol is tcp-chat's"),  # RESP2, every connection
    ("redis://127.0.0.1:6379/0?foo=bar", "unknown option 'foo'"),  # else: "cannot reach Redis"
]


def test_every_option_redis_py_parses_in_a_url_is_accepted() -> None:
    connection = pytest.importorskip("redis.asyncio.connection", reason="tcp-chat[cluster]")
    assert set(connection.URL_QUERY_ARGUMENT_PARSERS) - {"protocol"} <= _CLUSTER_OPTIONS


def test_an_option_the_installed_redis_py_does_not_take_is_refused_at_start_in_one_line() -> None:
    """The options accepted are the newest redis-py's (8.x); an older one (7.0, the newest for
    Python 3.9) lacks some: a node refuses them before it tries Redis, saying why, rather than
    calling Redis unreachable (redis-py's TypeError) and waiting ``--cluster-wait`` for it."""
    connection = pytest.importorskip("redis.asyncio.connection", reason="tcp-chat[cluster]")
    cluster = importlib.import_module("tcpchat.server.cluster")
    taken = cluster.options_taken()
    for kind in (connection.AbstractConnection, connection.Connection, connection.SSLConnection):
        assert set(inspect.signature(kind.__init__).parameters) <= taken
    # Each option accepted here is taken, or refused: with 7.0, legacy_responses, ssl_ca_path
    # and ssl_password are; with 8.x, none, and one is taken away to see the refusal.
    older = sorted(_CLUSTER_OPTIONS - taken) or ["ssl_password"]
    seen = taken - set(older)
    for option in older:
        url = f"redis://127.0.0.1:1/0?db=0&{option}=s3cret"
        assert cluster.options_not_taken(url, seen) == [option]
        refusal = f"does not take the option '{option}': leave it out"
        with pytest.MonkeyPatch.context() as patch:
            patch.setattr(cluster, "options_taken", lambda: seen)
            with pytest.raises(ConfigError, match=refusal) as why:
                asyncio.run(cluster.reach(url, 30.0))  # at once: no wait for an unreachable port
        if option.endswith("password"):
            assert "s3cret" not in str(why.value)
    assert cluster.options_not_taken("redis://h:1/0", seen) == []


def test_a_redis_client_that_does_not_load_is_told_apart_from_a_missing_one() -> None:
    """redis-py missing, too old to have an asyncio client, or installed without a module it
    needs itself: three different lines, the last naming the module."""
    cluster = importlib.import_module("tcpchat.server.cluster")

    def line(name: str) -> str:
        return str(cluster.not_loaded(ModuleNotFoundError(f"No module named {name!r}", name=name)))

    assert line("redis") == cluster.MISSING_EXTRA
    assert "needs redis-py 5.0.1 or newer" in line("redis.asyncio")
    broken = line("async_timeout")
    assert "installed but does not load (No module named 'async_timeout')" in broken
    assert "tcp-chat[cluster]" in broken


@pytest.mark.parametrize(
    ("version", "old"),
    [
        ("4.3.4", True),
        ("5.0.0", True),
        ("3.5", True),
        ("5.0.1", False),
        ("8.1.0", False),
        ("5.1.0b1", False),
        ("10.0", False),
        ("unknown", False),
    ],
)
def test_a_redis_py_older_than_the_extra_takes_is_refused_in_one_line(
    version: str, old: bool
) -> None:
    """Distributions ship redis-py 3.x and 4.x (python3-redis), whose asyncio client lacks what a
    node uses: a traceback at start with 4.3.4, before this check."""
    cluster = importlib.import_module("tcpchat.server.cluster")
    assert cluster.too_old(version) is old
    redis = pytest.importorskip("redis", reason="the extra tcp-chat[cluster]")
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(redis, "__version__", version)
        if old:
            with pytest.raises(ConfigError, match=rf"5\.0\.1 or newer.*\(this one is {version}\)"):
                cluster.redis_asyncio()
        else:
            assert cluster.redis_asyncio().Redis


@pytest.mark.parametrize("url", GOOD)
def test_a_redis_url_as_redis_py_takes_it_is_accepted(url: str) -> None:
    assert parse_cluster_url(f"  {url} ") == url


@pytest.mark.parametrize(("url", "why"), BAD)
def test_a_mistyped_redis_url_is_refused_before_anything_starts(url: str, why: str) -> None:
    with pytest.raises(ValueError, match=why):
        parse_cluster_url(url)


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("redis://:s3cret@10.0.0.5:6379/0", "redis://:***@10.0.0.5:6379/0"),
        ("redis://app:p@ss@h:1/0", "redis://app:***@h:1/0"),
        ("redis://h:1/0?db=1&password=s3cret", "redis://h:1/0?db=1&password=***"),
        ("rediss://h:1/0?ssl_password=s3cret&db=1", "rediss://h:1/0?ssl_password=***&db=1"),
        ("redis//:s3cret@10.0.0.5:6379/0", "redis//:***@10.0.0.5:6379/0"),  # mistyped
        ("redis://h:1/0", "redis://h:1/0"),
    ],
)
def test_a_password_in_the_url_is_never_shown(url: str, shown: str) -> None:
    assert shown_url(url) == shown


def test_the_refusal_of_a_mistyped_url_hides_its_password() -> None:
    for url in ("redis//:s3cret@10.0.0.5:6379/0", "redis://:s3cret@h:1/x?password=s3cret"):
        with pytest.raises(ValueError) as refused:
            parse_cluster_url(url)
        assert "s3cret" not in str(refused.value)


def test_the_default_node_name_is_one_every_node_takes() -> None:
    """HOST:PORT, as long as the other nodes take it (a name they would skip the entries of
    makes nodes disagree on who is online): a long host name keeps its first label, and a host
    name that cannot make one stops the start with a word on --node-name."""
    assert default_node_name("vm", 54321) == "vm:54321"
    pod = "chat-" + "x" * 50 + ".cluster.svc.example.org"
    name = default_node_name(pod, 54321)
    assert name == "chat-" + "x" * 50 + ":54321" and is_word(name)
    for host in ("p" * NODE_NAME_MAX_CHARS, "bad host"):
        with pytest.raises(ConfigError, match="--node-name"):
            default_node_name(host, 54321)
