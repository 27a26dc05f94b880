"""What each sink table stores: the model its messages hold, the upsert, the row of an event.

Every upsert is idempotent on the table's natural key, so a redelivered or replayed event
leaves the same row: games and box-score lines keep their latest version by event time;
quotes, predictions, alerts and dead letters are immutable and written once.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import cached_property

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
    """A table the sinks upsert into: one row per natural ``key``, the newest by the time
    column ``latest_by`` where a newer version replaces the row, else the first one written.

    A batch is copied into a staging table of the connection (COPY: the driver formats the
    rows in C, a third of the CPU of one INSERT per row) and merged with one INSERT …
    SELECT … ON CONFLICT; ``sql`` upserts a single row (a batch PostgreSQL refuses is
    written row by row, to find the row it refuses)."""

    name: str
    model: type[BaseModel]
    columns: tuple[str, ...]
    key: tuple[str, ...]
    row: Callable[[BaseModel], tuple]
    latest_by: str | None = None

    def row_of(self, payload: bytes) -> tuple:
        # Events on the clean and output topics were validated where they entered:
        # decoded, not checked again. A dead letter is not such an event.
        if issubclass(self.model, Event):
            return self.row(self.model.from_clean_json(payload))
        return self.row(self.model.model_validate_json(payload))

    @cached_property
    def _conflict(self) -> str:
        keys = ", ".join(self.key)
        if self.latest_by is None:
            return f"({keys}) DO NOTHING"
        updates = ", ".join(f"{c} = EXCLUDED.{c}" for c in self.columns if c not in self.key)
        newer = f"{self.name}.{self.latest_by} <= EXCLUDED.{self.latest_by}"
        return f"({keys}) DO UPDATE SET {updates} WHERE {newer}"

    @cached_property
    def sql(self) -> str:
        """Upsert one row (``%s`` placeholders in ``columns`` order)."""
        placeholders = ", ".join(["%s"] * len(self.columns))
        return (
            f"INSERT INTO {self.name} ({', '.join(self.columns)}) VALUES ({placeholders}) "
            f"ON CONFLICT {self._conflict}"
        )

    @cached_property
    def stage_sql(self) -> str:
        """The connection's staging table, emptied by every commit."""
        return (
            f"CREATE TEMP TABLE IF NOT EXISTS stage_{self.name} ON COMMIT DELETE ROWS AS "
            f"SELECT {', '.join(self.columns)} FROM {self.name} WITH NO DATA"
        )

    @cached_property
    def copy_sql(self) -> str:
        return f"COPY stage_{self.name} ({', '.join(self.columns)}) FROM STDIN"

    @cached_property
    def merge_sql(self) -> str:
        """Upsert the staged rows (``one_per_key``: ON CONFLICT DO UPDATE may not meet one
        key twice in a statement)."""
        columns = ", ".join(self.columns)
        return (
            f"INSERT INTO {self.name} ({columns}) SELECT {columns} FROM stage_{self.name} "
            f"ON CONFLICT {self._conflict}"
        )

    def one_per_key(self, rows: Sequence[tuple]) -> list[tuple]:
        """The row of each key that upserting ``rows`` one after another would leave: the
        first, or (``latest_by``) the last of those with the newest time."""
        positions = [self.columns.index(k) for k in self.key]
        time_at = None if self.latest_by is None else self.columns.index(self.latest_by)
        kept: dict[tuple, tuple] = {}
        for row in rows:
            key = tuple(row[i] for i in positions)
            known = kept.get(key)
            if known is None or (time_at is not None and known[time_at] <= row[time_at]):
                kept[key] = row
        return list(kept.values())


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
        _json(d.headers_b64),
    )


def _columns(names: str) -> tuple[str, ...]:
    return tuple(name.strip() for name in names.split(","))


SINK_TABLES: dict[str, SinkTable] = {
    table.name: table
    for table in (
        SinkTable(
            "games",
            GameEvent,
            _columns(
                "game_id, sport, league, season, home_team, away_team, start_time, status, "
                "home_score, away_score, game_type, stats, last_event_id, last_event_time"
            ),
            ("game_id",),
            _game_row,
            latest_by="last_event_time",
        ),
        SinkTable(
            "odds_quotes",
            OddsQuote,
            _columns(
                "event_id, game_id, sport, league, bookmaker, market, selection, line, player, "
                "stat, price_decimal, price_american, quote_time"
            ),
            ("event_id",),
            _quote_row,
        ),
        SinkTable(
            "player_boxscores",
            PlayerBoxScore,
            _columns(
                "game_id, player_id, sport, league, team, opponent, player_name, starter, "
                "dnp_reason, minutes, line, event_time"
            ),
            ("game_id", "player_id"),
            _boxscore_row,
            latest_by="event_time",
        ),
        SinkTable(
            "predictions",
            Prediction,
            _columns(
                "event_id, game_id, sport, league, model, model_version, as_of, start_time, "
                "home_team, away_team, p_home, p_draw, p_away, inputs, lines"
            ),
            ("event_id",),
            _prediction_row,
        ),
        SinkTable(
            "alerts",
            Alert,
            _columns(
                "alert_id, alert_kind, game_id, sport, league, market, selection, bookmaker, "
                "price_decimal, model_probability, edge, stake_fraction, model_version, detail, "
                "event_time, line, market_probability"
            ),
            ("alert_id",),
            _alert_row,
        ),
        SinkTable(
            "settlements",
            Settlement,
            _columns(
                "settlement_id, kind, ref_id, game_id, sport, league, model, model_version, "
                "brier, log_loss, profit, clv, clv_same_book, settled_at"
            ),
            ("settlement_id",),
            _settlement_row,
        ),
        SinkTable(
            "dead_letters",
            DeadLetter,
            _columns(
                'stage, source_topic, partition, "offset", item, reason, error_type, key, '
                "key_bytes, payload, received_at, replay_of, headers"
            ),
            ("stage", "source_topic", "partition", '"offset"', "item"),
            _dead_letter_row,
        ),
    )
}

# The sink table of each clean feed (injuries and lineups are kept in the stream's tables).
FEED_SINKS = {"games": "games", "odds": "odds_quotes", "boxscores": "player_boxscores"}
