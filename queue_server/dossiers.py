"""Dossiers (hồ sơ): the link between a visit and the file the province's software received.
(Over 400 lines: a dossier's whole lifecycle — receive, ready, extend, return, import — in one place.)

This is not a queue rule, so it lives outside the engine: a dossier row changes in its own
write transaction in the office's writer thread (``DossierDesk.write``), under the office
lock, and staff screens hear of it after the commit. The one exception is a result-return
ticket being finished: its dossier becomes *returned* inside the very transaction that
commits the ``ticket_done`` event (``DossierDesk.on_commit``), so the two never disagree.

States::

    received ──ready──▶ ready ──returned──▶ returned
       │  ▲                      (counter, or the result-return ticket done)
       │  └──received again (papers brought)──┐
       ├──papers requested──▶ papers ─────────┘
       └──withdraw──▶ withdrawn          (papers ──withdraw──▶ withdrawn too)

A dossier is *on time* when its result was ready on or before its ORIGINAL due date; a
dossier that got an apology slip with a new date (``extend``) counts as late whatever the
new date. The functions here take a ``sqlite3.Connection`` inside the caller's
transaction and raise ``MotcuaError`` subclasses before writing anything.
"""

from __future__ import annotations

import datetime as dt
import json
import re
import sqlite3
from enum import StrEnum
from typing import Any

from . import procedures
from .config import Config
from .errors import BadRequest, Conflict, NotFound
from .workdays import Calendar

MAX_CODE = 64
MAX_REASON = 200


class Status(StrEnum):
    RECEIVED = "received"
    READY = "ready"
    RETURNED = "returned"
    WITHDRAWN = "withdrawn"
    PAPERS = "papers"


OPEN = (Status.RECEIVED, Status.PAPERS)
RESOLVED = (Status.READY, Status.RETURNED)
# What a clerk records for the visit of the ticket they hold.
OUTCOMES = ("received", "guidance", "papers", "returned")
COLUMNS = (
    "code",
    "procedure",
    "service",
    "status",
    "received_on",
    "received_at",
    "due_date",
    "new_due_date",
    "extend_reason",
    "extended_at",
    "ready_on",
    "returned_at",
    "ticket_id",
    "staff",
    "counter",
    "return_ticket_id",
    "updated_at",
)


# ---------------------------------------------------------------------- codes and dates


def normalize_code(raw: str) -> str:
    """What the clerk typed or the scanner sent, trimmed and upper-cased (codes are
    case-insensitive; a scanner with Caps Lock on types lower case)."""
    return raw.strip().upper()


def check_code(config: Config, raw: Any) -> str:
    if not isinstance(raw, str) or not raw.strip():
        raise BadRequest("Hãy nhập hoặc quét mã hồ sơ.", "Type or scan the dossier code.", key="bad_dossier_code")
    code = normalize_code(raw)
    d = config.dossiers
    if len(code) > MAX_CODE or "\x00" in code or not re.fullmatch(d.code_pattern, code):
        raise BadRequest(
            f"Mã hồ sơ “{code[:MAX_CODE]}” không đúng dạng: {d.code_description}.",
            f"Dossier code “{code[:MAX_CODE]}” has the wrong shape: {d.code_description_en}.",
            key="bad_dossier_code",
            pattern=d.code_pattern,
        )
    return code


def parse_day(raw: Any, name: str) -> dt.date:
    """A date as "YYYY-MM-DD" or "DD/MM/YYYY"."""
    if isinstance(raw, str):
        text = raw.strip()
        m = re.fullmatch(r"(\d{1,2})/(\d{1,2})/(\d{4})", text)
        try:
            if m:
                return dt.date(int(m.group(3)), int(m.group(2)), int(m.group(1)))
            if re.fullmatch(r"\d{4}-\d{2}-\d{2}", text):
                return dt.date.fromisoformat(text)
        except ValueError:
            pass
    raise BadRequest(
        f"Trường “{name}” phải là ngày dd/mm/yyyy.",
        f"Field “{name}” must be a date (dd/mm/yyyy).",
        key="bad_field",
        field=name,
    )


