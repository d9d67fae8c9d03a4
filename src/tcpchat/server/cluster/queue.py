"""The link's queue of the hub's cluster instructions (``link.py``): what goes to Redis in one
pipeline, which of them joining the cluster again does itself, and what is dropped when a name
given while this node was cut off turns out to be someone else's."""

from __future__ import annotations

from collections import deque
from collections.abc import Container

from ...core.output import Claim, Instruction, Publish, Release, Whisper
from ...core.session import Session

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


def is_message(item: Instruction) -> bool:
    """A user's room message, topic or private message (not presence, not a name)."""
    return isinstance(item, (Publish, Whisper)) and item.sender is not None


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
