"""The faust tables of the app, each with its help text."""

from __future__ import annotations

from dataclasses import dataclass

import faust

from schemas.feeds import FEEDS


@dataclass
class Tables:
    # feed name -> ordering key -> [latest event millis, recent event ids]
    feed_order: dict[str, faust.Table]
    # "sport:league" -> LeagueRatings.to_dict()
    league_ratings: faust.Table

    @property
    def routable(self) -> dict[str, faust.Table]:
        """Tables whose key is also their partition key, so any worker can route a lookup.

        The feed-order tables are keyed finer than they are partitioned (by game id), so a
        key alone does not name the worker that holds it.
        """
        return {self.league_ratings.name: self.league_ratings}


def define_tables(app: faust.App) -> Tables:
    return Tables(
        feed_order={
            name: app.Table(
                f"feed-order-{name}",
                help=f"Latest event time and recent event ids per ordering key of the {name} "
                "feed: dedupe and out-of-order detection.",
            )
            for name in FEEDS
        },
        league_ratings=app.Table(
            "league-ratings",
            help="Elo ratings, season and upcoming fixtures of every team of a league, "
            "keyed by sport:league.",
        ),
    )
