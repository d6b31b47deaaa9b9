"""Backups: online copy while serving, retention, the daily timer, and restoring."""

from __future__ import annotations

import asyncio
import datetime as dt
import shutil
import sqlite3
import subprocess
import sys
import threading
from pathlib import Path
from types import SimpleNamespace
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from queue_server.backup import backup_database, backup_forever, backups, seconds_until
from queue_server.config import load_config
from queue_server.errors import NotFound
from queue_server.office import Office
from queue_server.store import Store
from tests.support import KIOSK_TOKEN, ROOT, ServerProcess, http, login, office_config

HCM = ZoneInfo("Asia/Ho_Chi_Minh")


def stable_state(state: dict[str, Any]) -> dict[str, Any]:
    """/api/state without what depends on the wall clock."""
    state = dict(state)
    state.pop("now", None)
    state["office"] = {k: v for k, v in state["office"].items() if k != "open_now"}
    state["services"] = [{k: v for k, v in s.items() if k not in ("longest_wait_s",)} for s in state["services"]]
    if "printers" in state:  # live device status, not stored in the database
        state["printers"] = sorted(p["id"] for p in state["printers"])
    return state


def busy_office(server: ServerProcess) -> str:
    """Tickets in every state worth restoring; returns a staff cookie."""
    for i in range(6):
        status, body, _ = http(
            "POST",
            server.base_url + "/api/tickets",
            {"service": "CT" if i % 2 else "HT", "request_id": f"b{i}"},
            token=KIOSK_TOKEN,
        )
        assert status == 201, body
    cookie = login(server.base_url, "clerk1", 1)
    assert http("POST", server.base_url + "/api/counters/1/next", {}, cookie=cookie)[0] == 200
    assert http("POST", server.base_url + "/api/counters/1/next", {}, cookie=cookie)[0] == 200
    assert http("POST", server.base_url + "/api/counters/1/start", {}, cookie=cookie)[0] == 200
    return cookie


