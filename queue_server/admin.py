"""Admin HTTP routes (admin role only): live monitor, config.toml editing, staff accounts,
ticket search and the audit log (the report routes are in ``report_routes``).

Every change an admin makes is written to the ``audit`` table (who, what, when) after it
succeeded, through ``Office.audit``. Queue changes an admin makes from the screen (a
service's open/cap, a counter's open/pause/resume/close, cancel, requeue, reprint) are not
here: the screen calls the core endpoints in ``api`` and ``printing``, which audit them.
Account and audit rows are written in the office's writer thread, the one that owns the
write connection.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from . import auth, configedit
from .api import get_bool, get_str, read_json
from .config_diff import describe_changes
from .engine import TicketState
from .errors import BadRequest, NotFound
from .office import Office
from .openapi import ADMIN, STATE, obj, operation, path_param, query_param
from .ws import sessions_changed

AUDIT_LIMIT = 500


def _office(request: Request) -> Office:
    return request.app.state.office  # type: ignore[no-any-return]


def _admin(request: Request) -> dict[str, Any]:
    return auth.require_user(request, _office(request), role="admin")


# --------------------------------------------------------------------------- monitor


def monitor(office: Office) -> dict[str, Any]:
    snap = office.snapshot("staff")
    now = office.clock()
    limit = office.config.alerts.long_wait_minutes * 60
    alerts = []
    for t in sorted(office.waiting(), key=lambda t: t.issued_at):
        waited = (now - t.issued_at).total_seconds()
        if waited > limit:
            alerts.append(
                {
                    "id": t.id,
                    "label": t.label,
                    "service": t.service,
                    "waited_s": round(waited),
                    "issued_at": t.issued_at.isoformat(),
                }
            )
    served: dict[str, int] = {}
    for t in office.tickets_today():
        if t.state is TicketState.DONE and t.staff:
            served[t.staff] = served.get(t.staff, 0) + 1
    from .dossier_desk import desk_of

    return {
        "snapshot": snap,
        "alerts": alerts,
        "long_wait_minutes": office.config.alerts.long_wait_minutes,
        "served_by_staff": served,
        # Open dossiers overdue, due today, due within 2 working days (docs/dossiers.md).
        "dossier_alerts": desk_of(office).alerts(),
    }


async def get_monitor(request: Request) -> JSONResponse:
    _admin(request)
    return JSONResponse(monitor(_office(request)))


# --------------------------------------------------------------------------- office setup


def _config_path(office: Office) -> Any:
    path = office.config.path
    if path is None or not path.is_file():
        raise NotFound(
            "Máy chủ không chạy từ một tệp config.toml.",
            "The server was not started from a config.toml.",
            key="no_config_file",
        )
    return path


async def get_config(request: Request) -> JSONResponse:
    office = _office(request)
    _admin(request)
    path = _config_path(office)
    return JSONResponse(
        {"path": str(path), "text": configedit.read_text(path), "editable": configedit.editable(office.config)}
    )


async def _read_big_json(request: Request) -> dict[str, Any]:
    """Like api.read_json (the same checks), with room for a whole config.toml."""
    return await read_json(request, limit=configedit.MAX_TEXT)


def _config_lock(request: Request) -> asyncio.Lock:
    """One config edit at a time: two admins saving at once must not interleave read-modify-write."""
    state = request.app.state
    if not hasattr(state, "admin_config_lock"):
        state.admin_config_lock = asyncio.Lock()
    return state.admin_config_lock  # type: ignore[no-any-return]


async def _save_config(office: Office, doc: Any) -> Any:
    path = _config_path(office)
    configedit.check_disk_only(office.config, doc)
    config, pending = configedit.prepare(path, doc)
    try:
        await office.reload_config(config)
    except BaseException:
        pending.discard()
        raise
    pending.commit()
    return config


async def edit_config(request: Request) -> JSONResponse:
    """Structured edit (services, counters, kiosks, printers, ticker) kept in config.toml."""
    office = _office(request)
    user = _admin(request)
    changes = await _read_big_json(request)
    async with _config_lock(request):
        doc = configedit.parse_text(configedit.read_text(_config_path(office)))
        configedit.apply_changes(doc, changes)
        before = office.config
        config = await _save_config(office, doc)
    # What actually changed, in words (the form sends every section each time).
    await office.audit(user, "config_edited", changes=describe_changes(before, config))
    return JSONResponse({"ok": True, "editable": configedit.editable(config)})


async def edit_config_text(request: Request) -> JSONResponse:
    """The whole config.toml as text (the IT person's own edit, from the screen)."""
    office = _office(request)
    user = _admin(request)
    body = await _read_big_json(request)
    text = body.get("text")
    if not isinstance(text, str) or not text.strip():
        raise BadRequest("Thiếu nội dung tệp cấu hình.", "The config text is missing.", key="bad_field", field="text")
    async with _config_lock(request):
        before = office.config
        config = await _save_config(office, configedit.parse_text(text))
    await office.audit(user, "config_replaced", changes=describe_changes(before, config))
    return JSONResponse({"ok": True, "editable": configedit.editable(config)})


# --------------------------------------------------------------------------- staff


def _user_view(u: dict[str, Any]) -> dict[str, Any]:
    return {k: u[k] for k in ("username", "display_name", "role", "created_at")} | {"disabled": bool(u["disabled"])}


async def list_users(request: Request) -> JSONResponse:
    _admin(request)
    return JSONResponse({"users": [_user_view(u) for u in _office(request).users()]})


async def add_user(request: Request) -> JSONResponse:
    office = _office(request)
    user = _admin(request)
    body = await read_json(request)
    username = get_str(body, "username", required=True, max_len=40) or ""
    password = get_str(body, "password", required=True, max_len=200) or ""
    role = get_str(body, "role", max_len=10) or "clerk"
    display_name = get_str(body, "display_name", max_len=100) or ""
    await office.add_user(username, password, role, display_name)
    await office.audit(user, "user_added", username=username.strip(), role=role)
    return JSONResponse({"user": _user_view(office.get_user(username.strip()) or {})}, status_code=201)


async def set_user_disabled(request: Request) -> JSONResponse:
    office = _office(request)
    user = _admin(request)
    name = request.path_params["name"]
    disabled = get_bool(await read_json(request), "disabled")
    if disabled is None:
        raise BadRequest("Thiếu “disabled”.", "“disabled” is required.", key="bad_field", field="disabled")
    if disabled and name == user["username"]:
        raise BadRequest(
            "Không thể tự khóa tài khoản của mình.", "You cannot disable your own account.", key="self_disable"
        )
    await office.set_user_disabled(name, disabled)
    sessions_changed(office)
    await office.audit(user, "user_disabled" if disabled else "user_enabled", username=name)
    return JSONResponse({"user": _user_view(office.get_user(name) or {})})


async def reset_password(request: Request) -> JSONResponse:
    office = _office(request)
    user = _admin(request)
    name = request.path_params["name"]
    password = get_str(await read_json(request), "password", required=True, max_len=200) or ""
    await office.set_user_password(name, password)
    sessions_changed(office)
    await office.audit(user, "password_reset", username=name)
    return JSONResponse({"ok": True})


# --------------------------------------------------------------------------- tickets


async def find_tickets(request: Request) -> JSONResponse:
    """Today's tickets, newest first; ``q`` filters by number or label."""
    office = _office(request)
    _admin(request)
    q = (request.query_params.get("q") or "").strip().upper()
    found = [t for t in office.tickets_today() if (not q or t.label == q or str(t.number) == q or q in t.label)]
    found.sort(key=lambda t: t.id, reverse=True)
    keys = ("id", "label", "service", "state", "priority", "counter", "staff", "issued_at", "called_at", "transfers")
    return JSONResponse({"tickets": [{k: t.to_dict()[k] for k in keys} for t in found[:100]]})


# --------------------------------------------------------------------------- audit


async def get_audit(request: Request) -> JSONResponse:
    office = _office(request)
    _admin(request)
    rows = await office.read(
        lambda conn: conn.execute(
            "SELECT id, at, username, action, details FROM audit ORDER BY id DESC LIMIT ?", (AUDIT_LIMIT,)
        ).fetchall()
    )
    return JSONResponse(
        {
            "audit": [
                {"id": r[0], "at": r[1], "username": r[2], "action": r[3], "details": json.loads(r[4]) if r[4] else {}}
                for r in rows
            ]
        }
    )


routes = [
    Route("/api/admin/monitor", get_monitor),
    Route("/api/admin/config", get_config),
    Route("/api/admin/config", edit_config, methods=["POST"]),
    Route("/api/admin/config/text", edit_config_text, methods=["POST"]),
    Route("/api/admin/users", list_users),
    Route("/api/admin/users", add_user, methods=["POST"]),
    Route("/api/admin/users/{name}/disabled", set_user_disabled, methods=["POST"]),
    Route("/api/admin/users/{name}/password", reset_password, methods=["POST"]),
    Route("/api/admin/tickets", find_tickets),
    Route("/api/admin/audit", get_audit),
]


# --------------------------------------------------------------------------- OpenAPI

_STR = {"type": "string"}
_INT = {"type": "integer"}
_OBJECTS = {"type": "array", "items": {"type": "object"}}
_ADMIN = (401, 403)  # every route here: not signed in, not an admin
_USER = obj(
    {
        "username": _STR,
        "display_name": _STR,
        "role": {"enum": list(auth.ROLES)},
        "created_at": _STR,
        "disabled": {"type": "boolean"},
    }
)
_EDITABLE = obj(
    {"office": obj({k: _STR for k in configedit.OFFICE_KEYS}), **{name: _OBJECTS for name in configedit.LISTS}}
)
_CONFIG_EDIT = {
    "type": "object",
    "additionalProperties": False,
    "description": "Each list present is the whole new list; each entry needs its key "
    f"({', '.join(f'{n}: {k}' for n, k in configedit.LISTS.items())})",
    "properties": {
        "office": {
            "type": "object",
            "additionalProperties": False,
            "properties": {k: _STR for k in configedit.OFFICE_KEYS},
        },
        **{name: _OBJECTS for name in configedit.LISTS},
    },
}
_SAVED = obj({"ok": {"const": True}, "editable": _EDITABLE})
_NAME = path_param("name", _STR)
openapi_paths: dict[str, Any] = {
    "/api/admin/monitor": {
        "get": operation(
            "Live monitor: the staff snapshot, tickets waiting too long, tickets served per clerk today, dossiers "
            "overdue / due today / due within 2 working days",
            obj(
                {
                    "snapshot": STATE,
                    "long_wait_minutes": _INT,
                    "alerts": {
                        "type": "array",
                        "items": obj({"id": _INT, "label": _STR, "service": _STR, "waited_s": _INT, "issued_at": _STR}),
                    },
                    "served_by_staff": {"type": "object", "additionalProperties": _INT},
                },
                {"dossier_alerts": obj({k: {"type": "array"} for k in ("overdue", "due_today", "due_soon")})},
            ),
            errors=_ADMIN,
            security=ADMIN,
        )
    },
    "/api/admin/config": {
        "get": operation(
            "config.toml as text and as the form's data",
            obj({"path": _STR, "text": _STR, "editable": _EDITABLE}),
            errors=(*_ADMIN, 404),
            security=ADMIN,
        ),
        "post": operation(
            "Structured edit of config.toml, applied at once (audited)",
            _SAVED,
            body=_CONFIG_EDIT,
            errors=(400, *_ADMIN, 404, 409, 413),
            security=ADMIN,
        ),
    },
    "/api/admin/config/text": {
        "post": operation(
            "Replace config.toml with this text, applied at once (audited)",
            _SAVED,
            body=obj({"text": {"type": "string", "minLength": 1}}),
            errors=(400, *_ADMIN, 404, 409, 413),
            security=ADMIN,
        )
    },
    "/api/admin/users": {
        "get": operation(
            "Staff accounts (no password hashes)",
            obj({"users": {"type": "array", "items": _USER}}),
            errors=_ADMIN,
            security=ADMIN,
        ),
        "post": operation(
            "Add an account (audited)",
            obj({"user": _USER}),
            status="201",
            body=obj(
                {
                    "username": {"type": "string", "maxLength": 40},
                    "password": {"type": "string", "minLength": 8, "maxLength": 200},
                },
                {"role": {"enum": list(auth.ROLES)}, "display_name": {"type": "string", "maxLength": 100}},
            ),
            errors=(400, *_ADMIN, 409, 413),
            security=ADMIN,
        ),
    },
    "/api/admin/users/{name}/disabled": {
        "post": operation(
            "Disable or enable an account (audited; not your own)",
            obj({"user": _USER}),
            body=obj({"disabled": {"type": "boolean"}}),
            errors=(400, *_ADMIN, 404, 413),
            security=ADMIN,
            params=[_NAME],
        )
    },
    "/api/admin/users/{name}/password": {
        "post": operation(
            "Set a new password (audited)",
            obj({"ok": {"const": True}}),
            body=obj({"password": {"type": "string", "minLength": 8, "maxLength": 200}}),
            errors=(400, *_ADMIN, 404, 413),
            security=ADMIN,
            params=[_NAME],
        )
    },
    "/api/admin/tickets": {
        "get": operation(
            "Today's tickets, newest first (at most 100); `q` filters by number or label",
            obj(
                {
                    "tickets": {
                        "type": "array",
                        "items": obj(
                            {
                                "id": _INT,
                                "label": _STR,
                                "service": _STR,
                                "state": _STR,
                                "priority": {"type": "boolean"},
                                "counter": {"type": ["integer", "null"]},
                                "staff": {"type": ["string", "null"]},
                                "issued_at": _STR,
                                "called_at": {"type": ["string", "null"]},
                                "transfers": _INT,
                            }
                        ),
                    }
                }
            ),
            errors=_ADMIN,
            security=ADMIN,
            params=[query_param("q", _STR)],
        )
    },
    "/api/admin/audit": {
        "get": operation(
            f"The last {AUDIT_LIMIT} audit rows, newest first: when, who, what",
            obj(
                {
                    "audit": {
                        "type": "array",
                        "items": obj(
                            {
                                "id": _INT,
                                "at": _STR,
                                "username": {"type": ["string", "null"]},
                                "action": _STR,
                                "details": {"type": "object"},
                            }
                        ),
                    }
                }
            ),
            errors=_ADMIN,
            security=ADMIN,
        )
    },
}
