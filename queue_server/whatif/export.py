"""A what-if result as JSON, CSV or XLSX (with charts), and the agreement lines printed with
every run."""

from __future__ import annotations

import io
import json
from typing import Any

from ..csvout import DEFAULT_DIALECT, csv_bytes
from ..reports import vn_date

KIND_VI = {"actual": "Thực tế", "replay": "Mô phỏng kế hoạch hiện tại", "variant": "Phương án"}


def vn_number(value: float | None, digits: int = 1) -> str:
    """12.439,5 — Vietnamese grouping and decimal comma."""
    if value is None:
        return "—"
    text = f"{value:,.{digits}f}"
    return text.replace(",", "\0").replace(".", ",").replace("\0", ".")


def agreement_lines(result: dict[str, Any]) -> list[str]:
    """How far the replay of the actual plan is from what was measured: printed with every run
    so a leader can see how far to trust the variants."""
    days = result["days"]
    span = vn_date(days[0]) if len(days) == 1 else f"{vn_date(days[0])}–{vn_date(days[-1])}"
    lines = [
        f"Kiểm chứng / validation ({span}, {len(days)} ngày/days, {result['tickets']} số/tickets, "
        f"{result['seeds']} lần/seeds): chờ trung bình thực tế → mô phỏng kế hoạch hiện tại "
        f"(mean wait, recorded → replay of the actual plan)"
    ]
    for r in result["agreement"]["rows"]:
        share = "" if r["difference_share"] is None else f" ({r['difference_share'] * 100:+.0f}%)".replace(".", ",")
        mark = "khớp/agrees" if r["agrees"] else "LỆCH/differs"
        lines.append(
            f"  {r['service']:<6} {vn_number(r['actual_mean_min'])} → {vn_number(r['replay_mean_min'])} phút"
            f"{share}  {mark}"
        )
    verdict = (
        "Mọi lĩnh vực khớp trong 15% hoặc 1 phút / every service within 15% or 1 minute"
        if result["agreement"]["all_agree"]
        else "Có lĩnh vực lệch quá 15% và quá 1 phút: dùng kết quả thận trọng / "
        "some services differ by more than 15% and 1 minute: use the figures with care"
    )
    lines.append("  " + verdict)
    return lines


def to_json(result: dict[str, Any]) -> bytes:
    return json.dumps(result, ensure_ascii=False, indent=2).encode("utf-8")


def _scenarios(result: dict[str, Any]) -> list[dict[str, Any]]:
    out = list(result["scenarios"])
    for p in (result.get("recommendation") or {}).get("plans", []):
        if not p.get("base"):
            out.append({"name": f"{p['name']}: {p['changes']}", "kind": "recommended", **p["figures"]})
    return out


def wait_table(result: dict[str, Any]) -> tuple[list[str], list[list[Any]]]:
    headers = [
        "Kịch bản",
        "Loại",
        "Lĩnh vực",
        "Số được gọi",
        "Chưa được gọi",
        "Chờ TB (phút)",
        "Chờ trung vị (phút)",
        "Chờ P90 (phút)",
        "Gọi trong 15 phút (%)",
        "Hàng chờ dài nhất",
    ]
    rows = []
    for s in _scenarios(result):
        kind = KIND_VI.get(s["kind"], "Đề xuất")
        for code, f in [*s["services"].items(), ("Tất cả", s["overall"])]:
            share = f["within_15_share"]
            rows.append(
                [
                    s["name"],
                    kind,
                    code,
                    f["called"],
                    f["never_called"],
                    f["mean_min"],
                    f["median_min"],
                    f["p90_min"],
                    None if share is None else round(share * 100, 1),
                    s["longest_queue"] if code == "Tất cả" else None,
                ]
            )
    return headers, rows


def utilisation_table(result: dict[str, Any]) -> tuple[list[str], list[list[Any]]]:
    scenarios = _scenarios(result)
    counters = sorted({c for s in scenarios for c in s["utilisation"]}, key=int)
    headers = ["Kịch bản", *[f"Quầy {c} (%)" for c in counters]]
    rows = []
    for s in scenarios:
        rows.append(
            [
                s["name"],
                *[None if s["utilisation"].get(c) is None else round(s["utilisation"][c] * 100, 1) for c in counters],
            ]
        )
    return headers, rows


