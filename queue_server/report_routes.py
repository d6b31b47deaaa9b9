"""The report routes (admin role only): a report for a range of office days as JSON, and the
same as a CSV or XLSX download. The figures come from ``queue_server.reports``; they are
read with their own read-only connection in a worker thread, so a year report never stalls
the queue."""

from __future__ import annotations

import asyncio
import datetime as dt
from typing import Annotated, Any, Literal, Protocol

from msgspec import Meta, Struct
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from . import auth, reports
from .answers import Answer
from .csvout import DEFAULT_DIALECT, DIALECTS
from .errors import BadRequest
from .office import Office
from .openapi import ADMIN, operation, query_param
from .schemas import Summary, ref

REPORT_CACHE = 4


def _office(request: Request) -> Office:
    return request.app.state.office  # type: ignore[no-any-return]


def _admin(request: Request) -> dict[str, Any]:
    return auth.require_user(request, _office(request), role="admin")


def _report_args(request: Request, office: Office) -> tuple[dt.date, dt.date, str]:
    q = request.query_params
    today = office.day
    start = reports.parse_date(q.get("from") or today)
    end = reports.parse_date(q.get("to") or q.get("from") or today)
    by = q.get("by") or "day"
    reports.check_range(start, end, by)
    return start, end, by


async def _report(request: Request) -> dict[str, Any]:
    """The report asked for. The last few are kept until the next event: viewing a year and
    then downloading it as CSV and Excel builds it once. (A ticket of an earlier day can
    still change — one being served over midnight — so any event clears the reuse.)"""
    office = _office(request)
    _admin(request)
    start, end, by = _report_args(request, office)
    state = request.app.state
    if not hasattr(state, "admin_reports"):
        state.admin_reports = {}
    cache: dict[tuple[Any, ...], dict[str, Any]] = state.admin_reports
    key = (start, end, by, office.seq, id(office.config))
    if key in cache:
        return cache[key]

    report = await office.read_aside(reports.build_report, office.config, start, end, by)
    if any(k[3:] != key[3:] for k in cache):
        cache.clear()
    while len(cache) >= REPORT_CACHE:
        del cache[next(iter(cache))]  # the oldest
    cache[key] = report
    return report


async def get_report(request: Request) -> Answer:
    return Answer(await _report(request))


class Exporter(Protocol):
    """A report module that writes its report as files (``reports``, ``appointment_report``)."""

    def to_csv(self, report: dict[str, Any]) -> bytes: ...

    def to_xlsx(self, report: dict[str, Any]) -> bytes: ...

    def filename(self, report: dict[str, Any], ext: str) -> str: ...


def export_format(request: Request) -> str:
    """The ``format`` query parameter of a download: csv or xlsx (the default)."""
    fmt = request.query_params.get("format") or "xlsx"
    if fmt not in ("csv", "xlsx"):
        raise BadRequest("Định dạng phải là csv hoặc xlsx.", "Format must be csv or xlsx.", key="bad_format")
    return fmt


async def download(report: dict[str, Any], fmt: str, exporter: Exporter) -> Response:
    """``report`` as a file to download (XLSX is built in a worker thread)."""
    if fmt == "csv":
        data = exporter.to_csv(report)
        media = "text/csv; charset=utf-8"
    else:
        data = await asyncio.to_thread(exporter.to_xlsx, report)
        media = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    name = exporter.filename(report, fmt)
    return Response(data, media_type=media, headers={"Content-Disposition": f'attachment; filename="{name}"'})


def export_dialect(request: Request) -> str:
    """The ``dialect`` of a CSV download: "excel" (the default) or "comma" (queue_server.csvout)."""
    dialect = request.query_params.get("dialect") or DEFAULT_DIALECT
    if dialect not in DIALECTS:
        raise BadRequest(
            'Kiểu CSV phải là "excel" hoặc "comma".', 'CSV dialect must be "excel" or "comma".', key="bad_dialect"
        )
    return dialect


