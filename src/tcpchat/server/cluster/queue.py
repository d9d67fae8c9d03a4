"""The link's queue of the hub's cluster instructions (``link.py``): what goes to Redis in one
pipeline, which of them joining the cluster again does itself, what becomes of them when Redis
answers or the link breaks (``Answers``), and what is dropped when a name given while this node
was cut off turns out to be someone else's."""

from __future__ import annotations

import logging
import time
from collections import deque
from collections.abc import Container, Iterable
from typing import TYPE_CHECKING, Any, Callable

from ...core import cluster as cl
from ...core import codes
from ...core.hub import Hub
from ...core.output import Claim, Instruction, Out, Publish, Release, Whisper
from ...core.sentences import plural
from ...core.session import Session
from ..logs import LOGGER_NAME
from . import lasting
from .bus import Bus
from .reaping import Unread
from .scripts import LEASE_LOST

if TYPE_CHECKING:  # (typing has it from Python 3.10; annotations are not evaluated)
    from typing import TypeGuard

log = logging.getLogger(LOGGER_NAME)

# Instructions sent in one pipeline: enough for a burst, few enough not to wait on a slow answer.
WRITE_BATCH = 512


def done_by_rejoining(item: Instruction) -> bool:
    """True for what a node joining the cluster again does itself: it frees every name it held
    and announces its users gone (``Bus.register``), then claims the names of those online and
    says where they are (``Hub.reannounce``). A claim a session waits for is not among these."""
    if isinstance(item, Publish):
        return item.sender is None  # presence; a message or a topic has its sender
    if isinstance(item, Claim):
        return item.late
    return isinstance(item, Release)


def is_message(item: Instruction) -> TypeGuard[Publish | Whisper]:
    """A user's room message, topic or private message (not presence, not a name)."""
    return isinstance(item, (Publish, Whisper)) and item.sender is not None


def is_bounce(item: Instruction) -> bool:
    """The word to another node that a private message of one of its users was not delivered."""
    return isinstance(item, Whisper) and item.sender is None


def take_batch(queue: deque[Instruction]) -> list[Instruction]:
    """Up to WRITE_BATCH instructions off ``queue``, for one pipeline. It ends before a message
    that follows a name claimed late (given while this node was cut off): the answer may be
    that the name is someone else's now, and its user's messages must then not go out under it
    (``drop_messages``); they wait for the answer."""
    batch: list[Instruction] = []
    late = False
    while queue and len(batch) < WRITE_BATCH:
        item = queue[0]
        if late and is_message(item):
            break
        late = late or (isinstance(item, Claim) and item.late)
        batch.append(queue.popleft())
    return batch


def fenced_end(answers: list[Any]) -> bool:
    """True if some of ``answers`` say the lease did not hold (``LEASE_LOST``) and none after
    the first of those says something was written: sent again, the instructions they answer
    stay in order with the rest."""
    for index, answer in enumerate(answers):
        if answer == LEASE_LOST:
            rest = answers[index:]
            return all(late == LEASE_LOST or isinstance(late, Exception) for late in rest)
    return False


def drop_messages(
    queue: deque[Instruction], senders: Container[Session]
) -> tuple[deque[Instruction], list[Publish | Whisper]]:
    """``queue`` without the messages of ``senders``, and those messages, in order."""
    kept: deque[Instruction] = deque()
    dropped: list[Publish | Whisper] = []
    for item in queue:
        if isinstance(item, (Publish, Whisper)) and item.sender in senders:
            dropped.append(item)
        else:
            kept.append(item)
    return kept, dropped


