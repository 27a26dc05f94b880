"""Which reader handles a file, and the merged event-time-ordered timeline of many files."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from pathlib import Path

from streamapp.errors import ReplayError
from streamapp.replay.boxscores import read_boxscores
from streamapp.replay.football_data import read_football_data
from streamapp.replay.moneylines import read_moneylines
from streamapp.replay.sources import FeedEvent

SOURCES = ("football-data", "moneylines", "nba-boxscores")
# At the same instant a game's state goes before its prices and box scores.
FEED_ORDER = {"games": 0, "injuries": 1, "lineups": 2, "odds": 3, "boxscores": 4}


def source_of(path: Path) -> str:
    """The source of a data file, from the folder it lies in."""
    folder = path.parent.name
    if folder not in SOURCES:
        raise ReplayError(
            f"{path}: cannot tell its format; data files live in one of {', '.join(SOURCES)} "
            "(as in the shared data folder)."
        )
    return folder


def read_file(
    path: Path, season_end: int | None = None, source: str | None = None
) -> Iterator[FeedEvent]:
    source = source or source_of(path)
    if source not in SOURCES:
        raise ReplayError(f"unknown source {source!r}; use one of {', '.join(SOURCES)}")
    if source == "football-data":
        return read_football_data(path, season_end)
    if source == "moneylines":
        return read_moneylines(path, season_end)
    return read_boxscores(path, path.parent.parent / "moneylines" / "nba.csv", season_end)


def season_files(data_dir: Path, season_end: int) -> list[Path]:
    """Every file of the shared data that holds the season ending in ``season_end``."""
    code = f"{(season_end - 1) % 100:02d}{season_end % 100:02d}"
    files = sorted((data_dir / "football-data").glob(f"*_{code}.csv"))
    files += [data_dir / "moneylines" / f"{sport}.csv" for sport in ("nba", "nfl", "nhl")]
    files.append(data_dir / "nba-boxscores" / "playoffs.csv")
    missing = [str(f) for f in files if not f.exists()]
    if missing or not files:
        raise ReplayError(
            f"missing data files {missing} under {data_dir}; set STREAMAPP_DATA_DIR to the shared "
            "data folder."
        )
    return files


def timeline(
    paths: Iterable[Path], season_end: int | None = None, source: str | None = None
) -> list[FeedEvent]:
    """All events of ``paths`` in event-time order (stable within a file at equal times);
    ``source`` names their format when their folder does not."""
    events = [event for path in paths for event in read_file(path, season_end, source)]
    events.sort(key=lambda e: (e.event_time, FEED_ORDER[e.feed]))
    return events