class InDialect:
    """A report module (``reports``, ``appointment_report``) writing its CSV in the asked
    dialect, for ``download``."""

    def __init__(self, module: Any, dialect: str):
        self.module = module
        self.dialect = dialect
        self.to_xlsx = module.to_xlsx
        self.filename = module.filename

    def to_csv(self, report: dict[str, Any]) -> bytes:
        return self.module.to_csv(report, self.dialect)  # type: ignore[no-any-return]


async def export_report(request: Request) -> Response:
    _admin(request)  # before looking at the query: a stranger learns nothing
    fmt = export_format(request)
    dialect = export_dialect(request)
    return await download(await _report(request), fmt, InDialect(reports, dialect))


routes = [
    Route("/api/reports", get_report),
    Route("/api/reports/export", export_report),
]


# The answer of /api/reports, declared once.
_ADMIN = (401, 403)  # not signed in, not an admin
_STR = {"type": "string"}
Number = float | None


class ReportRow(Struct, kw_only=True):
    key: str | int | None
    label: str
    issued: int
    served: int
    no_show: int
    closed_unstarted: int
    cancelled: int
    transferred: int
    expired: int
    rated: int
    waiting: Summary
    service: Summary
    ratings: list[int]
    served_share: Number
    satisfied_share: Number
    estimate_mae: Number


class StaffServed(Struct, kw_only=True):
    staff: str
    name: str
    served: int
    share: Number


class Charts(Struct, kw_only=True):
    arrivals_by_hour: dict[str, Any] | list[Any]
    wait_distribution: dict[str, Any] | list[Any]
    served_per_staff: dict[str, Any] | list[Any]
    satisfaction: dict[str, Any] | list[Any]


class Report(Struct, kw_only=True, rename={"from_": "from"}):
    office: str
    from_: str
    to: str
    by: Annotated[str, Meta(extra_json_schema={"enum": list(reports.GROUPINGS)})]
    rating_levels: int
    closed_without_start: Literal["served", "absent"]
    rows: list[ReportRow]
    total: ReportRow
    staff: list[StaffServed]
    charts: Charts


_DATE = {"type": "string", "pattern": "^([0-9]{4}-[0-9]{2}-[0-9]{2}|[0-9]{2}/[0-9]{2}/[0-9]{4})$"}
_REPORT_QUERY = [
    query_param("from", _DATE, "First office day (dd/mm/yyyy or yyyy-mm-dd; default today)"),
    query_param("to", _DATE, "Last office day (default: from)"),
    query_param("by", {"enum": list(reports.GROUPINGS)}, "Group by (default day)"),
]
_XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


# The ``dialect`` query parameter of every report download (ticket, appointment, dossier).
DIALECT_PARAM = query_param(
    "dialect",
    {"enum": list(DIALECTS)},
    'CSV only: "excel" (default: ";" and decimal comma with a BOM, as Vietnamese Excel '
    'reads it) or "comma" (plain "," and decimal point)',
)


def _export() -> dict[str, Any]:
    op = operation(
        "The report as a file to download (CSV for any program, XLSX for Excel)",
        _STR,
        errors=(400, *_ADMIN),
        security=ADMIN,
        media="text/csv",
        params=[
            *_REPORT_QUERY,
            query_param("format", {"enum": ["csv", "xlsx"]}, "Default xlsx"),
            DIALECT_PARAM,
        ],
    )
    ok = op["responses"]["200"]
    ok["content"][_XLSX] = {"schema": {"type": "string", "format": "binary"}}
    ok["headers"] = {"Content-Disposition": {"required": True, "schema": {"type": "string", "pattern": "^attachment"}}}
    return op


openapi_paths: dict[str, Any] = {
    "/api/reports": {
        "get": operation(
            "Report for a range of office days, grouped (see docs/reports.md)",
            ref(Report),
            errors=(400, *_ADMIN),
            security=ADMIN,
            params=_REPORT_QUERY,
        )
    },
    "/api/reports/export": {"get": _export()},
}
