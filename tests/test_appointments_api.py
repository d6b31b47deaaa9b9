"""The appointment API through Starlette's TestClient on a real SQLite file and a hand-driven
clock: slots, booking, limits, cancel, move, check-in, staff endpoints."""

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
from tests.appointment_support import KIOSK, MONDAY, Clock, booking_config

PASSWORD = "mat-khau-123"


@pytest.fixture
def clock() -> Clock:
    return Clock(MONDAY)


def make_client(tmp_path: Path, clock: Clock, **kw: Any) -> TestClient:
    db = tmp_path / "m.db"
    if not db.exists():
        store = Store(db)
        auth.add_user(store, "boss", PASSWORD, "admin")
        auth.add_user(store, "clerk1", PASSWORD, "clerk")
        store.close()
    return TestClient(create_app(booking_config(tmp_path, **kw), database=db, clock=clock, printing=False))


@pytest.fixture
def client(tmp_path: Path, clock: Clock) -> Iterator[TestClient]:
    with make_client(tmp_path, clock) as c:
        yield c


def book(
    client: TestClient,
    start: str = "09:00",
    date: str = "2026-12-08",
    phone: str = "0912345678",
    service: str = "CT",
    name: str = "Nguyễn Văn An",
) -> Any:
    return client.post(
        "/api/appointments", json={"service": service, "date": date, "start": start, "name": name, "phone": phone}
    )


def test_slots_list_start_end_capacity_and_free(client: TestClient):
    r = client.get("/api/appointments/slots", params={"service": "CT", "date": "2026-12-08"})
    assert r.status_code == 200
    slots = r.json()["slots"]
    assert slots[0] == {"start": "08:00", "end": "08:15", "capacity": 3, "booked": 0, "free": 3, "closed": False}
    assert len(slots) == 12 + 8  # 08:00-11:00 and 14:00-16:00 in 15-minute slots
    book(client, "08:00")
    r = client.get("/api/appointments/slots", params={"service": "CT", "date": "2026-12-08"})
    assert r.json()["slots"][0]["free"] == 2
    r = client.get("/api/appointments/slots", params={"date": "2026-12-08"})
    assert (r.status_code, r.json()["error"], r.json()["details"]["field"]) == (400, "bad_field", "service")


def test_booking_answers_201_with_a_code_without_look_alikes(client: TestClient):
    r = book(client)
    assert r.status_code == 201, r.text
    body = r.json()
    assert {"code", "service", "date", "start", "end", "status_url"} <= set(body)
    assert len(body["code"]) == 6 and not set(body["code"]) & set("01OIL")
    assert body["code_display"] == f"{body['code'][:3]}-{body['code'][3:]}"
    assert (body["service"], body["date"], body["start"], body["end"]) == ("CT", "2026-12-08", "09:00", "09:15")
    assert body["status_url"].endswith(f"/book/{body['code_display']}")
    assert body["papers"] == "Bản chính và bản sao"
    assert [c["number"] for c in body["counters"]] == [1]
    public = client.get(f"/api/appointments/{body['code_display'].lower()}").json()
    assert public["state"] == "booked"
    assert "name" not in public and "phone" not in public and "0912345678" not in str(public)


def test_a_full_slot_answers_409_slot_full_with_the_next_free_slots(client: TestClient):
    for i in range(3):
        assert book(client, "09:00", phone=f"09000000{i:02d}").status_code == 201
    r = book(client, "09:00", phone="0900000099")
    assert r.status_code == 409
    body = r.json()
    assert body["error"] == "slot_full" and body["message"] and body["message_en"]
    assert body["details"]["next_free"][0] == {"date": "2026-12-08", "start": "09:15", "end": "09:30"}


@pytest.mark.parametrize(
    ("date", "start", "error", "status"),
    [
        ("2026-12-04", "09:00", "day_past", 409),
        ("2026-12-07", "06:45", "slot_not_found", 404),
        ("2026-12-12", "09:00", "slot_not_found", 404),  # Saturday: no booking window
        ("2026-12-30", "09:00", "too_far_ahead", 409),
        ("2026-12-08", "09:07", "slot_not_found", 404),
        ("2026-13-01", "09:00", "bad_field", 400),
        ("2026-12-08", "9h", "bad_field", 400),
    ],
)
def test_no_booking_in_the_past_off_window_or_too_far(
    client: TestClient, date: str, start: str, error: str, status: int
):
    r = book(client, start, date)
    assert (r.status_code, r.json()["error"]) == (status, error)


