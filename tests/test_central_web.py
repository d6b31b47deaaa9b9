"""The central's web API in-process (queue_server.central.web): sign-in with central accounts
only, every bad request a clear 4xx, the overview and the report endpoints."""

from __future__ import annotations

import datetime as dt
import io
from collections.abc import Iterator
from pathlib import Path

import pytest
import tomlkit
from openpyxl import load_workbook
from starlette.testclient import TestClient

from queue_server.central import accounts
from queue_server.central.config import load_central_config
from queue_server.central.store import CentralStore
from queue_server.central.web import create_central_app
from tests.support import count_scrypt

PASSWORD = "mat-khau-tong-hop-1"
TOKEN = "dong-bo-phuong-a-0123456789"


def page() -> dict:
    ticket = {
        "id": 1, "day": "2026-11-23", "service": "CT", "number": 1001, "label": "1001", "priority": False,
        "state": "done", "issued_at": "2026-11-23T01:00:00+00:00", "called_at": "2026-11-23T01:05:00+00:00",
        "started_at": "2026-11-23T01:05:30+00:00", "finished_at": "2026-11-23T01:10:30+00:00", "counter": 1,
        "staff": "clerk1", "rating": 4, "estimated_wait_s": 240, "transfers": 0, "wait_s": 300, "service_s": 300,
    }  # fmt: skip
    info = {"name": "Phường A", "rating_levels": 4, "services": [{"code": "CT", "name": "Chứng thực"}],
            "counters": [{"number": 1, "name": "Quầy 1"}], "staff": [{"username": "clerk1", "display_name": "Chị B"}]}  # fmt: skip
    return {"site": info, "office_day_tz": "Asia/Ho_Chi_Minh", "after": 0, "next_after": 4, "snapshot_seq": 4,
            "more": False, "tickets": [ticket], "counters": [],
            "events": [{"seq": i, "at": ticket["issued_at"], "day": "2026-11-23", "kind": k, "ticket_id": 1}
                       for i, k in enumerate(("ticket_issued", "ticket_called", "ticket_done", "ticket_rated"), 1)]}  # fmt: skip


@pytest.fixture
def client(tmp_path: Path) -> Iterator[TestClient]:
    path = tmp_path / "central.toml"
    path.write_text(tomlkit.dumps({"central": {"name": "Tỉnh"}, "sites": [{"id": "a", "name": "Phường A",
                                                                              "token": TOKEN}]}), encoding="utf-8")  # fmt: skip
    config = load_central_config(path)
    store = CentralStore(config.resolve(config.central.database))
    accounts.add_user(store, "tonghop", PASSWORD, "Sở Nội vụ")
    store.ingest("a", page(), dt.datetime(2026, 11, 23, 2, 0, tzinfo=dt.UTC))
    store.roll_up()
    store.close()
    with TestClient(create_central_app(config, pull=False)) as c:
        yield c


def sign_in(client: TestClient) -> None:
    r = client.post("/api/login", json={"username": "tonghop", "password": PASSWORD})
    assert r.status_code == 200, r.text


def test_everything_but_the_pages_needs_a_central_session(client: TestClient) -> None:
    for path in ("/api/me", "/api/central/overview", "/api/central/sites/a/monitor",
                 "/api/central/reports?from=23/11/2026&to=23/11/2026", "/api/central/reports/export?from=23/11/2026&to=23/11/2026"):  # fmt: skip
        r = client.get(path)
        assert r.status_code == 401 and r.json()["message"] and r.json()["message_en"], path
    assert client.get("/").status_code == 200


def test_wrong_password_is_401_and_repeated_failures_429(client: TestClient) -> None:
    codes = [client.post("/api/login", json={"username": "tonghop", "password": "sai-mat-khau"}).status_code
             for _ in range(6)]  # fmt: skip
    assert codes[:5] == [401] * 5 and codes[5] == 429


