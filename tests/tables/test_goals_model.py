"""The Poisson score model against hand-computed Poisson and Dixon-Coles values."""

from __future__ import annotations

import math

import pytest

from tables.goals_model import MAX_GOALS, outcome_probabilities, poisson_pmf, score_matrix

# Unequal means, so that a correction applied to the wrong cell shows.
HOME, AWAY, RHO = 1.8, 0.7, -0.13


def poisson(mean: float, k: int) -> float:
    return math.exp(-mean) * mean**k / math.factorial(k)


def dixon_coles(home: float, away: float, rho: float) -> list[list[float]]:
    """Dixon & Coles (1997) eq. 4.2 with tau(0,0) = 1 - lambda mu rho, tau(0,1) = 1 + lambda
    rho, tau(1,0) = 1 + mu rho, tau(1,1) = 1 - rho (lambda the home mean, x the home goals),
    on the same 0..MAX_GOALS grid, renormalised."""
    tau = {(0, 0): 1 - home * away * rho, (0, 1): 1 + home * rho}
    tau |= {(1, 0): 1 + away * rho, (1, 1): 1 - rho}
    grid = range(MAX_GOALS + 1)
    cells = [[poisson(home, i) * poisson(away, j) * tau.get((i, j), 1) for j in grid] for i in grid]
    total = sum(map(sum, cells))
    return [[c / total for c in row] for row in cells]


def test_poisson_pmf_is_e_to_the_minus_mean_times_mean_to_the_k_over_k_factorial():
    # e^-2.5 = 0.082085; 2.5^3 / 3! x e^-2.5 = 2.604167 x 0.082085 = 0.213763
    pmf = poisson_pmf(2.5)
    assert pmf[0] == pytest.approx(0.082085, abs=1e-6)
    assert pmf[3] == pytest.approx(0.213763, abs=1e-6)
    assert list(pmf) == pytest.approx([poisson(2.5, k) for k in range(MAX_GOALS + 1)])


def test_dixon_coles_corrects_each_low_score_cell_by_its_own_tau():
    # lambda = 1.8 (home), mu = 0.7 (away), rho = -0.13; e^-2.5 = 0.082085
    # 0-0: e^-2.5 x (1 + 1.8 x 0.7 x 0.13 = 1.1638)             = 0.095531
    # 0-1: e^-2.5 x 0.7 x (1 - 1.8 x 0.13 = 0.766)              = 0.044014
    # 1-0: e^-2.5 x 1.8 x (1 - 0.7 x 0.13 = 0.909)              = 0.134307
    # 1-1: e^-2.5 x 1.8 x 0.7 x (1 + 0.13)                      = 0.116873
    # (the taus keep the total, so renormalising changes only the truncated 6e-8)
    matrix = score_matrix(HOME, AWAY, RHO)
    assert matrix[0, 0] == pytest.approx(0.095531, abs=1e-6)
    assert matrix[0, 1] == pytest.approx(0.044014, abs=1e-6)  # swapped factors: 0.052231
    assert matrix[1, 0] == pytest.approx(0.134307, abs=1e-6)
    assert matrix[1, 1] == pytest.approx(0.116873, abs=1e-6)
    assert matrix[2, 3] == pytest.approx(poisson(HOME, 2) * poisson(AWAY, 3), rel=1e-6)
    expected = dixon_coles(HOME, AWAY, RHO)
    assert matrix.tolist() == [pytest.approx(row, rel=1e-9, abs=1e-15) for row in expected]


def test_outcome_probabilities_sum_the_cells_below_on_and_above_the_diagonal():
    # Home win: home goals i > away goals j; draw: i = j; away win: the rest.
    cells = dixon_coles(HOME, AWAY, RHO)
    grid = range(MAX_GOALS + 1)
    home = sum(cells[i][j] for i in grid for j in grid if i > j)
    draw = sum(cells[i][i] for i in grid)
    assert home == pytest.approx(0.623826, abs=1e-6)
    assert draw == pytest.approx(0.249922, abs=1e-6)
    got = outcome_probabilities(score_matrix(HOME, AWAY, RHO))
    assert got == pytest.approx((home, draw, 1 - home - draw), abs=1e-12)
    assert got[2] == pytest.approx(0.126252, abs=1e-6)
