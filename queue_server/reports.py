"""Report figures from the database: counts, waiting and service times, the clerks' share of
the work, satisfaction and how good the kiosk's wait estimates were.
(Over 400 lines: each figure's SQL sits beside its definition and its Excel layout.)

Everything is computed with a few grouped SQL scans of ``ticket_facts`` over a range of
office days: one row per ticket with its figures as whole seconds, clustered by day and kept
by triggers on ``tickets`` (migration 3 in ``queue_server.store``), so a report never parses
a timestamp. Percentiles need the whole distribution, so SQL returns a histogram of whole
seconds per group rather than 500,000 values.

Definitions (also in docs/reports.md):

- *issued*: tickets of the office day; *served*: state ``done``; *no-show*, *cancelled*,
  *expired*: the final state; *transferred*: tickets transferred at least once.
- *closed without start*: called, never started, closed by Next (``closed_unstarted``); also
  counted in served or no-show, as ``queue.closed_without_start`` says.
- *waiting time*: issue → call, for every ticket that was called. A transferred ticket
  counts its first call (the time at the first counter is not waiting); a no-show who came
  back and was called again counts that later call.
- *service time*: start → finish of served tickets.
- *percentiles*: linear interpolation between closest ranks (Excel's PERCENTILE.INC).
- *satisfied*: the two highest rating levels (the tablet's level ``levels`` is "Rất hài lòng").
- *estimate error*: mean of |estimated wait at issue − real waiting time| over called tickets.
- Grouping by counter or staff uses the counter/clerk that handled the ticket last; tickets
  never called fall in a "—" group. Hour is the office-local hour of issue.

This module does no HTTP: the report routes (``queue_server.report_routes``) and the
``motcua report`` command call ``build_report`` and the exporters below.
"""

from __future__ import annotations

import bisect
import datetime as dt
import io
import itertools
import math
import operator
import os
import sqlite3
from collections import defaultdict
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

from . import report_days
from .config import Config
from .csvout import DEFAULT_DIALECT, csv_bytes
from .errors import BadRequest
from .store import connect

T = TypeVar("T")

GROUPINGS = ("day", "service", "counter", "staff", "hour")
STATES = ("served", "no_show", "cancelled", "expired")
# Minutes: the edges of the waiting-time distribution chart.
WAIT_BUCKETS = (5, 10, 15, 20, 30, 45, 60)
# A larger range is refused: a leader's report covers at most a few years.
MAX_DAYS = 3 * 366
NO_GROUP = "—"

_GROUP_SQL = report_days.GROUP_SQL


# --------------------------------------------------------------------------- dates


def parse_date(text: str) -> dt.date:
    """``DD/MM/YYYY`` (as Vietnamese offices write it) or ``YYYY-MM-DD``."""
    text = text.strip()
    for fmt in ("%d/%m/%Y", "%Y-%m-%d"):
        try:
            return dt.datetime.strptime(text, fmt).date()
        except ValueError:
            pass
    raise BadRequest(
        f"Ngày không hợp lệ: {text!r} (dạng dd/mm/yyyy).",
        f"Invalid date: {text!r} (use dd/mm/yyyy or yyyy-mm-dd).",
        key="bad_date",
    )


def vn_date(day: str | dt.date) -> str:
    d = dt.date.fromisoformat(day) if isinstance(day, str) else day
    return d.strftime("%d/%m/%Y")


def check_range(date_from: dt.date, date_to: dt.date, by: str) -> None:
    if by not in GROUPINGS:
        raise BadRequest(
            f"Nhóm theo phải là một trong: {', '.join(GROUPINGS)}.",
            f"Group by must be one of: {', '.join(GROUPINGS)}.",
            key="bad_group",
        )
    if date_to < date_from:
        raise BadRequest(
            "Ngày kết thúc phải sau ngày bắt đầu.", "The end date is before the start date.", key="bad_range"
        )
    if (date_to - date_from).days >= MAX_DAYS:
        raise BadRequest(
            "Khoảng thời gian quá dài (tối đa 3 năm).", "Range too long (at most 3 years).", key="bad_range"
        )


