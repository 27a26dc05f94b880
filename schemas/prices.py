"""Odds conversions: decimal, American and implied probability."""

from __future__ import annotations


def american_to_decimal(american: float) -> float:
    """+150 -> 2.5, -200 -> 1.5. American odds between -100 and +100 do not exist."""
    if -100 < american < 100:
        raise ValueError(f"American odds must be <= -100 or >= +100, got {american:g}")
    if american > 0:
        return 1.0 + american / 100.0
    return 1.0 + 100.0 / -american


def decimal_to_american(decimal: float) -> int:
    """2.5 -> +150, 1.5 -> -200 (rounded to the nearest whole number)."""
    if decimal <= 1.0:
        raise ValueError(f"decimal odds must be > 1.0, got {decimal:g}")
    if decimal >= 2.0:
        return round((decimal - 1.0) * 100.0)
    return round(-100.0 / (decimal - 1.0))


def implied_probability(decimal: float) -> float:
    """The bookmaker's probability including its margin."""
    if decimal <= 1.0:
        raise ValueError(f"decimal odds must be > 1.0, got {decimal:g}")
    return 1.0 / decimal
