"""The pure maths the predict-games agent and the backtest share."""

from __future__ import annotations

import math
from dataclasses import replace

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from schemas.base import Sport
from tables.edges import closing_line_value, expected_value, kelly_fraction, profit
from tables.forecast import (
    blend,
    consensus,
    ordered_logit,
    outcome_index,
    poisson_outcomes,
    rest_adjustment,
    soccer_means,
    soccer_probabilities,
)
from tables.goals_model import outcome_probabilities, score_matrix
from tables.model_params import DEFAULT_PARAMS
from tables.scoring import brier, log_loss, one_sided_brier
from tables.settlement import bet_shares, score_prediction
from tables.simulation import (
    line_shares,
    market_probabilities,
    simulate_scores,
    simulated_tally,
    tally_scores,
    win_shares,
)
from tables.strengths import log_ratio

means = st.floats(min_value=0.2, max_value=4.0)


@given(means, means, st.floats(min_value=-0.2, max_value=0.1))
def test_score_matrix_is_a_distribution(home, away, rho):
    matrix = score_matrix(home, away, rho)
    assert matrix.min() >= 0 and matrix.sum() == pytest.approx(1)
    assert sum(outcome_probabilities(matrix)) == pytest.approx(1)


def test_poisson_outcomes_match_a_hand_computed_case():
    # One expected goal each, no correction: P(draw) = sum_k (e^-1 / k!)^2
    draw = sum((math.exp(-1) / math.factorial(k)) ** 2 for k in range(13))
    home, d, away = outcome_probabilities(score_matrix(1.0, 1.0))
    assert d == pytest.approx(draw) and home == pytest.approx(away)
    # A negative rho (Dixon-Coles) puts more weight on 0-0 and 1-1
    assert outcome_probabilities(score_matrix(1.0, 1.0, -0.1))[1] > d


def test_quarter_lines_split_the_stake():
    # -0.25: half on 0 (push on a draw) and half on -0.5 (lost on a draw)
    won, lost = line_shares(np.array([0.0, 1.0, -1.0]), -0.25)
    assert list(won) == [0.0, 1.0, 0.0] and list(lost) == [0.5, 0.0, 1.0]
    assert bet_shares("spread", "home", -0.25, 1, 1) == (0.0, 0.5)
    assert bet_shares("total", "over", 2.5, 2, 1) == (1.0, 0.0)
    assert bet_shares("total", "under", 3.0, 2, 1) == (0.0, 0.0)  # push
    assert bet_shares("moneyline", "draw", None, 1, 1) == (1.0, 0.0)


def test_monte_carlo_agrees_with_the_exact_poisson_total():
    home, away = simulate_scores(Sport.SOCCER, 1.5, 1.1, 0, 200_000, seed=7)
    over = market_probabilities(tally_scores(home, away), [], [2.5])["total|2.5|over"]
    matrix = score_matrix(1.5, 1.1)
    exact = sum(matrix[i, j] for i in range(13) for j in range(13) if i + j > 2)
    assert over == pytest.approx(exact, abs=0.005)


lines = st.integers(min_value=-40, max_value=40).map(lambda quarters: quarters / 4)


def per_simulation(result: np.ndarray, line: float) -> float:
    """What a line's probability was before the tally: line_shares over every simulation."""
    won, lost = line_shares(result, line)
    decided = float(won.sum() + lost.sum())
    return float(won.sum()) / decided if decided else 0.5


@given(
    st.lists(st.integers(min_value=0, max_value=9), min_size=1, max_size=300),
    st.lists(lines, min_size=1, max_size=6),
)
def test_tallied_shares_are_the_per_simulation_sums_to_the_last_bit(scores, quarter_lines):
    home = np.array(scores)
    away = np.array(scores[::-1])
    margin = (home - away).astype(float)
    tallied = tally_scores(home, away).margin
    assert win_shares(tallied, quarter_lines) == [per_simulation(margin, x) for x in quarter_lines]
    negated = win_shares(tallied.negated(), quarter_lines)
    assert negated == [per_simulation(-margin, x) for x in quarter_lines]


@pytest.mark.filterwarnings("ignore:invalid value encountered")
@pytest.mark.parametrize("sd", [9.5, 1e12, math.inf, math.nan])
def test_scores_from_any_parameters_are_tallied_as_they_were_summed(sd):
    home, away = simulate_scores(Sport.NBA, 112.0, 108.0, sd, 2_000, seed=5)
    probabilities = market_probabilities(tally_scores(home, away), [-3.5], [220.5])
    margin, total = home - away, home + away
    assert probabilities == {
        "spread|-3.5|home": per_simulation(margin, -3.5),
        "spread|3.5|away": per_simulation(-margin, 3.5),
        "total|220.5|over": per_simulation(total, -220.5),
        "total|220.5|under": per_simulation(-total, 220.5),
    }


