"""Scores of probabilistic predictions against hand-computed values."""

from __future__ import annotations

import pytest

from tables.scoring import brier, calibration_bin, log_loss, one_sided_brier


def test_brier_sums_the_squared_errors_over_every_outcome():
    # a draw (outcome 1) forecast 0.45 / 0.3 / 0.25: 0.45^2 + 0.7^2 + 0.25^2 = 0.755
    assert brier([0.45, 0.3, 0.25], 1) == pytest.approx(0.755)
    # two-way, twice the one-sided score: 0.3^2 + 0.3^2 = 0.18 = 2 x (0.7 - 1)^2
    assert brier([0.7, 0.3], 0) == pytest.approx(0.18)
    assert one_sided_brier(0.7, True) == pytest.approx(0.09)
    assert one_sided_brier(0.7, False) == pytest.approx(0.49)


def test_log_loss_is_minus_the_log_of_the_outcomes_probability_floored_at_1e_6():
    # -ln 0.3 = 1.203973; a certain miss costs -ln 1e-6 = 13.815511, not infinity
    assert log_loss([0.45, 0.3, 0.25], 1) == pytest.approx(1.203973, abs=1e-6)
    assert log_loss([1.0, 0.0], 1) == pytest.approx(13.815511, abs=1e-6)


@pytest.mark.parametrize(
    ("probability", "expected_bin"),
    [(0.0, 0), (0.0999, 0), (0.1, 1), (0.3, 3), (0.35, 3), (0.7, 7), (0.95, 9), (1.0, 9)],
)
def test_calibration_bins_are_tenths_with_one_in_the_top_bin(probability, expected_bin):
    # bin k holds [k/10, (k+1)/10); a probability of exactly 1 joins bin 9
    assert calibration_bin(probability) == expected_bin
