"""Starting in cluster mode: the extra missing or Redis unreachable is one line and exit 1
before anything listens; without --cluster nothing of redis-py is imported."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from tests.conftest import (
    SRC,
    WAIT,
    Lines,
    ServerProcess,
    child_env,
    join_peer,
    without_modules,
)
from tests.e2e.redis_server import RedisServer, command, free_port

# A sitecustomize that notes every attempt to import redis (and lets it go on): the server
# may not even try without --cluster, whether the extra is installed or not.
_WATCH = """\
import sys


class _Watch:
    def find_spec(self, name, path=None, target=None):
        if name == "redis" or name.startswith("redis."):
            with open({path!r}, "a") as f:
                f.write(name + "\\n")
        return None


sys.meta_path.insert(0, _Watch())
"""


def start(tmp_path: Path, *args: str, pythonpath: str = "") -> subprocess.CompletedProcess[str]:
    """Run the server, expected to stop at once."""
    command = [sys.executable, "-m", "tcpchat", "server", "--config", os.devnull]
    command += ["--host", "127.0.0.1", "--port", "0", "--no-log-file", "--no-history", *args]
    env = child_env(PYTHONPATH=pythonpath) if pythonpath else child_env()
    return subprocess.run(
        command, capture_output=True, text=True, env=env, cwd=tmp_path, timeout=WAIT * 2
    )


def one_line_and_exit_1(result: subprocess.CompletedProcess[str], *wanted: str) -> str:
    lines = result.stderr.splitlines()
    assert result.returncode == 1, result.stderr
    assert len(lines) == 1, result.stderr
    assert "Traceback" not in result.stderr and "listening" not in result.stderr
    for text in wanted:
        assert text in lines[0], lines[0]
    return lines[0]


def test_without_cluster_the_server_never_imports_redis(tmp_path: Path) -> None:
    watch = tmp_path / "watch"
    watch.mkdir()
    attempts = tmp_path / "redis-imports"
    (watch / "sitecustomize.py").write_text(_WATCH.format(path=str(attempts)))
    env = child_env(PYTHONPATH=os.pathsep.join([str(watch), str(SRC)]))
    server = ServerProcess(tmp_path, env=env)
    try:
        peer = join_peer(server.port, "alice")
        peer.send("hello\n")
        peer.expect(r"^\*\*\* Nobody else")
        peer.close()
    finally:
        assert server.stop() == 0
    assert not attempts.exists(), attempts.read_text()


def test_cluster_without_the_extra_is_one_line_and_exit_1(tmp_path: Path) -> None:
    result = start(
        tmp_path,
        "--cluster",
        f"redis://127.0.0.1:{free_port()}/0",
        pythonpath=without_modules(tmp_path, "redis"),
    )
    one_line_and_exit_1(result, "--cluster needs the Redis client", "tcp-chat[cluster]")


def test_a_redis_client_without_what_it_needs_says_what_is_missing(tmp_path: Path) -> None:
    """redis-py present but missing a module it needs (found with redis-py copied alone beside
    the RPM: async_timeout, needed before Python 3.11.3) is not "the extra is missing": the line
    names the module. Here the module taken away is uuid, which redis.asyncio always imports."""
    result = start(
        tmp_path,
        "--cluster",
        f"redis://127.0.0.1:{free_port()}/0",
        pythonpath=without_modules(tmp_path, "uuid"),
    )
    one_line_and_exit_1(
        result, "the Redis client (redis-py) is installed but does not load", "'uuid'"
    )


def test_redis_unreachable_at_start_is_one_line_and_exit_1(tmp_path: Path) -> None:
    url = f"redis://127.0.0.1:{free_port()}/0"
    result = start(tmp_path, "--cluster", url)
    one_line_and_exit_1(result, f"cannot reach the cluster's Redis at {url}")


def test_a_port_in_use_stops_a_node_before_it_touches_the_cluster(tmp_path: Path) -> None:
    """The ports are bound before Redis is reached (server/ports.py): under systemd, a node
    whose port another server holds is restarted every few seconds, and each start joined the
    cluster and left it again (a join, a leave and 100,000 ids reserved each time)."""
    redis = RedisServer(tmp_path / "redis")
    taken = socket.create_server(("127.0.0.1", 0))
    try:
        port = str(taken.getsockname()[1])
        result = start(tmp_path, "--cluster", redis.url, "--port", port)
        one_line_and_exit_1(result, f"cannot listen on 127.0.0.1:{port}")
        assert command(redis.port, "DBSIZE") == ":0"  # nothing written to Redis
    finally:
        taken.close()
        redis.stop()


def test_a_stop_signal_while_waiting_for_redis_stops_cleanly_and_the_port_refuses_meanwhile(
    tmp_path: Path,
) -> None:
    """systemctl stop while a node waits for Redis (--cluster-wait) ended it in silence, killed
    by the signal; it now says so and exits 0. Its port is bound but not listened on: a user
    is refused, not left hanging without a greeting."""
    url = f"redis://127.0.0.1:{free_port()}/0"
    port = free_port()
    args = [sys.executable, "-m", "tcpchat", "server", "--config", os.devnull, "--host"]
    args += ["127.0.0.1", "--port", str(port), "--no-log-file", "--no-history"]
    args += ["--cluster", url, "--cluster-wait", "60"]
    proc = subprocess.Popen(args, stderr=subprocess.PIPE, text=True, env=child_env(), cwd=tmp_path)
    lines = Lines()
    reader = threading.Thread(target=lambda: [lines.add(x.rstrip()) for x in proc.stderr or ()])
    reader.start()
    try:
        lines.wait_for(r"cannot reach the cluster's Redis .* yet")
        with pytest.raises(ConnectionRefusedError):
            socket.create_connection(("127.0.0.1", port), WAIT).close()
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(WAIT) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(WAIT)
        reader.join(WAIT)
    lines.wait_for(r"INFO +received SIGTERM while waiting for the cluster's Redis$")
    assert re.search(r"INFO +stopped$", lines.lines[-1]), lines.lines
    assert not any("Traceback" in line for line in lines.lines), lines.lines


def test_cluster_wait_gives_up_after_its_time(tmp_path: Path) -> None:
    url = f"redis://127.0.0.1:{free_port()}/0"
    result = start(tmp_path, "--cluster", url, "--cluster-wait", "0.5")
    one_line_and_exit_1(result, "cannot reach the cluster's Redis", "tried for 0.5 s")


def test_a_node_waiting_for_redis_says_so_at_once(tmp_path: Path) -> None:
    """Waiting for Redis (--cluster-wait, 30 s in the example config) in silence looked hung,
    under systemd too (a newcomer's review): the first failed try says what it waits for."""
    url = f"redis://127.0.0.1:{free_port()}/0"
    result = start(tmp_path, "--cluster", url, "--cluster-wait", "2.5")
    assert result.returncode == 1, result.stderr
    waiting, gave_up = result.stderr.splitlines()
    assert f"cannot reach the cluster's Redis at {url} yet" in waiting
    assert re.search(r"WARNING .*; trying for [0-9]+ s more$", waiting), waiting
    assert "tried for 2.5 s" in gave_up


def test_a_password_in_the_url_is_not_logged(tmp_path: Path) -> None:
    url = f"redis://user:s3cret@127.0.0.1:{free_port()}/0"
    line = one_line_and_exit_1(start(tmp_path, "--cluster", url))
    assert "s3cret" not in line and "user:***@127.0.0.1" in line


def test_a_password_redis_does_not_take_is_one_line_and_exit_1(tmp_path: Path) -> None:
    """A password in the URL for a Redis that has none: every connection of the node logs in
    the same way, so start-up says so once and stops, rather than joining and then losing the
    link every few seconds (RESP3's HELLO takes any password there; AUTH refuses it)."""
    redis = RedisServer(tmp_path / "redis")
    try:
        url = f"redis://:wrong@127.0.0.1:{redis.port}/0"
        line = one_line_and_exit_1(start(tmp_path, "--cluster", url, "--cluster-wait", "0.3"))
        assert "wrong" not in line and "password" in line.lower(), line
    finally:
        redis.stop()


def test_cluster_wait_starts_once_redis_is_up(tmp_path: Path) -> None:
    port = free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "tcpchat", "server", "--config", os.devnull, "--host"]
        + ["127.0.0.1", "--port", "0", "--no-log-file", "--no-history"]
        + ["--cluster", f"redis://127.0.0.1:{port}/0", "--cluster-wait", str(WAIT)],
        stderr=subprocess.PIPE,
        text=True,
        env=child_env(),
        cwd=tmp_path,
    )
    redis = RedisServer(tmp_path / "redis", port=port)
    try:
        assert server.stderr is not None
        for line in server.stderr:
            if "listening on" in line:
                break
        else:
            raise AssertionError("the server stopped without listening")
    finally:
        server.terminate()
        assert server.wait(WAIT) == 0
        redis.stop()


def test_a_bad_cluster_url_is_a_usage_error(tmp_path: Path) -> None:
    result = start(tmp_path, "--cluster", "http://example.org")
    assert result.returncode == 2 and "not a Redis URL" in result.stderr
