"""Dossiers through the HTTP API (TestClient, a real SQLite file, a hand-driven clock): the
counter records the visit's outcome, citizens look dossiers up, the kiosk gives result-return
tickets only for ready results, staff mark ready and apologise, the province's CSV import."""

from __future__ import annotations

import datetime as dt
import json
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from starlette.testclient import TestClient

from queue_server import auth
from queue_server.app import create_app
from queue_server.store import Store
from tests.dossier_support import CODE, KIOSK, Clock, code, office

PASSWORD = "mat-khau-123"


def _accounts(path: Path) -> None:
    store = Store(path)
    for name, role in [("clerk1", "clerk"), ("clerk2", "clerk"), ("clerk5", "clerk"), ("boss", "admin")]:
        if store.get_user(name) is None:
            auth.add_user(store, name, PASSWORD, role)
    store.close()


def make_client(tmp_path: Path, clock: Clock, **dossiers: Any) -> TestClient:
    db = tmp_path / "motcua.db"
    _accounts(db)
    return TestClient(create_app(office(tmp_path, **dossiers), database=db, clock=clock, printing=False))


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def client(tmp_path: Path, clock: Clock) -> Iterator[TestClient]:
    with make_client(tmp_path, clock) as c:
        yield c


def sign_in(client: TestClient, user: str, counter: int | None = None) -> None:
    r = client.post("/api/login", json={"username": user, "password": PASSWORD, "counter": counter})
    assert r.status_code == 200, r.text


def serve_one(client: TestClient, counter: int = 1, service: str = "CT") -> dict[str, Any]:
    r = client.post("/api/tickets", json={"service": service}, headers=KIOSK)
    assert r.status_code == 201, r.text
    r = client.post(f"/api/counters/{counter}/next", json={})
    assert r.status_code == 200, r.text
    assert r.json()["ticket"]["id"] == r.json()["counter"]["ticket_id"]
    return r.json()["ticket"]


# What anyone with a code or a ticket sees of a dossier: never a name (the officer, counter,
# tickets and the apology's reason are staff-only).
PUBLIC_KEYS = {
    "code",
    "procedure",
    "procedure_name",
    "procedure_name_en",
    "service",
    "service_name",
    "service_name_en",
    "received_on",
    "due_date",
    "new_due_date",
    "ready_on",
    "returned_on",
    "status",
    "status_text",
    "status_text_en",
    "late",
}


def record(client: TestClient, counter: int = 1, **body: Any) -> Any:
    return client.post(f"/api/counters/{counter}/dossiers", json=body)


def rows(tmp_path: Path, sql: str) -> list[tuple[Any, ...]]:
    conn = sqlite3.connect(tmp_path / "motcua.db")
    try:
        return conn.execute(sql).fetchall()
    finally:
        conn.close()


# ---------------------------------------------------------------------- procedures


def test_procedures_of_a_service_are_public_with_days_and_papers(client: TestClient):
    r = client.get("/api/procedures", params={"service": "CT"})
    assert r.status_code == 200
    assert [(p["code"], p["days"]) for p in r.json()["procedures"]] == [("CT01", 0), ("CT03", 2)]
    assert r.json()["procedures"][0]["papers"] == ["Bản chính"]
    assert client.get("/api/procedures", params={"service": "XX"}).status_code == 404


# ---------------------------------------------------------------------- at the counter


def test_a_received_dossier_is_due_after_the_procedures_working_days_skipping_the_weekend(client: TestClient):
    sign_in(client, "clerk1", 1)
    ticket = serve_one(client)
    r = record(client, code=CODE, procedure="CT03")  # Thursday + 2 working days
    assert r.status_code == 201, r.text
    assert r.json()["dossier"]["due_date"] == "2026-12-07"  # Monday
    assert r.json()["dossier"]["ticket_id"] == ticket["id"]
    public = client.get(f"/api/dossiers/{CODE}").json()
    assert {k: public[k] for k in ("code", "procedure", "service", "received_on", "due_date", "status")} == {
        "code": CODE,
        "procedure": "CT03",
        "service": "CT",
        "received_on": "2026-12-03",
        "due_date": "2026-12-07",
        "status": "received",
    }
    assert public["status_text"] == "Đang giải quyết"
    assert "staff" not in public and "ticket_id" not in public  # no names, no visit


