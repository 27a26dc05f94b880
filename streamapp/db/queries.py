"""Read queries served by the web view from PostgreSQL, and the dead letters the
`streamapp deadletters` command selects."""

from __future__ import annotations

import base64
from typing import Any

import orjson
from psycopg.rows import dict_row

from schemas.deadletter import DeadLetter

TEAM_GAMES = """
SELECT game_id, season, start_time, status, home_team, away_team, home_score, away_score,
       CASE WHEN home_team = %(team)s THEN 'home' ELSE 'away' END AS venue
FROM games
WHERE league = %(league)s AND (home_team = %(team)s OR away_team = %(team)s)
ORDER BY start_time DESC
LIMIT %(limit)s OFFSET %(offset)s
"""

GAME = "SELECT * FROM games WHERE game_id = %(game_id)s"

GAME_ODDS = """
SELECT bookmaker, market, selection, line, NULLIF(player, '') AS player, NULLIF(stat, '') AS stat,
       price_decimal, price_american, quote_time
FROM odds_quotes
WHERE game_id = %(game_id)s
ORDER BY market, bookmaker, selection, quote_time
"""

GAME_CLOSING = """
SELECT bookmaker, market, selection, line, price_decimal, price_american, quote_time
FROM closing_lines WHERE game_id = %(game_id)s
ORDER BY market, bookmaker, selection
"""

# Each model's last pregame prediction of each finished game, scored per month.
PERFORMANCE = """
WITH last_pregame AS (
    SELECT DISTINCT ON (p.game_id, p.model, p.model_version)
           p.game_id, p.model, p.model_version, p.sport, p.league, p.p_home, p.p_draw, p.p_away,
           g.start_time, g.home_score, g.away_score
    FROM predictions p
    JOIN games g USING (game_id)
    WHERE g.status = 'final' AND p.as_of <= g.start_time
      AND (%(model)s::text IS NULL OR p.model = %(model)s)
      AND (%(model_version)s::text IS NULL OR p.model_version = %(model_version)s)
      AND (%(sport)s::text IS NULL OR p.sport = %(sport)s)
      AND (%(league)s::text IS NULL OR p.league = %(league)s)
    ORDER BY p.game_id, p.model, p.model_version, p.as_of DESC
), scored AS (
    SELECT model, model_version, sport, league,
           date_trunc('month', start_time)::date AS period,
           -- binary Brier without draws; summed over home/draw/away with them
           CASE WHEN p_draw IS NULL THEN (p_home - (home_score > away_score)::int) ^ 2
                ELSE (p_home - (home_score > away_score)::int) ^ 2
                   + (p_draw - (home_score = away_score)::int) ^ 2
                   + (p_away - (home_score < away_score)::int) ^ 2
           END AS brier,
           -ln(greatest(CASE WHEN home_score > away_score THEN p_home
                             WHEN home_score < away_score THEN p_away
                             ELSE coalesce(p_draw, 0.5) END, 1e-12)) AS log_loss
    FROM last_pregame
)
SELECT model, model_version, sport, league, period, count(*) AS n,
       avg(brier) AS brier, avg(log_loss) AS log_loss
FROM scored
GROUP BY model, model_version, sport, league, period
ORDER BY model, model_version, sport, league, period
"""

# Newest first, of every league or of one (sport and league both given, or neither).
RECENT_PREDICTIONS = """
SELECT event_id, game_id, sport, league, model_version, as_of, start_time, home_team,
       away_team, p_home, p_draw, p_away
FROM predictions
WHERE %(league)s::text IS NULL OR (sport = %(sport)s AND league = %(league)s)
ORDER BY as_of DESC, event_id LIMIT %(limit)s OFFSET %(offset)s
"""

RECENT_ALERTS = """
SELECT alert_id, alert_kind, game_id, sport, league, market, selection, bookmaker,
       price_decimal, edge, event_time, detail
FROM alerts
WHERE %(league)s::text IS NULL OR (sport = %(sport)s AND league = %(league)s)
ORDER BY event_time DESC, alert_id LIMIT %(limit)s OFFSET %(offset)s
"""

# The leagues PostgreSQL holds games of, for the dashboard's league list.
LEAGUES = "SELECT DISTINCT sport, league FROM games ORDER BY sport, league"

# The indexed part of a selection; streamapp.deadletters applies the rest.
DEAD_LETTERS = """
SELECT stage, source_topic, partition, "offset", item, reason, error_type, key, key_bytes,
       payload, received_at, replay_of, headers
FROM dead_letters
WHERE (%(since)s::timestamptz IS NULL OR received_at >= %(since)s)
  AND (%(until)s::timestamptz IS NULL OR received_at < %(until)s)
  AND (%(error_types)s::text[] IS NULL OR error_type = ANY(%(error_types)s))
  AND (%(stages)s::text[] IS NULL OR stage = ANY(%(stages)s))
ORDER BY received_at, stage, source_topic, partition, "offset", item
"""


def dead_letter_of_row(row: tuple) -> DeadLetter:
    """A row of DEAD_LETTERS as the letter the topic holds (text columns as stored: printable)."""
    (
        stage,
        topic,
        partition,
        offset,
        item,
        reason,
        error_type,
        key,
        key_bytes,
        payload,
        received,
        replay_of,
        headers,
    ) = row
    return DeadLetter(
        stage=stage,
        source_topic=topic,
        partition=partition,
        offset=offset,
        item=None if item < 0 else item,
        reason=reason,
        error_type=error_type,
        key=key,
        key_b64=base64.b64encode(key_bytes).decode() if key_bytes is not None else None,
        payload_b64=base64.b64encode(payload).decode(),
        # PostgreSQL gives the jsonb decoded; a row the sink made holds its text
        headers_b64=[
            tuple(pair) for pair in (orjson.loads(headers) if isinstance(headers, str) else headers)
        ],
        received_at=received,
        replay_of=replay_of,
    )


async def fetch_all(pool, sql: str, params: dict[str, Any]) -> list[dict[str, Any]]:
    async with pool.connection() as conn, conn.cursor(row_factory=dict_row) as cursor:
        await cursor.execute(sql, params)
        return await cursor.fetchall()
