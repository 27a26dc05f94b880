"""Moneyline CSVs (NBA, NFL, NHL) -> fixtures, closing moneylines, final scores.

The files give a date but no start time: games are placed at 00:00 UTC the next day
(evening in North America), NFL games at 18:00 UTC on the day (a Sunday afternoon).
`team_1` is the home team. Timeline: fixture at K-2d, the closing average moneyline at K-5min,
the result at K+3h.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

from streamapp.replay.sources import FeedEvent, feed_event, number, read_rows, season_label

FIXTURE_LEAD = timedelta(days=2)
CLOSING_LEAD = timedelta(minutes=5)
GAME_LENGTH = timedelta(hours=3)
START_OFFSET = {"nfl": timedelta(hours=18)}
DEFAULT_START_OFFSET = timedelta(hours=24)
BOOKMAKER = "oddsportal_avg"


def sport_of(path: Path) -> str:
    sport = path.stem.lower()
    if sport not in ("nba", "nfl", "nhl"):
        raise ValueError(f"{path.name}: expected nba.csv, nfl.csv or nhl.csv")
    return sport


def start_time(sport: str, day: str) -> datetime:
    midnight = datetime.strptime(day, "%d-%m-%Y").replace(tzinfo=UTC)
    return midnight + START_OFFSET.get(sport, DEFAULT_START_OFFSET)


def season_of(tournament: str) -> str:
    """'NBA_2021' -> '2020-21'."""
    return season_label(int(tournament.rsplit("_", 1)[-1]))


def game_id(sport: str, espn_id: str) -> str:
    return f"{sport}-{espn_id}"


def read_moneylines(path: Path, season_end: int | None = None) -> Iterator[FeedEvent]:
    sport = sport_of(path)
    league = sport.upper()
    wanted = f"_{season_end}" if season_end else ""
    for row in read_rows(path):
        if not (row.get("espn_id") and row.get("date")):
            continue
        if not row.get("tournament", "").endswith(wanted):
            continue
        start = start_time(sport, row["date"])
        game = {
            "sport": sport,
            "league": league,
            "game_id": game_id(sport, row["espn_id"]),
        }
        fixture = {
            **game,
            "season": season_of(row["tournament"]),
            "home_team": row["team_1"],
            "away_team": row["team_2"],
            "start_time": start,
            "game_type": row.get("game_type") or "regular_season",
        }
        yield feed_event(
            "games",
            event_id=f"{game['game_id']}:scheduled",
            event_time=start - FIXTURE_LEAD,
            status="scheduled",
            **fixture,
        )
        for selection, column in (("home", "avg_moneyline_1"), ("away", "avg_moneyline_2")):
            american = number(row, column)
            if american is None:
                continue
            yield feed_event(
                "odds",
                event_id=f"{game['game_id']}:close:{BOOKMAKER}:moneyline:{selection}",
                event_time=start - CLOSING_LEAD,
                bookmaker=BOOKMAKER,
                market="moneyline",
                selection=selection,
                price_american=int(american),
                **game,
            )
        home_score, away_score = number(row, "score_1"), number(row, "score_2")
        if home_score is None or away_score is None:
            continue
        yield feed_event(
            "games",
            event_id=f"{game['game_id']}:final",
            event_time=start + GAME_LENGTH,
            status="final",
            home_score=int(home_score),
            away_score=int(away_score),
            **fixture,
        )