def test_the_due_date_can_be_edited_and_a_lower_case_scan_is_the_same_code(client: TestClient):
    sign_in(client, "clerk1", 1)
    serve_one(client)
    r = record(client, code=" " + CODE.lower() + " ", procedure="CT01", due_date="10/12/2026")
    assert r.status_code == 201, r.text
    assert r.json()["dossier"]["code"] == CODE
    assert r.json()["dossier"]["due_date"] == "2026-12-10"


def test_a_code_that_does_not_fit_the_pattern_is_400_and_records_nothing(client: TestClient, tmp_path: Path):
    sign_in(client, "clerk1", 1)
    serve_one(client)
    for bad in ("000.00.21.H40-261203-001", "hello", "", 12):
        r = record(client, code=bad, procedure="CT01")
        assert r.status_code == 400, r.text
        assert r.json()["error"] == "bad_dossier_code"
        assert r.json()["message"] and r.json()["message_en"]
    assert client.get("/api/dossiers/hello").json()["error"] == "bad_dossier_code"
    assert rows(tmp_path, "SELECT count(*) FROM dossiers") == [(0,)]
    assert rows(tmp_path, "SELECT count(*) FROM dossier_log") == [(0,)]


def test_a_code_already_open_is_409_unless_the_result_is_returned(client: TestClient):
    sign_in(client, "clerk1", 1)
    serve_one(client)
    assert record(client, code=CODE, procedure="CT01").status_code == 201
    r = record(client, code=CODE, procedure="CT01")
    assert r.status_code == 409 and r.json()["error"] == "dossier_exists"
    r = record(client, code=CODE, outcome="returned")
    assert r.status_code == 201, r.text
    assert client.get(f"/api/dossiers/{CODE}").json()["status"] == "returned"


def test_a_result_returned_before_7_local_is_returned_on_the_local_day(tmp_path: Path):
    # 06:30 in Hanoi is 23:30 UTC of the day before (the server's clock is in UTC): the dates
    # shown are the office's own.
    clock = Clock(dt.datetime(2026, 12, 3, 23, 30, tzinfo=dt.UTC))
    with make_client(tmp_path, clock) as client:
        sign_in(client, "clerk1", 1)
        serve_one(client)
        assert record(client, code=CODE, outcome="returned").status_code == 201
        d = client.get(f"/api/dossiers/{CODE}").json()
        assert (d["ready_on"], d["returned_on"]) == ("2026-12-04", "2026-12-04")


def test_outcomes_need_a_held_ticket_and_the_clerk_of_that_counter(client: TestClient):
    sign_in(client, "clerk1", 1)
    r = record(client, code=CODE, procedure="CT01")
    assert r.status_code == 409 and r.json()["error"] == "no_ticket"
    serve_one(client)
    r = record(client, 2, code=CODE, procedure="CT01")
    assert r.status_code == 403
    r = record(client, outcome="fax")
    assert r.status_code == 400 and r.json()["error"] == "bad_outcome"
    r = record(client, code=CODE, procedure="NOPE")
    assert r.status_code == 400 and r.json()["error"] == "bad_procedure"


def test_guidance_and_papers_are_outcomes_of_the_visit(client: TestClient, clock: Clock):
    sign_in(client, "clerk1", 1)
    ticket = serve_one(client)
    assert record(client, outcome="guidance").status_code == 201
    r = record(client, outcome="papers", code=CODE, procedure="DD01")
    assert r.status_code == 201
    assert r.json()["dossier"]["status"] == "papers"
    view = client.get("/api/counters/1/dossiers").json()
    assert [o["action"] for o in view["outcomes"]] == ["guidance", "papers"]
    assert view["ticket"]["id"] == ticket["id"]
    # The citizen comes back with the papers: received again, counted from that day.
    client.post("/api/counters/1/done", json={})
    clock.to_day(dt.date(2026, 12, 7))  # the next Monday
    serve_one(client)
    r = record(client, code=CODE, procedure="DD01")
    assert r.status_code == 201, r.text
    d = r.json()["dossier"]
    assert (d["status"], d["received_on"], d["due_date"]) == ("received", "2026-12-07", "2026-12-21")


