"""Shared fixtures: settings isolated per test, and the real data folder."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest

from streamapp.settings import Settings

DATA_DIR = Settings().data_dir


@pytest.fixture
def data_dir() -> Path:
    if not DATA_DIR.exists():
        pytest.fail(f"the shared data folder {DATA_DIR} is missing; set STREAMAPP_DATA_DIR")
    return DATA_DIR


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    """Settings of a fresh app: its own id, topics and state folder."""
    run = uuid.uuid4().hex[:8]
    return Settings(
        app_id=f"test-{run}",
        topic_prefix=f"test-{run}",
        state_dir=tmp_path / "state",
        # The replayed seasons' windows are long expired by the clock: keep them for the
        # tests that read them.
        window_cleanup_seconds=3600,
    )
