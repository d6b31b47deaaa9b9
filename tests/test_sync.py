"""The site's sync feed and offline bundles (queue_server.sync): token, rate limit, paging,
gzip, the allow-list that keeps personal data at the office, and bundle signatures."""

from __future__ import annotations

import datetime as dt
import gzip
import json
from pathlib import Path

import pytest
from starlette.testclient import TestClient

from queue_server.app import create_app
from queue_server.cli import main
from queue_server.config import load_config
from queue_server.errors import MotcuaError
from queue_server.sync import read_bundle
from tests.support import KIOSK_TOKEN, PASSWORD, add_staff, write_config

TOKEN = "dong-bo-phuong-a-0123456789"
OLD_TOKEN = "dong-bo-cu-phuong-a-9876543210"
TABLET_TOKEN = "danh-gia-quay-1-doi-ma-nay"  # counter 1's rating tablet in the sample config


class Clock:
    def __init__(self) -> None:
        self.now = dt.datetime(2026, 11, 23, 1, 0, tzinfo=dt.UTC)  # 08:00 in Hà Nội

    def __call__(self) -> dt.datetime:
        return self.now


@pytest.fixture
def site(tmp_path: Path):
    path = write_config(tmp_path, sync={"token": TOKEN, "previous_token": OLD_TOKEN, "requests_per_minute": 30})
    add_staff(path, {"clerk1": "clerk"})
    clock = Clock()
    with TestClient(create_app(load_config(path), clock=clock, printing=False)) as client:
        client.clock = clock  # type: ignore[attr-defined]
        client.config_path = path  # type: ignore[attr-defined]
        yield client


def serve_one(client: TestClient, service: str = "CT", rating: int | None = 4) -> None:
    r = client.post("/api/tickets", json={"service": service}, headers={"Authorization": f"Bearer {KIOSK_TOKEN}"})
    assert r.status_code == 201, r.text
    ticket_id = r.json()["id"]
    for action in ("next", "start", "done"):
        client.clock.now += dt.timedelta(minutes=3)  # type: ignore[attr-defined]
        r = client.post(f"/api/counters/1/{action}", json={})
        assert r.status_code == 200, r.text
    if rating:
        r = client.post(
            "/api/counters/1/rating",
            json={"ticket_id": ticket_id, "level": rating},
            headers={"Authorization": f"Bearer {TABLET_TOKEN}"},
        )
        assert r.status_code == 200, r.text


def sign_on(client: TestClient) -> None:
    r = client.post("/api/login", json={"username": "clerk1", "password": PASSWORD, "counter": 1})
    assert r.status_code == 200, r.text
    assert client.post("/api/counters/1/open", json={}).status_code == 200


def pull(client: TestClient, after: int = 0, limit: int | None = None, token: str = TOKEN) -> dict:
    q = f"?after={after}" + (f"&limit={limit}" if limit else "")
    r = client.get("/api/sync/events" + q, headers={"Authorization": f"Bearer {token}"})
    assert r.status_code == 200, r.text
    return r.json()


def test_wrong_or_missing_token_is_401_and_reveals_nothing(site: TestClient) -> None:
    for headers in ({}, {"Authorization": "Bearer nope-nope-nope-nope"}, {"Authorization": f"Basic {TOKEN}"}):
        r = site.get("/api/sync/events?after=0", headers=headers)
        assert r.status_code == 401
        body = r.json()
        assert body["error"] == "sync_token_required" and body["message"] and body["message_en"]
        assert "events" not in body


def test_the_previous_token_still_works_during_a_rotation(site: TestClient) -> None:
    assert pull(site, token=OLD_TOKEN)["events"] == []


def test_sync_is_off_without_a_token(tmp_path: Path) -> None:
    path = write_config(tmp_path)
    with TestClient(create_app(load_config(path), printing=False)) as client:
        r = client.get("/api/sync/events", headers={"Authorization": "Bearer anything-at-all-123"})
        assert r.status_code == 404 and r.json()["error"] == "sync_off"


