"""Pipe mode: each stdin line sent, each event printed, an exit status that says how it went.

``run_pipe`` joins under ``--name``, sends every line of stdin (paced to the server's flood
limits, ``/r`` and ``/quit`` understood as in the terminal), prints each event as the text-mode
line (or the server's JSON with ``--json``), and at the end of input waits (at most ``--wait``
seconds after the last line is sent) until every message it sent is answered, then quits. A line
is answered when the server names it in a ``delivered`` or an ``error`` (``ClientCore`` ties them
by line number). The quit (the ``/quit`` paced, sent, and the server's goodbye awaited) gets what
is left of ``--wait``, and at least ``QUIT_GRACE_S`` (1 s), so a server that stops answering
holds the end of a run to ``--wait`` plus that second at most (and the close: at once on a plain
connection, up to ``CLOSE_WAIT_S`` for a TLS one's close_notify).

If stdout's reader goes away (``tcp-client --name bot | head -1``), the client prints nothing
more but goes on as if it had no output: it sends the rest of stdin (to its end or a ``/quit``
line, as ever), reads the answers, quits as above once they are in, and its exit status still
says whether what it sent was delivered. A broken pipe is not said anywhere and changes no
status (the run did what it was asked, which is to send); any other error writing stdout is
said once on stderr, and printing stops too.

The exit status tells a script how it went (as ``curl --fail`` does for HTTP errors): 0 the
input was sent to its end (or to a ``/quit`` line) and every line sent was delivered or, for a
command, answered without an error; 1 no connection, the name was refused, or the connection
ended (the server shutting down too) before all of the input was sent; 2 bad usage (no
``--name``); 3 some line was refused (an ``error`` from the server, or too long to send), or a
message was not delivered or not confirmed in time. Each failure is one line on stderr.
"""

from __future__ import annotations

import asyncio
import os
import sys
import threading
from typing import IO

from ..core import events as ev
from ..core.sentences import plural
from ..core.wire import render_text
from .config import ClientConfig
from .core import ClientCore, Leave, Refuse, Seen, Send
from .link import NameRefused, Pacer, ServerLink, join, read_password

EXIT_OK = 0
EXIT_FAILURE = 1
EXIT_USAGE = 2
EXIT_REFUSED = 3

PROG = "tcp-client"

# How long the quit may take once --wait has run out (or when less than this is left of it): a
# server that did not answer the messages within --wait will hardly answer the /quit, and a
# script's --wait is the time it agreed to wait; one second still covers the /quit's pacing at
# the default flood limits (a line every 0.5 s) and a goodbye from across the world.
QUIT_GRACE_S = 1.0


async def run_pipe(config: ClientConfig, stdin: IO[str], stdout: IO[str]) -> int:
    """Run pipe mode from ``stdin`` to ``stdout``; returns the exit status (see above).
    ConnectError (no connection, no answer) reaches the caller, which prints it: exit 1."""
    if not config.name:
        print(
            f"{PROG}: --name is needed in pipe mode (stdin or stdout is not a terminal, or --json)",
            file=sys.stderr,
        )
        return EXIT_USAGE
    link = await ServerLink.open(config)
    core = ClientCore(config.name)
    try:
        try:
            registered = await join(link, config.name, read_password(config))
        except NameRefused as exc:
            print(f"{PROG}: {exc.event.text}", file=sys.stderr)
            return EXIT_FAILURE
        out = _Printer(stdout, config.json)
        out.show(core.joined(registered, link.welcome), link.raw)
        pipe = _Pipe(link, core, out)
        await pipe.run(stdin, config.wait)
    finally:
        await link.close()
    return _outcome(core, pipe)


def _outcome(core: ClientCore, pipe: _Pipe) -> int:
    """The exit status, with one line on stderr saying what went wrong."""
    unconfirmed = len(core.disconnected())
    left = pipe.left()
    failures = [left] if left else []
    if core.refused:
        failures.append(f"{plural(core.refused, 'line')} refused")
    if core.undelivered:
        failures.append(f"{plural(core.undelivered, 'message')} not delivered")
    if unconfirmed:
        failures.append(f"{plural(unconfirmed, 'message')} not confirmed")
    if left:
        # The connection went before the input ended: a script must learn that some of its
        # input never reached the server, even when the server said it was stopping.
        why = "the server is shutting down" if core.shutdown_seen else "the connection was lost"
        print(f"{PROG}: {why}: {', '.join(failures)}", file=sys.stderr)
        return EXIT_FAILURE
    if failures:
        print(f"{PROG}: {', '.join(failures)}", file=sys.stderr)
    return EXIT_REFUSED if failures else EXIT_OK