def test_with_require_outcome_a_ticket_is_finished_only_after_its_outcome(tmp_path: Path, clock: Clock):
    with make_client(tmp_path, clock, require_outcome=True) as client:
        sign_in(client, "clerk1", 1)
        serve_one(client)
        client.post("/api/tickets", json={"service": "CT"}, headers=KIOSK)
        for action in ("done", "next"):
            r = client.post(f"/api/counters/1/{action}", json={})
            assert r.status_code == 409 and r.json()["error"] == "outcome_required", r.text
        assert record(client, outcome="guidance").status_code == 201
        assert client.post("/api/counters/1/done", json={}).status_code == 200


def test_next_on_a_citizen_who_never_came_needs_no_outcome_when_that_counts_as_absent(tmp_path: Path, clock: Clock):
    from queue_server.config import parse_config
    from tests.dossier_support import office_data

    data = office_data(require_outcome=True)
    data["queue"] = {"closed_without_start": "absent"}  # Next on a called, never started ticket: no-show
    _accounts(tmp_path / "motcua.db")
    app = create_app(
        parse_config(data, tmp_path / "config.toml"), database=tmp_path / "motcua.db", clock=clock, printing=False
    )
    with TestClient(app) as client:
        sign_in(client, "clerk1", 1)
        absent = client.post("/api/tickets", json={"service": "CT"}, headers=KIOSK).json()
        client.post("/api/tickets", json={"service": "CT"}, headers=KIOSK)
        assert client.post("/api/counters/1/next", json={}).json()["ticket"]["id"] == absent["id"]
        assert client.post("/api/counters/1/done", json={}).json()["error"] == "outcome_required"
        r = client.post("/api/counters/1/next", json={})
        assert r.status_code == 200, r.text
        assert client.get(f"/api/tickets/{absent['token']}").json()["state"] == "no_show"
        # The citizen called next who is served still needs an outcome.
        assert client.post("/api/counters/1/start", json={}).status_code == 200
        assert client.post("/api/counters/1/next", json={}).json()["error"] == "outcome_required"


def test_require_outcome_is_off_by_default(client: TestClient):
    sign_in(client, "clerk1", 1)
    serve_one(client)
    assert client.post("/api/counters/1/done", json={}).status_code == 200


# ---------------------------------------------------------------------- ready, kiosk, returned


def test_kiosk_result_path_refuses_until_ready_then_gives_one_ticket_that_returns_the_dossier(client: TestClient):
    sign_in(client, "clerk1", 1)
    serve_one(client)
    record(client, code=CODE, procedure="DD01")
    r = client.post(f"/api/dossiers/{CODE}/check-in", json={}, headers=KIOSK)
    assert r.status_code == 409
    assert r.json()["error"] == "not_ready" and r.json()["due_date"] == "2026-12-17"
    assert "17/12/2026" in r.json()["message"]
    # The OpenAPI document declares that answer, its dates included.
    doc = client.get("/api/openapi.json").json()
    declared = doc["paths"]["/api/dossiers/{code}/check-in"]["post"]["responses"]["409"]
    fields = {
        field
        for part in declared["content"]["application/json"]["schema"]["allOf"]
        for field in doc["components"]["schemas"][part["$ref"].rsplit("/", 1)[1]]["properties"]
    }
    assert {"due_date", "new_due_date", "status"} <= set(fields) and set(r.json()) <= set(fields)
    assert client.post(f"/api/dossiers/{CODE}/check-in", json={}).status_code == 401
    assert client.post(f"/api/dossiers/{CODE}/ready", json={}).json()["dossier"]["status"] == "ready"
    assert client.get(f"/api/dossiers/{CODE}").json()["status_text"] == "Đã có kết quả – mời đến nhận"
    first = client.post(f"/api/dossiers/{CODE}/check-in", json={}, headers=KIOSK)
    assert first.status_code == 201, first.text
    assert first.json()["service"] == "TKQ"
    again = client.post(f"/api/dossiers/{CODE}/check-in", json={}, headers=KIOSK)
    assert again.status_code == 200 and again.json()["id"] == first.json()["id"]
    client.post("/api/logout", json={})
    sign_in(client, "clerk5", 5)
    r = client.post("/api/counters/5/next", json={})
    assert r.json()["ticket"]["id"] == first.json()["id"]
    assert client.get("/api/counters/5/dossiers").json()["dossiers"][0]["code"] == CODE
    assert client.post("/api/counters/5/done", json={}).status_code == 200
    d = client.get(f"/api/dossiers/{CODE}").json()
    assert d["status"] == "returned" and d["status_text"] == "Đã trả" and d["returned_on"] == "2026-12-03"
    r = client.post(f"/api/dossiers/{CODE}/check-in", json={}, headers=KIOSK)
    assert r.status_code == 409 and r.json()["error"] == "already_returned"


