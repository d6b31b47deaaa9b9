"""The server makes its daily backup by itself at backup.daily_at (no cron)."""

from __future__ import annotations

import datetime as dt
import sqlite3
import time
from pathlib import Path

from starlette.testclient import TestClient

from queue_server.app import create_app
from tests.support import JSON_HEADERS, KIOSK_TOKEN, office_config

VN = dt.timezone(dt.timedelta(hours=7))


def test_server_writes_the_daily_backup_at_the_configured_time(tmp_path: Path):
    start = time.monotonic()
    just_before = dt.datetime(2026, 11, 30, 12, 14, 59, 500_000, tzinfo=VN)

    def clock() -> dt.datetime:  # real time passing from half a second before 12:15
        return just_before + dt.timedelta(seconds=time.monotonic() - start)

    config = office_config(
        tmp_path,
        office={"enforce_hours": False},
        backup={"dir": str(tmp_path / "backups"), "daily_at": "12:15", "keep": 3},
    )
    app = create_app(config, database=tmp_path / "motcua.db", clock=clock, printing=False)
    with TestClient(app, headers=JSON_HEADERS) as client:
        r = client.post("/api/tickets", json={"service": "CT"}, headers={"Authorization": f"Bearer {KIOSK_TOKEN}"})
        assert r.status_code == 201
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and not list((tmp_path / "backups").glob("*.db")):
            time.sleep(0.1)
    (backup,) = (tmp_path / "backups").glob("motcua-2026-11-30_1215*.db")
    with sqlite3.connect(backup) as conn:
        assert conn.execute("SELECT label FROM tickets").fetchall() == [("1001",)]
