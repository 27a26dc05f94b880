"""Odds conversions: decimal, American and implied probability."""

from __future__ import annotations

import math


def finite(value: float, what: str) -> float:
    """``value`` as a finite float; huge integers, NaN and infinities are a ValueError."""
    try:
        number = float(value)
    except OverflowError:
        raise ValueError(f"{what} is too large") from None
    if not math.isfinite(number):
        raise ValueError(f"{what} must be finite, got {number:g}")
    return number


def american_to_decimal(american: float) -> float:
    """+150 -> 2.5, -200 -> 1.5. American odds between -100 and +100 do not exist."""
    american = finite(american, "American odds")
    if -100 < american < 100:
        raise ValueError(f"American odds must be <= -100 or >= +100, got {american:g}")
    if american > 0:
        return 1.0 + american / 100.0
    return 1.0 + 100.0 / -american


def decimal_to_american(decimal: float) -> int:
    """2.5 -> +150, 1.5 -> -200 (rounded to the nearest whole number)."""
    decimal = finite(decimal, "decimal odds")
    if decimal <= 1.0:
        raise ValueError(f"decimal odds must be > 1.0, got {decimal:g}")
    american = (decimal - 1.0) * 100.0 if decimal >= 2.0 else -100.0 / (decimal - 1.0)
    # 1e308 overflows here, and round() of an infinity raises OverflowError.
    return round(finite(american, f"the American equivalent of {decimal:g}"))


def implied_probability(decimal: float) -> float:
    """The bookmaker's probability including its margin."""
    if decimal <= 1.0:
        raise ValueError(f"decimal odds must be > 1.0, got {decimal:g}")
    return 1.0 / decimal
