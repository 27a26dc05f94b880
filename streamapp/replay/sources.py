"""What every replay source shares: reading a CSV, a feed event, the source registry."""

from __future__ import annotations

import csv
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any, NamedTuple

import orjson

from schemas.base import league_key
from streamapp.errors import ReplayError


class FeedEvent(NamedTuple):
    """One raw message as a feed would send it: not validated here, so bad values in the
    real files reach the ingest agents and the dead-letter topic like live bad input would."""

    feed: str  # a key of schemas.FEEDS
    event_time: datetime
    key: str  # the partition key: "sport:league"
    payload: dict[str, Any]

    @property
    def game_id(self) -> str:
        return self.payload["game_id"]

    def to_bytes(self) -> bytes:
        return orjson.dumps(self.payload)


def feed_event(feed: str, **payload: Any) -> FeedEvent:
    """A raw event whose event time and key are taken from its own payload (the event time
    a datetime or, as a feed writes it, an ISO 8601 string)."""
    key = league_key(payload["sport"], payload["league"])
    when = payload["event_time"]
    if isinstance(when, str):
        when = datetime.fromisoformat(when)
    return FeedEvent(feed, when, key, payload)


def read_rows(path: Path) -> Iterator[dict[str, str]]:
    """CSV rows as dicts; football-data files carry a BOM and stray empty columns."""
    if not path.exists():
        raise ReplayError(
            f"{path} does not exist; set STREAMAPP_DATA_DIR to the folder of the shared data "
            "(it holds football-data/, moneylines/ and nba-boxscores/)."
        )
    with open(path, newline="", encoding="utf-8-sig", errors="replace") as handle:
        for row in csv.DictReader(handle):
            yield {k: (v or "").strip() for k, v in row.items() if k}


def number(row: dict[str, str], *columns: str) -> float | None:
    """The first of ``columns`` that holds a number, else None."""
    for column in columns:
        value = row.get(column, "")
        if value:
            try:
                return float(value)
            except ValueError:
                continue
    return None


def season_label(end_year: int) -> str:
    """2021 -> '2020-21': the label of a season that ends in ``end_year``."""
    return f"{end_year - 1}-{end_year % 100:02d}"