def test_a_missing_or_disabled_account_costs_the_same_scrypt_work(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = CentralStore(tmp_path / "central.db")
    accounts.add_user(store, "tonghop", PASSWORD)
    accounts.add_user(store, "gone", PASSWORD)
    accounts.set_disabled(store, "gone", True)
    calls = count_scrypt(monkeypatch)
    try:
        for username, password in (("tonghop", "sai-mat-khau"), ("nobody-here", "sai-mat-khau"), ("gone", PASSWORD)):
            calls.clear()
            assert accounts.check_password(store, username, password) is None, username
            assert calls == [(2**14, 8, 1)], (username, calls)
        assert accounts.check_password(store, "tonghop", PASSWORD) is not None
    finally:
        store.close()


def test_a_login_without_json_is_refused_before_any_handler(client: TestClient) -> None:
    r = client.post(
        "/api/login", content=b"username=tonghop", headers={"Content-Type": "application/x-www-form-urlencoded"}
    )
    assert r.status_code == 415


@pytest.mark.parametrize(
    ("query", "key"),
    [("from=31/02/2026&to=01/03/2026", "bad_date"), ("from=02/03/2026&to=01/03/2026", "bad_range"),
     ("from=01/01/2020&to=01/01/2026", "bad_range"), ("from=01/03/2026&to=02/03/2026&by=quay", "bad_group"),
     ("from=01/03/2026&to=02/03/2026&site=khong-co", "unknown_site"), ("to=02/03/2026", "bad_range"),
     ("from=01/03/2026&to=02/03/2026&kind=phieu", "bad_kind"),
     ("from=01/03/2026&to=02/03/2026&kind=dossiers&by=hour", "bad_group"),
     ("from=01/03/2026&to=02/03/2026&kind=appointments&site=khong-co", "unknown_site")],
)  # fmt: skip
def test_bad_report_requests_are_400_with_both_languages(client: TestClient, query: str, key: str) -> None:
    sign_in(client)
    r = client.get(f"/api/central/reports?{query}")
    assert r.status_code == 400 and r.json()["error"] == key and r.json()["message_en"]


def test_unknown_site_monitor_is_404_and_bad_export_format_400(client: TestClient) -> None:
    sign_in(client)
    assert client.get("/api/central/sites/khong-co/monitor").status_code == 404
    r = client.get("/api/central/reports/export?from=23/11/2026&to=23/11/2026&format=pdf")
    assert r.status_code == 400 and r.json()["error"] == "bad_format"


def test_overview_monitor_and_reports(client: TestClient) -> None:
    sign_in(client)
    overview = client.get("/api/central/overview").json()
    (row,) = overview["sites"]
    assert row["id"] == "a" and row["served_today"] == 1 and row["satisfied_today"] == 1.0 and row["silent"]
    monitor = client.get("/api/central/sites/a/monitor").json()
    assert monitor["counters"][0]["served_today"] == 1
    report = client.get("/api/central/reports?from=23/11/2026&to=23/11/2026&by=staff").json()
    assert [(r["key"], r["label"], r["served"]) for r in report["rows"]] == [("clerk1", "Chị B", 1)]
    assert report["total"]["waiting"]["median"] == 300.0 and report["total"]["satisfied_share"] == 1.0
    csv = client.get("/api/central/reports/export?from=23/11/2026&to=23/11/2026&by=site&format=csv")
    assert csv.status_code == 200 and csv.content.startswith("\ufeff".encode()) and "Phường A" in csv.text
    xlsx = client.get("/api/central/reports/export?from=23/11/2026&to=23/11/2026&by=site&format=xlsx")
    sheet = load_workbook(io.BytesIO(xlsx.content)).active
    assert sheet["A5"].value == "Phường A" and sheet["B5"].value == 1

    # The other kinds on the same routes (satisfaction from the tickets pulled).
    span = "from=01/11/2026&to=30/11/2026"
    sat = client.get(f"/api/central/reports?kind=satisfaction&{span}&by=staff").json()
    assert [(r["key"], r["label"], r["served"], r["rated"], r["ratings"]) for r in sat["rows"]] == [
        ("clerk1", "Chị B", 1, 1, [0, 0, 0, 1])
    ]
    csv = client.get(f"/api/central/reports/export?kind=satisfaction&{span}&by=site&format=csv")
    assert csv.status_code == 200 and csv.text.splitlines()[1] == "Phường A;1;1;0;0;0;0;1;1;100,0"
    comma = client.get(f"/api/central/reports/export?kind=satisfaction&{span}&by=site&format=csv&dialect=comma")
    assert comma.text.splitlines()[1] == "Phường A,1,1,0,0,0,0,1,1,100.0"
    xlsx = client.get(f"/api/central/reports/export?kind=dossiers&{span}&by=month&format=xlsx")
    book = load_workbook(io.BytesIO(xlsx.content))
    assert book.sheetnames == ["Hồ sơ", "Trễ hạn", "Giải thích"] and book["Hồ sơ"]["A1"].value == "Phường A"
    appointments = client.get(f"/api/central/reports?kind=appointments&{span}").json()
    assert appointments["by"] == "site" and appointments["total"]["booked"] == 0


def test_the_overview_websocket_needs_a_session(client: TestClient) -> None:
    from starlette.websockets import WebSocketDisconnect

    with pytest.raises(WebSocketDisconnect):
        with client.websocket_connect("/ws") as ws:
            ws.receive_text()
    sign_in(client)
    with client.websocket_connect("/ws") as ws:
        first = ws.receive_json()
    assert first["type"] == "overview" and first["sites"][0]["id"] == "a"


def test_report_command_reads_a_central_toml_and_refuses_site_grouping_for_an_office(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from queue_server.cli import main
    from tests.support import write_config

    office = write_config(tmp_path)
    assert main(["--config", str(office), "report", "--from", "23/11/2026", "--to", "23/11/2026", "--by", "site"]) == 2
    assert "central.toml" in capsys.readouterr().err
    central = tmp_path / "central.toml"
    central.write_text(tomlkit.dumps({"sites": [{"id": "a", "name": "A", "token": TOKEN}]}), encoding="utf-8")
    assert main(["--config", str(central), "report", "--from", "23/11/2026", "--to", "23/11/2026"]) == 2
    assert "No database" in capsys.readouterr().err


def test_a_central_report_kind_with_a_wrong_grouping_is_refused_clearly(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from queue_server.cli import main

    central = tmp_path / "central.toml"
    central.write_text(tomlkit.dumps({"sites": [{"id": "a", "name": "A", "token": TOKEN}]}), encoding="utf-8")
    args = ["--config", str(central), "report", "--from", "23/11/2026", "--to", "23/11/2026", "--kind", "dossiers"]
    assert main([*args, "--by", "hour"]) == 2
    assert "Group by must be one of: month, site, service, procedure, staff" in capsys.readouterr().err
    assert main(args) == 2
    assert "No database" in capsys.readouterr().err
