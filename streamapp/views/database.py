"""History served from PostgreSQL; each answer says how long its query took."""

from __future__ import annotations

import time

import faust

from agents.pipeline import Pipeline
from streamapp.db import queries
from streamapp.views.common import error, json_bytes, paging


def register(app: faust.App, pipeline: Pipeline) -> None:
    database = pipeline.database

    async def answer(sql: str, params: dict, **extra):
        await database.start()
        started = time.perf_counter()
        rows = await queries.fetch_all(database.pool, sql, params)
        elapsed_ms = (time.perf_counter() - started) * 1000
        pipeline.metrics.query_seconds.labels(extra.pop("query")).observe(elapsed_ms / 1000)
        return rows, elapsed_ms

    @app.page("/db/teams/{league}/{team}/games")
    async def team_games(web, request, league, team):
        try:
            limit, offset = paging(request)
        except ValueError as problem:
            return error(web, str(problem), 400)
        params = {"league": league, "team": team, "limit": limit, "offset": offset}
        rows, ms = await answer(queries.TEAM_GAMES, params, query="team_games")
        if not rows and offset == 0:
            return error(web, f"no games of {team!r} in {league!r}", 404)
        return json_bytes(
            web,
            {
                "league": league,
                "team": team,
                "limit": limit,
                "offset": offset,
                "games": rows,
                "query_ms": round(ms, 2),
            },
        )

    @app.page("/db/games/{game_id}/odds")
    async def game_odds(web, request, game_id):
        params = {"game_id": game_id}
        game, _ = await answer(queries.GAME, params, query="game")
        if not game:
            return error(web, f"no game {game_id!r}", 404)
        quotes, ms = await answer(queries.GAME_ODDS, params, query="game_odds")
        closing, ms_closing = await answer(queries.GAME_CLOSING, params, query="closing")
        return json_bytes(
            web,
            {
                "game": game[0],
                "quotes": quotes,
                "closing": closing,
                "query_ms": round(ms + ms_closing, 2),
            },
        )

    @app.page("/db/performance")
    async def performance(web, request):
        keys = ("model", "model_version", "sport", "league")
        params = {key: request.query.get(key) for key in keys}
        rows, ms = await answer(queries.PERFORMANCE, params, query="performance")
        return json_bytes(web, {"filters": params, "periods": rows, "query_ms": round(ms, 2)})

    @app.page("/db/predictions/recent")
    async def recent_predictions(web, request):
        try:
            limit, offset = paging(request)
        except ValueError as problem:
            return error(web, str(problem), 400)
        params = {"limit": limit, "offset": offset}
        rows, ms = await answer(queries.RECENT_PREDICTIONS, params, query="recent_predictions")
        alerts, ms_alerts = await answer(queries.RECENT_ALERTS, params, query="recent_alerts")
        return json_bytes(
            web, {"predictions": rows, "alerts": alerts, "query_ms": round(ms + ms_alerts, 2)}
        )
