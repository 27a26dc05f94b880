from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from schemas.prices import american_to_decimal, decimal_to_american, implied_probability


@pytest.mark.parametrize(
    ("american", "decimal"), [(150, 2.5), (-200, 1.5), (100, 2.0), (-100, 2.0), (-110, 1.9090909)]
)
def test_known_conversions(american, decimal):
    assert american_to_decimal(american) == pytest.approx(decimal)


@given(
    st.integers(min_value=100, max_value=100_000) | st.integers(max_value=-100, min_value=-100_000)
)
def test_american_round_trips(american):
    back = decimal_to_american(american_to_decimal(american))
    assert back == american or (abs(american) == 100 and abs(back) == 100)


def test_invalid_prices_raise():
    with pytest.raises(ValueError):
        american_to_decimal(99)
    with pytest.raises(ValueError):
        decimal_to_american(1.0)
    with pytest.raises(ValueError):
        implied_probability(0.9)


def test_implied_probability():
    assert implied_probability(4.0) == 0.25


@pytest.mark.parametrize("american", [10**400, float("inf"), float("nan"), -float("inf")])
def test_american_odds_that_are_not_finite_raise_value_error_not_overflow(american):
    with pytest.raises(ValueError, match="American odds"):
        american_to_decimal(american)


@pytest.mark.parametrize("decimal", [1e308, float("inf"), float("nan")])
def test_decimal_odds_without_american_equivalent_raise_value_error_not_overflow(decimal):
    with pytest.raises(ValueError):
        decimal_to_american(decimal)