@pytest.mark.parametrize("query", ["after=-1", "after=x", "limit=0", "limit=5001", "limit=abc"])
def test_bad_cursor_or_limit_is_400(site: TestClient, query: str) -> None:
    r = site.get(f"/api/sync/events?{query}", headers={"Authorization": f"Bearer {TOKEN}"})
    assert r.status_code == 400 and r.json()["error"] == "bad_param"


def test_the_feed_is_read_only(site: TestClient) -> None:
    r = site.post("/api/sync/events", json={}, headers={"Authorization": f"Bearer {TOKEN}"})
    assert r.status_code == 405


def test_pages_follow_the_cursor_until_nothing_more(site: TestClient) -> None:
    sign_on(site)
    for _ in range(3):
        serve_one(site)
    whole = pull(site)
    seqs = [e["seq"] for e in whole["events"]]
    assert seqs == sorted(seqs) and len(seqs) >= 12 and whole["more"] is False
    assert whole["next_after"] == seqs[-1] == whole["snapshot_seq"]
    got, after = [], 0
    while True:
        page = pull(site, after, limit=5)
        assert len(page["events"]) <= 5
        got += [e["seq"] for e in page["events"]]
        after = page["next_after"]
        if not page["more"]:
            break
    assert got == seqs
    assert pull(site, after)["events"] == [] and pull(site, after)["next_after"] == after
    assert whole["office_day_tz"] == "Asia/Ho_Chi_Minh"
    done = [e for e in whole["events"] if e["kind"] == "ticket_done"]
    tickets = {t["id"]: t for t in whole["tickets"]}
    assert len(tickets) == 3 and len(whole["tickets"]) == 3  # each ticket once, as it is now
    assert done and tickets[done[0]["ticket_id"]]["state"] == "done"
    assert tickets[done[0]["ticket_id"]]["service_s"] == 180


def test_answer_is_gzip_when_the_client_accepts_it(site: TestClient) -> None:
    sign_on(site)
    serve_one(site)
    r = site.get("/api/sync/events?after=0", headers={"Authorization": f"Bearer {TOKEN}", "Accept-Encoding": "gzip"})
    assert r.status_code == 200 and r.headers["content-encoding"] == "gzip"
    assert json.loads(r.content)["events"]  # httpx decoded it


def test_no_personal_data_leaves_the_office(site: TestClient) -> None:
    sign_on(site)
    serve_one(site)
    page = pull(site)
    text = json.dumps(page)
    assert "password" not in text and "scrypt" not in text and "session" not in text
    assert page["site"]["staff"] == [{"username": "clerk1", "display_name": "clerk1"}]
    for t in page["tickets"]:
        assert not {"token", "kiosk", "request_id"} & set(t)
    # The ticket's status token (a key to its public page) is nowhere in the answer.
    store_tokens = site.app.state.office.store.conn.execute("SELECT token FROM tickets").fetchall()
    assert store_tokens and all(t not in text for (t,) in store_tokens)


def test_fields_added_later_stay_home_by_default(site: TestClient) -> None:
    """An allow-list, not a deny-list: a new personal column (an appointment's phone) and
    detail keys are not sent unless someone lists them in queue_server.sync."""
    sign_on(site)
    serve_one(site)
    conn = site.app.state.office.store.conn
    conn.execute("ALTER TABLE tickets ADD COLUMN citizen_phone TEXT")
    conn.execute("UPDATE tickets SET citizen_phone = '0912345678'")
    conn.execute(
        "INSERT INTO events (at, day, kind, details) VALUES ('2026-11-23T01:30:00+00:00', '2026-11-23', "
        '\'appointment_booked\', \'{"name": "Nguyễn Văn A", "phone": "0912345678", "service": "CT"}\')'
    )
    text = json.dumps(pull(site), ensure_ascii=False)
    assert "0912345678" not in text and "Nguyễn Văn A" not in text
    assert '"kind": "appointment_booked"' in text


