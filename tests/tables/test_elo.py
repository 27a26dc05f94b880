from __future__ import annotations

from dataclasses import replace

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
    # NBA keeps 65 % of its distance from the mean: 1505 + 0.65 x 195 = 1631.75
    assert MEAN_RATING == 1505
    assert regressed(1700, params) == pytest.approx(1631.75)


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


def test_fivethirtyeight_published_win_probabilities():
    # 538, "How our NHL predictions work": an EloDiff of 50 is a 57.1% win probability;
    # 1 / (1 + 10^(-50/400)) = 1 / (1 + 0.749894) = 0.571463
    assert expected_home_score(1550, 1500, 0) == pytest.approx(0.571463, abs=1e-6)
    assert expected_home_score(1500, 1500, 50) == pytest.approx(0.571463, abs=1e-6)


def test_fivethirtyeight_nba_multiplier_when_the_underdog_wins():
    # elo_diff is the winner's edge, negative for an upset: 13^0.8 / (7.5 - 0.6) = 1.127991
    assert mov_multiplier(Sport.NBA, -10, -100) == pytest.approx(1.127991, abs=1e-6)


def test_fivethirtyeight_nfl_margin_multiplier():
    # 538: ln(|PD| + 1) x 2.2 / ((ELOW - ELOL) x 0.001 + 2.2)
    # a 7-point win by a 100-point favourite: ln 8 x 2.2 / 2.3 = 2.079442 x 0.956522 = 1.989031
    assert mov_multiplier(Sport.NFL, 7, 100) == pytest.approx(1.989031, abs=1e-6)
    # a 3-point upset by a 165-point underdog: ln 4 x 2.2 / 2.035 = 1.386294 x 1.081081
    assert mov_multiplier(Sport.NFL, -3, -165) == pytest.approx(1.498697, abs=1e-6)


@pytest.mark.parametrize("sport", [Sport.NHL, Sport.SOCCER])
def test_few_goal_multiplier_counts_one_goal_once(sport):
    # The module's own variant: log2(|margin| + 1) x 2.2 / (edge x 0.001 + 2.2)
    assert mov_multiplier(sport, 1, 0) == pytest.approx(1.0)
    assert mov_multiplier(sport, 0, 300) == 1.0  # a draw moves by the result alone
    # by two as a 200-point favourite: log2 3 = 1.584963; x 2.2 / 2.4 = 1.452882
    assert mov_multiplier(sport, 2, 200) == pytest.approx(1.452882, abs=1e-6)
    # by three as a 100-point underdog: log2 4 = 2; x 2.2 / 2.1 = 2.095238
    assert mov_multiplier(sport, -3, -100) == pytest.approx(2.095238, abs=1e-6)


def test_nfl_update_by_hand():
    params = replace(ELO_PARAMS[Sport.NFL], k=20.0, home_advantage=65.0)
    # 1550 at home to 1500, won 24-17: edge 115; expected 1 / (1 + 10^(-115/400)) = 0.659708;
    # multiplier ln 8 x 2.2 / 2.315 = 1.976143; shift 20 x 1.976143 x (1 - 0.659708) = 13.449314
    home, away = updated_ratings(Sport.NFL, 1550, 1500, 24, 17, params)
    assert home == pytest.approx(1550 + 13.449314, abs=1e-6)
    assert away == pytest.approx(1500 - 13.449314, abs=1e-6)
    # 1600 at home to 1500, lost 10-13: the winner's edge is -165; expected 0.721078;
    # multiplier ln 4 x 2.2 / 2.035 = 1.498697; shift 20 x 1.498697 x (0 - 0.721078)
    home, away = updated_ratings(Sport.NFL, 1600, 1500, 10, 13, params)
    assert home == pytest.approx(1600 - 21.613550, abs=1e-6)
    assert away == pytest.approx(1500 + 21.613550, abs=1e-6)


def test_a_soccer_draw_moves_by_the_result_alone():
    params = replace(ELO_PARAMS[Sport.SOCCER], k=20.0, home_advantage=60.0)
    # 1500 at home to 1600 (edge -40), 1-1: expected 1 / (1 + 10^(40/400)) = 0.442688;
    # shift 20 x 1 x (0.5 - 0.442688) = 1.146233
    home, away = updated_ratings(Sport.SOCCER, 1500, 1600, 1, 1, params)
    assert (home, away) == pytest.approx((1501.146233, 1598.853767), abs=1e-6)


def test_regression_keeps_the_carried_share_of_the_distance_to_the_mean():
    params = replace(ELO_PARAMS[Sport.NFL], season_carry=2 / 3)
    # 1505 + 2/3 x (1805 - 1505) = 1705; 1505 + 2/3 x (1205 - 1505) = 1305
    assert regressed(1805, params) == pytest.approx(1705)
    assert regressed(1205, params) == pytest.approx(1305)


def test_soccer_draw_share_by_hand():
    params = replace(ELO_PARAMS[Sport.SOCCER], home_advantage=0.0, draw_peak=0.28)
    # edge 100: expected 0.640065; balance 4 x 0.640065 x 0.359935 = 0.921527;
    # draw 0.28 x 0.921527 = 0.258028; home 0.640065 - 0.129014, away 0.359935 - 0.129014
    expected = pytest.approx((0.511051, 0.258028, 0.230921), abs=1e-6)
    assert win_probabilities(1600, 1500, params) == expected
    # the same 100 points given as an adjustment (rest) to two equal teams
    assert win_probabilities(1500, 1500, params, adjustment=100) == expected
