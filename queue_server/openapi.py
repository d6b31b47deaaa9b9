"""The OpenAPI 3 description of the HTTP API, served at ``/api/openapi.json``.

Kept beside the routes it describes; ``tests/test_openapi.py`` checks that every route has
an entry, and the fuzz tests check every response against these schemas.
"""

from __future__ import annotations

from typing import Any

ERROR = {
    "type": "object",
    "required": ["error", "message", "message_en"],
    "properties": {
        "error": {"type": "string", "description": "Stable key, e.g. cap_reached"},
        "message": {"type": "string", "description": "Vietnamese message for the user"},
        "message_en": {"type": "string"},
        "details": {"type": "object"},
    },
}
NULLABLE_INT = {"type": ["integer", "null"]}
NULLABLE_STR = {"type": ["string", "null"]}
TICKET = {
    "type": "object",
    "required": ["id", "service", "number", "label", "state", "priority"],
    "properties": {
        "id": {"type": "integer"}, "day": {"type": "string"}, "service": {"type": "string"},
        "number": {"type": "integer"}, "label": {"type": "string"}, "priority": {"type": "boolean"},
        "state": {"enum": ["waiting", "called", "serving", "done", "no_show", "cancelled", "expired"]},
        "counter": NULLABLE_INT, "target_counter": NULLABLE_INT, "recalls": {"type": "integer"},
        "issued_at": {"type": "string"}, "called_at": NULLABLE_STR, "finished_at": NULLABLE_STR,
        "people_ahead": {"type": "integer"}, "estimated_wait_s": {"type": "integer"},
    },
}
COUNTER = {
    "type": "object",
    "required": ["number", "state"],
    "properties": {"number": {"type": "integer"}, "state": {"enum": ["closed", "open", "paused"]},
                   "staff": NULLABLE_STR, "ticket_id": NULLABLE_INT, "pause_reason": {"type": "string"}},
}
COUNTER_VIEW = {
    "type": "object", "required": ["counter", "ticket", "seq"],
    "properties": {"counter": COUNTER, "ticket": {"oneOf": [TICKET, {"type": "null"}]}, "seq": {"type": "integer"}},
}
STATE = {
    "type": "object",
    "required": ["type", "seq", "office", "services", "counters", "latest_calls"],
    "properties": {
        "type": {"const": "snapshot"}, "seq": {"type": "integer"}, "office": {"type": "object"},
        "services": {"type": "array", "items": {"type": "object", "required": ["code", "waiting", "estimated_wait_s"]}},
        "counters": {"type": "array", "items": {"type": "object", "required": ["number", "state"]}},
        "latest_calls": {"type": "array"},
    },
}
ISSUED = {
    "type": "object",
    "required": ["id", "number", "label", "service", "people_ahead", "estimated_wait_s", "token", "status_url", "print"],
    "properties": {
        "ticket": TICKET, "id": {"type": "integer"}, "number": {"type": "integer"}, "label": {"type": "string"},
        "service": {"type": "string"}, "service_name": {"type": "string"}, "priority": {"type": "boolean"},
        "people_ahead": {"type": "integer"}, "estimated_wait_s": {"type": "integer"},
        "token": {"type": "string", "minLength": 16}, "status_url": {"type": "string"},
        "print": {"type": "object", "required": ["state"]},
    },
}


