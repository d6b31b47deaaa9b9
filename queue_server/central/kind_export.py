"""The central's dossier, satisfaction and appointment reports as files: the main table,
CSV (``queue_server.csvout``, Excel dialect by default) and XLSX with the definitions."""

from __future__ import annotations

import io
from typing import Any

from ..appointment_report import DEFINITIONS as APPOINTMENT_DEFINITIONS
from ..appointment_report import ON_TIME_MINUTES
from ..csvout import DEFAULT_DIALECT, csv_bytes
from ..dossier_reports import CATEGORIES, DEFINITIONS
from ..reports import vn_date

HEADERS = {
    "month": "Tháng",
    "day": "Ngày",
    "site": "Điểm một cửa",
    "service": "Lĩnh vực",
    "procedure": "Thủ tục",
    "staff": "Cán bộ",
    "counter": "Quầy",
}

TITLES = {
    "dossiers": "Báo cáo hồ sơ tổng hợp",
    "satisfaction": "Báo cáo mức độ hài lòng tổng hợp",
    "appointments": "Báo cáo lịch hẹn tổng hợp",
}


def _percent(share: float | None) -> float | None:
    return None if share is None else round(share * 100, 2)


def table(report: dict[str, Any]) -> tuple[list[str], list[list[Any]]]:
    """The report's main table: headers and rows (the total last)."""
    kind, by = report["kind"], report["by"]
    lines = [*report["rows"], report["total"]]
    if kind == "dossiers":
        heads = ["Tiếp nhận", "Đúng hạn", "Trễ hạn", "Chưa đến hạn", "Quá hạn chưa giải quyết", "Đã rút"]
        return [HEADERS[by], *heads, "Tỷ lệ đúng hạn (%)"], [
            [r["label"], *(r[c] for c in ("received", *CATEGORIES)), _percent(r["on_time_rate"])] for r in lines
        ]
    if kind == "satisfaction":
        levels = report["rating_levels"]
        heads = [
            HEADERS[by],
            "Đã phục vụ",
            "Có đánh giá",
            "Không đánh giá",
            *[f"Mức {i}" for i in range(1, levels + 1)],
        ]
        return [*heads, "Hài lòng", "Tỷ lệ hài lòng (%)"], [
            [
                r["label"],
                r["served"],
                r["rated"],
                r["no_rating"],
                *r["ratings"],
                r["satisfied"],
                _percent(r["satisfaction_rate"]),
            ]
            for r in lines
        ]

    def minutes(v: float | None) -> float | None:
        return None if v is None else round(v / 60, 1)

    first = ["Ngày", "Lĩnh vực"] if by == "day" else [HEADERS[by]]
    heads = [*first, "Đã đặt", "Đã đến (xác nhận)", "Vắng mặt", "Đã hủy", "Được gọi"]
    heads += ["Chờ từ giờ hẹn TB (phút)", "Chờ trung vị (phút)", "Chờ P90 (phút)", "Chờ tối đa (phút)"]
    out = []
    for r in lines:
        lead = (
            [vn_date(r["date"]) if r["date"] else r["label"], r["label"] if r["date"] else ""]
            if by == "day"
            else [r["label"]]
        )
        counts = [r[c] for c in ("booked", "checked_in", "absent", "cancelled", "called")]
        share = None if r["on_time_share"] is None else round(r["on_time_share"] * 100, 1)
        out.append([*lead, *counts, *(minutes(r["wait"][k]) for k in ("mean", "median", "p90", "max")), share])
    return [*heads, f"Gọi trong {ON_TIME_MINUTES} phút (%)"], out


def to_csv(report: dict[str, Any], dialect: str = DEFAULT_DIALECT) -> bytes:
    heads, lines = table(report)
    if report["kind"] == "dossiers":
        lines = [*lines, [], [report["summary"]]]
    return csv_bytes(heads, lines, dialect)


def to_xlsx(report: dict[str, Any]) -> bytes:
    from openpyxl import Workbook
    from openpyxl.styles import Font

    wb = Workbook()
    ws = wb.active
    ws.title = {"dossiers": "Hồ sơ", "satisfaction": "Hài lòng", "appointments": "Lịch hẹn"}[report["kind"]]
    ws.append([report["office"]])
    ws.append([f"{TITLES[report['kind']]} từ {vn_date(report['from'])} đến {vn_date(report['to'])}"])
    if report["kind"] == "dossiers":
        ws.append([report["summary"]])
    ws.append([])
    ws["A1"].font = Font(bold=True, size=14)
    heads, lines = table(report)
    ws.append(heads)
    for cell in ws[ws.max_row]:
        cell.font = Font(bold=True)
    for line in lines:
        ws.append(line)
    ws.column_dimensions["A"].width = 30
    if report["kind"] == "dossiers":
        late = wb.create_sheet("Trễ hạn")
        late.append(["Điểm", "Mã hồ sơ", "Thủ tục", "Ngày nhận", "Hẹn trả", "Hẹn lại", "Có kết quả", "Tình trạng"])
        for d in report["late"]:
            late.append(
                [
                    d["site"],
                    d["code"],
                    d["procedure_name"],
                    *(vn_date(d[k]) for k in ("received_on", "due_date", "new_due_date", "ready_on")),
                    "Chưa giải quyết" if d["pending"] else "Đã giải quyết",
                ]
            )
    notes = wb.create_sheet("Giải thích")
    for text in APPOINTMENT_DEFINITIONS if report["kind"] == "appointments" else DEFINITIONS[report["kind"]]:
        notes.append([text])
    notes.column_dimensions["A"].width = 120
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()


def filename(report: dict[str, Any], ext: str) -> str:
    return f"bao-cao-tong-hop-{report['kind']}-{report['from']}-{report['to']}-{report['by']}.{ext}"
