"""The captured provider responses, read from the shared data folder (settings)."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from pathlib import Path

import pytest

from streamapp.settings import Settings

FEEDS = Settings().data_dir / "feeds"
DAY_IN_NAME = re.compile(r"\d{4}-\d{2}-\d{2}")
# Captures whose name gives no day: the day of their last game.
FETCH_DAYS = {"scoreboard_football_nfl_2023-range_all-final_TRUNCATED-12-events.json": "2023-01-02"}


def capture(relative: str) -> bytes:
    path = FEEDS / relative
    if not path.exists():
        pytest.fail(f"the capture {path} is missing; set STREAMAPP_DATA_DIR")
    return path.read_bytes()


def fetched_at(path: Path | str) -> datetime:
    """When a capture was fetched, near enough: the end of the day its name gives (the
    captures store no fetch time; ESPN events take it as their event time)."""
    name = Path(path).name
    day = FETCH_DAYS.get(name) or DAY_IN_NAME.search(name).group()
    return datetime.fromisoformat(f"{day}T23:59:00+00:00").astimezone(UTC)