def _errors(*codes: int) -> dict[str, Any]:
    text = {400: "Bad input", 401: "Not signed in / no device token", 403: "Not allowed", 404: "Not found",
            409: "Refused by the current state", 413: "Body too large", 429: "Too many attempts",
            503: "Storage error, nothing changed"}
    return {str(c): {"description": text[c], "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}
            for c in codes}


def _op(summary: str, ok: dict[str, Any], *, status: str = "200", body: dict[str, Any] | None = None,
        errors: tuple[int, ...] = (), security: list[dict[str, list[str]]] | None = None,
        params: list[dict[str, Any]] | None = None, extra_ok: dict[str, Any] | None = None) -> dict[str, Any]:
    op: dict[str, Any] = {
        "summary": summary,
        "responses": {status: {"description": "OK", "content": {"application/json": {"schema": ok}}}, **_errors(*errors)},
    }
    if extra_ok:
        op["responses"].update(extra_ok)
    if body is not None:
        op["requestBody"] = {"required": False, "content": {"application/json": {"schema": body}}}
    if security is not None:
        op["security"] = security
    if params:
        op["parameters"] = params
    return op


def _path(name: str, schema: dict[str, Any]) -> dict[str, Any]:
    return {"name": name, "in": "path", "required": True, "schema": schema}


STAFF = [{"session": []}]
KIOSK = [{"device": []}]
COUNTER_N = _path("n", {"type": "integer", "minimum": 1})
TICKET_ID = _path("id", {"type": "integer", "minimum": 1})
EMPTY = {"type": "object"}
CURRENT = {"type": "object", "properties": {"current": NULLABLE_INT}}


def document() -> dict[str, Any]:
    counter_ops: dict[str, Any] = {}
    simple = {
        "open": "Open (sign on) the counter",
        "recall": "Recall the current ticket (announced again)",
        "start": "Start serving the current ticket",
        "done": "Finish the current ticket (unlocks the rating tablet)",
        "no-show": "Mark the current ticket as no-show",
        "resume": "Resume after a pause",
        "close": "Close the counter (sign off)",
    }
    for name, summary in simple.items():
        counter_ops[f"/api/counters/{{n}}/{name}"] = {"post": _op(summary, COUNTER_VIEW, body=EMPTY,
                                                                  errors=(400, 401, 403, 404, 409), security=STAFF,
                                                                  params=[COUNTER_N])}
    counter_ops["/api/counters/{n}/next"] = {"post": _op(
        "Finish the current ticket and call the next (send `current`: the ticket id your screen shows, "
        "so a double click never calls two)", COUNTER_VIEW, body=CURRENT, errors=(400, 401, 403, 404, 409),
        security=STAFF, params=[COUNTER_N])}
    counter_ops["/api/counters/{n}/call"] = {"post": _op(
        "Call one ticket by number, out of order", COUNTER_VIEW,
        body={"type": "object", "required": ["number"],
              "properties": {"number": {"type": ["integer", "string"]}, "current": NULLABLE_INT}},
        errors=(400, 401, 403, 404, 409), security=STAFF, params=[COUNTER_N])}
    counter_ops["/api/counters/{n}/transfer"] = {"post": _op(
        "Transfer the current ticket to a service or a counter (front of that queue)", COUNTER_VIEW,
        body={"type": "object", "properties": {"service": {"type": "string"}, "counter": {"type": "integer"}}},
        errors=(400, 401, 403, 404, 409), security=STAFF, params=[COUNTER_N])}
    counter_ops["/api/counters/{n}/pause"] = {"post": _op(
        "Pause the counter with a reason", COUNTER_VIEW,
        body={"type": "object", "required": ["reason"], "properties": {"reason": {"type": "string", "maxLength": 200}}},
        errors=(400, 401, 403, 404, 409), security=STAFF, params=[COUNTER_N])}
    return {
        "openapi": "3.1.0",
        "info": {"title": "motcua", "version": "0.1.0",
                 "description": "Queue ticketing for one-stop offices. Errors are JSON "
                                "{error, message (Vietnamese), message_en}."},
        "components": {
            "schemas": {"Error": ERROR, "Ticket": TICKET},
            "securitySchemes": {
                "session": {"type": "apiKey", "in": "cookie", "name": "motcua_session"},
                "device": {"type": "http", "scheme": "bearer", "description": "Kiosk device token"},
            },
        },
        "paths": {
            "/healthz": {"get": _op("Liveness", {"type": "object", "required": ["ok"]})},
            "/api/state": {"get": _op("Office state snapshot (staff fields when signed in)", STATE)},
            "/api/tickets": {"post": _op(
                "Issue a ticket (kiosk). The same request_id again returns the same ticket with 200.",
                ISSUED, status="201",
                body={"type": "object", "required": ["service"],
                      "properties": {"service": {"type": "string"}, "priority": {"type": "boolean"},
                                     "request_id": {"type": "string", "maxLength": 64}}},
                errors=(400, 401, 404, 409, 413, 503), security=KIOSK,
                extra_ok={"200": {"description": "Same request_id: the ticket issued before",
                                  "content": {"application/json": {"schema": ISSUED}}}})},
            "/api/tickets/{token}": {"get": _op(
                "Public status of one ticket", TICKET, errors=(404,),
                params=[_path("token", {"type": "string"})])},
            "/api/tickets/{id}/requeue": {"post": _op(
                "Put a no-show back in the queue", {"type": "object", "required": ["ticket"]},
                body=EMPTY, errors=(400, 401, 403, 404, 409), security=STAFF, params=[TICKET_ID])},
            "/api/tickets/{id}/cancel": {"post": _op(
                "Cancel a waiting ticket (admin)", {"type": "object", "required": ["ticket"]},
                body=EMPTY, errors=(400, 401, 403, 404, 409), security=STAFF, params=[TICKET_ID])},
            "/api/login": {"post": _op(
                "Sign in; with `counter`, sign on at that counter",
                {"type": "object", "required": ["user", "role"]},
                body={"type": "object", "required": ["username", "password"],
                      "properties": {"username": {"type": "string"}, "password": {"type": "string"},
                                     "counter": {"type": "integer"}}},
                errors=(400, 401, 404, 409, 429))},
            "/api/logout": {"post": _op("Sign out (closes the counter)", {"type": "object"}, errors=(409,))},
            "/api/me": {"get": _op("The signed-in user", {"type": "object", "required": ["user", "role"]},
                                   errors=(401,), security=STAFF)},
            "/api/counters/{n}/rating": {"post": _op(
                "Rating tablet: rate the ticket this counter just finished",
                {"type": "object", "required": ["ok"]},
                body={"type": "object", "required": ["ticket_id", "level"],
                      "properties": {"ticket_id": {"type": "integer"}, "level": {"type": "integer"}}},
                errors=(400, 403, 404, 409), params=[COUNTER_N])},
            "/api/services/{code}": {"post": _op(
                "Open/close a service or set today's cap (admin)", {"type": "object", "required": ["services"]},
                body={"type": "object", "properties": {"open": {"type": "boolean"},
                                                       "cap": {"type": ["integer", "null"]}}},
                errors=(400, 401, 403, 404), security=STAFF, params=[_path("code", {"type": "string"})])},
            **counter_ops,
        },
    }
