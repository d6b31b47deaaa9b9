"""The OpenAPI description of the appointment endpoints (``queue_server.appointments_api``)."""

from __future__ import annotations

from typing import Any

from .openapi import ISSUED, KIOSK, STAFF, obj, operation, path_param, query_param
from .report_routes import DIALECT_PARAM

DATE = {"type": "string", "pattern": r"^\d{4}-\d{2}-\d{2}$", "description": "YYYY-MM-DD"}
TIME = {"type": "string", "pattern": r"^\d{2}:\d{2}$", "description": "HH:MM, local time"}
CODE = path_param("code", {"type": "string", "description": "Booking code, e.g. K7M-2QX (dash optional)"})
STATE = {"enum": ["booked", "checked_in", "cancelled"]}
SLOT = obj(
    {"start": TIME, "end": TIME, "capacity": {"type": "integer"}, "free": {"type": "integer"}},
    {"booked": {"type": "integer"}, "closed": {"type": "boolean"}},
)
_SLOT_PROPERTIES: dict[str, Any] = SLOT["properties"]
APPOINTMENT = obj(
    {
        "code": {"type": "string", "minLength": 6, "maxLength": 6},
        "code_display": {"type": "string"},
        "service": {"type": "string"},
        "date": DATE,
        "start": TIME,
        "end": TIME,
        "state": STATE,
        "counters": {"type": "array", "items": obj({"number": {"type": "integer"}, "name": {"type": "string"}})},
        "papers": {"type": "string"},
        "papers_en": {"type": "string"},
    },
    {
        "service_name": {"type": "string"},
        "service_name_en": {"type": "string"},
        "check_in_from": {"type": ["string", "null"]},
        "check_in_until": {"type": ["string", "null"]},
        "status_url": {"type": "string"},
        "ticket": {"type": ["object", "null"]},
        "office_name": {"type": "string"},
        "office_name_en": {"type": "string"},
    },
)
_REQUIRED: list[str] = APPOINTMENT["required"]
_PROPERTIES: dict[str, Any] = APPOINTMENT["properties"]
CREATED = {**APPOINTMENT, "required": [*_REQUIRED, "status_url"]}
STAFF_APPOINTMENT = {
    **APPOINTMENT,
    "properties": {
        **_PROPERTIES,
        "name": {"type": ["string", "null"]},
        "phone": {"type": ["string", "null"]},
        "created_by": {"type": ["string", "null"]},
    },
}
BOOKING = {
    "type": "object",
    "required": ["service", "date", "start", "name", "phone"],
    "properties": {
        "service": {"type": "string"},
        "date": DATE,
        "start": TIME,
        "name": {"type": "string", "minLength": 2, "maxLength": 100},
        "phone": {"type": "string", "description": "Vietnamese number, e.g. 0912345678 or +84912345678"},
    },
}
LAST4 = {"phone_last4": {"type": "string", "pattern": r"^\d{4}$"}}
_ISSUED_PROPERTIES: dict[str, Any] = ISSUED["properties"]  # type: ignore[assignment]
CHECKED_IN = {
    **ISSUED,
    "properties": {
        **_ISSUED_PROPERTIES,
        "booked": {"const": True},
        "slot_start": {"type": "string"},
        "appointment": APPOINTMENT,
    },
}


