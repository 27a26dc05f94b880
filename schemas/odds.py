"""A bookmaker's price for one selection of one market of one game."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated

from pydantic import AfterValidator, Field, model_validator

from schemas.base import GameScoped, Name, Sport
from schemas.prices import american_to_decimal, decimal_to_american


class Market(StrEnum):
    MONEYLINE = "moneyline"  # 1X2 in soccer: home / draw / away
    SPREAD = "spread"
    TOTAL = "total"
    PLAYER_PROP = "player_prop"


SELECTIONS: dict[Market, frozenset[str]] = {
    Market.MONEYLINE: frozenset({"home", "draw", "away"}),
    Market.SPREAD: frozenset({"home", "away"}),
    Market.TOTAL: frozenset({"over", "under"}),
    Market.PLAYER_PROP: frozenset({"over", "under"}),
}

# A quote's two price fields may disagree by rounding of the American number only.
PRICE_TOLERANCE = 0.02
# Decimal prices from 1.001 to 1001, which are exactly the American prices from -100000
# to +100000: no bookmaker quotes outside them, and a price just above 1.0 would have an
# American equivalent in the millions.
PRICE_DECIMAL_MIN = 1.001
PRICE_DECIMAL_MAX = 1001.0
AMERICAN_MAX = 100_000
# Plausible lines per market (the shared data's spreads reach ±3.75, its totals 2.5): a
# spread of more than 100 points, a game total above 500 points, or a player line above
# 1000 (NFL passing-yard lines sit near 300) is a broken feed. A moneyline has no line, but
# one that comes with one is held to the spread's range.
LINE_RANGE: dict[Market, tuple[float, float]] = {
    Market.MONEYLINE: (-100.0, 100.0),
    Market.SPREAD: (-100.0, 100.0),
    Market.TOTAL: (0.0, 500.0),
    Market.PLAYER_PROP: (0.0, 1000.0),
}
LINE_MAX = max(high for _, high in LINE_RANGE.values())


def no_american_gap(american: int) -> int:
    if -100 < american < 100:
        raise ValueError(f"American odds must be <= -100 or >= +100, got {american}")
    return american


def within(value: object, low: float, high: float) -> bool:
    """A JSON number (not a bool) from ``low`` to ``high``; NaN is not."""
    return isinstance(value, int | float) and not isinstance(value, bool) and low <= value <= high


class OddsQuote(GameScoped):
    kind: str = Field("odds", pattern="^odds$")
    bookmaker: Name = Field(min_length=1, max_length=64)
    market: Market
    selection: Name = Field(min_length=1, max_length=16)
    price_decimal: float | None = Field(None, ge=PRICE_DECIMAL_MIN, le=PRICE_DECIMAL_MAX)
    price_american: Annotated[int, AfterValidator(no_american_gap)] | None = Field(
        None, ge=-AMERICAN_MAX, le=AMERICAN_MAX
    )
    line: float | None = Field(None, ge=-LINE_MAX, le=LINE_MAX)
    player: Name | None = Field(None, max_length=64)
    stat: Name | None = Field(None, max_length=32)

    @property
    def ordering_key(self) -> str:
        return "|".join(
            (
                self.game_id,
                self.bookmaker,
                self.market,
                self.selection,
                self.player or "",
                self.stat or "",
            )
        )

    @model_validator(mode="before")
    @classmethod
    def _fill_prices(cls, data: object) -> object:
        # Only prices inside their ranges are converted: the others are left to the field
        # validation, which names the field and never overflows.
        if not isinstance(data, dict):
            return data
        decimal, american = data.get("price_decimal"), data.get("price_american")
        if within(american, -AMERICAN_MAX, AMERICAN_MAX) and abs(american) >= 100:
            converted = american_to_decimal(american)
            if decimal is None:
                data = {**data, "price_decimal": round(converted, 4)}
            elif (
                within(decimal, PRICE_DECIMAL_MIN, PRICE_DECIMAL_MAX)
                and abs(decimal - converted) > PRICE_TOLERANCE
            ):
                raise ValueError(
                    f"price_decimal {decimal:g} disagrees with price_american {american:g}"
                )
        elif american is None and within(decimal, PRICE_DECIMAL_MIN, PRICE_DECIMAL_MAX):
            data = {**data, "price_american": decimal_to_american(decimal)}
        return data

    @model_validator(mode="after")
    def _consistent(self) -> OddsQuote:
        if self.price_decimal is None:
            raise ValueError("a quote needs price_decimal or price_american")
        allowed = SELECTIONS[self.market]
        if self.selection not in allowed:
            raise ValueError(
                f"selection {self.selection!r} is not one of {sorted(allowed)} for {self.market}"
            )
        if self.selection == "draw" and self.sport is not Sport.SOCCER:
            raise ValueError(f"a draw selection exists only in soccer, not {self.sport}")
        if self.market in (Market.SPREAD, Market.TOTAL, Market.PLAYER_PROP) and self.line is None:
            raise ValueError(f"a {self.market} quote needs a line")
        low, high = LINE_RANGE[self.market]
        if self.line is not None and not low <= self.line <= high:
            raise ValueError(f"line {self.line:g} is outside {low:g}..{high:g} for {self.market}")
        if self.market is Market.PLAYER_PROP and not (self.player and self.stat):
            raise ValueError("a player_prop quote needs player and stat")
        return self
