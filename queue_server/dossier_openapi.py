"""The declared bodies of the dossier routes (``queue_server.dossier_api``) and their OpenAPI
description: the request bodies are parsed with these declarations (``schemas.parse``), and
the document's schemas come from them. A dossier code's shape is the office's
(``dossiers.code_pattern``), so the handlers check it."""

from __future__ import annotations

from typing import Annotated, Any, ClassVar, Literal

from msgspec import UNSET, Meta, Struct, UnsetType

from .dossiers import MAX_REASON
from .openapi import ADMIN, CLERK_OF_N, KIOSK, STAFF, operation, path_param, query_param
from .schemas import Body, Empty, Error, Issued, Positive, PublicTicket, ref

_STR = {"type": "string"}
STATUSES = ["received", "ready", "returned", "withdrawn", "papers"]
CODE = path_param("code", {"type": "string", "description": "Dossier code, e.g. 000.00.21.H40-261203-0001"})
COUNTER_N = path_param("n", {"type": "integer", "minimum": 1})
MAX_BULK = 1000
# A date typed by staff; an empty one is the same as none.
InputDay = Annotated[str, Meta(max_length=10, description="dd/mm/yyyy or yyyy-mm-dd")]
DossierCode = Annotated[str, Meta(max_length=64)]


# --------------------------------------------------------------------------- requests


class Outcome(Body):
    error_keys: ClassVar[dict[str, str]] = {"outcome": "bad_outcome", "code": "bad_dossier_code"}

    outcome: Literal["received", "guidance", "papers", "returned"] | None = None
    code: DossierCode | None = None
    procedure: Annotated[str, Meta(max_length=32)] | None = None
    due_date: InputDay | None = None


class Ready(Body):
    ready_on: InputDay | None = None


class BulkReady(Body):
    codes: Annotated[list[DossierCode], Meta(min_length=1, max_length=MAX_BULK)]
    ready_on: InputDay | None = None


class Extend(Body):
    due_date: InputDay
    reason: Annotated[str, Meta(max_length=MAX_REASON)]


class ApologyPrint(Body):
    counter: Positive


# --------------------------------------------------------------------------- answers


class Dossier(Struct, kw_only=True):
    """A dossier as anyone with its code sees it: procedure, dates and status, never a name."""

    code: str
    procedure: str | None
    procedure_name: str
    service: str | None
    service_name: str
    received_on: str | None
    due_date: str | None
    new_due_date: str | None
    ready_on: str | None
    returned_on: str | None
    status: Literal["received", "ready", "returned", "withdrawn", "papers"]
    status_text: str
    status_text_en: str
    late: bool
    procedure_name_en: str = ""
    service_name_en: str = ""


class StaffDossier(Dossier, kw_only=True):
    ticket_id: int | None = None
    staff: str | None = None
    counter: int | None = None
    return_ticket_id: int | None = None
    extend_reason: str | None = None
    # Only in the answer to marking it ready: false when it was ready already.
    changed: bool | UnsetType = UNSET


class VisitOutcome(Struct, kw_only=True):
    at: str
    code: str | None
    action: str
    details: dict[str, Any]


class Procedure(Struct, kw_only=True):
    code: str
    name: str
    service: str
    days: int
    papers: list[str]
    name_en: str = ""


class Procedures(Struct, kw_only=True):
    procedures: list[Procedure]


class Dossiers(Struct, kw_only=True):
    dossiers: list[StaffDossier]


class PublicDossiers(Struct, kw_only=True):
    dossiers: list[Dossier]


class Alerts(Struct, kw_only=True):
    today: str
    due_soon_until: str
    due_today: list[StaffDossier]
    overdue: list[StaffDossier]
    due_soon: list[StaffDossier]


class MarkedReady(Struct, kw_only=True):
    dossiers: list[StaffDossier]
    changed: int


class DossierAnswer(Struct, kw_only=True):
    dossier: StaffDossier


class Extended(DossierAnswer, kw_only=True):
    apology_url: str


class DossierCheckedIn(Issued, kw_only=True):
    dossier: Dossier | None = None


class NotReadyDates(Struct, kw_only=True):
    """What the kiosk check-in's 409 ``not_ready`` adds to the Error object, at its top level
    (the kiosk says when to come back); ``already_returned`` is a plain Error."""

    due_date: Annotated[str | None, Meta(description="The original due date, YYYY-MM-DD")] = None
    new_due_date: Annotated[str | None, Meta(description="The apology's new date, if any")] = None
    status: Literal["received", "ready", "returned", "withdrawn", "papers"] | None = None


class ApologyPrinted(Struct, kw_only=True):
    printed: Literal[True]
    printer: str


class Visit(Struct, kw_only=True):
    """The ticket a counter holds, its dossiers and its outcomes."""

    ticket: PublicTicket | None
    dossiers: list[StaffDossier]
    outcomes: list[VisitOutcome]
    due_dates: dict[str, str] = {}


class Recorded(Struct, kw_only=True):
    outcome: Literal["received", "guidance", "papers", "returned"]
    dossier: StaffDossier | None
    dossiers: list[StaffDossier]
    outcomes: list[VisitOutcome]


