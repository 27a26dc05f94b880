"""A bookmaker's price for one selection of one market of one game."""

from __future__ import annotations

from enum import StrEnum

from pydantic import Field, model_validator

from schemas.base import GameScoped, Sport
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


class OddsQuote(GameScoped):
    kind: str = Field("odds", pattern="^odds$")
    bookmaker: str = Field(min_length=1, max_length=64)
    market: Market
    selection: str = Field(min_length=1, max_length=16)
    price_decimal: float | None = Field(None, gt=1.0, le=1001.0)
    price_american: int | None = None
    line: float | None = None
    player: str | None = Field(None, max_length=64)
    stat: str | None = Field(None, max_length=32)

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
        if not isinstance(data, dict):
            return data
        decimal, american = data.get("price_decimal"), data.get("price_american")
        if isinstance(american, int | float) and not isinstance(american, bool):
            converted = american_to_decimal(american)
            if decimal is None:
                data = {**data, "price_decimal": round(converted, 4)}
            elif isinstance(decimal, int | float) and abs(decimal - converted) > PRICE_TOLERANCE:
                raise ValueError(
                    f"price_decimal {decimal:g} disagrees with price_american {american:g}"
                )
        elif american is None and isinstance(decimal, int | float) and decimal > 1.0:
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
        if self.market is Market.PLAYER_PROP and not (self.player and self.stat):
            raise ValueError("a player_prop quote needs player and stat")
        return self
