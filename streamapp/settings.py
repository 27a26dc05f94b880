"""All settings, read once from the environment (prefix ``STREAMAPP_``; ``DATABASE_URL`` as is)."""

from __future__ import annotations

import socket
from datetime import UTC, datetime
from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import AliasChoices, Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

PROJECT_ROOT = Path(__file__).resolve().parent.parent


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="STREAMAPP_", extra="ignore")

    # Kafka and faust
    app_id: str = Field("streamapp", description="Faust app id: consumer group and table prefix.")
    broker: str = Field("kafka://127.0.0.1:9092", description="Kafka bootstrap URL(s).")
    topic_prefix: str = Field("sports", description="Prefix of every topic the app uses.")
    topic_partitions: int = Field(4, ge=1, description="Partitions of the topics the app creates.")
    processing_guarantee: Literal["at_least_once", "exactly_once"] = Field(
        "at_least_once",
        description="Faust processing guarantee: at_least_once, or exactly_once (Kafka "
        "transactions; runs, but see README: an idle worker may leave its last offsets "
        "uncommitted).",
    )
    max_message_bytes: int = Field(
        16 * 1024 * 1024,
        ge=1024 * 1024,
        description="Largest message the app produces (and the embedded broker accepts): a "
        "league's table value carries the events waiting for the slower feed, which in a "
        "fast replay of a whole season can pass Kafka's default of 1 MB.",
    )
    window_cleanup_seconds: float = Field(
        30.0,
        gt=0,
        description="How often faust removes expired per-minute windows. Faust compares a "
        "window with the wall clock, so the windows of a replayed season go at the next "
        "cleanup.",
    )
    store: str = Field("rocksdb://", description="Faust table store (rocksdb:// or memory://).")
    state_dir: Path = Field(
        PROJECT_ROOT / "var" / "state", description="Faust data dir (RocksDB tables)."
    )
    session_timeout: float = Field(
        10.0, gt=0, description="Seconds without heartbeats before a worker's partitions move."
    )
    producer_linger_seconds: float = Field(
        0.0,
        ge=0,
        description="How long a worker's producer waits to fill a batch before sending it. "
        "It sends one request at a time per broker, so what comes while one is out still "
        "leaves together; 2 ms added ~2 ms to a live quote's p50 and did not change the "
        "replay's events/s.",
    )
    producer_compression: Literal["zstd", "lz4", "snappy", "gzip", "none"] = Field(
        "zstd",
        description="Compression of everything a worker produces (clean events, outputs, "
        "dead letters, table changelogs), batch by batch; consumers decompress whatever they "
        "fetch. The raw topics `streamapp connect` and `streamapp replay` write stay as they "
        "are. zstd kept a replayed season's changelogs and clean topics 8x smaller on the "
        "broker (outputs 3x); its CPU (by py-spy ~3 % of a replaying worker's main thread, "
        "~4.5 % live) was within the spread of whole runs.",
    )
    producer_batch_bytes: int = Field(
        512 * 1024, ge=1024, description="Largest batch a worker's producer sends per partition."
    )
    web_host: str = Field("127.0.0.1", description="Host the worker's web server binds.")
    web_advertised_host: str | None = Field(
        None,
        description="Host other workers reach this one at (table routing); default: the bind "
        "host, or this machine's hostname when binding 0.0.0.0 (one per container replica).",
    )
    web_port: int = Field(6066, description="Port of the worker's web server.")
    log_level: str = Field("info", description="Logging level of workers and commands.")

    event_time_earliest: datetime = Field(
        datetime(1990, 1, 1, tzinfo=UTC),
        description="Ingest refuses (invalid_value) events whose event time is earlier.",
    )
    event_time_max_ahead_seconds: float = Field(
        900.0,
        ge=0,
        le=3000,
        description="Ingest refuses (invalid_value) events whose event time is more than this "
        "ahead of the worker's clock. Kept under the broker's limit on message timestamps "
        "(log.message.timestamp.after.max.ms, 1 h): a clean event carries its event time.",
    )

    ingest_batch_size: int = Field(
        1000, ge=1, description="Raw messages an ingest agent takes at most per batch."
    )
    ingest_batch_seconds: float = Field(
        0.01,
        gt=0,
        description="Longest an agent keeps taking messages that are already waiting into "
        "one batch; a batch is taken as soon as none waits, so it adds no wait to an event "
        "that comes to an idle agent.",
    )

    fetch_max_wait_ms: int = Field(
        500,
        ge=1,
        description="Longest the broker holds a fetch that finds nothing new (faust's 1,500 ms; "
        "each empty answer costs the consumer ~2 ms of CPU).",
    )
    fetch_hold_seconds: float = Field(
        1.0,
        gt=0,
        description="How long fetched messages may wait for the worker to take them before the "
        "consumer fetches the other partitions without theirs. That fetch is held by the "
        "broker until something comes on those partitions, and the waiting partition is "
        "fetched again only after it: at aiokafka's 0.1 s, live quotes came in bursts every "
        "1-2 s. A partition the worker does not take (its stream's buffer is full) holds "
        "every fetch back this long.",
    )

    fetch_partition_max_bytes: int = Field(
        256 * 1024,
        ge=1024,
        description="Most one fetch brings of one partition (faust's 1 MiB). A replaying "
        "worker's fetched messages wait in memory for its agents, and the memory stays with "
        "the process: at 1 MiB its peak RSS was 370-520 MB, at 256 KiB 305-330 MB. Larger "
        "messages still arrive (seen on the embedded broker with 400 KiB and 1.5 MiB ones).",
    )

    full_collection_every: int = Field(
        100,
        ge=1,
        description="Young garbage collections between two full ones in a worker "
        "(CPython's default: 10). A full collection walks every object alive, a season's "
        "state included: 40-130 ms each, dozens during a replay; young collections are "
        "left as they are.",
    )

    stall_seconds: float = Field(
        30.0,
        gt=0,
        description="An agent retrying the same batch this long (broker or network away) "
        "makes the worker answer 503 on /ready, with the agent and the error.",
    )

    sink_enabled: bool = Field(True, description="Workers write topics to PostgreSQL.")
    sink_batch_size: int = Field(2000, ge=1, description="Rows a sink writes at most per batch.")
    sink_batch_seconds: float = Field(
        0.5, gt=0, description="Longest wait for a sink batch to fill before it is written."
    )

    # Data
    data_dir: Path = Field(
        PROJECT_ROOT.parent / "shared" / "data",
        description="Folder of the real historical data (football-data, moneylines, box scores).",
    )

    # Embedded stack
    stack_dir: Path = Field(
        PROJECT_ROOT / ".stack", description="Kafka jars, broker and PostgreSQL data and logs."
    )
    kafka_version: str = Field("4.0.2", description="Apache Kafka version fetched from Maven.")
    kafka_port: int = Field(9092, description="Port of the embedded Kafka broker.")
    kafka_controller_port: int = Field(9093, description="KRaft controller port.")
    kafka_heap: str = Field(
        "1g",
        description="Java heap of the embedded broker (G1 with the settings of Kafka's own "
        "start script: a 20 ms pause goal).",
    )
    postgres_port: int = Field(5433, description="Port of the embedded PostgreSQL.")
    database_url: str | None = Field(
        None,
        validation_alias=AliasChoices("DATABASE_URL", "STREAMAPP_DATABASE_URL"),
        description="PostgreSQL URL; when unset the embedded server is used.",
    )

    # Ratings and predictions
    prediction_min_change: float = Field(
        0.005,
        ge=0,
        description="A prediction is re-emitted only when a probability moves this much.",
    )
    alert_on_outlier_prices: bool = Field(
        False,
        description="Let a price that is a lone outlier against the other books' consensus "
        "for the same selection (robust z, tables.anomalies) make a value alert; by default "
        "such a price is passed over: it is more often a feed error than a gift.",
    )
    merge_max_wait_seconds: float = Field(
        300.0,
        gt=0,
        description="Seconds a league's game/odds events wait for the slower feed (or a "
        "replayed quote for the rest of its instant) before they are applied anyway (a "
        "stopped feed must not hold predictions back forever).",
    )
    idle_input_seconds: float = Field(
        0.2,
        ge=0,
        description="An input partition the agent has read to its end, with nothing new for "
        "this long, is idle: it holds no other feed's live events back (a live quote does not "
        "wait for a quiet games feed). Covers a producer whose topics reach the broker a moment "
        "apart.",
    )
    live_window_seconds: float = Field(
        3600.0,
        gt=0,
        description="An event whose event time is within this long of now is live: it waits "
        "for no idle input, and its outputs leave without waiting for the rest of its batch. "
        "An older one (a replay, a backlog after downtime) never passes an idle input: it "
        "waits for the other feed's events or watermark, so its order is the offline one.",
    )
    commit_interval_seconds: float = Field(
        0.25,
        ge=0,
        description="How often an agent stores its state and acknowledges what it read "
        "(0: after every batch). Outputs are sent with each batch; a busy key (a live game's "
        "odds book) is written once per interval, not once per batch. A worker that dies "
        "reads up to this much again, and sends its outputs again with the same ids.",
    )
    offset_commit_seconds: float = Field(
        0.5,
        gt=0,
        description="How often a worker commits to the broker the offsets its agents "
        "acknowledged (faust's broker_commit_interval; faust's default: 2.8 s). A worker "
        "that dies reads up to this much again, on top of the commit interval, and the "
        "consumer lag trails what was processed by as much: a caught-up worker shows lag 0 "
        "only after its next commit. Under exactly_once it is how often transactions commit.",
    )
    tick_seconds: float = Field(
        0.05,
        gt=0,
        description="How often an agent that holds events back checks, without a new message, "
        "whether an input went idle or an event waited merge_max_wait_seconds.",
    )
    model_params_file: Path | None = Field(
        None,
        description="A model version (JSON) to publish and activate at worker start, unless "
        "the control topic already has it.",
    )

    # Live connectors (`streamapp connect`)
    odds_api_key: SecretStr | None = Field(
        None,
        validation_alias=AliasChoices("ODDS_API_KEY", "STREAMAPP_ODDS_API_KEY"),
        description="The Odds API key (a secret: never logged, never in a metric or an error).",
    )
    odds_api_url: str = Field(
        "https://api.the-odds-api.com", description="Base URL of The Odds API v4."
    )
    odds_api_sports: list[str] | None = Field(
        None,
        description="The Odds API sport keys polled (JSON list; unset: every followed league).",
    )
    odds_api_regions: str = Field("us,uk,eu", description="The Odds API `regions` asked for.")
    odds_api_markets: str = Field(
        "h2h,spreads,totals",
        description="The Odds API `markets` asked for (cost: markets x regions).",
    )
    odds_api_odds_format: Literal["decimal", "american"] = Field(
        "decimal", description="The Odds API `oddsFormat` asked for."
    )
    odds_api_interval_seconds: float = Field(
        300.0, gt=0, description="Seconds between two polls of one sport's odds."
    )
    odds_api_scores_interval_seconds: float = Field(
        120.0, gt=0, description="Seconds between two polls of one sport's scores."
    )
    odds_api_requests_per_second: float = Field(
        1.0, gt=0, description="Most requests per second to The Odds API, all feeds together."
    )
    odds_api_quota_reserve: int = Field(
        10,
        ge=0,
        description="Requests of the monthly quota kept back: polling slows down so that the "
        "rest lasts until the reset, and stops at this many.",
    )
    odds_api_quota_reset_day: int = Field(
        1, ge=1, le=31, description="Day of the month (UTC) The Odds API quota resets."
    )
    espn_url: str = Field("https://site.api.espn.com", description="Base URL of ESPN's site API.")
    espn_leagues: list[str] | None = Field(
        None,
        description="ESPN league paths whose scoreboards are polled (JSON list; unset: every "
        "followed league).",
    )
    espn_scoreboard_interval_seconds: float = Field(
        30.0, gt=0, description="Seconds between two polls of one ESPN scoreboard."
    )
    espn_summary_interval_seconds: float = Field(
        60.0,
        gt=0,
        description="Seconds between two polls of a game's ESPN summary (lineups, injuries, box "
        "score), for games in progress or starting within espn_summary_lead_seconds.",
    )
    espn_summary_lead_seconds: float = Field(
        7200.0, ge=0, description="How long before its start a game's summary is followed."
    )
    espn_requests_per_second: float = Field(
        2.0, gt=0, description="Most requests per second to ESPN, all feeds together."
    )
    nba_injury_report_url: str = Field(
        "https://ak-static.cms.nba.com/referee/injury",
        description="Folder of the NBA's official injury report PDFs.",
    )
    nba_injury_report_interval_seconds: float = Field(
        900.0, gt=0, description="Seconds between two looks for a newer NBA injury report."
    )
    connect_metrics_port: int = Field(
        6067, description="Port of `streamapp connect`'s Prometheus metrics (/metrics)."
    )
    connector_timeout_seconds: float = Field(10.0, gt=0, description="Timeout of one request.")
    connector_max_attempts: int = Field(
        4, ge=1, description="Attempts per poll (backoff with jitter; Retry-After honoured)."
    )
    connector_backoff_max_seconds: float = Field(
        60.0, gt=0, description="Longest backoff between two attempts of one poll."
    )
    connector_circuit_failures: int = Field(
        5, ge=1, description="Failed polls in a row after which a feed's circuit opens."
    )
    connector_circuit_cool_down_seconds: float = Field(
        300.0, gt=0, description="Seconds an open circuit waits before one probe request."
    )
    connector_stale_after_intervals: float = Field(
        3.0,
        gt=0,
        description="A feed without a good poll for this many intervals is stale "
        "(streamapp_connector_stale, and a warning).",
    )

    demo_exit: bool = Field(
        False,
        validation_alias=AliasChoices("DEMO_EXIT", "STREAMAPP_DEMO_EXIT"),
        description="`make demo` exits after its summary instead of serving the web view.",
    )
    demo_season: int = Field(2021, description="The season (by its end year) `make demo` replays.")

    @property
    def embedded_database_url(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.postgres_port}/streamapp"

    @property
    def effective_database_url(self) -> str:
        return self.database_url or self.embedded_database_url

    @property
    def canonical_url(self) -> str:
        """This worker's web address as the other workers (and the router) use it."""
        host = self.web_advertised_host or self.web_host
        if host == "0.0.0.0":
            host = socket.gethostname()
        return f"http://{host}:{self.web_port}"

    @property
    def bootstrap_servers(self) -> str:
        """The broker URL as aiokafka wants it (host:port, comma separated)."""
        return ",".join(
            part.split("://", 1)[-1] for part in self.broker.replace(";", ",").split(",")
        )

    def topic(self, name: str) -> str:
        return f"{self.topic_prefix}.{name}"


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()