def vn_date(day: str | dt.date | None) -> str:
    if not day:
        return ""
    d = dt.date.fromisoformat(day) if isinstance(day, str) else day
    return d.strftime("%d/%m/%Y")


def due_date(config: Config, received_on: dt.date, procedure_code: str) -> dt.date:
    proc = procedures.procedure(config, procedure_code)
    days = proc.days if proc else 0
    return Calendar.from_config(config).add_working_days(received_on, days)


def effective_due(d: dict[str, Any]) -> str | None:
    return d.get("new_due_date") or d.get("due_date")


# ---------------------------------------------------------------------- views


def status_text(d: dict[str, Any], today: dt.date) -> tuple[str, str]:
    """The status in the citizen's words (Vietnamese, English)."""
    s = d["status"]
    if s == Status.RETURNED:
        return "Đã trả", "Returned"
    if s == Status.READY:
        return "Đã có kết quả – mời đến nhận", "Result ready – please come to collect it"
    if s == Status.WITHDRAWN:
        return "Đã rút hồ sơ", "Withdrawn"
    if s == Status.PAPERS:
        return "Chờ bổ sung giấy tờ", "Waiting for additional papers"
    if d.get("new_due_date"):
        return (f"Trễ hẹn – hẹn lại ngày {vn_date(d['new_due_date'])}", f"Late – new date {vn_date(d['new_due_date'])}")
    if d.get("due_date") and d["due_date"] < today.isoformat():
        return "Trễ hẹn", "Late"
    return "Đang giải quyết", "In progress"


def _local_day(config: Config, at: str) -> str:
    """The office's date of a stored moment (a UTC timestamp; the import stores a plain date)."""
    if len(at) <= 10:
        return at
    return dt.datetime.fromisoformat(at).astimezone(config.office.tz).date().isoformat()


def public_view(config: Config, d: dict[str, Any], today: dt.date) -> dict[str, Any]:
    """What anyone with the code may see: code, procedure, dates and status; never a name."""
    proc = procedures.procedure(config, d["procedure"] or "")
    try:
        svc = config.service(d["service"]) if d.get("service") else None
    except KeyError:
        svc = None
    vi, en = status_text(d, today)
    return {
        "code": d["code"],
        "procedure": d["procedure"],
        "procedure_name": proc.name if proc else (d["procedure"] or ""),
        "procedure_name_en": (proc.name_en or proc.name) if proc else (d["procedure"] or ""),
        "service": d["service"],
        "service_name": svc.name if svc else (d["service"] or ""),
        "service_name_en": (svc.name_en or svc.name) if svc else (d["service"] or ""),
        "received_on": d["received_on"],
        "due_date": d["due_date"],
        "new_due_date": d["new_due_date"],
        "ready_on": d["ready_on"],
        "returned_on": _local_day(config, d["returned_at"]) if d.get("returned_at") else None,
        "status": d["status"],
        "status_text": vi,
        "status_text_en": en,
        "late": is_late(d, today),
    }


def staff_view(config: Config, d: dict[str, Any], today: dt.date) -> dict[str, Any]:
    view = public_view(config, d, today)
    view.update({k: d[k] for k in ("ticket_id", "staff", "counter", "return_ticket_id", "extend_reason")})
    return view


def is_late(d: dict[str, Any], today: dt.date) -> bool:
    """Late by the on-time rule: extended, ready after the original due date, or still open
    after it."""
    if d["status"] == Status.WITHDRAWN or not d.get("due_date"):
        return False
    if d.get("new_due_date"):
        return True
    if d.get("ready_on"):
        return bool(d["ready_on"] > d["due_date"])
    return d["status"] in OPEN and today.isoformat() > d["due_date"]


# ---------------------------------------------------------------------- reads


def get(conn: sqlite3.Connection, code: str) -> dict[str, Any] | None:
    row = conn.execute(f"SELECT {', '.join(COLUMNS)} FROM dossiers WHERE code = ?", (code,)).fetchone()
    return dict(zip(COLUMNS, row)) if row else None