def test_the_kiosk_asks_for_the_papers_of_a_dossier_waiting_for_them(client: TestClient):
    sign_in(client, "clerk1", 1)
    serve_one(client)
    record(client, outcome="papers", code=CODE, procedure="DD01")
    r = client.post(f"/api/dossiers/{CODE}/check-in", json={}, headers=KIOSK)
    assert r.status_code == 409 and (r.json()["error"], r.json()["status"]) == ("not_ready", "papers")
    assert "bổ sung giấy tờ" in r.json()["message"] and "papers" in r.json()["message_en"]
    assert "Ngày hẹn" not in r.json()["message"]  # no date to come back on: the citizen has the dossier


def test_unknown_dossiers_are_404_at_the_kiosk_and_the_lookup(client: TestClient):
    assert client.get(f"/api/dossiers/{CODE}").status_code == 404
    assert client.post(f"/api/dossiers/{CODE}/check-in", json={}, headers=KIOSK).status_code == 404


def test_ready_in_bulk_is_for_staff_and_leaves_ready_ones_alone(client: TestClient):
    sign_in(client, "clerk1", 1)
    serve_one(client)
    for i in (1, 2, 3):
        record(client, code=code(i), procedure="CT03")
    client.post("/api/counters/1/done", json={})
    assert client.post("/api/logout", json={}).status_code == 200
    assert client.post("/api/dossiers/ready", json={"codes": [code(1)]}).status_code == 401
    sign_in(client, "boss")
    r = client.post("/api/dossiers/ready", json={"codes": [code(1), code(2)]})
    assert r.status_code == 200 and r.json()["changed"] == 2
    r = client.post("/api/dossiers/ready", json={"codes": [code(2), code(3)]})
    assert r.json()["changed"] == 1
    r = client.post("/api/dossiers/ready", json={"codes": [code(3), code(9)]})
    assert r.status_code == 404  # one unknown code: nothing is marked
    assert client.post("/api/dossiers/ready", json={"codes": []}).status_code == 400


def test_an_extended_dossier_shows_the_new_date_and_prints_an_apology(client: TestClient, clock: Clock):
    sign_in(client, "clerk1", 1)
    serve_one(client)
    record(client, code=CODE, procedure="CT03")
    r = client.post(f"/api/dossiers/{CODE}/extend", json={"due_date": "05/12/2026", "reason": "liên thông"})
    assert r.status_code == 400 and r.json()["error"] == "bad_due_date"  # before the original date
    r = client.post(f"/api/dossiers/{CODE}/extend", json={"due_date": "2026-12-10"})
    assert r.status_code == 400
    r = client.post(f"/api/dossiers/{CODE}/extend", json={"due_date": "10/12/2026", "reason": "liên thông"})
    assert r.status_code == 200, r.text
    d = client.get(f"/api/dossiers/{CODE}").json()
    assert d["status_text"] == "Trễ hẹn – hẹn lại ngày 10/12/2026"
    assert d["due_date"] == "2026-12-07" and d["new_due_date"] == "2026-12-10" and d["late"] is True
    assert set(d) == PUBLIC_KEYS  # the kiosk's lookup: no officer, and not the reason either
    page = client.get(r.json()["apology_url"])
    assert page.status_code == 200 and "text/html" in page.headers["content-type"]
    assert "10/12/2026" in page.text and "liên thông" in page.text and CODE in page.text
    assert "<script>" not in page.text and "style=" not in page.text


