"""One process per database, and a store that never overwrites a row silently.

A running server holds an OS lock on its database: a second server, ``motcua demo`` or a
writing command refuses with the database and the PID holding it, while the read-only
commands (``report``, ``user list``, ``backup``) still work. ``motcua demo`` only recreates a
database it made itself.
"""

from __future__ import annotations

import datetime as dt
import sqlite3
from pathlib import Path

import pytest

from queue_server.dblock import DatabaseInUse
from queue_server.engine import Engine
from queue_server.store import Store
from tests.support import KIOSK_TOKEN, ServerProcess, add_staff, http, office_config, write_config
from tests.test_cli import motcua

T0 = dt.datetime(2026, 11, 30, 1, 0, tzinfo=dt.UTC)


def test_a_second_store_on_a_database_in_use_is_refused_with_its_path_and_pid(tmp_path: Path) -> None:
    import os

    db = tmp_path / "motcua.db"
    first = Store(db)
    with pytest.raises(DatabaseInUse) as e:
        Store(db)
    assert e.value.status == 409 and str(db) in e.value.message and str(os.getpid()) in e.value.message_en
    first.close()
    Store(db).close()  # released on close


def test_a_duplicate_ticket_insert_is_an_error_and_writes_nothing(tmp_path: Path) -> None:
    store = Store(tmp_path / "motcua.db")
    engine = Engine(office_config(office={"enforce_hours": False}), T0)
    _, events = engine.issue(T0, service="CT", token="a" * 22)
    store.commit(events, engine.meta())
    with pytest.raises(sqlite3.IntegrityError):
        store.commit(events, engine.meta())  # the same ticket again: never a silent replace
    assert store.conn.execute("SELECT count(*) FROM tickets").fetchone()[0] == 1
    assert store.conn.execute("SELECT count(*) FROM events").fetchone()[0] == 1
    store.close()


@pytest.fixture
def serving(tmp_path: Path):  # type: ignore[no-untyped-def]
    config_path = write_config(tmp_path, kiosks=[{"id": "sanh", "token": KIOSK_TOKEN}], printers=[])
    add_staff(config_path, {"boss": "admin"})
    server = ServerProcess(tmp_path, config_path).start()
    try:
        yield server
    finally:
        server.stop()


def test_while_serving_writers_are_refused_and_readers_work(serving: ServerProcess, tmp_path: Path) -> None:
    config = str(serving.config_path)
    assert serving.proc is not None
    pid = str(serving.proc.pid)
    status, ticket, _ = http("POST", serving.base_url + "/api/tickets", {"service": "CT"}, token=KIOSK_TOKEN)
    assert status == 201

    second = ServerProcess(tmp_path, serving.config_path)
    with pytest.raises(RuntimeError) as e:
        second.start(timeout=20)
    assert "is in use by process PID " + pid in str(e.value) and "motcua.db" in str(e.value)

    added = motcua(
        "--config", config, "user", "add", "clerk9", "--password-stdin", cwd=tmp_path, stdin="mat-khau-123\n"
    )
    assert added.returncode != 0 and f"PID {pid}" in added.stderr and "motcua.db" in added.stderr

    listed = motcua("--config", config, "user", "list", cwd=tmp_path)
    assert listed.returncode == 0 and "boss" in listed.stdout
    today = dt.date.today().isoformat()
    report = motcua(
        "--config", config, "report", "--from", "2026-01-01", "--to", today, "--format", "csv", cwd=tmp_path
    )
    assert report.returncode == 0, report.stderr
    backup = motcua("--config", config, "backup", str(tmp_path / "bk"), cwd=tmp_path)
    assert backup.returncode == 0, backup.stderr
    assert list((tmp_path / "bk").glob("*.db"))

    # The live database survives it all, and the server still answers.
    status, again, _ = http("GET", serving.base_url + f"/api/tickets/{ticket['token']}")
    assert status == 200 and again["label"] == ticket["label"]


def test_demo_never_recreates_a_live_or_a_real_database(serving: ServerProcess, tmp_path: Path) -> None:
    config = str(serving.config_path)
    assert http("POST", serving.base_url + "/api/tickets", {"service": "CT"}, token=KIOSK_TOKEN)[0] == 201
    live = serving.folder / "var" / "motcua.db"
    if not live.exists():
        live = next(serving.folder.rglob("motcua.db"))
    busy = motcua("--config", config, "demo", "--database", str(live), "--port", "1", cwd=tmp_path)
    assert busy.returncode != 0 and "in use by process PID" in busy.stderr
    serving.stop()
    real = motcua("--config", config, "demo", "--database", str(live), "--port", "1", cwd=tmp_path)
    assert real.returncode != 0 and "not a demo database" in real.stderr
    conn = sqlite3.connect(live)
    assert conn.execute("SELECT count(*) FROM users WHERE username = 'boss'").fetchone()[0] == 1
    assert conn.execute("SELECT count(*) FROM tickets").fetchone()[0] == 1
    conn.close()
