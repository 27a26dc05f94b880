"""History served from PostgreSQL; each answer says how long its query took."""

from __future__ import annotations

import time

from pydantic import BaseModel, Field

from agents.pipeline import Pipeline
from streamapp.db import queries
from streamapp.views.common import Paging, error, json_bytes, paging
from streamapp.views.openapi import Route, RouteTable
from tables.keys import checked_league


class PerformanceFilters(BaseModel):
    model: str | None = Field(None, description="Only this model: model-only or market-aware.")
    model_version: str | None = Field(None, description="Only this model version.")
    sport: str | None = Field(None, description="Only this sport.")
    league: str | None = Field(None, description="Only this league.")


class RecentQuery(Paging):
    league: str | None = Field(None, description="Only this league (sport:league).")


def register(pipeline: Pipeline, routes: RouteTable) -> None:
    database = pipeline.database

    async def answer(sql: str, params: dict, **extra):
        await database.start()
        started = time.perf_counter()
        rows = await queries.fetch_all(database.pool, sql, params)
        elapsed_ms = (time.perf_counter() - started) * 1000
        pipeline.metrics.query_seconds.labels(extra.pop("query")).observe(elapsed_ms / 1000)
        return rows, elapsed_ms

    @routes.page(
        Route(
            "/db/teams/{league}/{team}/games",
            "A team's games from PostgreSQL, newest first.",
            path_parameters={
                "league": "League code, e.g. E0 or NBA.",
                "team": "Team name as in the feed.",
            },
            query=Paging,
            errors=(400, 404),
        )
    )
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

    @routes.page(
        Route(
            "/db/games/{game_id}/odds",
            "Every quote of a game and its closing lines.",
            path_parameters={"game_id": "The game id."},
            errors=(404,),
        )
    )
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

    @routes.page(
        Route(
            "/db/performance",
            "Brier and log loss per month of each model's last pregame predictions.",
            query=PerformanceFilters,
        )
    )
    async def performance(web, request):
        params = {key: request.query.get(key) for key in PerformanceFilters.model_fields}
        rows, ms = await answer(queries.PERFORMANCE, params, query="performance")
        return json_bytes(web, {"filters": params, "periods": rows, "query_ms": round(ms, 2)})

    @routes.page(
        Route(
            "/db/predictions/recent",
            "The newest predictions and alerts, of every league or of one.",
            query=RecentQuery,
            errors=(400,),
        )
    )
    async def recent_predictions(web, request):
        try:
            limit, offset = paging(request)
            columns = league_columns(request.query.get("league"))
        except ValueError as problem:
            return error(web, str(problem), 400)
        params = {"limit": limit, "offset": offset, **columns}
        rows, ms = await answer(queries.RECENT_PREDICTIONS, params, query="recent_predictions")
        alerts, ms_alerts = await answer(queries.RECENT_ALERTS, params, query="recent_alerts")
        return json_bytes(
            web, {"predictions": rows, "alerts": alerts, "query_ms": round(ms + ms_alerts, 2)}
        )

    @routes.page(Route("/db/leagues", "The leagues PostgreSQL holds games of (sport:league)."))
    async def leagues(web, request):
        rows, ms = await answer(queries.LEAGUES, {}, query="leagues")
        return json_bytes(
            web,
            {"leagues": [f"{r['sport']}:{r['league']}" for r in rows], "query_ms": round(ms, 2)},
        )


def league_columns(league: str | None) -> dict[str, str | None]:
    """The sport and league columns of ``?league=sport:league`` (both None: every league)."""
    if not league:
        return {"sport": None, "league": None}
    sport, _, name = checked_league(league).partition(":")
    return {"sport": sport, "league": name}
