"""Grid search of model-only parameters on past seasons (games only: no odds needed).

    python bench/tune_model.py soccer '{"shots_weight": [0.5, 0.75], "elo_weight": [0, 0.3]}'
    python bench/tune_model.py nba '{"home_advantage_step": [0, 3, 8]}'

For each combination it prints the model-only Brier score on the training seasons
(2014/15-2019/20) and on 2020/21-2021/22, through the same LeagueRatings.observe the
predict-games agent calls. Choose on the training figure, report the other.
"""

from __future__ import annotations

import argparse
import itertools
import json
from pathlib import Path

from streamapp.backtest import Backtest, score_rows
from streamapp.replay.catalog import timeline
from streamapp.settings import get_settings
from tables.model_params import ModelParams

TRAIN = ("2014-08-01", "2020-08-01")
TEST = ("2020-08-01", "2099-01-01")


def files(sport: str, data_dir: Path) -> list[Path]:
    if sport == "soccer":
        return sorted((data_dir / "football-data").glob("*.csv"))
    return [data_dir / "moneylines" / f"{sport}.csv"]


def brier(events, sport: str, changes: dict, periods: list[tuple[str, str]]) -> list[float]:
    """The Brier score of each period, from one walk-forward run."""
    params = ModelParams.from_dict({"version": "tune", "sports": {sport: changes}})
    backtest = Backtest(params, 0.0)
    for feed, payload in events:
        backtest.apply(feed, payload)
    backtest.finish()
    scores = []
    for period in periods:
        rows = [
            r for r in backtest.rows
            if period[0] <= r["date"] < period[1]
            and (sport == "soccer" or r["game_type"] == "regular_season")
        ]  # fmt: skip
        scores.append(score_rows(rows, "p")["brier"])
    return scores


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("sport", choices=["soccer", "nba", "nfl", "nhl"])
    parser.add_argument("grid", help="JSON: parameter -> list of values")
    args = parser.parse_args()
    grid = json.loads(args.grid)
    paths = files(args.sport, get_settings().data_dir)
    events = [(e.feed, e.payload) for e in timeline(paths) if e.feed == "games"]
    for values in itertools.product(*grid.values()):
        changes = dict(zip(grid, values, strict=True))
        train, test = brier(events, args.sport, changes, [TRAIN, TEST])
        print(f"{changes}  train {train:.5f}  2020-22 {test:.5f}", flush=True)


if __name__ == "__main__":
    main()
