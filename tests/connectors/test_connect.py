"""The pieces of `streamapp connect` that decide what is polled: which game summaries are
followed, and which NBA injury report files are looked for."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from streamapp.connectors.connect import injury_report_name, recent_injury_report_slots
from streamapp.connectors.espn import summaries_to_follow
from tests.connectors.conftest import capture

NHL_BOARD = "espn/scoreboard_hockey_nhl_2022-09-25_live-final-ot-scheduled.json"


def test_summaries_are_followed_for_games_in_progress_finished_or_about_to_start():
    # at 23:30 UTC: three finished, five in progress, VAN @ CGY at 00:00, VGK @ COL at 01:00
    now = datetime(2022, 9, 25, 23, 30, tzinfo=UTC)
    followed = summaries_to_follow(capture(NHL_BOARD), now, lead_seconds=3600)
    assert "401461557" in followed  # VAN @ CGY, in 30 minutes
    assert "401461560" not in followed  # VGK @ COL, in 90 minutes: lineups not out yet
    assert {"401461562", "401461456", "401461563"} <= set(followed)  # finished, in progress
    assert len(followed) == 9
    # two days later, what is over is no longer followed
    later = summaries_to_follow(capture(NHL_BOARD), now + timedelta(days=2), lead_seconds=3600)
    assert sorted(later) == sorted(
        ["401461456", "401461455", "401461457", "401461556", "401461563"]
    )


def test_injury_report_files_are_named_in_us_eastern_time():
    # 23:30 UTC in February is 6:30 PM in New York (the real file of that day)
    assert (
        injury_report_name(datetime(2026, 2, 8, 23, 30, tzinfo=UTC))
        == "Injury-Report_2026-02-08_06_30PM.pdf"
    )
    # summer time: 16:00 UTC is 12:00 PM
    assert (
        injury_report_name(datetime(2025, 10, 21, 16, 0, tzinfo=UTC))
        == "Injury-Report_2025-10-21_12_00PM.pdf"
    )


def test_the_newest_quarter_hour_slots_are_looked_for_first():
    slots = recent_injury_report_slots(datetime(2026, 2, 8, 23, 44, 59, tzinfo=UTC), 3)
    assert [injury_report_name(slot) for slot in slots] == [
        "Injury-Report_2026-02-08_06_30PM.pdf",
        "Injury-Report_2026-02-08_06_15PM.pdf",
        "Injury-Report_2026-02-08_06_00PM.pdf",
    ]