def require(conn: sqlite3.Connection, code: str) -> dict[str, Any]:
    d = get(conn, code)
    if d is None:
        raise NotFound(f"Không tìm thấy hồ sơ {code}.", f"No dossier {code}.", key="dossier_not_found")
    return d


def due_by(conn: sqlite3.Connection, day: str) -> list[dict[str, Any]]:
    """Open dossiers (received, waiting for papers) whose current due date is ``day`` or earlier."""
    rows = conn.execute(
        f"SELECT {', '.join(COLUMNS)} FROM dossiers WHERE status IN ('received', 'papers') "
        "AND coalesce(new_due_date, due_date) <= ? ORDER BY coalesce(new_due_date, due_date), code",
        (day,),
    ).fetchall()
    return [dict(zip(COLUMNS, r)) for r in rows]


def of_ticket(conn: sqlite3.Connection, ticket_id: int) -> list[dict[str, Any]]:
    """The dossiers a visit received, returned or sent back for papers."""
    rows = conn.execute(
        f"SELECT {', '.join(COLUMNS)} FROM dossiers WHERE code IN "
        "(SELECT code FROM dossier_log WHERE ticket_id = ? AND code IS NOT NULL) "
        "OR ticket_id = ? OR return_ticket_id = ? ORDER BY received_at, code",
        (ticket_id, ticket_id, ticket_id),
    ).fetchall()
    return [dict(zip(COLUMNS, r)) for r in rows]


def outcomes_of_ticket(conn: sqlite3.Connection, ticket_id: int) -> list[dict[str, Any]]:
    rows = conn.execute(
        "SELECT at, code, action, details FROM dossier_log WHERE ticket_id = ? ORDER BY id", (ticket_id,)
    ).fetchall()
    return [{"at": r[0], "code": r[1], "action": r[2], "details": json.loads(r[3]) if r[3] else {}} for r in rows]


def has_outcome(conn: sqlite3.Connection, ticket_id: int) -> bool:
    return (
        conn.execute(
            "SELECT 1 FROM dossier_log WHERE ticket_id = ? AND action IN "
            "('received', 'guidance', 'papers', 'returned', 'check_in') LIMIT 1",
            (ticket_id,),
        ).fetchone()
        is not None
    )


# ---------------------------------------------------------------------- writes


def log(
    conn: sqlite3.Connection,
    at: str,
    action: str,
    code: str | None,
    *,
    ticket_id: int | None = None,
    staff: str | None = None,
    counter: int | None = None,
    **details: Any,
) -> None:
    conn.execute(
        "INSERT INTO dossier_log (at, code, action, ticket_id, staff, counter, details) VALUES (?, ?, ?, ?, ?, ?, ?)",
        (at, code, action, ticket_id, staff, counter, json.dumps(details, ensure_ascii=False) if details else None),
    )


def _save(conn: sqlite3.Connection, d: dict[str, Any]) -> None:
    conn.execute(
        f"INSERT OR REPLACE INTO dossiers ({', '.join(COLUMNS)}) VALUES ({', '.join('?' * len(COLUMNS))})",
        [d.get(c) for c in COLUMNS],
    )


def _blank(code: str, at: str) -> dict[str, Any]:
    return {c: None for c in COLUMNS} | {"code": code, "updated_at": at}


def _state_error(d: dict[str, Any], vi: str, en: str, key: str = "dossier_state") -> Conflict:
    text_vi, text_en = status_text(d, dt.date.min)
    return Conflict(
        f"Hồ sơ {d['code']} {vi} (trạng thái: {text_vi}).",
        f"Dossier {d['code']} {en} ({text_en}).",
        key=key,
        status=d["status"],
    )


