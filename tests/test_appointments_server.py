"""Appointments against a real server: 50 phones racing for one slot, the WebSocket pushes
(staff see the booking, public screens only counts), the deletion of personal data after
``keep_days`` with an injected clock, and restart equivalence with appointment tickets."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import sqlite3
import time
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from starlette.testclient import TestClient
from websockets.asyncio.client import connect as ws_connect

from queue_server import appointments_api, auth
from queue_server.app import create_app
from queue_server.office import Office
from queue_server.store import Store
from tests.appointment_server import threaded_server
from tests.appointment_support import KIOSK, MONDAY, Clock, booking_config
from tests.support import PASSWORD


def post(url: str, body: dict[str, Any], headers: dict[str, str] | None = None) -> tuple[int, dict[str, Any]]:
    req = urllib.request.Request(
        url, json.dumps(body).encode(), {"Content-Type": "application/json", **(headers or {})}
    )
    try:
        with urllib.request.urlopen(req, timeout=30) as r:
            return r.status, json.loads(r.read())
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read())


def test_fifty_concurrent_bookings_for_a_capacity_three_slot_give_exactly_three(tmp_path: Path):
    clock = Clock(MONDAY)
    with threaded_server(booking_config(tmp_path), tmp_path / "m.db", clock) as url:

        def attempt(i: int) -> tuple[int, dict[str, Any]]:
            return post(
                url + "/api/appointments",
                {
                    "service": "CT",
                    "date": "2026-12-08",
                    "start": "10:00",
                    "name": f"Công dân số {i}",
                    "phone": f"09{i:08d}",
                },
            )

        with ThreadPoolExecutor(50) as pool:
            results = list(pool.map(attempt, range(50)))
    statuses = sorted(status for status, _ in results)
    assert statuses.count(201) == 3, statuses
    assert {(status, body["error"]) for status, body in results if status != 201} == {(409, "slot_full")}
    assert len({body["code"] for status, body in results if status == 201}) == 3
    with sqlite3.connect(tmp_path / "m.db") as conn:
        assert conn.execute("SELECT count(*) FROM appointments WHERE start = '10:00'").fetchone() == (3,)


def test_staff_screens_hear_of_bookings_and_public_screens_get_counts_only(tmp_path: Path):
    clock = Clock(MONDAY)
    with threaded_server(booking_config(tmp_path), tmp_path / "m.db", clock, {"boss": "admin"}) as url:
        req = urllib.request.Request(
            url + "/api/login",
            json.dumps({"username": "boss", "password": PASSWORD}).encode(),
            {"Content-Type": "application/json"},
        )
        with urllib.request.urlopen(req) as r:
            cookie = r.headers["set-cookie"].split(";")[0]
        ws_url = url.replace("http", "ws") + "/ws"

        heard: list[dict[str, Any]] = []  # everything the public screen hears

        async def scenario() -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
            async with (
                ws_connect(ws_url, additional_headers={"Cookie": cookie, "Origin": url}, proxy=None) as staff,
                ws_connect(ws_url, proxy=None) as public,
            ):
                await staff.recv()
                await public.recv()  # snapshots
                status, body = await asyncio.to_thread(
                    post,
                    url + "/api/appointments",
                    {
                        "service": "CT",
                        "date": "2026-12-07",
                        "start": "09:00",
                        "name": "Hoàng Thị Én",
                        "phone": "0912000111",
                    },
                )
                assert status == 201
                await asyncio.to_thread(post, f"{url}/api/appointments/{body['code']}/cancel", {"phone_last4": "0111"})
                status, kept = await asyncio.to_thread(
                    post,
                    url + "/api/appointments",
                    {
                        "service": "CT",
                        "date": "2026-12-07",
                        "start": "08:00",
                        "name": "Lý Văn Phúc",
                        "phone": "0912000222",
                    },
                )
                assert status == 201
                clock.now = MONDAY.replace(hour=7, minute=45)  # check-in opens 30 minutes before 08:00
                status, _ = await asyncio.to_thread(post, f"{url}/api/appointments/{kept['code']}/check-in", {}, KIOSK)
                assert status == 201

                async def pushes(ws: Any) -> list[dict[str, Any]]:
                    out: list[dict[str, Any]] = []
                    while len(out) < 4:
                        msg = json.loads(await asyncio.wait_for(ws.recv(), 5))
                        heard.append(msg)  # the ticket events too: the check-in issued a ticket
                        if msg.get("type") == "appointment":
                            out.append(msg)
                    return out

                staff_heard = await pushes(staff)
                heard.clear()
                return staff_heard, await pushes(public)

        staff_msgs, public_msgs = asyncio.run(scenario())
    kinds = ["appointment_booked", "appointment_cancelled", "appointment_booked", "appointment_checked_in"]
    assert [m["kind"] for m in staff_msgs] == kinds
    assert staff_msgs[0]["appointment"]["name"] == "Hoàng Thị Én"
    assert staff_msgs[0]["appointment"]["phone"] == "0912000111"
    assert (
        staff_msgs[3]["appointment"]["state"] == "checked_in" and staff_msgs[3]["appointment"]["name"] == "Lý Văn Phúc"
    )
    assert [m["kind"] for m in public_msgs] == kinds
    assert public_msgs[0]["counts"]["CT"]["booked"] == 1 and public_msgs[1]["counts"]["CT"]["cancelled"] == 1
    assert public_msgs[3]["counts"]["CT"] == {"booked": 0, "checked_in": 1, "cancelled": 1}
    text = json.dumps(heard, ensure_ascii=False)
    assert "ticket_issued" in text
    for secret in (
        "Hoàng",
        "0912000111",
        "Lý Văn",
        "0912000222",
        staff_msgs[0]["appointment"]["code"],
        staff_msgs[3]["appointment"]["code"],
    ):
        assert secret not in text


def names(db: Path) -> list[tuple[Any, ...]]:
    with sqlite3.connect(db) as conn:
        return conn.execute(
            "SELECT date, name, phone, phone_last4, client, state, cancel_reason FROM appointments ORDER BY date"
        ).fetchall()


def test_names_and_phones_are_deleted_keep_days_after_the_appointment(tmp_path: Path):
    clock = Clock(MONDAY)
    db = tmp_path / "m.db"
    config = booking_config(tmp_path, appointments={"keep_days": 30})
    with TestClient(create_app(config, database=db, clock=clock, printing=False)) as client:
        for day, phone in (("2026-12-07", "0911111111"), ("2026-12-08", "0922222222")):
            r = client.post(
                "/api/appointments",
                json={"service": "CT", "date": day, "start": "15:00", "name": "Đỗ Văn Giang", "phone": phone},
            )
            assert r.status_code == 201
        # A staff cancellation's reason is free text that may name the citizen (what a staff
        # cancel writes; the citizen's own cancel writes none).
        with sqlite3.connect(db) as conn:
            conn.execute("UPDATE appointments SET cancel_reason = 'anh Giang gọi báo bận' WHERE date = '2026-12-07'")
        office: Office = client.app.state.office  # type: ignore[attr-defined]
        clock.now = dt.datetime(2027, 1, 6, 12, 0, tzinfo=MONDAY.tzinfo)  # 30 days after 7 Dec: kept
        assert client.portal.call(appointments_api.purge, office) == 0  # type: ignore[union-attr]
        assert all(row[1] for row in names(db))
        clock.now = dt.datetime(2027, 1, 7, 0, 5, tzinfo=MONDAY.tzinfo)  # 31 days: the first goes
        assert client.portal.call(appointments_api.purge, office) == 1  # type: ignore[union-attr]
        first, second = names(db)
        assert first[1:5] == (None, None, None, None) and first[5] == "booked" and first[6] is None
        assert second[1] == "Đỗ Văn Giang"
    # A server started later deletes what expired meanwhile, on its own timer (at start).
    clock.now = dt.datetime(2027, 2, 1, 8, 0, tzinfo=MONDAY.tzinfo)
    with TestClient(create_app(config, database=db, clock=clock, printing=False)):
        deadline = time.monotonic() + 5
        while names(db)[1][1] is not None and time.monotonic() < deadline:
            time.sleep(0.02)
        assert names(db)[1][1:5] == (None, None, None, None)


def test_restart_equivalence_with_appointments(tmp_path: Path):
    """After a restart the engine is the same, field by field (tickets with their booking,
    numbering, both interleave counts), Next would call the same tickets, positions agree,
    and check-in stays idempotent."""
    clock = Clock(MONDAY)
    db = tmp_path / "m.db"
    config = booking_config(tmp_path, appointments={"rule": "interleave", "interleave": 2})
    store = Store(db)
    auth.add_user(store, "clerk1", PASSWORD, "clerk")
    store.close()

    def snapshot(client: TestClient) -> Any:
        engine = client.app.state.office.engine  # type: ignore[attr-defined]
        return (
            engine.state(),
            dict(engine.by_appointment),
            {i: engine.position(t, clock.now) for i, t in engine.tickets.items()},
            {n: getattr(engine.pick_next(n, clock.now), "id", None) for n in engine.counters},
        )

    with TestClient(create_app(config, database=db, clock=clock, printing=False)) as client:
        codes = [
            client.post(
                "/api/appointments",
                json={
                    "service": "CT",
                    "date": "2026-12-07",
                    "start": start,
                    "name": "Vũ Văn Hải",
                    "phone": f"091000000{i}",
                },
            ).json()["code"]
            for i, start in enumerate(["08:30", "08:30", "08:45", "09:00"])
        ]
        clock.now = MONDAY.replace(hour=8, minute=10)
        first = client.post(f"/api/appointments/{codes[0]}/check-in", json={}, headers=KIOSK).json()
        for _ in range(3):
            client.post("/api/tickets", json={"service": "CT"}, headers=KIOSK)
        client.post(f"/api/appointments/{codes[1]}/check-in", json={}, headers=KIOSK)
        too_early = client.post(f"/api/appointments/{codes[2]}/check-in", json={}, headers=KIOSK)
        assert too_early.json()["error"] == "too_early"  # the 08:45 slot opens at 08:15
        assert (
            client.post("/api/login", json={"username": "clerk1", "password": PASSWORD, "counter": 1}).status_code
            == 200
        )
        clock.now = MONDAY.replace(hour=8, minute=31)
        called = [client.post("/api/counters/1/next", json={}).json()["ticket"]["label"] for _ in range(2)]
        assert called == ["1002", "1003"]  # two walk-ins who came first; then the appointments are owed
        assert client.app.state.office.engine.walkins_since_appointment == 2  # type: ignore[attr-defined]
        before = snapshot(client)
    with TestClient(create_app(config, database=db, clock=clock, printing=False)) as client:
        assert snapshot(client) == before
        again = client.post(f"/api/appointments/{codes[0]}/check-in", json={}, headers=KIOSK)
        assert again.status_code == 200 and again.json()["id"] == first["id"]
        assert (
            client.post("/api/login", json={"username": "clerk1", "password": PASSWORD, "counter": 1}).status_code
            == 200
        )
        assert client.post("/api/counters/1/next", json={}).json()["ticket"]["label"] == "H1001"
        fourth = client.post(f"/api/appointments/{codes[3]}/check-in", json={}, headers=KIOSK).json()
        assert fourth["label"] == "H1006"  # numbering continues after the restart
