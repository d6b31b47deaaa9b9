"""Rewrite README's API table from the app's OpenAPI document (tests/test_readme.py checks it):
``python scripts/api_table.py``."""

from __future__ import annotations

import re
from pathlib import Path

from queue_server import features, openapi

README = Path(__file__).resolve().parent.parent / "README.md"

text = README.read_text(encoding="utf-8")
table = openapi.markdown_table(openapi.document(features.openapi_paths()))
new = re.sub(
    r"(<!-- api-table:start.*?-->\n).*?(\n<!-- api-table:end -->)",
    lambda m: m.group(1) + table + m.group(2),
    text,
    count=1,
    flags=re.S,
)
README.write_text(new, encoding="utf-8")
