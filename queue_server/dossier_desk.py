"""The office's side of dossier tracking: one ``DossierDesk`` per running office.

It owns no state of its own besides a read connection: every dossier change is written by
``write`` in the office's writer thread (the one write path), under the office lock so it
never interleaves with a queue command, and staff screens hear of it afterwards as an
unnumbered WebSocket message ``{"type": "dossier_received", "dossier": {...}}`` (also
``dossier_ready``, ``dossier_returned``, ``dossier_extended``, ``dossier_withdrawn``,
``dossier_papers``). Those messages carry no ``seq``: they are not queue events, and a
screen that misses one loses nothing a reload would not show.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import sqlite3
from collections.abc import Callable
from typing import Any

from . import dossiers
from .engine import Event, Ticket, TicketState
from .errors import Conflict
from .office import Office
from .store import connect
from .workdays import Calendar

log = logging.getLogger("motcua.dossiers")

ACTIVE = (TicketState.WAITING, TicketState.CALLED, TicketState.SERVING)
# Actions that finish the held ticket (``next`` and ``call`` finish it before calling another).
FINISHING = ("done", "next", "call")


class DossierDesk:
    def __init__(self, office: Office) -> None:
        self.office = office
        self._reader: sqlite3.Connection | None = None
        self._returned: list[dict[str, Any]] = []

    # ------------------------------------------------------------------ plumbing

    @property
    def config(self) -> Any:
        return self.office.config

    def read(self) -> sqlite3.Connection:
        """A read-only connection (WAL: it sees committed rows only), used on the event loop
        only where a read cannot wait for a reader thread: the outcome guard inside a counter
        action, the monitor's alerts, and the check-in's look under the office lock. Request
        handlers read through ``Office.read``."""
        if self._reader is None:
            self._reader = connect(self.office.database_path, readonly=True)
        return self._reader

    def close(self) -> None:
        if self._reader is not None:
            self._reader.close()
            self._reader = None

    def now(self) -> tuple[dt.datetime, dt.date, str]:
        now = self.office.clock()
        return now, now.astimezone(self.config.office.tz).date(), now.isoformat()

    def today(self) -> dt.date:
        return self.now()[1]

    def calendar(self) -> Calendar:
        return Calendar.from_config(self.config)

    async def write(self, fn: Callable[[sqlite3.Connection], Any]) -> Any:
        """Run ``fn(conn)`` in one write transaction, under the office lock."""
        return await self.office.write(fn, exclusive=True)

    def publish(self, kind: str, dossier: dict[str, Any], **extra: Any) -> None:
        msg = {
            "type": kind,
            "kind": kind,
            "at": self.office.clock().isoformat(),
            "dossier": dossiers.staff_view(self.config, dossier, self.today()),
            **extra,
        }
        self.office.publish({"staff": json.dumps(msg, ensure_ascii=False)})

    # ------------------------------------------------------------------ hooks

    def on_commit(self, conn: sqlite3.Connection, events: list[Event]) -> None:
        """In the transaction of a queue command: a finished result-return ticket returns its
        dossier."""
        self._returned = []
        for e in events:
            if e.kind == "ticket_done" and e.ticket is not None:
                local = e.at.astimezone(self.config.office.tz).date()
                self._returned += dossiers.return_by_ticket(conn, e.ticket, e.at.isoformat(), local)

    def after_commit(self, events: list[Event], seqs: list[int]) -> None:
        returned, self._returned = self._returned, []
        for d in returned:
            self.publish("dossier_returned", d)

    def guard(self, action: str, counter: int) -> None:
        """With ``dossiers.require_outcome``: a ticket is finished only after its outcome."""
        if not self.config.dossiers.require_outcome or action not in FINISHING:
            return
        ticket = self.office.held_ticket(counter)
        if ticket is None or ticket.state not in (TicketState.CALLED, TicketState.SERVING):
            return
        if ticket.state is TicketState.CALLED and action != "done" and ticket.recalls >= self.config.queue.max_recalls:
            return  # Next marks it a no-show: nobody was served
        if not dossiers.has_outcome(self.read(), ticket.id):
            raise Conflict(
                f"Hãy ghi kết quả của lượt số {ticket.label} (nhận hồ sơ, hướng dẫn, yêu cầu bổ sung "
                "hoặc trả kết quả) trước khi kết thúc.",
                f"Record the outcome of ticket {ticket.label} (dossier received, guidance, papers "
                "requested or result returned) before finishing it.",
                key="outcome_required",
                ticket=ticket.label,
            )

    # ------------------------------------------------------------------ reads

    def alerts(self) -> dict[str, Any]:
        """Open dossiers due today, overdue, and due within the next 2 working days (by
        their current date: the apology's new date when there is one)."""
        today = self.today()
        soon = self.calendar().add_working_days(today, 2).isoformat()
        rows = (
            self.read()
            .execute(
                f"SELECT {', '.join(dossiers.COLUMNS)} FROM dossiers WHERE status IN ('received', 'papers') "
                "AND coalesce(new_due_date, due_date) <= ? ORDER BY coalesce(new_due_date, due_date), code",
                (soon,),
            )
            .fetchall()
        )
        out: dict[str, list[dict[str, Any]]] = {"due_today": [], "overdue": [], "due_soon": []}
        iso = today.isoformat()
        for row in rows:
            d = dict(zip(dossiers.COLUMNS, row))
            due = dossiers.effective_due(d) or ""
            group = "overdue" if due < iso else "due_today" if due == iso else "due_soon"
            out[group].append(dossiers.staff_view(self.config, d, today))
        return {"today": iso, "due_soon_until": soon, **out}

    def active_return_ticket(self, d: dict[str, Any]) -> Ticket | None:
        tid = d.get("return_ticket_id")
        t = self.office.find_ticket(tid)
        return t if t is not None and t.state in ACTIVE else None


def attach(office: Office) -> DossierDesk:
    desk = DossierDesk(office)
    office.dossiers = desk  # type: ignore[attr-defined]
    office.commit_hooks.append(desk.on_commit)
    office.after_commit.append(desk.after_commit)
    office.counter_guards.append(desk.guard)
    return desk


def desk_of(office: Office) -> DossierDesk:
    desk = getattr(office, "dossiers", None)
    return desk if isinstance(desk, DossierDesk) else attach(office)
