"""HTTP endpoints for appointments: /book's public API, the kiosk's check-in, and the staff's
list, booking for a caller, cancel and slot closing.
(Over 400 lines: the public, kiosk and staff routes of booking share one body parser, one
answer shape and one write path; the rules live in ``queue_server.appointments`` (booking)
and ``Engine.check_in`` (the queue).)

(Over 400 lines: every appointment route with its input checks; the OpenAPI lives in appointments_openapi.)
"""

from __future__ import annotations

import asyncio
import datetime as dt
import hashlib
import json
import logging
import secrets
import time
from collections import defaultdict, deque
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from starlette.requests import Request
from starlette.responses import FileResponse, Response
from starlette.routing import Route

from . import appointment_counts, appointment_ics, appointment_report, auth, reports
from . import appointments as ap
from .answers import Answer
from .api import issued, read_json, status_url
from .appointments_openapi import Booking, Move, OwnerCancel, SlotClosure, StaffCancel
from .errors import BadRequest, Conflict, NotFound, TooManyRequests
from .office import Office, Outcome, public_ticket
from .report_routes import InDialect, download, export_dialect, export_format
from .schemas import Empty, parse

log = logging.getLogger("motcua.appointments")
DISPLAY_DIR = Path(__file__).resolve().parent.parent / "display"
# Booking attempts (good or bad) one address may make in ATTEMPT_WINDOW seconds; wrong
# last-4 digits one code may take before it is locked for the window.
MAX_ATTEMPTS = 100
MAX_WRONG_DIGITS = 5
ATTEMPT_WINDOW = 600.0


class Throttle:
    """At most ``limit`` hits per key in ``window`` seconds (monotonic clock)."""

    def __init__(self, limit: int, window: float = ATTEMPT_WINDOW) -> None:
        self.limit = limit
        self.window = window
        self.hits: dict[str, deque[float]] = defaultdict(deque)

    def full(self, key: str) -> bool:
        q = self.hits.get(key)
        if not q:
            return False
        now = time.monotonic()
        while q and now - q[0] > self.window:
            q.popleft()
        return len(q) >= self.limit

    def hit(self, key: str) -> None:
        self.hits[key].append(time.monotonic())


def _office(request: Request) -> Office:
    return request.app.state.office  # type: ignore[no-any-return]


def _throttles(request: Request) -> tuple[Throttle, Throttle]:
    state = request.app.state
    if not hasattr(state, "booking_throttles"):
        state.booking_throttles = (Throttle(MAX_ATTEMPTS), Throttle(MAX_WRONG_DIGITS))
    return state.booking_throttles  # type: ignore[no-any-return]


def _client(request: Request) -> str:
    address = request.client.host if request.client else "?"
    state = request.app.state
    if not hasattr(state, "booking_salt"):
        # The cookie key (created at start) salts the hash: stable across restarts, unknown outside.
        config = state.office.config
        key = config.resolve(config.server.secret_file)
        secret = key.read_text().strip() if key.is_file() else config.office.name
        state.booking_salt = hashlib.sha256(secret.encode()).hexdigest()
    return ap.address_key(state.booking_salt, address)


def _code(request: Request) -> str:
    code = ap.parse_code(request.path_params["code"])
    if code is None:
        raise NotFound(
            "Không tìm thấy lịch hẹn với mã này.", "No appointment with this code.", key="appointment_not_found"
        )
    return code


def book_url(request: Request, code: str) -> str:
    base = request.app.state.office.config.server.public_url.rstrip("/") or str(request.base_url).rstrip("/")
    return f"{base}/book/{ap.show_code(code)}"


async def _read(office: Office, fn: Any, *args: Any) -> Any:
    """Run a read on a read-only connection of its own, off the event loop (``Office.read``):
    it sees the last commit and never shares the writer's connection."""
    return await office.read(fn, *args)


async def _write(office: Office, fn: Any) -> Any:
    return await office.write(fn)


@dataclass(frozen=True)
class DayCounts:
    """Today's booking counts per service and slot, kept with the office for the snapshot."""

    date: str
    counts: dict[str, dict[str, int]]


def _day_counts(office: Office) -> dict[str, Any] | None:
    found = office.part(DayCounts)
    return None if found is None else {"date": found.date, "counts": found.counts}


