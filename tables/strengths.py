"""Soccer attack and defence strengths for a goals model.

Expected home goals = league home average x home attack x away defence (and the mirror for
away goals). After each result every factor moves a step toward the value that would have
explained it (an exponentially weighted average), and the league averages track scoring.
"""

from __future__ import annotations

import math
from typing import Any

STEP = 0.08  # weight of the newest game in a team's attack/defence
LEAGUE_STEP = 0.01  # weight of the newest game in the league's goal averages
START_GOALS = {"home": 1.5, "away": 1.2}
# League averages a new league starts from, per sport and per counted statistic.
START_AVERAGES = {
    "soccer": {
        "goals": START_GOALS,
        "shots": {"home": 4.8, "away": 3.9},  # on target
        # every shot and corners (means of the 2012/13-2021/22 files: 13.6/11.1, 5.6/4.5)
        "all_shots": {"home": 13.5, "away": 11.0},
        "corners": {"home": 5.5, "away": 4.5},
    },
    "nhl": {"goals": {"home": 3.1, "away": 2.8}},
    "nba": {"goals": {"home": 108.0, "away": 105.0}},
    "nfl": {"goals": {"home": 23.5, "away": 21.5}},
}
SEASON_CARRY = 0.7  # share of a team's deviation from average kept across a season break
FLOOR = 0.2  # strengths never reach zero (a team that has not scored yet still can)


def neutral() -> dict[str, float]:
    return {"attack": 1.0, "defence": 1.0}


def expected_goals(
    strengths: dict[str, dict[str, float]], goals: dict[str, float], home: str, away: str
) -> tuple[float, float]:
    h, a = strengths.get(home, neutral()), strengths.get(away, neutral())
    return (
        goals["home"] * h["attack"] * a["defence"],
        goals["away"] * a["attack"] * h["defence"],
    )


def log_ratio(means: tuple[float, float]) -> float:
    """log(home mean / away mean): how far one side is expected to out-produce the other."""
    return math.log(means[0]) - math.log(means[1])


def updated_strengths(
    strengths: dict[str, dict[str, float]],
    goals: dict[str, float],
    home: str,
    away: str,
    home_goals: float,
    away_goals: float,
    step: float = STEP,
    league_step: float = LEAGUE_STEP,
) -> tuple[dict[str, dict[str, float]], dict[str, float]]:
    """New (strengths, league averages) after one result; inputs are not modified.

    Works for any count a side produces against the other: goals, points, shots on target.
    """
    h, a = dict(strengths.get(home, neutral())), dict(strengths.get(away, neutral()))

    def toward(current: float, observed: float, explained_by: float) -> float:
        target = observed / max(explained_by, 1e-9)
        return max(FLOOR, (1 - step) * current + step * target)

    new_h = {
        "attack": toward(h["attack"], home_goals, goals["home"] * a["defence"]),
        "defence": toward(h["defence"], away_goals, goals["away"] * a["attack"]),
    }
    new_a = {
        "attack": toward(a["attack"], away_goals, goals["away"] * h["defence"]),
        "defence": toward(a["defence"], home_goals, goals["home"] * h["attack"]),
    }
    new_goals = {
        "home": (1 - league_step) * goals["home"] + league_step * home_goals,
        "away": (1 - league_step) * goals["away"] + league_step * away_goals,
    }
    return {**strengths, home: new_h, away: new_a}, new_goals


def carried_into_new_season(strengths: dict[str, dict[str, float]]) -> dict[str, dict[str, Any]]:
    return {
        team: {k: 1.0 + SEASON_CARRY * (v - 1.0) for k, v in factors.items()}
        for team, factors in strengths.items()
    }