class _Pipe:
    """One pipe-mode session on a joined link: reads events while it sends the input."""

    def __init__(self, link: ServerLink, core: ClientCore, out: _Printer) -> None:
        self.link = link
        self.core = core
        self.out = out
        self.pacer = Pacer.for_link(link)
        self.answered = asyncio.Event()  # no message awaits its answer
        self.answered.set()
        self.closed = asyncio.Event()  # the connection is gone, or the server said goodbye
        self.finished = False  # the input was all taken: its end, or a /quit line, was reached
        self.stdin_ended = False  # stdin was read to its end
        self.unsent = 0  # lines read from stdin and never sent: the connection went first
        self.quit_line = 0  # the number of our closing /quit on the connection, once sent

    def left(self) -> str:
        """What of the input was not sent, in words ("" if it all was, or was not wanted)."""
        if self.finished:
            return ""
        if not self.unsent:
            return "the rest of the input not sent"
        rest = "" if self.stdin_ended else ", nor the rest of the input"
        return f"{plural(self.unsent, 'line')} not sent{rest}"

    async def run(self, stdin: IO[str], wait: float) -> None:
        """Send the input, wait up to ``wait`` seconds for the answers, quit (in what is left of
        ``wait``, at least ``QUIT_GRACE_S``). If the connection goes first, ``left`` says what
        of the input was not sent."""
        reader = asyncio.ensure_future(self._read_events())
        lines: asyncio.Queue[str | None] = asyncio.Queue()
        loop = asyncio.get_running_loop()
        threading.Thread(target=_stdin_lines, args=(stdin, loop, lines), daemon=True).start()
        try:
            quit_line = await self._send_input(lines)
            if quit_line is None:
                self._count_left(lines)
            elif not self.closed.is_set():
                wait_ends = loop.time() + wait
                await _until(wait, self.answered, self.closed)
                grace = max(wait_ends - loop.time(), QUIT_GRACE_S)
                try:
                    await asyncio.wait_for(self._quit(quit_line), grace)
                except asyncio.TimeoutError:
                    pass  # no goodbye in time: the connection is closed all the same
        finally:
            reader.cancel()
            await asyncio.gather(reader, return_exceptions=True)

    async def _read_events(self) -> None:
        while True:
            event = await self.link.receive()
            if event is None:
                break
            if isinstance(event, ev.Error) and self.quit_line and event.line == self.quit_line:
                # Our own /quit was refused (the server's limits are not what it said): shown,
                # but none of the user's lines; no goodbye will come, so the run ends here.
                self.out.show(Seen(event), self.link.raw)
                break
            self.out.show(self.core.receive(event), self.link.raw)
            if not self.core.pending:
                self.answered.set()
            if isinstance(event, (ev.Bye, ev.Shutdown)):
                break
        self.closed.set()

    async def _send_input(self, lines: asyncio.Queue[str | None]) -> str | None:
        """Send each input line until the input ends, a ``/quit`` or the connection closes;
        returns the ``/quit`` line to end with, None if the connection went first."""
        while True:
            line = await self._next_line(lines)
            if self.stdin_ended:
                self.finished = True
                return "/quit"
            if line is None:
                return None
            todo = self.core.typed(line)
            if isinstance(todo, Leave):
                self.finished = True
                return todo.line
            if isinstance(todo, Refuse):
                print(f"{PROG}: {todo.reason}", file=sys.stderr)
            if not isinstance(todo, Send):
                continue  # a blank line, or help (only asked for before joining)
            await self.pacer.wait(todo.text)
            if self.closed.is_set():
                self.unsent += 1
                return None
            self.core.sent(self.link.send(todo.text), todo.text)
            if self.core.pending:
                self.answered.clear()
            try:
                await self.link.drain()
            except OSError:
                return None  # the reader sees the connection end

    async def _next_line(self, lines: asyncio.Queue[str | None]) -> str | None:
        """The next input line; None at the end of input (``stdin_ended`` is set) or as soon as
        the connection is gone (a quiet input must not keep a dead session waiting)."""
        getter = asyncio.ensure_future(lines.get())
        closed = asyncio.ensure_future(self.closed.wait())
        await asyncio.wait({getter, closed}, return_when=asyncio.FIRST_COMPLETED)
        closed.cancel()
        if not getter.done():
            getter.cancel()
            return None
        line = getter.result()
        if line is None:
            self.stdin_ended = True
        elif self.closed.is_set():
            self.unsent += 1
            return None
        return line

    def _count_left(self, lines: asyncio.Queue[str | None]) -> None:
        """The connection is gone: count the lines stdin gave that wait unsent."""
        while not lines.empty():
            line = lines.get_nowait()
            if line is None:
                self.stdin_ended = True
            else:
                self.unsent += 1

    async def _quit(self, line: str) -> None:
        """Say goodbye with ``line`` (paced as any line: a refused /quit is no quit) and wait
        for the server's goodbye; the caller bounds how long."""
        await self.pacer.wait(line)
        if self.closed.is_set():
            return
        self.quit_line = self.link.send(line)
        try:
            await self.link.drain()
        except OSError:
            return
        await self.closed.wait()


