"""HTTP JSON endpoints. Each handler checks who is asking, parses the body strictly, runs
one engine command through ``Office.execute`` and answers with JSON. Errors are raised as
``MotcuaError`` and rendered by the handler in ``queue_server.app``.

(Over 400 lines: the core routes of kiosk, counter, rating and status pages stay together, one
short handler each; their rules are the engine's, their declarations ``openapi``'s.)"""

from __future__ import annotations

import datetime as dt
import json
import secrets
from typing import Any, Literal

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from . import auth, schemas
from .answers import Answer
from .engine import Engine, Event, Ticket, Unsaid
from .errors import BadRequest, Forbidden, NotFound, PayloadTooLarge, StaleCheck, Unauthorized
from .office import Command, CounterCheck, Office, Outcome, public_ticket
from .schemas import UnsetType, parse
from .store import ticket_by_token as store_ticket_by_token
from .ws import sessions_changed


def _office(request: Request) -> Office:
    return request.app.state.office  # type: ignore[no-any-return]


TOO_LARGE = ("Dữ liệu gửi lên quá lớn.", "Request body too large.")


async def read_limited(request: Request, limit: int, too_large: tuple[str, str] = TOO_LARGE) -> bytes:
    """The raw body, refused with a 413 (``too_large``: Vietnamese, English) past ``limit``
    bytes, as declared or as it streams in (a chunked body declares nothing)."""
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > limit:
        raise PayloadTooLarge(*too_large)
    body = b""
    async for chunk in request.stream():
        body += chunk
        if len(body) > limit:
            raise PayloadTooLarge(*too_large)
    return body


async def read_json(
    request: Request, limit: int | None = None, too_large: tuple[str, str] = TOO_LARGE
) -> dict[str, Any]:
    """The body as a JSON object, within ``limit`` bytes (default: ``server.max_body_bytes``);
    ``{}`` for an empty body. ``too_large`` words the 413 (Vietnamese, English)."""
    body = await read_limited(request, limit or _office(request).config.server.max_body_bytes, too_large)
    if not body.strip():
        return {}
    try:
        data = json.loads(body)
        # Lone surrogates ("\ud800") parse but cannot be encoded back into a response.
        json.dumps(data, ensure_ascii=False).encode("utf-8")
    except (ValueError, UnicodeError, RecursionError):  # RecursionError: "[[[[…" nested deeper than Python allows
        raise BadRequest("Dữ liệu không phải JSON hợp lệ.", "Body is not valid JSON.", key="bad_json") from None
    if not isinstance(data, dict):
        raise BadRequest("Dữ liệu phải là một đối tượng JSON.", "Body must be a JSON object.", key="bad_json")
    _check_depth(data, "", 0)
    return data


# No body needs more: a config edit is {"counters": [{"services": {"CT": "primary"}}]}.
MAX_DEPTH = 16


def _check_depth(value: Any, where: str, depth: int) -> None:
    """Refuse JSON nested deeper than ``MAX_DEPTH``, naming the key where it goes too deep
    (deeper structures make the TOML writer and validators recurse without end)."""
    if depth > MAX_DEPTH:
        raise BadRequest(
            f"“{where}” lồng nhau quá sâu (tối đa {MAX_DEPTH} tầng).",
            f"“{where}” is nested too deeply (at most {MAX_DEPTH} levels).",
            key="too_deep",
            field=where,
        )
    if isinstance(value, dict):
        for k, v in value.items():
            _check_depth(v, f"{where}.{k}" if where else str(k), depth + 1)
    elif isinstance(value, list):
        for i, v in enumerate(value):
            _check_depth(v, f"{where}[{i}]", depth + 1)


def path_int(request: Request, name: str) -> int:
    raw = request.path_params[name]
    if not (raw.isascii() and raw.isdigit()) or len(raw) > 9:  # "③".isdigit() is True
        raise NotFound(f"Không tìm thấy: {raw}", f"Not found: {raw}")
    return int(raw)


# ---------------------------------------------------------------------- public


async def healthz(request: Request) -> Answer:
    office = _office(request)
    # Screens connected now, and how many were dropped for falling behind since start;
    # group commits since start: transactions written and the commands they carried.
    screens, dropped = office.screens()
    return Answer(
        {
            "ok": True,
            "seq": office.seq,
            "day": office.day,
            "screens": screens,
            "dropped_screens": dropped,
            "commits": office.commit_counts(),
        }
    )