def _push(office: Office, kind: str, found: dict[str, Any], counts: dict[str, dict[str, int]]) -> None:
    """Staff screens get the appointment; public screens only the day's counts."""
    staff = {"type": "appointment", "kind": kind, "appointment": ap.staff_view(office.config, found)}
    public = {"type": "appointment", "kind": kind, "date": found["date"], "counts": counts}
    today = ap.local_today(office.config, office.clock()).isoformat()
    if found["date"] == today:
        office.set_part(DayCounts(today, counts))
    office.publish({"staff": json.dumps(staff, ensure_ascii=False), "public": json.dumps(public, ensure_ascii=False)})


def _booking_body(data: dict[str, Any]) -> tuple[str, dt.date, dt.time, str, str]:
    body = parse(data, Booking)
    service, day, start = body.service, body.date, ap.parse_time(body.start)
    name = ap.clean_name(body.name)
    if name is None:
        raise BadRequest(
            "Hãy nhập họ tên (2 đến 100 ký tự).", "Enter a name (2 to 100 characters).", key="bad_field", field="name"
        )
    phone = ap.normalize_phone(body.phone)
    if phone is None:
        raise BadRequest(
            "Số điện thoại không hợp lệ (ví dụ 0912 345 678).",
            "Invalid phone number (e.g. 0912 345 678).",
            key="bad_field",
            field="phone",
        )
    return service, day, start, name, phone


# ---------------------------------------------------------------------- public


async def booking_services(request: Request) -> Answer:
    """What /book offers: the services open for booking and their next open days."""
    office = _office(request)
    config, now = office.config, office.clock()
    services = [
        {
            "code": s.code,
            "name": s.name,
            "name_en": s.name_en or s.name,
            "slot_minutes": s.booking.slot_minutes,
            "papers": s.booking.papers,
            "papers_en": s.booking.papers_en,
            "days": ap.open_days(config, s, now),
        }
        for s in config.services
        if s.booking.open
    ]
    return Answer(
        {
            "office_name": config.office.name,
            "office_name_en": config.office.name_en,
            "keep_days": config.appointments.keep_days,
            "services": services,
        }
    )


async def slots(request: Request) -> Answer:
    office = _office(request)
    config, now = office.config, office.clock()
    code = request.query_params.get("service")
    if not code:
        raise BadRequest(
            "Hãy chọn lĩnh vực (service=…).", "Name the service (service=…).", key="bad_field", field="service"
        )
    service = ap.find_service(config, code[:16])
    day = ap.parse_day(request.query_params.get("date"))
    ap.check_day(config, service, day, now)
    found = await _read(office, ap.slots_view, config, service, day, now)
    return Answer({"service": service.code, "date": day.isoformat(), "slots": found})


async def create(request: Request) -> Answer:
    office = _office(request)
    attempts, _ = _throttles(request)
    client = _client(request)
    if attempts.full(client):
        raise TooManyRequests(
            "Thao tác quá nhiều lần: mời thử lại sau ít phút.",
            "Too many attempts: please try again in a few minutes.",
            key="too_many_requests",
        )
    attempts.hit(client)
    service, day, start, name, phone = _booking_body(await read_json(request))
    req = ap.Request(service, day, start, name, phone, client=client)
    found, counts = await _book(office, req)
    return Answer(_created(request, office, found), status_code=201)


async def _book(office: Office, req: ap.Request) -> tuple[dict[str, Any], dict[str, dict[str, int]]]:
    config, now = office.config, office.clock()

    def write(conn: Any) -> tuple[dict[str, Any], dict[str, dict[str, int]]]:
        found = ap.book(conn, config, req, now)
        return found, appointment_counts.day_counts(conn, found["date"])

    found, counts = await _write(office, write)
    _push(office, "appointment_booked", found, counts)
    return found, counts


def _created(request: Request, office: Office, found: dict[str, Any]) -> dict[str, Any]:
    """The public view with the page that follows the booking (its ``status_url``)."""
    view = ap.public_view(office.config, found)
    view["status_url"] = book_url(request, found["code"])
    return view