def _tz_offset(config: Config, date_from: dt.date, date_to: dt.date) -> int:
    """Seconds to add to UTC for office-local time. One offset for the range (taken at its
    middle): exact for Vietnam, which has no daylight saving time."""
    mid = date_from + (date_to - date_from) / 2
    noon = dt.datetime.combine(mid, dt.time(12), config.office.tz)
    offset = noon.utcoffset() or dt.timedelta(0)
    return int(offset.total_seconds())


# --------------------------------------------------------------------------- statistics


def quantile(hist: list[tuple[int, int]], q: float, n: int | None = None) -> float:
    """The q-quantile (0..1) of sorted ``(value, count)`` pairs (``n`` values in all),
    interpolating linearly between closest ranks like Excel's PERCENTILE.INC."""
    values = [v for v, _ in hist]
    cumulative = list(itertools.accumulate(c for _, c in hist))
    return _quantile(values, cumulative, q, n)


def _quantile(values: Sequence[int], cumulative: list[int], q: float, n: int | None = None) -> float:
    # Rank r (0-based) is the first value whose cumulative count passes r.
    pos = ((cumulative[-1] if n is None else n) - 1) * q
    lo, frac = int(math.floor(pos)), pos - math.floor(pos)
    low = values[bisect.bisect_right(cumulative, lo)]
    i = bisect.bisect_right(cumulative, lo + 1)
    high = values[i] if i < len(values) else low
    return low + (high - low) * frac


def summarize(hist: dict[int, int] | list[tuple[int, int]]) -> dict[str, Any]:
    """count, mean, median, p90 and max of a histogram of whole seconds: a dict, or
    ``(seconds, count)`` pairs already in order."""
    if not hist:
        return summarize_values(())
    if isinstance(hist, dict):
        values: Sequence[int] = sorted(hist)
        counts: Sequence[int] = list(map(hist.__getitem__, values))
    else:
        values, counts = zip(*hist)
    cumulative = list(itertools.accumulate(counts))
    n = cumulative[-1]
    return {
        "count": n,
        "mean": round(sum(map(operator.mul, values, counts)) / n, 1),
        "median": round(_quantile(values, cumulative, 0.5), 1),
        "p90": round(_quantile(values, cumulative, 0.9), 1),
        "max": values[-1],
    }


def summarize_values(values: Sequence[int]) -> dict[str, Any]:
    """``summarize`` of every value, in order (a value repeated ``count`` times stands for
    its histogram's ``(value, count)``): the same figures, without counting."""
    n = len(values)
    if not n:
        return {"count": 0, "mean": None, "median": None, "p90": None, "max": None}
    return {
        "count": n,
        "mean": round(sum(values) / n, 1),
        "median": round(_rank_quantile(values, 0.5), 1),
        "p90": round(_rank_quantile(values, 0.9), 1),
        "max": values[-1],
    }


def summarize_times(times: Sequence[int] | dict[int, int]) -> dict[str, Any]:
    """``summarize`` of seconds -> count, or ``summarize_values`` of every value in order."""
    return summarize(times) if isinstance(times, dict) else summarize_values(times)


def _rank_quantile(values: Sequence[int], q: float) -> float:
    """``_quantile`` over values in order: rank r (0-based) is ``values[r]``."""
    pos = (len(values) - 1) * q
    lo, frac = int(math.floor(pos)), pos - math.floor(pos)
    low = values[lo]
    high = values[lo + 1] if lo + 1 < len(values) else low
    return low + (high - low) * frac


# --------------------------------------------------------------------------- the report


def _labels(conn: sqlite3.Connection, config: Config, by: str) -> dict[Any, str]:
    if by == "service":
        return {s.code: s.name for s in config.services}
    if by == "counter":
        return {c.number: c.name for c in config.counters}
    if by == "staff":
        return {r[0]: r[1] or r[0] for r in conn.execute("SELECT username, display_name FROM users")}
    return {}


def _label(by: str, key: Any, labels: dict[Any, str]) -> str:
    if key is None:
        return NO_GROUP
    if by == "day":
        return vn_date(key)
    if by == "hour":
        return f"{key:02d}:00–{(key + 1) % 24:02d}:00"
    return labels.get(key, str(key))


def _database_file(conn: sqlite3.Connection) -> str | None:
    for _, name, file in conn.execute("PRAGMA database_list"):
        if name == "main":
            return file or None
    return None