def receive(
    conn: sqlite3.Connection,
    config: Config,
    *,
    code: str,
    procedure: str,
    due: dt.date | None,
    today: dt.date,
    at: str,
    ticket: dict[str, Any],
    staff: str,
    counter: int,
) -> dict[str, Any]:
    """Record a dossier received at this visit. A code already known is refused, except one
    waiting for papers (the citizen brought them: the count starts again today)."""
    proc = procedures.procedure(config, procedure)
    if proc is None:
        raise BadRequest(f"Không có thủ tục “{procedure}”.", f"No procedure “{procedure}”.", key="bad_procedure")
    default_due = Calendar.from_config(config).add_working_days(today, proc.days)
    due = due or default_due
    if due < today:
        raise BadRequest(
            "Ngày hẹn trả không được trước ngày nhận.",
            "The due date cannot be before the day received.",
            key="bad_due_date",
        )
    old = get(conn, code)
    if old is not None and old["status"] != Status.PAPERS:
        raise _state_error(old, "đã được tiếp nhận", "was already received", key="dossier_exists")
    d = (old or _blank(code, at)) | {
        "procedure": proc.code,
        "service": proc.service,
        "status": Status.RECEIVED,
        "received_on": today.isoformat(),
        "received_at": at,
        "due_date": due.isoformat(),
        "new_due_date": None,
        "extend_reason": None,
        "extended_at": None,
        "ready_on": None,
        "ticket_id": ticket["id"],
        "staff": staff,
        "counter": counter,
        "updated_at": at,
    }
    _save(conn, d)
    log(
        conn,
        at,
        "received",
        code,
        ticket_id=ticket["id"],
        staff=staff,
        counter=counter,
        procedure=proc.code,
        due_date=d["due_date"],
        **({"default_due_date": default_due.isoformat()} if due != default_due else {}),
    )
    return d


def papers(
    conn: sqlite3.Connection,
    config: Config,
    *,
    code: str | None,
    procedure: str | None,
    today: dt.date,
    at: str,
    ticket: dict[str, Any],
    staff: str,
    counter: int,
) -> dict[str, Any] | None:
    """Additional papers requested: the dossier (if it has a code yet) goes back to the citizen."""
    d: dict[str, Any] | None = None
    if code is not None:
        old = get(conn, code)
        if old is not None and old["status"] not in OPEN:
            raise _state_error(old, "không còn đang giải quyết", "is no longer in progress")
        proc = procedures.procedure(config, procedure) if procedure else None
        if procedure and proc is None:
            raise BadRequest(f"Không có thủ tục “{procedure}”.", f"No procedure “{procedure}”.", key="bad_procedure")
        d = (
            old
            or _blank(code, at)
            | {
                "procedure": proc.code if proc else None,
                "service": proc.service if proc else ticket.get("service"),
                "ticket_id": ticket["id"],
                "staff": staff,
                "counter": counter,
            }
        ) | {"status": Status.PAPERS, "updated_at": at}
        _save(conn, d)
    log(conn, at, "papers", code, ticket_id=ticket["id"], staff=staff, counter=counter)
    return d


def guidance(conn: sqlite3.Connection, *, at: str, ticket: dict[str, Any], staff: str, counter: int) -> None:
    log(conn, at, "guidance", None, ticket_id=ticket["id"], staff=staff, counter=counter)


def mark_returned(
    conn: sqlite3.Connection,
    config: Config,
    *,
    code: str,
    procedure: str | None,
    today: dt.date,
    at: str,
    ticket: dict[str, Any] | None,
    staff: str | None,
    counter: int | None,
) -> dict[str, Any]:
    """The result was handed to the citizen. A dossier received before motcua knew of it is
    recorded as returned (ready today)."""
    old = get(conn, code)
    if old is not None and old["status"] in (Status.RETURNED, Status.WITHDRAWN):
        raise _state_error(old, "đã trả hoặc đã rút", "was already returned or withdrawn", key="already_returned")
    proc = procedures.procedure(config, procedure) if procedure else None
    if procedure and proc is None:
        raise BadRequest(f"Không có thủ tục “{procedure}”.", f"No procedure “{procedure}”.", key="bad_procedure")
    d = old or _blank(code, at) | {"procedure": proc.code if proc else None, "service": proc.service if proc else None}
    d = d | {
        "status": Status.RETURNED,
        "ready_on": d.get("ready_on") or today.isoformat(),
        "returned_at": at,
        "updated_at": at,
    }
    if ticket is not None and d.get("return_ticket_id") is None:
        d["return_ticket_id"] = ticket["id"]
    _save(conn, d)
    log(conn, at, "returned", code, ticket_id=ticket["id"] if ticket else None, staff=staff, counter=counter)
    return d


