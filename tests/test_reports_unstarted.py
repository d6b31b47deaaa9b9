""" "Closed without start" is its own report figure (docs/reports.md), beside served and absent,
under either office setting: in the JSON, the CSV and XLSX exports, the daily aggregates and
the ``motcua report`` command.

The day, worked out by hand: counter 1 (clerk1) and four CT tickets A, B, C, D.
A is called and closed by Next without Start; B is called, started and finished; C is called,
recalled twice and closed by Next (max_recalls 2: an automatic no-show, not "without start");
D is called and closed by Next with nothing left waiting. So two tickets (A, D) are closed
without start: served with ``"served"`` (3 served, 1 absent), absent with ``"absent"`` (1
served, 3 absent).
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import subprocess
import sys
from pathlib import Path

import pytest
from openpyxl import load_workbook

from queue_server import report_days, reports
from queue_server.store import Store, connect
from tests.support import ROOT, office_config, write_config
from tests.test_reports import DAY, VN, Play, at

EXPECTED = {"served": (4, 3, 1, 2), "absent": (4, 1, 3, 2)}  # issued, served, absent, without start


def play_day(config, path: Path) -> None:
    p = Play(config, path)
    p(at(7, 30), lambda e, now: e.sign_on(now, 1, "clerk1"))
    for i, name in enumerate("ABCD"):
        p(at(8, i), lambda e, now, n=name: e.issue(now, service="CT", token=f"tok-{n}-0123456789"))
    p(at(8, 10), lambda e, now: e.call_next(now, 1, "clerk1"))  # A called
    p(at(8, 15), lambda e, now: e.call_next(now, 1, "clerk1"))  # A closed without start; B called
    p(at(8, 16), lambda e, now: e.start(now, 1, "clerk1"))
    p(at(8, 20), lambda e, now: e.finish(now, 1, "clerk1"))  # B served
    p(at(8, 21), lambda e, now: e.call_next(now, 1, "clerk1"))  # C called
    p(at(8, 22), lambda e, now: e.recall(now, 1, "clerk1"))
    p(at(8, 23), lambda e, now: e.recall(now, 1, "clerk1"))
    p(at(8, 24), lambda e, now: e.call_next(now, 1, "clerk1"))  # C no-show (recalls); D called
    p(at(8, 30), lambda e, now: e.call_next(now, 1, "clerk1"))  # D closed without start; none left
    p.store.close()


@pytest.fixture(params=["served", "absent"])
def day_db(request, tmp_path: Path):
    setting = request.param
    config = office_config(tmp_path, office={"enforce_hours": False}, queue={"closed_without_start": setting})
    db = tmp_path / "motcua.db"
    play_day(config, db)
    return setting, config, db


def figures(row: dict) -> tuple[int, int, int, int]:
    return row["issued"], row["served"], row["no_show"], row["closed_unstarted"]


def test_the_report_shows_closed_without_start_apart_under_either_setting(day_db):
    setting, config, db = day_db
    conn = connect(db, readonly=True)
    try:
        direct = reports.build_report(conn, config, DAY, DAY, "day", aggregates=False)
        by_service = reports.build_report(conn, config, DAY, DAY, "service")
    finally:
        conn.close()
    assert direct["closed_without_start"] == setting
    assert figures(direct["total"]) == figures(direct["rows"][0]) == EXPECTED[setting]
    assert figures(by_service["rows"][0]) == EXPECTED[setting]
    # "served": service time runs from the call (A 300 s, D was closed 360 s after its call).
    if setting == "served":
        assert direct["total"]["service"]["count"] == 3 and direct["total"]["service"]["max"] == 360

    # The ended day's aggregates give the same figure as the scan of the facts.
    store = Store(db)
    try:
        assert report_days.refresh_all(store.conn, config.rating.levels, VN, (DAY + dt.timedelta(days=1)).isoformat())
    finally:
        store.close()
    conn = connect(db, readonly=True)
    try:
        aggregated = reports.build_report(conn, config, DAY, DAY, "day")
    finally:
        conn.close()
    assert aggregated["total"] == direct["total"]


def test_the_csv_and_xlsx_have_a_closed_without_start_column_naming_where_it_is_counted(day_db):
    setting, config, db = day_db
    conn = connect(db, readonly=True)
    try:
        report = reports.build_report(conn, config, DAY, DAY, "day")
    finally:
        conn.close()
    where = "Đã phục vụ" if setting == "served" else "Vắng mặt"
    header = f"Đóng khi chưa bắt đầu (đã tính vào {where})"
    rows = list(csv.reader(io.StringIO(reports.to_csv(report).decode("utf-8-sig")), delimiter=";"))
    assert rows[0][:5] == ["Ngày", "Số phát ra", "Đã phục vụ", "Vắng mặt", header]
    issued, served, absent, unstarted = EXPECTED[setting]
    assert rows[1][:5] == ["23/11/2026", str(issued), str(served), str(absent), str(unstarted)]
    assert rows[-1][:5] == ["Tổng cộng", str(issued), str(served), str(absent), str(unstarted)]
    assert all(len(r) == len(rows[0]) for r in rows)

    wb = load_workbook(io.BytesIO(reports.to_xlsx(report)))
    ws = wb["Báo cáo"]
    assert [ws.cell(4, c).value for c in range(1, 6)] == ["Ngày", "Số phát ra", "Đã phục vụ", "Vắng mặt", header]
    assert [ws.cell(5, c).value for c in range(2, 6)] == [issued, served, absent, unstarted]
    notes = " ".join(str(r[0]) for r in wb["Giải thích"].iter_rows(values_only=True))
    assert "Đóng khi chưa bắt đầu" in notes and "queue.closed_without_start" in notes


def test_the_report_command_prints_the_figure(day_db, tmp_path: Path):
    setting, _, db = day_db
    path = write_config(tmp_path, server={"database": str(db)}, queue={"closed_without_start": setting})
    out = {}
    for fmt in ("json", "csv"):
        proc = subprocess.run(
            [sys.executable, "-m", "queue_server.cli", "--config", str(path), "report"]
            + ["--from", "23/11/2026", "--to", "23/11/2026", "--format", fmt, "--output", "-"],
            cwd=tmp_path,
            capture_output=True,
            env={"PYTHONPATH": str(ROOT), "PATH": ""},
            timeout=60,
        )
        assert proc.returncode == 0, proc.stderr
        out[fmt] = proc.stdout
    report = json.loads(out["json"])
    assert report["closed_without_start"] == setting and figures(report["total"]) == EXPECTED[setting]
    rows = list(csv.reader(io.StringIO(out["csv"].decode("utf-8-sig")), delimiter=";"))
    assert rows[0][4].startswith("Đóng khi chưa bắt đầu") and rows[-1][4] == str(EXPECTED[setting][3])
