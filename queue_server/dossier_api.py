"""HTTP routes for dossiers and procedures (see docs/dossiers.md; described in OpenAPI below).

- the counter records the outcome of the visit it holds (``/api/counters/{n}/dossiers``);
- anyone looks a dossier up by its code, with no names (``/api/dossiers/{code}``);
- staff mark dossiers ready (one or many), extend them with an apology, withdraw them;
- an admin imports the province's CSV export (``/api/dossiers/import``, audited);
- the kiosk gives a result-return ticket for a ready dossier (``.../check-in``).

(Over 400 lines: the dossier routes are one HTTP surface over one desk; their declarations
live in ``dossier_openapi``, their rules in ``dossiers``/``dossier_desk``.)
"""

from __future__ import annotations

import datetime as dt
import secrets
import sqlite3
from typing import Any

from starlette.requests import Request
from starlette.responses import FileResponse, Response
from starlette.routing import Route

from . import auth, dossier_import, dossiers, procedures
from .answers import Answer
from .api import issued, path_int, read_json, read_limited, status_url
from .dossier_desk import ACTIVE, DossierDesk, attach, desk_of
from .dossier_openapi import MAX_BULK, ApologyPrint, BulkReady, Extend, Outcome, Ready, openapi_paths
from .engine import Engine, Ticket, TicketState
from .errors import BadRequest, Conflict, NotFound
from .office import Office, public_ticket
from .office import Outcome as Decided
from .schemas import Empty, bad_field, parse

__all__ = ["attach", "openapi_paths", "routes"]

MAX_IMPORT_BYTES = 4_000_000
LIST_LIMIT = 500


class NotReady(Conflict):
    """409 ``not_ready``: the answer also carries the dates at the top level, so the kiosk
    can say when to come back."""

    key = "not_ready"

    def to_json(self) -> dict[str, Any]:
        body = super().to_json()
        body.update({k: self.details[k] for k in ("due_date", "new_due_date", "status") if k in self.details})
        return body


def _office(request: Request) -> Office:
    return request.app.state.office  # type: ignore[no-any-return]


def _desk(request: Request) -> DossierDesk:
    return desk_of(_office(request))


def _code(request: Request) -> str:
    return dossiers.check_code(_office(request).config, request.path_params["code"])


# ---------------------------------------------------------------------- public


async def list_procedures(request: Request) -> Answer:
    config = _office(request).config
    service = request.query_params.get("service")
    if service is not None and service not in {s.code for s in config.services}:
        raise NotFound(f"Không có lĩnh vực {service[:16]}.", f"No service {service[:16]}.", key="service_not_found")
    items = procedures.for_service(config, service) if service else config.procedures
    return Answer(
        {
            "procedures": [
                {
                    "code": p.code,
                    "name": p.name,
                    "name_en": p.name_en or p.name,
                    "service": p.service,
                    "days": p.days,
                    "papers": p.papers,
                }
                for p in items
            ]
        }
    )


async def get_dossier(request: Request) -> Answer:
    desk = _desk(request)
    code = _code(request)
    d = await desk.office.read(dossiers.require, code)
    return Answer(dossiers.public_view(desk.config, d, desk.today()))


async def ticket_dossiers(request: Request) -> Answer:
    """The phone page of a reception ticket: the dossiers of that visit."""
    desk = _desk(request)
    token = request.path_params["token"]
    ticket = desk.office.ticket_status(token) if 8 <= len(token) <= 64 else None
    if ticket is None:
        raise NotFound("Không tìm thấy vé.", "Ticket not found.", key="ticket_not_found")
    rows = await desk.office.read(dossiers.of_ticket, ticket["id"])
    today = desk.today()
    return Answer({"dossiers": [dossiers.public_view(desk.config, d, today) for d in rows]})


# ---------------------------------------------------------------------- the counter


def _held(desk: DossierDesk, n: int) -> dict[str, Any]:
    t = desk.office.held_ticket(n)
    if t is None:
        raise Conflict(
            f"Quầy {n} không giữ vé nào: hãy gọi số trước.",
            f"Counter {n} holds no ticket: call one first.",
            key="no_ticket",
        )
    return t.to_dict()


async def _visit(desk: DossierDesk, ticket_id: int) -> dict[str, Any]:
    today = desk.today()

    def read(conn: sqlite3.Connection) -> dict[str, Any]:
        return {
            "dossiers": [dossiers.staff_view(desk.config, d, today) for d in dossiers.of_ticket(conn, ticket_id)],
            "outcomes": dossiers.outcomes_of_ticket(conn, ticket_id),
        }

    return await desk.office.read(read)  # type: ignore[no-any-return]


