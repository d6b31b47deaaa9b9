"""The printing routes: today's print jobs, Reprint, the printers' state, and ``/ws/printer``
where print agents connect (``agent_link`` speaks to them)."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route, WebSocketRoute
from starlette.websockets import WebSocket

from printer import protocol
from printer.protocol import PAPERS

from .. import auth
from ..api import path_int, status_url
from ..errors import Conflict
from ..office import Office
from ..openapi import STAFF, obj, operation, path_param, query_param
from .jobs import KIOSK_STATE, JobState
from .service import PrintService


def _service(request: Request) -> PrintService:
    service: PrintService | None = request.app.state.printing
    if service is None:
        raise Conflict("Máy chủ đang chạy không in vé.", "Printing is turned off on this server.", key="printing_off")
    return service


async def reprint(request: Request) -> JSONResponse:
    office: Office = request.app.state.office
    user = auth.require_user(request, office)
    ticket_id = path_int(request, "ticket_id")
    service = _service(request)
    job = await service.reprint(ticket_id, user["username"], lambda token: status_url(request, token))
    # Any staff may reprint, and every reprint is audited: a second paper ticket is a
    # second claim on a place in the queue.
    await office.audit(
        user, "ticket_reprint", ticket_id=ticket_id, label=job.info.get("label"), job_id=job.id, printer=job.printer
    )
    return JSONResponse({"job": job.to_dict(), "print": service.job_status(ticket_id)}, status_code=201)


async def list_jobs(request: Request) -> JSONResponse:
    office: Office = request.app.state.office
    auth.require_user(request, office)
    state = request.query_params.get("state")
    return JSONResponse({"jobs": _service(request).today_jobs(state)})


async def list_printers(request: Request) -> JSONResponse:
    office: Office = request.app.state.office
    auth.require_user(request, office)
    return JSONResponse({"printers": _service(request).printers_summary("staff")})


async def agent_endpoint(websocket: WebSocket) -> None:
    """``/ws/printer``: one print agent, authenticated by its printer's ``agent_token``."""
    office: Office = websocket.app.state.office
    service: PrintService | None = websocket.app.state.printing
    printer = auth.printer_for_agent(auth.bearer_token(websocket), office.config)
    if service is None or printer is None:
        await websocket.close(code=1008)  # before accept: the handshake gets HTTP 403
        return
    offered = websocket.scope.get("subprotocols") or []
    await websocket.accept(subprotocol=protocol.SUBPROTOCOL if protocol.SUBPROTOCOL in offered else None)
    await service.serve_agent(websocket, printer)


routes = [
    Route("/api/print-jobs", list_jobs),
    Route("/api/print-jobs/{ticket_id}/reprint", reprint, methods=["POST"]),
    Route("/api/printers", list_printers),
    WebSocketRoute("/ws/printer", agent_endpoint),
]


# The OpenAPI description of the routes above.
_NULL_STR = {"type": ["string", "null"]}
_NULL_INT = {"type": ["integer", "null"]}
_JOB = obj(
    {
        "id": {"type": "integer"},
        "ticket_id": {"type": "integer"},
        "label": _NULL_STR,
        "printer": {"type": "string"},
        "state": {"enum": [s.value for s in JobState]},
        "error": _NULL_STR,
        "attempts": {"type": "integer"},
        "reprint_of": _NULL_INT,
        "created_at": {"type": "string"},
        "updated_at": {"type": "string"},
        "requested_by": _NULL_STR,
    }
)
_PRINT_STATUS = obj(
    {"state": {"enum": ["none", *KIOSK_STATE.values()]}, "printer": _NULL_STR, "error": _NULL_STR, "job_id": _NULL_INT}
)
_PRINTER = obj(
    {
        "id": {"type": "string"},
        "mode": {"enum": ["server", "agent", "virtual"]},
        "online": {"type": ["boolean", "null"]},
        "paper": {"enum": list(PAPERS)},
        "error": _NULL_STR,
        "checked_at": _NULL_STR,
        "last_success_at": _NULL_STR,
        "last_error_at": _NULL_STR,
        "agent_connected": {"type": ["boolean", "null"]},
        "queued": {"type": "integer"},
        "failed": {"type": "integer"},
        "url": {"type": "string"},
    }
)

openapi_paths: dict[str, Any] = {
    "/api/print-jobs": {
        "get": operation(
            "Today's print jobs (and every unfinished one), newest first",
            obj({"jobs": {"type": "array", "items": _JOB}}),
            errors=(401, 409),
            security=STAFF,
            params=[query_param("state", {"type": "string"}, "Only jobs in this state (queued, sent, printed…)")],
        )
    },
    "/api/print-jobs/{ticket_id}/reprint": {
        "post": operation(
            "Print a ticket of today again (any staff; audited). 409 while it is being printed, for a ticket "
            "of another day, without a printer, or with printing off",
            obj({"job": _JOB, "print": _PRINT_STATUS}),
            status="201",
            errors=(401, 404, 409, 503),
            security=STAFF,
            params=[path_param("ticket_id", {"type": "integer", "minimum": 1})],
        )
    },
    "/api/printers": {
        "get": operation(
            "Each printer's state",
            obj({"printers": {"type": "array", "items": _PRINTER}}),
            errors=(401, 409),
            security=STAFF,
        )
    },
}
