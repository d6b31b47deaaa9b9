"""The appointment report: per service and day over a date range — booked, checked in,
absent, cancelled; the wait from the slot's start to the call; the share of calls within 10
minutes of the slot — as JSON, CSV or XLSX, like the queue report (``queue_server.reports``).

Definitions (also in the XLSX's "Giải thích" sheet and docs/appointments.md):

- booked: every booking for that day, cancelled ones included;
- cancelled: cancelled by the citizen or the staff;
- checked in: checked in at the kiosk;
- absent: booked, not cancelled, never checked in, and the check-in window has closed;
- wait: from the slot's start to the (latest) call of the ticket, 0 when called before the slot;
- on time: calls within ``ON_TIME_MINUTES`` of the slot's start, over all calls.
"""

from __future__ import annotations

import datetime as dt
import io
import sqlite3
from typing import Any

from .config import Config
from .csvout import DEFAULT_DIALECT, csv_bytes
from .errors import BadRequest
from .reports import MAX_DAYS, summarize, vn_date

ON_TIME_MINUTES = 10


def check_range(date_from: dt.date, date_to: dt.date) -> None:
    if date_to < date_from:
        raise BadRequest(
            "Ngày kết thúc phải sau ngày bắt đầu.", "The end date is before the start date.", key="bad_range"
        )
    if (date_to - date_from).days >= MAX_DAYS:
        raise BadRequest(
            "Khoảng thời gian quá dài (tối đa 3 năm).", "Range too long (at most 3 years).", key="bad_range"
        )


def _row(key_day: str | None, service: str | None, label: str) -> dict[str, Any]:
    return {
        "date": key_day,
        "service": service,
        "label": label,
        "booked": 0,
        "checked_in": 0,
        "absent": 0,
        "cancelled": 0,
        "_wait": {},
        "called": 0,
        "on_time": 0,
    }


def build(
    conn: sqlite3.Connection, config: Config, date_from: dt.date, date_to: dt.date, now: dt.datetime
) -> dict[str, Any]:
    check_range(date_from, date_to)
    names = {s.code: s.name for s in config.services}
    late = {s.code: s.booking.late_minutes for s in config.services}
    rows: dict[tuple[str, str], dict[str, Any]] = {}
    total = _row(None, None, "Tổng cộng")
    cur = conn.execute(
        "SELECT a.date, a.service, a.start, a.state, t.called_at FROM appointments a "
        "LEFT JOIN tickets t ON t.id = a.ticket_id WHERE a.date BETWEEN ? AND ? ORDER BY a.date, a.service",
        (date_from.isoformat(), date_to.isoformat()),
    )
    for day, service, start, state, called_at in cur:
        r = rows.get((day, service))
        if r is None:
            r = rows[(day, service)] = _row(day, service, names.get(service, service))
        slot = dt.datetime.combine(dt.date.fromisoformat(day), dt.time.fromisoformat(start), config.office.tz)
        closed = now > slot + dt.timedelta(minutes=late.get(service, 0))
        for g in (r, total):
            g["booked"] += 1
            if state == "cancelled":
                g["cancelled"] += 1
            elif state == "checked_in":
                g["checked_in"] += 1
            elif closed:
                g["absent"] += 1
        if called_at:
            wait = max(0, round((dt.datetime.fromisoformat(called_at) - slot).total_seconds()))
            for g in (r, total):
                g["called"] += 1
                g["_wait"][wait] = g["_wait"].get(wait, 0) + 1
                if wait <= ON_TIME_MINUTES * 60:
                    g["on_time"] += 1
    return {
        "office": config.office.name,
        "from": date_from.isoformat(),
        "to": date_to.isoformat(),
        "on_time_minutes": ON_TIME_MINUTES,
        "rows": [_finish(r) for r in rows.values()],
        "total": _finish(total),
    }


def _finish(g: dict[str, Any]) -> dict[str, Any]:
    out = {k: v for k, v in g.items() if not k.startswith("_")}
    out["wait"] = summarize(g["_wait"])
    out["on_time_share"] = round(g["on_time"] / g["called"], 4) if g["called"] else None
    return out


