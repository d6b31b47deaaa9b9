"""Report figures against numbers worked out by hand on one fixture day.

The day is played with real engine commands committed through the store (the office's write
path) on a controlled clock. Every figure asserted below is computed by hand in the comments
from the timeline, not by the code under test.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import sqlite3
import subprocess
import sys
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from openpyxl import load_workbook

from queue_server import reports
from queue_server.engine import Engine
from queue_server.store import Store, connect
from tests.support import ROOT, office_config, write_config

VN = ZoneInfo("Asia/Ho_Chi_Minh")
DAY = dt.date(2026, 11, 23)  # a Monday


def at(h: int, m: int, s: int = 0, day: dt.date = DAY) -> dt.datetime:
    """Office-local wall time, stored as UTC like the server's clock does."""
    return dt.datetime(day.year, day.month, day.day, h, m, s, tzinfo=VN).astimezone(dt.UTC)


class Play:
    """Runs engine commands at given times and commits each one like Office.execute."""

    def __init__(self, config, path: Path):
        self.store = Store(path)
        self.engine = Engine(config, at(7, 0))

    def __call__(self, when: dt.datetime, command):
        result = command(self.engine, when)
        value, events = result if isinstance(result, tuple) else (result, result)
        if events:
            self.store.commit(events, self.engine.meta())
        return value


def play_fixture_day(config, path: Path) -> dict[str, int]:
    """Counters 1 (clerk1: CT primary) and 3 (clerk3: HT primary, CT backup); max_recalls 2.
    Estimates at issue: the tickets Next calls first when the counters that can call the new
    one (CT: 1 and 3, HT: 3) press Next in turn, times CT 300 s / HT 600 s per person (until
    a CT service finishes), over the number of those counters."""
    p = Play(config, path)
    ids: dict[str, int] = {}

    def issue(name: str, when: dt.datetime, service: str) -> None:
        ids[name] = p(when, lambda e, now: e.issue(now, service=service, token=f"tok-{name}-0123456789")).id

    p(at(7, 30), lambda e, now: e.sign_on(now, 1, "clerk1"))
    p(at(7, 31), lambda e, now: e.sign_on(now, 3, "clerk3"))
    issue("A", at(8, 0), "CT")  # ahead 0 -> estimate 0
    issue("B", at(8, 1), "CT")  # 1 calls A, 3 (no HT waits) calls B: ahead 1 x 300 / 2 -> 150
    issue("C", at(8, 2), "HT")  # ahead 0 -> 0
    issue("D", at(8, 3), "CT")  # 1: A, 3: C, 1: B, 3: D -> ahead 3 x 300 / 2 -> 450
    issue("E", at(8, 4), "CT")  # A, C, B, D, then E -> ahead 4 -> 600
    issue("F", at(8, 5), "HT")  # only 3 calls HT: C, then F -> ahead 1 x 600 -> 600
    p(at(8, 10), lambda e, now: e.call_next(now, 1, "clerk1"))  # A called: wait 600
    p(at(8, 11), lambda e, now: e.start(now, 1, "clerk1"))
    p(at(8, 12), lambda e, now: e.call_next(now, 3, "clerk3"))  # C called: wait 600
    p(at(8, 12, 30), lambda e, now: e.start(now, 3, "clerk3"))
    p(at(8, 16), lambda e, now: e.finish(now, 1, "clerk1"))  # A served 300
    p(at(8, 17), lambda e, now: e.call_next(now, 1, "clerk1"))  # B called: wait 960
    p(at(8, 18), lambda e, now: e.start(now, 1, "clerk1"))
    p(at(8, 20), lambda e, now: e.transfer(now, 3, "clerk3", service="CT"))  # C -> CT, front
    p(at(8, 21), lambda e, now: e.call_next(now, 3, "clerk3"))  # F called: wait 960
    p(at(8, 22), lambda e, now: e.start(now, 3, "clerk3"))
    p(at(8, 25), lambda e, now: e.finish(now, 1, "clerk1"))  # B served 420
    p(at(8, 26), lambda e, now: e.call_next(now, 1, "clerk1"))  # C called again (first call 08:12)
    p(at(8, 27), lambda e, now: e.start(now, 1, "clerk1"))
    p(at(8, 30), lambda e, now: e.finish(now, 1, "clerk1"))  # C served 180
    p(at(8, 31), lambda e, now: e.call_next(now, 1, "clerk1"))  # D called
    p(at(8, 32), lambda e, now: e.recall(now, 1, "clerk1"))
    p(at(8, 33), lambda e, now: e.recall(now, 1, "clerk1"))
    p(at(8, 34), lambda e, now: e.call_next(now, 1, "clerk1"))  # D auto no-show; E called: wait 1800
    p(at(8, 35), lambda e, now: e.finish(now, 3, "clerk3"))  # F served 780
    p(at(8, 36), lambda e, now: e.start(now, 1, "clerk1"))
    p(at(8, 40), lambda e, now: e.finish(now, 1, "clerk1"))  # E served 240
    issue("G", at(8, 41), "CT")  # nobody waits -> 0
    p(at(8, 42), lambda e, now: e.cancel(now, ids["G"], "boss"))  # G cancelled
    issue("H", at(8, 43), "HT")  # 0
    p(at(8, 44), lambda e, now: e.call_next(now, 3, "clerk3"))  # H called: wait 60
    issue("I", at(8, 45), "CT")  # 0
    issue("J", at(8, 46), "HT")  # 0 (H is called, not waiting)
    issue("K", at(8, 47), "CT")  # 1: I, 3: J, 1: K -> ahead 2 x mean(300, 420, 180, 240) / 2 = 285
    p(at(8, 50), lambda e, now: e.no_show(now, 3, "clerk3"))  # H no-show
    p(at(8, 51), lambda e, now: e.call_next(now, 3, "clerk3"))  # J called: wait 300
    p(at(8, 55), lambda e, now: e.requeue(now, ids["D"], "boss"))  # D came back
    p(at(9, 0), lambda e, now: e.call_number(now, 1, "clerk1", 1003))  # D called: wait 3420
    p(at(9, 1), lambda e, now: e.start(now, 1, "clerk1"))
    p(at(9, 10), lambda e, now: e.finish(now, 1, "clerk1"))  # D served 540
    p(at(9, 11), lambda e, now: e.call_number(now, 1, "clerk1", 1007))  # K called: wait 1440
    p(at(9, 12), lambda e, now: e.start(now, 1, "clerk1"))  # K still serving
    for name, level in (("A", 4), ("B", 3), ("C", 1), ("E", 4), ("F", 2), ("D", 4)):
        p(at(9, 20), lambda e, now, n=name, lv=level: e.rate(now, ids[n], lv))
    # Next morning: the still waiting I and still called J expire; K (serving) does not.
    p(at(3, 0, 1, DAY + dt.timedelta(days=1)), lambda e, now: e.tick(now))
    p.store.close()
    return ids


