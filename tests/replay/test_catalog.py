from __future__ import annotations

from collections import defaultdict

import pytest

from streamapp.errors import ReplayError
from streamapp.replay.catalog import season_files, source_of, timeline


def test_timeline_is_in_event_time_order_across_files(data_dir):
    events = timeline(season_files(data_dir, 2021), 2021)
    times = [e.event_time for e in events]
    assert times == sorted(times)
    assert {e.feed for e in events} == {"games", "odds", "boxscores"}


def test_each_game_goes_fixture_open_close_final(data_dir):
    events = timeline([data_dir / "football-data" / "SP1_2021.csv"])
    phases = defaultdict(list)
    for e in events:
        phase = e.payload["status"] if e.feed == "games" else e.payload["event_id"].split(":")[1]
        if not phases[e.game_id] or phases[e.game_id][-1] != phase:
            phases[e.game_id].append(phase)
    assert len(phases) == 380
    assert all(p == ["scheduled", "open", "close", "final"] for p in phases.values())


def test_unknown_files_are_refused_with_the_fix(tmp_path):
    with pytest.raises(ReplayError, match="cannot tell its format"):
        source_of(tmp_path / "x.csv")
    with pytest.raises(ReplayError, match="STREAMAPP_DATA_DIR"):
        season_files(tmp_path, 2021)