def mark_ready(
    conn: sqlite3.Connection, *, code: str, on: dt.date, at: str, staff: str | None, source: str = "staff"
) -> tuple[dict[str, Any], bool]:
    """Result ready on ``on``. Returns (dossier, changed): an already ready dossier is left
    as it is."""
    d = require(conn, code)
    if d["status"] == Status.READY:
        return d, False
    if d["status"] not in OPEN:
        raise _state_error(d, "đã trả hoặc đã rút", "was already returned or withdrawn")
    if d["received_on"] and on.isoformat() < d["received_on"]:
        raise BadRequest(
            "Ngày có kết quả không được trước ngày nhận.",
            "The ready date cannot be before the day received.",
            key="bad_ready_date",
        )
    d = d | {"status": Status.READY, "ready_on": on.isoformat(), "updated_at": at}
    _save(conn, d)
    log(conn, at, "ready", code, staff=staff, ready_on=d["ready_on"], source=source)
    return d, True


def extend(
    conn: sqlite3.Connection, *, code: str, new_due: dt.date, reason: str, today: dt.date, at: str, staff: str | None
) -> dict[str, Any]:
    """An apology with a new return date: the dossier counts as late from now on."""
    d = require(conn, code)
    if d["status"] not in OPEN:
        raise _state_error(d, "đã có kết quả, đã trả hoặc đã rút", "is ready, returned or withdrawn")
    if not reason.strip():
        raise BadRequest("Hãy ghi lý do trễ hẹn.", "Give the reason for the delay.", key="bad_field", field="reason")
    previous = max(d["due_date"] or "", d["new_due_date"] or "")
    if new_due.isoformat() <= previous or new_due < today:
        raise BadRequest(
            f"Ngày hẹn mới phải sau ngày hẹn cũ ({vn_date(previous)}) và không trước hôm nay.",
            f"The new date must be after the previous one ({vn_date(previous)}) and not before today.",
            key="bad_due_date",
        )
    d = d | {"new_due_date": new_due.isoformat(), "extend_reason": reason.strip(), "extended_at": at, "updated_at": at}
    _save(conn, d)
    log(conn, at, "extended", code, staff=staff, new_due_date=d["new_due_date"], reason=d["extend_reason"])
    return d


def withdraw(conn: sqlite3.Connection, *, code: str, at: str, staff: str | None) -> dict[str, Any]:
    d = require(conn, code)
    if d["status"] not in OPEN:
        raise _state_error(d, "đã có kết quả, đã trả hoặc đã rút", "is ready, returned or withdrawn")
    d = d | {"status": Status.WITHDRAWN, "updated_at": at}
    _save(conn, d)
    log(conn, at, "withdrawn", code, staff=staff)
    return d


def link_return_ticket(conn: sqlite3.Connection, *, code: str, ticket: dict[str, Any], at: str) -> None:
    conn.execute("UPDATE dossiers SET return_ticket_id = ?, updated_at = ? WHERE code = ?", (ticket["id"], at, code))
    log(conn, at, "check_in", code, ticket_id=ticket["id"], label=ticket["label"])


def return_by_ticket(conn: sqlite3.Connection, ticket: dict[str, Any], at: str, today: dt.date) -> list[dict[str, Any]]:
    """The result-return ticket ``ticket`` is done: its ready dossiers are returned."""
    rows = conn.execute(
        f"SELECT {', '.join(COLUMNS)} FROM dossiers WHERE return_ticket_id = ? AND status IN (?, ?)",
        (ticket["id"], Status.READY, Status.RECEIVED),
    ).fetchall()
    out = []
    for row in rows:
        d = dict(zip(COLUMNS, row)) | {"status": Status.RETURNED, "returned_at": at, "updated_at": at}
        d["ready_on"] = d["ready_on"] or today.isoformat()
        _save(conn, d)
        log(
            conn,
            at,
            "returned",
            d["code"],
            ticket_id=ticket["id"],
            staff=ticket.get("staff"),
            counter=ticket.get("counter"),
        )
        out.append(d)
    return out
