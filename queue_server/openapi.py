"""The OpenAPI 3 description of the HTTP API, served at ``/api/openapi.json``.

The core endpoints (``queue_server.api``) are described here; each feature module listed in
``queue_server.features`` describes its own next to its routes, as ``openapi_paths``, built
with the helpers below (``operation``, ``path_param``, ``query_param``); ``document(paths)``
merges them (the app passes ``features.openapi_paths()``). No JSON body is written here as a
schema: an operation names the declaration of each body (a msgspec ``Struct``, or the
engine's ``Ticket`` and ``CounterStatus``) with ``schemas.ref``, and the document's
``components.schemas`` are generated from the declarations it names (``schemas.components``).
The same declarations parse the request bodies. ``tests/test_openapi.py`` checks that every
HTTP route of the app has an entry with its methods, and the fuzz tests check every response
against these schemas. ``markdown_table`` is README's API table.
"""

from __future__ import annotations

from typing import Any

from . import schemas
from .schemas import Empty, ref

# The core's answers, declared in queue_server.schemas.
TICKET = ref(schemas.PublicTicket)
ISSUED = ref(schemas.Issued)
STATE = ref(schemas.Snapshot)
COUNTER_VIEW = ref(schemas.CounterView)


def error_responses(*codes: int) -> dict[str, Any]:
    """Error responses (the shared Error schema) for these status codes."""
    text = {
        400: "Bad input",
        401: "Not signed in / no device token",
        403: "Not allowed",
        404: "Not found",
        409: "Refused by the current state",
        413: "Body too large",
        415: "Body not sent as JSON (Content-Type: application/json)",
        429: "Too many attempts",
        503: "Storage error, nothing changed",
    }
    error = {"application/json": {"schema": ref(schemas.Error)}}
    return {str(c): {"description": text[c], "content": error} for c in codes}


def operation(
    summary: str,
    ok: dict[str, Any],
    *,
    status: str = "200",
    body: dict[str, Any] | None = None,
    errors: tuple[int, ...] = (),
    security: list[dict[str, list[str]]] | None = None,
    params: list[dict[str, Any]] | None = None,
    again: str | None = None,
    media: str = "application/json",
    who: str | None = None,
) -> dict[str, Any]:
    """One operation: ``ok`` is the schema of its success answer (status ``status``, of type
    ``media``), ``errors`` the status codes it may refuse with; ``again`` describes the 200 a
    repeated request gets with the same answer (a 201 the first time). ``who`` (``x-who``) says
    who may call it in README's words when ``security`` alone does not (see ``who_may_call``)."""
    op: dict[str, Any] = {
        "summary": summary,
        "responses": {status: {"description": "OK", "content": {media: {"schema": ok}}}, **error_responses(*errors)},
    }
    if again:
        op["responses"]["200"] = {"description": again, "content": {media: {"schema": ok}}}
    if body is not None:
        op["requestBody"] = {"required": True, "content": {"application/json": {"schema": body}}}
    if security is not None:
        op["security"] = security
    if params:
        op["parameters"] = params
    if who is not None:
        op["x-who"] = who
    return op


def who_may_call(op: dict[str, Any]) -> str:
    """Who may call ``op``, for people: its ``x-who``, else read from its security (a session
    with the role ``admin``, any staff session, a device token, or anyone)."""
    if "x-who" in op:
        return str(op["x-who"])
    needs = {scheme: roles for requirement in op.get("security", []) for scheme, roles in requirement.items()}
    if "session" in needs:
        return " or ".join(needs["session"]) if needs["session"] else "staff"
    if "device" in needs:
        return "device token"
    return "anyone"


def markdown_table(doc: dict[str, Any]) -> str:
    """README's API table: one row per operation of ``doc``, in the document's order
    (tests/test_readme.py keeps README in step with the app's document)."""
    lines = ["| method and path | who | what |", "| --- | --- | --- |"]
    for path, item in doc["paths"].items():
        for method, op in item.items():
            what = " ".join(op["summary"].split()).replace("|", "\\|")
            lines.append(f"| `{method.upper()} {path}` | {who_may_call(op)} | {what} |")
    return "\n".join(lines)


def path_param(name: str, schema: dict[str, Any]) -> dict[str, Any]:
    return {"name": name, "in": "path", "required": True, "schema": schema}


def query_param(name: str, schema: dict[str, Any], description: str = "") -> dict[str, Any]:
    param = {"name": name, "in": "query", "required": False, "schema": schema}
    if description:
        param["description"] = description
    return param