async def state(request: Request) -> Response:
    office = _office(request)
    audience = "staff" if auth.current_user(request, office) else "public"
    # The same cached JSON the screens get (built once per seq and audience), once every
    # command run so far is durable.
    return Response(await office.snapshot_text(audience), media_type="application/json")


async def ticket_status(request: Request) -> Answer:
    token = request.path_params["token"]
    office = _office(request)
    status = office.ticket_status(token) if 8 <= len(token) <= 64 else None
    if status is None and 8 <= len(token) <= 64:
        # An earlier day's ticket: from the database, on a reader thread.
        stored = await office.read(store_ticket_by_token, token)
        status = office.ticket_status(token, stored) if stored is not None else None
    if status is None:
        raise NotFound("Không tìm thấy vé.", "Ticket not found.", key="ticket_not_found")
    return Answer(status)


def issued(
    request: Request, office: Office, ticket: Ticket, *, ahead: int | None = None, wait: int | None = None
) -> dict[str, Any]:
    """The answer to a ticket just issued (``schemas.Issued``): the kiosk's, and the check-ins'
    (which add their appointment or dossier). ``ahead`` and ``wait``: where it stands now, when
    that is not what it was told at issue."""
    data = ticket.to_dict()
    svc = office.config.service(ticket.service)
    printing = request.app.state.printing
    return {
        "ticket": public_ticket(data),
        "id": ticket.id,
        "number": ticket.number,
        "label": ticket.label,
        "service": ticket.service,
        "service_name": svc.name,
        "service_name_en": svc.name_en,
        "priority": ticket.priority,
        "people_ahead": ticket.people_ahead if ahead is None else ahead,
        "estimated_wait_s": ticket.estimated_wait_s if wait is None else wait,
        "issued_at": data["issued_at"],
        "token": ticket.token,
        "status_url": status_url(request, ticket.token),
        "print": printing.job_status(ticket.id) if printing else {"state": "none"},
    }


def status_url(request: Request, token: str) -> str:
    base = _office(request).config.server.public_url.rstrip("/") or str(request.base_url).rstrip("/")
    return f"{base}/t/{token}"


async def issue_ticket(request: Request) -> Answer:
    office = _office(request)
    kiosk = auth.require_kiosk(request, office.config)
    body = parse(await read_json(request), schemas.IssueTicket)
    service, priority, request_id = body.service, bool(body.priority), body.request_id
    token = secrets.token_urlsafe(16)
    printing = request.app.state.printing

    def command(engine: Engine, now: dt.datetime) -> Outcome[tuple[Ticket, bool]]:
        # The repeat lookup runs inside the engine, under the office lock: two racing copies
        # of one request get one ticket, the first 201 and the other 200.
        ticket, events = engine.issue(
            now, service=service, token=token, priority=priority, kiosk=kiosk.id, request_id=request_id
        )
        return Outcome((ticket, any(e.kind == "ticket_issued" for e in events)), events)

    ticket, created = await office.execute_outcome(
        command,
        extra=printing.job_writer(kiosk, lambda t: status_url(request, t)) if printing else None,
    )
    return Answer(issued(request, office, ticket), status_code=201 if created else 200)


# ---------------------------------------------------------------------- staff


async def login(request: Request) -> Answer:
    office = _office(request)
    body = parse(await read_json(request), schemas.Login)
    username, password, counter = body.username, body.password, body.counter
    address = request.client.host if request.client else "?"
    throttle: auth.LoginThrottle = request.app.state.throttle
    throttle.check(username, address)
    user = office.get_user(username)
    if not auth.check_login(user, password):
        throttle.failed(username, address)
        raise Unauthorized(
            "Sai tên đăng nhập hoặc mật khẩu (hoặc tài khoản đã bị khóa).",
            "Wrong username or password (or the account is disabled).",
            key="bad_login",
        )
    throttle.succeeded(username, address)
    assert user is not None
    if counter is not None:
        office.counter(counter)
        await office.execute(lambda engine, now: engine.sign_on(now, counter, username))
    old_sid = request.session.get("sid")
    if isinstance(old_sid, str):
        await office.end_session(old_sid)
    sid = await office.start_session(username)
    request.session.clear()
    request.session.update({"user": username, "sid": sid, "counter": counter})
    return Answer({"user": username, "display_name": user["display_name"], "role": user["role"], "counter": counter})


