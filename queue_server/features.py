"""The feature modules the app serves besides the core API (``queue_server.api``), listed
plainly. Each one is a module with two names, checked by mypy through ``Feature``:

- ``routes``: its Starlette routes (HTTP and WebSocket);
- ``openapi_paths``: the OpenAPI path items of its HTTP routes.

The app adds their routes after the core's; ``openapi.document`` merges their paths.
``BACKGROUND`` lists the features' timers: coroutines the app runs beside the server for
its whole life, given the office (appointments' personal-data purge, the daily report
aggregates). Printing, which must
start before the first request and stop in order, is started in ``app.create_app``'s
lifespan itself.
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine, Mapping, Sequence
from typing import Any, Protocol

from starlette.routing import BaseRoute

from . import (
    admin,
    appointments_api,
    dossier_api,
    dossier_reports,
    kiosk,
    report_days,
    report_routes,
    sync,
    voiceclips,
    voicepack,
)
from .office import Office
from .printing import routes as printing
from .whatif import web as whatif


class Feature(Protocol):
    @property
    def routes(self) -> Sequence[BaseRoute]: ...

    @property
    def openapi_paths(self) -> Mapping[str, Any]: ...


FEATURES: tuple[Feature, ...] = (
    printing,
    admin,
    report_routes,
    appointments_api,
    sync,
    whatif,
    kiosk,
    voicepack,
    voiceclips,
    dossier_api,
    dossier_reports,
)
BACKGROUND: tuple[Callable[[Office], Coroutine[Any, Any, None]], ...] = (
    appointments_api.run_forever,
    report_days.keep_fresh,
)


def routes() -> list[BaseRoute]:
    return [route for feature in FEATURES for route in feature.routes]


def openapi_paths() -> dict[str, Any]:
    paths: dict[str, Any] = {}
    for feature in FEATURES:
        paths.update(feature.openapi_paths)
    return paths