def test_a_slot_that_started_today_cannot_be_booked(client: TestClient, clock: Clock):
    clock.now = MONDAY.replace(hour=9, minute=5)
    assert book(client, "09:00", "2026-12-07").json()["error"] == "slot_past"
    assert book(client, "09:15", "2026-12-07").status_code == 201


def test_closed_days_take_no_booking(tmp_path: Path, clock: Clock):
    with make_client(tmp_path, clock, office={"closed_days": ["2026-12-08"]}) as client:
        r = book(client)
        assert (r.status_code, r.json()["error"]) == (409, "closed_day")
        days = client.get("/api/appointments/services").json()["services"][0]["days"]
        assert "2026-12-08" not in days and "2026-12-09" in days


@pytest.mark.parametrize(
    ("field", "value"),
    [("name", "A"), ("name", 5), ("phone", "12345"), ("phone", "0912abc678"), ("service", "ZZ"), ("service", "DD")],
)
def test_bad_input_is_refused_and_changes_nothing(client: TestClient, field: str, value: Any):
    body = {"service": "CT", "date": "2026-12-08", "start": "09:00", "name": "Trần Thị Bình", "phone": "0912345678"}
    body[field] = value
    r = client.post("/api/appointments", json=body)
    assert 400 <= r.status_code < 500 and r.json()["message"] and r.json()["message_en"]
    assert (
        client.get("/api/appointments/slots", params={"service": "CT", "date": "2026-12-08"}).json()["slots"][4]["free"]
        == 3
    )


def test_one_phone_holds_at_most_max_per_phone_upcoming_bookings(client: TestClient):
    assert book(client, "09:00", "2026-12-08", phone="0912 345 678").status_code == 201
    assert book(client, "09:00", "2026-12-09", phone="+84912345678").status_code == 201
    r = book(client, "09:00", "2026-12-10", phone="0912345678")
    assert (r.status_code, r.json()["error"]) == (409, "phone_limit")


def test_one_phone_books_a_service_once_a_day(client: TestClient):
    assert book(client, "09:00").status_code == 201
    assert book(client, "10:00").json()["error"] == "already_booked"


def test_a_booking_missed_earlier_today_leaves_room_to_book_again(client: TestClient, clock: Clock):
    """A citizen who missed the morning slot (its check-in closed: absent) may book the same
    service for the afternoon; the missed booking no longer counts against the phone either."""
    assert book(client, "08:00", "2026-12-08").status_code == 201
    r = book(client, "10:00", "2026-12-08")
    assert (r.status_code, r.json()["error"]) == (409, "already_booked")  # the 08:00 one still holds
    assert book(client, "09:00", "2026-12-09").status_code == 201  # max_per_phone (2) reached
    clock.now = dt.datetime(2026, 12, 8, 9, 30, tzinfo=MONDAY.tzinfo)  # 08:00's check-in has closed
    r = book(client, "14:00", "2026-12-08")
    assert r.status_code == 201, r.text


def test_a_move_does_not_give_one_phone_two_bookings_of_a_service_on_one_day(client: TestClient):
    assert book(client, "09:00", "2026-12-08").status_code == 201
    other = book(client, "09:00", "2026-12-09").json()["code"]
    r = client.post(
        f"/api/appointments/{other}/move", json={"phone_last4": "5678", "date": "2026-12-08", "start": "10:00"}
    )
    assert (r.status_code, r.json()["error"]) == (409, "already_booked")
    assert client.get(f"/api/appointments/{other}").json()["date"] == "2026-12-09"
    # Moving within its own day is no second booking.
    r = client.post(
        f"/api/appointments/{other}/move", json={"phone_last4": "5678", "date": "2026-12-09", "start": "10:00"}
    )
    assert r.status_code == 200 and r.json()["start"] == "10:00"