def queue_table(result: dict[str, Any]) -> tuple[list[str], list[list[Any]]]:
    scenarios = _scenarios(result)
    times = sorted({p["time"] for s in scenarios for p in s["queue_over_time"]})
    headers = ["Giờ", *[s["name"] for s in scenarios]]
    series = [{p["time"]: p["waiting"] for p in s["queue_over_time"]} for s in scenarios]
    return headers, [[t, *[ser.get(t) for ser in series]] for t in times]


def to_csv(result: dict[str, Any], dialect: str = DEFAULT_DIALECT) -> bytes:
    """Three tables one under the other, an empty line between them: the waits (one row per
    scenario and service), each counter's utilisation (one row per scenario) and the queue
    length every quarter hour (one column per scenario); in the reports' CSV dialects
    (``excel``: ";" and decimal commas with a BOM, as Vietnamese Excel reads; ``comma``)."""
    headers, rows = wait_table(result)
    uh, ur = utilisation_table(result)
    qh, qr = queue_table(result)
    return csv_bytes(headers, [*rows, [], uh, *ur, [], qh, *qr], dialect)


def to_xlsx(result: dict[str, Any], office: str = "") -> bytes:
    from openpyxl import Workbook
    from openpyxl.chart import BarChart, LineChart, Reference
    from openpyxl.styles import Font

    bold = Font(bold=True)
    wb = Workbook()
    ws = wb.active
    ws.title = "Thời gian chờ"
    ws.append([office or "motcua"])
    ws["A1"].font = Font(bold=True, size=14)
    days = result["days"]
    ws.append(
        [
            f"Mô phỏng phương án từ {vn_date(days[0])} đến {vn_date(days[-1])} "
            f"({len(days)} ngày, {result['tickets']} số, {result['seeds']} lần mô phỏng mỗi ngày)"
        ]
    )
    ws.append([])
    headers, rows = wait_table(result)
    ws.append(headers)
    for cell in ws[4]:
        cell.font = bold
    for line in rows:
        ws.append(line)
    ws.column_dimensions["A"].width = 40
    ws.freeze_panes = "A5"

    check = wb.create_sheet("Kiểm chứng")
    for text in agreement_lines(result):
        check.append([text])
    check.column_dimensions["A"].width = 110

    util = wb.create_sheet("Công suất quầy")
    uh, ur = utilisation_table(result)
    util.append(uh)
    for cell in util[1]:
        cell.font = bold
    for line in ur:
        util.append(line)
    util.column_dimensions["A"].width = 40
    if ur and len(uh) > 1:
        chart = BarChart()
        chart.title = "Công suất theo quầy (%)"
        chart.height, chart.width = 9, 22
        chart.add_data(
            Reference(util, min_col=2, max_col=len(uh), min_row=1, max_row=1 + len(ur)), titles_from_data=True
        )
        chart.set_categories(Reference(util, min_col=1, min_row=2, max_row=1 + len(ur)))
        util.add_chart(chart, f"A{len(ur) + 4}")

    queue = wb.create_sheet("Hàng chờ theo giờ")
    qh, qr = queue_table(result)
    queue.append(qh)
    for cell in queue[1]:
        cell.font = bold
    for line in qr:
        queue.append(line)
    if qr:
        chart2 = LineChart()
        chart2.title = "Số người chờ theo giờ (trung bình)"
        chart2.height, chart2.width = 10, 24
        chart2.add_data(
            Reference(queue, min_col=2, max_col=len(qh), min_row=1, max_row=1 + len(qr)), titles_from_data=True
        )
        chart2.set_categories(Reference(queue, min_col=1, min_row=2, max_row=1 + len(qr)))
        queue.add_chart(chart2, f"{chr(ord('A') + min(len(qh), 20) + 1)}2")

    notes = wb.create_sheet("Giải thích")
    for note in NOTES:
        notes.append([note])
    notes.column_dimensions["A"].width = 120
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()


NOTES = (
    "Thực tế: số liệu đã ghi nhận. Mô phỏng kế hoạch hiện tại: chạy lại chính những ngày đó qua bộ xếp hàng "
    "với kế hoạch quầy hiện tại.",
    "Phương án: cùng những người đến, cùng thời gian phục vụ đã ghi nhận, nhưng với kế hoạch quầy khác.",
    "Chờ: từ lúc lấy số đến lúc được gọi lần đầu. P90: 90% người dân chờ không lâu hơn.",
    "Công suất: phần thời gian quầy mở (không tạm dừng) mà cán bộ đang làm việc với người dân.",
    "Kết quả là ước lượng: xem trang Kiểm chứng để biết mô phỏng khớp với thực tế đến đâu.",
)
