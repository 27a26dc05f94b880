"""NBA player prop projections (points, rebounds, assists, threes) and how an injury moves
them.

A projection is the player's recent form (0.5 x last 5 + 0.3 x last 10 + 0.2 x season,
games played only), plus the usage redistribution of each absent teammate (the player's
average without that teammate minus with, shrunk toward zero when few games show it,
weighted by the chance the teammate misses the game), times an opponent factor (what the
opponent allowed per game against what the player's own team allowed, shrunk toward 1).
"""

from __future__ import annotations

from typing import Any

from tables.player_form import player_features, teammate_boosts

PROP_STATS = ("pts", "reb", "ast", "fg3m")
FORM_WEIGHTS = (("last5", 0.5), ("last10", 0.3), ("season", 0.2))
# Chance a player with this injury status misses the game.
ABSENCE = {"OUT": 1.0, "DOUBTFUL": 0.75, "QUESTIONABLE": 0.4, "PROBABLE": 0.1, "AVAILABLE": 0.0}
BOOST_PRIOR_GAMES = 3  # games without the teammate that count half of the observed boost
OPPONENT_PRIOR_GAMES = 5


def form_projection(features: dict[str, Any]) -> dict[str, float]:
    projection = {}
    for stat in PROP_STATS:
        parts = [
            (features[stat][window], w) for window, w in FORM_WEIGHTS if features[stat][window]
        ]
        weight = sum(w for _, w in parts)
        projection[stat] = sum(p["mean"] * w for p, w in parts) / weight if weight else 0.0
    return projection


def team_totals(game: dict[str, Any]) -> dict[str, float]:
    return {stat: sum(p.get(stat, 0.0) for p in game["players"].values()) for stat in PROP_STATS}


def opponent_factors(team_state: dict[str, Any] | None, opponent: str | None) -> dict[str, float]:
    """How the team's output against ``opponent`` compares with its output in all games,
    per stat, shrunk toward 1 when few games against it are known."""
    games = list((team_state or {}).get("games", {}).values())
    against = [g for g in games if g.get("opponent") == opponent]
    if not opponent or not against:
        return dict.fromkeys(PROP_STATS, 1.0)
    shrink = len(against) / (len(against) + OPPONENT_PRIOR_GAMES)
    all_totals = [team_totals(g) for g in games]
    vs_totals = [team_totals(g) for g in against]
    factors = {}
    for stat in PROP_STATS:
        overall = sum(t[stat] for t in all_totals) / len(all_totals)
        versus = sum(t[stat] for t in vs_totals) / len(vs_totals)
        factors[stat] = 1.0 + shrink * (versus / overall - 1.0) if overall else 1.0
    return factors


def next_opponent(team_state: dict[str, Any] | None) -> str | None:
    """The opponent of the team's latest game (in the playoffs, the series opponent)."""
    games = sorted((team_state or {}).get("games", {}).values(), key=lambda g: g["at"])
    return games[-1].get("opponent") if games else None


def roster(team_state: dict[str, Any] | None, last_games: int = 5) -> list[str]:
    """Players who played in the team's last few games."""
    games = sorted((team_state or {}).get("games", {}).values(), key=lambda g: g["at"])
    return sorted({p for g in games[-last_games:] for p, line in g["players"].items()
                   if line["minutes"] > 0})  # fmt: skip


def outlook(player_state: dict[str, Any], team_state: dict[str, Any] | None) -> dict[str, Any]:
    """What a projection starts from, whatever the injury statuses: the player's form and
    his numbers without each high-usage teammate."""
    return {
        "player_id": player_state["player_id"],
        "form": form_projection(player_features(player_state, team_state)),
        "boosts": teammate_boosts(player_state["player_id"], player_state, team_state),
    }


def project_outlook(
    view: dict[str, Any], statuses: dict[str, str], opponent: dict[str, float] | None = None
) -> dict[str, float]:
    """A player's projected line given the injury statuses of the team (player -> status)."""
    if ABSENCE.get(statuses.get(view["player_id"], "AVAILABLE"), 0.0) >= 1.0:
        return dict.fromkeys(PROP_STATS, 0.0)
    projection = dict(view["form"])
    for boost in view["boosts"]:
        absent = ABSENCE.get(statuses.get(boost["teammate"], "AVAILABLE"), 0.0)
        if not absent:
            continue
        shrink = boost["games_without"] / (boost["games_without"] + BOOST_PRIOR_GAMES)
        for stat in PROP_STATS:
            projection[stat] += absent * shrink * boost[stat]
    factors = opponent or dict.fromkeys(PROP_STATS, 1.0)
    return {stat: max(0.0, projection[stat] * factors[stat]) for stat in PROP_STATS}


def project(
    player_state: dict[str, Any],
    team_state: dict[str, Any] | None,
    statuses: dict[str, str],
    opponent: dict[str, float] | None = None,
) -> dict[str, float]:
    """``project_outlook`` of a player, from his and his team's state."""
    return project_outlook(outlook(player_state, team_state), statuses, opponent)


def largest_move(before: dict[str, Any], after: dict[str, Any]) -> tuple[str, float]:
    """The stat whose projection moved most, and by how much."""
    return max(((s, after[s] - before[s]) for s in PROP_STATS), key=lambda m: abs(m[1]))
