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
from typing import Any

from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, Response
from starlette.routing import Route

from .. import auth
from ..config import LEVELS, Config
from ..csvout import DEFAULT_DIALECT, DIALECTS
from ..errors import BadRequest, Conflict, MotcuaError, NotFound
from ..office import Office
from ..openapi import STAFF, obj, operation, path_param, query_param
from ..reports import parse_date
from ..store import connect
from . import export
from .plan import actual_plan, parse_plans
from .runner import Request as RunRequest
from .runner import run

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


async def get_plan(request: Request) -> JSONResponse:
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

    return JSONResponse(
        {
            "plan": actual_plan(config).to_dict(),
            "services": [{"code": s.code, "name": s.name} for s in config.services],
            "counters": [{"number": c.number, "name": c.name} for c in config.counters],
            "days": await asyncio.to_thread(days),
            "today": today.isoformat(),
        }
    )


def _int(body: dict[str, Any], name: str, default: int) -> int:
    value = body.get(name, default)
    if isinstance(value, bool) or not isinstance(value, int):
        raise BadRequest(f"{name} phải là số nguyên.", f"{name} must be a whole number.", key="bad_request", field=name)
    return value


def _number(body: dict[str, Any], name: str, default: float) -> float:
    value = body.get(name, default)
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value != value:
        raise BadRequest(f"{name} phải là một số.", f"{name} must be a number.", key="bad_request", field=name)
    return float(value)


def parse_run(body: dict[str, Any], config: Config) -> RunRequest:
    allowed = {"from", "to", "seeds", "variants", "recommend", "objective", "weight", "budget_s"}
    for k in body:
        if k not in allowed:
            raise BadRequest(f"Trường không hợp lệ: {k}.", f"Unknown field: {k}.", key="bad_request", field=k)
    if not isinstance(body.get("from"), str):
        raise BadRequest("Hãy chọn ngày bắt đầu.", "Choose the first day.", key="bad_date", field="from")
    start = parse_date(body["from"])
    end = parse_date(body["to"]) if isinstance(body.get("to"), str) else start
    recommend = body.get("recommend", False)
    if not isinstance(recommend, bool):
        raise BadRequest(
            "recommend phải là true hoặc false.",
            "recommend must be true or false.",
            key="bad_request",
            field="recommend",
        )
    objective = body.get("objective", "p90")
    if not isinstance(objective, str):
        raise BadRequest("objective phải là chuỗi.", "objective must be a string.", key="bad_objective")
    request = RunRequest(
        start,
        end,
        parse_plans({"variants": body.get("variants", [])}, config),
        seeds=_int(body, "seeds", 20),
        recommend=recommend,
        objective=objective,
        weight=_number(body, "weight", 0.5),
        budget_s=_number(body, "budget_s", 25.0),
    )
    request.check()
    return request


async def start_run(request: Request) -> JSONResponse:
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
    return JSONResponse(
        {"id": item.id, "state": item.state, "status_url": f"/api/whatif/runs/{item.id}"}, status_code=202
    )


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


async def get_run(request: Request) -> JSONResponse:
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
    return JSONResponse(body)


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
_NUM = {"type": ["number", "null"]}
_ADMIN = (401, 403)
_SESSION = "^[0-9]{2}:[0-9]{2}-[0-9]{2}:[0-9]{2}$"
_ID = path_param("id", {"type": "integer", "minimum": 1})
_COUNTER_PLAN = obj(
    {"number": {"type": "integer", "minimum": 1, "maximum": 999}},
    {
        "services": {"type": "object", "additionalProperties": {"enum": list(LEVELS)}},
        "hours": {"type": "array", "items": {"type": "string", "pattern": _SESSION}},
        "closed": {"type": "boolean"},
        "shift_minutes": {"type": "integer", "minimum": -180, "maximum": 180},
    },
)
_VARIANT = obj(
    {"name": {"type": "string", "minLength": 1, "maxLength": 80}},
    {
        "priority_rule": {"enum": ["strict", "interleave"]},
        "interleave": {"type": "integer", "minimum": 0},
        "clerks": {"type": "integer", "minimum": 1},
        "counters": {"type": "array", "items": _COUNTER_PLAN},
    },
)
_DATE = {"type": "string", "pattern": "^([0-9]{4}-[0-9]{2}-[0-9]{2}|[0-9]{2}/[0-9]{2}/[0-9]{4})$"}
_RUN_BODY = {
    **obj(
        {"from": _DATE},
        {
            "to": _DATE,
            "seeds": {"type": "integer", "minimum": 1, "maximum": 200},
            "variants": {"type": "array", "items": _VARIANT, "maxItems": 20},
            "recommend": {"type": "boolean"},
            "objective": {"enum": ["p90", "balance", "mix"]},
            "weight": {"type": "number", "minimum": 0, "maximum": 1},
            "budget_s": {"type": "number", "minimum": 1, "maximum": 600},
        },
    ),
    "additionalProperties": False,
}
_RUN = obj(
    {"id": {"type": "integer"}, "state": {"enum": ["running", "done", "failed"]}, "progress": {"type": "number"}},
    {"result": {"type": "object"}, "agreement_text": {"type": "array", "items": _STR}, "error": {"type": "object"}},
)

openapi_paths: dict[str, Any] = {
    "/api/whatif/plan": {
        "get": operation(
            "The actual counter plan, services, counters and the recorded days of the last 60 days (for the form)",
            obj(
                {
                    "plan": _VARIANT,
                    "services": {"type": "array", "items": obj({"code": _STR, "name": _STR})},
                    "counters": {"type": "array", "items": obj({"number": {"type": "integer"}, "name": _STR})},
                    "days": {"type": "array", "items": _STR},
                    "today": _STR,
                }
            ),
            errors=_ADMIN,
            security=STAFF,
        )
    },
    "/api/whatif/runs": {
        "post": operation(
            "Start a what-if run (one at a time): replay the days under the actual plan and the variants",
            obj({"id": {"type": "integer"}, "state": {"const": "running"}, "status_url": _STR}),
            status="202",
            body=_RUN_BODY,
            errors=(400, *_ADMIN, 404, 409, 413),
            security=STAFF,
        )
    },
    "/api/whatif/runs/{id}": {
        "get": operation(
            "A run's progress (0-1) and, once done, its result (see docs/whatif.md)",
            _RUN,
            errors=(*_ADMIN, 404),
            security=STAFF,
            params=[_ID],
        )
    },
    "/api/whatif/runs/{id}/export": {
        "get": operation(
            "A finished run as a file: XLSX (with charts), CSV or JSON",
            _STR,
            media="text/csv",
            errors=(400, *_ADMIN, 404, 409),
            security=STAFF,
            params=[
                _ID,
                query_param("format", {"enum": ["xlsx", "csv", "json"]}, "Default xlsx"),
                query_param("dialect", {"enum": ["excel", "comma"]}, 'CSV: "excel" (";", decimal commas; default)'),
            ],
        )
    },
}
