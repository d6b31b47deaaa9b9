"""The dossier and satisfaction reports, checked against counts made here independently from
the rule in docs/reports.md (never by re-running the report's own code), and their exports."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import random
import re
import sqlite3
import subprocess
import sys
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

import openpyxl
import pytest
from starlette.testclient import TestClient

from queue_server.store import Store
from tests.dossier_support import KIOSK, TABLET, VN, Clock, code, office_data, write_office
from tests.support import ROOT
from tests.test_dossiers import make_client, record, serve_one, sign_in

D = dt.date
DAYS = {"CT01": 0, "CT03": 2, "DD01": 10}
SERVICE = {"CT01": "CT", "CT03": "CT", "DD01": "DD"}


def working_day_after(day: dt.date, n: int) -> dt.date:
    """The rule as the docs say it: n working days (Mon-Fri) after ``day``; 0 = the same day."""
    while n > 0:
        day += dt.timedelta(days=1)
        if day.isoweekday() <= 5:
            n -= 1
    return day


def dots(n: int) -> str:
    text = str(n)
    return re.sub(r"(?<=\d)(?=(\d{3})+$)", ".", text)


def insert(db: Path, dossiers: list[dict[str, Any]]) -> None:
    Store(db).close()  # the schema
    conn = sqlite3.connect(db)
    with conn:
        for d in dossiers:
            row = {"status": "received", "updated_at": "2026-12-03T08:00:00+07:00", **d}
            conn.execute(
                f"INSERT INTO dossiers ({', '.join(row)}) VALUES ({', '.join('?' * len(row))})", list(row.values())
            )
    conn.close()


def random_year(rng: random.Random, today: dt.date) -> tuple[list[dict[str, Any]], dict[str, Counter[str]]]:
    """Dossiers received from 1 January to ``today`` with known fates, and the expected count
    per month and fate."""
    rows, expected = [], defaultdict(Counter)
    day = D(today.year, 1, 1)
    n = 0
    while day <= today:
        for _ in range(rng.randint(0, 12) if day.isoweekday() <= 5 else 0):
            n += 1
            proc = rng.choice(list(DAYS))
            due = working_day_after(day, DAYS[proc])
            fate = rng.choices(["on_time", "late", "extended", "open", "withdrawn"], [80, 6, 4, 8, 2])[0]
            d = {
                "code": f"000.00.21.H40-{day:%y%m%d}-{n:04d}",
                "procedure": proc,
                "service": SERVICE[proc],
                "received_on": day.isoformat(),
                "received_at": f"{day}T09:00:00+07:00",
                "due_date": due.isoformat(),
                "staff": rng.choice(["clerk1", "clerk2", "clerk5"]),
            }
            if fate == "on_time":
                ready = day + dt.timedelta(days=rng.randint(0, (due - day).days))
                if ready > today:
                    fate = "open"
                else:
                    d |= {"status": rng.choice(["ready", "returned"]), "ready_on": ready.isoformat()}
            if fate == "late":
                ready = due + dt.timedelta(days=rng.randint(1, 20))
                if ready > today:
                    fate = "open"
                else:
                    d |= {"status": "returned", "ready_on": ready.isoformat()}
            if fate == "extended":
                d |= {"new_due_date": (due + dt.timedelta(days=5)).isoformat(), "extend_reason": "liên thông"}
                ready = due + dt.timedelta(days=rng.randint(-1, 4))  # even ready before the old date: late
                if ready <= today and ready >= day and rng.random() < 0.7:
                    d |= {"status": "ready", "ready_on": ready.isoformat()}
                    fate = "late"
                else:
                    fate = "overdue"
            if fate == "open":
                d["status"] = rng.choice(["received", "papers"])
                fate = "overdue" if due < today else "pending"
            if fate == "withdrawn":
                d["status"] = "withdrawn"
            rows.append(d)
            expected[day.isoformat()[:7]][fate] += 1
        day += dt.timedelta(days=1)
    return rows, expected


def test_on_time_figures_match_an_independent_count_over_a_random_year(tmp_path: Path):
    today = D(2026, 12, 3)
    rows, expected = random_year(random.Random(15), today)
    assert len(rows) > 1000
    insert(tmp_path / "motcua.db", rows)
    clock = Clock(dt.datetime(2026, 12, 3, 15, 0, tzinfo=VN))
    with make_client(tmp_path, clock) as client:
        sign_in(client, "boss")
        r = client.get("/api/reports/dossiers", params={"from": "01/01/2026", "to": "31/12/2026", "by": "month"})
        assert r.status_code == 200, r.text
        report = r.json()
        assert [row["key"] for row in report["rows"]] == sorted(expected)
        for row in report["rows"]:
            want = expected[row["key"]]
            assert (row["received"], row["on_time"], row["late"], row["pending"], row["overdue"], row["withdrawn"]) == (
                sum(want.values()),
                want["on_time"],
                want["late"],
                want["pending"],
                want["overdue"],
                want["withdrawn"],
            )
            if want["on_time"] + want["late"]:
                assert row["on_time_rate"] == pytest.approx(want["on_time"] / (want["on_time"] + want["late"]))
        total: Counter[str] = sum(expected.values(), Counter())
        received = sum(total.values())
        share = total["on_time"] / (total["on_time"] + total["late"])
        percent = f"{round(share * 100, 2):.2f}".replace(".", ",")
        assert report["summary"] == (
            f"Năm 2026 tiếp nhận {dots(received)} hồ sơ, giải quyết đúng hạn "
            f"{dots(total['on_time'])} hồ sơ ({percent}%)"
        )
        late_codes = {d["code"] for d in report["late"]}
        assert len(late_codes) == total["late"] + total["overdue"]
        # Other groupings add up to the same totals.
        for by in ("service", "procedure", "staff"):
            other = client.get("/api/reports/dossiers", params={"from": "2026-01-01", "to": "2026-12-31", "by": by})
            assert other.json()["total"] == report["total"] | {"key": None, "label": "Tổng cộng"}
        assert client.get("/api/reports/dossiers", params={"by": "hour"}).status_code == 400


def test_the_yearly_sentence_reads_as_the_article_writes_it(tmp_path: Path):
    rng = random.Random(2021)
    rows = []
    for i in range(12_439):
        day = D(2021, 1, 4) + dt.timedelta(days=rng.randint(0, 360))
        due = day + dt.timedelta(days=3)
        ready = due + dt.timedelta(days=2) if i < 7 else day
        rows.append(
            {
                "code": f"000.00.21.H40-{day:%y%m%d}-{i:05d}",
                "procedure": "DD01",
                "service": "DD",
                "received_on": day.isoformat(),
                "due_date": due.isoformat(),
                "status": "returned",
                "ready_on": ready.isoformat(),
                "extend_reason": "liên thông" if i < 7 else None,
            }
        )
    insert(tmp_path / "motcua.db", rows)
    with make_client(tmp_path, Clock()) as client:
        sign_in(client, "boss")
        report = client.get("/api/reports/dossiers", params={"from": "01/01/2021", "to": "31/12/2021"}).json()
    assert report["summary"] == "Năm 2021 tiếp nhận 12.439 hồ sơ, giải quyết đúng hạn 12.432 hồ sơ (99,94%)"
    assert report["total"]["on_time_rate_text"] == "99,94%"
    assert len(report["late"]) == 7 and {d["reason"] for d in report["late"]} == {"liên thông"}


def test_satisfaction_ties_each_rating_to_ticket_officer_counter_service_and_dossiers(tmp_path: Path):
    clock = Clock()
    with make_client(tmp_path, clock) as client:
        sign_in(client, "clerk1", 1)
        rated = serve_one(client)
        record(client, code=code(1), procedure="CT03")
        record(client, code=code(2), procedure="CT01")
        client.post("/api/counters/1/done", json={})
        r = client.post("/api/counters/1/rating", json={"ticket_id": rated["id"], "level": 4}, headers=TABLET)
        assert r.status_code == 200, r.text
        unrated = serve_one(client)
        client.post("/api/counters/1/done", json={})
        low = serve_one(client)
        client.post("/api/counters/1/done", json={})
        client.post("/api/counters/1/rating", json={"ticket_id": low["id"], "level": 3}, headers=TABLET)
        sign_in(client, "boss")
        r = client.get("/api/reports/satisfaction", params={"from": "03/12/2026", "to": "03/12/2026", "by": "staff"})
        assert r.status_code == 200, r.text
        report = r.json()
    (row,) = report["rows"]
    assert (row["key"], row["served"], row["rated"], row["no_rating"], row["ratings"]) == (
        "clerk1",
        3,
        2,
        1,
        [0, 0, 1, 1],
    )
    # rating.levels = 4, satisfied_levels = 2 (the default): levels 3 and 4 are satisfied.
    assert row["satisfaction_rate"] == 1.0 and row["satisfaction_rate_text"] == "100,00%"
    by_ticket = {r["ticket_id"]: r for r in report["ratings"]}
    assert by_ticket[rated["id"]]["dossiers"] == [code(1), code(2)]
    assert (by_ticket[rated["id"]]["counter"], by_ticket[rated["id"]]["service"]) == (1, "CT")
    assert unrated["id"] not in by_ticket


def test_the_satisfied_levels_setting_changes_the_rate(tmp_path: Path):
    data = office_data()
    data["rating"] = {"levels": 4, "satisfied_levels": 1}
    from queue_server.app import create_app
    from queue_server.config import parse_config
    from tests.test_dossiers import _accounts

    _accounts(tmp_path / "motcua.db")
    app = create_app(
        parse_config(data, tmp_path / "config.toml"), database=tmp_path / "motcua.db", clock=Clock(), printing=False
    )
    with TestClient(app) as client:
        sign_in(client, "clerk1", 1)
        for level in (4, 3):
            t = serve_one(client)
            client.post("/api/counters/1/done", json={})
            assert (
                client.post(
                    "/api/counters/1/rating", json={"ticket_id": t["id"], "level": level}, headers=TABLET
                ).status_code
                == 200
            )
        sign_in(client, "boss")
        report = client.get("/api/reports/satisfaction", params={"from": "2026-12-01", "to": "2026-12-31"}).json()
    assert report["total"]["satisfaction_rate"] == 0.5


def test_cli_exports_both_reports_to_xlsx_and_csv(tmp_path: Path):
    config_path = write_office(tmp_path)
    rows, _ = random_year(random.Random(7), D(2026, 3, 31))
    insert(tmp_path / "var" / "motcua.db", rows)
    base = [
        sys.executable,
        "-m",
        "queue_server.cli",
        "--config",
        str(config_path),
        "report",
        "--from",
        "01/01/2026",
        "--to",
        "31/03/2026",
    ]
    out = tmp_path / "hs.xlsx"
    done = subprocess.run(
        [*base, "--kind", "dossiers", "--by", "procedure", "--format", "xlsx", "--output", str(out)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    wb = openpyxl.load_workbook(out)
    assert wb.sheetnames[:2] == ["Hồ sơ", "Trễ hạn"]
    assert wb["Hồ sơ"]["A3"].value.startswith("Từ ngày 01/01/2026 đến ngày 31/03/2026 tiếp nhận ")
    done = subprocess.run([*base, "--kind", "dossiers", "--format", "csv"], cwd=ROOT, capture_output=True, timeout=120)
    text = done.stdout.decode("utf-8")
    # The reports' CSV (queue_server.csvout): by default as Vietnamese Excel reads it.
    assert text.startswith("\ufeffTháng;Tiếp nhận;Đúng hạn")
    table = list(csv.reader(io.StringIO(text.lstrip("\ufeff")), delimiter=";"))
    assert [r[0] for r in table[1:4]] == ["01/2026", "02/2026", "03/2026"]
    assert sum(int(r[1]) for r in table[1:4]) == len(rows) == int(table[4][1])
    done = subprocess.run(
        [*base, "--kind", "dossiers", "--format", "csv", "--csv-dialect", "comma"],
        cwd=ROOT,
        capture_output=True,
        timeout=120,
    )
    plain = done.stdout.decode("utf-8")
    assert plain.startswith("Tháng,Tiếp nhận,Đúng hạn")
    assert list(csv.reader(io.StringIO(plain)))[:5] == [[c.replace(",", ".") for c in r] for r in table[:5]]
    done = subprocess.run(
        [*base, "--kind", "satisfaction", "--format", "json"], cwd=ROOT, capture_output=True, timeout=120
    )
    assert done.returncode == 0 and json.loads(done.stdout)["kind"] == "satisfaction"
    done = subprocess.run(
        [*base, "--kind", "dossiers", "--by", "hour"], cwd=ROOT, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 2 and "Error:" in done.stderr


def test_admin_downloads_the_reports(tmp_path: Path):
    with make_client(tmp_path, Clock()) as client:
        assert client.get("/api/reports/dossiers").status_code == 401
        sign_in(client, "clerk1", 1)
        assert client.get("/api/reports/dossiers").status_code == 403
        sign_in(client, "boss")
        for kind in ("dossiers", "satisfaction"):
            r = client.get(f"/api/reports/{kind}/export", params={"format": "xlsx"})
            assert r.status_code == 200 and r.headers["content-disposition"].startswith("attachment")
            openpyxl.load_workbook(io.BytesIO(r.content))
            r = client.get(f"/api/reports/{kind}/export", params={"format": "csv"})
            assert r.status_code == 200 and r.content.startswith("\ufeff".encode())
            # The reports' CSV dialects (queue_server.csvout): ";" for Excel by default, or ",".
            excel = next(csv.reader(io.StringIO(r.content.decode("utf-8-sig")), delimiter=";"))
            r = client.get(f"/api/reports/{kind}/export", params={"format": "csv", "dialect": "comma"})
            assert r.status_code == 200 and not r.content.startswith("\ufeff".encode())
            assert next(csv.reader(io.StringIO(r.content.decode("utf-8")))) == excel and len(excel) > 3
            r = client.get(f"/api/reports/{kind}/export", params={"format": "csv", "dialect": "tab"})
            assert r.status_code == 400 and r.json()["error"] == "bad_dialect"
        assert client.get("/api/reports/dossiers/export", params={"format": "pdf"}).status_code == 400
    assert KIOSK  # the kiosk header is shared with the dossier tests
