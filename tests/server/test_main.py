"""Running the server (server/main.py): the collector's tuning before listening."""

from __future__ import annotations

import gc

from tcpchat.server.main import GC_YOUNG_EVERY, tune_collector


def test_the_collector_leaves_what_exists_at_start_alone_and_runs_less_often() -> None:
    before = gc.get_threshold()
    try:
        tune_collector()
        assert gc.get_freeze_count() > 0  # modules and all made so far: not gone over again
        assert gc.get_threshold() == (GC_YOUNG_EVERY, before[1], before[2])
        assert gc.isenabled()  # cycles are still collected
    finally:
        gc.unfreeze()
        gc.set_threshold(*before)
