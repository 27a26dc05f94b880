"""Fit the market-aware weight per sport on past seasons of a backtest's predictions.csv.

    streamapp backtest FILES... --out DIR --score-from 2014-08-01
    python bench/fit_market_weight.py DIR/predictions.csv --train-until 2020-08-01

For each weight w the market-aware probability is the log-linear pool model^(1-w) *
market^w of the model-only prediction and the market's fair price at the first market
(columns p_* and q_*); it prints the Brier score on the training seasons and after them,
and the weight with the lowest training score (the one to put in tables/model_params.py).
"""

from __future__ import annotations

import argparse
import csv
from collections import defaultdict

from tables.forecast import blend
from tables.settlement import score_prediction

WEIGHTS = [round(0.05 * i, 2) for i in range(21)]


def score(rows, weight: float) -> float:
    total = 0.0
    for row in rows:
        names = ("home", "draw", "away") if row["p_draw"] else ("home", "away")
        model = [float(row[f"p_{n}"]) for n in names]
        market = [float(row[f"q_{n}"]) for n in names]
        p = blend(model, market, weight)
        total += score_prediction(p, int(row["home_score"]), int(row["away_score"]))["brier"]
    return total / len(rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("predictions")
    parser.add_argument("--train-until", required=True, help="YYYY-MM-DD: train before, test after")
    args = parser.parse_args()
    by_sport = defaultdict(lambda: ([], []))
    with open(args.predictions) as handle:
        for row in csv.DictReader(handle):
            if not row["q_home"] or not row["p_home"]:
                continue
            by_sport[row["sport"]][row["date"] >= args.train_until].append(row)
    for sport, (train, test) in sorted(by_sport.items()):
        print(f"{sport}: {len(train):,} training games, {len(test):,} after")
        results = [(w, score(train, w), score(test, w) if test else None) for w in WEIGHTS]
        for w, tr, te in results:
            print(f"  w={w:.2f}  train {tr:.5f}" + (f"  test {te:.5f}" if te is not None else ""))
        best = min(results, key=lambda r: r[1])
        print(f"  fitted market weight for {sport}: {best[0]:.2f}")


if __name__ == "__main__":
    main()