def test_withdrawn_dossiers_cannot_be_made_ready(client: TestClient):
    sign_in(client, "clerk1", 1)
    serve_one(client)
    record(client, code=CODE, procedure="CT03")
    assert client.post(f"/api/dossiers/{CODE}/withdraw", json={}).status_code == 200
    r = client.post(f"/api/dossiers/{CODE}/ready", json={})
    assert r.status_code == 409


# ---------------------------------------------------------------------- the phone page and alerts


def test_the_phone_page_lists_the_visits_dossiers_with_their_status(client: TestClient):
    r = client.post("/api/tickets", json={"service": "CT"}, headers=KIOSK)
    token = r.json()["token"]
    sign_in(client, "clerk1", 1)
    client.post("/api/counters/1/next", json={})
    record(client, code=code(1), procedure="CT03")
    record(client, code=code(2), procedure="CT01")
    client.post(f"/api/dossiers/{code(2)}/ready", json={})
    record(client, code=code(3), procedure="CT01")
    assert record(client, outcome="returned", code=code(3)).status_code == 201
    record(client, code=code(4), procedure="CT03")
    client.post(f"/api/dossiers/{code(4)}/extend", json={"due_date": "09/12/2026", "reason": "liên thông"})
    client.post("/api/logout", json={})
    listed = client.get(f"/api/tickets/{token}/dossiers").json()["dossiers"]
    # The four statuses of the issue, in the citizen's words, with the due date of each.
    assert [(d["code"], d["status_text"], d["due_date"]) for d in listed] == [
        (code(1), "Đang giải quyết", "2026-12-07"),
        (code(2), "Đã có kết quả – mời đến nhận", "2026-12-03"),
        (code(3), "Đã trả", "2026-12-03"),
        (code(4), "Trễ hẹn – hẹn lại ngày 09/12/2026", "2026-12-07"),
    ]
    assert all(set(d) == PUBLIC_KEYS for d in listed)  # no officer, counter or ticket
    assert client.get("/api/tickets/nonexistent-token/dossiers").status_code == 404


def test_alerts_list_due_today_overdue_and_due_within_two_working_days(client: TestClient, clock: Clock):
    sign_in(client, "clerk1", 1)
    serve_one(client)
    record(client, code=code(1), procedure="CT01")  # due today (Thu 3)
    record(client, code=code(2), procedure="CT03")  # due Mon 7
    record(client, code=code(3), procedure="DD01")  # due 17
    a = client.get("/api/dossiers/alerts").json()
    assert ([d["code"] for d in a["due_today"]], [d["code"] for d in a["due_soon"]], a["overdue"]) == (
        [code(1)],
        [code(2)],
        [],
    )
    clock.to_day(dt.date(2026, 12, 4))
    a = client.get("/api/dossiers/alerts").json()
    assert [d["code"] for d in a["overdue"]] == [code(1)]
    assert [d["code"] for d in a["due_soon"]] == [code(2)]


# ---------------------------------------------------------------------- the province's CSV

CSV = (
    "Mã hồ sơ;Trạng thái;Ngày hoàn thành\n"
    f"{code(1)};Đã có kết quả;04/12/2026 16:30\n"
    f"{code(2)};Đang giải quyết;\n"
    f"{code(3)};Đã trả kết quả;2026-12-04\n"
    f"{code(9)};Đã có kết quả;04/12/2026\n"
)


