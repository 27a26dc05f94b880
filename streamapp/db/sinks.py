"""What each sink table stores: the model its messages hold, the upsert, the row of an event.

Every upsert is idempotent on the table's natural key, so a redelivered or replayed event
leaves the same row: games and box-score lines keep their latest version by event time;
quotes, predictions, alerts and dead letters are immutable and written once.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import orjson
from pydantic import BaseModel

from schemas import (
    Alert,
    DeadLetter,
    Event,
    GameEvent,
    OddsQuote,
    PlayerBoxScore,
    Prediction,
    Settlement,
)

BOX_SCORE_STATS = (
    "fgm", "fga", "fg3m", "fg3a", "ftm", "fta", "oreb", "dreb", "reb",
    "ast", "stl", "blk", "tov", "pf", "pts", "plus_minus",
)  # fmt: skip


@dataclass(frozen=True)
class SinkTable:
    name: str
    model: type[BaseModel]
    sql: str
    row: Callable[[BaseModel], tuple]

    def row_of(self, payload: bytes) -> tuple:
        # Events on the clean and output topics were validated where they entered:
        # decoded, not checked again. A dead letter is not such an event.
        if issubclass(self.model, Event):
            return self.row(self.model.from_clean_json(payload))
        return self.row(self.model.model_validate_json(payload))


def _json(value) -> str:
    return orjson.dumps(value).decode()


def _game_row(g: GameEvent) -> tuple:
    return (
        g.game_id,
        g.sport.value,
        g.league,
        g.season,
        g.home_team,
        g.away_team,
        g.start_time,
        g.status.value,
        g.home_score,
        g.away_score,
        g.game_type,
        _json(g.stats),
        g.event_id,
        g.event_time,
    )


def _quote_row(q: OddsQuote) -> tuple:
    return (
        q.event_id,
        q.game_id,
        q.sport.value,
        q.league,
        q.bookmaker,
        q.market.value,
        q.selection,
        q.line,
        q.player or "",
        q.stat or "",
        q.price_decimal,
        q.price_american,
        q.event_time,
    )


def _boxscore_row(b: PlayerBoxScore) -> tuple:
    line = {stat: getattr(b, stat) for stat in BOX_SCORE_STATS}
    return (
        b.game_id,
        b.player_id,
        b.sport.value,
        b.league,
        b.team,
        b.opponent,
        b.player_name,
        b.starter,
        b.dnp_reason,
        b.minutes,
        _json(line),
        b.event_time,
    )


def _prediction_row(p: Prediction) -> tuple:
    return (
        p.event_id,
        p.game_id,
        p.sport.value,
        p.league,
        p.model,
        p.model_version,
        p.event_time,
        p.start_time,
        p.home_team,
        p.away_team,
        p.p_home,
        p.p_draw,
        p.p_away,
        _json(p.inputs),
        _json(p.lines),
    )


def _alert_row(a: Alert) -> tuple:
    return (
        a.event_id,
        a.alert_kind.value,
        a.game_id,
        a.sport.value,
        a.league,
        a.market,
        a.selection,
        a.bookmaker,
        a.price_decimal,
        a.model_probability,
        a.edge,
        a.stake_fraction,
        a.model_version,
        a.detail,
        a.event_time,
        a.line,
        a.market_probability,
    )


def _settlement_row(s: Settlement) -> tuple:
    return (
        s.event_id,
        s.settled.value,
        s.ref_id,
        s.game_id,
        s.sport.value,
        s.league,
        s.model,
        s.model_version,
        s.brier,
        s.log_loss,
        s.profit,
        s.clv,
        s.clv_same_book,
        s.event_time,
    )


def _dead_letter_row(d: DeadLetter) -> tuple:
    """The model keeps text printable (PostgreSQL text cannot hold NUL); the key's and the
    payload's exact bytes go to bytea columns."""
    return (
        d.stage,
        d.source_topic,
        d.partition,
        d.offset,
        -1 if d.item is None else d.item,
        d.reason,
        d.error_type,
        d.key,
        d.key_bytes if d.key_b64 is not None else None,
        d.payload,
        d.received_at,
        d.replay_of,
    )


