"""NBA playoff box scores -> one player line per player per game, after the game.

Box-score games carry NBA stats ids; they are joined to the moneyline file's ESPN ids by
date and teams so that everything about one game shares one game id (and partition).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

from streamapp.replay.moneylines import GAME_LENGTH, game_id, start_time
from streamapp.replay.sources import FeedEvent, feed_event, number, read_rows, season_label

AFTER_GAME = GAME_LENGTH + timedelta(minutes=10)
COUNTS = {
    "fgm": "fieldGoalsMade",
    "fga": "fieldGoalsAttempted",
    "fg3m": "threePointersMade",
    "fg3a": "threePointersAttempted",
    "ftm": "freeThrowsMade",
    "fta": "freeThrowsAttempted",
    "oreb": "reboundsOffensive",
    "dreb": "reboundsDefensive",
    "reb": "reboundsTotal",
    "ast": "assists",
    "stl": "steals",
    "blk": "blocks",
    "tov": "turnovers",
    "pf": "foulsPersonal",
    "pts": "points",
    "plus_minus": "plusMinusPoints",
}

# NBA stats tricodes that the moneyline (ESPN-style) file spells differently.
ESPN_TEAM = {
    "GSW": "GS",
    "NOH": "NO",
    "NOP": "NO",
    "NYK": "NY",
    "SAS": "SA",
    "UTA": "UTAH",
    "WAS": "WSH",
}


def minutes_played(text: str) -> float:
    """'34:27' -> 34.45; blank (did not play) -> 0."""
    if not text:
        return 0.0
    whole, _, seconds = text.partition(":")
    return int(whole) + (int(seconds) / 60.0 if seconds else 0.0)


def espn_index(moneylines: Path | None) -> dict[tuple[str, frozenset[str]], str]:
    """(ISO date, {team, team}) -> ESPN id, from the NBA moneyline file."""
    if moneylines is None or not moneylines.exists():
        return {}
    index = {}
    for row in read_rows(moneylines):
        day, month, year = row["date"].split("-")
        index[(f"{year}-{month}-{day}", frozenset((row["team_1"], row["team_2"])))] = row["espn_id"]
    return index


def read_boxscores(
    path: Path, moneylines: Path | None = None, season_end: int | None = None
) -> Iterator[FeedEvent]:
    rows = [
        row
        for row in read_rows(path)
        if season_end is None or row["season_year"] == season_label(season_end)
    ]
    teams_in_game: dict[str, set[str]] = defaultdict(set)
    for row in rows:
        teams_in_game[row["gameId"]].add(row["teamTricode"])
    espn_ids = espn_index(moneylines)
    for row in rows:
        teams = teams_in_game[row["gameId"]]
        opponent = next((t for t in teams if t != row["teamTricode"]), None)
        espn_teams = frozenset(ESPN_TEAM.get(t, t) for t in teams)
        espn_id = espn_ids.get((row["game_date"], espn_teams))
        gid = game_id("nba", espn_id) if espn_id else f"nba-stats-{row['gameId']}"
        day = "-".join(reversed(row["game_date"].split("-")))
        stats = {field: int(number(row, column) or 0) for field, column in COUNTS.items()}
        yield feed_event(
            "boxscores",
            event_id=f"{gid}:box:{row['personId']}",
            event_time=start_time("nba", day) + AFTER_GAME,
            sport="nba",
            league="NBA",
            game_id=gid,
            team=ESPN_TEAM.get(row["teamTricode"], row["teamTricode"]),
            opponent=ESPN_TEAM.get(opponent, opponent),
            player_id=row["personId"],
            player_name=row["personName"],
            position=row.get("position") or None,
            starter=bool(row.get("position")),
            dnp_reason=row.get("comment") or None,
            minutes=minutes_played(row.get("minutes", "")),
            **stats,
        )