def _fetch_all(conn: sqlite3.Connection, queries: list[str], params: dict[str, Any]) -> list[list[Any]]:
    """Run independent read queries. On a file database with several cores they run at once,
    each on its own read-only connection: SQLite releases the GIL while it scans, so a year
    report uses every core. (Past days do not change, so separate snapshots agree.)"""
    path = _database_file(conn)
    workers = min(len(queries), os.cpu_count() or 1)
    if path is None or workers < 2:
        return [conn.execute(q, params).fetchall() for q in queries]

    def run(query: str) -> list[Any]:
        c = connect(path, readonly=True)
        try:
            return c.execute(query, params).fetchall()
        finally:
            c.close()

    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="motcua-report") as pool:
        return list(pool.map(run, queries))


def build_report(
    conn: sqlite3.Connection,
    config: Config,
    date_from: dt.date,
    date_to: dt.date,
    by: str = "day",
    *,
    aggregates: bool = True,
) -> dict[str, Any]:
    """Figures for the office days ``date_from``..``date_to`` (inclusive) grouped ``by``.
    ``conn`` may be a read-only connection: nothing is written. Ended days come from the
    daily aggregates (``queue_server.report_days``) unless ``aggregates=False``; the
    figures are the same either way."""
    check_range(date_from, date_to, by)
    levels = config.rating.levels
    offset = _tz_offset(config, date_from, date_to)
    a, b = date_from.isoformat(), date_to.isoformat()
    if aggregates:
        figures = report_days.collect(conn, by, levels, a, b, offset, lambda qs, p: _fetch_all(conn, qs, p))
    else:
        figures = report_days.Figures()
        figures.add_scan(
            _fetch_all(
                conn, report_days.queries(by, levels, "day BETWEEN :a AND :b"), {"a": a, "b": b, "offset": offset}
            )
        )
    groups: dict[Any, dict[str, Any]] = {}
    for key, row in figures.sums.items():
        issued, served, no_show, cancelled, expired, transferred, err, closed_unstarted = row[:8]
        groups[key] = {
            "issued": issued,
            "served": served,
            "no_show": no_show,
            "closed_unstarted": closed_unstarted,
            "cancelled": cancelled,
            "expired": expired,
            "transferred": transferred,
            "_err": err or 0,
            # A group may have times but no sums when a command committed between
            # the scans (today's figures while the office works): they wait for next time.
            "waiting": summarize_times(figures.times("wait", key)),
            "service": summarize_times(figures.times("service", key)),
            "ratings": [c or 0 for c in row[8:]],
        }
    served_by_staff = figures.served_by_staff
    arrivals: dict[str, list[int]] = defaultdict(lambda: [0] * 24)
    for (service, hour), n in figures.arrivals.items():
        arrivals[service][hour] += n

    labels = _labels(conn, config, by)
    total_waits = figures.total_histogram("wait")
    total_served = sum(g["served"] for g in groups.values())
    total: dict[str, Any] = {
        "issued": 0,
        "served": 0,
        "no_show": 0,
        "closed_unstarted": 0,
        "cancelled": 0,
        "expired": 0,
        "transferred": 0,
        "_err": 0,
        "waiting": summarize(total_waits),
        "service": summarize(figures.total_histogram("service")),
        "ratings": [0] * levels,
    }
    rows = []
    order = {s.code: i for i, s in enumerate(config.services)} if by == "service" else {}
    for key in sorted(groups, key=lambda k: (k is None, order.get(k, len(order)), "" if k is None else k)):
        g = groups[key]
        for name in ("issued", "served", "no_show", "closed_unstarted", "cancelled", "expired", "transferred", "_err"):
            total[name] += g[name]
        total["ratings"] = [a + b for a, b in zip(total["ratings"], g["ratings"])]
        rows.append(_finish_row(g, key, _label(by, key, labels), total_served, levels))
    total_row = _finish_row(total, None, "Tổng cộng", total_served, levels)

    staff_labels = labels if by == "staff" else _labels(conn, config, "staff")
    staff = [
        {
            "staff": s or NO_GROUP,
            "name": staff_labels.get(s, s or NO_GROUP),
            "served": n,
            "share": round(n / total_served, 4) if total_served else None,
        }
        for s, n in sorted(served_by_staff.items(), key=lambda kv: (-kv[1], kv[0] or ""))
    ]
    edges = [0, *WAIT_BUCKETS]
    buckets = [f"{a}–{b}" for a, b in zip(edges, edges[1:])] + [f"≥{edges[-1]}"]
    counts = [0] * len(buckets)
    # A wait of s seconds is under an edge of m minutes when s < 60 m (whole seconds).
    edges_s = [60 * edge for edge in WAIT_BUCKETS]
    for seconds, c in total_waits.items():
        counts[bisect.bisect_right(edges_s, seconds)] += c
    services = {s.code: s.name for s in config.services}
    order_all = {s.code: i for i, s in enumerate(config.services)}
    return {
        "office": config.office.name,
        "from": date_from.isoformat(),
        "to": date_to.isoformat(),
        "by": by,
        "rating_levels": levels,
        # What "closed without start" tickets are counted as: "served" or "absent".
        "closed_without_start": config.queue.closed_without_start,
        "rows": rows,
        "total": total_row,
        "staff": staff,
        "charts": {
            "arrivals_by_hour": {
                "hours": list(range(24)),
                "series": [
                    {"service": code, "name": services.get(code, code), "counts": arrivals[code]}
                    for code in sorted(arrivals, key=lambda c: (order_all.get(c, len(order_all)), c))
                ],
            },
            "wait_distribution": {"buckets": buckets, "counts": counts},
            "served_per_staff": [{"name": s["name"], "served": s["served"]} for s in staff],
            "satisfaction": {"levels": list(range(1, levels + 1)), "counts": total_row["ratings"]},
        },
    }


