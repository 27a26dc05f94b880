"""Scoring probabilistic predictions: Brier score, log loss and calibration bins."""

from __future__ import annotations

import math
from collections.abc import Sequence

# Probabilities are clipped before the log so one confident miss does not make it infinite.
LOG_FLOOR = 1e-6
CALIBRATION_BINS = 10


def brier(probabilities: Sequence[float], outcome: int) -> float:
    """Squared error summed over the outcomes (3-way for soccer, 0..2; 2-way otherwise).

    For a two-way market this is twice the one-sided Brier score; ``one_sided_brier``
    gives the usual NBA/NFL/NHL figure.
    """
    return sum((p - (i == outcome)) ** 2 for i, p in enumerate(probabilities))


def one_sided_brier(p_home: float, home_won: bool) -> float:
    return (p_home - float(home_won)) ** 2


def log_loss(probabilities: Sequence[float], outcome: int) -> float:
    return -math.log(max(LOG_FLOOR, probabilities[outcome]))


def calibration_bin(probability: float) -> int:
    return min(CALIBRATION_BINS - 1, int(probability * CALIBRATION_BINS))