@pytest.fixture(scope="module")
def fixture_db(tmp_path_factory: pytest.TempPathFactory) -> tuple[object, Path]:
    folder = tmp_path_factory.mktemp("reports")
    config = office_config(folder, office={"enforce_hours": False})
    db = folder / "motcua.db"
    play_fixture_day(config, db)
    return config, db


def run_report(fixture_db, by: str = "day", date_from: dt.date = DAY, date_to: dt.date = DAY) -> dict:
    config, db = fixture_db
    conn = connect(db, readonly=True)
    try:
        return reports.build_report(conn, config, date_from, date_to, by)
    finally:
        conn.close()


def test_fixture_day_covers_every_ticket_state(fixture_db):
    _, db = fixture_db
    conn = connect(db, readonly=True)
    states = {r[0] for r in conn.execute("SELECT state FROM tickets")}
    kinds = {r[0] for r in conn.execute("SELECT kind FROM events")}
    conn.close()
    assert states == {"done", "no_show", "cancelled", "expired", "serving"}
    assert {
        "ticket_issued",
        "ticket_called",
        "ticket_recalled",
        "ticket_started",
        "ticket_done",
        "ticket_no_show",
        "ticket_requeued",
        "ticket_cancelled",
        "ticket_transferred",
        "ticket_expired",
        "ticket_rated",
    } <= kinds


def test_day_counts_by_final_state(fixture_db):
    total = run_report(fixture_db)["total"]
    # A B C D E F served; G cancelled; H no-show; I J expired; K serving; C transferred once.
    assert (
        total["issued"],
        total["served"],
        total["no_show"],
        total["cancelled"],
        total["transferred"],
        total["expired"],
    ) == (11, 6, 1, 1, 1, 2)


def test_waiting_time_runs_from_issue_to_first_call(fixture_db):
    # Called: H 60, J 300, A 600, C 600 (first call), B 960, F 960, K 1440, E 1800, D 3420.
    # mean 10140/9; median the 5th (960); p90 at rank 7.2: 1800 + 0.2 x (3420 - 1800).
    assert run_report(fixture_db)["total"]["waiting"] == {
        "count": 9,
        "mean": 1126.7,
        "median": 960,
        "p90": 2124,
        "max": 3420,
    }


def test_service_time_runs_from_start_to_finish_of_served_tickets(fixture_db):
    # C 180, E 240, A 300, B 420, D 540, F 780: median (300+420)/2, p90 at rank 4.5.
    assert run_report(fixture_db)["total"]["service"] == {
        "count": 6,
        "mean": 410,
        "median": 360,
        "p90": 660,
        "max": 780,
    }


