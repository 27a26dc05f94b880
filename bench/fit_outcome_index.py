"""Fit the soccer outcome index (ordered logit) on past seasons' model-only predictions.

    python bench/fit_outcome_index.py [--params V.json]

Replays the football-data files' games (no odds) through LeagueRatings.observe, as
bench/tune_model.py does, keeps each game's last model-only prediction before its result
and the index terms it carries in its inputs (log home/away ratio of each count's expected
value, the two Elo edges), then fits the index weights and the two cut points by log loss
on the training seasons (2014/15-2019/20). It prints them as SportParams fields with the
Brier score of the fitted model on the training seasons and on 2020/21-2021/22. The terms
do not depend on the weights, so one replay is enough.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

from schemas.base import Sport
from schemas.game import GameEvent, GameStatus
from streamapp.replay.catalog import timeline
from streamapp.settings import get_settings
from tables.league_ratings import MODEL_ONLY, LeagueRatings
from tables.model_params import ModelParams
from tables.settlement import outcome_index

TRAIN = ("2014-08-01", "2020-08-01")
TEST = ("2020-08-01", "2022-08-01")  # never the evaluation seasons
TERMS = {
    "shots_on_target_index_weight": "log_ratio_shots_on_target",
    "shots_index_weight": "log_ratio_shots",
    "corners_index_weight": "log_ratio_corners",
    "elo_index_weight": "elo_edge",
    "slow_elo_index_weight": "slow_elo_edge",
}
SCALE = {"elo_edge": 1 / 400, "slow_elo_edge": 1 / 400}  # the index takes Elo points / 400


def collect(params: ModelParams) -> list[tuple[str, dict[str, float], int]]:
    """(date, index terms, outcome: 0 home, 1 draw, 2 away) of every game with a result."""
    paths = sorted((get_settings().data_dir / "football-data").glob("*.csv"))
    leagues: dict[str, LeagueRatings] = {}
    last: dict[str, dict[str, float]] = {}
    games = []
    for event in timeline(paths):
        if event.feed != "games":
            continue
        game = GameEvent.model_validate(event.payload)
        league = leagues.setdefault(game.league, LeagueRatings(Sport.SOCCER, game.league))
        out = league.observe(game, params, 0.0)
        for prediction in out.predictions:
            if prediction.model == MODEL_ONLY:
                last[prediction.game_id] = prediction.inputs
        if game.status is GameStatus.FINAL and game.game_id in last:
            inputs = last.pop(game.game_id)
            outcome = outcome_index(game.home_score or 0, game.away_score or 0, three_way=True)
            terms = {t: inputs.get(t, 0.0) * SCALE.get(t, 1.0) for t in TERMS.values()}
            games.append((game.start_time.date().isoformat(), terms, outcome))
    return games


def probabilities(theta: np.ndarray, x: np.ndarray) -> np.ndarray:
    index = x @ theta[:-2]
    away = 1 / (1 + np.exp(index - theta[-2]))
    not_home = 1 / (1 + np.exp(index - theta[-1]))
    return np.stack([1 - not_home, not_home - away, away], axis=1)


def fit(x: np.ndarray, y: np.ndarray, steps: int = 4000) -> np.ndarray:
    """Weights and cut points minimising the mean log loss (Adam, analytic gradient)."""
    theta = np.zeros(x.shape[1] + 2)
    theta[-2:] = (-0.5, 0.7)
    m, v = np.zeros_like(theta), np.zeros_like(theta)
    for step in range(1, steps + 1):
        index = x @ theta[:-2]
        s1 = 1 / (1 + np.exp(index - theta[-2]))  # P(away)
        s2 = 1 / (1 + np.exp(index - theta[-1]))  # P(away or draw)
        d1, d2 = s1 * (1 - s1), s2 * (1 - s2)
        draw = np.maximum(s2 - s1, 1e-12)
        # d log-likelihood / d(c1, c2) per game; d/d index = -(d/dc1 + d/dc2)
        dc1 = np.where(y == 2, 1 - s1, np.where(y == 1, -d1 / draw, 0.0))
        dc2 = np.where(y == 0, -s2, np.where(y == 1, d2 / draw, 0.0))
        grad = -np.concatenate([x.T @ -(dc1 + dc2), [dc1.sum(), dc2.sum()]]) / len(y)
        m = 0.9 * m + 0.1 * grad
        v = 0.999 * v + 0.001 * grad**2
        theta -= 0.02 * (m / (1 - 0.9**step)) / (np.sqrt(v / (1 - 0.999**step)) + 1e-9)
    return theta


def brier(theta: np.ndarray, x: np.ndarray, y: np.ndarray) -> float:
    return float(((probabilities(theta, x) - np.eye(3)[y]) ** 2).sum(axis=1).mean())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--params", type=Path, help="a model version (JSON) to replay with")
    args = parser.parse_args()
    params = ModelParams.from_dict(
        json.loads(args.params.read_text()) if args.params else {"version": "fit"}
    )
    games = collect(params)

    def period(bounds: tuple[str, str]) -> tuple[np.ndarray, np.ndarray]:
        rows = [(t, o) for d, t, o in games if bounds[0] <= d < bounds[1]]
        x = np.array([[terms[t] for t in TERMS.values()] for terms, _ in rows])
        return x, np.array([o for _, o in rows])

    (x_train, y_train), (x_test, y_test) = period(TRAIN), period(TEST)
    theta = fit(x_train, y_train)
    fitted = dict(zip([*TERMS, "away_cut", "draw_cut"], theta.round(3).tolist(), strict=True))
    print(json.dumps(fitted))
    print(
        f"train {brier(theta, x_train, y_train):.4f} (n={len(y_train)})  "
        f"2020-22 {brier(theta, x_test, y_test):.4f} (n={len(y_test)})"
    )


if __name__ == "__main__":
    main()