def test_the_import_applied_twice_changes_nothing_the_second_time(client: TestClient, tmp_path: Path, clock: Clock):
    sign_in(client, "clerk1", 1)
    serve_one(client)
    for i in (1, 2, 3):
        record(client, code=code(i), procedure="CT03")
    client.post("/api/logout", json={})
    clock.to_day(dt.date(2026, 12, 4), hour=17)  # the export of the next evening
    sign_in(client, "boss")
    before_first = rows(tmp_path, "SELECT * FROM dossiers ORDER BY code")
    r = client.post("/api/dossiers/import", content=CSV.encode(), headers={"Content-Type": "text/csv"})
    assert r.status_code == 200, r.text
    assert [(c["code"], c["from"], c["to"], c["ready_on"]) for c in r.json()["changed"]] == [
        (code(1), "received", "ready", "2026-12-04"),
        (code(3), "received", "returned", "2026-12-04"),
    ]
    assert r.json()["unknown"] == [code(9)] and r.json()["unchanged"] == 1
    after_first = rows(tmp_path, "SELECT * FROM dossiers ORDER BY code")
    assert after_first != before_first
    again = client.post("/api/dossiers/import", content=CSV.encode(), headers={"Content-Type": "text/csv"})
    assert again.json()["changed"] == [] and again.json()["unchanged"] == 3
    assert rows(tmp_path, "SELECT * FROM dossiers ORDER BY code") == after_first
    audit = client.get("/api/admin/audit").json()["audit"]
    imports = [a for a in audit if a["action"] == "dossiers_import"]
    assert [len(a["details"]["changed"]) for a in imports] == [0, 2]  # newest first
    assert imports[1]["details"]["changed"][0]["code"] == code(1)


def test_a_bad_import_row_is_refused_whole_and_only_admins_import(client: TestClient, tmp_path: Path, clock: Clock):
    sign_in(client, "clerk1", 1)
    serve_one(client)
    record(client, code=code(1), procedure="CT03")
    clock.to_day(dt.date(2026, 12, 4), hour=17)  # the export of the next evening
    r = client.post("/api/dossiers/import", content=CSV.encode(), headers={"Content-Type": "text/csv"})
    assert r.status_code == 403
    client.post("/api/logout", json={})
    sign_in(client, "boss")
    bad = CSV + f"{code(1)};Đã có kết quả;31/02/2026\n"
    r = client.post("/api/dossiers/import", content=bad.encode(), headers={"Content-Type": "text/csv"})
    assert r.status_code == 400 and r.json()["error"] == "bad_import" and "6" in r.json()["message"]
    assert client.get(f"/api/dossiers/{code(1)}").json()["status"] == "received"
    # One code listed twice with different dates: applied twice it would change both times.
    twice = CSV + f"{code(1)};Đã có kết quả;03/12/2026\n"
    r = client.post("/api/dossiers/import", content=twice.encode(), headers={"Content-Type": "text/csv"})
    assert r.status_code == 400 and r.json()["error"] == "bad_import" and r.json()["details"]["line"] == 6
    assert "line 2" in r.json()["message_en"]
    assert client.get(f"/api/dossiers/{code(1)}").json()["status"] == "received"
    future = f"Mã hồ sơ;Trạng thái;Ngày hoàn thành\n{code(1)};Đã có kết quả;05/12/2026\n"  # tomorrow
    r = client.post("/api/dossiers/import", content=future.encode(), headers={"Content-Type": "text/csv"})
    assert r.status_code == 400 and r.json()["details"]["line"] == 2 and "after today" in r.json()["message_en"]
    assert client.get(f"/api/dossiers/{code(1)}").json()["status"] == "received"
    same = CSV + f"{code(1)};Đã có kết quả;04/12/2026\n"  # the same row again is harmless
    r = client.post("/api/dossiers/import", content=same.encode(), headers={"Content-Type": "text/csv"})
    assert r.status_code == 200 and [c["code"] for c in r.json()["changed"]] == [code(1)]
    assert (
        client.post("/api/dossiers/import", content=same.encode(), headers={"Content-Type": "text/csv"}).json()[
            "changed"
        ]
        == []
    )
    assert (
        client.post("/api/dossiers/import", content=b"a,b\n1,2\n", headers={"Content-Type": "text/csv"}).status_code
        == 400
    )
    assert (
        client.post("/api/dossiers/import", content=b"\xff\xfe", headers={"Content-Type": "text/csv"}).status_code
        == 400
    )