def _finish_row(g: dict[str, Any], key: Any, label: str, total_served: int, levels: int) -> dict[str, Any]:
    wait = g["waiting"]
    rated = sum(g["ratings"])
    satisfied = sum(g["ratings"][-2:])
    return {
        "key": key,
        "label": label,
        "issued": g["issued"],
        "served": g["served"],
        "no_show": g["no_show"],
        "closed_unstarted": g["closed_unstarted"],
        "cancelled": g["cancelled"],
        "transferred": g["transferred"],
        "expired": g["expired"],
        "waiting": wait,
        "service": g["service"],
        "served_share": round(g["served"] / total_served, 4) if total_served else None,
        "ratings": g["ratings"],
        "rated": rated,
        "satisfied_share": round(satisfied / rated, 4) if rated else None,
        "estimate_mae": round(g["_err"] / wait["count"], 1) if wait["count"] else None,
    }


# --------------------------------------------------------------------------- exports

# The column of tickets closed without start, naming the figure it is also counted in.
UNSTARTED_HEADERS = {
    "served": "Đóng khi chưa bắt đầu (đã tính vào Đã phục vụ)",
    "absent": "Đóng khi chưa bắt đầu (đã tính vào Vắng mặt)",
    # A central's report over sites with different settings (docs/central.md).
    "mixed": "Đóng khi chưa bắt đầu (đã tính vào Đã phục vụ hoặc Vắng mặt, theo cài đặt của từng điểm)",
}

GROUP_HEADERS = {
    "day": "Ngày",
    "service": "Lĩnh vực",
    "counter": "Quầy",
    "staff": "Cán bộ",
    "hour": "Giờ",
    "site": "Điểm một cửa",
}


