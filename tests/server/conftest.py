"""Fixtures of the server's unit tests."""

from __future__ import annotations

import logging
from collections.abc import Iterator

import pytest

from tcpchat.server.logs import LOGGER_NAME


@pytest.fixture
def tcpchat_logger() -> Iterator[logging.Logger]:
    """The ``tcpchat`` logger, put back as it was after the test configured it."""
    logger = logging.getLogger(LOGGER_NAME)
    saved = (logger.handlers[:], logger.filters[:], logger.propagate, logger.level)
    yield logger
    for handler in logger.handlers:
        if handler not in saved[0]:
            handler.close()
    logger.handlers, logger.filters, logger.propagate = saved[:3]
    logger.setLevel(saved[3])