class Change(Struct, kw_only=True, rename={"from_": "from"}):
    code: str
    from_: str
    to: str
    ready_on: str | None


class DossiersImported(Struct, kw_only=True):
    rows: int
    unchanged: int
    unknown: list[str]
    changed: list[Change]


_STAFF_ERRORS = (400, 401, 404, 409, 413, 503)


def _check_in() -> dict[str, Any]:
    op = operation(
        'Kiosk "Nhận kết quả": a ticket in the result-return service for a ready dossier. The same code again '
        "answers the same ticket with 200 while it waits. 409 not_ready carries due_date",
        ref(DossierCheckedIn),
        status="201",
        body=ref(Empty),
        errors=(400, 401, 404, 409, 413, 503),
        security=KIOSK,
        params=[CODE],
        again="Already checked in: the same ticket",
    )
    op["responses"]["409"] = {
        "description": "not_ready (with due_date, new_due_date and status) or already_returned",
        "content": {"application/json": {"schema": {"allOf": [ref(Error), ref(NotReadyDates)]}}},
    }
    return op


def _csv_import() -> dict[str, Any]:
    op = operation(
        "Import the province's CSV export (code, status, finished date); idempotent; audited with what changed (admin)",
        ref(DossiersImported),
        errors=(400, 401, 403, 413, 503),
        security=ADMIN,
    )
    op["requestBody"] = {"required": True, "content": {"text/csv": {"schema": {"type": "string"}}}}
    return op


openapi_paths: dict[str, Any] = {
    "/api/procedures": {
        "get": operation(
            "Procedures (thủ tục) of one service, or of all: code, name, working days, papers",
            ref(Procedures),
            errors=(404,),
            params=[query_param("service", _STR, "Service code, e.g. CT")],
        )
    },
    "/api/dossiers": {
        "get": operation(
            "Dossiers, newest received first (at most 500; staff)",
            ref(Dossiers),
            errors=(400, 401),
            security=STAFF,
            params=[query_param("status", {"enum": STATUSES}), query_param("q", _STR, "Part of the code")],
        )
    },
    "/api/dossiers/alerts": {
        "get": operation(
            "Open dossiers due today, overdue, and due within 2 working days (staff)",
            ref(Alerts),
            errors=(401,),
            security=STAFF,
        )
    },
    "/api/dossiers/ready": {
        "post": operation(
            "Mark many dossiers ready at once (staff; audited)",
            ref(MarkedReady),
            body=ref(BulkReady),
            errors=_STAFF_ERRORS,
            security=STAFF,
        )
    },
    "/api/dossiers/import": {"post": _csv_import()},
    "/api/dossiers/{code}": {
        "get": operation(
            "One dossier by its code: procedure, dates and status, never a name (public)",
            ref(Dossier),
            errors=(400, 404),
            params=[CODE],
        )
    },
    "/api/dossiers/{code}/ready": {
        "post": operation(
            "The result is ready (staff); `ready_on` defaults to today",
            ref(DossierAnswer),
            body=ref(Ready),
            errors=_STAFF_ERRORS,
            security=STAFF,
            params=[CODE],
        )
    },
    "/api/dossiers/{code}/extend": {
        "post": operation(
            "Apologise with a new return date and the reason; the dossier counts as late (staff; audited)",
            ref(Extended),
            body=ref(Extend),
            errors=_STAFF_ERRORS,
            security=STAFF,
            params=[CODE],
        )
    },
    "/api/dossiers/{code}/withdraw": {
        "post": operation(
            "The citizen withdrew the dossier (staff; audited)",
            ref(DossierAnswer),
            body=ref(Empty),
            errors=_STAFF_ERRORS,
            security=STAFF,
            params=[CODE],
        )
    },
    "/api/dossiers/{code}/check-in": {"post": _check_in()},
    "/api/dossiers/{code}/apology/print": {
        "post": operation(
            "Print the apology slip on a counter's printer (staff; audited)",
            ref(ApologyPrinted),
            body=ref(ApologyPrint),
            errors=_STAFF_ERRORS,
            security=STAFF,
            params=[CODE],
        )
    },
    "/api/tickets/{token}/dossiers": {
        "get": operation(
            "The dossiers of one visit, for its phone status page",
            ref(PublicDossiers),
            errors=(404,),
            params=[path_param("token", _STR)],
        )
    },
    "/api/counters/{n}/dossiers": {
        "get": operation(
            "The dossiers and outcomes of the ticket the counter holds, and the default due date per "
            "procedure of its service",
            ref(Visit),
            errors=(401, 403, 404),
            security=STAFF,
            who=CLERK_OF_N,
            params=[COUNTER_N],
        ),
        "post": operation(
            "Record the outcome of the visit the counter holds: `received` (default; code, procedure, optional "
            "due_date), `guidance`, `papers` (code optional), `returned` (code). 400 bad_dossier_code for a code "
            "that does not fit the pattern; 409 dossier_exists for a code already open",
            ref(Recorded),
            status="201",
            body=ref(Outcome),
            errors=(400, 401, 403, 404, 409, 413, 503),
            security=STAFF,
            who=CLERK_OF_N,
            params=[COUNTER_N],
        ),
    },
}