def table(report: dict[str, Any]) -> tuple[list[str], list[list[Any]]]:
    """Vietnamese headers and one row per group plus the total; times in minutes, shares in %."""
    levels = report["rating_levels"]
    # "Closed without start" stands beside served and absent, saying which of the two holds it
    # (the central's combined report has no such figure).
    unstarted = "closed_unstarted" in report["total"]
    headers = [GROUP_HEADERS[report["by"]], "Số phát ra", "Đã phục vụ", "Vắng mặt"]
    if unstarted:
        headers.append(UNSTARTED_HEADERS.get(report.get("closed_without_start", "served"), UNSTARTED_HEADERS["served"]))
    headers += ["Đã hủy", "Chuyển", "Hết hạn"]
    for what in ("Chờ", "Phục vụ"):
        headers += [f"{what} TB (phút)", f"{what} trung vị (phút)", f"{what} P90 (phút)", f"{what} tối đa (phút)"]
    headers += [
        "Tỷ lệ phục vụ (%)",
        *[f"Mức {i}" for i in range(1, levels + 1)],
        "Lượt đánh giá",
        "Hài lòng (%)",
        "Sai số ước tính TB (phút)",
    ]

    def minutes(v: float | None) -> float | None:
        return None if v is None else round(v / 60, 1)

    def pct(v: float | None) -> float | None:
        return None if v is None else round(v * 100, 1)

    out = []
    for r in [*report["rows"], report["total"]]:
        first: Any = r["label"]
        if report["by"] == "day" and r["key"] is not None:
            first = dt.date.fromisoformat(r["key"])
        line = [first, r["issued"], r["served"], r["no_show"]]
        if unstarted:
            line.append(r["closed_unstarted"])
        line += [r["cancelled"], r["transferred"], r["expired"]]
        for what in ("waiting", "service"):
            line += [minutes(r[what][k]) for k in ("mean", "median", "p90", "max")]
        line += [
            pct(r["served_share"]),
            *r["ratings"],
            r["rated"],
            pct(r["satisfied_share"]),
            minutes(r["estimate_mae"]),
        ]
        out.append(line)
    return headers, out


def to_csv(report: dict[str, Any], dialect: str = DEFAULT_DIALECT) -> bytes:
    """Dates dd/mm/yyyy; by default as Vietnamese Excel reads it (";", decimal comma, BOM),
    or plain comma-separated (``dialect="comma"``); see ``queue_server.csvout``."""
    headers, rows = table(report)
    return csv_bytes(headers, ([vn_date(v) if isinstance(v, dt.date) else v for v in line] for line in rows), dialect)


def to_xlsx(report: dict[str, Any]) -> bytes:
    from openpyxl import Workbook
    from openpyxl.styles import Alignment, Font
    from openpyxl.utils import get_column_letter

    headers, rows = table(report)
    wb = Workbook()
    ws = wb.active
    ws.title = "Báo cáo"
    ws.append([report["office"]])
    ws.append(
        [
            f"Báo cáo từ {vn_date(report['from'])} đến {vn_date(report['to'])}, "
            f"theo {GROUP_HEADERS[report['by']].lower()}"
        ]
    )
    ws.append([])
    ws.append(headers)
    for line in rows:
        ws.append(line)
    bold = Font(bold=True)
    ws["A1"].font = Font(bold=True, size=14)
    for cell in ws[4]:
        cell.font = bold
        cell.alignment = Alignment(wrap_text=True, vertical="top")
    for cell in ws[ws.max_row]:
        cell.font = bold
    for row in ws.iter_rows(min_row=5, max_col=1):
        for cell in row:
            if isinstance(cell.value, dt.date):
                cell.number_format = "dd/mm/yyyy"
    ws.freeze_panes = "B5"
    ws.column_dimensions["A"].width = 28
    for i in range(2, len(headers) + 1):
        ws.column_dimensions[get_column_letter(i)].width = 12

    staff = wb.create_sheet("Cán bộ")
    staff.append(["Cán bộ", "Tên đăng nhập", "Đã phục vụ", "Tỷ lệ (%)"])
    for cell in staff[1]:
        cell.font = bold
    for s in report["staff"]:
        staff.append([s["name"], s["staff"], s["served"], None if s["share"] is None else round(s["share"] * 100, 1)])
    staff.column_dimensions["A"].width = 28
    if rows[:-1]:
        _add_chart(ws, len(rows) - 1, report)
    notes = wb.create_sheet("Giải thích")
    for definition in DEFINITIONS:
        notes.append([definition])
    notes.column_dimensions["A"].width = 120
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()