async def counter_dossiers(request: Request) -> Answer:
    desk = _desk(request)
    n = path_int(request, "n")
    desk.office.counter(n)
    auth.require_counter(request, desk.office, n)
    t = desk.office.held_ticket(n)
    body: dict[str, Any] = {"ticket": public_ticket(t.to_dict()) if t else None, "dossiers": [], "outcomes": []}
    if t is not None:
        body.update(await _visit(desk, t.id))
        body["due_dates"] = {
            p.code: desk.calendar().add_working_days(desk.today(), p.days).isoformat()
            for p in procedures.for_service(desk.config, t.service)
        }
    return Answer(body)


async def record_outcome(request: Request) -> Answer:
    """POST /api/counters/{n}/dossiers: the outcome of the visit the counter holds."""
    desk = _desk(request)
    office = desk.office
    n = path_int(request, "n")
    office.counter(n)
    user = auth.require_counter(request, office, n)
    body = parse(await read_json(request), Outcome)
    outcome = body.outcome or "received"
    code: str | None = None
    if outcome != "guidance" and (outcome != "papers" or body.code not in (None, "")):
        code = dossiers.check_code(office.config, body.code)
    procedure = body.procedure
    if procedure is None and outcome == "received":
        raise bad_field("Object missing required field `procedure`")
    due = dossiers.parse_day(body.due_date, "due_date") if body.due_date else None
    staff = user["username"]

    def write(conn: Any) -> dict[str, Any] | None:
        # Under the office lock: the ticket held now is the one the outcome is for.
        ticket = _held(desk, n)
        _, today, at = desk.now()
        common = {"today": today, "at": at, "ticket": ticket, "staff": staff, "counter": n}
        if outcome == "received":
            return dossiers.receive(
                conn,
                office.config,
                code=code,  # type: ignore[arg-type]
                procedure=procedure,  # type: ignore[arg-type]
                due=due,
                **common,
            )
        if outcome == "papers":
            return dossiers.papers(conn, office.config, code=code, procedure=procedure, **common)
        if outcome == "returned":
            return dossiers.mark_returned(
                conn,
                office.config,
                code=code,  # type: ignore[arg-type]
                procedure=procedure,
                **common,
            )
        dossiers.guidance(conn, at=common["at"], ticket=ticket, staff=staff, counter=n)
        return None

    d = await desk.write(write)
    ticket_id = office.counter(n).ticket_id
    if d is not None:
        desk.publish(f"dossier_{outcome}", d, counter=n)
    answer = {
        "outcome": outcome,
        "dossier": dossiers.staff_view(office.config, d, desk.today()) if d else None,
        **(await _visit(desk, ticket_id) if ticket_id else {"dossiers": [], "outcomes": []}),
    }
    return Answer(answer, status_code=201)


# ---------------------------------------------------------------------- staff


async def _ready(desk: DossierDesk, codes: list[str], body: Ready | BulkReady, staff: str) -> list[dict[str, Any]]:
    on = dossiers.parse_day(body.ready_on, "ready_on") if body.ready_on else None

    def write(conn: Any) -> list[tuple[dict[str, Any], bool]]:
        _, today, at = desk.now()
        if on is not None and on > today:
            raise BadRequest(
                "Ngày có kết quả không được sau hôm nay.",
                "The ready date cannot be in the future.",
                key="bad_ready_date",
            )
        for code in codes:
            dossiers.require(conn, code)
        return [dossiers.mark_ready(conn, code=code, on=on or today, at=at, staff=staff) for code in codes]

    results = await desk.write(write)
    for d, changed in results:
        if changed:
            desk.publish("dossier_ready", d)
    today = desk.today()
    return [dossiers.staff_view(desk.config, d, today) | {"changed": changed} for d, changed in results]


async def mark_ready(request: Request) -> Answer:
    desk = _desk(request)
    user = auth.require_user(request, desk.office)
    code = _code(request)
    body = parse(await read_json(request), Ready)
    (view,) = await _ready(desk, [code], body, user["username"])
    return Answer({"dossier": view})


async def mark_ready_bulk(request: Request) -> Answer:
    desk = _desk(request)
    user = auth.require_user(request, desk.office)
    body = parse(await read_json(request, limit=MAX_BULK * 80), BulkReady)
    codes = list(dict.fromkeys(dossiers.check_code(desk.config, c) for c in body.codes))
    views = await _ready(desk, codes, body, user["username"])
    await desk.office.audit(user, "dossiers_ready", codes=codes, changed=sum(v["changed"] for v in views))
    return Answer({"dossiers": views, "changed": sum(v["changed"] for v in views)})


