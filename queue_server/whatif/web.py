"""The admin screen's what-if routes: the actual plan for the form, runs with progress, exports.

A run replays whole days many times: seconds of CPU. It runs in a child process at a lower
priority, so the live office (same PC, same database) never waits for it: the child reads the
database through its own read-only connection and reports its progress through shared memory.
One run at a time; the last few results are kept in memory for the screen and its exports.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import itertools
import logging
import multiprocessing
import os
import time
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Annotated, Any, ClassVar, Literal

from msgspec import Meta, Struct
from starlette.requests import Request
from starlette.responses import FileResponse, Response
from starlette.routing import Route

from .. import auth
from ..answers import Answer
from ..config import Config
from ..csvout import DEFAULT_DIALECT, DIALECTS
from ..errors import BadRequest, Conflict, MotcuaError, NotFound
from ..office import Office
from ..openapi import ADMIN, operation, path_param, query_param
from ..reports import parse_date
from ..schemas import Body, parse, ref
from ..store import connect
from . import export
from .plan import MAX_VARIANTS, actual_plan, parse_plans
from .runner import MAX_SEEDS, check_days, run
from .runner import Request as RunRequest
from .search import OBJECTIVES

log = logging.getLogger("motcua.whatif")

KEEP_RUNS = 5
PAGE = Path(__file__).resolve().parent.parent.parent / "display" / "whatif.html"
_ids = itertools.count(1)


@dataclass
class Run:
    id: int
    started: float
    process: Any
    progress: Any  # multiprocessing.Value('d')
    receiver: Connection
    state: str = "running"
    result: dict[str, Any] | None = None
    error: dict[str, Any] | None = None
    waiter: asyncio.Task[None] | None = field(default=None, repr=False)


def _child(config: Config, database: str, request: RunRequest, progress: Any, sender: Connection) -> None:
    with contextlib.suppress(OSError, AttributeError):
        os.nice(10)  # the live office first
    conn = connect(database, readonly=True)
    try:

        def note(done: float, what: str) -> None:
            progress.value = done

        sender.send(("done", run(conn, config, request, note)))
    except MotcuaError as e:
        sender.send(("failed", e.to_json()))
    except Exception as e:  # a bug: logged by the parent, never shown as a traceback
        sender.send(("crashed", repr(e)))
    finally:
        conn.close()
        sender.close()


def _runs(request: Request) -> dict[int, Run]:
    state = request.app.state
    if not hasattr(state, "whatif_runs"):
        state.whatif_runs = {}
    return state.whatif_runs  # type: ignore[no-any-return]


def _admin(request: Request) -> dict[str, Any]:
    return auth.require_user(request, request.app.state.office, role="admin")


async def page_whatif(request: Request) -> Response:
    return FileResponse(PAGE, headers={"Cache-Control": "no-cache"})


async def get_plan(request: Request) -> Answer:
    """The actual plan and the recorded days of the last 60 days, for the form."""
    _admin(request)
    office: Office = request.app.state.office
    config: Config = office.config
    today = dt.date.fromisoformat(office.day)

    def days() -> list[str]:
        with office.reader() as conn:
            rows = conn.execute(
                "SELECT DISTINCT day FROM events WHERE kind = 'ticket_issued' AND day BETWEEN ? AND ? "
                "ORDER BY day DESC",
                ((today - dt.timedelta(days=60)).isoformat(), today.isoformat()),
            )
            return [r[0] for r in rows]

    return Answer(
        {
            "plan": actual_plan(config).to_dict(),
            "services": [{"code": s.code, "name": s.name} for s in config.services],
            "counters": [{"number": c.number, "name": c.name} for c in config.counters],
            "days": await asyncio.to_thread(days),
            "today": today.isoformat(),
        }
    )


def parse_run(data: dict[str, Any], config: Config) -> RunRequest:
    body = parse(data, RunBody)
    start = parse_date(body.from_)
    end = parse_date(body.to) if body.to is not None else start
    request = RunRequest(
        start,
        end,
        parse_plans({"variants": body.variants}, config),
        seeds=body.seeds,
        recommend=body.recommend,
        objective=body.objective,
        weight=body.weight,
        budget_s=body.budget_s,
    )
    request.check()
    return request


async def start_run(request: Request) -> Answer:
    _admin(request)
    from ..api import read_json

    office = request.app.state.office
    body = await read_json(request)
    run_request = parse_run(body, office.config)
    runs = _runs(request)
    if any(r.state == "running" for r in runs.values()):
        raise Conflict(
            "Đang có một lượt mô phỏng chạy: hãy chờ nó xong.",
            "A what-if run is in progress: wait for it.",
            key="whatif_busy",
        )

    def look() -> None:
        with office.reader() as conn:
            check_days(conn, run_request)

    await asyncio.to_thread(look)  # a range without a recorded day: 404 now, not a failed run
    ctx = multiprocessing.get_context("spawn")
    progress = ctx.Value("d", 0.0)
    receiver, sender = ctx.Pipe(duplex=False)
    process = ctx.Process(
        target=_child, args=(office.config, str(office.database_path), run_request, progress, sender), daemon=True
    )
    process.start()
    sender.close()
    item = Run(next(_ids), time.time(), process, progress, receiver)
    item.waiter = asyncio.create_task(_wait(item))
    runs[item.id] = item
    while len(runs) > KEEP_RUNS:
        oldest = (
            min(k for k, r in runs.items() if r.state != "running")
            if any(r.state != "running" for r in runs.values())
            else None
        )
        if oldest is None:
            break
        del runs[oldest]
    return Answer({"id": item.id, "state": item.state, "status_url": f"/api/whatif/runs/{item.id}"}, status_code=202)


async def _wait(item: Run) -> None:
    try:
        message = await asyncio.to_thread(_receive, item.receiver)
    finally:
        item.receiver.close()
        await asyncio.to_thread(item.process.join, 5)
    kind, payload = message
    if kind == "done":
        item.state, item.result = "done", payload
    elif kind == "failed":
        item.state, item.error = "failed", payload
    else:
        log.error("what-if run %s crashed: %s", item.id, payload)
        item.state = "failed"
        item.error = {
            "error": "whatif_failed",
            "message": "Mô phỏng gặp lỗi: hãy báo cán bộ kỹ thuật.",
            "message_en": "The what-if run failed: tell the IT staff.",
        }


def _receive(receiver: Connection) -> tuple[str, Any]:
    try:
        return receiver.recv()  # type: ignore[no-any-return]
    except EOFError:
        return ("crashed", "the run ended without an answer")


def _find(request: Request) -> Run:
    try:
        run_id = int(request.path_params["id"])
    except ValueError:
        run_id = -1
    item = _runs(request).get(run_id)
    if item is None:
        raise NotFound("Không có lượt mô phỏng này.", "No such what-if run.", key="whatif_not_found")
    return item


async def get_run(request: Request) -> Answer:
    _admin(request)
    item = _find(request)
    body: dict[str, Any] = {
        "id": item.id,
        "state": item.state,
        "progress": 1.0 if item.state == "done" else round(float(item.progress.value), 3),
    }
    if item.result is not None:
        body["result"] = item.result
        body["agreement_text"] = export.agreement_lines(item.result)
    if item.error is not None:
        body["error"] = item.error
    return Answer(body)


async def export_run(request: Request) -> Response:
    _admin(request)
    item = _find(request)
    fmt = request.query_params.get("format") or "xlsx"
    if fmt not in ("xlsx", "csv", "json"):
        raise BadRequest(
            "Định dạng phải là xlsx, csv hoặc json.", "Format must be xlsx, csv or json.", key="bad_format"
        )
    if item.result is None:
        raise Conflict("Lượt mô phỏng chưa xong.", "The what-if run has not finished.", key="whatif_not_done")
    result = item.result
    if fmt == "xlsx":
        data = await asyncio.to_thread(export.to_xlsx, result, request.app.state.office.config.office.name)
        media = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    elif fmt == "csv":
        dialect = request.query_params.get("dialect") or DEFAULT_DIALECT
        if dialect not in DIALECTS:
            raise BadRequest(
                "Kiểu CSV phải là excel hoặc comma.", "The CSV dialect must be excel or comma.", key="bad_dialect"
            )
        data, media = export.to_csv(result, dialect), "text/csv; charset=utf-8"
    else:
        data, media = export.to_json(result), "application/json"
    name = f"mo-phong-{result['from']}-{result['to']}.{fmt}"
    return Response(data, media_type=media, headers={"Content-Disposition": f'attachment; filename="{name}"'})


routes = [
    Route("/admin/whatif", page_whatif),
    Route("/api/whatif/plan", get_plan),
    Route("/api/whatif/runs", start_run, methods=["POST"]),
    Route("/api/whatif/runs/{id}", get_run),
    Route("/api/whatif/runs/{id}/export", export_run),
]


# --------------------------------------------------------------------------- OpenAPI

_STR = {"type": "string"}
_ADMIN = (401, 403)
_ID = path_param("id", {"type": "integer", "minimum": 1})
InputDate = Annotated[
    str,
    Meta(pattern="^([0-9]{4}-[0-9]{2}-[0-9]{2}|[0-9]{2}/[0-9]{2}/[0-9]{4})$", description="dd/mm/yyyy or yyyy-mm-dd"),
]


class RunBody(Body, forbid_unknown_fields=True, rename={"from_": "from"}):
    """A what-if run: the days to replay, and the variants (each checked as a plan file's
    ``[[variants]]``, see docs/whatif.md)."""

    error_keys: ClassVar[dict[str, str]] = {"from": "bad_date"}

    from_: InputDate
    to: InputDate | None = None
    seeds: Annotated[int, Meta(ge=1, le=MAX_SEEDS)] = 20
    variants: Annotated[list[dict[str, Any]], Meta(max_length=MAX_VARIANTS)] = []
    recommend: bool = False
    objective: Annotated[str, Meta(extra_json_schema={"enum": list(OBJECTIVES)})] = "p90"
    weight: Annotated[float, Meta(ge=0, le=1)] = 0.5
    budget_s: Annotated[float, Meta(ge=1, le=600)] = 25.0


class NamedService(Struct, kw_only=True):
    code: str
    name: str


class NamedCounter(Struct, kw_only=True):
    number: int
    name: str


class PlanForm(Struct, kw_only=True):
    """The actual plan, services, counters and recorded days, for the form."""

    plan: dict[str, Any]
    services: list[NamedService]
    counters: list[NamedCounter]
    days: list[str]
    today: str


class Started(Struct, kw_only=True):
    id: int
    state: Literal["running"]
    status_url: str


class RunState(Struct, kw_only=True):
    id: int
    state: Literal["running", "done", "failed"]
    progress: float
    result: dict[str, Any] | None = None
    agreement_text: list[str] = []
    error: dict[str, Any] | None = None


openapi_paths: dict[str, Any] = {
    "/api/whatif/plan": {
        "get": operation(
            "The actual counter plan, services, counters and the recorded days of the last 60 days (for the form)",
            ref(PlanForm),
            errors=_ADMIN,
            security=ADMIN,
        )
    },
    "/api/whatif/runs": {
        "post": operation(
            "Start a what-if run (one at a time): replay the days under the actual plan and the variants",
            ref(Started),
            status="202",
            body=ref(RunBody),
            errors=(400, *_ADMIN, 404, 409, 413),
            security=ADMIN,
        )
    },
    "/api/whatif/runs/{id}": {
        "get": operation(
            "A run's progress (0-1) and, once done, its result (see docs/whatif.md)",
            ref(RunState),
            errors=(*_ADMIN, 404),
            security=ADMIN,
            params=[_ID],
        )
    },
    "/api/whatif/runs/{id}/export": {
        "get": operation(
            "A finished run as a file: XLSX (with charts), CSV or JSON",
            _STR,
            media="text/csv",
            errors=(400, *_ADMIN, 404, 409),
            security=ADMIN,
            params=[
                _ID,
                query_param("format", {"enum": ["xlsx", "csv", "json"]}, "Default xlsx"),
                query_param("dialect", {"enum": ["excel", "comma"]}, 'CSV: "excel" (";", decimal commas; default)'),
            ],
        )
    },
}
