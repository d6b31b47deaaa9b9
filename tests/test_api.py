"""The HTTP API and the WebSocket stream through Starlette's TestClient, on a real SQLite
file and a hand-driven clock."""

from __future__ import annotations

import datetime as dt
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from starlette.testclient import TestClient

from queue_server import auth
from queue_server.app import create_app
from queue_server.store import Store
from tests.support import JSON_HEADERS, KIOSK_TOKEN, PASSWORD, office_config

VN = dt.timezone(dt.timedelta(hours=7))
KIOSK = {"Authorization": f"Bearer {KIOSK_TOKEN}"}


class Clock:
    def __init__(self) -> None:
        self.now = dt.datetime(2026, 11, 30, 8, 0, tzinfo=VN)

    def __call__(self) -> dt.datetime:
        self.now += dt.timedelta(seconds=1)
        return self.now


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    path = tmp_path / "motcua.db"
    store = Store(path)
    for name, role in [("clerk1", "clerk"), ("clerk2", "clerk"), ("boss", "admin"), ("gone", "clerk")]:
        auth.add_user(store, name, PASSWORD, role)
    auth.set_disabled(store, "gone", True)
    store.close()
    return path


@pytest.fixture
def client(tmp_path: Path, db_path: Path) -> Iterator[TestClient]:
    config = office_config(tmp_path)
    app = create_app(config, database=db_path, clock=Clock(), printing=False)
    with TestClient(app, headers=JSON_HEADERS) as c:
        yield c


def sign_in(client: TestClient, user: str, counter: int | None = None) -> TestClient:
    r = client.post("/api/login", json={"username": user, "password": PASSWORD, "counter": counter})
    assert r.status_code == 200, r.text
    return client


def issue(client: TestClient, service: str = "CT", **body: Any) -> dict[str, Any]:
    r = client.post("/api/tickets", json={"service": service, **body}, headers=KIOSK)
    assert r.status_code in (200, 201), r.text
    return r.json()


def event_count(db_path: Path) -> int:
    with sqlite3.connect(db_path) as conn:
        return conn.execute("SELECT count(*) FROM events").fetchone()[0]


# ------------------------------------------------------------------ kiosk


def test_issue_ticket_answers_number_people_ahead_wait_and_a_long_random_token(client: TestClient):
    first = issue(client)
    second = issue(client)
    assert (first["label"], second["label"]) == ("1001", "1002")
    assert second["people_ahead"] == 1 and second["estimated_wait_s"] == 150  # 5 min / 2 counters
    assert len(second["token"]) >= 16 and second["token"] != first["token"]
    assert second["status_url"].endswith("/t/" + second["token"])


def test_same_request_id_returns_the_same_ticket_with_200(client: TestClient, db_path: Path):
    r1 = client.post("/api/tickets", json={"service": "CT", "request_id": "tap-7"}, headers=KIOSK)
    r2 = client.post("/api/tickets", json={"service": "CT", "request_id": "tap-7"}, headers=KIOSK)
    assert (r1.status_code, r2.status_code) == (201, 200)
    assert r1.json()["id"] == r2.json()["id"]
    assert event_count(db_path) == 1


def test_issue_without_device_token_is_401_and_writes_nothing(client: TestClient, db_path: Path):
    r = client.post("/api/tickets", json={"service": "CT"})
    assert r.status_code == 401
    body = r.json()
    assert body["error"] == "device_token_required" and body["message"] and body["message_en"]
    assert (
        client.post(
            "/api/tickets", json={"service": "CT"}, headers={"Authorization": "Bearer wrong-token-123"}
        ).status_code
        == 401
    )
    assert event_count(db_path) == 0


@pytest.mark.parametrize(
    "body,status,key",
    [
        ({"service": "XX"}, 404, "service_not_found"),
        ({}, 400, "bad_field"),
        ({"service": 12}, 400, "bad_field"),
        ({"service": "CT", "priority": "yes"}, 400, "bad_field"),
        ({"service": "CT", "request_id": "x" * 65}, 400, "bad_field"),
    ],
)
def test_bad_ticket_requests_get_a_clear_4xx_and_change_nothing(
    client: TestClient, db_path: Path, body: dict[str, Any], status: int, key: str
):
    r = client.post("/api/tickets", json=body, headers=KIOSK)
    assert r.status_code == status and r.json()["error"] == key
    assert event_count(db_path) == 0