async def extend(request: Request) -> Answer:
    desk = _desk(request)
    user = auth.require_user(request, desk.office)
    code = _code(request)
    body = parse(await read_json(request), Extend)
    new_due, reason = dossiers.parse_day(body.due_date, "due_date"), body.reason

    def write(conn: Any) -> dict[str, Any]:
        _, today, at = desk.now()
        return dossiers.extend(
            conn, code=code, new_due=new_due, reason=reason, today=today, at=at, staff=user["username"]
        )

    d = await desk.write(write)
    desk.publish("dossier_extended", d)
    await desk.office.audit(user, "dossier_extended", code=code, due_date=d["new_due_date"], reason=d["extend_reason"])
    return Answer(
        {"dossier": dossiers.staff_view(desk.config, d, desk.today()), "apology_url": f"/dossiers/{code}/apology"}
    )


async def withdraw(request: Request) -> Answer:
    desk = _desk(request)
    user = auth.require_user(request, desk.office)
    code = _code(request)
    parse(await read_json(request), Empty)
    d = await desk.write(lambda conn: dossiers.withdraw(conn, code=code, at=desk.now()[2], staff=user["username"]))
    desk.publish("dossier_withdrawn", d)
    await desk.office.audit(user, "dossier_withdrawn", code=code)
    return Answer({"dossier": dossiers.staff_view(desk.config, d, desk.today())})


