"""The odds book: quotes (and the game's start time, status and score) into each game's
book, quotes and price moves counted per minute of event time, a steam alert for each steam
move the book records (on the broker before the book is written), and each anomaly the book
records counted and added to its league's anomaly log (tables.anomalies)."""

from __future__ import annotations

from collections import Counter

import faust

from agents.pipeline import Pipeline
from agents.runtime import Checkpoint, ValueCache, run_batches
from schemas.game import GameEvent
from schemas.odds import OddsQuote
from tables.anomalies import logged
from tables.keys import table_key
from tables.odds_book import apply_game, apply_quote, new_anomalies, steam_alert

MINUTE_MS = 60_000
BOOKS_KEPT = 1_000  # games open for betting at once on one worker, with room to spare


def register(app: faust.App, pipeline: Pipeline) -> faust.types.AgentT:
    books, anomaly_log = pipeline.tables.odds_book, pipeline.tables.anomalies
    quote_rate, line_moves = pipeline.tables.quote_rate, pipeline.tables.line_moves
    games_topic = pipeline.topics.clean["games"].get_topic_name()
    source = pipeline.topics.merged(
        app, pipeline.topics.clean["games"], pipeline.topics.clean["odds"]
    )

    alerts, metrics = pipeline.topics.alerts, pipeline.metrics
    # A busy game's book is read and written with every batch: kept as objects, the games
    # being quoted cost no decoding.
    stored_books = ValueCache(pipeline.progress, limit=BOOKS_KEPT)

    async def book_batch(batch, checkpoint: Checkpoint) -> None:
        by_game: dict[str, list] = {}
        found: dict[str, tuple] = {}  # league -> (an event of it, the anomalies it revealed)
        for record in batch:
            await checkpoint.turn()
            model = GameEvent if record.message.topic == games_topic else OddsQuote
            event = model.from_clean_json(record.value)
            key = table_key(event.partition_key, event.game_id)
            by_game.setdefault(key, []).append((record, event))
        for key, items in by_game.items():
            book = checkpoint.get(books, key, items[0][0], stored_books)
            quotes, moves = Counter(), Counter()
            for record, event in items:
                await checkpoint.turn()
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
                        await checkpoint.send(
                            alerts,
                            event.partition_key.encode(),
                            alert.to_json(),
                            alert.event_time.timestamp(),
                        )
                        checkpoint.count(
                            metrics.alerts.labels(alert.sport.value, alert.alert_kind.value)
                        )
                    minute = round(record.timestamp * 1000) // MINUTE_MS
                    quotes[minute] += 1
                    moves[minute] += bool(direction)
                for anomaly in new_anomalies(before, book):
                    found.setdefault(event.partition_key, (record, []))[1].append(anomaly)
                    checkpoint.count(metrics.anomalies.labels(event.sport.value, anomaly["kind"]))
            checkpoint.put(books, key, book, items[0][0], stored_books)
            # Counted per game and minute, as an event of that minute.
            first_of_minute = {}
            for record, _ in items:
                first_of_minute.setdefault(round(record.timestamp * 1000) // MINUTE_MS, record)
            for minute, count in quotes.items():
                at = first_of_minute[minute].timed_event()
                checkpoint.add(quote_rate, key, count, at)
                if moves[minute]:
                    checkpoint.add(line_moves, key, moves[minute], at)
        for league, (record, anomalies) in found.items():
            log = logged(checkpoint.get(anomaly_log, league, record), anomalies)
            checkpoint.put(anomaly_log, league, log, record)

    @app.agent(source, name="book-odds")
    async def book_odds(stream):
        await run_batches(stream, pipeline, book_batch)

    return book_odds