def test_satisfaction_counts_levels_and_top_two_are_satisfied(fixture_db):
    total = run_report(fixture_db)["total"]
    assert total["ratings"] == [1, 1, 1, 3]
    assert total["rated"] == 6
    assert total["satisfied_share"] == round(4 / 6, 4)


def test_estimate_error_is_mean_absolute_difference(fixture_db):
    # |est - wait|: A 600, B 810, C 600, D 2970, E 1200, F 360, H 60, J 300, K 1155 -> 8055 / 9.
    assert run_report(fixture_db)["total"]["estimate_mae"] == 895.0


def test_clerks_share_of_served_tickets(fixture_db):
    report = run_report(fixture_db)
    assert [(s["staff"], s["served"], s["share"]) for s in report["staff"]] == [
        ("clerk1", 5, round(5 / 6, 4)),
        ("clerk3", 1, round(1 / 6, 4)),
    ]


def test_group_by_service_uses_the_final_service(fixture_db):
    rows = {r["key"]: r for r in run_report(fixture_db, "service")["rows"]}
    assert list(rows) == ["CT", "HT"]
    ct, ht = rows["CT"], rows["HT"]
    assert (ct["label"], ct["issued"], ct["served"], ct["cancelled"], ct["expired"], ct["transferred"]) == (
        "Chứng thực",
        8,
        5,
        1,
        1,
        1,
    )
    # CT waits 600 600 960 1440 1800 3420; HT waits 60 300 960.
    assert ct["waiting"] == {"count": 6, "mean": 1470, "median": 1200, "p90": 2610, "max": 3420}
    assert ht["waiting"] == {"count": 3, "mean": 440, "median": 300, "p90": 828, "max": 960}
    assert (ht["served"], ht["no_show"], ht["expired"]) == (1, 1, 1)
    assert ct["served_share"] == round(5 / 6, 4)


def test_group_by_counter_and_staff_put_uncalled_tickets_apart(fixture_db):
    by_counter = {r["key"]: (r["label"], r["issued"], r["served"]) for r in run_report(fixture_db, "counter")["rows"]}
    assert by_counter == {1: ("Quầy 1 – Chứng thực", 6, 5), 3: ("Quầy 3 – Hộ tịch", 3, 1), None: ("—", 2, 0)}
    by_staff = {
        r["key"]: (r["issued"], r["served"], r["served_share"]) for r in run_report(fixture_db, "staff")["rows"]
    }
    assert by_staff == {"clerk1": (6, 5, round(5 / 6, 4)), "clerk3": (3, 1, round(1 / 6, 4)), None: (2, 0, 0)}


def test_group_by_hour_uses_office_local_time(fixture_db):
    rows = run_report(fixture_db, "hour")["rows"]
    assert [(r["key"], r["label"], r["issued"]) for r in rows] == [(8, "08:00–09:00", 11)]


def test_charts(fixture_db):
    charts = run_report(fixture_db)["charts"]
    series = {s["service"]: s["counts"] for s in charts["arrivals_by_hour"]["series"]}
    assert series["CT"][8] == 8 and series["HT"][8] == 3 and sum(series["CT"]) == 8
    # minutes: 1 | 5 | 10 10 | 16 16 | 24 | 30 | 57
    assert charts["wait_distribution"]["counts"] == [1, 1, 2, 2, 1, 1, 1, 0]
    assert charts["satisfaction"]["counts"] == [1, 1, 1, 3]


def test_days_outside_the_range_are_not_counted(fixture_db):
    report = run_report(fixture_db, date_from=DAY + dt.timedelta(days=1), date_to=DAY + dt.timedelta(days=3))
    assert report["rows"] == [] and report["total"]["issued"] == 0 and report["total"]["waiting"]["mean"] is None


@pytest.mark.parametrize("text", ["23/11/2026", "2026-11-23", " 23/11/2026 "])
def test_parse_date_accepts_vietnamese_and_iso_dates(text):
    assert reports.parse_date(text) == DAY


@pytest.mark.parametrize("by,start,end", [("week", DAY, DAY), ("day", DAY, DAY - dt.timedelta(days=1))])
def test_bad_grouping_or_range_is_refused(fixture_db, by, start, end):
    with pytest.raises(reports.BadRequest):
        run_report(fixture_db, by, start, end)


