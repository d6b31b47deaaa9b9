"""Every office report kind combined at the central: dossiers, satisfaction, appointments.

Two real office servers (uvicorn on 127.0.0.1, in this process so the test drives their
clock: booking check-in depends on the time of day) receive bookings, walk-ins, dossiers
and ratings; ``motcua central pull`` fetches them; the central's figures for one site
equal that site's own report, combined they are the sum, and pulling again or importing a
bundle twice changes nothing. No booking name or phone leaves an office."""

from __future__ import annotations

import datetime as dt
import json
import sqlite3
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import pytest
import tomlkit

from queue_server.central.config import load_central_config
from queue_server.central.kind_reports import build_kind_report
from queue_server.config import load_config
from tests.appointment_server import threaded_server
from tests.appointment_support import BASE, VN
from tests.dossier_support import TABLET_TOKEN, code, office_data
from tests.support import http, login
from tests.test_central import motcua

TOKENS = {"a": "dong-bo-phuong-a-0123456789", "b": "dong-bo-phuong-b-9876543210"}
NAMES = {"a": "Phường A", "b": "Phường B"}
MONDAY = dt.datetime(2026, 12, 7, 7, 0, tzinfo=VN)
KIOSK_TOKEN = "kiosk-thu-nghiem-123"
PERSONAL = ("Đỗ Văn Giang", "0911111111", "0922222222", "0933333333")


class Clock:
    def __init__(self) -> None:
        self.now = MONDAY

    def __call__(self) -> dt.datetime:
        return self.now


def site_config(folder: Path, site: str) -> Path:
    data = office_data()
    data["office"]["name"] = NAMES[site]
    data["office"]["hours"] = BASE["office"]["hours"]
    data["services"][0]["booking"] = BASE["services"][0]["booking"]
    data["sync"] = {"token": TOKENS[site]}
    data["server"] = {"database": "var/motcua.db"}
    folder.mkdir()
    path = folder / "config.toml"
    path.write_text(tomlkit.dumps(data), encoding="utf-8")
    return path


def day_at_a_site(base: str, clock: Clock, site: str) -> None:
    """Bookings (one cancelled, one checked in), walk-ins, dossiers on the visits (one ready
    on time, one extended), ratings."""
    codes = []
    for phone in PERSONAL[1:] if site == "a" else PERSONAL[2:]:
        status, body, _ = http(
            "POST",
            base + "/api/appointments",
            {"service": "CT", "date": "2026-12-07", "start": "08:30", "name": PERSONAL[0], "phone": phone},
        )
        assert status == 201, body
        codes.append(body["code"])
    status, body, _ = http("POST", base + f"/api/appointments/{codes[-1]}/cancel", {"phone_last4": PERSONAL[3][-4:]})
    assert status == 200, body
    clock.now = MONDAY.replace(hour=8, minute=20)
    status, body, _ = http("POST", base + f"/api/appointments/{codes[0]}/check-in", {}, token=KIOSK_TOKEN)
    assert status in (200, 201), body
    for service in ("CT", "DD", "CT") if site == "a" else ("DD",):
        status, body, _ = http("POST", base + "/api/tickets", {"service": service}, token=KIOSK_TOKEN)
        assert status == 201, body
    clock.now = MONDAY.replace(hour=8, minute=41)
    clerk = login(base, "clerk1", 1)
    http("POST", base + "/api/counters/1/open", {}, cookie=clerk)
    n = 0
    while True:
        status, body, _ = http("POST", base + "/api/counters/1/next", {}, cookie=clerk)
        if status == 409 or body.get("ticket") is None:
            break
        ticket = body["ticket"]
        n += 1
        procedure = "DD01" if ticket["service"] == "DD" else "CT03"
        status, body, _ = http(
            "POST", base + "/api/counters/1/dossiers", {"code": code(n), "procedure": procedure}, cookie=clerk
        )
        assert status == 201, body
        assert http("POST", base + "/api/counters/1/start", {}, cookie=clerk)[0] == 200
        assert http("POST", base + "/api/counters/1/done", {}, cookie=clerk)[0] == 200
        if n % 2:
            rating = {"ticket_id": ticket["id"], "level": 4 if site == "a" else 2}
            status, body, _ = http("POST", base + "/api/counters/1/rating", rating, token=TABLET_TOKEN)
            assert status == 200, body
        clock.now += dt.timedelta(minutes=7)
    assert http("POST", base + f"/api/dossiers/{code(1)}/ready", {}, cookie=clerk)[0] == 200
    if n >= 2:
        extend = {"due_date": "2027-01-05", "reason": "liên thông"}
        assert http("POST", base + f"/api/dossiers/{code(2)}/extend", extend, cookie=clerk)[0] == 200