def test_a_simulation_is_kept_read_only_for_reuse():
    first = simulated_tally(Sport.NBA, 112.0, 108.0, 9.5, 10_000, 3)
    assert simulated_tally(Sport.NBA, 112.0, 108.0, 9.5, 10_000, 3) is first
    with pytest.raises(ValueError):
        first.margin.counts[0] = 0
    assert first.margin.counts.sum() == first.total.counts.sum() == 10_000


def test_simulations_are_repeatable_per_seed():
    a = simulate_scores(Sport.NBA, 112, 108, 9.5, 10_000, seed=3)
    b = simulate_scores(Sport.NBA, 112, 108, 9.5, 10_000, seed=3)
    assert all((x == y).all() for x, y in zip(a, b, strict=True))
    margin = a[0] - a[1]
    assert margin.mean() == pytest.approx(4, abs=0.5)


def test_edges_kelly_and_clv():
    assert expected_value(0.5, 2.2) == pytest.approx(0.1)
    # full Kelly at p=.5, price 2.2: 0.1 / 1.2; an eighth of it, capped
    assert kelly_fraction(0.5, 2.2, 0.125, 1.0) == pytest.approx(0.1 / 1.2 / 8)
    assert kelly_fraction(0.5, 2.2, 1.0, 0.02) == 0.02
    assert kelly_fraction(0.4, 2.2, 0.125, 1.0) == 0.0  # no edge, no stake
    assert closing_line_value(2.2, 2.0) == pytest.approx(0.1)
    assert profit(2.2, True) == pytest.approx(1.2) and profit(2.2, False) == -1
    assert profit(2.2, None) == 0


def test_scores():
    assert brier([0.5, 0.3, 0.2], 0) == pytest.approx(0.25 + 0.09 + 0.04)
    assert one_sided_brier(0.7, True) == pytest.approx(0.09)
    assert log_loss([0.5, 0.5], 1) == pytest.approx(math.log(2))
    two_way = score_prediction([0.7, 0.3], 100, 90)
    assert two_way["brier"] == pytest.approx(0.09)


def test_consensus_prefers_the_sharp_book_then_real_books_then_aggregates():
    prices = {
        "pinnacle": {"home": 2.0, "away": 1.9},
        "bet365": {"home": 2.1, "away": 1.75},
        "market_avg": {"home": 2.05, "away": 1.8},
    }
    names = ("home", "away")
    assert consensus(prices, names, ("pinnacle",)) == pytest.approx([1.9 / 3.9, 2.0 / 3.9])
    without_sharp = consensus(prices, names)
    assert without_sharp[0] == pytest.approx((1.9 / 3.9 + (1 / 2.1) / (1 / 2.1 + 1 / 1.75)) / 2)
    assert consensus({"market_avg": prices["market_avg"]}, names) is not None
    assert consensus({"bet365": {"home": 2.1}}, names) is None  # incomplete market


def test_blend_is_a_log_linear_pool():
    assert blend([0.6, 0.4], [0.5, 0.5], 0.0) == pytest.approx([0.6, 0.4])
    assert blend([0.6, 0.4], [0.5, 0.5], 1.0) == pytest.approx([0.5, 0.5])
    mid = blend([0.6, 0.4], [0.5, 0.5], 0.5)
    assert 0.5 < mid[0] < 0.6 and sum(mid) == pytest.approx(1)
    # the geometric mean, renormalised: sqrt(0.3) / (sqrt(0.3) + sqrt(0.2)) = 0.550510
    assert mid == pytest.approx([0.550510, 0.449490], abs=1e-6)


def test_back_to_back_costs_the_tired_side():
    nba = replace(DEFAULT_PARAMS.sports[Sport.NBA], home_rest_share=1.0, three_in_four_penalty=0)
    day = 24 * 3600 * 1000
    start = 10 * day
    assert rest_adjustment(nba, start, start - day, start - 3 * day) == -nba.rest_penalty
    assert rest_adjustment(nba, start, start - 3 * day, start - day) == nba.rest_penalty
    assert rest_adjustment(nba, start, None, None) == 0