# ---------------------------------------------------------------------- live events and restarts


def test_staff_hear_dossier_events_and_public_screens_do_not(client: TestClient):
    sign_in(client, "clerk1", 1)
    serve_one(client)
    with client.websocket_connect("/ws") as staff:
        assert json.loads(staff.receive_text())["type"] == "snapshot"
        record(client, code=code(1), procedure="CT03")
        msg = json.loads(staff.receive_text())
        assert msg["type"] == "dossier_received" and msg["dossier"]["code"] == code(1)
        client.post(f"/api/dossiers/{code(1)}/extend", json={"due_date": "2026-12-09", "reason": "liên thông"})
        assert json.loads(staff.receive_text())["type"] == "dossier_extended"
        client.post(f"/api/dossiers/{code(1)}/ready", json={})
        assert json.loads(staff.receive_text())["type"] == "dossier_ready"
    record(client, code=code(2), procedure="CT03")
    client.cookies.clear()
    with client.websocket_connect("/ws") as public:
        assert json.loads(public.receive_text())["type"] == "snapshot"
        sign_in(client, "boss")
        client.post(f"/api/dossiers/{code(2)}/ready", json={})
        # The public stream's next message is the next queue event, not the dossier's.
        client.post("/api/tickets", json={"service": "CT"}, headers=KIOSK)
        msg = json.loads(public.receive_text())
        assert msg["type"] == "events" and [e["kind"] for e in msg["events"]] == ["ticket_issued"]


def test_dossiers_survive_a_restart_exactly(tmp_path: Path, clock: Clock):
    with make_client(tmp_path, clock) as client:
        sign_in(client, "clerk1", 1)
        serve_one(client)
        for i, proc in ((1, "CT01"), (2, "CT03"), (3, "DD01")):
            record(client, code=code(i), procedure=proc)
        client.post(f"/api/dossiers/{code(1)}/ready", json={})
        client.post(f"/api/dossiers/{code(2)}/extend", json={"due_date": "2026-12-09", "reason": "bổ sung hồ sơ"})
        before = [client.get(f"/api/dossiers/{code(i)}").json() for i in (1, 2, 3)]
        alerts = client.get("/api/dossiers/alerts").json()
        visit = client.get("/api/counters/1/dossiers").json()
    with make_client(tmp_path, clock) as client:
        assert [client.get(f"/api/dossiers/{code(i)}").json() for i in (1, 2, 3)] == before
        sign_in(client, "clerk1", 1)
        assert client.get("/api/dossiers/alerts").json() == alerts
        assert client.get("/api/counters/1/dossiers").json() == visit


def test_due_dates_skip_the_offices_closed_days_and_weekends(tmp_path: Path, clock: Clock):
    from queue_server.app import create_app
    from queue_server.config import parse_config
    from tests.dossier_support import office_data

    data = office_data()
    data["office"]["closed_days"] = ["2026-12-04", "2026-12-08"]  # Friday 4 and Tuesday 8 closed
    _accounts(tmp_path / "motcua.db")
    app = create_app(
        parse_config(data, tmp_path / "config.toml"), database=tmp_path / "motcua.db", clock=clock, printing=False
    )
    with TestClient(app) as client:
        sign_in(client, "clerk1", 1)
        serve_one(client)
        r = record(client, code=code(1), procedure="CT03")  # Thu 3 + 2: (Fri 4 closed, weekend) Mon 7, (Tue 8) Wed 9
        assert r.json()["dossier"]["due_date"] == "2026-12-09"
        r = record(client, code=code(2), procedure="DD01")  # 10 working days from Thu 3 with 2 closed days
        assert r.json()["dossier"]["due_date"] == "2026-12-21"
        due_dates = client.get("/api/counters/1/dossiers").json()["due_dates"]
        assert due_dates == {"CT01": "2026-12-03", "CT03": "2026-12-09"}


