"""A connection to Redis of the link's own, for what happens once per message: the entries
pushed to this node (``SUBSCRIBE``) and the writer's pipelines; and the reader's catching up
(docs/CLUSTER.md, "Pushed, and read only to catch up").

It is one of redis-py's connections, used without the client's per-call machinery (pool
checkout, retry wrapper, response callbacks), which costs as much again as the round trip
itself. Everything else (joining, the lease, reaping) goes through the client. Connecting, AUTH
and ``SELECT`` are redis-py's, from the same URL; the replies are RESP2's (a pushed message is
an array, as any reply).

In a pipeline, a reply Redis refused comes back as the exception object, in its place; a broken
connection raises (redis-py's ``ConnectionError``), and the next call connects afresh.

Commands are put in Redis's request form here (``pack``; a script called by its SHA1 alone:
``call_script``), not by redis-py's ``pack_command``, which checks and converts each argument
one by one: a burst of room messages is one command with an argument per message, and that
took more CPU than everything else the writer does.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any, Union

from ..logs import LOGGER_NAME

log = logging.getLogger(LOGGER_NAME)

Arg = Union[str, bytes, int]
Command = tuple[Arg, ...]


def call_script(pipe: list[Command], script: Any, keys: list[str], args: list[Arg]) -> None:
    """Queue ``script`` (a redis-py ``Script``) on ``pipe`` by its SHA1 alone."""
    pipe.append(("EVALSHA", script.sha, len(keys), *keys, *args))


def no_script(answer: object) -> bool:
    """True if ``answer`` says Redis does not have the script (it restarted since loading)."""
    return isinstance(answer, Exception) and (
        type(answer).__name__ == "NoScriptError" or str(answer).startswith("No matching script")
    )


def flat_fields(fields: dict[str, str]) -> list[str]:
    """A stream entry's fields as XADD takes them: field, value, ..."""
    return [item for pair in fields.items() for item in pair]


def pack(commands: Sequence[Sequence[Arg]]) -> bytes:
    """``commands`` as Redis reads them (RESP: an array of bulk strings each). Text is UTF-8."""
    parts: list[bytes] = []
    add = parts.append
    for command in commands:
        add(b"*%d\r\n" % len(command))
        for arg in command:
            if isinstance(arg, str):
                data = arg.encode()
            elif isinstance(arg, bytes):
                data = arg
            elif isinstance(arg, int) and not isinstance(arg, bool):  # redis-py refuses bools
                data = b"%d" % arg
            else:
                raise TypeError(f"not a Redis argument: {arg!r}")
            add(b"$%d\r\n" % len(data))
            add(data)
            add(b"\r\n")
    return b"".join(parts)


class Wire:
    """A connection made from ``redis``'s pool settings, not taken from the pool."""

    told_no_multi = False  # a Redis that refuses MULTI was logged (once a process)

    def __init__(self, redis: Any) -> None:
        self._pool = redis.connection_pool
        self._conn: Any = None

    async def _connection(self) -> Any:
        conn = self._conn
        if conn is None:
            # No socket timeout: a subscriber waits as long as nobody speaks, and a timeout costs
            # a timer per reply. A link that went silent is found by the ticker's lease renewal
            # (through the client, with its timeouts), which then closes these connections.
            settings = {**self._pool.connection_kwargs, "protocol": 2, "socket_timeout": None}
            conn = self._pool.connection_class(**settings)
            self._conn = conn
        if not conn.is_connected:
            await conn.connect()
        return conn

    async def call(self, *args: Arg) -> Any:
        """Send one command; its reply."""
        conn = await self._connection()
        await conn.send_packed_command(pack([args]), check_health=False)
        return await conn.read_response()

    async def pipeline(self, commands: Sequence[Sequence[Arg]]) -> list[Any]:
        """Send ``commands`` at once as one transaction (``MULTI`` ... ``EXEC``), then read
        their replies: one each, in order, the exception object for one Redis refused.

        In a transaction no other connection's command runs among them. A pipeline read in
        several pieces (Redis reads 16 KB at a time, and serves others in between once it runs
        on after a stall) could otherwise have this node's lease renewed halfway through: the
        fence would refuse its start and let its end through, and what was refused could not be
        sent again without coming after what followed it (docs/CLUSTER.md, Fencing)."""
        conn = await self._connection()
        await conn.send_packed_command(pack([("MULTI",), *commands, ("EXEC",)]), check_health=False)
        queued = [await self._reply(conn) for _ in range(len(commands) + 1)]  # +OK, QUEUED...
        answers = await self._reply(conn)
        if isinstance(queued[0], Exception):
            # MULTI refused (an ACL without it, a proxy that does not pass it): the commands
            # ran one by one, and these are their answers; EXEC's is "without MULTI".
            if not Wire.told_no_multi:
                Wire.told_no_multi = True
                log.warning("cluster: Redis refused MULTI (%s): allow MULTI and EXEC", queued[0])
            return queued[1:]
        if isinstance(answers, list) and len(answers) == len(commands):
            return answers
        # Nothing ran (EXECABORT: a command refused as it was queued; or the whole refused):
        # each gets its own refusal, else the transaction's.
        refused = (
            answers if isinstance(answers, Exception) else RuntimeError(f"not run: {answers!r}")
        )
        return [mine if isinstance(mine, Exception) else refused for mine in queued[1:]]

    @staticmethod
    async def _reply(conn: Any) -> Any:
        """The next reply on ``conn``: the exception object for an error reply."""
        try:
            return await conn.read_response()
        except Exception as exc:
            if not conn.is_connected:
                raise  # the connection broke: the rest of the replies are lost with it
            return exc  # Redis refused this one (an error reply)

    async def subscribe(self, *channels: str) -> None:
        """Turn this connection into a subscriber to ``channels`` (``next`` reads what comes)."""
        conn = await self._connection()
        await conn.send_packed_command(pack([("SUBSCRIBE", *channels)]), check_health=False)
        for _ in channels:
            await conn.read_response()  # ["subscribe", channel, count]

    async def next(self) -> Any:
        """The next message pushed to a subscriber: ["message", channel, data].
        ``ConnectionError`` if the subscription is gone with its connection."""
        if not self.open:
            raise ConnectionError("not subscribed")
        return await self._conn.read_response()

    @property
    def open(self) -> bool:
        return self._conn is not None and bool(self._conn.is_connected)

    async def close(self) -> None:
        """Close the connection (the next call opens a new one)."""
        conn, self._conn = self._conn, None
        if conn is not None:
            await conn.disconnect()


def score(text: str) -> int:
    """A sorted set's score as Redis gives it (``"12"``, or ``"1.2e+17"`` past 17 digits)."""
    return int(float(text)) if not text.isdigit() else int(text)