def test_rate_limited_with_429(site: TestClient) -> None:
    statuses = [
        site.get("/api/sync/events", headers={"Authorization": f"Bearer {TOKEN}"}).status_code for _ in range(31)
    ]
    assert statuses[:30] == [200] * 30 and statuses[30] == 429


def test_export_writes_a_signed_bundle_that_verifies_only_with_the_token(
    site: TestClient, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    sign_on(site)
    serve_one(site)
    out = tmp_path / "goi.motcua"
    assert main(["--config", str(site.config_path), "export", "--since", "0", "--output", str(out)]) == 0  # type: ignore[attr-defined]
    assert "sự kiện" in capsys.readouterr().out
    site_id, page = read_bundle(out, {"x": "khong-phai-ma-nay-123456", "a": TOKEN})
    assert site_id == "a" and page["events"] == pull(site)["events"]
    with pytest.raises(MotcuaError) as e:
        read_bundle(out, {"x": "khong-phai-ma-nay-123456"})
    assert e.value.key == "bad_signature"
    # One changed byte in the payload breaks the signature.
    raw = gzip.decompress(out.read_bytes()).replace(b'"ticket_done"', b'"ticket_dune"')
    out.write_bytes(gzip.compress(raw))
    with pytest.raises(MotcuaError):
        read_bundle(out, {"a": TOKEN})


def test_export_without_a_sync_token_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = write_config(tmp_path)
    assert main(["--config", str(path), "export", "--since", "0", "--output", str(tmp_path / "x")]) == 2
    err = capsys.readouterr().err
    assert "[sync] token" in err and not (tmp_path / "x").exists()


@pytest.mark.parametrize("token", ["ngan", "x" * 15])
def test_a_short_sync_token_is_a_config_error(tmp_path: Path, token: str) -> None:
    path = write_config(tmp_path, sync={"token": token})
    with pytest.raises(MotcuaError) as e:
        load_config(path)
    assert e.value.key == "sync.token"


def test_rotating_the_token_from_the_admin_screen_applies_at_once(tmp_path: Path) -> None:
    """New token in `token`, old in `previous_token`: both work; then the old one is dropped
    and gets 401 — all without a restart."""
    path = write_config(tmp_path, sync={"token": OLD_TOKEN})
    add_staff(path, {"boss": "admin"})
    with TestClient(create_app(load_config(path), clock=Clock(), printing=False)) as client:
        r = client.post("/api/login", json={"username": "boss", "password": PASSWORD})
        assert r.status_code == 200
        text = path.read_text(encoding="utf-8")
        rotated = text.replace(f'token = "{OLD_TOKEN}"', f'token = "{TOKEN}"\nprevious_token = "{OLD_TOKEN}"')
        assert rotated != text
        assert client.post("/api/admin/config/text", json={"text": rotated}).status_code == 200
        for token in (TOKEN, OLD_TOKEN):
            assert pull(client, token=token)["events"] == []
        done = rotated.replace(f'previous_token = "{OLD_TOKEN}"', "")
        assert client.post("/api/admin/config/text", json={"text": done}).status_code == 200
        assert pull(client, token=TOKEN)["events"] == []
        r = client.get("/api/sync/events", headers={"Authorization": f"Bearer {OLD_TOKEN}"})
        assert r.status_code == 401


def test_no_other_credential_opens_the_feed(site: TestClient) -> None:
    """Only the sync token: not a kiosk's or a rating tablet's device token, nor an admin's
    or a clerk's session (the feed is for the central, not for staff)."""
    from tests.support import KIOSK_TOKEN as KIOSK

    for token in (KIOSK, TABLET_TOKEN):
        r = site.get("/api/sync/events", headers={"Authorization": f"Bearer {token}"})
        assert r.status_code == 401
    sign_on(site)  # clerk1's session cookie is now in the client
    r = site.get("/api/sync/events")
    assert r.status_code == 401 and r.json()["error"] == "sync_token_required"
