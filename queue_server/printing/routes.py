"""The printing routes: today's print jobs, Reprint, the printers' state, and ``/ws/printer``
where print agents connect (``agent_link`` speaks to them)."""

from __future__ import annotations

from typing import Any, Literal

from msgspec import Struct
from starlette.requests import Request
from starlette.routing import Route, WebSocketRoute
from starlette.websockets import WebSocket

from printer import protocol
from printer.protocol import Paper

from .. import auth
from ..answers import Answer
from ..api import path_int, status_url
from ..errors import BadRequest, Conflict
from ..office import Office
from ..openapi import STAFF, operation, path_param, query_param
from ..schemas import Empty, PrintState, ref
from .jobs import JobState
from .service import PrintService


def _service(request: Request) -> PrintService:
    service: PrintService | None = request.app.state.printing
    if service is None:
        raise Conflict("Máy chủ đang chạy không in vé.", "Printing is turned off on this server.", key="printing_off")
    return service


async def reprint(request: Request) -> Answer:
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
    return Answer({"job": job.to_dict(), "print": service.job_status(ticket_id)}, status_code=201)


async def list_jobs(request: Request) -> Answer:
    office: Office = request.app.state.office
    auth.require_user(request, office)
    state = request.query_params.get("state")
    if state is not None and state not in set(JobState):
        states = ", ".join(JobState)
        raise BadRequest(
            f"Trạng thái lệnh in phải là một trong: {states}.",
            f"The print job state must be one of: {states}.",
            key="bad_field",
            field="state",
        )
    return Answer({"jobs": _service(request).today_jobs(state)})


async def list_printers(request: Request) -> Answer:
    office: Office = request.app.state.office
    auth.require_user(request, office)
    return Answer({"printers": _service(request).printers_summary("staff")})


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


# The answers of the routes above, declared once (``PrintState`` is the kiosk's, in schemas).


class PrintJob(Struct, kw_only=True):
    id: int
    ticket_id: int
    label: str | None
    printer: str
    state: JobState
    error: str | None
    attempts: int
    reprint_of: int | None
    created_at: str
    updated_at: str
    requested_by: str | None = None


class PrintJobs(Struct, kw_only=True):
    jobs: list[PrintJob]


class Reprinted(Struct, kw_only=True):
    job: PrintJob
    print: PrintState


class Printer(Struct, kw_only=True):
    id: str
    mode: Literal["server", "agent", "virtual"]
    online: bool | None
    paper: Paper
    error: str | None
    checked_at: str | None
    last_success_at: str | None
    last_error_at: str | None
    agent_connected: bool | None
    queued: int
    failed: int
    url: str = ""


class Printers(Struct, kw_only=True):
    printers: list[Printer]


openapi_paths: dict[str, Any] = {
    "/api/print-jobs": {
        "get": operation(
            "Today's print jobs (and every unfinished one), newest first",
            ref(PrintJobs),
            errors=(400, 401, 409),
            security=STAFF,
            params=[query_param("state", {"type": "string", "enum": list(JobState)}, "Only jobs in this state")],
        )
    },
    "/api/print-jobs/{ticket_id}/reprint": {
        "post": operation(
            "Print a ticket of today again (any staff; audited). 409 while it is being printed, for a ticket "
            "of another day, without a printer, or with printing off",
            ref(Reprinted),
            status="201",
            body=ref(Empty),
            errors=(400, 401, 404, 409, 413, 503),
            security=STAFF,
            params=[path_param("ticket_id", {"type": "integer", "minimum": 1})],
        )
    },
    "/api/printers": {
        "get": operation(
            "Each printer's state",
            ref(Printers),
            errors=(401, 409),
            security=STAFF,
        )
    },
}