DEFINITIONS = (
    "Số phát ra: số vé cấp trong ngày làm việc. Đã phục vụ: vé đã xong. Vắng mặt, Đã hủy, Hết hạn: trạng thái cuối của vé.",
    "Đóng khi chưa bắt đầu: vé đã gọi, cán bộ không bấm Bắt đầu mà bấm Tiếp theo; theo cài đặt "
    "queue.closed_without_start, vé này được tính vào Đã phục vụ (mặc định, thời gian phục vụ tính từ lúc gọi) "
    "hoặc vào Vắng mặt.",
    "Chuyển: vé được chuyển sang lĩnh vực hoặc quầy khác ít nhất một lần.",
    "Thời gian chờ: từ lúc lấy số đến lúc được gọi (vé chuyển: lần gọi đầu tiên). Thời gian phục vụ: từ lúc bắt đầu đến lúc xong.",
    "TB: trung bình; P90: 90% số người không lâu hơn (nội suy như PERCENTILE.INC của Excel). Thời gian tính bằng phút.",
    "Tỷ lệ phục vụ: phần của nhóm trong tổng số vé đã phục vụ (theo cán bộ: mức chia tải giữa các cán bộ).",
    "Hài lòng: hai mức đánh giá cao nhất trên tổng số lượt đánh giá.",
    "Sai số ước tính: chênh lệch trung bình giữa thời gian chờ dự kiến lúc lấy số và thời gian chờ thực tế.",
)


def _add_chart(ws: Any, count: int, report: dict[str, Any]) -> None:
    """Issued and served per group, beside the table (a native Excel chart the leader can
    copy into a report)."""
    from openpyxl.chart import BarChart, Reference

    chart = BarChart()
    chart.title = f"Số phát ra và đã phục vụ theo {GROUP_HEADERS[report['by']].lower()}"
    chart.y_axis.title = "Số vé"
    chart.height, chart.width = 9, 22
    data = Reference(ws, min_col=2, max_col=3, min_row=4, max_row=4 + count)
    chart.add_data(data, titles_from_data=True)
    chart.set_categories(Reference(ws, min_col=1, min_row=5, max_row=4 + count))
    ws.add_chart(chart, f"A{count + 8}")


def filename(report: dict[str, Any], ext: str) -> str:
    return f"bao-cao-{report['from']}-{report['to']}-{report['by']}.{ext}"


def run_command(
    config: Config,
    date_from: str,
    date_to: str,
    by: str,
    fmt: str,
    output: str | None,
    csv_dialect: str = DEFAULT_DIALECT,
) -> str:
    """``motcua report``: build the report from the database (read-only) and write it to
    ``output`` (xlsx without one: a file named after the range). Returns where it went."""
    start, end = parse_date(date_from), parse_date(date_to)
    check_range(start, end, by)
    report = read_database(config, lambda conn: build_report(conn, config, start, end, by))
    return write_report(
        report, fmt, output, to_csv=lambda r: to_csv(r, csv_dialect), to_xlsx=to_xlsx, filename=filename
    )


def read_database(config: Config, build: Callable[[sqlite3.Connection], T]) -> T:
    """``build(conn)`` on a read-only connection to the office's database, for a report
    command (the server may be running: it only reads). A 400 when there is no database."""
    path = config.resolve(config.server.database)
    if not path.is_file():
        raise BadRequest(f"Không có cơ sở dữ liệu {path}.", f"No database at {path}.", key="no_database")
    conn = connect(path, readonly=True)
    try:
        return build(conn)
    finally:
        conn.close()


def write_report(
    report: dict[str, Any],
    fmt: str,
    output: str | None,
    *,
    to_csv: Callable[[dict[str, Any]], bytes],
    to_xlsx: Callable[[dict[str, Any]], bytes],
    filename: Callable[[dict[str, Any], str], str],
) -> str:
    """A report command's answer in ``fmt`` (json, csv, xlsx: without ``output``, a file named
    after the report) written by ``write_out``. Returns where it went."""
    import json

    if fmt == "json":
        data = json.dumps(report, ensure_ascii=False, indent=2).encode("utf-8")
    elif fmt == "csv":
        data = to_csv(report)
    else:
        data = to_xlsx(report)
        output = output or filename(report, "xlsx")
    return write_out(data, output)


def write_out(data: bytes, output: str | None) -> str:
    """A report command's file: ``output``, or standard output for None or "-". Returns where."""
    import sys
    from pathlib import Path

    if output in (None, "-"):
        sys.stdout.buffer.write(data)
        sys.stdout.flush()
        return "-"
    Path(output).write_bytes(data)
    return str(output)
