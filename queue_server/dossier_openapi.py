"""OpenAPI description of the dossier routes (``queue_server.dossier_api``)."""

from __future__ import annotations

from typing import Any

from .openapi import ISSUED, KIOSK, STAFF, TICKET, obj, operation, path_param, query_param

_STR = {"type": "string"}
_NSTR = {"type": ["string", "null"]}
_INT = {"type": "integer"}
_NINT = {"type": ["integer", "null"]}
_DAY = {"type": "string", "pattern": "^[0-9]{4}-[0-9]{2}-[0-9]{2}$"}
_NDAY = {"type": ["string", "null"]}
_INPUT_DAY = {"type": "string", "description": "dd/mm/yyyy or yyyy-mm-dd"}
STATUSES = ["received", "ready", "returned", "withdrawn", "papers"]
CODE = path_param("code", {"type": "string", "description": "Dossier code, e.g. 000.00.21.H40-261203-0001"})
COUNTER_N = path_param("n", {"type": "integer", "minimum": 1})

DOSSIER = obj(
    {
        "code": _STR,
        "procedure": _NSTR,
        "procedure_name": _STR,
        "service": _NSTR,
        "service_name": _STR,
        "received_on": _NDAY,
        "due_date": _NDAY,
        "new_due_date": _NDAY,
        "ready_on": _NDAY,
        "returned_on": _NDAY,
        "status": {"enum": STATUSES},
        "status_text": _STR,
        "status_text_en": _STR,
        "late": {"type": "boolean"},
    },
    {"procedure_name_en": _STR, "service_name_en": _STR},
)
STAFF_DOSSIER = {
    **DOSSIER,
    "properties": {
        **DOSSIER["properties"],
        "ticket_id": _NINT,
        "staff": _NSTR,
        "counter": _NINT,
        "return_ticket_id": _NINT,
        "extend_reason": _NSTR,
    },
}
_DOSSIERS = {"type": "array", "items": STAFF_DOSSIER}
_OUTCOME = obj({"at": _STR, "code": _NSTR, "action": _STR, "details": {"type": "object"}})
_VISIT = {"dossiers": _DOSSIERS, "outcomes": {"type": "array", "items": _OUTCOME}}
PROCEDURE = obj(
    {"code": _STR, "name": _STR, "service": _STR, "days": _INT, "papers": {"type": "array", "items": _STR}},
    {"name_en": _STR},
)
_IMPORT_RESULT = obj(
    {
        "rows": _INT,
        "unchanged": _INT,
        "unknown": {"type": "array", "items": _STR},
        "changed": {"type": "array", "items": obj({"code": _STR, "from": _STR, "to": _STR, "ready_on": _NSTR})},
    }
)
_ISSUED: dict[str, Any] = ISSUED
_STAFF_ERRORS = (400, 401, 404, 409, 413, 503)
_READY_BODY = {"type": "object", "properties": {"ready_on": _INPUT_DAY}}


def _csv_import() -> dict[str, Any]:
    op = operation(
        "Import the province's CSV export (code, status, finished date); idempotent; audited with what changed (admin)",
        _IMPORT_RESULT,
        errors=(400, 401, 403, 413, 503),
        security=STAFF,
    )
    op["requestBody"] = {"required": True, "content": {"text/csv": {"schema": {"type": "string"}}}}
    return op


