"""football-data.co.uk CSVs -> fixtures, opening and closing quotes, final scores.

Timeline of a match (kick-off K, UK local time, 15:00 when the file has no Time column):
the fixture at K-7d, opening prices at K-2d, closing prices at K-5min, the result at K+115min.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from streamapp.replay.sources import FeedEvent, feed_event, number, read_rows

UK = ZoneInfo("Europe/London")
FIXTURE_LEAD = timedelta(days=7)
OPENING_LEAD = timedelta(days=2)
CLOSING_LEAD = timedelta(minutes=5)
MATCH_LENGTH = timedelta(minutes=115)
DEFAULT_KICKOFF = "15:00"

# bookmaker -> (opening column prefixes, closing column prefixes); the first present wins
# (older files name the market average and maximum Bb*).
ONE_X_TWO = {
    "pinnacle": (("PS",), ("PSC",)),
    "bet365": (("B365",), ("B365C",)),
    "market_avg": (("Avg", "BbAv"), ("AvgC",)),
    "market_max": (("Max", "BbMx"), ("MaxC",)),
}
# Over/under 2.5 and Asian handicap columns: Pinnacle's start with P rather than PS.
LINE_MARKETS = {**ONE_X_TWO, "pinnacle": (("P",), ("PC",))}
TOTAL_LINE = 2.5
MATCH_STATS = {
    "home_shots": "HS",
    "away_shots": "AS",
    "home_shots_on_target": "HST",
    "away_shots_on_target": "AST",
    "home_corners": "HC",
    "away_corners": "AC",
    "home_fouls": "HF",
    "away_fouls": "AF",
    "home_yellow": "HY",
    "away_yellow": "AY",
    "home_red": "HR",
    "away_red": "AR",
    "home_halftime_goals": "HTHG",
    "away_halftime_goals": "HTAG",
}
FILE_NAME = re.compile(r"(?P<league>[A-Z0-9]+)_(?P<season>\d{4})\.csv$")


def slug(name: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")


def season_from_file(path: Path) -> str:
    """'E0_2122.csv' -> '2021-22'."""
    match = FILE_NAME.search(path.name)
    if not match:
        raise ValueError(f"{path.name} is not named LEAGUE_SEASON.csv (e.g. E0_2122.csv)")
    code = match["season"]
    return f"20{code[:2]}-{code[2:]}"


def kickoff(row: dict[str, str]) -> datetime:
    day = row["Date"]
    date_format = "%d/%m/%Y" if len(day.split("/")[-1]) == 4 else "%d/%m/%y"
    local = datetime.strptime(f"{day} {row.get('Time') or DEFAULT_KICKOFF}", f"{date_format} %H:%M")
    return local.replace(tzinfo=UK)


def _first_prefix(row: dict[str, str], prefixes: tuple[str, ...], suffix: str) -> str | None:
    for prefix in prefixes:
        if row.get(prefix + suffix):
            return prefix
    return None


def _quotes(row, game, when, phase, book, market, selections) -> Iterator[FeedEvent]:
    for selection, column, line in selections:
        price = number(row, column)
        if price is None:
            continue
        yield feed_event(
            "odds",
            event_id=f"{game['game_id']}:{phase}:{book}:{market}:{selection}",
            event_time=when,
            market=market,
            bookmaker=book,
            selection=selection,
            price_decimal=price,
            line=line,
            **game,
        )


def _selections(market: str, prefix: str, handicap: float | None) -> list[tuple]:
    """(selection, price column, line) of one bookmaker's prices in one market."""
    if market == "moneyline":
        return [
            ("home", prefix + "H", None),
            ("draw", prefix + "D", None),
            ("away", prefix + "A", None),
        ]
    if market == "total":
        return [("over", prefix + ">2.5", TOTAL_LINE), ("under", prefix + "<2.5", TOTAL_LINE)]
    return [("home", prefix + "AHH", handicap), ("away", prefix + "AHA", -handicap)]


def _market_quotes(row, game, when, phase) -> Iterator[FeedEvent]:
    closing = phase == "close"
    handicap = number(row, "AHCh") if closing else number(row, "AHh", "BbAHh")
    markets = [("moneyline", ONE_X_TWO, "H"), ("total", LINE_MARKETS, ">2.5")]
    if handicap is not None:
        markets.append(("spread", LINE_MARKETS, "AHH"))
    for market, books, probe in markets:
        for book, prefixes in books.items():
            prefix = _first_prefix(row, prefixes[closing], probe)
            if prefix:
                selections = _selections(market, prefix, handicap)
                yield from _quotes(row, game, when, phase, book, market, selections)


def read_football_data(path: Path, season_end: int | None = None) -> Iterator[FeedEvent]:
    season = season_from_file(path)
    if season_end is not None and int(season[:4]) + 1 != season_end:
        return
    for row in read_rows(path):
        if not (row.get("HomeTeam") and row.get("Date")):
            continue
        start = kickoff(row)
        league = row.get("Div") or FILE_NAME.search(path.name)["league"]
        game = {
            "sport": "soccer",
            "league": league,
            "game_id": f"{league}-{season}-{slug(row['HomeTeam'])}-{slug(row['AwayTeam'])}",
        }
        teams = {"home_team": row["HomeTeam"], "away_team": row["AwayTeam"]}
        yield feed_event(
            "games",
            event_id=f"{game['game_id']}:scheduled",
            event_time=start - FIXTURE_LEAD,
            season=season,
            start_time=start,
            status="scheduled",
            **game,
            **teams,
        )
        yield from _market_quotes(row, game, start - OPENING_LEAD, "open")
        yield from _market_quotes(row, game, start - CLOSING_LEAD, "close")
        home_goals, away_goals = number(row, "FTHG"), number(row, "FTAG")
        if home_goals is None or away_goals is None:
            continue
        stats = {
            name: value
            for name, col in MATCH_STATS.items()
            if (value := number(row, col)) is not None
        }
        yield feed_event(
            "games",
            event_id=f"{game['game_id']}:final",
            event_time=start + MATCH_LENGTH,
            season=season,
            start_time=start,
            status="final",
            home_score=int(home_goals),
            away_score=int(away_goals),
            stats=stats,
            **game,
            **teams,
        )
