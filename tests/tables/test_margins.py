from __future__ import annotations

import math

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


def test_multiplicative_divides_each_implied_probability_by_the_book_sum():
    # 1/2.5 = 0.4, 1/3.2 = 0.3125, 1/2.9 = 0.344828; sum 1.057328
    # 0.4 / 1.057328 = 0.378312, 0.3125 / 1.057328 = 0.295556, 0.344828 / 1.057328 = 0.326131
    assert multiplicative([2.5, 3.2, 2.9]) == pytest.approx(
        [0.378312, 0.295556, 0.326131], abs=1e-6
    )


def test_shin_matches_the_published_worked_example():
    # The `shin` package's README (mberk/shin, an implementation of Jullien & Salanie 1994):
    # odds 2.6, 2.4, 4.3 give 0.37299406033208965, 0.4047794109200184, 0.2222265287474275
    # with z = 0.01694251276407055.
    prices = [2.6, 2.4, 4.3]
    fair = shin(prices)
    assert fair == pytest.approx([0.37299406033208965, 0.4047794109200184, 0.2222265287474275])
    # Shin's p_i solves (1 - z) p_i^2 + z p_i = q_i^2 / Q (q_i = 1 / price, Q = sum q):
    # z = (q_i^2 / Q - p_i^2) / (p_i (1 - p_i)), the same insider share for every outcome.
    implied = [1 / p for p in prices]
    book = sum(implied)
    for q, p in zip(implied, fair, strict=True):
        assert (q * q / book - p * p) / (p * (1 - p)) == pytest.approx(0.01694251276407055)


def jullien_salanie_z(prices: list[float]) -> float:
    """Shin's insider share z by Jullien & Salanie's fixed point (n > 2 outcomes):
    z = (sum_i sqrt(z^2 + 4 (1 - z) q_i^2 / Q) - 2) / (n - 2)."""
    implied = [1 / p for p in prices]
    book = sum(implied)
    z = 0.0
    for _ in range(1000):
        z = (sum(math.sqrt(z * z + 4 * (1 - z) * q * q / book) for q in implied) - 2) / (
            len(implied) - 2
        )
    return z


def test_shin_agrees_with_the_jullien_salanie_iteration_on_a_real_book():
    # Pinnacle's closing 1X2 of Fulham v Arsenal; z by the fixed point, p_i from z by
    # Shin's formula p_i = (sqrt(z^2 + 4 (1 - z) q_i^2 / Q) - z) / (2 (1 - z)).
    prices = [5.48, 3.98, 1.69]
    z = jullien_salanie_z(prices)
    implied = [1 / p for p in prices]
    book = sum(implied)
    roots = [math.sqrt(z * z + 4 * (1 - z) * q * q / book) for q in implied]
    expected = [(root - z) / (2 * (1 - z)) for root in roots]
    assert 0 < z < 0.05
    assert shin(prices) == pytest.approx(expected, abs=1e-9)


def test_two_way_shin_takes_the_margin_off_equally():
    # With two outcomes Shin's probabilities are the additive ones, p_i = q_i - (Q - 1) / 2
    # (Clarke, Kovalchik & Ingram 2017, "Adjusting bookmaker's odds to allow for overround").
    # 1/1.25 = 0.8 and 1/4 = 0.25: Q = 1.05, so 0.8 - 0.025 = 0.775 and 0.25 - 0.025 = 0.225
    assert shin([1.25, 4.0]) == pytest.approx([0.775, 0.225], abs=1e-9)
    # 1/1.8 + 1/2.1 = 1.031746; half the margin 0.015873 off each: 0.539683, 0.460317
    assert shin([1.8, 2.1]) == pytest.approx([0.539683, 0.460317], abs=1e-6)


def test_power_raises_the_implied_probabilities_to_the_power_that_makes_a_book():
    # Fair probabilities 4/49, 9/49, 36/49 are the squares of 2/7, 3/7, 6/7: prices 7/2, 7/3,
    # 7/6 (an overround of 11/7 - 1) give back exactly k = 2.
    assert power([3.5, 7 / 3, 7 / 6]) == pytest.approx([4 / 49, 9 / 49, 36 / 49], abs=1e-9)
    # Two-way: 1/0.6 and 1/0.8 (q = 0.6, 0.8; Q = 1.4): k = 2 gives 0.36 + 0.64 = 1
    assert power([1 / 0.6, 1 / 0.8]) == pytest.approx([0.36, 0.64], abs=1e-9)
    # An underround book: q = 0.36^2, 0.64^2 (Q = 0.5392) needs k = 1/2
    assert power([1 / 0.36**2, 1 / 0.64**2]) == pytest.approx([0.36, 0.64], abs=1e-9)