openapi_paths: dict[str, Any] = {
    "/api/procedures": {
        "get": operation(
            "Procedures (thủ tục) of one service, or of all: code, name, working days, papers",
            obj({"procedures": {"type": "array", "items": PROCEDURE}}),
            errors=(404,),
            params=[query_param("service", _STR, "Service code, e.g. CT")],
        )
    },
    "/api/dossiers": {
        "get": operation(
            "Dossiers, newest received first (at most 500; staff)",
            obj({"dossiers": _DOSSIERS}),
            errors=(400, 401),
            security=STAFF,
            params=[query_param("status", {"enum": STATUSES}), query_param("q", _STR, "Part of the code")],
        )
    },
    "/api/dossiers/alerts": {
        "get": operation(
            "Open dossiers due today, overdue, and due within 2 working days (staff)",
            obj(
                {
                    "today": _DAY,
                    "due_soon_until": _DAY,
                    "due_today": _DOSSIERS,
                    "overdue": _DOSSIERS,
                    "due_soon": _DOSSIERS,
                }
            ),
            errors=(401,),
            security=STAFF,
        )
    },
    "/api/dossiers/ready": {
        "post": operation(
            "Mark many dossiers ready at once (staff; audited)",
            obj({"dossiers": _DOSSIERS, "changed": _INT}),
            body={
                "type": "object",
                "required": ["codes"],
                "properties": {
                    "codes": {"type": "array", "items": _STR, "minItems": 1, "maxItems": 1000},
                    "ready_on": _INPUT_DAY,
                },
            },
            errors=_STAFF_ERRORS,
            security=STAFF,
        )
    },
    "/api/dossiers/import": {"post": _csv_import()},
    "/api/dossiers/{code}": {
        "get": operation(
            "One dossier by its code: procedure, dates and status, never a name (public)",
            DOSSIER,
            errors=(400, 404),
            params=[CODE],
        )
    },
    "/api/dossiers/{code}/ready": {
        "post": operation(
            "The result is ready (staff); `ready_on` defaults to today",
            obj({"dossier": STAFF_DOSSIER}),
            body=_READY_BODY,
            errors=_STAFF_ERRORS,
            security=STAFF,
            params=[CODE],
        )
    },
    "/api/dossiers/{code}/extend": {
        "post": operation(
            "Apologise with a new return date and the reason; the dossier counts as late (staff; audited)",
            obj({"dossier": STAFF_DOSSIER, "apology_url": _STR}),
            body={
                "type": "object",
                "required": ["due_date", "reason"],
                "properties": {"due_date": _INPUT_DAY, "reason": {"type": "string", "maxLength": 200}},
            },
            errors=_STAFF_ERRORS,
            security=STAFF,
            params=[CODE],
        )
    },
    "/api/dossiers/{code}/withdraw": {
        "post": operation(
            "The citizen withdrew the dossier (staff; audited)",
            obj({"dossier": STAFF_DOSSIER}),
            body={"type": "object"},
            errors=_STAFF_ERRORS,
            security=STAFF,
            params=[CODE],
        )
    },
    "/api/dossiers/{code}/check-in": {
        "post": operation(
            'Kiosk "Nhận kết quả": a ticket in the result-return service for a ready dossier. The same code again '
            "answers the same ticket with 200 while it waits. 409 not_ready carries due_date",
            {**_ISSUED, "properties": {**_ISSUED["properties"], "dossier": DOSSIER}},
            status="201",
            body={"type": "object"},
            errors=(400, 401, 404, 409, 413, 503),
            security=KIOSK,
            params=[CODE],
            extra_ok={
                "200": {
                    "description": "Already checked in: the same ticket",
                    "content": {"application/json": {"schema": ISSUED}},
                }
            },
        )
    },
    "/api/dossiers/{code}/apology/print": {
        "post": operation(
            "Print the apology slip on a counter's printer (staff; audited)",
            obj({"printed": {"const": True}, "printer": _STR}),
            body={"type": "object", "required": ["counter"], "properties": {"counter": _INT}},
            errors=_STAFF_ERRORS,
            security=STAFF,
            params=[CODE],
        )
    },
    "/api/tickets/{token}/dossiers": {
        "get": operation(
            "The dossiers of one visit, for its phone status page",
            obj({"dossiers": {"type": "array", "items": DOSSIER}}),
            errors=(404,),
            params=[path_param("token", _STR)],
        )
    },
    "/api/counters/{n}/dossiers": {
        "get": operation(
            "The dossiers and outcomes of the ticket the counter holds, and the default due date per "
            "procedure of its service",
            obj({"ticket": {"oneOf": [TICKET, {"type": "null"}]}, **_VISIT}, {"due_dates": {"type": "object"}}),
            errors=(401, 403, 404),
            security=STAFF,
            params=[COUNTER_N],
        ),
        "post": operation(
            "Record the outcome of the visit the counter holds: `received` (default; code, procedure, optional "
            "due_date), `guidance`, `papers` (code optional), `returned` (code). 400 bad_dossier_code for a code "
            "that does not fit the pattern; 409 dossier_exists for a code already open",
            obj(
                {
                    "outcome": {"enum": ["received", "guidance", "papers", "returned"]},
                    "dossier": {"oneOf": [STAFF_DOSSIER, {"type": "null"}]},
                    **_VISIT,
                }
            ),
            status="201",
            body={
                "type": "object",
                "properties": {
                    "outcome": {"enum": ["received", "guidance", "papers", "returned"]},
                    "code": _STR,
                    "procedure": {"type": "string", "maxLength": 32},
                    "due_date": _INPUT_DAY,
                },
            },
            errors=(400, 401, 403, 404, 409, 413, 503),
            security=STAFF,
            params=[COUNTER_N],
        ),
    },
}
