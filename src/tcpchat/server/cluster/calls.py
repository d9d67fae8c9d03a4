"""The Lua scripts the bus runs (``scripts.py``), registered with redis-py, and how a batch of
the hub's cluster instructions becomes one pipeline of calls to them (``Bus.run``)."""

from __future__ import annotations

import json
import logging
from collections import deque
from typing import Any

from ...core import cluster as cl
from ...core import cluster_codec as codec
from ...core.limits import (
    CLUSTER_GONE_INBOX_S,
    CLUSTER_INBOX_ENTRIES,
    CLUSTER_LOG_ENTRIES,
    CLUSTER_MARK_S,
    CLUSTER_TOPICS,
)
from ...core.output import Claim, Instruction, Publish, Release, Whisper
from ..logs import LOGGER_NAME
from . import scripts
from .wire import Arg, Command, call_script, flat_fields

log = logging.getLogger(LOGGER_NAME)

# What a node appended to the log and has not read back yet: each entry as written, and as sent.
Mine = deque[tuple[str, cl.Entry]]


class Calls:
    """One redis-py script object per Lua script, for a node's connection ``redis``."""

    def __init__(self, redis: Any) -> None:
        self.append = redis.register_script(scripts.APPEND)
        self.append_many = redis.register_script(scripts.APPEND_MANY)
        self.whisper = redis.register_script(scripts.WHISPER)
        self.bounce = redis.register_script(scripts.BOUNCE)
        self.floor = redis.register_script(scripts.FLOOR)
        self.claim = redis.register_script(scripts.CLAIM)
        self.release = redis.register_script(scripts.RELEASE)
        self._reserve = redis.register_script(scripts.RESERVE)
        self.renew = redis.register_script(scripts.RENEW)
        self.reap = redis.register_script(scripts.REAP)
        self.let_go = redis.register_script(scripts.LET_GO)
        self.presence = redis.register_script(scripts.PRESENCE)
        self.snapshot = redis.register_script(scripts.SNAPSHOT)
        self.topic = redis.register_script(scripts.TOPIC)
        self.mark = redis.register_script(scripts.MARK)

    def pipeline(
        self,
        batch: list[Instruction],
        node: str,
        boot: str,
        mine: Mine | None,
        mark: int | None = None,
    ) -> tuple[list[Command], list[int]]:
        """A pipeline of ``EVALSHA`` calls for ``batch`` (scripts are loaded once, not checked
        before every pipeline: that would be a round trip each), and how many of the batch each
        call carries out, for node ``node`` whose run is ``boot``. Room messages in a row go in
        one call. What is appended to the log is noted in ``mine``. ``mark``: the inbox
        position to note first (MARK; it carries out none of the batch)."""
        pipe: list[Command] = []
        groups: list[int] = []
        said: list[str] = []  # room messages in a row, appended by one call
        lease = cl.lease_key(node)  # every write is fenced by it (scripts.py)
        if mark is not None:
            pipe.append(self.mark_command(node, boot, mark))
            groups.append(0)
        log_keys = [lease, cl.SEQ_KEY, cl.LOG_KEY]
        many: list[Arg] = [boot, CLUSTER_LOG_ENTRIES, codec.FIELD]
        for item in batch:
            if isinstance(item, Publish):
                raw = codec.encode_value(item.entry)
                if mine is not None:
                    mine.append((raw, item.entry))
                if not item.members and not isinstance(item.entry, cl.TopicSet):
                    said.append(raw)
                    continue
            if said:
                call_script(pipe, self.append_many, log_keys, [*many, *said])
                groups.append(len(said))
                said = []
            groups.append(1)
            if isinstance(item, Publish) and isinstance(item.entry, cl.TopicSet):
                topic: list[Arg] = [boot, CLUSTER_LOG_ENTRIES, item.entry.room, CLUSTER_TOPICS]
                kept = [cl.TOPICS_KEY, cl.TOPICS_ORDER_KEY]
                call_script(pipe, self.topic, [*log_keys, *kept], [*topic, codec.FIELD, raw])
            elif isinstance(item, Publish):
                changes = [
                    part
                    for name, rooms in item.members
                    for part in (name, "" if rooms is None else json.dumps(rooms))
                ]
                keys = [*log_keys, cl.members_key(node)]
                args: list[Arg] = [
                    boot,
                    CLUSTER_LOG_ENTRIES,
                    len(item.members),
                    *changes,
                    codec.FIELD,
                    raw,
                ]
                call_script(pipe, self.presence, keys, args)
            elif isinstance(item, Whisper):
                fields = flat_fields(codec.encode(item.entry))
                args = [boot, CLUSTER_INBOX_ENTRIES, item.node, *fields]
                inbox = [lease, cl.SEQ_KEY, cl.inbox_key(item.node)]
                if isinstance(item.entry, cl.Bounced):  # to its sender, whatever their name now
                    keys = [*inbox, cl.NODES_KEY, cl.bounced_key(item.entry.message)]
                    call_script(pipe, self.bounce, keys, [*args, CLUSTER_GONE_INBOX_S * 1000])
                else:
                    keys = [*inbox, cl.claim_keys(item.entry.to)[0]]
                    call_script(pipe, self.whisper, keys, args)
            elif isinstance(item, Claim):
                keys = [cl.lease_key(node), cl.held_key(node), *cl.claim_keys(item.name)]
                value = cl.holder_value(node, item.name)
                old = cl.holder_value(node, item.old) if item.old else ""
                call_script(pipe, self.claim, keys, [boot, value, old])
            elif isinstance(item, Release):
                keys = [lease, cl.held_key(node), *cl.claim_keys(item.name)]
                call_script(pipe, self.release, keys, [boot, cl.holder_value(node, item.name)])
        if said:
            call_script(pipe, self.append_many, log_keys, [*many, *said])
            groups.append(len(said))
        return pipe, groups

    def mark_command(self, node: str, boot: str, mark: int) -> Command:
        """The call that notes ``mark`` as how far node ``node`` (run ``boot``) handled its
        inbox (MARK)."""
        pipe: list[Command] = []
        keys = [cl.lease_key(node), cl.read_key(node)]
        call_script(pipe, self.mark, keys, [boot, mark, round(CLUSTER_MARK_S * 1000)])
        return pipe[0]

    async def reserve_name(self, server_name: str, warn: bool) -> list[str]:
        """Keep ``server_name`` (this node's, with IRC; "" for none) and its look-alikes from
        every user of the cluster, as a single server keeps it from its own (on joining the
        cluster and at each lease renewal: again after Redis lost it). A user who took it first
        keeps it until they go (logged if ``warn``). Returns the names of the cluster's servers
        with IRC, which every node reserves (``HubCluster.reserve_servers``)."""
        keys = [cl.SERVERS_KEY, *(cl.claim_keys(server_name) if server_name else ())]
        args = [cl.reserved_value(server_name), server_name]
        other, *servers = await self._reserve(keys=keys, args=args)
        if warn and other and not cl.is_reserved_value(other):
            node, name = cl.parse_holder(other)
            log.warning(
                'cluster: %s, a user of the node %s, has this server\'s name "%s" (or one like '
                "it) and keeps it until they leave",
                name,
                node,
                server_name,
            )
        return [str(name) for name in servers]

    async def load(self, redis: Any) -> None:
        """Load the scripts the pipelines call by their SHA1 (at start, and after Redis lost
        them)."""
        for script in (self.append_many, self.presence, self.whisper, self.claim):
            await redis.script_load(script.script)
        for script in (self.release, self.topic, self.bounce, self.mark):
            await redis.script_load(script.script)
