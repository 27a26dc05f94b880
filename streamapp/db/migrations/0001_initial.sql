-- Cold storage of everything the stream sees and says. Every table has a natural key, so
-- every write is an idempotent upsert: replays and redeliveries leave the same rows.

CREATE TABLE games (
    game_id          text PRIMARY KEY,
    sport            text        NOT NULL,
    league           text        NOT NULL,
    season           text        NOT NULL,
    home_team        text        NOT NULL,
    away_team        text        NOT NULL,
    start_time       timestamptz NOT NULL,
    status           text        NOT NULL,
    home_score       integer,
    away_score       integer,
    game_type        text        NOT NULL,
    stats            jsonb       NOT NULL DEFAULT '{}',
    last_event_id    text        NOT NULL,
    last_event_time  timestamptz NOT NULL
);
CREATE INDEX games_home_team ON games (league, home_team, start_time DESC);
CREATE INDEX games_away_team ON games (league, away_team, start_time DESC);
CREATE INDEX games_start ON games (sport, start_time);

-- Every quote, as it arrived.
CREATE TABLE odds_quotes (
    event_id        text PRIMARY KEY,
    game_id         text             NOT NULL,
    sport           text             NOT NULL,
    league          text             NOT NULL,
    bookmaker       text             NOT NULL,
    market          text             NOT NULL,
    selection       text             NOT NULL,
    line            double precision,
    player          text             NOT NULL DEFAULT '',
    stat            text             NOT NULL DEFAULT '',
    price_decimal   double precision NOT NULL,
    price_american  integer          NOT NULL,
    quote_time      timestamptz      NOT NULL
);
CREATE INDEX odds_quotes_history
    ON odds_quotes (game_id, market, bookmaker, selection, player, stat, quote_time DESC);

-- The closing line: each bookmaker's last quote at or before the start of the game.
CREATE VIEW closing_lines AS
SELECT DISTINCT ON (q.game_id, q.bookmaker, q.market, q.selection, q.player, q.stat)
       q.game_id, q.bookmaker, q.market, q.selection, q.player, q.stat, q.line,
       q.price_decimal, q.price_american, q.quote_time, q.event_id
FROM odds_quotes q
JOIN games g USING (game_id)
WHERE q.quote_time <= g.start_time
ORDER BY q.game_id, q.bookmaker, q.market, q.selection, q.player, q.stat, q.quote_time DESC;

CREATE TABLE player_boxscores (
    game_id      text    NOT NULL,
    player_id    text    NOT NULL,
    sport        text    NOT NULL,
    league       text    NOT NULL,
    team         text    NOT NULL,
    opponent     text,
    player_name  text    NOT NULL,
    starter      boolean NOT NULL,
    dnp_reason   text,
    minutes      double precision NOT NULL,
    line         jsonb   NOT NULL,
    event_time   timestamptz NOT NULL,
    PRIMARY KEY (game_id, player_id)
);
CREATE INDEX player_boxscores_player ON player_boxscores (player_id, event_time DESC);

CREATE TABLE predictions (
    event_id       text PRIMARY KEY,
    game_id        text             NOT NULL,
    sport          text             NOT NULL,
    league         text             NOT NULL,
    model          text             NOT NULL,
    model_version  text             NOT NULL,
    as_of          timestamptz      NOT NULL,
    start_time     timestamptz      NOT NULL,
    home_team      text             NOT NULL,
    away_team      text             NOT NULL,
    p_home         double precision NOT NULL,
    p_draw         double precision,
    p_away         double precision NOT NULL,
    inputs         jsonb            NOT NULL DEFAULT '{}'
);
CREATE INDEX predictions_game ON predictions (game_id, model_version, as_of DESC);
CREATE INDEX predictions_model ON predictions (model_version, sport, league, start_time);

CREATE TABLE alerts (
    alert_id           text PRIMARY KEY,
    alert_kind         text             NOT NULL,
    game_id            text             NOT NULL,
    sport              text             NOT NULL,
    league             text             NOT NULL,
    market             text             NOT NULL,
    selection          text             NOT NULL,
    bookmaker          text,
    price_decimal      double precision,
    model_probability  double precision,
    edge               double precision,
    stake_fraction     double precision,
    model_version      text             NOT NULL,
    detail             text             NOT NULL DEFAULT '',
    event_time         timestamptz      NOT NULL
);
CREATE INDEX alerts_game ON alerts (game_id, event_time);

-- One row per settled prediction or alert (written by the settlement stage).
CREATE TABLE settlements (
    settlement_id   text PRIMARY KEY,
    kind            text             NOT NULL CHECK (kind IN ('prediction', 'alert')),
    ref_id          text             NOT NULL,
    game_id         text             NOT NULL,
    sport           text             NOT NULL,
    league          text             NOT NULL,
    model_version   text             NOT NULL,
    brier           double precision,
    log_loss        double precision,
    profit          double precision,
    clv             double precision,
    settled_at      timestamptz      NOT NULL
);
CREATE INDEX settlements_model ON settlements (model_version, sport, league, settled_at);

CREATE TABLE model_performance (
    model_version  text             NOT NULL,
    sport          text             NOT NULL,
    league         text             NOT NULL,
    period         date             NOT NULL,
    n              integer          NOT NULL,
    brier          double precision,
    log_loss       double precision,
    roi            double precision,
    clv            double precision,
    PRIMARY KEY (model_version, sport, league, period)
);

CREATE TABLE dead_letters (
    source_topic  text        NOT NULL,
    partition     integer     NOT NULL,
    "offset"      bigint      NOT NULL,
    reason        text        NOT NULL,
    error_type    text        NOT NULL,
    key           text,
    payload       bytea       NOT NULL,
    received_at   timestamptz NOT NULL,
    PRIMARY KEY (source_topic, partition, "offset")
);
CREATE INDEX dead_letters_type ON dead_letters (error_type, received_at);

CREATE TABLE ingestion_runs (
    run_id          text PRIMARY KEY,
    source          text        NOT NULL,
    job             text        NOT NULL,
    status          text        NOT NULL
                    CHECK (status IN ('running', 'succeeded', 'failed', 'interrupted')),
    -- Events of the job consumed in order, written in the same transaction as their rows:
    -- a resumed run starts here.
    position        bigint      NOT NULL DEFAULT 0,
    resumed_from    text,
    rows_processed  bigint      NOT NULL DEFAULT 0,
    rows_failed     bigint      NOT NULL DEFAULT 0,
    started_at      timestamptz NOT NULL DEFAULT now(),
    finished_at     timestamptz,
    duration_s      double precision,
    error           text
);
CREATE INDEX ingestion_runs_job ON ingestion_runs (job, started_at DESC);
