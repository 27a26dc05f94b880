"""Web views of every worker: health, Prometheus metrics, and table state by key.

A key lookup is answered by the worker that holds the key's partition: any other worker
forwards the request there (faust's router), so every worker answers the same.
"""

from __future__ import annotations

import faust
from faust.exceptions import SameNode
from faust.web.exceptions import ServiceUnavailable

from agents.pipeline import Pipeline

# Prometheus text format; aiohttp takes the charset separately, so it is not in the type.
EXPOSITION_TYPE = "text/plain; version=0.0.4"


def register_views(app: faust.App, pipeline: Pipeline) -> None:
    tables = pipeline.tables.routable

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
