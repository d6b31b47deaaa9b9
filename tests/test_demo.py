"""`motcua demo`: the sample office lives through a simulated day with nobody touching it."""

from __future__ import annotations

import time
from pathlib import Path

from starlette.testclient import TestClient

from queue_server.demo import demo_app
from tests.support import JSON_HEADERS, office_config


def test_demo_day_issues_calls_and_serves_tickets_by_itself(tmp_path: Path):
    config = office_config(tmp_path)
    app = demo_app(config, speed=600.0, database=tmp_path / "demo.db", seed=7)
    with TestClient(app, headers=JSON_HEADERS) as client:
        deadline = time.monotonic() + 15
        state = client.get("/api/state").json()
        while time.monotonic() < deadline:
            state = client.get("/api/state").json()
            served = sum(c["served_today"] for c in state["counters"])
            if served >= 3:
                break
            time.sleep(0.2)
        assert sum(s["issued"] for s in state["services"]) > 0
        assert all(c["state"] == "open" for c in state["counters"])
        assert served >= 3 and state["latest_calls"]
        # The demo accounts can sign in and take over a counter.
        r = client.post("/api/login", json={"username": "demo2", "password": "demo-pass", "counter": 2})
        assert r.status_code == 200


def test_demo_shows_dossiers_and_fills_the_reports(tmp_path: Path):
    config = office_config(tmp_path)
    app = demo_app(config, speed=600.0, database=tmp_path / "demo.db", seed=7)
    with TestClient(app, headers=JSON_HEADERS) as client:
        assert client.post("/api/login", json={"username": "admin", "password": "demo-pass"}).status_code == 200
        deadline = time.monotonic() + 20
        received_today: list = []
        while time.monotonic() < deadline and not received_today:
            time.sleep(0.3)
            listed = client.get("/api/dossiers").json()["dossiers"]
            day = client.get("/api/state").json()["office"]["day"]
            received_today = [d for d in listed if d["received_on"] == day]
        assert received_today, "the demo clerks record the dossiers they receive"
        today = client.get("/api/state").json()["office"]["day"]
        year_ago = f"{int(today[:4]) - 1}{today[4:7]}-01"
        report = client.get("/api/reports/dossiers", params={"from": year_ago, "to": today}).json()
        assert report["total"]["received"] > 1000 and report["total"]["late"] > 0 and report["late"]
        assert "tiếp nhận" in report["summary"] and "hồ sơ (" in report["summary"]
        alerts = client.get("/api/dossiers/alerts").json()
        assert alerts["due_today"] or alerts["due_soon"] or alerts["overdue"]
        sat = client.get("/api/reports/satisfaction", params={"from": today, "to": today, "by": "staff"}).json()
        assert sat["total"]["served"] > 0
