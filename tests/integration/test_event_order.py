"""A replay's order does not depend on when each feed reaches the broker.

After both feeds have flowed, the games of E0's next weeks (28 finals) are written first,
and their prices only seconds later: far longer than the quiet time that makes an input
idle. Live, an idle games feed lets a fresh quote through at once; a replayed event must
wait for the other feed's own progress (its events, or the replay's closing watermark),
or finals would be applied before the prices that came before them. Loaded CI runs lost
that order (the PostgreSQL-outage and season-slice tests, 2026-12-05).
"""

from __future__ import annotations

import asyncio

import pytest

from streamapp.replay.catalog import timeline
from streamapp.replay.producer import replay
from streamapp.summary import wait_until_drained
from tests.integration.conftest import send_without_watermarks
from tests.integration.oracle import assert_outputs_equal_offline, offline_state
from tests.integration.test_live import wait_until_ready

pytestmark = pytest.mark.integration
EVENTS = 2_400  # E0's first weeks: 2020/21's first ~50 games, their prices and finals
BEHIND_SECONDS = 5


def test_a_feed_sent_seconds_behind_the_other_keeps_the_offline_order(
    live_settings, worker, data_dir
):
    settings = live_settings
    events = timeline([data_dir / "football-data" / "E0_2021.csv"], season_end=2021)
    last_price = max(i for i, e in enumerate(events[:EVENTS]) if e.feed == "odds")
    events = events[: last_price + 1]  # ends with a price: the odds replay's watermark ends it
    # Both feeds flow first (so each input has been read to its end before), then the games
    # of the rest run ahead.
    start, rest = events[: len(events) // 3], events[len(events) // 3 :]
    games = [e for e in rest if e.feed == "games"]
    odds = [e for e in rest if e.feed == "odds"]
    expected = offline_state(events)
    finals = sum(e.payload.get("status") == "final" for e in games)
    wait_until_ready(settings, worker)  # reading as the feeds come, not after both are in

    async def scenario():
        await send_without_watermarks(settings, start)
        await asyncio.sleep(BEHIND_SECONDS)
        await send_without_watermarks(settings, games)
        await asyncio.sleep(BEHIND_SECONDS)  # every input is read to its end and quiet
        await replay(settings, odds, progress=False)
        await wait_until_drained(settings, timeout=180)

    asyncio.run(scenario())
    print(f"{len(start)} events, then {len(games)} game events with {finals} finals, then "
          f"{len(odds)} prices")  # fmt: skip
    assert finals > 10, "the slice holds too few results to show the order"
    diffs = assert_outputs_equal_offline(settings, expected)
    assert diffs["settlements"].offline > 0