def _insert(table: str, columns: str, conflict: str) -> str:
    names = [c.strip() for c in columns.split(",")]
    placeholders = ", ".join(["%s"] * len(names))
    return f"INSERT INTO {table} ({columns}) VALUES ({placeholders}) ON CONFLICT {conflict}"


def _latest_wins(key: str, columns: str, time_column: str, table: str) -> str:
    """ON CONFLICT clause that keeps the version with the latest event time."""
    keys = {k.strip() for k in key.split(",")}
    updates = ", ".join(
        f"{c} = EXCLUDED.{c}" for c in (c.strip() for c in columns.split(",")) if c not in keys
    )
    return f"({key}) DO UPDATE SET {updates} WHERE {table}.{time_column} <= EXCLUDED.{time_column}"


GAME_COLUMNS = (
    "game_id, sport, league, season, home_team, away_team, start_time, status, home_score, "
    "away_score, game_type, stats, last_event_id, last_event_time"
)
BOXSCORE_COLUMNS = (
    "game_id, player_id, sport, league, team, opponent, player_name, starter, dnp_reason, "
    "minutes, line, event_time"
)
DEAD_LETTER_COLUMNS = (
    'stage, source_topic, partition, "offset", item, reason, error_type, key, key_bytes, '
    "payload, received_at, replay_of"
)

SINK_TABLES: dict[str, SinkTable] = {
    table.name: table
    for table in (
        SinkTable(
            "games",
            GameEvent,
            _insert(
                "games",
                GAME_COLUMNS,
                _latest_wins("game_id", GAME_COLUMNS, "last_event_time", "games"),
            ),
            _game_row,
        ),
        SinkTable(
            "odds_quotes",
            OddsQuote,
            _insert(
                "odds_quotes",
                "event_id, game_id, sport, league, bookmaker, market, selection, line, player, "
                "stat, price_decimal, price_american, quote_time",
                "(event_id) DO NOTHING",
            ),
            _quote_row,
        ),
        SinkTable(
            "player_boxscores",
            PlayerBoxScore,
            _insert(
                "player_boxscores",
                BOXSCORE_COLUMNS,
                _latest_wins(
                    "game_id, player_id", BOXSCORE_COLUMNS, "event_time", "player_boxscores"
                ),
            ),
            _boxscore_row,
        ),
        SinkTable(
            "predictions",
            Prediction,
            _insert(
                "predictions",
                "event_id, game_id, sport, league, model, model_version, as_of, start_time, "
                "home_team, away_team, p_home, p_draw, p_away, inputs, lines",
                "(event_id) DO NOTHING",
            ),
            _prediction_row,
        ),
        SinkTable(
            "alerts",
            Alert,
            _insert(
                "alerts",
                "alert_id, alert_kind, game_id, sport, league, market, selection, bookmaker, "
                "price_decimal, model_probability, edge, stake_fraction, model_version, detail, "
                "event_time, line, market_probability",
                "(alert_id) DO NOTHING",
            ),
            _alert_row,
        ),
        SinkTable(
            "settlements",
            Settlement,
            _insert(
                "settlements",
                "settlement_id, kind, ref_id, game_id, sport, league, model, model_version, "
                "brier, log_loss, profit, clv, clv_same_book, settled_at",
                "(settlement_id) DO NOTHING",
            ),
            _settlement_row,
        ),
        SinkTable(
            "dead_letters",
            DeadLetter,
            _insert(
                "dead_letters",
                DEAD_LETTER_COLUMNS,
                '(stage, source_topic, partition, "offset", item) DO NOTHING',
            ),
            _dead_letter_row,
        ),
    )
}

# The sink table of each clean feed (injuries and lineups are kept in the stream's tables).
FEED_SINKS = {"games": "games", "odds": "odds_quotes", "boxscores": "player_boxscores"}
