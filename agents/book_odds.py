"""The odds book: quotes (and the game's start time, status and score) into each game's
book, quotes and price moves counted per minute of event time, a steam alert for each steam
move the book records (on the broker before the book is written), and each anomaly the book
records counted and added to its league's anomaly log (tables.anomalies)."""

from __future__ import annotations

import asyncio
from collections import Counter

import faust

from agents.batching import current_event, run_batches
from agents.pipeline import Pipeline
from schemas.game import GameEvent
from schemas.odds import OddsQuote
from tables.anomalies import logged
from tables.keys import table_key
from tables.odds_book import apply_game, apply_quote, new_anomalies, steam_alert

MINUTE_MS = 60_000


def register(app: faust.App, pipeline: Pipeline) -> faust.types.AgentT:
    books, anomaly_log = pipeline.tables.odds_book, pipeline.tables.anomalies
    quote_rate, line_moves = pipeline.tables.quote_rate, pipeline.tables.line_moves
    games_topic = pipeline.topics.clean["games"].get_topic_name()
    source = pipeline.topics.merged(
        app, pipeline.topics.clean["games"], pipeline.topics.clean["odds"]
    )

    alerts, metrics = pipeline.topics.alerts, pipeline.metrics

    async def book_batch(batch) -> None:
        deliveries: list = []
        by_game: dict[str, list] = {}
        found: dict[str, tuple] = {}  # league -> (an event of it, the anomalies it revealed)
        for record in batch:
            model = GameEvent if record.message.topic == games_topic else OddsQuote
            event = model.model_validate_json(record.message.value)
            key = table_key(event.partition_key, event.game_id)
            by_game.setdefault(key, []).append((record, event))
        for key, items in by_game.items():
            with current_event(items[0][0]):
                book = books.get(key)
            quotes, moves = Counter(), Counter()
            for record, event in items:
                before = book
                if isinstance(event, GameEvent):
                    book = apply_game(book, event)
                else:
                    steam_before = len(book["steam"]) if book else 0
                    book, direction = apply_quote(book, event)
                    if direction is None:
                        continue  # redelivered after a restart: already in the book
                    for steam in book["steam"][steam_before:]:
                        alert = steam_alert(event, steam)
                        deliveries.append(await alerts.send(
                            key=event.partition_key.encode(), value=alert.to_json(),
                            timestamp=alert.event_time.timestamp(),
                        ))  # fmt: skip
                        metrics.alerts.labels(alert.sport.value, alert.alert_kind.value).inc()
                    minute = record.message.timestamp * 1000 // MINUTE_MS
                    quotes[minute] += 1
                    moves[minute] += bool(direction)
                for anomaly in new_anomalies(before, book):
                    found.setdefault(event.partition_key, (record, []))[1].append(anomaly)
                    metrics.anomalies.labels(event.sport.value, anomaly["kind"]).inc()
            await asyncio.gather(*deliveries)
            deliveries.clear()
            with current_event(items[0][0]):
                books[key] = book
            # One windowed write per game and minute, made as an event of that minute.
            first_of_minute = {}
            for record, _ in items:
                first_of_minute.setdefault(record.message.timestamp * 1000 // MINUTE_MS, record)
            for minute, count in quotes.items():
                with current_event(first_of_minute[minute]):
                    quote_rate[key] += count
                    if moves[minute]:
                        line_moves[key] += moves[minute]
        for league, (record, anomalies) in found.items():
            with current_event(record):
                anomaly_log[league] = logged(anomaly_log.get(league), anomalies)

    @app.agent(source, name="book-odds")
    async def book_odds(stream):
        await run_batches(stream, pipeline, book_batch)

    return book_odds
