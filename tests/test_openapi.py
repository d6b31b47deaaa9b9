"""queue_server.openapi: the document served at /api/openapi.json describes every HTTP route
of the assembled app — the core and each feature module's — with its methods, and nothing
that is not there. (tests/test_fuzz.py checks the live answers against it.)"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from starlette.routing import Route
from starlette.testclient import TestClient

from queue_server import admin, api
from queue_server.app import create_app
from queue_server.printing import routes as printing
from tests.support import JSON_HEADERS, PASSWORD, add_staff, write_config


@pytest.fixture
def client(tmp_path: Path) -> Iterator[TestClient]:
    path = write_config(tmp_path)
    add_staff(path, {"boss": "admin"})
    from queue_server.config import load_config

    with TestClient(create_app(load_config(path), printing=False), headers=JSON_HEADERS) as c:
        yield c


def http_routes(client: TestClient) -> list[Route]:
    """The app's HTTP endpoints: every Route but the screens' pages and the voice clips
    (the static Mount and the WebSocket routes are not ``Route``)."""
    return [
        r
        for r in client.app.routes  # type: ignore[attr-defined]
        if isinstance(r, Route) and not r.endpoint.__name__.startswith("page_") and not r.path.startswith("/audio/")
    ]


def operations(doc: dict[str, Any]) -> Iterator[tuple[str, str, dict[str, Any]]]:
    for path, item in doc["paths"].items():
        for method, op in item.items():
            yield path, method.upper(), op


def test_every_http_route_of_the_app_is_described_with_its_methods(client: TestClient):
    doc = client.get("/api/openapi.json").json()
    assert doc["openapi"].startswith("3.")
    routes = http_routes(client)
    served = {(r.path, m) for r in routes for m in (r.methods or set()) - {"HEAD"}}
    described = {(path, method) for path, method, _ in operations(doc)}
    assert served - described == set(), "routes missing from the document"
    assert described - served == set(), "the document describes routes the app does not have"
    # The core's and the feature modules' routes are among those checked, not skipped.
    for module in (api, admin, printing):
        for route in module.routes:
            if isinstance(route, Route):
                assert route in routes, route.path


def test_every_refusal_is_an_error_object_and_every_guarded_operation_says_401(client: TestClient):
    doc = client.get("/api/openapi.json").json()
    error = {"$ref": "#/components/schemas/Error"}
    for path, method, op in operations(doc):
        for status, response in op["responses"].items():
            if int(status) >= 400:  # the Error object, or one with fields added (allOf)
                schema = response["content"]["application/json"]["schema"]
                assert error in (schema, schema.get("allOf", [None])[0]), (path, method, status)
        if op.get("security"):
            assert "401" in op["responses"], (path, method)
        if "requestBody" in op:
            assert {"400", "413"} <= set(op["responses"]), (path, method)


@pytest.mark.parametrize("fmt", ["csv", "xlsx"])
def test_report_downloads_answer_with_a_media_type_the_document_lists(client: TestClient, fmt: str):
    doc = client.get("/api/openapi.json").json()
    documented = doc["paths"]["/api/reports/export"]["get"]["responses"]["200"]["content"]
    r = client.post("/api/login", json={"username": "boss", "password": PASSWORD})
    assert r.status_code == 200, r.text
    r = client.get("/api/reports/export", params={"format": fmt})
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].split(";")[0] in documented
    assert r.headers["content-disposition"].startswith("attachment")


def test_the_served_document_is_well_formed_openapi(client: TestClient):
    """Checked with rules from the OpenAPI 3.1 and JSON Schema specifications, not with the code
    that builds it: every schema is a valid JSON Schema (2020-12), every $ref resolves, every
    path template parameter is declared, every operation has a summary and a success answer."""
    import jsonschema_rs  # schemathesis' JSON Schema validator

    doc = client.get("/api/openapi.json").json()
    schemas = doc["components"]["schemas"]
    refs: list[str] = []

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            if isinstance(node.get("$ref"), str):
                refs.append(node["$ref"])
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(doc)
    for ref in refs:
        assert ref.startswith("#/components/schemas/") and ref.rsplit("/", 1)[1] in schemas, ref
    for path, method, op in operations(doc):
        assert op.get("summary"), (path, method)
        assert any(status.startswith("2") for status in op["responses"]), (path, method)
        declared = {p["name"] for p in op.get("parameters", []) if p["in"] == "path"}
        assert declared == set(re.findall(r"{(\w+)}", path)), (path, method)
        for scheme in op.get("security", []):
            assert set(scheme) <= set(doc["components"]["securitySchemes"]), (path, method)
        for response in op["responses"].values():
            for media in response.get("content", {}).values():
                assert jsonschema_rs.meta.is_valid(media["schema"]), (path, method)
        if "requestBody" in op:  # JSON, or a CSV file (the dossier import)
            for media in op["requestBody"]["content"].values():
                assert jsonschema_rs.meta.is_valid(media["schema"]), (path, method)
    for name, schema in schemas.items():
        assert jsonschema_rs.meta.is_valid(schema), name