async def logout(request: Request) -> Answer:
    office = _office(request)
    user = auth.current_user(request, office)
    counter = request.session.get("counter")
    if user is not None and counter is not None and office.holders().get(counter) == user["username"]:
        await office.execute(lambda engine, now: engine.sign_off(now, counter, user["username"]))
    sid = request.session.get("sid")
    if isinstance(sid, str):
        await office.end_session(sid)
        sessions_changed(office)
    request.session.clear()
    return Answer({"ok": True})


async def me(request: Request) -> Answer:
    office = _office(request)
    user = auth.require_user(request, office)
    return Answer(
        {
            "user": user["username"],
            "display_name": user["display_name"],
            "role": user["role"],
            "counter": request.session.get("counter"),
        }
    )


def _counter_action(name: str):  # type: ignore[no-untyped-def]
    """A handler for POST /api/counters/{n}/<name>."""

    async def handler(request: Request) -> Answer:
        office = _office(request)
        n = path_int(request, "n")
        office.counter(n)
        user = auth.require_counter(request, office, n)
        staff = user["username"]
        # The engine refuses a clerk acting for a counter another account now holds (a stale
        # session); an administrator may act on any counter.
        override = user["role"] == "admin"
        data = await read_json(request)
        details: dict[str, Any] = {"counter": n}
        if name == "next":
            expected = schemas.expected(parse(data, schemas.NextTicket).current)
            command = lambda e, now: e.call_next(now, n, staff, expected, override=override)  # noqa: E731
        elif name == "call":
            call = parse(data, schemas.CallNumber)
            number, expected = call.number, schemas.expected(call.current)
            command = lambda e, now: e.call_number(  # noqa: E731
                now,
                n,
                staff,
                number,
                expected,
                override=override,
            )
        elif name == "transfer":
            transfer = parse(data, schemas.Transfer)
            service, to_counter = transfer.service, transfer.counter
            command = lambda e, now: e.transfer(  # noqa: E731
                now,
                n,
                staff,
                service=service,
                to_counter=to_counter,  # noqa: E731
                override=override,
            )
        elif name == "pause":
            reason = parse(data, schemas.Pause).reason
            details["reason"] = reason
            command = lambda e, now: e.pause(now, n, staff, reason, override=override)  # noqa: E731
        elif name == "open":
            if user["role"] != "admin" and request.session.get("counter") != n:
                raise Forbidden("Bạn không đăng nhập tại quầy này.", "You are not signed on at this counter.")
            clerk = _clerk_to_open(office, user, parse(data, schemas.OpenCounter).staff)
            details["staff"] = clerk
            command = lambda e, now: e.sign_on(now, n, clerk)  # noqa: E731
        else:
            method = {
                "recall": "recall",
                "start": "start",
                "done": "finish",
                "no-show": "no_show",
                "resume": "resume",
                "close": "sign_off",
            }[name]
            command = lambda e, now: getattr(e, method)(now, n, staff, override=override)  # noqa: E731
        await _guarded(office, name, n, command)
        if name in AUDITED_COUNTER_ACTIONS and user["role"] == "admin":
            await office.audit(user, f"counter_{name}", **details)
        return Answer(counter_view(office, n))

    handler.__name__ = f"counter_{name.replace('-', '_')}"
    return handler


async def _guarded(office: Office, action: str, n: int, command: Command, attempts: int = 3) -> None:
    """Run a counter action's ``command`` after the office's counter guards: each reads what
    it needs first (off the event loop), and its check runs under the office lock, inside the
    command, so the rule and the action see one state. A check whose reading went stale (the
    counter moved on meanwhile) is read again, a few times at most."""
    for attempt in range(attempts):
        checks = [check for guard in office.counter_guards if (check := await guard(action, n)) is not None]

        def guarded(engine: Engine, now: dt.datetime, checks: list[CounterCheck] = checks) -> list[Event]:
            for check in checks:
                check()
            return command(engine, now)

        try:
            await office.execute(guarded)
            return
        except StaleCheck:
            if attempt == attempts - 1:
                raise


