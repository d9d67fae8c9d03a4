"""tcp-chat: a console chat over TCP (asyncio server, terminal client, standard library only)."""

__version__ = "2.0.0"
