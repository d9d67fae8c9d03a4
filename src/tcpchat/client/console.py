"""The console as the system gives it, for the plain mode: lines typed, and what the screen takes.

``LineReader`` reads whole lines typed on the terminal in a thread of its own, one each time it is
asked, and hands them to the event loop: the line input is the system's (the tty's erase and
kill keys, the Windows console's arrows and history), and no event loop has to watch the
console, which the Windows one cannot. A line asked for as secret (a password) is read without
echo where the system allows it. ``ansi_console`` says whether the screen takes ANSI sequences,
turning them on in a Windows console first.

Nothing POSIX-only or Windows-only is imported at import time: ``termios`` (hiding a password on
POSIX), ``getpass`` (on Windows) and ``ctypes`` (the console mode) are imported where used, behind
a check of the platform, so that this module loads everywhere.
"""

from __future__ import annotations

import asyncio
import codecs
import queue
import sys
import threading
from collections.abc import Mapping
from typing import Any, Callable, Protocol, TextIO

# Bytes asked of the terminal in one read: a read returns one line at most in a tty's canonical
# mode and from a Windows console, so this only bounds a pasted or very long line's pieces.
READ_BYTES = 4096


class _RawInput(Protocol):
    """Unbuffered console input: ``sys.stdin.buffer.raw`` (a FileIO on POSIX, the console's own
    reader on Windows, which returns what is typed as UTF-8)."""

    def read(self, size: int = -1, /) -> bytes | None: ...
    def fileno(self) -> int: ...


def _nothing() -> None:
    return None


def ansi_console(stream: TextIO, environ: Mapping[str, str]) -> tuple[bool, Callable[[], None]]:
    """Whether ``stream`` is a terminal that takes ANSI sequences (colours, erasing a row), and
    the function that puts the console back as it was, for the caller to call at the end.

    On Windows a console takes them (Windows 10 and later) once virtual terminal processing is
    on: it is turned on here, and turned off again by the returned function. Elsewhere ``TERM``
    decides: not set, or ``dumb``, means no."""
    try:
        if not stream.isatty():
            return False, _nothing
    except (AttributeError, ValueError):
        return False, _nothing
    if environ.get("TERM") == "dumb":
        return False, _nothing
    if sys.platform == "win32":
        return _windows_virtual_terminal()
    return bool(environ.get("TERM")), _nothing


# SetConsoleMode's flag for ANSI sequences, and the handle of the console's output.
ENABLE_VIRTUAL_TERMINAL_PROCESSING = 0x0004
STD_OUTPUT_HANDLE = -11


def _windows_virtual_terminal() -> tuple[bool, Callable[[], None]]:
    """Turn on ANSI sequences in the Windows console of stdout; whether that worked (not before
    Windows 10, nor when stdout is not a console), and how to turn them off again."""
    if sys.platform != "win32":  # the check mypy and the other platforms understand
        return False, _nothing
    import ctypes
    from ctypes import wintypes

    kernel32 = ctypes.WinDLL("kernel32", use_last_error=True)
    kernel32.GetStdHandle.argtypes = (wintypes.DWORD,)
    kernel32.GetStdHandle.restype = wintypes.HANDLE
    kernel32.GetConsoleMode.argtypes = (wintypes.HANDLE, ctypes.POINTER(wintypes.DWORD))
    kernel32.GetConsoleMode.restype = wintypes.BOOL
    kernel32.SetConsoleMode.argtypes = (wintypes.HANDLE, wintypes.DWORD)
    kernel32.SetConsoleMode.restype = wintypes.BOOL
    handle = kernel32.GetStdHandle(STD_OUTPUT_HANDLE)
    mode = wintypes.DWORD()
    if not handle or not kernel32.GetConsoleMode(handle, ctypes.byref(mode)):
        return False, _nothing
    before = mode.value
    if before & ENABLE_VIRTUAL_TERMINAL_PROCESSING:
        return True, _nothing
    if not kernel32.SetConsoleMode(handle, before | ENABLE_VIRTUAL_TERMINAL_PROCESSING):
        return False, _nothing

    def restore() -> None:
        kernel32.SetConsoleMode(handle, before)

    return True, restore


