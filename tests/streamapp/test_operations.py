"""What a worker reports about itself (streamapp.operations)."""

from __future__ import annotations

import asyncio
import logging
import time

from streamapp.metrics import Metrics
from streamapp.operations import watch_event_loop

LAG = "streamapp_event_loop_lag_seconds"


async def test_a_step_holding_the_event_loop_shows_as_its_lag_and_is_logged_near_timeout(caplog):
    metrics = Metrics()
    watching = asyncio.create_task(watch_event_loop(metrics, session_timeout=0.4, every=0.01))
    try:
        await asyncio.sleep(0.1)  # an idle loop: each look wakes about on time
        time.sleep(0.3)  # one step holds the loop over half the session timeout
        await asyncio.sleep(0.05)
    finally:
        watching.cancel()
    looks = metrics.registry.get_sample_value(f"{LAG}_count")
    on_time = metrics.registry.get_sample_value(f"{LAG}_bucket", {"le": "0.1"})
    assert looks >= 5
    assert on_time == looks - 1  # the held step's look alone, as late as the step was long
    assert metrics.registry.get_sample_value(f"{LAG}_sum") >= 0.29
    [warning] = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert "held the event loop for 0.3 s" in warning.getMessage()
    assert "STREAMAPP_SESSION_TIMEOUT" in warning.getMessage()
