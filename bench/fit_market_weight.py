"""Fit the market-aware weight per sport on past seasons of a backtest's predictions.csv.

    streamapp backtest FILES... --out DIR --score-from 2014-08-01
    python bench/fit_market_weight.py DIR/predictions.csv --train-until 2020-08-01

For each weight w the market-aware probability is the log-linear pool model^(1-w) *
market^w of the model-only prediction and the market's fair price at the first market
(columns p_* and q_*); it prints the Brier score on the training seasons and after them,
and the weight with the lowest training score (the one to put in tables/model_params.py).

It then fits, on the same training games, the wider stacked form the issue "Predictions
that earn their keep" asked about: p ~ exp(a log q + b (log p_model - log q) + c_outcome),
the market's log-odds scaled, the model's disagreement with it and a bias per outcome
(home 0), by gradient descent on the Brier score; and, where the backtest has Pinnacle's
opening and closing prices, what the market-aware forecast at the quote in hand (the last
one before the start, columns mc_*) scores against the opening line on the same games.
"""

from __future__ import annotations

import argparse
import csv
from collections import defaultdict

import numpy as np

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
        stacked(train, test)
        at_quote_in_hand(train, "training")
        at_quote_in_hand(test, "after")


def _selections(rows) -> tuple[str, ...]:
    return ("home", "draw", "away") if rows[0]["p_draw"] else ("home", "away")


def _arrays(rows, prefix):
    names = _selections(rows)
    return np.array([[float(row[f"{prefix}_{n}"]) for n in names] for row in rows])


def _outcomes(rows):
    names = _selections(rows)
    return np.array([[row["outcome"] == n for n in names] for row in rows], dtype=float)


def _brier(p, y) -> float:
    """Three-way sum for soccer, one-sided for two-way sports (as score_prediction)."""
    total = ((p - y) ** 2).sum(axis=1).mean()
    return float(total / 2 if y.shape[1] == 2 else total)


def _stack(theta, log_q, log_p):
    a, b, *bias = theta
    z = a * log_q + b * (log_p - log_q) + np.array([0.0, *bias])
    e = np.exp(z - z.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def stacked(train, test, steps: int = 300) -> None:
    """Fit a, b and the outcome biases by numerical gradient descent on the Brier score."""
    data = {}
    for label, rows in (("train", train), ("test", test)):
        if rows:
            data[label] = (np.log(_arrays(rows, "q")), np.log(_arrays(rows, "p")), _outcomes(rows))
    log_q, log_p, y = data["train"]
    theta = np.array([1.0, 0.0] + [0.0] * (y.shape[1] - 1))
    for _ in range(steps):
        base = _brier(_stack(theta, log_q, log_p), y)
        grad = np.zeros_like(theta)
        for i in range(len(theta)):
            moved = theta.copy()
            moved[i] += 1e-4
            grad[i] = (_brier(_stack(moved, log_q, log_p), y) - base) / 1e-4
        theta -= 0.5 * grad
    figures = {k: _brier(_stack(theta, *v[:2]), v[2]) for k, v in data.items()}
    plain = {k: _brier(np.exp(v[0]), v[2]) for k, v in data.items()}
    print(
        f"  stacked fit: a {theta[0]:.4f} (market log-odds), b {theta[1]:.4f} (model - market),"
        f" outcome biases {np.round(theta[2:], 4).tolist()}"
    )
    for k in figures:
        print(f"    {k}: stacked {figures[k]:.5f}  market at first quote {plain[k]:.5f}")


def at_quote_in_hand(rows, label) -> None:
    both = [r for r in rows if r.get("pin_open_home") and r.get("pin_close_home") and r["mc_home"]]
    if not both:
        return
    y = _outcomes(both)
    print(
        f"    {label} ({len(both):,} games with Pinnacle open and close): market-aware at"
        f" first quote {_brier(_arrays(both, 'm'), y):.5f}, at the quote in hand"
        f" {_brier(_arrays(both, 'mc'), y):.5f}; Pinnacle open"
        f" {_brier(_arrays(both, 'pin_open'), y):.5f}, close"
        f" {_brier(_arrays(both, 'pin_close'), y):.5f}"
    )


if __name__ == "__main__":
    main()