async def show(request: Request) -> Answer:
    office = _office(request)
    found = await _read(office, ap.get, _code(request))
    view = ap.public_view(office.config, found)
    view["status_url"] = book_url(request, found["code"])
    ticket = office.find_ticket(found["ticket_id"])
    view["ticket"] = None
    if ticket is not None:
        ahead, wait = office.position(ticket)
        view["ticket"] = {
            **(public_ticket(ticket.to_dict()) or {}),
            "people_ahead": ahead,
            "estimated_wait_s": wait,
            "status_url": status_url(request, ticket.token),
        }
    return Answer(view)


async def calendar(request: Request) -> Response:
    office = _office(request)
    found = await _read(office, ap.get, _code(request))
    name = f"lich-hen-{ap.show_code(found['code'])}.ics"
    return Response(
        appointment_ics.ics(office.config, found, office.clock()),
        media_type="text/calendar; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )


def _owner_attempt(request: Request, code: str) -> Throttle:
    _, wrong = _throttles(request)
    if wrong.full(code):
        raise TooManyRequests(
            "Nhập sai quá nhiều lần: mời thử lại sau 10 phút.",
            "Too many wrong attempts: please try again in 10 minutes.",
            key="too_many_requests",
        )
    return wrong


async def cancel(request: Request) -> Answer:
    office = _office(request)
    code = _code(request)
    wrong = _owner_attempt(request, code)
    last4 = parse(await read_json(request), OwnerCancel).phone_last4
    config, now = office.config, office.clock()

    def write(conn: Any) -> tuple[dict[str, Any], dict[str, dict[str, int]]]:
        found = ap.cancel(conn, config, code, now, phone_last4=last4)
        return found, appointment_counts.day_counts(conn, found["date"])

    try:
        found, counts = await _write(office, write)
    except Conflict as e:
        if e.key == "phone_mismatch":
            wrong.hit(code)
        raise
    _push(office, "appointment_cancelled", found, counts)
    return Answer(_created(request, office, found))


async def move(request: Request) -> Answer:
    office = _office(request)
    code = _code(request)
    wrong = _owner_attempt(request, code)
    body = parse(await read_json(request), Move)
    last4, day, start = body.phone_last4, body.date, ap.parse_time(body.start)
    config, now = office.config, office.clock()

    def write(conn: Any) -> tuple[dict[str, Any], dict[str, dict[str, int]]]:
        found = ap.move(conn, config, code, last4, day, start, now)
        return found, appointment_counts.day_counts(conn, found["date"])

    try:
        found, counts = await _write(office, write)
    except Conflict as e:
        if e.key == "phone_mismatch":
            wrong.hit(code)
        raise
    _push(office, "appointment_booked", found, counts)
    return Answer(_created(request, office, found))


async def check_in(request: Request) -> Answer:
    office = _office(request)
    kiosk = auth.require_kiosk(request, office.config)
    code = _code(request)
    parse(await read_json(request), Empty)
    found = await _read(office, ap.get, code)
    if found["state"] == "cancelled":
        raise Conflict(
            "Lịch hẹn này đã bị hủy. Mời lấy số thường.",
            "This appointment was cancelled. Please take a regular number.",
            key="appointment_cancelled",
            walk_in=True,
            service=found["service"],
        )
    config = office.config
    day = dt.date.fromisoformat(found["date"])
    slot_start = ap.slot_datetime(config, day, ap.parse_time(found["start"]))
    token = secrets.token_urlsafe(16)
    before = office.ticket_for_appointment(code)
    if found["state"] == "checked_in" and before is None:
        raise Conflict(
            "Lịch hẹn này đã được xác nhận trước đó.",
            "This appointment was already checked in.",
            key="appointment_checked_in",
        )
    printing = request.app.state.printing
    print_writer = printing.job_writer(kiosk, lambda t: status_url(request, t)) if printing else None

    def extra(conn: Any, events: list[Any]) -> None:
        for e in events:
            if e.kind == "ticket_issued" and e.ticket and e.ticket.get("appointment") == code:
                ap.mark_checked_in(conn, code, e.ticket["id"], e.at)
        if print_writer is not None:
            print_writer(conn, events)

    ticket = await office.execute_outcome(
        lambda engine, now: Outcome(
            *engine.check_in(
                now, service=found["service"], code=code, slot_start=slot_start, token=token, kiosk=kiosk.id
            )
        ),
        extra=extra,
    )
    if before is None:
        found = await _read(office, ap.get, code)
        counts = await _read(office, appointment_counts.day_counts, found["date"])
        _push(office, "appointment_checked_in", found, counts)
    ahead, wait = office.position(ticket)
    result = {
        **issued(request, office, ticket, ahead=ahead, wait=wait),
        "booked": True,
        "slot_start": ticket.to_dict()["slot_start"],
        "appointment": ap.public_view(config, found),
    }
    return Answer(result, status_code=200 if before is not None else 201)


# ---------------------------------------------------------------------- staff


async def staff_list(request: Request) -> Answer:
    """Appointments of one day, per service and slot (with names and phones), and the coming
    days with their booking counts (``upcoming``)."""
    office = _office(request)
    auth.require_user(request, office)
    config, now = office.config, office.clock()
    text = request.query_params.get("date")
    day = ap.parse_day(text) if text else ap.local_today(config, now)
    only = request.query_params.get("service")
    codes = [s.code for s in config.services if s.booking.open]
    if only:
        if only not in {s.code for s in config.services}:
            raise NotFound(f"Không có lĩnh vực {only[:16]}.", f"No service {only[:16]}.", key="service_not_found")
        codes = [only]

    def read(conn: Any) -> list[dict[str, Any]]:
        cur = conn.execute("SELECT * FROM appointments WHERE date = ? ORDER BY start, created_at", (day.isoformat(),))
        names = [d[0] for d in cur.description]
        rows = [dict(zip(names, r)) for r in cur.fetchall()]
        closed = {
            (r[0], r[1])
            for r in conn.execute("SELECT service, start FROM appointment_closures WHERE date = ?", (day.isoformat(),))
        }
        out = []
        for code in codes:
            svc = config.service(code)
            slots_out = []
            for s in ap.day_slots(svc, day):
                here = [ap.staff_view(config, r) for r in rows if r["service"] == code and r["start"] == s.key]
                booked = sum(1 for r in here if r["state"] != "cancelled")
                slots_out.append(
                    {
                        "start": s.key,
                        "end": s.end.strftime("%H:%M"),
                        "capacity": ap.bookable(svc),
                        "booked": booked,
                        "closed": (code, s.key) in closed,
                        "free": 0 if (code, s.key) in closed else max(0, ap.bookable(svc) - booked),
                        "appointments": here,
                    }
                )
            out.append(
                {"code": code, "name": svc.name, "name_en": svc.name_en, "open": svc.booking.open, "slots": slots_out}
            )
        return out

    services = await office.read(read)
    upcoming = await office.read(appointment_counts.upcoming_days, config, [config.service(c) for c in codes], now)
    return Answer(
        {
            "date": day.isoformat(),
            "closed_day": config.office.is_closed_day(day),
            "services": services,
            "upcoming": upcoming,
        }
    )


async def staff_create(request: Request) -> Answer:
    office = _office(request)
    user = auth.require_user(request, office)
    service, day, start, name, phone = _booking_body(await read_json(request))
    found, _ = await _book(office, ap.Request(service, day, start, name, phone, staff=user["username"]))
    await office.audit(
        user, "appointment_book", code=found["code"], service=service, date=found["date"], start=found["start"]
    )
    view = ap.staff_view(office.config, found)
    view["status_url"] = book_url(request, found["code"])
    return Answer(view, status_code=201)


async def staff_cancel(request: Request) -> Answer:
    office = _office(request)
    user = auth.require_user(request, office)
    code = _code(request)
    reason = parse(await read_json(request), StaffCancel).reason or ""
    config, now = office.config, office.clock()

    def write(conn: Any) -> tuple[dict[str, Any], dict[str, dict[str, int]]]:
        found = ap.cancel(conn, config, code, now, staff=user["username"], reason=reason)
        return found, appointment_counts.day_counts(conn, found["date"])

    found, counts = await _write(office, write)
    await office.audit(
        user,
        "appointment_cancel",
        code=code,
        service=found["service"],
        date=found["date"],
        start=found["start"],
        reason=reason,
    )
    _push(office, "appointment_cancelled", found, counts)
    view = ap.staff_view(office.config, found)
    view["status_url"] = book_url(request, found["code"])
    return Answer(view)


async def staff_close_slot(request: Request) -> Answer:
    office = _office(request)
    user = auth.require_user(request, office, role="admin")
    body = parse(await read_json(request), SlotClosure)
    service, day, start, closed = body.service, body.date, ap.parse_time(body.start), body.closed
    config, now = office.config, office.clock()
    await _write(office, lambda conn: ap.close_slot(conn, config, service, day, start, closed, user["username"], now))
    await office.audit(
        user,
        "appointment_slot_closed" if closed else "appointment_slot_opened",
        service=service,
        date=day.isoformat(),
        start=start.strftime("%H:%M"),
    )
    return Answer({"service": service, "date": day.isoformat(), "start": start.strftime("%H:%M"), "closed": closed})


# ---------------------------------------------------------------------- reports


async def _report(request: Request) -> dict[str, Any]:
    office = _office(request)
    auth.require_user(request, office, role="admin")
    q = request.query_params
    today = office.day
    start = reports.parse_date(q.get("from") or today)
    end = reports.parse_date(q.get("to") or q.get("from") or today)
    return await office.read_aside(appointment_report.build, office.config, start, end, office.clock())


async def report(request: Request) -> Answer:
    return Answer(await _report(request))


async def report_export(request: Request) -> Response:
    auth.require_user(request, _office(request), role="admin")
    fmt = export_format(request)
    dialect = export_dialect(request)
    return await download(await _report(request), fmt, InDialect(appointment_report, dialect))


# ---------------------------------------------------------------------- timers

# Minutes between two passes deleting expired personal data (one also runs at start).
PURGE_EVERY_S = 600


async def purge(office: Office) -> int:
    """Delete the personal data of appointments past ``appointments.keep_days`` (now)."""
    config, now = office.config, office.clock()
    cleared: int = await _write(office, lambda conn: ap.purge_personal_data(conn, config, now))
    if cleared:
        log.info("deleted the name and phone number of %d past appointments", cleared)
    return cleared


async def refresh_counts(office: Office) -> None:
    day = ap.local_today(office.config, office.clock()).isoformat()
    office.set_part(DayCounts(day, await _read(office, appointment_counts.day_counts, day)))


async def run_forever(office: Office) -> None:
    """Started by the app: personal data deletion, and today's counts for the snapshot."""
    office.snapshot_extras["appointments"] = lambda audience: _day_counts(office)
    while True:
        try:
            await purge(office)
            await refresh_counts(office)
        except Exception:
            log.exception("appointment housekeeping failed")
        await asyncio.sleep(PURGE_EVERY_S)


# ---------------------------------------------------------------------- pages


def _page(name: str) -> Any:
    async def handler(request: Request) -> Response:
        return FileResponse(DISPLAY_DIR / name, headers={"Cache-Control": "no-cache"})

    handler.__name__ = f"page_{name.split('.')[0]}"
    return handler


routes = [
    Route("/api/appointments/services", booking_services, methods=["GET"]),
    Route("/api/appointments/slots", slots, methods=["GET"]),
    Route("/api/appointments", create, methods=["POST"]),
    Route("/api/appointments/{code}", show, methods=["GET"]),
    Route("/api/appointments/{code}/ics", calendar, methods=["GET"]),
    Route("/api/appointments/{code}/cancel", cancel, methods=["POST"]),
    Route("/api/appointments/{code}/move", move, methods=["POST"]),
    Route("/api/appointments/{code}/check-in", check_in, methods=["POST"]),
    Route("/api/staff/appointments", staff_list, methods=["GET"]),
    Route("/api/staff/appointments", staff_create, methods=["POST"]),
    Route("/api/staff/appointments/slots", staff_close_slot, methods=["POST"]),
    Route("/api/staff/appointments/{code}/cancel", staff_cancel, methods=["POST"]),
    Route("/api/reports/appointments", report, methods=["GET"]),
    Route("/api/reports/appointments/export", report_export, methods=["GET"]),
    Route("/book", _page("book.html")),
    Route("/book/{code}", _page("book.html")),
    Route("/appointments", _page("appointments.html")),
]

from .appointments_openapi import openapi_paths  # noqa: E402  (described beside, to keep this module short)

__all__ = ["routes", "openapi_paths"]
