"""Password guessing (issue 11, finding 8): with ``--password-file``, 20 connections from one
address each try three wrong passwords, then reconnect, for the whole phase. First, what a
connection learns before the password, and whether a quit reason then reaches the log. And a
check of its own: can a password with spaces at its ends be entered at all?"""

from __future__ import annotations

import asyncio
import time

from .counting import event_rate, online_leak, password_answers
from .net import open_stream, sources
from .phase import Arena
from .targets import ONLINE_LEAK, SPACED_PASSWORD_OK, TRIES_PER_S

WORKERS = 20  # the per-address limit
# JSON mode, whose error codes tell a compared password from a try held off.
GUESSES = b"/mode json\nguess-1\nguess-2\nguess-3\n"
GREETING_TIMEOUT_S = 2.0
QUIT_MARK = "reason-before-password-7f3a"
SPACED = " open sesame "  # a password with a space at each end


async def _greeting(arena: Arena, source: str, hello: bytes, until: bytes) -> bytes:
    """What the server says to a new connection that sends ``hello``, up to the first line that
    contains ``until`` (its password prompt)."""
    reader, writer = await open_stream(arena.port, source)
    seen = b""
    try:
        writer.write(hello)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + GREETING_TIMEOUT_S
        while True:
            line = await asyncio.wait_for(reader.readline(), max(deadline - loop.time(), 0.0))
            seen += line
            if not line or until in line:
                break
    except (OSError, asyncio.TimeoutError):
        pass
    finally:
        writer.close()
    return seen


async def _before_password(arena: Arena, source: str) -> None:
    """Does the greeting tell who is online before the password? And does a quit reason then
    reach the log (a figure only: the issue names it, its targets do not)?"""
    phase = arena.phase
    text = await _greeting(arena, source, b"", b"Enter your password")
    json = await _greeting(arena, source, b"/mode json\n", b'"type":"prompt"')
    json = b"".join(line for line in json.splitlines(True) if line.startswith(b"{"))
    found = {"text": online_leak(text), "JSON": online_leak(json)}
    leaks = [f"{mode}: {leak}" for mode, leak in found.items() if leak]
    phase.note("before the password: " + ("; ".join(leaks) if leaks else "nothing about users"))
    phase.fact(ONLINE_LEAK, 1.0 if leaks else 0.0)
    reader, writer = await open_stream(arena.port, source)
    try:
        writer.write(f"/quit {QUIT_MARK}\n".encode())
        await asyncio.wait_for(reader.read(), GREETING_TIMEOUT_S)
    except (OSError, asyncio.TimeoutError):
        pass
    finally:
        writer.close()
    await asyncio.sleep(0.2)  # for the server to log the disconnect
    logged = QUIT_MARK.encode() in arena.server.log_path.read_bytes()
    phase.note(f"quit reason before the password {'reaches' if logged else 'stays out of'} the log")


async def guessing(arena: Arena) -> None:
    """WORKERS loops of connect, three wrong passwords at once, read to the end, reconnect."""
    phase = arena.phase
    source = sources(1)[0]
    await _before_password(arena, source)
    start = time.monotonic()
    tries: list[float] = []  # when each compared wrong password was answered
    held = 0

    async def one() -> None:
        nonlocal held
        while not arena.over():
            try:
                reader, writer = await open_stream(arena.port, source)
            except (OSError, asyncio.TimeoutError):
                await arena.pause(0.05)
                continue
            try:
                writer.write(GUESSES)
                left = max(arena.until - time.monotonic(), 0.01)
                answer = await asyncio.wait_for(reader.read(), left)
                compared, held_off = password_answers(answer)
                tries.extend([time.monotonic()] * compared)
                held += held_off
            except (OSError, asyncio.TimeoutError):
                pass
            finally:
                writer.close()

    await asyncio.gather(*(one() for _ in range(WORKERS)))
    rate = event_rate(tries, start, arena.until)
    phase.count("wrong passwords compared", len(tries))
    phase.count("tries held off (backoff, ban)", held)
    phase.note(f"{rate:.1f} tries/s in the second half")
    phase.fact(TRIES_PER_S, rate)


async def spaced_password(arena: Arena) -> None:
    """The server's password is SPACED: try it with /pass and as a bare line."""
    phase = arena.phase
    ways = {"/pass": f"/pass {SPACED}\n", "bare line": f"{SPACED}\n"}
    entered = []
    for way, line in ways.items():
        reader, writer = await open_stream(arena.port)
        try:
            writer.write(f"/mode json\n{line}spacey\n".encode())
            answer = await asyncio.wait_for(reader.read(1 << 16), GREETING_TIMEOUT_S)
            deadline = time.monotonic() + GREETING_TIMEOUT_S
            while b'"registered"' not in answer and b"Wrong" not in answer:
                more = await asyncio.wait_for(reader.read(1 << 16), deadline - time.monotonic())
                if not more:
                    break
                answer += more
            if b'"registered"' in answer:
                entered.append(way)
        except (OSError, asyncio.TimeoutError):
            pass
        finally:
            writer.close()
    phase.note(f"password {SPACED!r} entered with: {', '.join(entered) or 'neither'}")
    phase.fact(SPACED_PASSWORD_OK, 1.0 if entered else 0.0)