def own(base: str, path: str) -> dict[str, Any]:
    status, body, _ = http("GET", base + path, cookie=login(base, "boss"))
    assert status == 200, body
    return body


def snapshot(db: Path) -> dict[str, list[Any]]:
    conn = sqlite3.connect(db)
    try:
        return {
            t: conn.execute(f"SELECT * FROM {t} ORDER BY 1, 2").fetchall()
            for t in ("dossiers", "slots", "row_cursors", "facts")
        }
    finally:
        conn.close()


@pytest.fixture
def offices(tmp_path: Path) -> Iterator[tuple[dict[str, str], dict[str, Path], dict[str, Clock]]]:
    clocks = {"a": Clock(), "b": Clock()}
    with ExitStack() as stack:
        urls, configs = {}, {}
        for site in ("a", "b"):
            configs[site] = site_config(tmp_path / site, site)
            config = load_config(configs[site])
            database = config.resolve(config.server.database)
            database.parent.mkdir(parents=True)
            users = {"clerk1": "clerk", "boss": "admin"}
            urls[site] = stack.enter_context(threaded_server(config, database, clocks[site], users))
        yield urls, configs, clocks


def test_every_report_kind_at_the_central_equals_the_sites_own(
    offices: tuple[dict[str, str], dict[str, Path], dict[str, Clock]], tmp_path: Path
) -> None:
    urls, configs, clocks = offices
    for site, base in urls.items():
        day_at_a_site(base, clocks[site], site)
    for clock in clocks.values():
        clock.now = MONDAY.replace(hour=15)  # the morning's check-in windows have closed: absences count

    # The feed carries the rows only when asked (rows_after), and no booking name or phone.
    status, page, _ = http("GET", urls["a"] + "/api/sync/events?after=0&rows_after=0", token=TOKENS["a"])
    assert status == 200 and page["dossiers"] and page["slots"]
    text = json.dumps(page, ensure_ascii=False)
    assert not any(p in text for p in PERSONAL) and "liên thông" not in text
    assert "dossiers" not in http("GET", urls["a"] + "/api/sync/events?after=0", token=TOKENS["a"])[1]
    status, body, _ = http("GET", urls["a"] + "/api/sync/events?rows_after=x", token=TOKENS["a"])
    assert status == 400 and body["error"] == "bad_param"

    central = tmp_path / "central.toml"
    central.write_text(
        tomlkit.dumps(
            {
                "central": {"name": "Tỉnh thử nghiệm", "database": "var/central.db", "page_size": 3},
                "sites": [
                    {"id": s, "name": NAMES[s], "url": url, "token": TOKENS[s]} for s, url in sorted(urls.items())
                ],
            }
        ),
        encoding="utf-8",
    )
    pulled = motcua("--config", str(central), "central", "pull")
    assert pulled.returncode == 0, pulled.stderr
    config = load_central_config(central)
    db = tmp_path / "var" / "central.db"
    day = dt.date(2026, 12, 7)
    span = "from=2026-12-01&to=2026-12-31"

    def mine(kind: str, by: str, sites: list[str] | None = None) -> dict[str, Any]:
        start, end = dt.date(2026, 12, 1), dt.date(2026, 12, 31)
        return build_kind_report(str(db), config, kind, start, end, by, sites, now=clock.now)

    figures = {
        "dossiers": ("received", "on_time", "late", "pending", "overdue", "withdrawn", "resolved"),
        "satisfaction": ("served", "rated", "no_rating", "satisfied", "ratings"),
    }
    for kind, bys in (
        ("dossiers", ("month", "service", "procedure", "staff")),
        ("satisfaction", ("month", "service", "staff", "counter")),
    ):
        for by in bys:
            theirs = {s: own(u, f"/api/reports/{kind}?{span}&by={by}") for s, u in urls.items()}
            for s in urls:
                assert mine(kind, by, [s])["rows"] == theirs[s]["rows"], (kind, by, s)
                assert mine(kind, by, [s])["total"] == theirs[s]["total"], (kind, by, s)
            combined = mine(kind, by)["total"]
            for f in figures[kind]:
                if f == "ratings":
                    assert combined[f] == [sum(x) for x in zip(*(theirs[s]["total"][f] for s in urls))]
                else:
                    assert combined[f] == sum(theirs[s]["total"][f] for s in urls), (kind, by, f)
        by_site = mine(kind, "site")
        assert [r["key"] for r in by_site["rows"]] == ["a", "b"]
        assert [r["label"] for r in by_site["rows"]] == [NAMES["a"], NAMES["b"]]
    assert mine("dossiers", "month")["total"]["overdue"] >= 1 and mine("dossiers", "month")["late"]
    assert mine("satisfaction", "site")["total"]["rated"] >= 2

    appointments = {s: own(u, f"/api/reports/appointments?from={day}&to={day}") for s, u in urls.items()}
    for s in urls:
        rows = mine("appointments", "day", [s])["rows"]
        assert [{k: v for k, v in r.items() if k != "key"} for r in rows] == appointments[s]["rows"], s
    total = mine("appointments", "day")["total"]
    for f in ("booked", "checked_in", "absent", "cancelled", "called", "on_time"):
        assert total[f] == sum(appointments[s]["total"][f] for s in urls), f
    assert total["booked"] >= 4 and total["cancelled"] >= 1 and total["checked_in"] == 2 and total["absent"] >= 1
    # Every grouping of a kind adds up to the same total; by site, each site's own.
    for kind, bys in (("dossiers", ("service", "procedure", "staff")), ("satisfaction", ("service", "staff", "counter")),
                      ("appointments", ("service",))):  # fmt: skip
        by_site = mine(kind, "site")
        for by in bys:
            assert mine(kind, by)["total"] == by_site["total"], (kind, by)
    assert [r["booked"] for r in mine("appointments", "site")["rows"]] == [
        appointments[s]["total"]["booked"] for s in ("a", "b")
    ]
    assert mine("appointments", "site")["total"] == total

    # Pulling again, and a bundle of A imported twice, change nothing.
    before = snapshot(db)
    assert motcua("--config", str(central), "central", "pull").returncode == 0
    assert snapshot(db) == before
    bundle = tmp_path / "a.motcua"
    done = motcua("--config", str(configs["a"]), "export", "--since", "0", "--output", str(bundle))
    assert done.returncode == 0, done.stderr
    for _ in range(2):
        done = motcua("central", "--config", str(central), "import", str(bundle))
        assert done.returncode == 0, done.stderr
        assert snapshot(db) == before

    # The command line and the web answer read the same; CSV in the Excel dialect.
    args = ["--config", str(central), "report", "--from", "01/12/2026", "--to", "31/12/2026"]
    done = motcua(*args, "--kind", "satisfaction", "--by", "site", "--format", "json")
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["rows"] == mine("satisfaction", "site")["rows"]
    done = motcua(*args, "--kind", "dossiers", "--by", "procedure", "--site", "b", "--format", "csv")
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("\ufeffThủ tục;Tiếp nhận;") and "Tổng cộng;" in done.stdout
    # An office's own command line has the appointment report too (its clock is the real one:
    # the bookings, cancellations and check-ins are the same, absences depend on the hour).
    office = ["--config", str(configs["a"]), "report", "--from", "07/12/2026", "--to", "07/12/2026"]
    done = motcua(*office, "--kind", "appointments", "--format", "json")
    assert done.returncode == 0, done.stderr
    counts = ("booked", "cancelled", "checked_in", "called")
    assert [[r[c] for c in counts] for r in json.loads(done.stdout)["rows"]] == [
        [r[c] for c in counts] for r in appointments["a"]["rows"]
    ]
    done = motcua(*office, "--kind", "appointments", "--format", "csv")
    assert done.returncode == 0 and done.stdout.startswith("\ufeffNgày;Lĩnh vực;Đã đặt;")
    done = motcua(*args, "--kind", "appointments", "--by", "month", "--format", "json")
    assert done.returncode == 2 and "Group by must be one of: day, site, service" in done.stderr
    assert "Traceback" not in done.stderr
