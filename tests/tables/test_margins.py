from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tables.margins import METHODS, multiplicative, overround, power, shin


def test_an_even_two_way_market_is_fifty_fifty_by_every_method():
    for method in METHODS.values():
        assert method([1.9, 1.9]) == pytest.approx([0.5, 0.5])
    assert overround([1.9, 1.9]) == pytest.approx(2 / 1.9 - 1)


def test_a_real_three_way_book():
    # Pinnacle's closing 1X2 of Fulham v Arsenal, 12 Sep 2020.
    prices = [5.48, 3.98, 1.69]
    assert overround(prices) == pytest.approx(0.0254, abs=1e-4)
    m, p, s = multiplicative(prices), power(prices), shin(prices)
    # Power and Shin take more of the margin off the long shot than multiplicative does.
    assert p[0] < m[0] and s[0] < m[0]
    assert p[2] > m[2] and s[2] > m[2]


@given(st.lists(st.floats(min_value=1.05, max_value=30), min_size=2, max_size=4))
def test_fair_probabilities_sum_to_one(prices):
    for method in METHODS.values():
        fair = method(prices)
        assert sum(fair) == pytest.approx(1.0, abs=1e-6)
        assert all(0 <= q <= 1 for q in fair)