def test_csv_opens_in_vietnamese_excel_by_default_semicolons_decimal_commas_bom_dd_mm_yyyy(fixture_db):
    # Excel with Vietnamese regional settings: list separator ";", decimal separator ",".
    data = reports.to_csv(run_report(fixture_db))
    assert data.startswith(b"\xef\xbb\xbf")
    rows = list(csv.reader(io.StringIO(data.decode("utf-8-sig")), delimiter=";"))
    assert rows[0][:4] == ["Ngày", "Số phát ra", "Đã phục vụ", "Vắng mặt"]
    assert rows[1][:3] == ["23/11/2026", "11", "6"]
    assert rows[-1][0] == "Tổng cộng"
    assert rows[1][rows[0].index("Chờ TB (phút)")] == "18,8"  # 1126.7 s


def test_csv_in_the_comma_dialect_is_plain_rfc_4180(fixture_db):
    data = reports.to_csv(run_report(fixture_db), "comma")
    assert not data.startswith(b"\xef\xbb\xbf")
    rows = list(csv.reader(io.StringIO(data.decode("utf-8"))))
    assert rows[0][:2] == ["Ngày", "Số phát ra"]
    assert rows[1][rows[0].index("Chờ TB (phút)")] == "18.8"


def test_xlsx_reads_back_with_dates_and_staff_sheet(fixture_db):
    wb = load_workbook(io.BytesIO(reports.to_xlsx(run_report(fixture_db))))
    ws = wb["Báo cáo"]
    assert ws["A4"].value == "Ngày" and ws["B4"].value == "Số phát ra"
    assert ws["A5"].value.date() == DAY and ws["A5"].number_format == "dd/mm/yyyy"
    assert ws["B5"].value == 11 and ws["A6"].value == "Tổng cộng"
    assert "23/11/2026" in ws["A2"].value
    staff = [row for row in wb["Cán bộ"].iter_rows(min_row=2, values_only=True)]
    assert staff == [("clerk1", "clerk1", 5, 83.3), ("clerk3", "clerk3", 1, 16.7)]
    assert wb.sheetnames == ["Báo cáo", "Cán bộ", "Giải thích"]


def test_report_command_writes_every_format(fixture_db, tmp_path):
    config, fixture = fixture_db
    # The office's data folder holds its database (and the png:// printer's folder with it).
    db = tmp_path / "var" / "motcua.db"
    db.parent.mkdir()
    with sqlite3.connect(fixture) as source, sqlite3.connect(db) as copy:
        source.backup(copy)
    path = write_config(tmp_path, server={"database": str(db)})
    for fmt in ("json", "csv", "xlsx"):
        out = tmp_path / f"r.{fmt}"
        proc = subprocess.run(
            [
                sys.executable,
                "-m",
                "queue_server.cli",
                "--config",
                str(path),
                "report",
                "--from",
                "23/11/2026",
                "--to",
                "2026-11-23",
                "--by",
                "service",
                "--format",
                fmt,
                "--output",
                str(out),
            ],
            cwd=tmp_path,
            capture_output=True,
            text=True,
            env={"PYTHONPATH": str(ROOT), "PATH": ""},
            timeout=60,
        )
        assert proc.returncode == 0, proc.stderr
        assert out.stat().st_size > 0
    assert json.loads((tmp_path / "r.json").read_text(encoding="utf-8"))["total"]["served"] == 6
    bad = subprocess.run(
        [
            sys.executable,
            "-m",
            "queue_server.cli",
            "--config",
            str(path),
            "report",
            "--from",
            "32/13/2026",
            "--to",
            "23/11/2026",
        ],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        env={"PYTHONPATH": str(ROOT), "PATH": ""},
        timeout=60,
    )
    assert bad.returncode == 2 and "Ngày không hợp lệ" in bad.stderr


def test_migration_fills_the_facts_of_a_database_made_before_it(fixture_db, tmp_path, monkeypatch):
    """An office upgrading with history: migration 3 rebuilds ticket_facts from the tickets
    and the event log (first calls of transferred tickets), giving the same figures."""
    from queue_server import store as store_module

    config, db = fixture_db
    old = tmp_path / "old.db"
    # A database as migrations 1-2 left it, holding the same tickets and events.
    with monkeypatch.context() as m:
        m.setattr(store_module, "MIGRATIONS", store_module.MIGRATIONS[:2])
        Store(old).close()
    conn = connect(old)
    conn.execute("ATTACH DATABASE ? AS new", (str(db),))
    for table in ("tickets", "events"):
        columns = ", ".join(r[1] for r in conn.execute(f"PRAGMA main.table_info({table})"))
        conn.execute(f"INSERT INTO main.{table} ({columns}) SELECT {columns} FROM new.{table}")
    conn.execute("DETACH DATABASE new")
    conn.close()
    Store(old).close()  # migrations 3 and later
    conn = connect(old, readonly=True)
    try:
        rebuilt = reports.build_report(conn, config, DAY, DAY, "service")
    finally:
        conn.close()
    assert rebuilt == run_report(fixture_db, "service")