def _clerk_to_open(office: Office, user: dict[str, Any], staff: str | None) -> str:
    """Whom ``open`` signs on: the user, or (for an admin) the active account named in ``staff``."""
    clerk = staff or user["username"]
    if clerk == user["username"]:
        return clerk
    if user["role"] != "admin":
        raise Forbidden(
            "Chỉ quản trị viên được mở quầy cho người khác.",
            "Only an administrator may open a counter for someone else.",
            key="admin_only",
        )
    account = office.get_user(clerk)
    if account is None or account["disabled"]:
        raise NotFound(
            f"Không có tài khoản {clerk} (hoặc đã bị khóa).", f"No active user {clerk}.", key="user_not_found"
        )
    return clerk


def counter_view(office: Office, n: int) -> dict[str, Any]:
    """What the clerk's screen needs after an action."""
    c = office.counter(n)
    t = office.held_ticket(n)
    return {"counter": c.to_dict(), "ticket": public_ticket(t.to_dict()) if t else None, "seq": office.seq}


async def requeue(request: Request) -> Answer:
    office = _office(request)
    user = auth.require_user(request, office)
    tid = path_int(request, "id")
    await office.execute(lambda e, now: e.requeue(now, tid, user["username"]))
    await office.audit(user, "ticket_requeue", ticket_id=tid, label=office.ticket(tid).label)
    return Answer({"ticket": public_ticket(office.ticket(tid).to_dict())})


async def cancel(request: Request) -> Answer:
    office = _office(request)
    user = auth.require_user(request, office, role="admin")
    tid = path_int(request, "id")
    await office.execute(lambda e, now: e.cancel(now, tid, user["username"]))
    await office.audit(user, "ticket_cancel", ticket_id=tid, label=office.ticket(tid).label)
    return Answer({"ticket": public_ticket(office.ticket(tid).to_dict())})


async def rate(request: Request) -> Answer:
    """The rating tablet at counter n (its device token): one rating for the ticket that
    counter just finished."""
    office = _office(request)
    n = path_int(request, "n")
    office.counter(n)
    auth.require_rating_tablet(request, office.config, n)
    rating = parse(await read_json(request), schemas.Rating)
    tid, level = rating.ticket_id, rating.level
    # The engine checks, under the office lock, that this counter served the ticket and that
    # it is still the one the tablet may rate (the counter's latest finished ticket).
    await office.execute(lambda e, now: e.rate(now, tid, level, counter=n))
    return Answer({"ok": True, "ticket_id": tid, "level": level})


async def set_service(request: Request) -> Answer:
    office = _office(request)
    user = auth.require_user(request, office, role="admin")
    code = request.path_params["code"]
    body = await read_json(request)
    change = parse(body, schemas.ServiceChange)
    is_open = change.open
    cap: int | None | Literal[Unsaid.KEEP] = Unsaid.KEEP if isinstance(change.cap, UnsetType) else change.cap
    if is_open is None and cap is Unsaid.KEEP:
        raise BadRequest("Hãy gửi “open” hoặc “cap”.", "Send “open” or “cap”.", key="nothing_to_change")
    await office.execute(lambda e, now: e.set_service(now, code, user["username"], open=is_open, cap=cap))
    await office.audit(user, "service_changed", service=code, **{k: body[k] for k in ("open", "cap") if k in body})
    return Answer({"services": office.services_summary(office.clock())})


# Audited when an admin does them (from the admin screen, or for a clerk's counter). A
# clerk opening, pausing or closing their own counter is daily work, not an admin action:
# the event log already says who did it.
AUDITED_COUNTER_ACTIONS = ("open", "pause", "resume", "close")
COUNTER_ACTIONS = ("open", "next", "recall", "start", "done", "no-show", "transfer", "call", "pause", "resume", "close")

routes = [
    Route("/healthz", healthz),
    Route("/api/state", state),
    Route("/api/tickets", issue_ticket, methods=["POST"]),
    Route("/api/tickets/{token}", ticket_status),
    Route("/api/tickets/{id}/requeue", requeue, methods=["POST"]),
    Route("/api/tickets/{id}/cancel", cancel, methods=["POST"]),
    Route("/api/login", login, methods=["POST"]),
    Route("/api/logout", logout, methods=["POST"]),
    Route("/api/me", me),
    Route("/api/counters/{n}/rating", rate, methods=["POST"]),
    Route("/api/services/{code}", set_service, methods=["POST"]),
    *[Route(f"/api/counters/{{n}}/{name}", _counter_action(name), methods=["POST"]) for name in COUNTER_ACTIONS],
]