def test_malformed_json_and_non_object_bodies_are_400(client: TestClient):
    r = client.post("/api/tickets", content=b"{not json", headers={**KIOSK, "Content-Type": "application/json"})
    assert r.status_code == 400 and r.json()["error"] == "bad_json"
    r = client.post("/api/tickets", json=[1, 2], headers=KIOSK)
    assert r.status_code == 400


def test_oversized_body_is_413(client: TestClient):
    r = client.post("/api/tickets", content=b'{"service": "' + b"C" * 300_000 + b'"}', headers=KIOSK)
    assert r.status_code == 413 and r.json()["error"] == "payload_too_large"


def test_ticket_status_is_public_and_hides_the_token_and_staff(client: TestClient):
    t = issue(client)
    r = client.get(f"/api/tickets/{t['token']}")
    assert r.status_code == 200
    status = r.json()
    assert status["label"] == "1001" and status["state"] == "waiting"
    assert "token" not in status and "staff" not in status
    assert client.get("/api/tickets/not-a-real-token-123").status_code == 404


# ------------------------------------------------------------------ counters


def test_clerk_signs_on_calls_and_finishes(client: TestClient):
    t = issue(client)
    sign_in(client, "clerk1", counter=1)
    r = client.post("/api/counters/1/next", json={"current": None})
    assert r.status_code == 200 and r.json()["ticket"]["label"] == t["label"]
    assert client.get(f"/api/tickets/{t['token']}").json()["state"] == "called"
    r = client.post("/api/counters/1/done")
    assert r.status_code == 200 and r.json()["ticket"] is None


def test_counter_actions_without_a_session_are_401(client: TestClient):
    for action in ("next", "recall", "done", "pause", "resume", "transfer", "call", "no-show", "open", "close"):
        r = client.post(f"/api/counters/1/{action}", json={})
        assert r.status_code == 401, action


def test_clerk_cannot_act_for_another_counter(client: TestClient):
    sign_in(client, "clerk2", counter=2)
    r = client.post("/api/counters/3/next", json={})
    assert r.status_code == 403 and r.json()["error"] == "wrong_counter"


def test_admin_may_act_for_any_counter_and_cancel(client: TestClient):
    t = issue(client)
    sign_in(client, "boss")
    assert client.post(f"/api/tickets/{t['id']}/cancel").status_code == 200
    assert client.get(f"/api/tickets/{t['token']}").json()["state"] == "cancelled"


def test_clerk_cannot_cancel_or_change_services(client: TestClient):
    t = issue(client)
    sign_in(client, "clerk1", counter=1)
    assert client.post(f"/api/tickets/{t['id']}/cancel").status_code == 403
    assert client.post("/api/services/CT", json={"open": False}).status_code == 403


def test_disabled_account_cannot_sign_in(client: TestClient):
    r = client.post("/api/login", json={"username": "gone", "password": PASSWORD})
    assert r.status_code == 401


def test_repeated_failed_logins_are_slowed_with_429(client: TestClient):
    codes = [
        client.post("/api/login", json={"username": "clerk1", "password": "wrong-pass"}).status_code for _ in range(6)
    ]
    assert codes == [401] * 5 + [429]


def test_login_cookie_is_httponly_and_samesite_strict(client: TestClient):
    r = client.post("/api/login", json={"username": "clerk1", "password": PASSWORD, "counter": 1})
    cookie = r.headers["set-cookie"].lower()
    assert "httponly" in cookie and "samesite=strict" in cookie


def test_a_second_clerk_cannot_take_an_occupied_counter(client: TestClient):
    sign_in(client, "clerk1", counter=1)
    client.cookies.clear()
    r = client.post("/api/login", json={"username": "clerk2", "password": PASSWORD, "counter": 1})
    assert r.status_code == 409 and r.json()["error"] == "counter_taken"


def test_double_click_on_next_never_calls_two_tickets(client: TestClient):
    issue(client)
    issue(client)
    sign_in(client, "clerk1", counter=1)
    first = client.post("/api/counters/1/next", json={"current": None})
    second = client.post("/api/counters/1/next", json={"current": None})
    assert first.status_code == 200 and second.status_code == 409
    state = client.get("/api/state").json()
    assert [s["waiting"] for s in state["services"] if s["code"] == "CT"] == [1]


