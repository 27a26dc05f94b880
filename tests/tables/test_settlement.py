"""Settling predictions and alerts: scores, stakes won and lost, ROI, CLV and calibration
against hand-computed values."""

from __future__ import annotations

import math

import pytest

from tables.settlement import (
    add_alert,
    add_prediction,
    bet_shares,
    new_performance,
    score_prediction,
    settle_alert,
    summary,
)


def test_a_prediction_is_scored_on_its_outcome():
    # three-way, a 1-1 draw: Brier 0.45^2 + 0.7^2 + 0.25^2 = 0.755; log loss -ln 0.3
    assert score_prediction([0.45, 0.3, 0.25], 1, 1) == pytest.approx(
        {"brier": 0.755, "log_loss": -math.log(0.3)}
    )
    # two-way, an away win: one-sided Brier (0.65 - 0)^2 = 0.4225; log loss -ln 0.35
    assert score_prediction([0.65, 0.35], 1, 2) == pytest.approx(
        {"brier": 0.4225, "log_loss": -math.log(0.35)}
    )


def test_quarter_line_totals_split_the_stake():
    # under 2.75 on 3 goals: half on 2.5 (lost), half on 3 (pushed)
    assert bet_shares("total", "under", 2.75, 2, 1) == (0.0, 0.5)
    # over 2.75 on 3 goals: half on 2.5 (won), half on 3 (pushed)
    assert bet_shares("total", "over", 2.75, 2, 1) == (0.5, 0.0)
    # away +0.25 on a 1-1 draw: half on 0 (pushed), half on +0.5 (won)
    assert bet_shares("spread", "away", 0.25, 1, 1) == (0.5, 0.0)


MONEYLINE = {"market": "moneyline", "selection": "home", "price": 2.2, "stake": 0.015}
AWAY_QUARTER = {"market": "spread", "selection": "away", "line": 0.25, "price": 1.9}
ALERTS = [
    # (alert, home score, away score, same book's closing price, fair closing probability)
    (MONEYLINE, 2, 1, 2.0, 0.5),
    ({**AWAY_QUARTER, "stake": 0.01}, 2, 1, 1.95, None),  # lost
    ({**AWAY_QUARTER, "stake": 0.02}, 1, 1, None, 0.55),  # half pushed, half won
]


def test_an_alert_settles_its_profit_and_both_clvs():
    alert, home, away, same_book, fair = ALERTS[0]
    # won at 2.2: profit 1.2 a unit, 1.2 x 0.015 = 0.018 at the Kelly stake;
    # CLV against the fair 0.5 (a fair price of 2): 2.2 x 0.5 - 1 = 0.1; against 2.0: 2.2/2 - 1
    assert settle_alert(alert, home, away, same_book, fair) == pytest.approx(
        {"profit": 1.2, "kelly_profit": 0.018, "clv": 0.1, "clv_same_book": 0.1}
    )
    alert, home, away, same_book, fair = ALERTS[2]
    # half pushed, half won at 1.9: 0.5 x 0.9 = 0.45; CLV 1.9 x 0.55 - 1 = 0.045
    assert settle_alert(alert, home, away, same_book, fair) == pytest.approx(
        {"profit": 0.45, "kelly_profit": 0.009, "clv": 0.045, "clv_same_book": None}
    )


def test_summary_roi_clv_and_calibration_by_hand():
    performance = new_performance()
    for alert, home, away, same_book, fair in ALERTS:
        add_alert(performance, settle_alert(alert, home, away, same_book, fair))
    # (outcome, probabilities, scores worked out by hand: one-sided Brier, -ln p(outcome))
    predictions = [
        (0, [0.7, 0.3], {"brier": 0.09, "log_loss": 0.356675}),
        (1, [0.65, 0.35], {"brier": 0.4225, "log_loss": 1.049822}),
        (1, [0.2, 0.8], {"brier": 0.04, "log_loss": 0.223144}),
    ]
    for outcome, probabilities, scores in predictions:
        add_prediction(performance, probabilities, scores, outcome)
    got = summary(performance)
    # profits 1.2 - 1 + 0.45 = 0.65 over 3 units staked: ROI 0.216667
    assert got["roi"] == pytest.approx(0.65 / 3)
    assert got["kelly_profit"] == pytest.approx(0.018 - 0.01 + 0.009)
    # CLV only where there was a closing price: fair (0.1 + 0.045) / 2 = 0.0725;
    # same book (0.1 + (1.9 / 1.95 - 1)) / 2 = (0.1 - 0.025641) / 2 = 0.037179
    assert got["mean_clv"] == pytest.approx(0.0725)
    assert got["mean_clv_same_book"] == pytest.approx(0.037179, abs=1e-6)
    assert got["alerts"] == 3 and got["n"] == 3
    # Brier (0.09 + 0.4225 + 0.04) / 3 = 0.184167; log loss 1.629641 / 3 = 0.543214
    assert got["brier"] == pytest.approx(0.184167, abs=1e-6)
    assert got["log_loss"] == pytest.approx(0.543214, abs=1e-6)
    # every side of every forecast in its bin: 0.2 (missed), 0.3 (missed) and 0.35 (came
    # true), 0.65 (missed), 0.7 (came true), 0.8 (came true)
    assert got["calibration"] == [
        {"bin": 2, "n": 1, "forecast": pytest.approx(0.2), "observed": 0.0},
        {"bin": 3, "n": 2, "forecast": pytest.approx(0.325), "observed": 0.5},
        {"bin": 6, "n": 1, "forecast": pytest.approx(0.65), "observed": 0.0},
        {"bin": 7, "n": 1, "forecast": pytest.approx(0.7), "observed": 1.0},
        {"bin": 8, "n": 1, "forecast": pytest.approx(0.8), "observed": 1.0},
    ]


def test_an_empty_summary_has_no_means():
    got = summary(new_performance())
    assert got["roi"] is None and got["brier"] is None and got["mean_clv"] is None
    assert got["calibration"] == []
