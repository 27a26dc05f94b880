"""Player form from box scores: rolling L3/L5/L10/season summaries, usage, and how a
player's numbers change when a high-usage teammate is out (usage redistribution)."""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime
from typing import Any

from schemas.boxscore import PlayerBoxScore
from tables.stats import summary

STATS = ("minutes", "pts", "reb", "ast", "fg3m")
WINDOWS = (3, 5, 10)
MAX_GAMES = 200
# Usage share of a line: shots, free-throw trips and turnovers it ended.
FREE_THROW_TRIP = 0.44
# A teammate using this share of the team's possessions (about the top two of a rotation)
# is central enough that his absence redistributes usage.
HIGH_USAGE = 0.18


def possessions_used(line: PlayerBoxScore) -> float:
    return line.fga + FREE_THROW_TRIP * line.fta + line.tov


def record_line(state: dict[str, Any] | None, line: PlayerBoxScore) -> dict[str, Any]:
    """A player's game log after one box-score line (a corrected line replaces the old)."""
    games = [g for g in (state or {}).get("games", []) if g["game_id"] != line.game_id]
    games.append(
        {
            "game_id": line.game_id,
            "at": line.event_time.isoformat(),
            "team": line.team,
            "played": line.minutes > 0,
            "started": line.starter,
            "possessions": possessions_used(line),
            **{stat: float(getattr(line, stat)) for stat in STATS},
        }
    )
    games.sort(key=lambda g: g["at"])
    return {
        "player_id": line.player_id,
        "player_name": line.player_name,
        "team": line.team,
        "games": games[-MAX_GAMES:],
    }


def record_team_game(state: dict[str, Any] | None, line: PlayerBoxScore) -> dict[str, Any]:
    """A team's games: who played how many minutes and how many possessions each used, the
    opponent, and the team's totals of each stat (for what its opponents allow)."""
    games = dict((state or {}).get("games", {}))
    game = games.get(line.game_id, {"at": line.event_time.isoformat(), "players": {}})
    players = {
        **game["players"],
        line.player_id: {
            "minutes": line.minutes,
            "possessions": possessions_used(line),
            **{stat: float(getattr(line, stat)) for stat in STATS[1:]},
        },
    }
    games[line.game_id] = {**game, "opponent": line.opponent, "players": players}
    return {**(state or {}), "team": line.team, "games": games}


def usage_share(team_game: dict[str, Any], player_id: str) -> float | None:
    """The share of the team's used possessions a player used in one game."""
    players = team_game["players"]
    total = sum(p["possessions"] for p in players.values())
    mine = players.get(player_id)
    if not mine or mine["minutes"] <= 0 or total <= 0:
        return None
    return mine["possessions"] / total


def player_features(
    state: dict[str, Any] | None,
    team_state: dict[str, Any] | None,
    before: datetime | None = None,
) -> dict[str, Any]:
    """Rolling stats over games played (minutes > 0) before ``before`` (default: all)."""
    cutoff = before.isoformat() if before else "9999"
    played = [g for g in (state or {}).get("games", []) if g["played"] and g["at"] < cutoff]
    features: dict[str, Any] = {"games_played": len(played)}
    for stat in STATS:
        values = [g[stat] for g in played]
        features[stat] = {f"last{n}": summary(values[-n:]) for n in WINDOWS}
        features[stat]["season"] = summary(values)
    team_games = (team_state or {}).get("games", {})
    shares = [
        share
        for g in played
        if g["game_id"] in team_games
        and (share := usage_share(team_games[g["game_id"]], state["player_id"])) is not None
    ]
    features["usage"] = summary(shares)
    return features


def teammate_boosts(
    player_id: str, player_state: dict[str, Any] | None, team_state: dict[str, Any] | None
) -> list[dict[str, Any]]:
    """For each high-usage teammate: the player's averages with the teammate out vs in."""
    team_games = (team_state or {}).get("games", {})
    played = {g["game_id"]: g for g in (player_state or {}).get("games", []) if g["played"]}
    usage: dict[str, list[float]] = defaultdict(list)
    for game in team_games.values():
        for teammate in game["players"]:
            share = usage_share(game, teammate)
            if share is not None:
                usage[teammate].append(share)
    boosts = []
    for teammate, shares in usage.items():
        if teammate == player_id or sum(shares) / len(shares) < HIGH_USAGE:
            continue
        with_, without = [], []
        for game_id, line in played.items():
            game = team_games.get(game_id)
            if game is None:
                continue
            present = game["players"].get(teammate, {}).get("minutes", 0) > 0
            (with_ if present else without).append(line)
        if not with_ or not without:
            continue
        boosts.append(
            {
                "teammate": teammate,
                "teammate_usage": sum(shares) / len(shares),
                "games_with": len(with_),
                "games_without": len(without),
                **{
                    stat: sum(g[stat] for g in without) / len(without)
                    - sum(g[stat] for g in with_) / len(with_)
                    for stat in STATS
                },
            }
        )
    return sorted(boosts, key=lambda b: -b["teammate_usage"])
