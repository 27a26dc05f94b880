"""A live feed for the latency benchmark, built from one real match.

The match is the last one of a real league's season file (real teams, so the worker's
ratings know them); it is scheduled anew, kicking off a few hours from now, under a game id
of its own. Its quotes come from the real bookmakers of that file, starting at their real
opening prices (1X2 for six bookmakers; over/under 2.5 and the Asian handicap for the two
the file has them for), and then move: each market drifts as a whole (a random walk shared
by the bookmakers, so lines move together and the odds book sees steam) and each price
carries its bookmaker's own noise (so the sharp book's fair probabilities change enough to
re-emit predictions, and a soft book now and then beats them: value alerts).
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path

from schemas.odds import PRICE_DECIMAL_MAX, PRICE_DECIMAL_MIN
from streamapp.errors import ReplayError
from streamapp.replay.catalog import season_files
from streamapp.replay.football_data import TOTAL_LINE, slug
from streamapp.replay.sources import FeedEvent, feed_event, number, read_rows, season_label

# football-data column prefixes of each bookmaker's opening prices (the replay reads only
# pinnacle's and bet365's; the others are the same file's other real bookmakers).
ONE_X_TWO = {
    "pinnacle": "PS",
    "bet365": "B365",
    "bwin": "BW",
    "interwetten": "IW",
    "williamhill": "WH",
    "betvictor": "VC",
}
LINES = {"pinnacle": "P", "bet365": "B365"}  # over/under 2.5 and Asian handicap
KICKOFF_AFTER = timedelta(hours=3)
DRIFT_STEP = 0.001  # a market's shared move per update, in log price
NOISE = 0.02  # a bookmaker's own deviation from the market, in log price


@dataclass
class BookMarket:
    """One bookmaker's prices in one market: what one update of the feed quotes."""

    bookmaker: str
    market: str
    selections: list[tuple[str, float | None]]  # (selection, line)
    opening: list[float]  # the real opening price of each selection


@dataclass
class LiveFeed:
    league: str
    home_team: str
    away_team: str
    game_id: str
    books: list[BookMarket]
    rng: random.Random
    drift: dict[str, list[float]] = field(default_factory=dict)  # market -> per selection
    turn: int = 0
    quotes: int = 0

    @classmethod
    def from_real_match(
        cls, data_dir: Path, league: str, season: int, run: str, seed: int = 7
    ) -> LiveFeed:
        path = next(p for p in season_files(data_dir, season) if p.name.startswith(f"{league}_"))
        rows = [row for row in read_rows(path) if number(row, "PSH")]
        if not rows:
            raise ReplayError(f"{path} has no match with Pinnacle's opening prices")
        row = rows[-1]
        home, away = row["HomeTeam"], row["AwayTeam"]
        return cls(
            league=league,
            home_team=home,
            away_team=away,
            game_id=f"{league}-live-{run}-{slug(home)}-{slug(away)}",
            books=_real_books(row),
            rng=random.Random(seed),
        )

    def fixture(self, at: datetime) -> FeedEvent:
        """The match announced at ``at``, kicking off a few hours later."""
        start = at + KICKOFF_AFTER
        return feed_event(
            "games",
            event_id=f"{self.game_id}-scheduled",
            event_time=at,
            sport="soccer",
            league=self.league,
            game_id=self.game_id,
            season=season_label(start.year + (start.month >= 7)),
            home_team=self.home_team,
            away_team=self.away_team,
            start_time=start,
            status="scheduled",
        )

    def next_update(self, at: datetime) -> list[FeedEvent]:
        """The next bookmaker's market (in turn) priced at ``at``: one quote per selection,
        all with event time ``at`` (a bookmaker updates a market as one snapshot)."""
        book = self.books[self.turn % len(self.books)]
        self.turn += 1
        drift = self.drift.setdefault(book.market, [0.0] * len(book.selections))
        quotes = []
        for i, ((selection, line), opening) in enumerate(
            zip(book.selections, book.opening, strict=True)
        ):
            drift[i] += self.rng.gauss(0.0, DRIFT_STEP)
            price = opening * math.exp(drift[i] + self.rng.gauss(0.0, NOISE))
            self.quotes += 1
            quotes.append(
                feed_event(
                    "odds",
                    event_id=f"{self.game_id}-q{self.quotes}",  # no ':' (outputs append it)
                    event_time=at,
                    sport="soccer",
                    league=self.league,
                    game_id=self.game_id,
                    bookmaker=book.bookmaker,
                    market=book.market,
                    selection=selection,
                    price_decimal=round(min(max(price, PRICE_DECIMAL_MIN), PRICE_DECIMAL_MAX), 3),
                    line=line,
                )
            )
        return quotes


def _real_books(row: dict[str, str]) -> list[BookMarket]:
    """Every bookmaker market of the row that has all its opening prices."""
    handicap = number(row, "AHh")
    wanted = [
        (book, "moneyline", [("home", None), ("draw", None), ("away", None)],
         [f"{prefix}H", f"{prefix}D", f"{prefix}A"])
        for book, prefix in ONE_X_TWO.items()
    ] + [
        (book, "total", [("over", TOTAL_LINE), ("under", TOTAL_LINE)],
         [f"{prefix}>2.5", f"{prefix}<2.5"])
        for book, prefix in LINES.items()
    ]  # fmt: skip
    if handicap is not None:
        wanted += [
            (book, "spread", [("home", handicap), ("away", -handicap)],
             [f"{prefix}AHH", f"{prefix}AHA"])
            for book, prefix in LINES.items()
        ]  # fmt: skip
    books = []
    for bookmaker, market, selections, columns in wanted:
        prices = [number(row, column) for column in columns]
        if all(prices):
            books.append(BookMarket(bookmaker, market, selections, prices))
    return books
