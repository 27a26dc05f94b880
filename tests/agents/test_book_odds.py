"""The book-odds agent on the in-memory store: anomalies into the game's book, the league's
log and the metric."""

from __future__ import annotations

from tests.agents.test_ingest import agent_of
from tests.agents.test_predict_games import FIXTURE, Feeds, quotes, until
from tests.schemas.examples import GAME


async def test_a_lone_outlier_price_and_a_score_going_backwards_are_flagged_and_counted(
    app, settings
):
    tables, metrics = app.pipeline.tables, app.pipeline.metrics
    book_odds = agent_of(app, "book-odds")
    async with book_odds.test_context() as agent:
        feeds = Feeds(agent, settings)
        await feeds.put("games", FIXTURE)
        books = {
            "pinnacle": (2.0, 3.6, 4.2),
            "bet365": (2.05, 3.5, 4.0),
            "market_avg": (1.98, 3.5, 4.1),
            "wild": (4.5, 3.2, 2.1),  # home and away the other way round
        }
        for bookmaker, prices in books.items():
            for quote in quotes(bookmaker, prices, "2021-08-22T15:00:00Z"):
                await feeds.put("odds", quote)
        half_time = {**GAME, "status": "in_progress", "home_score": 1, "away_score": 1}
        await feeds.put(
            "games", {**half_time, "event_id": "1-1", "event_time": "2021-08-22T16:15:00Z"}
        )
        await feeds.put("games", {**half_time, "event_id": "corrected", "home_score": 0})
        await until(
            lambda: "score_backwards" in tables.anomalies.get("soccer:E0", {}).get("counts", {})
        )
    log = tables.anomalies["soccer:E0"]
    outliers = [a for a in log["recent"] if a["kind"] == "price_outlier"]
    assert {a["bookmaker"] for a in outliers} == {"wild"}
    assert {"home", "away"} <= {a["selection"] for a in outliers}
    assert log["counts"] == {"price_outlier": len(outliers), "score_backwards": 1}
    book = tables.odds_book[f"soccer:E0|{GAME['game_id']}"]
    assert {a["id"] for a in book["anomalies"]} == {a["id"] for a in log["recent"]}
    counted = metrics.anomalies.labels("soccer", "price_outlier")._value.get()
    assert counted == len(outliers)
    assert metrics.anomalies.labels("soccer", "score_backwards")._value.get() == 1
