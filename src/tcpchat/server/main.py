"""Running the server: the open-file limit, the event loop's error handler, the signals."""

from __future__ import annotations

import asyncio
import gc
import logging
import os
import signal
import socket
from collections.abc import Awaitable
from typing import Any, TypeVar

from ..core.limits import FD_RESERVE
from .app import ChatServer
from .cluster_options import default_node_name
from .config import ServerConfig
from .logs import LOGGER_NAME
from .ports import Ports, reserve_ports
from .store import close_archive, open_archive

log = logging.getLogger(LOGGER_NAME)
T = TypeVar("T")

# The collector's youngest generation is gone over every this many allocations (Python's
# default is 700). What is alive when it runs is the work in flight (a message between its
# line and its delivery, a cluster node's burst on its way to Redis and back), so going over it
# less often does the same work per pass and fewer passes: in a cluster node's fan-out the
# collector's share of the CPU fell from about 5 % to 2 % (docs/BENCHMARKS.md).
GC_YOUNG_EVERY = 10_000


def tune_collector() -> None:
    """At start: what exists now (modules, the configuration, the store) lives as long as the
    server, so the collector stops going over it (``gc.freeze``); and the youngest
    generation is collected less often (``GC_YOUNG_EVERY``). Reference counting frees nearly
    everything a message makes at once either way; only cycles wait for the collector."""
    gc.collect()
    gc.freeze()
    _, middle, old = gc.get_threshold()
    gc.set_threshold(GC_YOUNG_EVERY, middle, old)


def raise_file_limit(wanted: int) -> int:
    """Lift the soft limit on open files towards ``wanted`` (up to the hard limit).

    Each connection is a file; the usual soft limit of 1024 would refuse users long before
    ``max_connections``. Returns the soft limit now in force.
    """
    try:
        import resource
    except ImportError:  # not on POSIX
        return wanted
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = wanted if hard == resource.RLIM_INFINITY else min(wanted, hard)
    if soft != resource.RLIM_INFINITY and soft < target:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
            soft = target
        except (ValueError, OSError):
            pass
    return int(soft)


async def run(config: ServerConfig) -> None:
    """Start the server, serve until SIGINT, SIGTERM or SIGHUP, then stop cleanly."""
    # Connections, listeners, log files and a margin for the interpreter itself.
    files = raise_file_limit(config.max_connections + 64)
    if files < config.max_connections + 16:
        log.warning(
            "open-file limit %d is below --max-connections %d; raise it (ulimit -n)",
            files,
            config.max_connections,
        )
    # Bound first, listening last: a port in use stops the start before anything else is done
    # (ports.py); nobody connects before the server is ready.
    ports = reserve_ports(config)
    try:
        await _serve(config, ports, files)
    finally:
        ports.close()


async def _serve(config: ServerConfig, ports: Ports, files: int) -> None:
    # Reached before listening, so that a cluster we cannot join stops the start (one line,
    # exit 1); without --cluster nothing of redis-py is imported.
    redis: Any = None
    node = config.node_name
    if config.cluster:
        from .cluster import reach

        node = node or default_node_name(socket.gethostname(), config.port or os.getpid())
        redis = await _unless_stopped(reach(config.cluster, config.cluster_wait))
        if redis is None:
            return
    # Opened before listening, so that a database we cannot use stops the start (one line,
    # exit 1); closed after the last message, so that a clean stop loses none.
    try:
        archive = open_archive(config)
    except BaseException:
        if redis is not None:
            await redis.aclose()
        raise
    tune_collector()  # before the server's objects, some of which become garbage in time
    try:
        server = ChatServer(config, archive, node if redis is not None else None)
        server.fd_budget = max(files - FD_RESERVE, 1)
        if redis is not None:
            from .cluster.link import ClusterLink

            server.cluster_link = ClusterLink(redis, node, server.hub, server.route_cluster)
            await server.cluster_link.start()
        loop = asyncio.get_running_loop()
        loop.set_exception_handler(_log_loop_error)
        # Before listening: a SIGTERM as soon as the server says it listens is a clean stop.
        stopping = stop_signals()
        for signum in stopping:
            loop.add_signal_handler(signum, _on_signal, server, signum)
        try:
            await server.start(ports)
            await server.serve()
        finally:
            for signum in stopping:
                loop.remove_signal_handler(signum)
            if server.cluster_link is not None:
                await server.cluster_link.stop()
    finally:
        close_archive(archive)
        if redis is not None:
            await redis.aclose()


async def _unless_stopped(waiting: Awaitable[T]) -> T | None:
    """``waiting`` (for Redis at start: up to --cluster-wait), given up on a stop signal as a
    running server stops on one: logged, and None (a clean stop, exit 0). Without this, SIGTERM
    (``systemctl stop``) ended the process in silence."""
    loop = asyncio.get_running_loop()
    task = asyncio.ensure_future(waiting)
    received: list[int] = []

    def stop(signum: int) -> None:
        log.info("received %s while waiting for the cluster's Redis", signal.Signals(signum).name)
        received.append(signum)
        task.cancel()

    stopping = stop_signals()
    for signum in stopping:
        loop.add_signal_handler(signum, stop, signum)
    try:
        return await task
    except asyncio.CancelledError:
        if not received:
            raise
        log.info("stopped")
        return None
    finally:
        for signum in stopping:
            loop.remove_signal_handler(signum)


def _log_loop_error(loop: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
    """An exception escaped a callback: that is our bug. Log it with its traceback, go on."""
    exc = context.get("exception")
    message = context.get("message", "unhandled error in the event loop")
    log.error("%s", message, exc_info=exc if isinstance(exc, BaseException) else None)


def stop_signals() -> list[int]:
    """The signals that stop the server cleanly: SIGINT (Ctrl+C), SIGTERM, and SIGHUP (the
    terminal it runs in was closed) unless it was started ignoring that one (``nohup``)."""
    signals: list[int] = [signal.SIGINT, signal.SIGTERM]
    hangup = getattr(signal, "SIGHUP", None)  # not on Windows
    if hangup is not None and signal.getsignal(hangup) is not signal.SIG_IGN:
        signals.append(hangup)
    return signals


def _on_signal(server: ChatServer, signum: int) -> None:
    log.info("received %s", signal.Signals(signum).name)
    server.stop()