def test_nba_rest_by_hand():
    # NBA defaults: a back-to-back costs the visitor 30 Elo points and the home side half of
    # that (15); a third game in four nights 8 more.
    nba = DEFAULT_PARAMS.sports[Sport.NBA]
    assert (nba.rest_penalty, nba.home_rest_share, nba.three_in_four_penalty) == (30, 0.5, 8)
    day = 24 * 3600 * 1000
    start = 10 * day
    rested = start - 3 * day
    assert rest_adjustment(nba, start, start - day, rested) == -15.0  # home on a back-to-back
    assert rest_adjustment(nba, start, rested, start - day) == 30.0  # visitor on one
    assert rest_adjustment(nba, start, start - day, start - day) == 15.0  # both: 30 - 15
    # the visitor's third game in four nights on a back-to-back: 30 + 8
    assert rest_adjustment(nba, start, rested, start - day, None, start - 3 * day) == 38.0
    # the home side's third in four nights with a day off between: -8
    assert rest_adjustment(nba, start, start - 2 * day, rested, start - 3 * day, None) == -8.0
    # the game before the last three and a half days back still counts, four days does not
    half = day // 2
    assert rest_adjustment(nba, start, rested, rested, None, start - 3 * day - half) == 8.0
    assert rest_adjustment(nba, start, rested, rested, None, start - 4 * day) == 0.0
    # sports without the NBA's rest parameters are unchanged
    nhl = DEFAULT_PARAMS.sports[Sport.NHL]
    assert rest_adjustment(nhl, start, start - day, None, start - 2 * day, None) == 0.0


def test_shots_pull_expected_goals_geometrically():
    assert soccer_means((1.0, 1.0), (4.0, 0.25), 0.5) == pytest.approx((2.0, 0.5))
    assert soccer_means((1.2, 0.9), None, 0.5) == (1.2, 0.9)


def test_an_ordered_logit_splits_by_its_two_cut_points():
    # away = 1 / (1 + e^0.48) = 0.382252; not home = 1 / (1 + e^-0.736) = 0.676121
    home, draw, away = ordered_logit(0.0, -0.48, 0.736)
    assert away == pytest.approx(0.382252, abs=1e-6)
    assert draw == pytest.approx(0.676121 - 0.382252, abs=1e-6)
    assert home == pytest.approx(1 - 0.676121, abs=1e-6)
    # an index of ln 3 with cuts at 0: away = 1 / (1 + 3) and home = 3 / (3 + 1), no draw
    assert ordered_logit(math.log(3), 0.0, 0.0) == pytest.approx([0.75, 0.0, 0.25])
    assert sum(ordered_logit(40.0, -0.5, 0.7)) == pytest.approx(1.0)  # no overflow


def test_the_outcome_index_weighs_each_count_and_both_elos():
    params = replace(
        DEFAULT_PARAMS.sports[Sport.SOCCER],
        goals_index_weight=1.0, shots_on_target_index_weight=2.0, shots_index_weight=3.0,
        corners_index_weight=4.0, elo_index_weight=0.5, slow_elo_index_weight=0.25,
    )  # fmt: skip
    ratios = {"goals": 0.1, "shots_on_target": 0.2, "shots": -0.1, "corners": 0.05}
    # 0.1 + 0.4 - 0.3 + 0.2 + 0.5 x 200/400 + 0.25 x -400/400 = 0.4 + 0.25 - 0.25
    assert outcome_index(params, 200.0, ratios, -400.0) == pytest.approx(0.4)
    assert outcome_index(params, 0.0, {"corners": 0.5}) == pytest.approx(2.0)  # missing: 0


def test_soccer_probabilities_use_the_ordered_logit_when_it_has_cut_points():
    soccer = DEFAULT_PARAMS.sports[Sport.SOCCER]
    ratios = {"shots_on_target": 0.3, "shots": 0.2, "corners": 0.1}
    index = 0.531 * 0.3 + 0.178 * 0.2 + 0.406 * 0.1 + 0.719 * 100 / 400 + 0.929 * 50 / 400
    expected = ordered_logit(index, -0.48, 0.736)
    got = soccer_probabilities((1.4, 1.1), (0.5, 0.25, 0.25), soccer, 100.0, ratios, 50.0)
    assert got == pytest.approx(expected)
    # without cut points: the Poisson score model blended with the Elo probabilities
    poisson_only = replace(soccer, away_cut=0.0, draw_cut=0.0, elo_weight=0.0)
    assert soccer_probabilities((1.4, 1.1), (0.5, 0.25, 0.25), poisson_only) == pytest.approx(
        poisson_outcomes(1.4, 1.1, soccer.low_score_rho)
    )


def test_a_log_ratio_compares_the_home_mean_with_the_away_mean():
    assert log_ratio((2.0, 0.5)) == pytest.approx(math.log(4))
    assert log_ratio((1.3, 1.3)) == 0.0