_COUNT = {"type": "integer"}
_SUMMARY = obj({k: {"type": ["number", "null"]} for k in ("mean", "median", "p90", "max")} | {"count": _COUNT})
_REPORT_ROW = obj(
    {
        "date": {"type": ["string", "null"]},
        "service": {"type": ["string", "null"]},
        "label": {"type": "string"},
        **{k: _COUNT for k in ("booked", "checked_in", "absent", "cancelled", "called", "on_time")},
        "wait": _SUMMARY,
        "on_time_share": {"type": ["number", "null"]},
    }
)
_REPORT = obj(
    {
        "office": {"type": "string"},
        "from": DATE,
        "to": DATE,
        "on_time_minutes": _COUNT,
        "rows": {"type": "array", "items": _REPORT_ROW},
        "total": _REPORT_ROW,
    }
)
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
                _REPORT,
                errors=(400, 401, 403),
                security=STAFF,
                params=_RANGE,
            )
        },
        "/api/reports/appointments/export": {
            "get": {
                **operation(
                    "Admin: the appointment report as CSV or XLSX",
                    {"type": "string", "format": "binary"},
                    errors=(400, 401, 403),
                    security=STAFF,
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
                obj(
                    {
                        "services": {
                            "type": "array",
                            "items": obj({"code": {"type": "string"}, "days": {"type": "array", "items": DATE}}),
                        },
                        "keep_days": {"type": "integer"},
                    }
                ),
            )
        },
        "/api/appointments/slots": {
            "get": operation(
                "The slots of one day still ahead, with capacity and free seats (a closed slot has free 0)",
                obj({"service": {"type": "string"}, "date": DATE, "slots": {"type": "array", "items": SLOT}}),
                errors=(400, 404, 409),
                params=[query_param("service", {"type": "string"}, "Service code, e.g. CT"), query_param("date", DATE)],
            )
        },
        "/api/appointments": {
            "post": operation(
                "Book a slot (public; limited per phone number and per device). 409 slot_full carries "
                "details.next_free (the next free slots); 409 phone_limit, already_booked, day_past, closed_day, "
                "too_far_ahead, slot_past, booking_closed; 429 address_limit / too_many_requests",
                CREATED,
                status="201",
                body=BOOKING,
                errors=(400, 404, 409, 413, 429, 503),
            )
        },
        "/api/appointments/{code}": {
            "get": operation(
                "An appointment's status (no name or phone number)", APPOINTMENT, errors=(404,), params=[CODE]
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
                "429 after 5 wrong tries)",
                APPOINTMENT,
                body=obj(LAST4),
                errors=(400, 404, 409, 413, 429, 503),
                params=[CODE],
            )
        },
        "/api/appointments/{code}/move": {
            "post": operation(
                "Move to another slot of the same service (keeps the code)",
                CREATED,
                body=obj({**LAST4, "date": DATE, "start": TIME}),
                errors=(400, 404, 409, 413, 429, 503),
                params=[CODE],
            )
        },
        "/api/appointments/{code}/check-in": {
            "post": operation(
                "Kiosk check-in: a ticket marked booked (201; 200 with the same ticket on repeat). 409 too_early "
                "(details.opens_at), too_late (details.walk_in: take a regular ticket), appointment_cancelled",
                CHECKED_IN,
                status="201",
                body={"type": "object"},
                errors=(400, 401, 404, 409, 413, 503),
                security=KIOSK,
                params=[CODE],
                extra_ok={
                    "200": {
                        "description": "Checked in before: the same ticket",
                        "content": {"application/json": {"schema": CHECKED_IN}},
                    }
                },
            )
        },
        "/api/staff/appointments": {
            "get": operation(
                "Staff: one day's appointments per service and slot, with names and phones",
                obj(
                    {
                        "date": DATE,
                        "services": {
                            "type": "array",
                            "items": obj(
                                {
                                    "code": {"type": "string"},
                                    "slots": {
                                        "type": "array",
                                        "items": {
                                            **SLOT,
                                            "properties": {
                                                **_SLOT_PROPERTIES,
                                                "appointments": {"type": "array", "items": STAFF_APPOINTMENT},
                                            },
                                        },
                                    },
                                }
                            ),
                        },
                    }
                ),
                errors=(400, 401, 404),
                security=STAFF,
                params=[query_param("date", DATE, "Default: today"), query_param("service", {"type": "string"})],
            ),
            "post": operation(
                "Staff: book for a citizen who calls or comes by (no per-phone limit; audited)",
                {**STAFF_APPOINTMENT, "required": [*_REQUIRED, "status_url"]},
                status="201",
                body=BOOKING,
                errors=(400, 401, 404, 409, 413, 503),
                security=STAFF,
            ),
        },
        "/api/staff/appointments/slots": {
            "post": operation(
                "Admin: close (or reopen) a slot; no new bookings in a closed slot (audited)",
                obj({"service": {"type": "string"}, "date": DATE, "start": TIME, "closed": {"type": "boolean"}}),
                body={
                    "type": "object",
                    "required": ["service", "date", "start", "closed"],
                    "properties": {
                        "service": {"type": "string"},
                        "date": DATE,
                        "start": TIME,
                        "closed": {"type": "boolean"},
                    },
                },
                errors=(400, 401, 403, 404, 413, 503),
                security=STAFF,
            )
        },
        "/api/staff/appointments/{code}/cancel": {
            "post": operation(
                "Staff: cancel an appointment (audited, with an optional reason)",
                STAFF_APPOINTMENT,
                body={"type": "object", "properties": {"reason": {"type": "string", "maxLength": 200}}},
                errors=(400, 401, 404, 409, 413, 503),
                security=STAFF,
                params=[CODE],
            )
        },
    }


openapi_paths = _with_csv({**_paths(), **_more()})