def _stdin_lines(
    stream: IO[str], loop: asyncio.AbstractEventLoop, queue: asyncio.Queue[str | None]
) -> None:
    """Read ``stream`` in a thread (works for pipes and regular files alike)."""
    try:
        for line in stream:
            loop.call_soon_threadsafe(queue.put_nowait, line.rstrip("\r\n"))
    except (OSError, ValueError, UnicodeDecodeError):
        pass
    finally:
        loop.call_soon_threadsafe(queue.put_nowait, None)


async def _until(seconds: float, *events: asyncio.Event) -> None:
    """Wait until one of ``events`` is set, for ``seconds`` at most."""
    waits = {asyncio.ensure_future(event.wait()) for event in events}
    _, pending = await asyncio.wait(waits, timeout=seconds, return_when=asyncio.FIRST_COMPLETED)
    for waiting in pending:
        waiting.cancel()


class _Printer:
    """Writes each event to stdout: the text-mode line, or the server's JSON line as it came.

    Once stdout cannot be written (its reader went away, as ``head -1`` does), nothing more is:
    the run goes on without output (see the module's docstring)."""

    def __init__(self, stream: IO[str], raw: bool) -> None:
        self.stream = stream
        self.raw = raw
        self.gone = False  # stdout could not be written: nothing more is

    def show(self, seen: Seen, raw: bytes) -> None:
        """JSON: every event as it came (a program judges replays itself). Text: what
        ``seen.events`` says to show; a message of a room you do not talk in says its room
        first, as the server's text mode does (``[#ops] <bob> hi``)."""
        if self.gone:
            return
        try:
            if self.raw:
                self.stream.write(raw.decode("utf-8", "replace"))
            else:
                for event in seen.events():
                    elsewhere = event is seen.event and seen.elsewhere is not None
                    self.stream.write(render_text(event, elsewhere) + "\n")
            self.stream.flush()
        except OSError as exc:
            self._lost(exc)

    def _lost(self, exc: OSError) -> None:
        """Stop writing. A reader that went away (a broken pipe) is no failure and is not said;
        any other error is said once on stderr. What is still buffered goes to the null device
        (as the Python docs advise for SIGPIPE), so Python's flush of stdout at exit has
        nothing to fail on."""
        self.gone = True
        if not isinstance(exc, BrokenPipeError):
            why = exc.strerror or exc
            print(f"{PROG}: cannot write to stdout ({why}): printing stopped", file=sys.stderr)
        try:
            null = os.open(os.devnull, os.O_WRONLY)
            try:
                os.dup2(null, self.stream.fileno())
            finally:
                os.close(null)
            self.stream.flush()
        except (OSError, ValueError):
            pass  # no file descriptor (a StringIO), or no null device: nothing to do
