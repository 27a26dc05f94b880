"""Small statistics shared by the form tables: summaries over the last N values and trends."""

from __future__ import annotations

import math
from collections.abc import Sequence


def summary(values: Sequence[float]) -> dict[str, float] | None:
    """Mean, standard deviation (population), min, max and least-squares trend per game."""
    n = len(values)
    if n == 0:
        return None
    mean = sum(values) / n
    variance = sum((v - mean) ** 2 for v in values) / n
    return {
        "n": n,
        "mean": mean,
        "std": math.sqrt(variance),
        "min": min(values),
        "max": max(values),
        "trend": trend(values),
    }


def trend(values: Sequence[float]) -> float:
    """Slope of the least-squares line through the values in order (0 for fewer than 2)."""
    n = len(values)
    if n < 2:
        return 0.0
    x_mean = (n - 1) / 2
    y_mean = sum(values) / n
    num = sum((i - x_mean) * (v - y_mean) for i, v in enumerate(values))
    den = sum((i - x_mean) ** 2 for i in range(n))
    return num / den