def test_one_device_makes_at_most_max_per_address_bookings_a_day(tmp_path: Path, clock: Clock):
    with make_client(tmp_path, clock, appointments={"max_per_address": 2}) as client:
        assert book(client, "09:00", phone="0911111111").status_code == 201
        assert book(client, "09:15", phone="0922222222").status_code == 201
        r = book(client, "09:30", phone="0933333333")
        assert (r.status_code, r.json()["error"]) == (429, "address_limit")


def test_the_per_device_limit_counts_the_office_day_not_the_utc_day(tmp_path: Path):
    # A real server's clock is in UTC: 23:30 UTC is 06:30 the next morning in Hà Nội.
    clock = Clock(dt.datetime(2026, 12, 6, 23, 30, tzinfo=dt.UTC))
    with make_client(tmp_path, clock, appointments={"max_per_address": 2}) as client:
        assert book(client, "09:00", phone="0911111111").status_code == 201
        assert book(client, "09:15", phone="0922222222").status_code == 201
        clock.now = dt.datetime(2026, 12, 7, 0, 30, tzinfo=dt.UTC)  # 07:30 the same office day
        r = book(client, "09:30", phone="0933333333")
        assert (r.status_code, r.json()["error"]) == (429, "address_limit")
        clock.now = dt.datetime(2026, 12, 7, 17, 5, tzinfo=dt.UTC)  # 00:05 on the next office day
        assert book(client, "09:30", "2026-12-09", phone="0933333333").status_code == 201


def test_cancel_needs_the_last_four_phone_digits(client: TestClient):
    code = book(client).json()["code"]
    r = client.post(f"/api/appointments/{code}/cancel", json={"phone_last4": "0000"})
    assert (r.status_code, r.json()["error"]) == (409, "phone_mismatch")
    assert client.post(f"/api/appointments/{code}/cancel", json={"phone_last4": "12"}).status_code == 400
    r = client.post(f"/api/appointments/{code}/cancel", json={"phone_last4": "5678"})
    assert r.status_code == 200 and r.json()["state"] == "cancelled"
    assert r.json()["status_url"].endswith(f"/book/{code[:3]}-{code[3:]}")  # the page showing it cancelled
    assert (
        client.post(f"/api/appointments/{code}/cancel", json={"phone_last4": "5678"}).json()["error"]
        == "appointment_cancelled"
    )
    slots = client.get("/api/appointments/slots", params={"service": "CT", "date": "2026-12-08"}).json()["slots"]
    assert next(s for s in slots if s["start"] == "09:00")["free"] == 3


def test_wrong_digits_five_times_lock_the_code(client: TestClient):
    code = book(client).json()["code"]
    for _ in range(5):
        client.post(f"/api/appointments/{code}/cancel", json={"phone_last4": "0000"})
    r = client.post(f"/api/appointments/{code}/cancel", json={"phone_last4": "5678"})
    assert r.status_code == 429


def test_move_keeps_the_code_and_frees_the_old_slot(client: TestClient):
    code = book(client).json()["code"]
    r = client.post(
        f"/api/appointments/{code}/move", json={"phone_last4": "5678", "date": "2026-12-09", "start": "14:30"}
    )
    assert r.status_code == 200, r.text
    assert (r.json()["code"], r.json()["date"], r.json()["start"]) == (code, "2026-12-09", "14:30")
    old = client.get("/api/appointments/slots", params={"service": "CT", "date": "2026-12-08"}).json()["slots"]
    assert next(s for s in old if s["start"] == "09:00")["free"] == 3