def run_cli(config_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "queue_server.cli", "--config", str(config_path), "backup", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_backup_command_copies_the_live_database_and_restore_serves_the_same_state(
    server: ServerProcess, tmp_path: Path
) -> None:
    cookie = busy_office(server)
    before = stable_state(http("GET", server.base_url + "/api/state", cookie=cookie)[1])
    folder = tmp_path / "backups"

    result = run_cli(server.config_path, str(folder))
    assert result.returncode == 0, result.stderr
    (copy,) = backups(folder, "motcua")
    assert copy.name.startswith("motcua-20") and str(copy) in result.stdout
    assert sqlite3.connect(copy).execute("PRAGMA integrity_check").fetchone()[0] == "ok"

    # Changes after the backup must disappear when it is restored.
    http("POST", server.base_url + "/api/tickets", {"service": "CT", "request_id": "after"}, token=KIOSK_TOKEN)
    server.stop()
    config = load_config(server.config_path)
    database = config.resolve(config.server.database)
    shutil.copyfile(copy, database)
    for suffix in ("-wal", "-shm"):
        Path(str(database) + suffix).unlink(missing_ok=True)
    server.start()
    cookie = login(server.base_url, "clerk2")
    after = stable_state(http("GET", server.base_url + "/api/state", cookie=cookie)[1])
    assert after == before


def test_backup_under_write_load_is_consistent(server: ServerProcess, tmp_path: Path) -> None:
    stop = threading.Event()
    issued: list[int] = []

    def kiosk() -> None:
        i = 0
        while not stop.is_set():
            status, _, _ = http(
                "POST", server.base_url + "/api/tickets", {"service": "TKQ", "request_id": f"l{i}"}, token=KIOSK_TOKEN
            )
            issued.append(status)
            i += 1

    t = threading.Thread(target=kiosk)
    t.start()
    try:
        copies = [run_cli(server.config_path, str(tmp_path / "b"), "--keep", "10") for _ in range(3)]
    finally:
        stop.set()
        t.join()
    assert all(r.returncode == 0 for r in copies), [r.stderr for r in copies]
    assert issued and set(issued) == {201}
    for copy in backups(tmp_path / "b", "motcua"):
        conn = sqlite3.connect(copy)
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        # Each command's ticket row and event row commit together: the copy never has one
        # without the other.
        tickets = conn.execute("SELECT count(*) FROM tickets").fetchone()[0]
        events = conn.execute("SELECT count(*) FROM events WHERE kind = 'ticket_issued'").fetchone()[0]
        assert tickets == events


def test_retention_keeps_the_newest_copies(tmp_path: Path) -> None:
    db = tmp_path / "motcua.db"
    Store(db).close()
    folder = tmp_path / "backups"
    (folder).mkdir()
    (folder / "notes.txt").write_text("not a backup")
    start = dt.datetime(2026, 11, 1, 12, 15, tzinfo=HCM)
    made = [backup_database(db, folder, keep=3, now=start + dt.timedelta(days=i)) for i in range(5)]
    assert backups(folder, "motcua") == made[-3:]
    assert (folder / "notes.txt").exists()
    assert made[-1].name == "motcua-2026-11-05_121500.db"


def test_two_backups_in_the_same_second_do_not_overwrite(tmp_path: Path) -> None:
    db = tmp_path / "motcua.db"
    Store(db).close()
    now = dt.datetime(2026, 11, 1, 12, 15, tzinfo=HCM)
    a = backup_database(db, tmp_path / "b", keep=5, now=now)
    b = backup_database(db, tmp_path / "b", keep=5, now=now)
    assert a != b and a.exists() and b.exists()


def test_backup_of_a_missing_database_creates_nothing(tmp_path: Path) -> None:
    with pytest.raises(NotFound):
        backup_database(tmp_path / "nope.db", tmp_path / "b", keep=3)
    assert not (tmp_path / "nope.db").exists()


def test_backup_command_with_a_bad_folder_prints_a_plain_error(server: ServerProcess, tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("x")
    result = run_cli(server.config_path, str(blocker / "sub"))
    assert result.returncode != 0
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize(
    ("now", "expected"),
    [
        ("2026-11-02T12:00:00+07:00", 15 * 60),
        ("2026-11-02T12:15:00+07:00", 24 * 3600),
        ("2026-11-02T13:00:00+07:00", 23 * 3600 + 15 * 60),
        ("2026-11-02T05:00:00+00:00", 15 * 60),  # 12:00 in Hanoi
    ],
)
def test_seconds_until_the_daily_backup(now: str, expected: float) -> None:
    assert seconds_until(dt.datetime.fromisoformat(now), "12:15", HCM) == expected


def test_daily_backup_runs_at_daily_at(tmp_path: Path) -> None:
    config = office_config(tmp_path, backup={"daily_at": "12:15", "dir": str(tmp_path / "daily"), "keep": 2})
    assert config.office.tz == HCM
    # The office clock says 0.2 s before 12:15.
    clock = lambda: dt.datetime(2026, 11, 2, 12, 14, 59, 800_000, tzinfo=HCM)  # noqa: E731
    office = Office(config, Store(tmp_path / "motcua.db"), clock=clock)

    async def scenario() -> list[Path]:
        task = asyncio.create_task(backup_forever(office))
        for _ in range(100):
            await asyncio.sleep(0.05)
            if backups(tmp_path / "daily", "motcua"):
                break
        task.cancel()
        return backups(tmp_path / "daily", "motcua")

    try:
        assert [p.name for p in asyncio.run(scenario())] == ["motcua-2026-11-02_121459.db"]
    finally:
        office.close()
        office.store.close()


def test_no_daily_backup_when_daily_at_is_empty() -> None:
    office = SimpleNamespace(config=SimpleNamespace(backup=SimpleNamespace(daily_at="")))
    asyncio.run(asyncio.wait_for(backup_forever(office), 1))  # type: ignore[arg-type]