STAFF: list[dict[str, list[str]]] = [{"session": []}]
# OpenAPI 3.1 lets non-OAuth schemes list the roles an operation needs.
ADMIN: list[dict[str, list[str]]] = [{"session": ["admin"]}]
KIOSK: list[dict[str, list[str]]] = [{"device": []}]
COUNTER_N = path_param("n", {"type": "integer", "minimum": 1})
TICKET_ID = path_param("id", {"type": "integer", "minimum": 1})
# What a staff command may answer besides success: bad body, not signed in, not allowed,
# no such thing, refused by the state, body too large, storage error.
COMMAND_ERRORS = (400, 401, 403, 404, 409, 413, 503)
CLERK_OF_N = "clerk of n, admin"
TICKET_ANSWER = ref(schemas.TicketAnswer)


def document(feature_paths: dict[str, Any] | None = None) -> dict[str, Any]:
    """The whole document: the core's paths here, then ``feature_paths`` (the features')."""
    counter_ops: dict[str, Any] = {}
    simple = {
        "recall": "Recall the current ticket (announced again)",
        "start": "Start serving the current ticket",
        "done": "Finish the current ticket (unlocks the rating tablet)",
        "no-show": "Mark the current ticket as no-show",
        "resume": "Resume after a pause (audited when an admin does it)",
        "close": "Close the counter (sign off; audited when an admin does it)",
    }
    for name, summary in simple.items():
        counter_ops[f"/api/counters/{{n}}/{name}"] = {
            "post": operation(
                summary,
                COUNTER_VIEW,
                body=ref(Empty),
                errors=COMMAND_ERRORS,
                security=STAFF,
                params=[COUNTER_N],
                who=CLERK_OF_N,
            )
        }
    counter_ops["/api/counters/{n}/open"] = {
        "post": operation(
            "Open (sign on) the counter; an admin may open it for another active account named in `staff` "
            "(audited when an admin does it)",
            COUNTER_VIEW,
            body=ref(schemas.OpenCounter),
            errors=COMMAND_ERRORS,
            security=STAFF,
            params=[COUNTER_N],
            who=CLERK_OF_N,
        )
    }
    counter_ops["/api/counters/{n}/next"] = {
        "post": operation(
            "Finish the current ticket (no-show after `max_recalls` recalls) and call the next; send "
            '`{"current": <id shown or null>}` so a double click never calls two',
            COUNTER_VIEW,
            body=ref(schemas.NextTicket),
            errors=COMMAND_ERRORS,
            security=STAFF,
            params=[COUNTER_N],
            who=CLERK_OF_N,
        )
    }
    counter_ops["/api/counters/{n}/call"] = {
        "post": operation(
            "`{number}`: call one ticket out of order (also a no-show who came back)",
            COUNTER_VIEW,
            body=ref(schemas.CallNumber),
            errors=COMMAND_ERRORS,
            security=STAFF,
            params=[COUNTER_N],
            who=CLERK_OF_N,
        )
    }
    counter_ops["/api/counters/{n}/transfer"] = {
        "post": operation(
            "`{service}` or `{counter}`: transfer the current ticket; it keeps its number and goes to the front there",
            COUNTER_VIEW,
            body=ref(schemas.Transfer),
            errors=COMMAND_ERRORS,
            security=STAFF,
            params=[COUNTER_N],
            who=CLERK_OF_N,
        )
    }
    counter_ops["/api/counters/{n}/pause"] = {
        "post": operation(
            "`{reason}`: pause the counter (a paused counter gets no tickets; audited when an admin does it)",
            COUNTER_VIEW,
            body=ref(schemas.Pause),
            errors=COMMAND_ERRORS,
            security=STAFF,
            params=[COUNTER_N],
            who=CLERK_OF_N,
        )
    }
    doc: dict[str, Any] = {
        "openapi": "3.1.0",
        "info": {
            "title": "motcua",
            "version": "0.1.0",
            "description": "Queue ticketing for one-stop offices. Errors are JSON "
            "{error, message (Vietnamese), message_en}.",
        },
        "components": {
            "schemas": {},  # below: from the declarations the document refers to
            "securitySchemes": {
                "session": {"type": "apiKey", "in": "cookie", "name": "motcua_session"},
                "device": {"type": "http", "scheme": "bearer", "description": "Kiosk device token"},
            },
        },
        "paths": {
            "/healthz": {
                "get": operation(
                    'Liveness: `{"ok": true, "seq": 41, "day": "2026-11-30", "screens": 7, '
                    '"dropped_screens": 0, "commits": {"transactions": 30, "commands": 41}}` (screens '
                    "connected, and dropped for falling behind; group commits since start: commands that arrive "
                    "together share one transaction)",
                    ref(schemas.Health),
                )
            },
            "/api/state": {
                "get": operation(
                    "Office state snapshot: office, day, services (open, waiting, estimated wait, next numbers), "
                    "counters (state, current ticket, served today), latest calls, `seq`",
                    STATE,
                    who="anyone (staff see more)",
                )
            },
            "/api/tickets": {
                "post": operation(
                    "Issue a ticket `{service, priority?, request_id?}` → 201; the same `request_id` again → 200 "
                    "with the same ticket",
                    ISSUED,
                    status="201",
                    body=ref(schemas.IssueTicket),
                    errors=(400, 401, 404, 409, 413, 503),
                    security=KIOSK,
                    who="kiosk token",
                    again="Same request_id: the ticket issued before",
                )
            },
            "/api/tickets/{token}": {
                "get": operation(
                    "Public status of one ticket",
                    ref(schemas.TicketStatus),
                    errors=(404,),
                    params=[path_param("token", {"type": "string"})],
                    who="anyone with the token",
                )
            },
            "/api/tickets/{id}/requeue": {
                "post": operation(
                    "Put a no-show back in the queue (audited)",
                    TICKET_ANSWER,
                    body=ref(Empty),
                    errors=COMMAND_ERRORS,
                    security=STAFF,
                    params=[TICKET_ID],
                )
            },
            "/api/tickets/{id}/cancel": {
                "post": operation(
                    "Cancel a waiting ticket (audited)",
                    TICKET_ANSWER,
                    body=ref(Empty),
                    errors=COMMAND_ERRORS,
                    security=ADMIN,
                    params=[TICKET_ID],
                )
            },
            "/api/login": {
                "post": operation(
                    "`{username, password, counter?}`: sign in; with `counter` the counter opens",
                    ref(schemas.SignedIn),
                    body=ref(schemas.Login),
                    errors=(400, 401, 404, 409, 413, 429, 503),
                    who="—",
                )
            },
            "/api/logout": {
                "post": operation(
                    "Sign out (closes the counter)",
                    ref(schemas.Ok),
                    body=ref(Empty),
                    errors=(400, 409, 413, 503),
                    who="staff",
                )
            },
            "/api/me": {
                "get": operation(
                    "The signed-in user",
                    ref(schemas.SignedIn),
                    errors=(401,),
                    security=STAFF,
                )
            },
            "/api/counters/{n}/rating": {
                "post": operation(
                    "`{ticket_id, level}`: rate, once, the ticket counter n finished last (counter n's rating tablet token)",
                    ref(schemas.Rated),
                    body=ref(schemas.Rating),
                    errors=(400, 401, 403, 404, 409, 413, 503),
                    params=[COUNTER_N],
                    security=KIOSK,
                    who="rating tablet token",
                )
            },
            "/api/services/{code}": {
                "post": operation(
                    "`{open?, cap?}`: open or close a service, or set its cap, for today (audited)",
                    ref(schemas.Services),
                    body=ref(schemas.ServiceChange),
                    errors=(400, 401, 403, 404, 413, 503),
                    security=ADMIN,
                    params=[path_param("code", {"type": "string"})],
                )
            },
            "/api/openapi.json": {"get": operation("This document", ref(schemas.Document))},
            **counter_ops,
            **(feature_paths or {}),
        },
    }
    doc = with_guard_errors(doc)
    doc["components"]["schemas"] = schemas.components(doc)
    return doc


def with_guard_errors(doc: dict[str, Any]) -> dict[str, Any]:
    """Every state-changing operation may also be refused by ``queue_server.guard`` before
    its handler runs: 403 (sent from another site's page) and 415 (not sent as JSON)."""
    guard = {
        "403": {
            "description": "Not allowed, or sent from another site's page (Origin/Referer)",
            "content": {"application/json": {"schema": ref(schemas.Error)}},
        },
        "415": {
            "description": "Not sent as JSON (Content-Type: application/json)",
            "content": {"application/json": {"schema": ref(schemas.Error)}},
        },
    }
    for item in doc["paths"].values():
        for method, op in item.items():
            if method in ("post", "put", "patch", "delete"):
                for code, response in guard.items():
                    op["responses"].setdefault(code, response)
    return doc
