"""Web views of every worker: health, Prometheus metrics, and table state by key.

A key lookup is answered by the worker that holds the key's partition: any other worker
forwards the request there (faust's router), so every worker answers the same.
"""

from __future__ import annotations

import time

import faust
import orjson
from faust.exceptions import SameNode
from faust.web.exceptions import ServiceUnavailable

from agents.pipeline import Pipeline
from streamapp.db import queries

# Prometheus text format; aiohttp takes the charset separately, so it is not in the type.
EXPOSITION_TYPE = "text/plain; version=0.0.4"


def register_views(app: faust.App, pipeline: Pipeline) -> None:
    tables = pipeline.tables.routable
    if pipeline.database is not None:
        register_database_views(app, pipeline)

    @app.page("/health")
    async def health(web, request):
        return web.json({"status": "ok", "app": app.conf.id})

    @app.page("/metrics")
    async def metrics(web, request):
        return web.bytes(pipeline.metrics.exposition(), content_type=EXPOSITION_TYPE)

    @app.page("/tables")
    async def table_index(web, request):
        return web.json(
            {
                name: {"help": table.help, "url": f"/tables/{name}/{{key}}"}
                for name, table in tables.items()
            }
        )

    @app.page("/tables/{table}/{key}")
    async def table_value(web, request, table, key):
        if table not in tables:
            return web.json({"error": f"no table {table!r}; tables: {sorted(tables)}"}, status=404)
        try:
            return await app.router.route_req(table, key, web, request)
        except SameNode:
            pass
        except ServiceUnavailable:
            return web.json(
                {"error": "partitions are being assigned; retry in a few seconds"}, status=503
            )
        value = tables[table].get(key)
        if value is None:
            return web.json({"error": f"no key {key!r} in {table!r}"}, status=404)
        return web.json({"table": table, "key": key, "value": value})


DEFAULT_LIMIT = 50
MAX_LIMIT = 1000


def json_bytes(web, data, status: int = 200):
    """JSON that may hold datetimes and dates (orjson writes them as ISO 8601)."""
    return web.bytes(
        orjson.dumps(data, option=orjson.OPT_NON_STR_KEYS),
        content_type="application/json",
        status=status,
    )


def paging(request) -> tuple[int, int]:
    try:
        limit = int(request.query.get("limit", DEFAULT_LIMIT))
        offset = int(request.query.get("offset", 0))
    except ValueError as error:
        raise ValueError("limit and offset must be whole numbers") from error
    if not 1 <= limit <= MAX_LIMIT or offset < 0:
        raise ValueError(f"limit must be 1..{MAX_LIMIT} and offset >= 0")
    return limit, offset


def register_database_views(app: faust.App, pipeline: Pipeline) -> None:
    """History served from PostgreSQL; each answer says how long the query took."""
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
        except ValueError as error:
            return json_bytes(web, {"error": str(error)}, status=400)
        params = {"league": league, "team": team, "limit": limit, "offset": offset}
        rows, ms = await answer(queries.TEAM_GAMES, params, query="team_games")
        if not rows and offset == 0:
            return json_bytes(web, {"error": f"no games of {team!r} in {league!r}"}, status=404)
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
            return json_bytes(web, {"error": f"no game {game_id!r}"}, status=404)
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
        params = {key: request.query.get(key) for key in ("model_version", "sport", "league")}
        rows, ms = await answer(queries.PERFORMANCE, params, query="performance")
        return json_bytes(web, {"filters": params, "periods": rows, "query_ms": round(ms, 2)})
