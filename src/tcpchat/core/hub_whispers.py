"""The hub's side of a private message in a cluster (docs/CLUSTER.md): the bus's answer to a
``Whisper`` (``whispered``: it reached the recipient's node, or nobody; ``unsent``: it could not
be handed to Redis), and the word that one reached its recipient's node but not them
(``_not_delivered`` there, a ``Bounced`` entry back, ``_heard_bounced`` on the sender's node),
never told before the "Delivered" it takes back.

``ClusterHandlers`` (``hub_cluster.py``) inherits these, as ``Hub`` inherits it.
"""

from __future__ import annotations

from . import cluster as cl
from . import codes
from . import commands as cmd
from . import events as ev
from .hub_claims import ClaimHandlers
from .output import Out, Publish, Whisper, to
from .session import Session, State

# "Not delivered" notices one user's private messages still waiting for an answer can hold back.
HELD_UNDELIVERED = 64


class WhisperHandlers(ClaimHandlers):
    """Private messages in a cluster: the bus's answers, and what was not delivered."""

    sessions: dict[int, Session]

    def _said_back(self, session_id: int, line: int) -> Out:
        raise NotImplementedError  # hub_behind.BehindHandlers._said_back

    def _whisper_through(
        self, session: Session, target: Session, command: cmd.Whisper, now: float
    ) -> Out:
        """``session``'s private message to ``target``, into the inbox of the recipient's node
        (this one's too): ``whispered`` (or ``unsent``) answers."""
        cluster = self.cluster
        assert cluster is not None
        entry = cl.Whispered(
            cluster.node,
            session.id,
            session.name,
            target.name,
            command.text,
            now,
            command.notice,
            session.lines,
            cluster.run,
        )
        session.whispering += 1
        return [Whisper(target.node or cluster.node, entry, session)]

    def whispered(self, whisper: Whisper, message_id: int, now: float) -> Out:
        """The private message ``whisper`` reached its recipient's node as ``message_id``, or
        (0) its recipient is no longer online."""
        sender, entry = whisper.sender, whisper.entry
        if sender is None or not isinstance(entry, cl.Whispered):
            return []  # a Bounced: nobody waits for its answer
        sender.whispering -= 1
        if sender.state is not State.ACTIVE:
            return []
        if not message_id:
            # The line it answers is the message's, not the last the sender typed since: a
            # program (or an IRC client, core/irc_late.py) ties the refusal to what it sent.
            text = f"No such user: {entry.to}. Type /users to see who is online."
            refused = to(sender, ev.Error(now, codes.NO_SUCH_USER, text, entry.line))
            return [refused, *self._release(sender, 0)]
        delivered = ev.Delivered(  # dated as the recipient has it
            entry.time, message_id, entry.to, False, entry.text, 1, entry.line, None, entry.notice
        )
        return [to(sender, delivered), *self._release(sender, message_id)]

    def unsent(self, item: Publish | Whisper, now: float) -> Out:
        """A message (``item``) could not be handed to the cluster (the link broke with it in
        flight, or too much was waiting): it may not have reached anyone."""
        sender = item.sender
        if sender is None:
            return []
        out: Out = []
        if isinstance(item, Whisper):
            sender.whispering -= 1
        elif isinstance(item.entry, cl.Said):
            out = self._said_back(sender.id, item.entry.line)  # never back: its leave may go
        if sender.state is not State.ACTIVE:
            return out
        text = "Not sent: the link to the other servers is down or overloaded. Send it again."
        entry = item.entry  # the line that sent it, as ``whispered`` says
        if isinstance(entry, (cl.Whispered, cl.Said)):
            line = entry.line
        else:
            line = item.line if isinstance(item, Publish) else 0
        refused = to(sender, ev.Error(now, codes.RATE_LIMITED, text, line))
        return [refused, *self._release(sender, 0), *out]

    def _tell_undelivered(self, sender: Session, event: ev.Undelivered) -> Out:
        """``event`` to ``sender``, after the "Delivered" it takes back: held while a private
        message of theirs waits for the cluster's answer (which comes by another connection
        to Redis than the news that it was dropped, and may come later)."""
        if sender.whispering > 0 and len(sender.held) < HELD_UNDELIVERED:
            sender.held += (event,)
            return []
        return [to(sender, event)]

    def _release(self, sender: Session, message_id: int) -> Out:
        """The notices held for ``sender`` that may go now: the one about ``message_id`` (just
        confirmed), or all of them once no private message of theirs waits for an answer."""
        held = sender.held
        if not held:
            return []
        if sender.whispering <= 0:
            sender.held = ()
            return [to(sender, event) for event in held]
        sender.held = tuple(event for event in held if event.id != message_id)
        return [to(sender, event) for event in held if event.id == message_id]

    def unhandled(
        self,
        node: str,
        unread: list[tuple[int, cl.Entry]],
        now: float,
        reason: str = codes.SERVER_LOST,
    ) -> Out:
        """The entries of ``node``'s inbox that it never handled (it died: its reap, by another
        node or by its own next run, took them; or it is this node, leaving): the senders of the
        private messages among them, told these reached ``node``, learn they did not reach their
        recipients (``reason``)."""
        cluster = self.cluster
        if cluster is None:
            return []
        out: Out = []
        for message_id, entry in unread:
            # (A Bounced was a word to one of ``node``'s users, as was a message one of them
            # sent another: gone with their node.)
            if isinstance(entry, cl.Whispered) and entry.node != node:
                out += self._not_delivered(entry, message_id, entry.to, reason, now, node)
        return out

    def _not_delivered(
        self,
        whisper: cl.Whispered,
        message_id: int,
        name: str,
        reason: str,
        now: float,
        node: str = "",
    ) -> Out:
        """``whisper``'s sender, told it reached the node of its recipient ``name`` (this one,
        or ``node``), learns it did not reach them (``reason``): at once if here, else through
        the inbox of its node (not while cut off from it)."""
        cluster = self.cluster
        assert cluster is not None
        if whisper.node == cluster.node:
            sender = self._whisperer(whisper.session, whisper.run, whisper.sender)
            if sender is None:
                return []
            return self._tell_undelivered(sender, ev.Undelivered(now, message_id, name, reason))
        if not cluster.linked:
            return []
        entry = cl.Bounced(
            node or cluster.node,
            whisper.session,
            whisper.sender,
            name,
            message_id,
            reason,
            now,
            whisper.run,
        )
        return [Whisper(whisper.node, entry, None)]

    def _heard_bounced(self, entry: cl.Bounced, now: float) -> Out:
        """A private message of a user here did not reach its recipient on another node."""
        sender = self._whisperer(entry.session, entry.run, entry.to)
        if sender is None:
            return []
        event = ev.Undelivered(now, entry.message, entry.recipient, entry.reason)
        return self._tell_undelivered(sender, event)

    def _whisperer(self, session_id: int, run: str, name: str) -> Session | None:
        """The user of this node who sent a private message, if still here: session
        ``session_id`` of this run of the node (``run``), whatever their name is now; for an
        entry without a run (an older node's), only if still called ``name`` (a session of an
        earlier run of this node has the same id)."""
        cluster = self.cluster
        assert cluster is not None
        sender = self.sessions.get(session_id)
        if sender is None or sender.state is not State.ACTIVE:
            return None
        if run != cluster.run if run else sender.name != name:
            return None
        return sender