class LineReader:
    """Reads lines from the console in a daemon thread, one per ``request``.

    Each line read goes to ``on_line`` in the event loop, without its line end; the end of
    input (Ctrl+D, or Ctrl+Z then Enter on Windows) calls ``on_end``, and Ctrl+C typed while a
    password is read on Windows (where the console hands it to the reader) calls
    ``on_interrupt``; after either the thread is done. Lines are read only when asked for, so
    what is typed before waits in the system's buffer, and a password is never read as an
    ordinary line. ``close`` ends the thread if it is waiting and gives the terminal its echo
    back if a password was being read.
    """

    def __init__(
        self,
        on_line: Callable[[str], None],
        on_end: Callable[[], None],
        on_interrupt: Callable[[], None],
        stream: TextIO | None = None,
    ) -> None:
        stream = sys.stdin if stream is None else stream
        buffer = stream.buffer
        self._raw: _RawInput = getattr(buffer, "raw", buffer)
        # A Windows console gives UTF-8 whatever the code page; elsewhere, the locale's encoding.
        encoding = "utf-8" if sys.platform == "win32" else getattr(stream, "encoding", None)
        self._decoder = codecs.getincrementaldecoder(encoding or "utf-8")(errors="replace")
        self._text = ""  # read, decoded, not yet handed over: the start of the next line
        self._on_line = on_line
        self._on_end = on_end
        self._on_interrupt = on_interrupt
        self._asks: queue.SimpleQueue[bool | None] = queue.SimpleQueue()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._echo_lock = threading.Lock()
        self._echo_saved: tuple[int, Any] | None = None  # (fd, settings) while echo is off

    def start(self) -> None:
        """Start the thread; call from the event loop that gets the lines."""
        self._loop = asyncio.get_running_loop()
        threading.Thread(target=self._run, name="tcp-chat console", daemon=True).start()

    def request(self, secret: bool = False) -> None:
        """Read the next line (``secret``: without echo, where the system can hide it)."""
        self._asks.put(secret)

    @property
    def can_hide(self) -> bool:
        """Whether a secret line is read without being shown as typed."""
        if sys.platform == "win32":
            return True
        try:
            import termios
        except ImportError:
            return False
        try:
            termios.tcgetattr(self._raw.fileno())
        except (termios.error, OSError, ValueError):
            return False
        return True

    def close(self) -> None:
        """Stop reading; the terminal echoes again. A read under way is left to end with the
        program (the thread is a daemon)."""
        self._asks.put(None)
        self._echo_on()

    # --- the thread ---------------------------------------------------------------------

    def _run(self) -> None:
        while True:
            secret = self._asks.get()
            if secret is None:
                return
            try:
                line = self._read_secret() if secret else self._read_line()
            except KeyboardInterrupt:
                self._post(self._on_interrupt)
                return
            except (OSError, ValueError):
                line = None
            if line is None:
                self._post(self._on_end)
                return
            self._post(self._on_line, line)

    def _post(self, callback: Callable[..., None], *args: str) -> None:
        if self._loop is None:
            return
        try:
            self._loop.call_soon_threadsafe(callback, *args)
        except RuntimeError:  # the loop is closed: the program is ending
            pass

    def _read_line(self) -> str | None:
        """The next line, or None at the end of input (where a line begun is dropped, as a
        Ctrl+D that leaves drops it)."""
        while "\n" not in self._text:
            data = self._raw.read(READ_BYTES)
            if not data:
                self._text = ""
                return None
            self._text += self._decoder.decode(data)
        line, self._text = self._text.split("\n", 1)
        return line.rstrip("\r")

    def _read_secret(self) -> str | None:
        if sys.platform == "win32":
            import getpass

            return getpass.getpass("")  # the console's own: no echo, Ctrl+C raises
        try:
            import termios
        except ImportError:
            return self._read_line()  # it will show: the plain mode said so
        fd = self._raw.fileno()
        try:
            saved = termios.tcgetattr(fd)
        except (termios.error, OSError):
            return self._read_line()
        hidden = list(saved)
        # No echo, except the line end, so the cursor goes on to the next row as usual.
        hidden[3] = (hidden[3] & ~termios.ECHO) | termios.ECHONL
        with self._echo_lock:
            self._echo_saved = (fd, saved)
        try:
            # As getpass does: what was typed before the question is not taken for the answer.
            termios.tcsetattr(fd, termios.TCSAFLUSH, hidden)
            return self._read_line()
        finally:
            self._echo_on()

    def _echo_on(self) -> None:
        """Put back the settings a secret read changed, if it did (from either thread)."""
        with self._echo_lock:
            saved, self._echo_saved = self._echo_saved, None
        if saved is None:
            return
        import termios  # there: a secret read took the settings with it

        try:
            termios.tcsetattr(saved[0], termios.TCSADRAIN, saved[1])
        except (termios.error, OSError):
            pass
