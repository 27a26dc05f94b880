"""Web views of every worker: health, metrics, table state, PostgreSQL history, dashboard."""

from __future__ import annotations

import faust

from agents.pipeline import Pipeline
from streamapp.views import dashboard, database, openapi, state


def register_views(app: faust.App, pipeline: Pipeline) -> None:
    routes = openapi.RouteTable(app)
    state.register(app, pipeline, routes)
    if pipeline.database is not None:
        database.register(pipeline, routes)
    dashboard.register(app, pipeline)
    openapi.register(routes)
