from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from schemas.base import Sport
from tables.elo import (
    MEAN_RATING,
    expected_home_score,
    mov_multiplier,
    regressed,
    updated_ratings,
    win_probabilities,
)
from tables.model_params import DEFAULT_PARAMS

ELO_PARAMS = DEFAULT_PARAMS.sports
ratings = st.floats(min_value=1000, max_value=2000)
scores = st.integers(min_value=0, max_value=150)


def test_equal_teams_expect_the_home_advantage():
    assert expected_home_score(1500, 1500, 0) == 0.5
    assert expected_home_score(1500, 1500, 100) == pytest.approx(0.640, abs=1e-3)


def test_fivethirtyeight_nba_margin_multiplier():
    # 538: ((MOV + 3) ** 0.8) / (7.5 + 0.006 * elo_diff)
    assert mov_multiplier(Sport.NBA, 10, 100) == pytest.approx(13**0.8 / 8.1)


@given(st.sampled_from(list(Sport)), ratings, ratings, scores, scores)
def test_updates_are_zero_sum_and_move_toward_the_result(sport, home, away, hs, as_):
    params = ELO_PARAMS[sport]
    new_home, new_away = updated_ratings(sport, home, away, hs, as_, params)
    assert new_home + new_away == pytest.approx(home + away)
    if hs > as_:
        assert new_home > home
    elif hs < as_:
        assert new_home < home


def test_a_win_by_more_moves_more():
    params = ELO_PARAMS[Sport.NBA]
    by_one = updated_ratings(Sport.NBA, 1500, 1500, 101, 100, params)[0]
    by_twenty = updated_ratings(Sport.NBA, 1500, 1500, 120, 100, params)[0]
    assert by_twenty > by_one > 1500


def test_season_regression_pulls_toward_the_mean():
    params = ELO_PARAMS[Sport.NBA]
    assert regressed(1700, params) == pytest.approx(MEAN_RATING + 0.75 * (1700 - MEAN_RATING))


@given(ratings, ratings)
def test_soccer_three_way_probabilities(home, away):
    p_home, p_draw, p_away = win_probabilities(home, away, ELO_PARAMS[Sport.SOCCER])
    assert min(p_home, p_draw, p_away) >= 0
    assert p_home + p_draw + p_away == pytest.approx(1.0)
    expected = expected_home_score(home, away, ELO_PARAMS[Sport.SOCCER].home_advantage)
    assert p_home + p_draw / 2 == pytest.approx(expected)


def test_us_sports_have_no_draw():
    p_home, p_draw, p_away = win_probabilities(1600, 1500, ELO_PARAMS[Sport.NBA])
    assert p_draw is None and p_home + p_away == pytest.approx(1.0) and p_home > 0.5
