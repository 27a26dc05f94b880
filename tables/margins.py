"""Removing the bookmaker's margin: fair probabilities from one book's prices on a market.

Three methods: multiplicative (normalise the implied probabilities), power (raise them to
the power k that makes them sum to one) and Shin's (the insider-trading model, which takes
more margin off long shots). Each returns probabilities in the order of the prices given.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

BISECTION_STEPS = 60


def overround(prices: Sequence[float]) -> float:
    """How much the implied probabilities sum above 1 (0.05 = a 5% book)."""
    return sum(1.0 / p for p in prices) - 1.0


def multiplicative(prices: Sequence[float]) -> list[float]:
    implied = [1.0 / p for p in prices]
    total = sum(implied)
    return [q / total for q in implied]


def _bisect(f, low: float, high: float) -> float:
    """A root of the decreasing-or-increasing function f on [low, high]."""
    f_low = f(low)
    for _ in range(BISECTION_STEPS):
        mid = (low + high) / 2
        f_mid = f(mid)
        if (f_mid > 0) == (f_low > 0):
            low, f_low = mid, f_mid
        else:
            high = mid
    return (low + high) / 2


def power(prices: Sequence[float]) -> list[float]:
    implied = [1.0 / p for p in prices]
    if math.isclose(sum(implied), 1.0):
        return implied
    # sum(q^k) decreases in k for q < 1; k > 1 for an overround book, < 1 for an underround one
    k = _bisect(lambda k: sum(q**k for q in implied) - 1.0, 0.001, 1000.0)
    return [q**k for q in implied]


def shin(prices: Sequence[float]) -> list[float]:
    implied = [1.0 / p for p in prices]
    total = sum(implied)
    if total <= 1.0:
        return multiplicative(prices)  # no margin to explain by insiders

    def probabilities(z: float) -> list[float]:
        return [
            (math.sqrt(z * z + 4 * (1 - z) * q * q / total) - z) / (2 * (1 - z)) for q in implied
        ]

    z = _bisect(lambda z: sum(probabilities(z)) - 1.0, 0.0, 0.99)
    return probabilities(z)


METHODS = {"multiplicative": multiplicative, "power": power, "shin": shin}
