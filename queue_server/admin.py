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
from starlette.routing import Route

from . import auth, configedit
from .admin_openapi import AUDIT_LIMIT, ConfigEdit, ConfigText, Disable, FoundTicket, NewPassword, NewUser, User
from .admin_openapi import openapi_paths as openapi_paths
from .answers import Answer
from .api import read_json
from .config_diff import describe_changes
from .engine import TicketState
from .errors import BadRequest, NotFound
from .office import Office
from .schemas import encode, parse
from .ws import sessions_changed


def _office(request: Request) -> Office:
    return request.app.state.office  # type: ignore[no-any-return]


def _admin(request: Request) -> dict[str, Any]:
    return auth.require_user(request, _office(request), role="admin")


# --------------------------------------------------------------------------- monitor


async def monitor(office: Office) -> dict[str, Any]:
    from .dossier_desk import desk_of

    # Read first, off the event loop; the engine's part below is then taken in one step.
    dossier_alerts = await desk_of(office).alerts()
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
    return {
        "snapshot": snap,
        "alerts": alerts,
        "long_wait_minutes": office.config.alerts.long_wait_minutes,
        "served_by_staff": served,
        # Open dossiers overdue, due today, due within 2 working days (docs/dossiers.md).
        "dossier_alerts": dossier_alerts,
    }


async def get_monitor(request: Request) -> Answer:
    _admin(request)
    return Answer(await monitor(_office(request)))


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


async def get_config(request: Request) -> Answer:
    office = _office(request)
    _admin(request)
    path = _config_path(office)
    return Answer(
        {"path": str(path), "text": configedit.read_text(path), "editable": configedit.editable(office.config)}
    )


async def _read_config_json(request: Request) -> dict[str, Any]:
    """Like api.read_json (the same checks and the same ``server.max_body_bytes`` limit as every
    other request), with a 413 that names the setting: a config.toml too big to send whole is
    edited on disk, or the limit raised there."""
    limit = _office(request).config.server.max_body_bytes
    return await read_json(
        request,
        too_large=(
            f"Dữ liệu gửi lên quá lớn (tối đa {limit} byte, server.max_body_bytes): "
            "hãy sửa config.toml trên máy chủ hoặc tăng giới hạn này.",
            f"Request body too large (at most {limit} bytes, server.max_body_bytes): "
            "edit config.toml on the server, or raise that limit there.",
        ),
    )


def _config_lock(request: Request) -> asyncio.Lock:
    """One config edit at a time: two admins saving at once must not interleave read-modify-write."""
    state = request.app.state
    if not hasattr(state, "admin_config_lock"):
        state.admin_config_lock = asyncio.Lock()
    return state.admin_config_lock  # type: ignore[no-any-return]


async def _save_config(office: Office, doc: Any) -> Any:
    path = _config_path(office)
    configedit.check_restart_only(office.config, doc)
    config, pending = configedit.prepare(path, doc)

    async def apply() -> None:
        try:
            await office.reload_config(config)
        except BaseException:
            pending.discard()
            raise
        pending.commit()

    # Shielded: a client that goes away mid-save cannot leave the office switched and the
    # file not written (or the reverse).
    await asyncio.shield(apply())
    return config


async def edit_config(request: Request) -> Answer:
    """Structured edit (services, counters, kiosks, printers, ticker) kept in config.toml."""
    office = _office(request)
    user = _admin(request)
    changes = await _read_config_json(request)
    parse(changes, ConfigEdit)
    async with _config_lock(request):
        doc = configedit.parse_text(configedit.read_text(_config_path(office)))
        configedit.apply_changes(doc, changes)
        before = office.config
        config = await _save_config(office, doc)
    # What actually changed, in words (the form sends every section each time).
    await office.audit(user, "config_edited", changes=describe_changes(before, config))
    return Answer({"ok": True, "editable": configedit.editable(config)})


async def edit_config_text(request: Request) -> Answer:
    """The whole config.toml as text (the IT person's own edit, from the screen)."""
    office = _office(request)
    user = _admin(request)
    text = parse(await _read_config_json(request), ConfigText).text
    async with _config_lock(request):
        before = office.config
        config = await _save_config(office, configedit.parse_text(text))
    await office.audit(user, "config_replaced", changes=describe_changes(before, config))
    return Answer({"ok": True, "editable": configedit.editable(config)})


# --------------------------------------------------------------------------- staff


def _user_view(u: dict[str, Any]) -> dict[str, Any]:
    return encode(u, User)


async def list_users(request: Request) -> Answer:
    _admin(request)
    return Answer({"users": [_user_view(u) for u in _office(request).users()]})


async def add_user(request: Request) -> Answer:
    office = _office(request)
    user = _admin(request)
    body = parse(await read_json(request), NewUser)
    username, password, role, display_name = body.username, body.password, body.role or "clerk", body.display_name or ""
    await office.add_user(username, password, role, display_name)
    await office.audit(user, "user_added", username=username.strip(), role=role)
    return Answer({"user": _user_view(office.get_user(username.strip()) or {})}, status_code=201)


async def set_user_disabled(request: Request) -> Answer:
    office = _office(request)
    user = _admin(request)
    name = request.path_params["name"]
    disabled = parse(await read_json(request), Disable).disabled
    if disabled and name == user["username"]:
        raise BadRequest(
            "Không thể tự khóa tài khoản của mình.", "You cannot disable your own account.", key="self_disable"
        )
    await office.set_user_disabled(name, disabled)
    sessions_changed(office)
    await office.audit(user, "user_disabled" if disabled else "user_enabled", username=name)
    return Answer({"user": _user_view(office.get_user(name) or {})})


async def reset_password(request: Request) -> Answer:
    office = _office(request)
    user = _admin(request)
    name = request.path_params["name"]
    password = parse(await read_json(request), NewPassword).password
    await office.set_user_password(name, password)
    sessions_changed(office)
    await office.audit(user, "password_reset", username=name)
    return Answer({"ok": True})


# --------------------------------------------------------------------------- tickets


async def find_tickets(request: Request) -> Answer:
    """Today's tickets, newest first; ``q`` filters by number or label."""
    office = _office(request)
    _admin(request)
    q = (request.query_params.get("q") or "").strip().upper()
    found = [t for t in office.tickets_today() if (not q or t.label == q or str(t.number) == q or q in t.label)]
    found.sort(key=lambda t: t.id, reverse=True)
    return Answer({"tickets": [encode(t.to_dict(), FoundTicket) for t in found[:100]]})


# --------------------------------------------------------------------------- audit


async def get_audit(request: Request) -> Answer:
    office = _office(request)
    _admin(request)
    rows = await office.read(
        lambda conn: conn.execute(
            "SELECT id, at, username, action, details FROM audit ORDER BY id DESC LIMIT ?", (AUDIT_LIMIT,)
        ).fetchall()
    )
    return Answer(
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
