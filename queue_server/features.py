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

A feature uses the office only through its commands and queries (``queue_server.office``),
and may register these hooks on it (types in ``queue_server.office``, re-exported here):

- ``office.commit_hooks``: ``CommitHook(conn, events)``, run inside the transaction that
  commits a command's events, for rows that must change with them (a dossier returned when
  its ticket is done). Raising fails the command: nothing is committed or published.
- ``office.after_commit``: ``AfterCommit(events, seqs)``, run once those events are durable
  and published (the print service queues jobs, the dossier desk pushes returns). Errors
  are logged, never raised to the command.
- ``office.snapshot_extras[key]``: ``SnapshotPart(audience)``, a part of every snapshot
  under ``key`` for audience ``"public"`` or ``"staff"``: JSON-ready data ("printers",
  "appointments").
- ``office.counter_guards``: ``CounterGuard(action, counter)``, awaited before a counter
  action (``"next"``, ``"done"``...): it reads what it needs (``office.read``) and returns a
  ``CounterCheck()`` (or None), run under the office lock just before the action, from
  memory; the check raises a ``MotcuaError`` to refuse the action (an outcome not yet
  recorded), or ``StaleCheck`` when the counter moved on since the read (read again).
- ``office.holder_changed``: ``HolderListener(counter, old, new)``, after a commit in which a
  counter changed hands.

A feature's own state lives with the office as one typed object per type:
``office.set_part(desk)``, ``office.part(DossierDesk)`` (``office.part(Streams, make)`` makes
it on first use): the dossier desk, the staff streams, today's booking counts.
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
from .office import AfterCommit, CommitHook, CounterGuard, HolderListener, Office, SnapshotPart
from .printing import routes as printing
from .whatif import web as whatif

__all__ = [
    "BACKGROUND",
    "FEATURES",
    "AfterCommit",
    "CommitHook",
    "CounterGuard",
    "Feature",
    "HolderListener",
    "SnapshotPart",
    "openapi_paths",
    "routes",
]


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
