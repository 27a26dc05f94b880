"""The human dashboard: latest predictions and alerts, the league's anomalies, ratings, team
form, and a game's line movement per bookmaker — one HTML page that reads the JSON views (no
external assets)."""

from __future__ import annotations

from importlib import resources

import faust

from agents.pipeline import Pipeline


def register(app: faust.App, pipeline: Pipeline) -> None:
    page = (resources.files("streamapp.views") / "static" / "dashboard.html").read_bytes()

    @app.page("/dashboard")
    async def dashboard(web, request):
        return web.bytes(page, content_type="text/html")