async def list_dossiers(request: Request) -> Answer:
    desk = _desk(request)
    auth.require_user(request, desk.office)
    q = request.query_params
    where, params = [], []
    status = q.get("status")
    if status:
        if status not in {s.value for s in dossiers.Status}:
            raise BadRequest("Trạng thái không hợp lệ.", "Unknown status.", key="bad_field", field="status")
        where.append("status = ?")
        params.append(status)
    text = (q.get("q") or "").strip().upper()[:64]
    if text:
        where.append("code LIKE ? ESCAPE '\\'")
        params.append("%" + text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%")
    sql = (
        f"SELECT {', '.join(dossiers.COLUMNS)} FROM dossiers {'WHERE ' + ' AND '.join(where) if where else ''} "
        f"ORDER BY received_at DESC, code LIMIT {LIST_LIMIT}"
    )
    rows = await desk.office.read(lambda conn: conn.execute(sql, params).fetchall())
    today = desk.today()
    return Answer({"dossiers": [dossiers.staff_view(desk.config, dict(zip(dossiers.COLUMNS, r)), today) for r in rows]})


async def get_alerts(request: Request) -> Answer:
    desk = _desk(request)
    auth.require_user(request, desk.office)
    return Answer(await desk.alerts())


async def import_csv(request: Request) -> Answer:
    desk = _desk(request)
    user = auth.require_user(request, desk.office, role="admin")
    data = await read_limited(request, MAX_IMPORT_BYTES, ("Tệp quá lớn.", "File too large."))
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise BadRequest("Tệp phải là CSV UTF-8.", "The file must be UTF-8 CSV.", key="bad_import") from None
    rows = dossier_import.parse(text, desk.today())
    result = await desk.write(lambda conn: dossier_import.apply(conn, rows, at=desk.now()[2], staff=user["username"]))
    for change in result["changed"]:
        d = await desk.office.read(dossiers.get, change["code"])
        if d is not None:
            desk.publish(f"dossier_{change['to']}", d)
    await desk.office.audit(
        user,
        "dossiers_import",
        rows=result["rows"],
        changed=result["changed"],
        unchanged=result["unchanged"],
        unknown=result["unknown"],
    )
    return Answer(result)


# ---------------------------------------------------------------------- the kiosk


def _closed(d: dict[str, Any], today: dt.date) -> Conflict:
    """A check-in for a dossier already returned or withdrawn."""
    vi, en = dossiers.status_text(d, today)
    code = d["code"]
    return Conflict(f"Hồ sơ {code}: {vi}.", f"Dossier {code}: {en}.", key="already_returned", status=d["status"])


async def check_in(request: Request) -> Answer:
    """A result-return ticket for a ready dossier; the same code again answers the same
    ticket (200) while it is waiting or being served."""
    desk = _desk(request)
    office = desk.office
    kiosk = auth.require_kiosk(request, office.config)
    code = _code(request)
    parse(await read_json(request), Empty)
    d = await desk.office.read(dossiers.require, code)
    if d["status"] in (dossiers.Status.RETURNED, dossiers.Status.WITHDRAWN):
        raise _closed(d, desk.today())
    if d["status"] == dossiers.Status.PAPERS:  # with the citizen: no date to come back on
        raise NotReady(
            f"Hồ sơ {code} đang chờ bổ sung giấy tờ: xin mang giấy tờ còn thiếu đến quầy tiếp nhận.",
            f"Dossier {code} is waiting for additional papers: please bring them to the reception counter.",
            due_date=d["due_date"],
            new_due_date=d["new_due_date"],
            status=d["status"],
        )
    if d["status"] != dossiers.Status.READY:
        due = dossiers.effective_due(d)
        raise NotReady(
            f"Hồ sơ {code} chưa có kết quả. Ngày hẹn trả: {dossiers.vn_date(due)}.",
            f"Dossier {code} is not ready yet. Due date: {dossiers.vn_date(due)}.",
            due_date=d["due_date"],
            new_due_date=d["new_due_date"],
            status=d["status"],
        )
    service = office.config.dossiers.return_service or d["service"]
    if not service:
        raise Conflict(
            "Văn phòng chưa cấu hình lĩnh vực trả kết quả.",
            "No result-return service is configured.",
            key="no_return_service",
        )
    printing = request.app.state.printing
    print_writer = printing.job_writer(kiosk, lambda t: status_url(request, t), code) if printing else None
    token = secrets.token_urlsafe(16)

    def command(engine: Engine, now: dt.datetime) -> Decided[tuple[Ticket, bool]]:
        # Under the office lock, from memory: ``d`` was read before it, and a check-in issued
        # since then (committed or not) is known to the desk.
        held = desk.return_ticket(d)
        if held is not None and held.state in ACTIVE:
            return Decided((held, False), [])
        if held is not None and held.state is TicketState.DONE:  # finishing it returned the dossier
            raise _closed(d | {"status": dossiers.Status.RETURNED}, desk.today())
        ticket, events = engine.issue(now, service=service, token=token, kiosk=kiosk.id)
        desk.checked_in(code, ticket)
        return Decided((ticket, True), events)

    def extra(conn: Any, events: list[Any]) -> None:
        if print_writer:
            print_writer(conn, events)
        for e in events:
            if e.kind == "ticket_issued" and e.ticket and e.ticket["token"] == token:
                dossiers.link_return_ticket(conn, code=code, ticket=e.ticket, at=e.at.isoformat())

    ticket, new = await office.execute_outcome(command, extra=extra)
    after = await office.read(dossiers.require, code)
    result = {
        **issued(request, office, ticket),
        "dossier": dossiers.public_view(office.config, after, desk.today()),
    }
    return Answer(result, status_code=201 if new else 200)


async def page_apology(request: Request) -> Response:
    from .apology import apology_html

    desk = _desk(request)
    auth.require_user(request, desk.office)
    d = await desk.office.read(dossiers.require, _code(request))
    return Response(
        apology_html(desk.config, d, desk.today()),
        media_type="text/html; charset=utf-8",
        headers={"Cache-Control": "no-store"},
    )


async def apology_print(request: Request) -> Answer:
    from .apology import print_apology

    desk = _desk(request)
    user = auth.require_user(request, desk.office)
    code = _code(request)
    counter = parse(await read_json(request), ApologyPrint).counter
    d = await desk.office.read(dossiers.require, code)
    result = await print_apology(desk.office, d, counter, desk.today())
    await desk.office.audit(user, "apology_printed", code=code, counter=counter)
    return Answer(result)


async def page_dossiers(request: Request) -> Response:
    """The dossier screen (/admin/dossiers): alerts, marking ready, apologies, import, reports."""
    from .app import DISPLAY_DIR

    return FileResponse(DISPLAY_DIR / "dossiers.html", headers={"Cache-Control": "no-cache"})


routes = [
    Route("/admin/dossiers", page_dossiers),
    Route("/api/procedures", list_procedures),
    Route("/api/dossiers", list_dossiers),
    Route("/api/dossiers/alerts", get_alerts),
    Route("/api/dossiers/ready", mark_ready_bulk, methods=["POST"]),
    Route("/api/dossiers/import", import_csv, methods=["POST"]),
    Route("/api/dossiers/{code}", get_dossier),
    Route("/api/dossiers/{code}/ready", mark_ready, methods=["POST"]),
    Route("/api/dossiers/{code}/extend", extend, methods=["POST"]),
    Route("/api/dossiers/{code}/withdraw", withdraw, methods=["POST"]),
    Route("/api/dossiers/{code}/check-in", check_in, methods=["POST"]),
    Route("/api/dossiers/{code}/apology/print", apology_print, methods=["POST"]),
    Route("/dossiers/{code}/apology", page_apology),
    Route("/api/tickets/{token}/dossiers", ticket_dossiers),
    Route("/api/counters/{n}/dossiers", counter_dossiers),
    Route("/api/counters/{n}/dossiers", record_outcome, methods=["POST"]),
]
