"""README.md stays true to the code it documents."""

from __future__ import annotations

import re
from pathlib import Path

from starlette.routing import Route
from starlette.testclient import TestClient

from queue_server import openapi
from queue_server.app import create_app
from queue_server.config import load_config, markdown_table
from tests.support import ROOT, write_config

README = (ROOT / "README.md").read_text(encoding="utf-8")


def test_readme_configuration_table_matches_the_settings():
    block = re.search(r"<!-- config-table:start.*?-->\n(.*?)\n<!-- config-table:end -->", README, re.S)
    assert block, "README lost its configuration table markers"
    assert block.group(1) == markdown_table(), (
        "regenerate: python -c 'from queue_server.config import markdown_table; print(markdown_table())'"
    )


def readme_api_rows() -> set[tuple[str, str]]:
    block = re.search(r"<!-- api-table:start.*?-->\n(.*?)\n<!-- api-table:end -->", README, re.S)
    assert block, "README lost its API table markers"
    return set(re.findall(r"^\| `([A-Z]+) (/[^`]*)` \|", block.group(1), re.M))


def test_readme_api_table_is_the_one_generated_from_the_served_document(tmp_path: Path):
    with TestClient(create_app(load_config(write_config(tmp_path)), printing=False)) as client:
        served = client.get("/api/openapi.json").json()
    block = re.search(r"<!-- api-table:start.*?-->\n(.*?)\n<!-- api-table:end -->", README, re.S)
    assert block and block.group(1) == openapi.markdown_table(served), "regenerate: python scripts/api_table.py"


def test_readme_api_table_lists_every_http_route_of_the_app_and_no_other(tmp_path: Path):
    app = create_app(load_config(write_config(tmp_path)), printing=False)
    routes = {
        (method, r.path)
        for r in app.routes
        if isinstance(r, Route) and not r.endpoint.__name__.startswith("page_") and not r.path.startswith("/audio/")
        for method in (r.methods or set()) - {"HEAD"}
    }
    assert routes and readme_api_rows() == routes


def test_readme_links_point_to_files_that_exist():
    for target in re.findall(r"\]\(((?:docs|display)/[^)#]+)", README):
        assert (ROOT / target).exists(), target


def test_readme_api_table_says_who_may_call_each_route_as_the_route_rules_do():
    """The "who" column (from each route's declared security) names the role the access test
    (tests/route_rules.py) enforces: an admin-only route never reads "staff"."""
    from tests import route_rules

    block = re.search(r"<!-- api-table:start.*?-->\n(.*?)\n<!-- api-table:end -->", README, re.S)
    assert block
    expected = {
        id(route_rules.ADMIN): "admin",
        id(route_rules.STAFF): "staff",
        id(route_rules.COUNTER): "clerk of n, admin",
    }
    wrong = []
    for method, path, who in re.findall(r"^\| `([A-Z]+) (/[^`]*)` \| ([^|]+) \|", block.group(1), re.M):
        want = expected.get(id(route_rules.RULES.get((method, path))))
        if want is not None and who.strip() != want:
            wrong.append(f"{method} {path}: README says {who.strip()!r}, the route allows {want!r}")
    assert not wrong, wrong
