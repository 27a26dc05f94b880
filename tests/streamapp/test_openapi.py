"""/openapi.json documents every page the worker's web server serves, nothing else, and is
valid OpenAPI 3.1."""

from __future__ import annotations

import pytest
from aiohttp.test_utils import TestClient, TestServer
from openapi_spec_validator import validate

from streamapp.app import create_app
from streamapp.settings import Settings
from streamapp.views.openapi import Route


@pytest.fixture(params=[True, False], ids=["with-sinks", "without-sinks"])
async def served(request, tmp_path):
    """(the app, its /openapi.json) from the app's own web server (no broker needed)."""
    settings = Settings(store="memory://", sink_enabled=request.param, state_dir=tmp_path)
    app = create_app(settings)
    app.web.init_server()  # faust's own blueprints are added here, as when a worker starts
    async with TestClient(TestServer(app.web.web_app)) as client:
        response = await client.get("/openapi.json")
        assert response.status == 200
        yield app, await response.json()


def registered(app) -> set[tuple[str, str]]:
    """(method, path) of every route of the aiohttp router (HEAD comes with GET)."""
    return {
        (route.method.lower(), route.resource.canonical)
        for route in app.web.web_app.router.routes()
        if route.method != "HEAD"
    }


def documented(spec: dict) -> set[tuple[str, str]]:
    return {(method, path) for path, item in spec["paths"].items() for method in item}


async def test_every_registered_route_is_documented_and_nothing_else(served):
    app, spec = served
    assert documented(spec) == registered(app)


async def test_the_document_is_valid_openapi(served):
    _, spec = served
    validate(spec)
    assert spec["openapi"] == "3.1.0"


async def test_query_parameters_come_from_the_models_the_views_read(served):
    app, spec = served
    for path in ("/ready", "/router/", "/openapi.json", "/dashboard/events"):
        assert path in spec["paths"]
    table = {p["name"]: p for p in spec["paths"]["/tables/{name}"]["get"]["parameters"]}
    assert table["prefix"]["required"] and table["name"]["in"] == "path"
    assert table["limit"]["schema"] == {
        "type": "integer",
        "minimum": 1,
        "maximum": 1000,
        "default": 50,
    }
    if app.pipeline.database is not None:
        performance = spec["paths"]["/db/performance"]["get"]["parameters"]
        assert {p["name"] for p in performance} == {"model", "model_version", "sport", "league"}


def test_a_route_must_describe_exactly_its_path_parameters():
    with pytest.raises(ValueError, match="path parameters"):
        Route("/tables/{name}/{key}", "One key.", path_parameters={"name": "The table."})
