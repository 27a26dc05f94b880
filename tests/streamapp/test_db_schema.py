"""The sink tables' SQL and rows agree with each other and with the migrations."""

from __future__ import annotations

import re

import orjson
import pytest

from schemas import FEEDS
from streamapp.db.migrate import migrations
from streamapp.db.sinks import FEED_SINKS, SINK_TABLES
from tests.schemas.examples import BOXSCORE, GAME, QUOTE

EXAMPLES = {"games": GAME, "odds_quotes": QUOTE, "player_boxscores": BOXSCORE}


def test_migrations_are_numbered_in_order_and_create_every_sink_table():
    found = migrations()
    assert [m.version for m in found] == list(range(1, len(found) + 1))
    schema = "\n".join(m.sql for m in found)
    for table in SINK_TABLES:
        assert re.search(rf"CREATE TABLE {table} \(", schema), table
    assert "CREATE TABLE ingestion_runs (" in schema
    assert "CREATE VIEW closing_lines" in schema
    assert "CREATE VIEW model_performance" in schema


@pytest.mark.parametrize("table", sorted(EXAMPLES))
def test_a_row_has_one_value_per_placeholder(table):
    sink = SINK_TABLES[table]
    row = sink.row_of(orjson.dumps(EXAMPLES[table]))
    assert len(row) == sink.sql.count("%s")


def test_latest_version_wins_only_for_mutable_tables():
    assert "WHERE games.last_event_time <= EXCLUDED.last_event_time" in SINK_TABLES["games"].sql
    assert "SET game_id" not in SINK_TABLES["games"].sql  # the key is never updated
    for table in ("odds_quotes", "predictions", "alerts", "settlements", "dead_letters"):
        assert SINK_TABLES[table].sql.endswith("DO NOTHING")


def test_every_stored_feed_has_a_sink_table():
    assert set(FEED_SINKS) <= set(FEEDS)
    assert set(FEED_SINKS.values()) <= set(SINK_TABLES)


def test_an_unreadable_message_is_refused():
    with pytest.raises(ValueError):
        SINK_TABLES["games"].row_of(b"{not json")


def test_a_batch_keeps_the_row_of_each_key_that_upserting_one_by_one_would_leave():
    games = SINK_TABLES["games"]
    time_at = games.columns.index("last_event_time")

    def game(game_id: str, status: str, at: int) -> tuple:
        row = [None] * len(games.columns)
        row[games.columns.index("game_id")], row[games.columns.index("status")] = game_id, status
        row[time_at] = at
        return tuple(row)

    rows = [game("a", "scheduled", 5), game("b", "scheduled", 1), game("a", "late", 3),
            game("a", "final", 5), game("b", "final", 2)]  # fmt: skip
    # a: the later of the two newest (an equal time replaces, as the upsert's <= does)
    assert games.one_per_key(rows) == [game("a", "final", 5), game("b", "final", 2)]

    quotes = SINK_TABLES["odds_quotes"]  # immutable: the first row of a key stays
    first, again = (("q1", *["x"] * (len(quotes.columns) - 1)), ("q1", *["y"] * 12))
    assert quotes.one_per_key([first, again]) == [first]