def test_once_check_in_closed_the_citizen_can_no_longer_cancel_or_move(client: TestClient, clock: Clock):
    code = book(client, "09:00", "2026-12-07").json()["code"]
    move = {"phone_last4": "5678", "date": "2026-12-09", "start": "14:30"}
    clock.now = MONDAY.replace(hour=9, minute=15)  # check-in is open until 09:15: still the citizen's
    r = client.post(f"/api/appointments/{code}/move", json=move | {"date": "2026-12-07", "start": "10:00"})
    assert r.status_code == 200, r.text
    clock.now = MONDAY.replace(hour=10, minute=16)  # past 10:00 + 15 minutes: absent, and it stays so
    for action, body in (("cancel", {"phone_last4": "5678"}), ("move", move)):
        r = client.post(f"/api/appointments/{code}/{action}", json=body)
        assert (r.status_code, r.json()["error"]) == (409, "appointment_past"), r.text
        assert r.json()["message"] and r.json()["message_en"]
    kept = client.get(f"/api/appointments/{code}").json()
    assert (kept["state"], kept["date"], kept["start"]) == ("booked", "2026-12-07", "10:00")
    # Staff may still cancel it (audited), e.g. to correct a mistake.
    sign_in(client, "boss")
    r = client.post(f"/api/staff/appointments/{code}/cancel", json={"reason": "nhầm"})
    assert r.status_code == 200 and r.json()["state"] == "cancelled"


def test_ics_download_is_an_icalendar_event_in_utc(client: TestClient):
    body = book(client).json()
    r = client.get(f"/api/appointments/{body['code']}/ics")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/calendar")
    text = r.text
    assert text.startswith("BEGIN:VCALENDAR\r\n") and "DTSTART:20261208T020000Z" in text
    assert "DTEND:20261208T021500Z" in text and body["code_display"] in text


def test_unknown_code_is_404(client: TestClient):
    assert client.get("/api/appointments/AAA-AAA").json()["error"] == "appointment_not_found"
    assert client.get("/api/appointments/xyz").status_code == 404


# ------------------------------------------------------------------ check-in


def test_check_in_gives_a_booked_ticket_and_the_same_ticket_again(client: TestClient, clock: Clock):
    code = book(client, "09:00", "2026-12-07").json()["code"]
    clock.now = MONDAY.replace(hour=8, minute=40)
    r = client.post(f"/api/appointments/{code}/check-in", json={}, headers=KIOSK)
    assert r.status_code == 201, r.text
    t = r.json()
    assert t["booked"] is True and t["label"] == "H1001" and t["service"] == "CT"
    assert t["slot_start"].startswith("2026-12-07T09:00")
    again = client.post(f"/api/appointments/{code}/check-in", json={}, headers=KIOSK)
    assert again.status_code == 200 and again.json()["id"] == t["id"]
    assert client.get(f"/api/appointments/{code}").json()["state"] == "checked_in"
    status = client.get(f"/api/tickets/{t['token']}").json()
    assert status["booked"] is True and "appointment" not in status


def test_the_kiosk_the_phone_page_and_both_status_answers_give_one_position(client: TestClient, clock: Clock):
    """Every answer gives the same figures, and they follow the README's interleave rule."""
    early = book(client, "09:00", "2026-12-07", phone="0911000001").json()["code"]
    due = book(client, "08:30", "2026-12-07", phone="0911000002").json()["code"]
    clock.now = MONDAY.replace(hour=8, minute=25)
    walk_ins = [client.post("/api/tickets", json={"service": "CT"}, headers=KIOSK).json() for _ in range(3)]
    kiosk = {due: client.post(f"/api/appointments/{due}/check-in", json={}, headers=KIOSK).json()}
    clock.now = MONDAY.replace(hour=8, minute=31)  # 08:30 is due; 09:00 waits for its slot
    kiosk[early] = client.post(f"/api/appointments/{early}/check-in", json={}, headers=KIOSK).json()
    expected = {
        # interleave 2: the three walk-ins came first, two of them go before the due appointment.
        due: 2,
        # called before its slot only when nobody else waits: after the 3 walk-ins and 08:30.
        early: 4,
    }
    for code, ahead in expected.items():
        token = kiosk[code]["token"]
        by_token = client.get(f"/api/tickets/{token}").json()
        by_code = client.get(f"/api/appointments/{code}").json()["ticket"]
        again = client.post(f"/api/appointments/{code}/check-in", json={}, headers=KIOSK).json()
        figures = {(x["people_ahead"], x["estimated_wait_s"]) for x in (by_token, by_code, again)}
        assert figures == {(ahead, by_token["estimated_wait_s"])}, (code, figures)
    # ...and the walk-ins' own positions count the due appointment between them.
    assert [client.get(f"/api/tickets/{w['token']}").json()["people_ahead"] for w in walk_ins] == [0, 1, 3]


