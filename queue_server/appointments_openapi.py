"""The declared bodies of the appointment endpoints (``queue_server.appointments_api``) and
their OpenAPI description: the request bodies are parsed with these declarations
(``schemas.parse``), and the document's schemas come from them."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from msgspec import Meta, Struct

from .appointments import NAME, PHONE
from .openapi import ADMIN, KIOSK, STAFF, operation, path_param, query_param
from .report_routes import DIALECT_PARAM
from .schemas import Body, Code, Day, Empty, Issued, Last4, Summary, Time, ref

DATE = {"type": "string", "format": "date", "description": "YYYY-MM-DD"}
CODE = path_param("code", {"type": "string", "description": "Booking code, e.g. K7M-2QX (dash optional)"})


# --------------------------------------------------------------------------- requests


class Booking(Body):
    service: Code
    date: Day
    start: Time
    name: Annotated[str, Meta(max_length=100, pattern=NAME, description="2 to 100 characters")]
    phone: Annotated[
        str, Meta(max_length=20, pattern=PHONE, description="Vietnamese number, e.g. 0912 345 678 or +84912345678")
    ]


class OwnerCancel(Body):
    phone_last4: Last4


class Move(Body):
    phone_last4: Last4
    date: Day
    start: Time


class StaffCancel(Body):
    reason: Annotated[str, Meta(max_length=200)] | None = None


class SlotClosure(Body):
    service: Code
    date: Day
    start: Time
    closed: bool


# --------------------------------------------------------------------------- answers


class Slot(Struct, kw_only=True):
    start: str
    end: str
    capacity: int
    free: int
    booked: int = 0
    closed: bool = False


class CounterName(Struct, kw_only=True):
    number: int
    name: str
    name_en: str = ""


class Appointment(Struct, kw_only=True):
    """An appointment as anyone holding its code sees it: never the name or the phone."""

    code: Annotated[str, Meta(min_length=6, max_length=6)]
    code_display: str
    service: str
    date: str
    start: str
    end: str
    state: Literal["booked", "checked_in", "cancelled"]
    counters: list[CounterName]
    papers: str
    papers_en: str
    service_name: str = ""
    service_name_en: str = ""
    check_in_from: str | None = None
    check_in_until: str | None = None
    status_url: str = ""
    ticket: dict[str, Any] | None = None
    office_name: str = ""
    office_name_en: str = ""


class Booked(Appointment, kw_only=True):
    """A booking just made, moved or cancelled, with the page that follows it."""

    status_url: str


class StaffAppointment(Appointment, kw_only=True):
    """An appointment as staff see it: with the name and the phone number."""

    name: str | None = None
    phone: str | None = None
    created_by: str | None = None
    created_at: str | None = None
    cancelled_at: str | None = None
    cancelled_by: str | None = None
    cancel_reason: str | None = None
    checked_in_at: str | None = None
    ticket_id: int | None = None


class StaffBooked(StaffAppointment, kw_only=True):
    status_url: str


class CheckedIn(Issued, kw_only=True):
    """A ticket issued at check-in, marked booked, with its appointment."""

    booked: Literal[True]
    slot_start: str
    appointment: Appointment


class BookingService(Struct, kw_only=True):
    code: str
    days: list[str]
    name: str = ""
    name_en: str = ""
    slot_minutes: int = 0
    papers: str = ""
    papers_en: str = ""


class BookingServices(Struct, kw_only=True):
    services: list[BookingService]
    keep_days: int
    office_name: str = ""
    office_name_en: str = ""


class DaySlots(Struct, kw_only=True):
    service: str
    date: str
    slots: list[Slot]


class StaffSlot(Slot, kw_only=True):
    appointments: list[StaffAppointment] = []


class StaffService(Struct, kw_only=True):
    code: str
    slots: list[StaffSlot]
    name: str = ""
    name_en: str = ""
    open: bool = True


class UpcomingDay(Struct, kw_only=True):
    """A day from today to the end of the booking horizon, with its active bookings."""

    date: str
    booked: int


class StaffDay(Struct, kw_only=True):
    date: str
    services: list[StaffService]
    closed_day: bool = False
    upcoming: list[UpcomingDay] = []


class SlotClosed(Struct, kw_only=True):
    service: str
    date: str
    start: str
    closed: bool


class AppointmentRow(Struct, kw_only=True):
    date: str | None
    service: str | None
    label: str
    booked: int
    checked_in: int
    absent: int
    cancelled: int
    called: int
    on_time: int
    wait: Summary
    on_time_share: float | None


class AppointmentReport(Struct, kw_only=True, rename={"from_": "from"}):
    office: str
    from_: str
    to: str
    on_time_minutes: int
    rows: list[AppointmentRow]
    total: AppointmentRow


_RANGE = [
    query_param("from", {"type": "string"}, "First day (dd/mm/yyyy or yyyy-mm-dd; default today)"),
    query_param("to", {"type": "string"}, "Last day (default: from)"),
]
_XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def _paths() -> dict[str, Any]:
    return {
        "/api/reports/appointments": {
            "get": operation(
                "Admin: appointments per service and day (booked, checked in, absent, cancelled; wait from the slot "
                "start to the call; share called within 10 minutes)",
                ref(AppointmentReport),
                errors=(400, 401, 403),
                security=ADMIN,
                params=_RANGE,
            )
        },
        "/api/reports/appointments/export": {
            "get": {
                **operation(
                    "Admin: the appointment report as CSV or XLSX",
                    {"type": "string", "format": "binary"},
                    errors=(400, 401, 403),
                    security=ADMIN,
                    params=[*_RANGE, query_param("format", {"enum": ["csv", "xlsx"]}, "Default xlsx"), DIALECT_PARAM],
                    media=_XLSX,
                ),
            }
        },
    }


def _with_csv(paths: dict[str, Any]) -> dict[str, Any]:
    ok = paths["/api/reports/appointments/export"]["get"]["responses"]["200"]["content"]
    ok["text/csv"] = {"schema": {"type": "string"}}
    return paths


def _more() -> dict[str, Any]:
    return {
        "/api/appointments/services": {
            "get": operation(
                "Services open for booking, with their next open days (the /book page)",
                ref(BookingServices),
            )
        },
        "/api/appointments/slots": {
            "get": operation(
                "The slots of one day still ahead, with capacity and free seats (a closed slot has free 0)",
                ref(DaySlots),
                errors=(400, 404, 409),
                # Both are needed: without either the answer is a 400 naming the field.
                params=[
                    {
                        **query_param("service", {"type": "string", "minLength": 1}, "Service code, e.g. CT"),
                        "required": True,
                    },
                    {**query_param("date", DATE), "required": True},
                ],
            )
        },
        "/api/appointments": {
            "post": operation(
                "Book a slot (public; limited per phone number and per device). 409 slot_full carries "
                "details.next_free (the next free slots); 409 phone_limit, already_booked, day_past, closed_day, "
                "too_far_ahead, slot_past, booking_closed; 429 address_limit / too_many_requests",
                ref(Booked),
                status="201",
                body=ref(Booking),
                errors=(400, 404, 409, 413, 429, 503),
            )
        },
        "/api/appointments/{code}": {
            "get": operation(
                "An appointment's status (no name or phone number)", ref(Appointment), errors=(404,), params=[CODE]
            )
        },
        "/api/appointments/{code}/ics": {
            "get": operation(
                "The appointment as an iCalendar event (Add to calendar)",
                {"type": "string"},
                errors=(404,),
                params=[CODE],
                media="text/calendar",
            )
        },
        "/api/appointments/{code}/cancel": {
            "post": operation(
                "Cancel, proving ownership with the phone number's last 4 digits (409 phone_mismatch; "
                "429 after 5 wrong tries; 409 appointment_past once check-in has closed)",
                ref(Booked),
                body=ref(OwnerCancel),
                errors=(400, 404, 409, 413, 429, 503),
                params=[CODE],
            )
        },
        "/api/appointments/{code}/move": {
            "post": operation(
                "Move to another slot of the same service (keeps the code; 409 appointment_past once "
                "check-in has closed)",
                ref(Booked),
                body=ref(Move),
                errors=(400, 404, 409, 413, 429, 503),
                params=[CODE],
            )
        },
        "/api/appointments/{code}/check-in": {
            "post": operation(
                "Kiosk check-in: a ticket marked booked (201; 200 with the same ticket on repeat). 409 too_early "
                "(details.opens_at), too_late (details.walk_in: take a regular ticket), appointment_cancelled",
                ref(CheckedIn),
                status="201",
                body=ref(Empty),
                errors=(400, 401, 404, 409, 413, 503),
                security=KIOSK,
                params=[CODE],
                again="Checked in before: the same ticket",
            )
        },
        "/api/staff/appointments": {
            "get": operation(
                "Staff: one day's appointments per service and slot, with names and phones; the coming days "
                "with their booking counts",
                ref(StaffDay),
                errors=(400, 401, 404),
                security=STAFF,
                params=[query_param("date", DATE, "Default: today"), query_param("service", {"type": "string"})],
            ),
            "post": operation(
                "Staff: book for a citizen who calls or comes by (no per-phone limit; audited)",
                ref(StaffBooked),
                status="201",
                body=ref(Booking),
                errors=(400, 401, 404, 409, 413, 503),
                security=STAFF,
            ),
        },
        "/api/staff/appointments/slots": {
            "post": operation(
                "Admin: close (or reopen) a slot; no new bookings in a closed slot (audited)",
                ref(SlotClosed),
                body=ref(SlotClosure),
                errors=(400, 401, 403, 404, 413, 503),
                security=ADMIN,
            )
        },
        "/api/staff/appointments/{code}/cancel": {
            "post": operation(
                "Staff: cancel an appointment (audited, with an optional reason)",
                ref(StaffBooked),
                body=ref(StaffCancel),
                errors=(400, 401, 404, 409, 413, 503),
                security=STAFF,
                params=[CODE],
            )
        },
    }


openapi_paths = _with_csv({**_paths(), **_more()})
