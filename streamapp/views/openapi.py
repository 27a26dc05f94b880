"""One route table for the web view: each page is registered through it and described by it,
and /openapi.json (OpenAPI 3.1) is built from it and from the views the server really
serves, so the document cannot name a page that is not there or miss one that is."""

from __future__ import annotations

import inspect
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

import faust
from pydantic import BaseModel, Field

from streamapp import __version__
from streamapp.views.common import json_bytes

JSON = "application/json"
ERRORS = {
    400: "A malformed key, prefix or parameter; the body says which.",
    404: "No such table, key or row; the body says which.",
    503: "Not ready, or partitions are being assigned; the body says why. Retry shortly.",
}
PATH_PARAMETER = re.compile(r"{(\w+)}")


@dataclass(frozen=True)
class Route:
    """A page: its path (aiohttp pattern, `{name}` for path parameters), what it answers,
    its query parameters (a pydantic model: names, types, bounds and descriptions) and its
    error statuses."""

    path: str
    summary: str
    path_parameters: Mapping[str, str] = field(default_factory=dict)  # name -> description
    query: type[BaseModel] | None = None
    content_type: str = JSON
    errors: tuple[int, ...] = ()
    path_schemas: Mapping[str, dict] = field(default_factory=dict)  # name -> schema

    def __post_init__(self) -> None:
        named = set(PATH_PARAMETER.findall(self.path))
        if named != set(self.path_parameters):
            raise ValueError(f"{self.path}: describe exactly its path parameters {named}")

    def operation(self) -> dict:
        parameters = [
            {
                "name": name,
                "in": "path",
                "required": True,
                "description": description,
                "schema": self.path_schemas.get(name, {"type": "string"}),
            }
            for name, description in self.path_parameters.items()
        ]
        if self.query is not None:
            properties = self.query.model_json_schema()["properties"]
            for name, spec in self.query.model_fields.items():
                schema = query_schema(properties[name])
                parameters.append(
                    {
                        "name": name,
                        "in": "query",
                        "required": spec.is_required(),
                        "description": spec.description or "",
                        "schema": schema,
                    }
                )
        responses = {"200": {"description": self.summary, "content": {self.content_type: {}}}}
        responses |= {str(status): {"description": ERRORS[status]} for status in self.errors}
        return {"summary": self.summary, "parameters": parameters, "responses": responses}


def query_schema(field_schema: dict) -> dict:
    """A pydantic field's schema as a query parameter's: a parameter is absent, never null,
    so the ``null`` alternative of an optional field goes."""
    schema = {k: v for k, v in field_schema.items() if k not in ("title", "description", "anyOf")}
    alternatives = [s for s in field_schema.get("anyOf", []) if s != {"type": "null"}]
    if len(alternatives) == 1:
        schema |= alternatives[0]
    elif alternatives:
        schema["anyOf"] = alternatives
    if "default" in schema and schema["default"] is None:
        del schema["default"]
    return schema


def faust_route(path: str, view: faust.web.View) -> Route:
    """One of faust's own pages (its router and table blueprints, its index), described by
    faust's docstrings."""
    doc = inspect.getdoc(view.get) or inspect.getdoc(type(view)) or "A faust page."
    return Route(
        path,
        f"faust: {doc.splitlines()[0]}",
        path_parameters={name: f"faust's {name}" for name in PATH_PARAMETER.findall(path)},
    )


def is_faust_view(view: faust.web.View) -> bool:
    return type(view).__module__.startswith("faust.")


class RouteTable:
    def __init__(self, app: faust.App) -> None:
        self.app = app
        self.routes: dict[str, Route] = {}

    def page(self, route: Route) -> Callable:
        """Decorator: registers the handler at ``route.path`` and documents it."""
        self.describe(route)
        return self.app.page(route.path)

    def describe(self, route: Route) -> None:
        """Documents a page another module registers with ``app.page``."""
        if route.path in self.routes:
            raise ValueError(f"{route.path} is described twice")
        self.routes[route.path] = route

    def document(self) -> dict:
        """Every view the web server serves (faust adds its blueprints' when it starts),
        with each HTTP method it answers (HEAD goes with GET)."""
        paths = {}
        for path, view in sorted(self.app.web.views.items()):
            route = self.routes.get(path)
            if route is None and is_faust_view(view):
                route = faust_route(path, view)
            if route is not None:
                methods = sorted(method.lower() for method in view.get_methods() - {"HEAD"})
                paths[path] = dict.fromkeys(methods, route.operation())
        return {
            "openapi": "3.1.0",
            "info": {"title": "streamapp worker", "version": __version__},
            "paths": paths,
        }


class DashboardQuery(BaseModel):
    league: str | None = Field(None, description="League to show, e.g. soccer:E0")
    game: str | None = Field(
        None, description="Game to chart, e.g. soccer:E0|E0-2020-21-fulham-arsenal"
    )
    live: int | None = Field(None, description="0: a still page, no pushed events (screenshots).")


class LeagueQuery(BaseModel):
    league: str | None = Field(None, description="Only this league (sport:league).")


def register(routes: RouteTable) -> None:
    # the dashboard module registers its pages itself
    routes.describe(
        Route(
            "/dashboard",
            "The human dashboard (HTML).",
            query=DashboardQuery,
            content_type="text/html",
        )
    )
    routes.describe(
        Route(
            "/dashboard/events",
            "New predictions and alerts as they are produced (server-sent events).",
            query=LeagueQuery,
            content_type="text/event-stream",
            errors=(400, 503),
        )
    )

    @routes.page(Route("/openapi.json", "This document: every page of the worker (OpenAPI 3.1)."))
    async def openapi(web, request):
        return json_bytes(web, routes.document())
