"""What a worker reports about itself (streamapp.operations)."""

from __future__ import annotations

import asyncio
import logging
import time

import pytest

from streamapp.app import create_app
from streamapp.metrics import Metrics
from streamapp.operations import time_event_loop_lag
from streamapp.settings import Settings

LAG = "streamapp_event_loop_lag_seconds"


async def test_a_step_holding_the_event_loop_shows_as_its_lag_and_is_logged_near_timeout(caplog):
    metrics = Metrics()
    timing = asyncio.create_task(time_event_loop_lag(metrics, session_timeout=0.4, every=0.01))
    try:
        await asyncio.sleep(0.1)  # an idle loop: each wake-up comes about on time
        time.sleep(0.3)  # one step holds the loop over half the session timeout
        await asyncio.sleep(0.05)
    finally:
        timing.cancel()
        with pytest.raises(asyncio.CancelledError):
            await timing
    looks = metrics.registry.get_sample_value(f"{LAG}_count")
    under_the_step = metrics.registry.get_sample_value(f"{LAG}_bucket", {"le": "0.25"})
    assert looks >= 5
    assert under_the_step == looks - 1  # the wake-up due in the step came as late as it
    assert metrics.registry.get_sample_value(f"{LAG}_sum") >= 0.29
    [warning] = [r for r in caplog.records if r.name == "streamapp.operations"]
    assert warning.levelno == logging.WARNING
    assert warning.args[0] >= 0.29
    assert "STREAMAPP_SESSION_TIMEOUT (0.4 s)" in warning.getMessage()


def test_the_app_times_its_event_loop_from_its_start_not_once_its_tables_are_rebuilt(tmp_path):
    # faust starts an ``app.task`` once the tables are rebuilt, mode a service's class
    # tasks with the service
    app = create_app(Settings(store="memory://", sink_enabled=False, state_dir=tmp_path))
    assert "_time_event_loop_lag" in [task.fun.__name__ for task in app._get_tasks()]