HEADERS = [
    "Ngày",
    "Lĩnh vực",
    "Đã đặt",
    "Đã đến (xác nhận)",
    "Vắng mặt",
    "Đã hủy",
    "Được gọi",
    "Chờ từ giờ hẹn TB (phút)",
    "Chờ trung vị (phút)",
    "Chờ P90 (phút)",
    "Chờ tối đa (phút)",
    "Gọi trong 10 phút (%)",
]
DEFINITIONS = (
    "Đã đặt: mọi lịch hẹn của ngày, kể cả lịch đã hủy. Đã hủy: công dân hoặc cán bộ hủy.",
    "Đã đến: đã xác nhận tại kiosk. Vắng mặt: đã đặt, không hủy, không xác nhận và đã quá giờ xác nhận.",
    "Chờ từ giờ hẹn: từ đầu khung giờ hẹn đến lúc được gọi (0 nếu được gọi trước giờ hẹn). Thời gian tính bằng phút.",
    "Gọi trong 10 phút: tỷ lệ lượt gọi trong vòng 10 phút kể từ đầu khung giờ hẹn.",
)


def table(report: dict[str, Any]) -> list[list[Any]]:
    def minutes(v: float | None) -> float | None:
        return None if v is None else round(v / 60, 1)

    out = []
    for r in [*report["rows"], report["total"]]:
        first: Any = dt.date.fromisoformat(r["date"]) if r["date"] else r["label"]
        out.append(
            [
                first,
                r["label"] if r["date"] else "",
                r["booked"],
                r["checked_in"],
                r["absent"],
                r["cancelled"],
                r["called"],
                *[minutes(r["wait"][k]) for k in ("mean", "median", "p90", "max")],
                None if r["on_time_share"] is None else round(r["on_time_share"] * 100, 1),
            ]
        )
    return out


def to_csv(report: dict[str, Any], dialect: str = DEFAULT_DIALECT) -> bytes:
    """Dates dd/mm/yyyy; by default as Vietnamese Excel reads it (";", decimal comma, BOM), or
    plain comma-separated (``dialect="comma"``): ``queue_server.csvout``, like every report."""
    rows = ([vn_date(v) if isinstance(v, dt.date) else v for v in line] for line in table(report))
    return csv_bytes(HEADERS, rows, dialect)


def to_xlsx(report: dict[str, Any]) -> bytes:
    from openpyxl import Workbook
    from openpyxl.styles import Font

    wb = Workbook()
    ws = wb.active
    ws.title = "Lịch hẹn"
    ws.append([report["office"]])
    ws.append([f"Báo cáo lịch hẹn từ {vn_date(report['from'])} đến {vn_date(report['to'])}"])
    ws.append([])
    ws.append(HEADERS)
    for line in table(report):
        ws.append(line)
    ws["A1"].font = Font(bold=True, size=14)
    for cell in ws[4]:
        cell.font = Font(bold=True)
    for cell in ws[ws.max_row]:
        cell.font = Font(bold=True)
    for row in ws.iter_rows(min_row=5, max_col=1):
        for cell in row:
            if isinstance(cell.value, dt.date):
                cell.number_format = "dd/mm/yyyy"
    for row in ws.iter_rows(min_row=5, min_col=3, max_col=7):
        for cell in row:
            cell.number_format = "#,##0"
    ws.freeze_panes = "C5"
    ws.column_dimensions["A"].width = 14
    ws.column_dimensions["B"].width = 28
    notes = wb.create_sheet("Giải thích")
    for text in DEFINITIONS:
        notes.append([text])
    notes.column_dimensions["A"].width = 120
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()


def filename(report: dict[str, Any], ext: str) -> str:
    return f"lich-hen-{report['from']}-{report['to']}.{ext}"


def run_command(config: Config, date_from: str, date_to: str, fmt: str, output: str | None, dialect: str) -> str:
    """``motcua report --kind appointments`` at an office: like the ticket report's command."""
    from .reports import parse_date, read_database, write_report

    start, end = parse_date(date_from), parse_date(date_to)
    check_range(start, end)
    report = read_database(config, lambda conn: build(conn, config, start, end, dt.datetime.now(config.office.tz)))
    return write_report(report, fmt, output, to_csv=lambda r: to_csv(r, dialect), to_xlsx=to_xlsx, filename=filename)