def test_check_in_too_early_says_when_it_opens(client: TestClient, clock: Clock):
    code = book(client, "09:00", "2026-12-07").json()["code"]
    clock.now = MONDAY.replace(hour=8, minute=10)
    r = client.post(f"/api/appointments/{code}/check-in", json={}, headers=KIOSK)
    assert (r.status_code, r.json()["error"]) == (409, "too_early")
    assert r.json()["details"]["opens_at"].startswith("2026-12-07T08:30")
    assert "08:30" in r.json()["message"]


def test_check_in_too_late_offers_a_walk_in(client: TestClient, clock: Clock):
    code = book(client, "09:00", "2026-12-07").json()["code"]
    clock.now = MONDAY.replace(hour=9, minute=16)
    r = client.post(f"/api/appointments/{code}/check-in", json={}, headers=KIOSK)
    assert (r.status_code, r.json()["error"]) == (409, "too_late")
    assert r.json()["details"]["walk_in"] is True


def test_check_in_needs_the_kiosk_token(client: TestClient):
    code = book(client).json()["code"]
    assert client.post(f"/api/appointments/{code}/check-in", json={}).status_code == 401


def test_a_cancelled_appointment_cannot_check_in(client: TestClient, clock: Clock):
    code = book(client, "09:00", "2026-12-07").json()["code"]
    client.post(f"/api/appointments/{code}/cancel", json={"phone_last4": "5678"})
    clock.now = MONDAY.replace(hour=8, minute=50)
    r = client.post(f"/api/appointments/{code}/check-in", json={}, headers=KIOSK)
    assert (r.status_code, r.json()["error"]) == (409, "appointment_cancelled")


# ------------------------------------------------------------------ staff


def sign_in(client: TestClient, user: str) -> None:
    assert client.post("/api/login", json={"username": user, "password": PASSWORD}).status_code == 200


def test_staff_list_shows_names_and_phones_per_slot(client: TestClient):
    code = book(client).json()["code"]
    assert client.get("/api/staff/appointments", params={"date": "2026-12-08"}).status_code == 401
    sign_in(client, "clerk1")
    r = client.get("/api/staff/appointments", params={"date": "2026-12-08"})
    assert r.status_code == 200
    ct = r.json()["services"][0]
    slot = next(s for s in ct["slots"] if s["start"] == "09:00")
    assert slot["appointments"][0]["code"] == code
    assert slot["appointments"][0]["name"] == "Nguyễn Văn An" and slot["appointments"][0]["phone"] == "0912345678"


def test_staff_list_shows_the_coming_days_with_their_active_bookings(tmp_path: Path, clock: Clock):
    # Monday 7 Dec 2026, booking 3 days ahead, Thursday 10 Dec closed: Mon, Tue, Wed (no Thursday).
    with make_client(tmp_path, clock, ct={"days_ahead": 3}, office={"closed_days": ["2026-12-10"]}) as client:
        book(client, "09:00", "2026-12-08", phone="0911000001")
        book(client, "09:15", "2026-12-08", phone="0911000002", service="HT")
        gone = book(client, "09:30", "2026-12-09", phone="0911000003").json()["code"]
        client.post(f"/api/appointments/{gone}/cancel", json={"phone_last4": "0003"})
        sign_in(client, "clerk1")
        upcoming = client.get("/api/staff/appointments", params={"date": "2026-12-09"}).json()["upcoming"]
        # HT keeps the default 14 days ahead: the horizon is the longest of the listed services'.
        assert upcoming[:3] == [
            {"date": "2026-12-07", "booked": 0},
            {"date": "2026-12-08", "booked": 2},
            {"date": "2026-12-09", "booked": 0},  # cancelled bookings are not counted
        ]
        assert "2026-12-10" not in [d["date"] for d in upcoming]  # closed day
        assert "2026-12-12" not in [d["date"] for d in upcoming]  # Saturday: no booking window
        assert upcoming[-1]["date"] == "2026-12-21"
        only_ct = client.get("/api/staff/appointments", params={"service": "CT"}).json()["upcoming"]
        assert only_ct == [
            {"date": "2026-12-07", "booked": 0},
            {"date": "2026-12-08", "booked": 1},
            {"date": "2026-12-09", "booked": 0},
        ]


