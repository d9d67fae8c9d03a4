"""tcp-chat: a console chat over TCP (asyncio server, terminal client, standard library only)."""

# Every entry point (tcp-server, tcp-client, python -m tcpchat) imports this package first, so
# an older Python stops here with one line instead of a SyntaxError traceback from a module
# that uses 3.9 syntax. This file must therefore stay parseable by old Pythons (2.7, 3.6): no
# annotations, no f-strings, no `from __future__ import annotations` (hence the noqa marks).
import sys

if sys.version_info < (3, 9):  # noqa: UP036
    version = "%d.%d" % tuple(sys.version_info[:2])  # noqa: UP031
    sys.stderr.write("tcp-chat needs Python 3.9 or newer (this is Python " + version + ")\n")
    raise SystemExit(1)

__version__ = "2.0.0"
