"""Settling predictions and alerts on the final score and the closing line, and the running
performance of a model version (Brier, log loss, calibration, ROI, CLV).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from tables.edges import closing_line_value, profit
from tables.scoring import CALIBRATION_BINS, brier, calibration_bin, log_loss, one_sided_brier
from tables.simulation import line_shares


def outcome_index(home_score: int, away_score: int, three_way: bool) -> int:
    """0 home win, 1 draw (2 away win) for three-way; 0 home, 1 away for two-way."""
    if three_way:
        return 0 if home_score > away_score else 1 if home_score == away_score else 2
    return 0 if home_score > away_score else 1


def score_prediction(probabilities: Sequence[float], home_score: int, away_score: int) -> dict:
    """Brier score and log loss of one prediction. Two-way sports get the one-sided Brier
    score (the usual NBA/NFL/NHL figure); a tie there counts as neither side winning."""
    three_way = len(probabilities) == 3
    outcome = outcome_index(home_score, away_score, three_way)
    if three_way:
        return {
            "brier": brier(probabilities, outcome),
            "log_loss": log_loss(probabilities, outcome),
        }
    return {
        "brier": one_sided_brier(probabilities[0], home_score > away_score),
        "log_loss": log_loss(probabilities, outcome),
    }


def bet_shares(
    market: str, selection: str, line: float | None, home_score: int, away_score: int
) -> tuple[float, float]:
    """Share of the stake (won, lost) of a bet; pushes and half-pushes return the rest."""
    margin, total = home_score - away_score, home_score + away_score
    if market == "moneyline":
        winner = ("home", "draw", "away")[outcome_index(home_score, away_score, True)]
        return (1.0, 0.0) if winner == selection else (0.0, 1.0)
    if market == "spread":
        result = margin if selection == "home" else -margin
        won, lost = line_shares(result, line or 0.0)
    elif selection == "over":
        won, lost = line_shares(total, -(line or 0.0))
    else:
        won, lost = line_shares(-total, line or 0.0)
    return float(won), float(lost)


def settle_alert(
    alert: dict[str, Any],
    home_score: int,
    away_score: int,
    closing_same_book: float | None,
    closing_fair: float | None,
) -> dict[str, float | None]:
    """Profit of one unit at the price taken, and CLV two ways: against the fair closing
    price (margin removed, all books) and against the same bookmaker's closing price."""
    won, lost = bet_shares(
        alert["market"], alert["selection"], alert.get("line"), home_score, away_score
    )
    price = alert["price"]
    unit = won * profit(price, True) + lost * profit(price, False)
    return {
        "profit": unit,
        "kelly_profit": unit * alert.get("stake", 0.0),
        "clv": price * closing_fair - 1.0 if closing_fair else None,
        "clv_same_book": closing_line_value(price, closing_same_book)
        if closing_same_book
        else None,
    }


def new_performance() -> dict[str, Any]:
    return {
        "n": 0,
        "brier": 0.0,
        "log_loss": 0.0,
        # per bin of forecast probability: forecasts, their sum, and how many came true
        "bins": [[0, 0.0, 0] for _ in range(CALIBRATION_BINS)],
        "alerts": 0,
        "staked": 0.0,
        "profit": 0.0,
        "kelly_profit": 0.0,
        "clv_n": 0,
        "clv": 0.0,
        "clv_book_n": 0,
        "clv_same_book": 0.0,
    }


def add_prediction(
    performance: dict[str, Any], probabilities: Sequence[float], scores: dict, outcome: int
) -> None:
    performance["n"] += 1
    performance["brier"] += scores["brier"]
    performance["log_loss"] += scores["log_loss"]
    for i, p in enumerate(probabilities):
        entry = performance["bins"][calibration_bin(p)]
        entry[0] += 1
        entry[1] += p
        entry[2] += int(i == outcome)


def add_alert(performance: dict[str, Any], settled: dict[str, float | None]) -> None:
    performance["alerts"] += 1
    performance["staked"] += 1.0
    performance["profit"] += settled["profit"] or 0.0
    performance["kelly_profit"] += settled["kelly_profit"] or 0.0
    if settled["clv"] is not None:
        performance["clv_n"] += 1
        performance["clv"] += settled["clv"]
    if settled["clv_same_book"] is not None:
        performance["clv_book_n"] += 1
        performance["clv_same_book"] += settled["clv_same_book"]


def summary(performance: dict[str, Any]) -> dict[str, Any]:
    """Means of the running sums, and the calibration table (bins with forecasts)."""
    n, alerts = performance["n"], performance["alerts"]
    return {
        "n": n,
        "brier": performance["brier"] / n if n else None,
        "log_loss": performance["log_loss"] / n if n else None,
        "alerts": alerts,
        "roi": performance["profit"] / performance["staked"] if performance["staked"] else None,
        "kelly_profit": performance["kelly_profit"],
        "mean_clv": performance["clv"] / performance["clv_n"] if performance["clv_n"] else None,
        "mean_clv_same_book": performance["clv_same_book"] / performance["clv_book_n"]
        if performance["clv_book_n"]
        else None,
        "calibration": [
            {"bin": i, "n": count, "forecast": total / count, "observed": hits / count}
            for i, (count, total, hits) in enumerate(performance["bins"])
            if count
        ],
    }