def test_staff_book_for_a_caller_and_cancel_are_audited(client: TestClient, tmp_path: Path):
    sign_in(client, "clerk1")
    r = client.post(
        "/api/staff/appointments",
        json={"service": "HT", "date": "2026-12-08", "start": "14:00", "name": "Lê Văn Cường", "phone": "0987654321"},
    )
    assert r.status_code == 201, r.text
    code = r.json()["code"]
    assert r.json()["name"] == "Lê Văn Cường"
    r = client.post(f"/api/staff/appointments/{code}/cancel", json={"reason": "Công dân gọi điện hủy"})
    assert r.status_code == 200 and r.json()["state"] == "cancelled" and r.json()["cancelled_by"] == "clerk1"
    assert r.json()["status_url"].endswith(f"/book/{code[:3]}-{code[3:]}")
    with sqlite3.connect(tmp_path / "m.db") as conn:
        actions = [a for (a,) in conn.execute("SELECT action FROM audit ORDER BY id")]
    assert actions[-2:] == ["appointment_book", "appointment_cancel"]


def test_admin_closes_a_slot(client: TestClient):
    sign_in(client, "clerk1")
    body = {"service": "CT", "date": "2026-12-08", "start": "09:00", "closed": True}
    assert client.post("/api/staff/appointments/slots", json=body).status_code == 403
    sign_in(client, "boss")
    assert client.post("/api/staff/appointments/slots", json=body).status_code == 200
    slot = next(
        s
        for s in client.get("/api/appointments/slots", params={"service": "CT", "date": "2026-12-08"}).json()["slots"]
        if s["start"] == "09:00"
    )
    assert slot["free"] == 0 and slot["closed"] is True
    refused = book(client).json()
    assert refused["error"] == "slot_full" and refused["details"]["next_free"][0]["start"] == "09:15"
    assert "tạm đóng" in refused["message"] and "closed" in refused["message_en"]  # not "full"


def test_the_printed_ticket_carries_the_slot_time(tmp_path: Path, clock: Clock):
    from printer.render import TicketInfo, render_ticket, ticket_text
    from queue_server.config import Printer
    from queue_server.printing.jobs import ticket_info

    with make_client(tmp_path, clock) as client:
        code = book(client, "09:00", "2026-12-07").json()["code"]
        clock.now = MONDAY.replace(hour=8, minute=45)
        assert client.post(f"/api/appointments/{code}/check-in", json={}, headers=KIOSK).status_code == 201
        office = client.app.state.office  # type: ignore[attr-defined]
        ticket = next(t for t in office.engine.tickets.values() if t.booked).to_dict()
        info = TicketInfo.from_json(
            ticket_info(office.config, Printer(id="p", url="png:///tmp"), ticket, "http://x/t/1")
        )
        text = ticket_text(info)
        assert "LỊCH HẸN 09:00" in text and "H1001" in text
        assert render_ticket(info, 384).width == 384
        walk_in = client.post("/api/tickets", json={"service": "CT"}, headers=KIOSK).json()
        plain = next(t for t in office.engine.tickets.values() if t.id == walk_in["id"]).to_dict()
        assert "LỊCH HẸN" not in ticket_text(
            TicketInfo.from_json(ticket_info(office.config, Printer(id="p", url="png:///tmp"), plain, "http://x/t/2"))
        )


# ------------------------------------------------------------------ reports


