"""Betting maths on one price: expected value against a probability and the Kelly stake."""

from __future__ import annotations


def expected_value(probability: float, price: float) -> float:
    """Expected profit per unit staked at decimal ``price`` (0.05 = a 5% edge)."""
    return probability * price - 1.0


def kelly_fraction(probability: float, price: float, fraction: float, cap: float) -> float:
    """Share of the bankroll to stake: fractional Kelly, capped, never negative.

    Full Kelly stakes ``edge / (price - 1)``; a fraction of it (1/8 by default) keeps the
    variance of a model with estimation error bearable.
    """
    full = expected_value(probability, price) / (price - 1.0)
    return min(cap, max(0.0, full * fraction))


def closing_line_value(price_taken: float, closing_price: float) -> float:
    """How much better the price taken was than a closing price (0.03 = 3% better)."""
    return price_taken / closing_price - 1.0


def profit(price: float, won: bool | None, stake: float = 1.0) -> float:
    """Profit of a bet at decimal ``price``; ``won`` None is a push (stake returned)."""
    if won is None:
        return 0.0
    return stake * (price - 1.0) if won else -stake