def test_the_admin_monitor_carries_the_dossier_alerts(client: TestClient, clock: Clock):
    sign_in(client, "clerk1", 1)
    serve_one(client)
    record(client, code=code(1), procedure="CT01")
    record(client, code=code(2), procedure="CT03")
    sign_in(client, "boss")
    clock.to_day(dt.date(2026, 12, 4))
    alerts = client.get("/api/admin/monitor").json()["dossier_alerts"]
    assert [d["code"] for d in alerts["overdue"]] == [code(1)]
    assert [d["code"] for d in alerts["due_soon"]] == [code(2)] and alerts["due_today"] == []


def test_a_done_result_return_ticket_tells_staff_the_dossier_was_returned(client: TestClient):
    sign_in(client, "clerk1", 1)
    serve_one(client)
    record(client, code=CODE, procedure="CT01")
    client.post(f"/api/dossiers/{CODE}/ready", json={})
    client.post("/api/counters/1/done", json={})
    ticket = client.post(f"/api/dossiers/{CODE}/check-in", json={}, headers=KIOSK).json()
    sign_in(client, "clerk5", 5)
    assert client.post("/api/counters/5/next", json={}).json()["ticket"]["id"] == ticket["id"]
    with client.websocket_connect("/ws") as staff:
        assert json.loads(staff.receive_text())["type"] == "snapshot"
        client.post("/api/counters/5/done", json={})
        kinds = []
        while "dossier_returned" not in kinds:
            msg = json.loads(staff.receive_text())
            kinds.append(msg["type"])
            if msg["type"] == "dossier_returned":
                assert msg["dossier"]["code"] == CODE and msg["dossier"]["status"] == "returned"
        assert kinds == ["events", "dossier_returned"]  # after the commit of ticket_done


def test_procedures_come_from_a_csv_file_too_and_a_bad_line_is_named(tmp_path: Path, clock: Clock):
    from queue_server.app import create_app
    from queue_server.config import parse_config
    from queue_server.errors import ConfigError
    from tests.dossier_support import office_data

    (tmp_path / "thu-tuc.csv").write_text(
        "\ufeffservice;code;name;days;papers\n"
        "DD;DD07;Cấp đổi giấy chứng nhận quyền sử dụng đất;7;Đơn đề nghị; Giấy chứng nhận cũ\n",
        encoding="utf-8",
    )
    data = office_data(procedures_csv="thu-tuc.csv")
    _accounts(tmp_path / "motcua.db")
    app = create_app(
        parse_config(data, tmp_path / "config.toml"), database=tmp_path / "motcua.db", clock=clock, printing=False
    )
    with TestClient(app) as client:
        listed = client.get("/api/procedures", params={"service": "DD"}).json()["procedures"]
        assert [(p["code"], p["days"], p["papers"]) for p in listed] == [
            ("DD01", 10, ["Đơn", "Giấy chứng nhận"]),
            ("DD07", 7, ["Đơn đề nghị", "Giấy chứng nhận cũ"]),
        ]
        sign_in(client, "clerk1", 1)
        serve_one(client)
        r = record(client, code=code(1), procedure="DD07")
        assert r.status_code == 201 and r.json()["dossier"]["due_date"] == "2026-12-14"  # Thu 3 + 7 working days
    (tmp_path / "thu-tuc.csv").write_text("service,code,name,days\nDD,DD08,Thủ tục,bảy\n", encoding="utf-8")
    with pytest.raises(ConfigError) as refused:
        parse_config(data, tmp_path / "config.toml")
    assert "thu-tuc.csv:2" in refused.value.message_en
    for days in ("-1", "2001"):  # a whole number out of range is named by its line too
        (tmp_path / "thu-tuc.csv").write_text(f"service,code,name,days\nDD,DD08,Thủ tục,{days}\n", encoding="utf-8")
        with pytest.raises(ConfigError) as refused:
            parse_config(data, tmp_path / "config.toml")
        assert "thu-tuc.csv:2" in refused.value.message_en and "0 to 2000" in refused.value.message_en
    (tmp_path / "thu-tuc.csv").write_text("service,code,name,days\nDD,DD01,Trùng mã,3\n", encoding="utf-8")
    with pytest.raises(ConfigError) as refused:
        parse_config(data, tmp_path / "config.toml")
    assert "duplicates" in refused.value.message_en
