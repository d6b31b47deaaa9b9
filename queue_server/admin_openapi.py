"""The declared bodies of the admin routes (``queue_server.admin``) and their OpenAPI
description: the request bodies are parsed with these declarations (``schemas.parse``), and
the document's schemas come from them."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any, ClassVar, Literal

import msgspec
from msgspec import Meta, Struct

from . import configedit
from .auth import USERNAME
from .engine import TicketState
from .openapi import ADMIN, operation, path_param, query_param
from .schemas import Body, Ok, ref

AUDIT_LIMIT = 500
_STR = {"type": "string"}
_ADMIN = (401, 403)  # every route here: not signed in, not an admin
Password = Annotated[str, Meta(min_length=8, max_length=200)]
Role = Literal["clerk", "admin"]  # auth.ROLES


# --------------------------------------------------------------------------- requests


if TYPE_CHECKING:

    class ConfigEdit(Body): ...

    class Editable(Struct): ...

else:
    # The structured config edit, from configedit's own lists of what may be edited: each
    # list present is the whole new list; each entry needs its key (services: code,
    # counters: number, kiosks: id, printers: id).
    _office_edit = msgspec.defstruct(
        "OfficeEdit",
        [(k, str | None, None) for k in configedit.OFFICE_KEYS],
        bases=(Body,),
        kw_only=True,
        forbid_unknown_fields=True,
        module=__name__,
    )
    ConfigEdit = msgspec.defstruct(
        "ConfigEdit",
        [
            ("office", _office_edit | None, None),
            *((name, list[dict[str, Any]] | None, None) for name in configedit.LISTS),
        ],
        bases=(Body,),
        kw_only=True,
        forbid_unknown_fields=True,
        module=__name__,
    )
    # config.toml as the admin screen's form shows it (``configedit.editable``).
    Editable = msgspec.defstruct(
        "Editable",
        [
            ("office", msgspec.defstruct("OfficeNames", [(k, str) for k in configedit.OFFICE_KEYS], module=__name__)),
            *((name, list[dict[str, Any]]) for name in configedit.LISTS),
        ],
        kw_only=True,
        module=__name__,
    )


class ConfigText(Body):
    text: Annotated[str, Meta(min_length=1, pattern=r"\S")]


class NewUser(Body):
    error_keys: ClassVar[dict[str, str]] = {"username": "bad_username", "password": "bad_password", "role": "bad_role"}

    username: Annotated[str, Meta(max_length=40, pattern=USERNAME)]
    password: Password
    role: Role | None = None
    display_name: Annotated[str, Meta(max_length=100)] | None = None


class Disable(Body):
    disabled: bool


class NewPassword(Body):
    error_keys: ClassVar[dict[str, str]] = {"password": "bad_password"}

    password: Password


# --------------------------------------------------------------------------- answers


class WaitAlert(Struct, kw_only=True):
    id: int
    label: str
    service: str
    waited_s: int
    issued_at: str


class DossierAlerts(Struct, kw_only=True):
    overdue: list[dict[str, Any]]
    due_today: list[dict[str, Any]]
    due_soon: list[dict[str, Any]]
    today: str = ""
    due_soon_until: str = ""


class Monitor(Struct, kw_only=True):
    # The staff snapshot as the office builds it for the screens (``GET /api/state``): passed
    # through whole, with the parts the feature modules add.
    snapshot: Annotated[dict[str, Any], Meta(description="The staff snapshot, as GET /api/state gives it")]
    long_wait_minutes: int
    alerts: list[WaitAlert]
    served_by_staff: dict[str, int]
    dossier_alerts: DossierAlerts | None = None


class ConfigFile(Struct, kw_only=True):
    path: str
    text: str
    editable: Editable


class Saved(Struct, kw_only=True):
    ok: Literal[True]
    editable: Editable


class User(Struct, kw_only=True):
    username: str
    display_name: str
    role: Role
    created_at: str
    disabled: bool


class Users(Struct, kw_only=True):
    users: list[User]


class UserAnswer(Struct, kw_only=True):
    user: User


class FoundTicket(Struct, kw_only=True):
    id: int
    label: str
    service: str
    state: TicketState
    priority: bool
    counter: int | None
    staff: str | None
    issued_at: str
    called_at: str | None
    transfers: int


class FoundTickets(Struct, kw_only=True):
    tickets: list[FoundTicket]


class AuditRow(Struct, kw_only=True):
    id: int
    at: str
    username: str | None
    action: str
    details: dict[str, Any]


class Audit(Struct, kw_only=True):
    audit: list[AuditRow]


_NAME = path_param("name", _STR)
openapi_paths: dict[str, Any] = {
    "/api/admin/monitor": {
        "get": operation(
            "Live monitor: the staff snapshot, tickets waiting too long, tickets served per clerk today, dossiers "
            "overdue / due today / due within 2 working days",
            ref(Monitor),
            errors=_ADMIN,
            security=ADMIN,
        )
    },
    "/api/admin/config": {
        "get": operation(
            "config.toml as text and as the form's data",
            ref(ConfigFile),
            errors=(*_ADMIN, 404),
            security=ADMIN,
        ),
        "post": operation(
            "Structured edit of config.toml, applied at once (audited)",
            ref(Saved),
            body=ref(ConfigEdit),
            errors=(400, *_ADMIN, 404, 409, 413),
            security=ADMIN,
        ),
    },
    "/api/admin/config/text": {
        "post": operation(
            "Replace config.toml with this text, applied at once (audited)",
            ref(Saved),
            body=ref(ConfigText),
            errors=(400, *_ADMIN, 404, 409, 413),
            security=ADMIN,
        )
    },
    "/api/admin/users": {
        "get": operation(
            "Staff accounts (no password hashes)",
            ref(Users),
            errors=_ADMIN,
            security=ADMIN,
        ),
        "post": operation(
            "Add an account (audited)",
            ref(UserAnswer),
            status="201",
            body=ref(NewUser),
            errors=(400, *_ADMIN, 409, 413),
            security=ADMIN,
        ),
    },
    "/api/admin/users/{name}/disabled": {
        "post": operation(
            "Disable or enable an account (audited; not your own)",
            ref(UserAnswer),
            body=ref(Disable),
            errors=(400, *_ADMIN, 404, 413),
            security=ADMIN,
            params=[_NAME],
        )
    },
    "/api/admin/users/{name}/password": {
        "post": operation(
            "Set a new password (audited)",
            ref(Ok),
            body=ref(NewPassword),
            errors=(400, *_ADMIN, 404, 413),
            security=ADMIN,
            params=[_NAME],
        )
    },
    "/api/admin/tickets": {
        "get": operation(
            "Today's tickets, newest first (at most 100); `q` filters by number or label",
            ref(FoundTickets),
            errors=_ADMIN,
            security=ADMIN,
            params=[query_param("q", _STR)],
        )
    },
    "/api/admin/audit": {
        "get": operation(
            f"The last {AUDIT_LIMIT} audit rows, newest first: when, who, what",
            ref(Audit),
            errors=_ADMIN,
            security=ADMIN,
        )
    },
}
