"""README.md stays true to the code it documents."""

from __future__ import annotations

import re

from queue_server import api
from queue_server.config import markdown_table
from tests.support import ROOT

README = (ROOT / "README.md").read_text(encoding="utf-8")


def test_readme_configuration_table_matches_the_settings():
    block = re.search(r"<!-- config-table:start.*?-->\n(.*?)\n<!-- config-table:end -->", README, re.S)
    assert block, "README lost its configuration table markers"
    assert block.group(1) == markdown_table(), "regenerate: python -c 'from queue_server.config import markdown_table; print(markdown_table())'"


def test_readme_documents_every_api_route():
    for route in api.routes:
        tail = route.path.rsplit("/", 1)[-1]
        assert route.path in README or f"/{tail}" in README, route.path


def test_readme_links_point_to_files_that_exist():
    for target in re.findall(r"\]\(((?:docs|display)/[^)#]+)", README):
        assert (ROOT / target).exists(), target
