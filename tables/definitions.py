"""The faust tables of the app, each with its help text."""

from __future__ import annotations

from dataclasses import dataclass

import faust

from schemas.feeds import FEEDS


@dataclass
class Tables:
    # feed name -> game id -> {ordering key: [latest event millis, recent event ids]}
    feed_order: dict[str, faust.Table]
    # "sport:league" -> LeagueRatings.to_dict()
    league_ratings: faust.Table

    @property
    def routable(self) -> dict[str, faust.Table]:
        """Tables keyed like the topic that feeds them, so any worker can route a lookup."""
        return {t.name: t for t in (*self.feed_order.values(), self.league_ratings)}


def define_tables(app: faust.App) -> Tables:
    return Tables(
        feed_order={
            name: app.Table(
                f"feed-order-{name}",
                help=f"Per game: latest event time and recent event ids of each ordering key "
                f"of the {name} feed (dedupe and out-of-order detection).",
            )
            for name in FEEDS
        },
        league_ratings=app.Table(
            "league-ratings",
            help="Elo ratings, season and upcoming fixtures of every team of a league, "
            "keyed by sport:league.",
        ),
    )