def test_transfer_call_pause_resume_requeue(client: TestClient):
    a = issue(client)
    b = issue(client)
    sign_in(client, "boss")
    client.post("/api/counters/1/open")
    assert client.post("/api/counters/1/call", json={"number": b["label"]}).json()["ticket"]["id"] == b["id"]
    r = client.post("/api/counters/1/transfer", json={"counter": 3})
    assert r.status_code == 200 and r.json()["ticket"] is None
    assert client.post("/api/counters/1/next", json={}).json()["ticket"]["id"] == a["id"]
    client.post("/api/counters/1/no-show")
    assert client.post(f"/api/tickets/{a['id']}/requeue").status_code == 200
    assert client.post("/api/counters/1/pause", json={"reason": "Nghỉ trưa"}).json()["counter"]["state"] == "paused"
    r = client.post("/api/counters/1/next", json={})
    assert r.status_code == 409 and r.json()["error"] == "counter_paused"
    assert client.post("/api/counters/1/resume").json()["counter"]["state"] == "open"


def test_unknown_counter_is_404(client: TestClient):
    sign_in(client, "boss")
    assert client.post("/api/counters/42/next", json={}).status_code == 404
    assert client.post("/api/counters/abc/next", json={}).status_code == 404


def test_rating_is_accepted_once_for_the_ticket_the_counter_just_finished(client: TestClient, db_path: Path):
    a = issue(client)
    b = issue(client)
    sign_in(client, "clerk1", counter=1)
    client.post("/api/counters/1/next", json={})
    client.post("/api/counters/1/next", json={})  # a done, b called
    client.post("/api/counters/1/done")  # b done
    client.cookies.clear()  # the tablet is not signed in
    # A reloaded tablet learns from the public snapshot which ticket still awaits a rating.
    last = client.get("/api/state").json()["counters"][0]["last_done"]
    assert (last["id"], last["label"], last["rated"]) == (b["id"], b["label"], False)
    # Only counter 1's rating tablet (its device token) may rate there; anyone else is 401.
    tablet = {"Authorization": "Bearer danh-gia-quay-1-doi-ma-nay"}
    other = {"Authorization": "Bearer danh-gia-quay-2-doi-ma-nay"}
    anonymous = client.post("/api/counters/1/rating", json={"ticket_id": b["id"], "level": 1})
    assert anonymous.status_code == 401 and anonymous.json()["error"] == "device_token_required"
    stale = client.post("/api/counters/1/rating", json={"ticket_id": a["id"], "level": 1}, headers=tablet)
    assert stale.status_code == 409 and stale.json()["error"] == "rating_closed"
    assert (
        client.post("/api/counters/1/rating", json={"ticket_id": b["id"], "level": 4}, headers=other).status_code == 403
    )
    assert (
        client.post("/api/counters/2/rating", json={"ticket_id": b["id"], "level": 4}, headers=other).status_code == 403
    )
    assert (
        client.post("/api/counters/1/rating", json={"ticket_id": b["id"], "level": 4}, headers=tablet).status_code
        == 200
    )
    assert (
        client.post("/api/counters/1/rating", json={"ticket_id": b["id"], "level": 3}, headers=tablet).status_code
        == 409
    )
    with sqlite3.connect(db_path) as conn:
        assert conn.execute("SELECT rating FROM tickets WHERE id = ?", (b["id"],)).fetchone() == (4,)


def test_admin_closes_a_service_and_the_kiosk_is_refused(client: TestClient):
    sign_in(client, "boss")
    r = client.post("/api/services/HT", json={"open": False})
    assert r.status_code == 200
    ht = next(s for s in r.json()["services"] if s["code"] == "HT")
    assert ht["available"] is False and ht["reason"] == "service_closed"
    r = client.post("/api/tickets", json={"service": "HT"}, headers=KIOSK)
    assert r.status_code == 409 and r.json()["error"] == "service_closed"


# ------------------------------------------------------------------ state and push


def test_public_state_has_no_staff_names_and_staff_state_does(client: TestClient):
    issue(client)
    sign_in(client, "clerk1", counter=1)
    client.post("/api/counters/1/next", json={})
    staff = client.get("/api/state").json()
    assert staff["counters"][0]["staff"] == "clerk1" and "waiting" in staff
    client.cookies.clear()
    public = client.get("/api/state").json()
    assert "staff" not in public["counters"][0] and "waiting" not in public
    assert public["counters"][0]["ticket"]["label"] == "1001"
    assert "token" not in public["counters"][0]["ticket"]
    assert public["latest_calls"][0] == {**public["latest_calls"][0], "label": "1001", "counter": 1}


