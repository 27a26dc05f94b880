"""The OpenAPI 3.1 document of the web view, at /openapi.json."""

from __future__ import annotations

import faust

from agents.pipeline import Pipeline
from streamapp import __version__
from streamapp.views.common import json_bytes


def _param(name: str, where: str, description: str, required: bool = True, kind="string"):
    return {
        "name": name,
        "in": where,
        "required": required,
        "description": description,
        "schema": {"type": kind},
    }


ERRORS = {
    "400": {"description": "A malformed key, prefix or paging parameter; the body says which."},
    "404": {"description": "No such table, key or row; the body says which."},
    "503": {"description": "Partitions are being assigned; retry shortly."},
}
JSON = {"content": {"application/json": {"schema": {"type": "object"}}}}
PAGING = [
    _param("limit", "query", "Rows per page (1-1000, default 50).", False, "integer"),
    _param("offset", "query", "Rows to skip (default 0).", False, "integer"),
]


def document(pipeline: Pipeline) -> dict:
    tables = sorted(pipeline.tables.all())
    table_param = {**_param("name", "path", "The table."), "schema": {"enum": tables}}
    paths = {
        "/health": {"get": {"summary": "The worker is alive.", "responses": {"200": JSON}}},
        "/models": {
            "get": {
                "summary": "Model versions: the active one, its parameters, the history.",
                "responses": {"200": JSON},
            }
        },
        "/metrics": {
            "get": {
                "summary": "Prometheus metrics of this worker.",
                "responses": {"200": {"content": {"text/plain": {}}}},
            }
        },
        "/tables": {
            "get": {"summary": "Every table, its help and key format.", "responses": {"200": JSON}}
        },
        "/tables/{name}": {
            "get": {
                "summary": "The keys of a table in a league-prefixed range, with their values.",
                "parameters": [
                    table_param,
                    _param(
                        "prefix", "query", "Key prefix starting with the league, e.g. soccer:E0|"
                    ),
                    *PAGING,
                ],
                "responses": {"200": JSON, **ERRORS},
            }
        },
        "/tables/{name}/{key}": {
            "get": {
                "summary": "One key's value (windowed tables: its per-minute windows, the "
                "current window and the delta to the previous one), answered by the worker "
                "that owns the key's league.",
                "parameters": [
                    table_param,
                    _param("key", "path", "A key starting with the league, e.g. soccer:E0|Arsenal"),
                    _param(
                        "before", "query", "team-form: features as of this time (ISO 8601).", False
                    ),
                ],
                "responses": {"200": JSON, **ERRORS},
            }
        },
        "/dashboard": {
            "get": {
                "summary": "The human dashboard (HTML).",
                "parameters": [
                    _param("league", "query", "League to show, e.g. soccer:E0", False),
                    _param(
                        "game",
                        "query",
                        "Game to chart, e.g. soccer:E0|E0-2020-21-fulham-arsenal",
                        False,
                    ),
                ],
                "responses": {"200": {"content": {"text/html": {}}}},
            }
        },
    }
    if pipeline.database is not None:
        paths |= {
            "/db/teams/{league}/{team}/games": {
                "get": {
                    "summary": "A team's games from PostgreSQL, newest first.",
                    "parameters": [
                        _param("league", "path", "League code, e.g. E0 or NBA."),
                        _param("team", "path", "Team name as in the feed."),
                        *PAGING,
                    ],
                    "responses": {"200": JSON, **ERRORS},
                }
            },
            "/db/games/{game_id}/odds": {
                "get": {
                    "summary": "Every quote of a game and its closing lines.",
                    "parameters": [_param("game_id", "path", "The game id.")],
                    "responses": {"200": JSON, **ERRORS},
                }
            },
            "/db/performance": {
                "get": {
                    "summary": "Brier and log loss per month of each model's last pregame "
                    "predictions.",
                    "parameters": [
                        _param("model_version", "query", "Only this model version.", False),
                        _param("sport", "query", "Only this sport.", False),
                        _param("league", "query", "Only this league.", False),
                    ],
                    "responses": {"200": JSON},
                }
            },
            "/db/predictions/recent": {
                "get": {
                    "summary": "The newest predictions and alerts.",
                    "parameters": PAGING,
                    "responses": {"200": JSON, **ERRORS},
                }
            },
        }
    return {
        "openapi": "3.1.0",
        "info": {"title": "streamapp worker", "version": __version__},
        "paths": paths,
    }


def register(app: faust.App, pipeline: Pipeline) -> None:
    spec = document(pipeline)

    @app.page("/openapi.json")
    async def openapi(web, request):
        return json_bytes(web, spec)
