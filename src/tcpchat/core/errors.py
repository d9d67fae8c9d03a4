"""The exceptions of tcp-chat. A user typing something wrong is never one of these."""

from __future__ import annotations


class ChatError(Exception):
    """Root of tcp-chat's own exceptions: the message is one line for the operator."""


class ConfigError(ChatError):
    """A flag, variable or config file has a value the program cannot use."""


class ConnectError(ChatError):
    """The client could not reach or talk to the server."""
