"""The dossier report and the satisfaction report (definitions in docs/reports.md).
(Over 400 lines: each dossier and satisfaction figure's SQL sits beside its definition and export.)

Dossier report — the dossiers *received* in the date range, in their state when the report
is made, each in exactly one of:

- *on time*: result ready on or before its original due date, never extended;
- *late*: result ready after the original due date, or extended with an apology (whatever
  the new date);
- *pending, not yet due*: not ready yet, today is not after the original due date, not extended;
- *pending, overdue*: not ready yet and extended or past the original due date;
- *withdrawn*: the citizen withdrew it.

*On-time rate* = on time / (on time + late): the share of resolved dossiers resolved on time
(pending ones are not resolved yet; overdue ones will count as late once resolved).

Satisfaction report — the served tickets (state ``done``) of the range with their rating,
the officer who finished them, the counter, the service and the dossiers of the visit.
*Satisfaction rate* = ratings at the top ``rating.satisfied_levels`` levels / ratings.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import io
import sqlite3
from collections import defaultdict
from typing import Annotated, Any

from msgspec import UNSET, Meta, Struct, UnsetType
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from . import auth
from .answers import Answer
from .config import Config
from .csvout import DEFAULT_DIALECT, csv_bytes
from .dossiers import vn_date
from .errors import BadRequest
from .office import Office
from .openapi import ADMIN, operation, query_param
from .report_routes import DIALECT_PARAM, export_dialect
from .reports import MAX_DAYS, NO_GROUP, parse_date
from .schemas import ref

KINDS = ("dossiers", "satisfaction")
GROUPINGS = {
    "dossiers": ("month", "service", "procedure", "staff"),
    "satisfaction": ("month", "service", "staff", "counter"),
}
CATEGORIES = ("on_time", "late", "pending", "overdue", "withdrawn")
GROUP_HEADERS = {"month": "Tháng", "service": "Lĩnh vực", "procedure": "Thủ tục", "staff": "Cán bộ", "counter": "Quầy"}
# Ratings listed one by one in the JSON answer (the XLSX export lists them all).
RATINGS_SHOWN = 500


# ---------------------------------------------------------------------- Vietnamese numbers


def vn_int(n: int) -> str:
    """12439 → "12.439"."""
    return f"{n:,}".replace(",", ".")


def vn_percent(share: float | None) -> str:
    """0.99943 → "99,94%"."""
    if share is None:
        return "—"
    return f"{share * 100:.2f}".replace(".", ",") + "%"


def category(d: dict[str, Any], today: str) -> str:
    if d["status"] == "withdrawn":
        return "withdrawn"
    if d["ready_on"] and d["status"] in ("ready", "returned"):
        return "on_time" if not d["new_due_date"] and d["ready_on"] <= d["due_date"] else "late"
    return "overdue" if d["new_due_date"] or today > d["due_date"] else "pending"


def rate(on_time: int, late: int) -> float | None:
    return on_time / (on_time + late) if on_time + late else None


def _check(kind: str, date_from: dt.date, date_to: dt.date, by: str) -> None:
    if by not in GROUPINGS[kind]:
        raise BadRequest(
            f"Nhóm theo phải là: {', '.join(GROUPINGS[kind])}.",
            f"Group by must be one of: {', '.join(GROUPINGS[kind])}.",
            key="bad_group",
        )
    if date_to < date_from:
        raise BadRequest("Ngày kết thúc trước ngày bắt đầu.", "The end date is before the start date.", key="bad_range")
    if (date_to - date_from).days >= MAX_DAYS:
        raise BadRequest(
            "Khoảng thời gian quá dài (tối đa 3 năm).", "Range too long (3 years at most).", key="bad_range"
        )


def _names(conn: sqlite3.Connection, config: Config, by: str) -> dict[Any, str]:
    if by == "service":
        return {s.code: s.name for s in config.services}
    if by == "procedure":
        return {p.code: f"{p.code} – {p.name}" for p in config.procedures}
    if by == "staff":
        return {r[0]: r[1] or r[0] for r in conn.execute("SELECT username, display_name FROM users")}
    if by == "counter":
        return {c.number: c.name for c in config.counters}
    return {}


def _label(by: str, key: Any, names: dict[Any, str]) -> str:
    if key is None:
        return NO_GROUP
    if by == "month":
        return f"{key[5:7]}/{key[:4]}"
    return names.get(key, str(key))


def summary_sentence(date_from: dt.date, date_to: dt.date, received: int, on_time: int, late: int) -> str:
    """As the article writes it: "Năm 2026 tiếp nhận 12.439 hồ sơ, giải quyết đúng hạn 12.432 hồ sơ (99,94%)"."""
    if date_from == dt.date(date_from.year, 1, 1) and date_to == dt.date(date_from.year, 12, 31):
        when = f"Năm {date_from.year}"
    else:
        when = f"Từ ngày {vn_date(date_from)} đến ngày {vn_date(date_to)}"
    return (
        f"{when} tiếp nhận {vn_int(received)} hồ sơ, giải quyết đúng hạn {vn_int(on_time)} hồ sơ "
        f"({vn_percent(rate(on_time, late))})"
    )


# ---------------------------------------------------------------------- the dossier report


def build_dossier_report(
    conn: sqlite3.Connection, config: Config, date_from: dt.date, date_to: dt.date, by: str, today: dt.date
) -> dict[str, Any]:
    _check("dossiers", date_from, date_to, by)
    now = today.isoformat()
    column = {"month": "substr(received_on, 1, 7)", "service": "service", "procedure": "procedure", "staff": "staff"}[
        by
    ]
    groups: dict[Any, dict[str, int]] = defaultdict(lambda: dict.fromkeys(("received", *CATEGORIES), 0))
    late_list = []
    proc_names = {p.code: p.name for p in config.procedures}
    for row in conn.execute(
        f"SELECT {column}, code, procedure, status, received_on, due_date, new_due_date, ready_on, extend_reason "
        "FROM dossiers WHERE received_on BETWEEN ? AND ? ORDER BY received_on, code",
        (date_from.isoformat(), date_to.isoformat()),
    ):
        key, code, proc, status, received_on, due, new_due, ready_on, reason = row
        d = {"status": status, "due_date": due, "new_due_date": new_due, "ready_on": ready_on}
        cat = category(d, now)
        g = groups[key]
        g["received"] += 1
        g[cat] += 1
        if cat in ("late", "overdue"):
            late_list.append(
                {
                    "code": code,
                    "procedure": proc,
                    "procedure_name": proc_names.get(proc or "", proc or ""),
                    "received_on": received_on,
                    "due_date": due,
                    "new_due_date": new_due,
                    "ready_on": ready_on,
                    "status": status,
                    "reason": reason or "",
                    "pending": cat == "overdue",
                }
            )
    names = _names(conn, config, by)
    rows = [
        _finish(key, _label(by, key, names), g)
        for key, g in sorted(groups.items(), key=lambda kv: (kv[0] is None, str(kv[0])))
    ]
    total = dict.fromkeys(("received", *CATEGORIES), 0)
    for g in groups.values():
        for k in total:
            total[k] += g[k]
    total_row = _finish(None, "Tổng cộng", total)
    return {
        "kind": "dossiers",
        "office": config.office.name,
        "from": date_from.isoformat(),
        "to": date_to.isoformat(),
        "by": by,
        "as_of": now,
        "rows": rows,
        "total": total_row,
        "late": late_list,
        "summary": summary_sentence(date_from, date_to, total["received"], total["on_time"], total["late"]),
    }


def _finish(key: Any, label: str, g: dict[str, int]) -> dict[str, Any]:
    share = rate(g["on_time"], g["late"])
    return {
        "key": key,
        "label": label,
        **g,
        "resolved": g["on_time"] + g["late"],
        "on_time_rate": share,
        "on_time_rate_text": vn_percent(share),
    }


# ---------------------------------------------------------------------- the satisfaction report


def build_satisfaction_report(
    conn: sqlite3.Connection, config: Config, date_from: dt.date, date_to: dt.date, by: str
) -> dict[str, Any]:
    _check("satisfaction", date_from, date_to, by)
    levels = config.rating.levels
    top = levels - config.rating.satisfied_levels
    column = {"month": "substr(t.day, 1, 7)", "service": "t.service", "staff": "t.staff", "counter": "t.counter"}[by]
    groups: dict[Any, dict[str, Any]] = {}
    ratings = []
    dossiers_of: dict[int, list[str]] = defaultdict(list)
    for tid, code in conn.execute(
        "SELECT DISTINCT l.ticket_id, l.code FROM dossier_log l JOIN tickets t ON t.id = l.ticket_id "
        "WHERE t.day BETWEEN ? AND ? AND l.code IS NOT NULL ORDER BY l.id",
        (date_from.isoformat(), date_to.isoformat()),
    ):
        dossiers_of[tid].append(code)
    for key, tid, day, label, service, counter, staff, rating, rated_at in conn.execute(
        f"SELECT {column}, t.id, t.day, t.label, t.service, t.counter, t.staff, t.rating, t.rated_at "
        "FROM tickets t WHERE t.day BETWEEN ? AND ? AND t.state = 'done' ORDER BY t.day, t.id",
        (date_from.isoformat(), date_to.isoformat()),
    ):
        g = groups.setdefault(key, {"served": 0, "rated": 0, "no_rating": 0, "satisfied": 0, "ratings": [0] * levels})
        g["served"] += 1
        if rating is None:
            g["no_rating"] += 1
            continue
        g["rated"] += 1
        if 1 <= rating <= levels:
            g["ratings"][rating - 1] += 1
        if rating > top:
            g["satisfied"] += 1
        ratings.append(
            {
                "ticket_id": tid,
                "day": day,
                "label": label,
                "service": service,
                "counter": counter,
                "staff": staff,
                "rating": rating,
                "rated_at": rated_at,
                "dossiers": dossiers_of.get(tid, []),
            }
        )
    names = _names(conn, config, by)
    staff_names = _names(conn, config, "staff")
    for r in ratings:
        r["staff_name"] = staff_names.get(r["staff"], r["staff"] or NO_GROUP)
    rows = [
        _sat_row(key, _label(by, key, names), g)
        for key, g in sorted(groups.items(), key=lambda kv: (kv[0] is None, str(kv[0])))
    ]
    total: dict[str, Any] = {"served": 0, "rated": 0, "no_rating": 0, "satisfied": 0, "ratings": [0] * levels}
    for g in groups.values():
        for k in ("served", "rated", "no_rating", "satisfied"):
            total[k] += g[k]
        total["ratings"] = [a + b for a, b in zip(total["ratings"], g["ratings"])]
    return {
        "kind": "satisfaction",
        "office": config.office.name,
        "from": date_from.isoformat(),
        "to": date_to.isoformat(),
        "by": by,
        "rating_levels": levels,
        "satisfied_levels": config.rating.satisfied_levels,
        "rows": rows,
        "total": _sat_row(None, "Tổng cộng", total),
        "ratings": ratings[-RATINGS_SHOWN:][::-1],
        "ratings_total": len(ratings),
        "all_ratings": ratings,
    }


def _sat_row(key: Any, label: str, g: dict[str, Any]) -> dict[str, Any]:
    share = g["satisfied"] / g["rated"] if g["rated"] else None
    return {"key": key, "label": label, **g, "satisfaction_rate": share, "satisfaction_rate_text": vn_percent(share)}


# ---------------------------------------------------------------------- tables and files


def tables(report: dict[str, Any]) -> list[tuple[str, list[str], list[list[Any]]]]:
    """(sheet name, headers, rows) for every table of ``report``."""
    by = GROUP_HEADERS[report["by"]]
    if report["kind"] == "dossiers":
        heads = [
            by,
            "Tiếp nhận",
            "Đúng hạn",
            "Trễ hạn",
            "Chưa đến hạn",
            "Quá hạn chưa giải quyết",
            "Đã rút",
            "Tỷ lệ đúng hạn (%)",
        ]
        lines = [
            [
                r["label"],
                r["received"],
                r["on_time"],
                r["late"],
                r["pending"],
                r["overdue"],
                r["withdrawn"],
                None if r["on_time_rate"] is None else round(r["on_time_rate"] * 100, 2),
            ]
            for r in [*report["rows"], report["total"]]
        ]
        late = [
            [
                d["code"],
                d["procedure_name"],
                vn_date(d["received_on"]),
                vn_date(d["due_date"]),
                vn_date(d["new_due_date"]),
                vn_date(d["ready_on"]),
                "Chưa giải quyết" if d["pending"] else "Đã giải quyết",
                d["reason"],
            ]
            for d in report["late"]
        ]
        return [
            ("Hồ sơ", heads, lines),
            (
                "Trễ hạn",
                ["Mã hồ sơ", "Thủ tục", "Ngày nhận", "Hẹn trả", "Hẹn lại", "Có kết quả", "Tình trạng", "Lý do"],
                late,
            ),
        ]
    levels = report["rating_levels"]
    heads = [
        by,
        "Đã phục vụ",
        "Có đánh giá",
        "Không đánh giá",
        *[f"Mức {i}" for i in range(1, levels + 1)],
        "Hài lòng",
        "Tỷ lệ hài lòng (%)",
    ]
    lines = [
        [
            r["label"],
            r["served"],
            r["rated"],
            r["no_rating"],
            *r["ratings"],
            r["satisfied"],
            None if r["satisfaction_rate"] is None else round(r["satisfaction_rate"] * 100, 2),
        ]
        for r in [*report["rows"], report["total"]]
    ]
    each = [
        [
            r["ticket_id"],
            vn_date(r["day"]),
            r["label"],
            r["service"],
            r["counter"],
            r["staff_name"],
            r["rating"],
            ", ".join(r["dossiers"]),
        ]
        for r in report["all_ratings"]
    ]
    return [
        ("Hài lòng", heads, lines),
        ("Đánh giá", ["Vé (id)", "Ngày", "Số", "Lĩnh vực", "Quầy", "Cán bộ", "Mức", "Hồ sơ"], each),
    ]


def to_csv(report: dict[str, Any], dialect: str = DEFAULT_DIALECT) -> bytes:
    """The main table, then the summary line for dossiers; by default as Vietnamese Excel reads
    it (";", decimal comma, BOM), or plain comma-separated (``dialect="comma"``):
    ``queue_server.csvout``, like every report."""
    name, heads, lines = tables(report)[0]
    rows = [list(line) for line in lines]
    if report["kind"] == "dossiers":
        rows += [[], [report["summary"]]]
    return csv_bytes(heads, rows, dialect)


def to_xlsx(report: dict[str, Any]) -> bytes:
    from openpyxl import Workbook
    from openpyxl.styles import Font

    wb = Workbook()
    wb.remove(wb.active)
    title = "Báo cáo hồ sơ" if report["kind"] == "dossiers" else "Báo cáo mức độ hài lòng"
    for i, (name, heads, lines) in enumerate(tables(report)):
        ws = wb.create_sheet(name)
        if i == 0:
            ws.append([report["office"]])
            ws.append([f"{title} từ {vn_date(report['from'])} đến {vn_date(report['to'])}"])
            if report["kind"] == "dossiers":
                ws.append([report["summary"]])
            ws.append([])
            ws["A1"].font = Font(bold=True, size=14)
        ws.append(heads)
        for cell in ws[ws.max_row]:
            cell.font = Font(bold=True)
        for line in lines:
            ws.append(line)
        ws.column_dimensions["A"].width = 30
    notes = wb.create_sheet("Giải thích")
    for text in DEFINITIONS[report["kind"]]:
        notes.append([text])
    notes.column_dimensions["A"].width = 120
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()


DEFINITIONS = {
    "dossiers": (
        "Hồ sơ tiếp nhận trong khoảng thời gian, theo trạng thái tại thời điểm lập báo cáo.",
        "Đúng hạn: có kết quả vào hoặc trước ngày hẹn trả ban đầu, không phải hẹn lại.",
        "Trễ hạn: có kết quả sau ngày hẹn trả ban đầu, hoặc đã phải xin lỗi và hẹn lại ngày trả "
        "(dù ngày mới là ngày nào).",
        "Chưa đến hạn: chưa có kết quả, chưa quá ngày hẹn. Quá hạn: chưa có kết quả, đã quá ngày hẹn hoặc đã hẹn lại.",
        "Tỷ lệ đúng hạn = số hồ sơ đúng hạn / (đúng hạn + trễ hạn), tức trên số hồ sơ đã giải quyết.",
    ),
    "satisfaction": (
        "Lượt phục vụ: vé đã xong trong khoảng thời gian; cán bộ và quầy là người/quầy đã hoàn thành vé.",
        "Tỷ lệ hài lòng = số đánh giá ở các mức cao nhất (rating.satisfied_levels) / số đánh giá.",
        "Không đánh giá: lượt đã phục vụ mà người dân không bấm đánh giá.",
    ),
}


def filename(report: dict[str, Any], ext: str) -> str:
    return f"bao-cao-{report['kind']}-{report['from']}-{report['to']}-{report['by']}.{ext}"


def build(
    conn: sqlite3.Connection, config: Config, kind: str, date_from: dt.date, date_to: dt.date, by: str, today: dt.date
) -> dict[str, Any]:
    if kind == "dossiers":
        return build_dossier_report(conn, config, date_from, date_to, by, today)
    return build_satisfaction_report(conn, config, date_from, date_to, by)


def run_command(
    config: Config,
    kind: str,
    date_from: str,
    date_to: str,
    by: str | None,
    fmt: str,
    output: str | None,
    csv_dialect: str = DEFAULT_DIALECT,
) -> str:
    """``motcua report --kind dossiers|satisfaction``: like the ticket report."""
    from .reports import read_database, write_report

    by = by or "month"
    start, end = parse_date(date_from), parse_date(date_to)
    _check(kind, start, end, by)
    today = dt.datetime.now(config.office.tz).date()
    report = read_database(config, lambda conn: build(conn, config, kind, start, end, by, today))
    if fmt == "json":
        report.pop("all_ratings", None)
    return write_report(
        report, fmt, output, to_csv=lambda r: to_csv(r, csv_dialect), to_xlsx=to_xlsx, filename=filename
    )


# ---------------------------------------------------------------------- admin routes


async def _report(request: Request, kind: str) -> dict[str, Any]:
    office: Office = request.app.state.office
    auth.require_user(request, office, role="admin")
    q = request.query_params
    today = office.clock().astimezone(office.config.office.tz).date()
    start = parse_date(q.get("from") or dt.date(today.year, 1, 1).isoformat())
    end = parse_date(q.get("to") or today.isoformat())
    by = q.get("by") or "month"
    _check(kind, start, end, by)

    return await office.read_aside(build, office.config, kind, start, end, by, today)


def _handlers(kind: str) -> tuple[Any, Any]:
    async def get(request: Request) -> Answer:
        report = await _report(request, kind)
        report.pop("all_ratings", None)
        return Answer(report)

    async def export(request: Request) -> Response:
        auth.require_user(request, request.app.state.office, role="admin")
        fmt = request.query_params.get("format") or "xlsx"
        if fmt not in ("csv", "xlsx"):
            raise BadRequest("Định dạng phải là csv hoặc xlsx.", "Format must be csv or xlsx.", key="bad_format")
        dialect = export_dialect(request)
        report = await _report(request, kind)
        if fmt == "csv":
            data, media = to_csv(report, dialect), "text/csv; charset=utf-8"
        else:
            data, media = await asyncio.to_thread(to_xlsx, report), _XLSX
        return Response(
            data, media_type=media, headers={"Content-Disposition": f'attachment; filename="{filename(report, fmt)}"'}
        )

    get.__name__, export.__name__ = f"{kind}_report", f"{kind}_report_export"
    return get, export


_XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


class DossierReport(Struct, kw_only=True, rename={"from_": "from"}):
    kind: Annotated[str, Meta(extra_json_schema={"enum": list(KINDS)})]
    from_: str
    to: str
    rows: list[dict[str, Any]]
    total: dict[str, Any]
    office: str
    by: str
    # The dossiers report's (left out of the satisfaction report):
    as_of: str | UnsetType = UNSET
    late: list[dict[str, Any]] | UnsetType = UNSET
    summary: str | UnsetType = UNSET
    # The satisfaction report's (left out of the dossiers report):
    rating_levels: int | UnsetType = UNSET
    satisfied_levels: int | UnsetType = UNSET
    ratings: list[dict[str, Any]] | UnsetType = UNSET
    ratings_total: int | UnsetType = UNSET


routes = []
openapi_paths: dict[str, Any] = {}
for _kind in KINDS:
    _get, _export = _handlers(_kind)
    routes += [Route(f"/api/reports/{_kind}", _get), Route(f"/api/reports/{_kind}/export", _export)]
    _query = [
        query_param("from", {"type": "string"}, "First day (dd/mm/yyyy or yyyy-mm-dd; default 1 January)"),
        query_param("to", {"type": "string"}, "Last day (default today)"),
        query_param("by", {"enum": list(GROUPINGS[_kind])}, "Group by (default month)"),
    ]
    _file = operation(
        f"The {_kind} report as a file (CSV or XLSX)",
        {"type": "string"},
        errors=(400, 401, 403),
        security=ADMIN,
        media="text/csv",
        params=[*_query, query_param("format", {"enum": ["csv", "xlsx"]}, "Default xlsx"), DIALECT_PARAM],
    )
    _file["responses"]["200"]["content"][_XLSX] = {"schema": {"type": "string", "format": "binary"}}
    openapi_paths[f"/api/reports/{_kind}"] = {
        "get": operation(
            f"The {_kind} report (admin; definitions in docs/reports.md)",
            ref(DossierReport),
            errors=(400, 401, 403),
            security=ADMIN,
            params=_query,
        )
    }
    openapi_paths[f"/api/reports/{_kind}/export"] = {"get": _file}

__all__ = ["build", "routes", "openapi_paths"]
