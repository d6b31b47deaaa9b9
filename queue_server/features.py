"""The feature modules the app serves besides the core API (``queue_server.api``), listed
plainly. Each one is a module with two names, checked by mypy through ``Feature``:

- ``routes``: its Starlette routes (HTTP and WebSocket);
- ``openapi_paths``: the OpenAPI path items of its HTTP routes.

The app adds their routes after the core's; ``openapi.document`` merges their paths.
A feature that also needs to run something while the server runs (printing's workers) is
started in ``app.create_app``'s lifespan, where the order is visible.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol

from starlette.routing import BaseRoute

from . import admin, report_routes
from .printing import routes as printing


class Feature(Protocol):
    routes: Sequence[BaseRoute]
    openapi_paths: dict[str, Any]


FEATURES: tuple[Feature, ...] = (printing, admin, report_routes)


def routes() -> list[BaseRoute]:
    return [route for feature in FEATURES for route in feature.routes]


def openapi_paths() -> dict[str, Any]:
    paths: dict[str, Any] = {}
    for feature in FEATURES:
        paths.update(feature.openapi_paths)
    return paths
