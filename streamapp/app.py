"""The app factory: one faust App with its topics, tables, agents and web views.

``faust -A streamapp.app worker`` finds ``app`` here; it is built on first access, from the
environment, so importing this module for ``create_app`` builds nothing.
"""

from __future__ import annotations

import faust
from mode import Service

from agents import (
    assess_injuries,
    book_odds,
    follow_model_versions,
    ingest_boxscores,
    ingest_games,
    ingest_injuries,
    ingest_lineups,
    ingest_odds,
    predict_games,
    sink_alerts,
    sink_boxscores,
    sink_deadletters,
    sink_games,
    sink_odds,
    sink_predictions,
    sink_settlements,
    track_availability,
    track_form,
    track_players,
)
from agents.pipeline import Pipeline, define_topics
from agents.runtime import RuntimeStream, RuntimeTransport
from streamapp.db.writer import Database
from streamapp.metrics import FaustMonitor, Metrics
from streamapp.operations import RecoveryTimer, time_event_loop_lag
from streamapp.settings import Settings, get_settings
from streamapp.views import register_views
from tables.bulk_restore import BulkRestoringTableManager
from tables.definitions import DurableTable, define_tables

AGENT_MODULES = (
    assess_injuries,
    follow_model_versions,
    ingest_games,
    ingest_odds,
    ingest_injuries,
    ingest_lineups,
    ingest_boxscores,
    predict_games,
    track_form,
    book_odds,
    track_availability,
    track_players,
)
SINK_MODULES = (
    sink_games,
    sink_odds,
    sink_boxscores,
    sink_predictions,
    sink_settlements,
    sink_alerts,
    sink_deadletters,
)


class StreamApp(faust.App):
    """faust's App whose consumer keeps the runtime's rules (agents.runtime)."""

    def _new_transport(self) -> RuntimeTransport:
        return RuntimeTransport(self.conf.broker_consumer, self)

    @Service.task
    async def _time_event_loop_lag(self) -> None:
        # A task of the class starts with the app, before its tables are rebuilt (faust
        # starts ``app.task``s once they are), so a rebuild's long steps are timed too.
        pipeline: Pipeline = self.pipeline
        await time_event_loop_lag(pipeline.metrics, pipeline.settings.session_timeout)


def create_app(settings: Settings | None = None) -> faust.App:
    settings = settings or get_settings()
    app = StreamApp(
        settings.app_id,
        broker=settings.broker,
        store=settings.store,
        datadir=str(settings.state_dir),
        topic_partitions=settings.topic_partitions,
        topic_replication_factor=1,
        processing_guarantee=settings.processing_guarantee,
        web_host=settings.web_host,
        web_bind=settings.web_host,
        web_port=settings.web_port,
        canonical_url=settings.canonical_url,
        consumer_auto_offset_reset="earliest",
        broker_session_timeout=settings.session_timeout,
        broker_heartbeat_interval=settings.session_timeout / 5,
        autodiscover=False,
        web_enabled=True,
        Table=DurableTable,
        TableManager=BulkRestoringTableManager,
        Stream=RuntimeStream,
        producer_max_request_size=settings.max_message_bytes,
        producer_linger=settings.producer_linger_seconds,
        producer_max_batch_size=settings.producer_batch_bytes,
        producer_compression_type=(
            None if settings.producer_compression == "none" else settings.producer_compression
        ),
        consumer_max_fetch_size=settings.fetch_partition_max_bytes,
        table_cleanup_interval=settings.window_cleanup_seconds,
        broker_commit_interval=settings.offset_commit_seconds,
    )
    metrics = Metrics()
    pipeline = Pipeline(
        settings=settings,
        topics=define_topics(app, settings),
        tables=define_tables(app),
        metrics=metrics,
        database=Database(settings, metrics) if settings.sink_enabled else None,
    )
    pipeline.progress.exact_start = settings.processing_guarantee == "at_least_once"
    # faust's own metrics, on the project's registry: /metrics serves them with the rest
    app.monitor = FaustMonitor(metrics=metrics.faust)
    app.sensors.add(RecoveryTimer(pipeline))
    modules = AGENT_MODULES + (SINK_MODULES if pipeline.database else ())
    for module in modules:
        module.register(app, pipeline)
    register_views(app, pipeline)

    @app.task
    async def declare_output_topics() -> None:
        # Source topics are created by the consumer; these are only produced to.
        for topic in pipeline.topics.all():
            await topic.maybe_declare()

    app.pipeline = pipeline
    return app


def __getattr__(name: str) -> faust.App:
    if name == "app":
        globals()["app"] = create_app()
        return globals()["app"]
    raise AttributeError(name)
