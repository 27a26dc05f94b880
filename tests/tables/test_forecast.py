"""A game's forecast against hand-computed values and exact distributions."""

from __future__ import annotations

import math
from dataclasses import replace

import pytest

from schemas.base import Sport
from tables.forecast import blend, consensus, line_probabilities, soccer_means, soccer_probabilities
from tables.model_params import DEFAULT_PARAMS

SOCCER = DEFAULT_PARAMS.sports[Sport.SOCCER]


def test_the_log_linear_pool_by_hand():
    # w = 1/2: p ~ sqrt(model x market). sqrt(0.3) : sqrt(0.2) = sqrt 3 : sqrt 2, so
    # home = 1.732051 / (1.732051 + 1.414214) = 0.550510
    assert blend([0.6, 0.4], [0.5, 0.5], 0.5) == pytest.approx([0.550510, 0.449490], abs=1e-6)
    # w = 1/4: p ~ model^0.75 x 0.5^0.25, and the 0.5^0.25 cancels, so
    # home = 0.6^0.75 / (0.6^0.75 + 0.4^0.75) = 0.681732 / (0.681732 + 0.502973) = 0.575444
    assert blend([0.6, 0.4], [0.5, 0.5], 0.25) == pytest.approx([0.575444, 0.424556], abs=1e-6)
    # three-way, w = 1/2: sqrt(0.5 x 0.4) = 0.447214, sqrt(0.3 x 0.3) = 0.3,
    # sqrt(0.2 x 0.3) = 0.244949; sum 0.992163
    got = blend([0.5, 0.3, 0.2], [0.4, 0.3, 0.3], 0.5)
    assert got == pytest.approx([0.450746, 0.302370, 0.246884], abs=1e-6)


def test_soccer_means_pull_geometrically_by_the_shots_weight():
    # weight 1/4: 1.6^0.75 x 0.8^0.25 = 1.6 x (0.8 / 1.6)^0.25 = 1.6 x 0.840896 = 1.345434;
    # 0.9^0.75 x 1.8^0.25 = 0.9 x 2^0.25 = 0.9 x 1.189207 = 1.070286
    got = soccer_means((1.6, 0.9), (0.8, 1.8), 0.25)
    assert got == pytest.approx((1.345434, 1.070286), abs=1e-6)


def test_the_soccer_blend_weighs_the_poisson_model_and_the_elo_probabilities():
    # No cut points: (1 - w) x Dixon-Coles 1X2 + w x Elo 1X2. The Dixon-Coles 1X2 of 1.8 v
    # 0.7 goals, rho -0.13, is 0.623826 / 0.249922 / 0.126252 (test_goals_model.py);
    # w = 0.3 and Elo 0.5 / 0.3 / 0.2:
    # home 0.7 x 0.623826 + 0.15 = 0.586678; draw 0.7 x 0.249922 + 0.09 = 0.264945;
    # away 0.7 x 0.126252 + 0.06 = 0.148377
    params = replace(SOCCER, away_cut=0.0, draw_cut=0.0, elo_weight=0.3, low_score_rho=-0.13)
    got = soccer_probabilities((1.8, 0.7), (0.5, 0.3, 0.2), params)
    assert got == pytest.approx([0.586678, 0.264945, 0.148377], abs=1e-6)


def poisson(mean: float, k: int) -> float:
    return math.exp(-mean) * mean**k / math.factorial(k)


def test_soccer_lines_agree_with_the_exact_poisson_probabilities():
    # Home -0.5 wins when home goals > away goals: sum over i > j of P(i) P(j) = 0.464244.
    # Over 2.5: total goals ~ Poisson(2.6); 1 - e^-2.6 (1 + 2.6 + 2.6^2 / 2) = 0.481570.
    home_win = sum(poisson(1.5, i) * poisson(1.1, j) for i in range(30) for j in range(i))
    assert home_win == pytest.approx(0.464244, abs=1e-6)
    got = line_probabilities(Sport.SOCCER, SOCCER, (1.5, 1.1), "g1", [-0.5], [2.5], 200_000)
    # 200,000 simulations: a standard error of 0.0011
    assert got["spread|-0.5|home"] == pytest.approx(0.464244, abs=0.005)
    assert got["total|2.5|over"] == pytest.approx(0.481570, abs=0.005)
    assert got["spread|0.5|away"] == pytest.approx(1 - 0.464244, abs=0.005)


def test_nba_lines_agree_with_the_exact_rounded_normal_probability():
    # Scores N(112, 12) and N(108, 12) rounded to whole points; home -3.5 covers when the
    # rounded margin is 4 or more: sum of P(round H = h) P(round A = a) over h - a >= 4,
    # P(round X = x) = Phi((x + 0.5 - mean) / sd) - Phi((x - 0.5 - mean) / sd).
    def phi(x: float) -> float:
        return 0.5 * (1 + math.erf(x / math.sqrt(2)))

    def rounded(x: int, mean: float) -> float:
        return phi((x + 0.5 - mean) / 12) - phi((x - 0.5 - mean) / 12)

    points = range(40, 190)
    cover = sum(rounded(h, 112) * rounded(a, 108) for h in points for a in points if h - a >= 4)
    assert cover == pytest.approx(0.511751, abs=1e-6)
    params = replace(DEFAULT_PARAMS.sports[Sport.NBA], score_sd=12.0)
    got = line_probabilities(Sport.NBA, params, (112.0, 108.0), "g2", [-3.5], [], 200_000)
    assert got["spread|-3.5|home"] == pytest.approx(cover, abs=0.005)


def test_consensus_is_the_mean_of_each_real_books_normalised_probabilities():
    # Book a: 1/2, 1/3.5, 1/4 sum to 1.035714 -> 0.482759, 0.275862, 0.241379
    # Book b: 1/2.1, 1/3.4, 1/3.6 sum to 1.048086 -> 0.454343, 0.280624, 0.265033
    # Mean: 0.468551, 0.278243, 0.253206 (the aggregate is left out while real books price)
    prices = {
        "a": {"home": 2.0, "draw": 3.5, "away": 4.0},
        "b": {"home": 2.1, "draw": 3.4, "away": 3.6},
        "market_max": {"home": 2.5, "draw": 4.0, "away": 4.5},
    }
    got = consensus(prices, ("home", "draw", "away"))
    assert got == pytest.approx([0.468551, 0.278243, 0.253206], abs=1e-6)
