"""Soccer: home/draw/away from expected goals with a Poisson score model.

Goals of each side are Poisson with the expected goals given; the Dixon-Coles factor
``rho`` moves probability between 0-0, 1-1 and 1-0, 0-1, where independent Poisson counts
put too little on draws.
"""

from __future__ import annotations

import math

import numpy as np

MAX_GOALS = 12  # beyond this the probability mass is below 1e-9 for any real match
GOALS = np.arange(MAX_GOALS + 1)
LOG_FACTORIALS = np.array([math.lgamma(g + 1) for g in GOALS])


def poisson_pmf(mean: float) -> np.ndarray:
    return np.exp(GOALS * math.log(mean) - mean - LOG_FACTORIALS)


def score_matrix(home_mean: float, away_mean: float, rho: float = 0.0) -> np.ndarray:
    """P(home goals = i, away goals = j), renormalised after the low-score correction."""
    matrix = np.outer(poisson_pmf(home_mean), poisson_pmf(away_mean))
    if rho:
        matrix[0, 0] *= 1.0 - home_mean * away_mean * rho
        matrix[0, 1] *= 1.0 + home_mean * rho
        matrix[1, 0] *= 1.0 + away_mean * rho
        matrix[1, 1] *= 1.0 - rho
        matrix = np.clip(matrix, 0.0, None)
    return matrix / matrix.sum()


def outcome_probabilities(matrix: np.ndarray) -> tuple[float, float, float]:
    """(home win, draw, away win) of a score matrix."""
    home = float(np.tril(matrix, -1).sum())
    draw = float(np.trace(matrix))
    return home, draw, max(0.0, 1.0 - home - draw)