class Answers:
    """What the link (``link.ClusterLink``, which supplies the rest) does with Redis's answers
    to a pipeline, with what was queued or in flight when the link broke, and with the private
    messages a node never handled."""

    bus: Bus
    hub: Hub
    route: Callable[[Out], None]
    _queue: deque[Instruction]
    _link: int
    _rejoin_wanted: bool

    def _lost(self, exc: BaseException, link: int) -> None:
        raise NotImplementedError  # ClusterLink._lost

    def _answered(
        self, batch: list[Instruction], answers: list[Any], link: int, boot: str, retry: bool
    ) -> bool:
        """Redis's ``answers`` to ``batch``, sent on link ``link`` under boot id ``boot``: a
        refusal of a batch an earlier link or run sent is no reason to join again.

        True if Redis fenced the batch's end (``retry`` allowing): this node's lease had run out
        in Redis, most likely in a stall of Redis that held its renewal too (docs/CLUSTER.md,
        Fencing). Nothing of that end was written, and nothing after it: it is queued again,
        in order, and the writer renews the lease before sending it again, or joins the
        cluster again if the others reaped this node meanwhile."""
        now = time.time()
        out: Out = []
        again: list[Instruction] = []
        why = ""  # set when this node must join the cluster again
        lost: set[Session] = set()  # users whose names turned out to be someone else's
        current = link == self._link and boot == self.bus.boot
        retry = retry and current and fenced_end(answers)
        for item, answer in zip(batch, answers):
            if retry and answer == LEASE_LOST:
                again.append(item)
                continue
            if isinstance(answer, Exception):
                log.error("cluster: Redis refused %s: %s", type(item).__name__, answer)
                if isinstance(item, Whisper) or (isinstance(item, Publish) and item.sender):
                    out += self.hub.unsent(item, now)
                elif isinstance(item, Claim) and (not item.late or lasting(answer)):
                    if item.late:
                        lost.add(item.session)  # closed: its messages go nowhere either
                    out += self.hub.claim_failed(item, now)
                elif not isinstance(getattr(item, "entry", None), cl.Struck):  # (a strike: let go)
                    # who is where, a name freed or in use: joining again says it afresh
                    why = why or f"Redis refused a {type(item).__name__}"
            elif answer == LEASE_LOST:  # nothing was written: this node must join again
                why = why or "this node lost its lease"
                if isinstance(item, Claim) or is_bounce(item):
                    again.append(item)  # a claim or a bounce: again once this node joined again
                elif is_message(item):
                    out += self.hub.unsent(item, now)
            elif isinstance(item, Claim):
                holder = self.bus.holder_of(item, answer)
                if holder is not None and item.late and item.session.name == item.name:
                    lost.add(item.session)  # given elsewhere while this node was cut off
                out += self.hub.claimed(item, holder, now, cl.is_reserved_value(answer))
            elif isinstance(item, Whisper):
                out += self.hub.whispered(item, int(answer), now)
        self._queue.extendleft(reversed(again))
        if lost:  # their messages must not go out under a name that is another user's
            self._queue, dropped = drop_messages(self._queue, lost)
            out += [told for message in dropped for told in self.hub.unsent(message, now)]
        self.route(out)
        if why and current:
            self._rejoin_wanted = True
            self._lost(ConnectionError(why), link)
        return retry and not why

    def _in_flight_lost(self, batch: list[Instruction]) -> None:
        """The link broke with ``batch`` sent: messages in it may or may not have reached Redis,
        so their senders are told to send again (a message is never sent twice by the server);
        names, presence and bounces go again (doing them twice changes nothing: a bounce is
        written once, scripts.py BOUNCE)."""
        self._queue.extendleft(reversed(self._refuse_messages(batch)))

    def _refuse_messages(self, items: Iterable[Instruction]) -> list[Instruction]:
        """Tell the sender of each message among ``items`` that it was not sent; the others."""
        now = time.time()
        out: Out = []
        rest: list[Instruction] = []
        for item in items:
            if is_message(item):
                out += self.hub.unsent(item, now)
            else:
                rest.append(item)
        self.route(out)
        return rest

    def _undelivered(
        self, node: str, unread: Unread, now: float, reason: str = codes.SERVER_LOST
    ) -> None:
        """The private messages that reached ``node``'s inbox and that it never handled (it died:
        this node reaped it, or is its next run; or this node is leaving): their senders learn
        they were not delivered (``reason``)."""
        whispers = sum(isinstance(entry, cl.Whispered) for _, entry in unread)
        if whispers:
            log.warning(
                "cluster: %s reached node %s and %s never handled there: %s told",
                plural(whispers, "private message"),
                node,
                "was" if whispers == 1 else "were",
                "its sender is" if whispers == 1 else "their senders are",
            )
            self.route(self.hub.unhandled(node, unread, now, reason))

    def _drop_for_rejoin(self) -> None:
        """Forget what joining again does anyway (``done_by_rejoining``); a message queued is
        not sent, and its sender is told."""
        rest = self._refuse_messages(self._queue)
        self._queue = deque(item for item in rest if not done_by_rejoining(item))
