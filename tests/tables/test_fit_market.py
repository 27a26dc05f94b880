"""The stacked market formula bench/fit_market_weight.py fits, with hand-computed values."""

from __future__ import annotations

import numpy as np
import pytest

from bench.fit_market_weight import _brier, _stack


def test_the_stacked_form_at_a_1_b_0_is_the_market():
    q = np.array([[0.5, 0.3, 0.2]])
    p = np.array([[0.4, 0.3, 0.3]])
    assert _stack(np.array([1.0, 0.0, 0.0, 0.0]), np.log(q), np.log(p)) == pytest.approx(q)


def test_the_stacked_form_sharpens_the_market_and_adds_the_model_and_biases():
    q = np.array([[0.5, 0.3, 0.2]])
    p = np.array([[0.4, 0.3, 0.3]])
    # a 2: q^2 = 0.25, 0.09, 0.04 over 0.38
    sharp = _stack(np.array([2.0, 0.0, 0.0, 0.0]), np.log(q), np.log(p))
    assert sharp[0] == pytest.approx([0.25 / 0.38, 0.09 / 0.38, 0.04 / 0.38])
    # a 1, b 1: the model itself; a draw bias log 2 doubles the draw's weight: 0.4, 0.6, 0.3
    biased = _stack(np.array([1.0, 1.0, np.log(2), 0.0]), np.log(q), np.log(p))
    assert biased[0] == pytest.approx([0.4 / 1.3, 0.6 / 1.3, 0.3 / 1.3])


def test_brier_is_the_three_way_sum_or_one_sided():
    y3 = np.array([[1.0, 0.0, 0.0]])
    assert _brier(np.array([[0.5, 0.3, 0.2]]), y3) == pytest.approx(0.25 + 0.09 + 0.04)
    y2 = np.array([[0.0, 1.0]])
    assert _brier(np.array([[0.6, 0.4]]), y2) == pytest.approx(0.36)
