"""Health, metrics, and the state of every table: by key, by league-prefixed range, and
per-minute windows — answered by the worker that holds the key's league, from any worker."""

from __future__ import annotations

from datetime import UTC, datetime

import faust
from aiokafka.partitioner import DefaultPartitioner
from pydantic import BaseModel, Field
from yarl import URL

from agents.pipeline import Pipeline
from schemas.base import Sport
from streamapp.operations import readiness, refresh_gauges
from streamapp.views.common import Paging, error, json_bytes, paging
from streamapp.views.openapi import Route, RouteTable
from tables.keys import SEPARATOR, partition_of, table_key
from tables.odds_book import summarize
from tables.player_form import player_features, teammate_boosts
from tables.settlement import summary
from tables.team_form import form_features

# Prometheus text format; aiohttp takes the charset separately, so it is not in the type.
EXPOSITION_TYPE = "text/plain; version=0.0.4"


class TableRange(Paging):
    prefix: str = Field(description="Key prefix starting with the league, e.g. soccer:E0|")


class TableValue(BaseModel):
    before: datetime | None = Field(
        None, description="team-form: features as of this time (ISO 8601); default now."
    )


def register(app: faust.App, pipeline: Pipeline, routes: RouteTable) -> None:
    tables = pipeline.tables.all()
    table_name = {"name": "The table."}
    table_schema = {"name": {"enum": sorted(tables)}}
    windowed = pipeline.tables.windowed
    team_games = pipeline.tables.team_games

    def derived(name: str, key: str, value, request) -> dict:
        """What is read off a stored value, for the tables where that is the point."""
        if name == "odds-book":
            return {"book": summarize(value)}
        if name == "team-form":
            before = request.query.get("before")
            moment = datetime.fromisoformat(before) if before else datetime.now(UTC)
            soccer = partition_of(key).startswith(Sport.SOCCER.value)
            return {"features": form_features(value, moment, soccer_points=soccer)}
        if name == "league-ratings":
            return {
                "performance": {
                    label: summary(sums) for label, sums in value.get("performance", {}).items()
                },
                "waiting": len(value.get("merge", {}).get("pending", [])),
            }
        if name == "player-form":
            team = team_games.get(table_key(partition_of(key), value["team"]))
            return {
                "features": player_features(value, team),
                "teammate_boosts": teammate_boosts(value["player_id"], value, team),
            }
        return {}

    def windows_by_key(name: str, prefix: str) -> dict[str, list[dict]]:
        """Every window of every key with ``prefix``, in one pass over the local table."""
        found: dict[str, list[dict]] = {}
        for (key, window), count in tables[name].data.items():
            if key.startswith(prefix):
                found.setdefault(key, []).append(
                    {"start": window[0], "end": window[1], "value": count}
                )
        return {key: sorted(rows, key=lambda r: r["start"]) for key, rows in found.items()}

    def windows_of(name: str, key: str) -> list[dict]:
        return windows_by_key(name, key).get(key, [])

    routing_table = pipeline.tables.league_ratings.name
    here = URL(pipeline.settings.canonical_url)

    changelog = tables[routing_table].changelog_topic.get_topic_name()
    partitioner = DefaultPartitioner()
    all_partitions = list(range(pipeline.settings.topic_partitions))

    async def routed(web, request, league: str):
        """The answer of the worker that owns the league (or a 503 while partitions move),
        or None when that is this one.

        Every table is partitioned by league like every topic (the raw league bytes, as
        the producers hash them), so the worker holding that partition of the
        league-ratings changelog owns the league in every table. faust's own
        ``route_req`` hashes the JSON-encoded key instead, which can name another worker.
        """
        partition = partitioner(league.encode(), all_partitions, all_partitions)
        owners = [
            url
            for url, topics in app.router.table_metadata(routing_table).items()
            if partition in topics.get(changelog, [])
        ]
        if not owners:
            return error(web, "partitions are being assigned; retry in a few seconds", 503)
        owner = URL(owners[0])
        if (owner.host, owner.port) == (here.host, here.port):
            return None
        forwarded = request.url.with_host(owner.host).with_port(owner.port)
        async with app.http_client.get(forwarded) as response:
            return web.bytes(
                await response.read(), content_type=response.content_type, status=response.status
            )

    @routes.page(Route("/models", "Model versions: the active one, its parameters, the history."))
    async def models(web, request):
        return json_bytes(
            web, {**pipeline.registry.describe(), "params": pipeline.registry.active.to_dict()}
        )

    @routes.page(Route("/health", "The worker is alive."))
    async def health(web, request):
        return json_bytes(web, {"status": "ok", "app": app.conf.id})

    @routes.page(
        Route(
            "/ready",
            "200 once partitions are assigned, tables recovered and no agent is stalled; "
            "503 with the reason otherwise.",
            errors=(503,),
        )
    )
    async def ready(web, request):
        ok, reason = readiness(app)
        return json_bytes(web, {"ready": ok, "reason": reason}, status=200 if ok else 503)

    @routes.page(
        Route("/metrics", "Prometheus metrics of this worker.", content_type=EXPOSITION_TYPE)
    )
    async def metrics(web, request):
        refresh_gauges(app, pipeline)
        return web.bytes(pipeline.metrics.exposition(), content_type=EXPOSITION_TYPE)

    @routes.page(Route("/tables", "Every table, its help and key format."))
    async def table_index(web, request):
        return json_bytes(
            web,
            {
                name: {
                    "help": table.help,
                    "windowed": name in windowed,
                    "key": f"/tables/{name}/{{sport:league}}{SEPARATOR}{{...}}",
                    "range": f"/tables/{name}?prefix={{sport:league}}{SEPARATOR}&limit=50",
                }
                for name, table in tables.items()
            },
        )

    @routes.page(
        Route(
            "/tables/{name}",
            "The keys of a table in a league-prefixed range, with their values.",
            path_parameters=table_name,
            path_schemas=table_schema,
            query=TableRange,
            errors=(400, 404, 503),
        )
    )
    async def table_range(web, request, name):
        if name not in tables:
            return error(web, f"no table {name!r}; tables: {sorted(tables)}", 404)
        prefix = request.query.get("prefix", "")
        try:
            league = partition_of(prefix)
            limit, offset = paging(request)
        except ValueError as problem:
            return error(web, f"{problem} (prefix= must start with the league)", 400)
        forwarded = await routed(web, request, league)
        if forwarded is not None:
            return forwarded
        if name in windowed:
            series = windows_by_key(name, prefix)
            keys = sorted(series)
            items = [(k, series[k]) for k in keys[offset : offset + limit]]
        else:
            keys = sorted(k for k in tables[name] if k.startswith(prefix))
            items = [(k, tables[name][k]) for k in keys[offset : offset + limit]]
        return json_bytes(
            web,
            {
                "table": name,
                "prefix": prefix,
                "total": len(keys),
                "limit": limit,
                "offset": offset,
                "items": [{"key": k, "value": v} for k, v in items],
            },
        )

    @routes.page(
        Route(
            "/tables/{name}/{key}",
            "One key's value (windowed tables: its per-minute windows, the current window and "
            "the delta to the previous one), answered by the worker that owns the key's league.",
            path_parameters={
                **table_name,
                "key": "A key starting with the league, e.g. soccer:E0|Arsenal",
            },
            path_schemas=table_schema,
            query=TableValue,
            errors=(400, 404, 503),
        )
    )
    async def table_value(web, request, name, key):
        if name not in tables:
            return error(web, f"no table {name!r}; tables: {sorted(tables)}", 404)
        try:
            league = partition_of(key)
        except ValueError as problem:
            return error(web, str(problem), 400)
        forwarded = await routed(web, request, league)
        if forwarded is not None:
            return forwarded
        if name in windowed:
            series = windows_of(name, key)
            if not series:
                return error(web, f"no windows for {key!r} in {name!r}", 404)
            current = series[-1]["value"]
            previous = series[-2]["value"] if len(series) > 1 else 0
            return json_bytes(
                web,
                {"table": name, "key": key, "windows": series, "current": series[-1],
                 "delta": current - previous},
            )  # fmt: skip
        value = tables[name].get(key)
        if value is None:
            return error(web, f"no key {key!r} in {name!r}", 404)
        return json_bytes(
            web, {"table": name, "key": key, "value": value, **derived(name, key, value, request)}
        )