def test_websocket_sends_snapshot_then_numbered_events(client: TestClient):
    with client.websocket_connect("/ws") as ws:
        snap = ws.receive_json()
        assert snap["type"] == "snapshot" and snap["v"] == 2
        issue(client)
        message = ws.receive_json()
        assert message["v"] == 2 and message["type"] == "events"
        [event] = message["events"]
        assert event["type"] == "event" and event["kind"] == "ticket_issued"
        assert event["seq"] == message["seq"] == snap["seq"] + 1
        assert "token" not in event["ticket"]
        assert next(s for s in message["services"] if s["code"] == "CT")["waiting"] == 1


def test_websocket_sends_a_call_as_one_message_with_done_and_called(client: TestClient):
    issue(client)
    issue(client)
    sign_in(client, "clerk2", counter=2)
    client.post("/api/counters/2/next", json={})
    with client.websocket_connect("/ws") as ws:
        snap = ws.receive_json()
        client.post("/api/counters/2/next", json={})
        message = ws.receive_json()
        assert [e["kind"] for e in message["events"]] == ["ticket_done", "ticket_called"]
        assert [e["seq"] for e in message["events"]] == [snap["seq"] + 1, snap["seq"] + 2]
        assert message["seq"] == snap["seq"] + 2
        assert message["events"][1]["ticket"]["label"] == "1002" and "announce" in message["events"][1]


def test_websocket_call_event_carries_the_vietnamese_announcement(client: TestClient):
    issue(client)
    sign_in(client, "clerk2", counter=2)
    with client.websocket_connect("/ws") as ws:
        ws.receive_json()
        client.post("/api/counters/2/next", json={})
        [event] = ws.receive_json()["events"]
        assert event["kind"] == "ticket_called"
        assert event["announce"]["sentence"] == (
            "Mời công dân có số thứ tự một nghìn không trăm linh một đến quầy số hai"
        )
        assert event["announce"]["clips"][0] == "moi_cong_dan_co_so_thu_tu"


def test_websocket_resync_sends_a_fresh_snapshot(client: TestClient):
    with client.websocket_connect("/ws") as ws:
        ws.receive_json()
        issue(client)
        ws.receive_json()
        ws.send_json({"type": "resync"})
        snap = ws.receive_json()
        assert snap["type"] == "snapshot" and snap["seq"] == 1
        assert next(s for s in snap["services"] if s["code"] == "CT")["waiting"] == 1


def test_staff_websocket_from_a_foreign_origin_is_refused(client: TestClient):
    sign_in(client, "clerk1", counter=1)
    from starlette.websockets import WebSocketDisconnect

    with pytest.raises(WebSocketDisconnect) as e:
        with client.websocket_connect("/ws", headers={"origin": "http://evil.example"}) as ws:
            ws.receive_json()
    assert e.value.code == 1008


def test_errors_never_carry_a_traceback_or_path(client: TestClient):
    for r in (
        client.get("/nope"),
        client.post("/api/tickets", content=b"\xff\xfe", headers=KIOSK),
        client.delete("/api/state"),
    ):
        assert r.status_code < 500
        text = r.text
        assert "Traceback" not in text and "/work/" not in text and ".py" not in text
        assert set(r.json()) >= {"error", "message", "message_en"}


def test_signing_out_ends_the_session_even_for_a_copied_cookie(client: TestClient):
    sign_in(client, "clerk1", counter=1)
    copied = dict(client.cookies)
    assert client.get("/api/me").status_code == 200
    assert client.post("/api/logout").status_code == 200
    client.cookies.clear()
    client.cookies.update(copied)
    assert client.get("/api/me").status_code == 401


def test_disabling_an_account_or_changing_its_password_ends_its_sessions(client: TestClient, db_path: Path):
    sign_in(client, "clerk2", counter=2)
    clerk_cookie = client.cookies.get("motcua_session")
    sign_in(client, "boss")  # the admin screen, while the server runs (the CLI may not write now)
    r = client.post("/api/admin/users/clerk2/password", json={"password": "mat-khau-moi-456"})
    assert r.status_code == 200, r.text
    client.cookies.clear()
    client.cookies.set("motcua_session", clerk_cookie)
    assert client.get("/api/me").status_code == 401
    assert client.post("/api/counters/2/next", json={}).status_code == 401


def test_a_service_change_with_nothing_to_change_is_400_and_writes_nothing(client: TestClient, db_path: Path):
    sign_in(client, "boss")
    before = event_count(db_path)
    r = client.post("/api/services/CT", json={})
    assert r.status_code == 400 and r.json()["error"] == "nothing_to_change"
    assert event_count(db_path) == before
