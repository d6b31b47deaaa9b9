"""Dossiers in ``motcua demo``: months of history so the reports are filled, and clerks who
record each visit's outcome (dossiers received, guidance, papers, results returned) as the
simulated day goes on. Everything the clerks do goes through the same functions as the
counter's API, in the office's writer thread."""

from __future__ import annotations

import datetime as dt
import logging
import random
from typing import Any

from . import dossiers, procedures
from .config import Config
from .dossier_desk import desk_of
from .errors import MotcuaError
from .office import Office
from .store import Store
from .workdays import Calendar

log = logging.getLogger("motcua.demo")

HISTORY_DAYS = 300
LATE_REASONS = ("liên thông với cơ quan cấp trên", "bổ sung hồ sơ", "xác minh thực địa")
AGENCY = "000.00.21.H40"


def _code(day: dt.date, n: int) -> str:
    return f"{AGENCY}-{day:%y%m%d}-{n:04d}"


def seed_history(store: Store, config: Config, rng: random.Random, today: dt.date) -> int:
    """Dossiers received on the working days before ``today``: nearly all returned on time,
    a few late (land files that needed other agencies), the recent ones still pending."""
    procs = [p for p in config.procedures if p.service != config.dossiers.return_service]
    if not procs:
        return 0
    calendar = Calendar.from_config(config)
    staff = [f"demo{c.number}" for c in config.counters]
    rows: list[dict[str, Any]] = []
    day = today - dt.timedelta(days=HISTORY_DAYS)
    while day < today:
        if calendar.is_working_day(day):
            for n in range(1, rng.randint(25, 45)):
                p = rng.choice(procs)
                due = calendar.add_working_days(day, p.days)
                d: dict[str, Any] = {c: None for c in dossiers.COLUMNS} | {
                    "code": _code(day, n),
                    "procedure": p.code,
                    "service": p.service,
                    "received_on": day.isoformat(),
                    "received_at": f"{day}T09:00:00+07:00",
                    "due_date": due.isoformat(),
                    "staff": rng.choice(staff),
                    "status": "received",
                    "updated_at": f"{day}T09:00:00+07:00",
                }
                late = p.days >= 5 and rng.random() < 0.02
                ready = (
                    due + dt.timedelta(days=rng.randint(1, 6))
                    if late
                    else day + dt.timedelta(days=rng.randint(0, max(0, (due - day).days)))
                )
                if late and rng.random() < 0.5:
                    d |= {
                        "new_due_date": (due + dt.timedelta(days=7)).isoformat(),
                        "extend_reason": rng.choice(LATE_REASONS),
                        "extended_at": f"{due}T10:00:00+07:00",
                    }
                if ready < today:
                    collected = ready + dt.timedelta(days=rng.randint(0, 5))
                    d |= {
                        "status": "returned" if collected < today else "ready",
                        "ready_on": ready.isoformat(),
                        "returned_at": f"{collected}T10:00:00+07:00" if collected < today else None,
                    }
                elif rng.random() < 0.05:
                    d["status"] = "papers"
                rows.append(d)
        day += dt.timedelta(days=1)

    def write(conn: Any) -> None:
        conn.executemany(
            f"INSERT OR REPLACE INTO dossiers ({', '.join(dossiers.COLUMNS)}) "
            f"VALUES ({', '.join('?' * len(dossiers.COLUMNS))})",
            [[d[c] for c in dossiers.COLUMNS] for d in rows],
        )

    store.write(write)
    return len(rows)


async def record_visit(office: Office, ticket: Any, counter: int, staff: str, rng: random.Random) -> None:
    """What a clerk records for the ticket they are about to finish."""
    desk = desk_of(office)
    config = office.config
    t = ticket.to_dict()
    procs = procedures.for_service(config, ticket.service)

    def write(conn: Any) -> dict[str, Any] | None:
        _, today, at = desk.now()
        common: dict[str, Any] = {"today": today, "at": at, "ticket": t, "staff": staff, "counter": counter}
        if ticket.service == config.dossiers.return_service:
            row = conn.execute("SELECT code FROM dossiers WHERE status = 'ready' ORDER BY random() LIMIT 1").fetchone()
            if row:
                return dossiers.mark_returned(conn, config, code=row[0], procedure=None, **common)
        if not procs or rng.random() < 0.15:
            dossiers.guidance(conn, at=at, ticket=t, staff=staff, counter=counter)
            return None
        p = rng.choice(procs)
        n = conn.execute("SELECT count(*) FROM dossiers WHERE received_on = ?", (today.isoformat(),)).fetchone()[0]
        code = _code(today, n + 1)
        if rng.random() < 0.05:
            return dossiers.papers(conn, config, code=code, procedure=p.code, **common)
        return dossiers.receive(conn, config, code=code, procedure=p.code, due=None, **common)

    try:
        d = await desk.write(write)
    except MotcuaError as e:
        log.debug("demo dossier step refused: %s", e.message_en)
        return
    if d is not None:
        desk.publish(f"dossier_{d['status']}" if d["status"] != "received" else "dossier_received", d, counter=counter)
