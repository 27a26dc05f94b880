"""Team form: per team, the season's finished games and the features a prediction uses.

Strictly time-aware: ``form_features(games, before)`` uses only games that started before
``before`` (the start of the game being predicted).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from schemas.game import GameEvent, GameStatus

WINDOWS = (3, 5, 10)
BACK_TO_BACK_DAYS = 1.5  # played the day before
MAX_GAMES = 120  # a season of any sport fits


def new_team_state(season: str) -> dict[str, Any]:
    return {"season": season, "games": []}


def record_result(state: dict[str, Any] | None, game: GameEvent, team: str) -> dict[str, Any]:
    """``team``'s state after the final ``game``; a new season starts an empty list."""
    if game.status is not GameStatus.FINAL:
        raise ValueError("only finished games count toward form")
    if state is None or game.season > state["season"]:
        state = new_team_state(game.season)
    home = team == game.home_team
    entry = {
        "game_id": game.game_id,
        "start": game.start_time.isoformat(),
        "opponent": game.away_team if home else game.home_team,
        "home": home,
        "for": game.home_score if home else game.away_score,
        "against": game.away_score if home else game.home_score,
    }
    games = [g for g in state["games"] if g["game_id"] != game.game_id]  # a corrected final
    games.append(entry)
    games.sort(key=lambda g: g["start"])
    return {"season": state["season"], "games": games[-MAX_GAMES:]}


def _window(games: list[dict], soccer_points: bool) -> dict[str, float]:
    n = len(games)
    wins = sum(g["for"] > g["against"] for g in games)
    draws = sum(g["for"] == g["against"] for g in games)
    losses = n - wins - draws
    scored = sum(g["for"] for g in games)
    conceded = sum(g["against"] for g in games)
    window = {
        "games": n,
        "wins": wins,
        "draws": draws,
        "losses": losses,
        "for": scored / n,
        "against": conceded / n,
        "margin": (scored - conceded) / n,
    }
    if soccer_points:
        window["points"] = (3 * wins + draws) / n
    return window


def streak(games: list[dict]) -> str:
    """'W3', 'L1', 'D2' — the current run of same results, newest last; '' with no games."""
    if not games:
        return ""

    def result(g):
        return "W" if g["for"] > g["against"] else "L" if g["for"] < g["against"] else "D"

    last = result(games[-1])
    run = 0
    for g in reversed(games):
        if result(g) != last:
            break
        run += 1
    return f"{last}{run}"


def form_features(
    state: dict[str, Any] | None, before: datetime, soccer_points: bool = False
) -> dict[str, Any]:
    """Form over the last 3/5/10 games and the season, from games started before ``before``."""
    cutoff = before.isoformat()
    games = [g for g in (state or {}).get("games", []) if g["start"] < cutoff]
    features: dict[str, Any] = {"games_played": len(games), "streak": streak(games)}
    if not games:
        features.update(days_rest=None, back_to_back=False)
        return features
    for size in WINDOWS:
        features[f"last{size}"] = _window(games[-size:], soccer_points)
    features["season"] = _window(games, soccer_points)
    rest = (before - datetime.fromisoformat(games[-1]["start"])).total_seconds() / 86400
    features["days_rest"] = rest
    features["back_to_back"] = rest <= BACK_TO_BACK_DAYS
    return features