def test_report_per_service_and_day_counts_waits_and_on_time_share(tmp_path: Path, clock: Clock):
    with make_client(tmp_path, clock) as client:
        on_time = book(client, "08:30", "2026-12-07", phone="0911000001").json()["code"]
        late_call = book(client, "08:30", "2026-12-07", phone="0911000002").json()["code"]
        book(client, "09:00", "2026-12-07", phone="0911000003")  # never comes: absent
        gone = book(client, "09:00", "2026-12-07", phone="0911000004").json()["code"]
        client.post(f"/api/appointments/{gone}/cancel", json={"phone_last4": "0004"})
        book(client, "09:00", "2026-12-07", service="HT", phone="0911000005")
        clock.now = MONDAY.replace(hour=8, minute=20)
        for code in (on_time, late_call):
            assert client.post(f"/api/appointments/{code}/check-in", json={}, headers=KIOSK).status_code == 201
        assert (
            client.post("/api/login", json={"username": "clerk1", "password": PASSWORD, "counter": 1}).status_code
            == 200
        )
        clock.now = MONDAY.replace(hour=8, minute=35)  # 5 minutes into the slot
        assert client.post("/api/counters/1/next", json={}).json()["ticket"]["label"] == "H1001"
        clock.now = MONDAY.replace(hour=8, minute=50)  # 20 minutes into the slot
        assert client.post("/api/counters/1/next", json={}).json()["ticket"]["label"] == "H1002"
        clock.now = MONDAY.replace(hour=12)
        assert client.get("/api/reports/appointments", params={"from": "07/12/2026"}).status_code == 403
        sign_in(client, "boss")
        r = client.get("/api/reports/appointments", params={"from": "07/12/2026", "to": "2026-12-07"})
        assert r.status_code == 200, r.text
        report = r.json()
        ct = next(row for row in report["rows"] if row["service"] == "CT")
        assert (ct["booked"], ct["checked_in"], ct["absent"], ct["cancelled"]) == (4, 2, 1, 1)
        assert ct["wait"]["count"] == 2 and ct["wait"]["mean"] == (5 * 60 + 20 * 60) / 2
        assert ct["on_time_share"] == 0.5
        ht = next(row for row in report["rows"] if row["service"] == "HT")
        assert (ht["booked"], ht["absent"]) == (1, 1)
        assert report["total"]["booked"] == 5
        csv_text = client.get(
            "/api/reports/appointments/export", params={"from": "07/12/2026", "format": "csv"}
        ).content.decode("utf-8-sig")
        lines = csv_text.splitlines()
        # The reports' CSV (queue_server.csvout): ";" and decimal commas for Vietnamese Excel.
        assert lines[0].startswith("Ngày;Lĩnh vực;Đã đặt")
        assert lines[1].startswith("07/12/2026;Chứng thực;4;2;1;1;2;12,5;")  # waited 12.5 minutes on average
        r = client.get(
            "/api/reports/appointments/export", params={"from": "07/12/2026", "format": "csv", "dialect": "comma"}
        )
        assert r.status_code == 200 and not r.content.startswith("\ufeff".encode())
        assert r.content.decode("utf-8").splitlines()[1].startswith("07/12/2026,Chứng thực,4,2,1,1,2,12.5,")
        r = client.get(
            "/api/reports/appointments/export", params={"from": "07/12/2026", "format": "csv", "dialect": "tab"}
        )
        assert r.status_code == 400 and r.json()["error"] == "bad_dialect"
        xlsx = client.get("/api/reports/appointments/export", params={"from": "07/12/2026"})
        assert xlsx.status_code == 200 and xlsx.content[:2] == b"PK"


def test_appointment_tickets_can_have_their_own_number_range(tmp_path: Path, clock: Clock):
    with make_client(tmp_path, clock, ct={"range": [6001, 6999], "prefix": ""}) as client:
        code = book(client, "08:30", "2026-12-07").json()["code"]
        clock.now = MONDAY.replace(hour=8, minute=20)
        walk_in = client.post("/api/tickets", json={"service": "CT"}, headers=KIOSK).json()
        booked = client.post(f"/api/appointments/{code}/check-in", json={}, headers=KIOSK).json()
        assert (walk_in["label"], booked["label"]) == ("1001", "6001")


def test_a_booking_range_overlapping_a_service_range_is_refused():
    from queue_server.errors import ConfigError

    with pytest.raises(ConfigError) as e:
        booking_config(ct={"range": [1901, 1999]})
    assert e.value.key == "services[0].booking.range"
    with pytest.raises(ConfigError) as e:
        booking_config(ct={"windows": {"mon": ["06:00-08:00"]}})
    assert e.value.key == "services[0].booking.windows.mon[0]"
