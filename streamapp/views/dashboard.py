"""The human dashboard: latest predictions and alerts of a league, its anomalies, ratings, team
form, and a game's line movement per bookmaker — one HTML page that reads the JSON views (no
external assets), and the stream of new predictions and alerts it listens to."""

from __future__ import annotations

from importlib import resources

import faust
from aiokafka import AIOKafkaConsumer

from agents.pipeline import Pipeline
from streamapp.views import live
from streamapp.views.common import error
from tables.keys import checked_league


def register(app: faust.App, pipeline: Pipeline) -> None:
    page = (resources.files("streamapp.views") / "static" / "dashboard.html").read_bytes()
    settings, topics = pipeline.settings, pipeline.topics
    feed = live.LiveFeed(
        kinds={
            topics.predictions.get_topic_name(): "prediction",
            topics.alerts.get_topic_name(): "alert",
        },
        partitions=settings.topic_partitions,
        new_consumer=lambda: AIOKafkaConsumer(
            bootstrap_servers=settings.bootstrap_servers,
            client_id=f"{app.conf.id}-dashboard",
            enable_auto_commit=False,
            isolation_level="read_committed",  # what the agents committed, nothing aborted
        ),
    )

    async def end_streams(_web_app) -> None:
        # Open streams would hold the web server's shutdown for its whole timeout.
        feed.close()

    app.web.web_app.on_shutdown.append(end_streams)

    @app.page("/dashboard")
    async def dashboard(web, request):
        return web.bytes(page, content_type="text/html")

    @app.page("/dashboard/events")
    async def dashboard_events(web, request):
        league = request.query.get("league") or None
        try:
            league = league and checked_league(league)
        except ValueError as problem:
            return error(web, str(problem), 400)
        try:
            # faust's aiohttp driver hands views aiohttp's own request, which can stream.
            return await live.stream(request, feed, league)
        except live.FeedUnavailable as problem:
            return error(web, f"the live feed is not available: {problem}", 503)
