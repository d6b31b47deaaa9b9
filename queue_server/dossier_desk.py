"""The office's side of dossier tracking: one ``DossierDesk`` per running office.

It holds no dossier state of its own (only which return ticket each check-in issued, see
``return_ticket``) and no connection: it reads through ``Office.read``, off the event
loop, and every dossier change is written by ``write`` in the office's writer thread (the one
write path), under the office lock so it never interleaves with a queue command, and staff screens hear of it afterwards as an
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
from .errors import Conflict, StaleCheck
from .office import CounterCheck, Office
from .workdays import Calendar

log = logging.getLogger("motcua.dossiers")

ACTIVE = (TicketState.WAITING, TicketState.CALLED, TicketState.SERVING)
# Actions that finish the held ticket (``next`` and ``call`` finish it before calling another).
FINISHING = ("done", "next", "call")


class DossierDesk:
    def __init__(self, office: Office) -> None:
        self.office = office
        # Dossier code -> the result-return ticket its check-in issued in this process (see
        # ``return_ticket``): engine state, kept with the engine under the office lock.
        self._checked_in: dict[str, tuple[int, str]] = {}
        # (a command's events, the dossiers its commit returned), appended in the writer
        # thread, published by ``after_commit`` once that command is durable. Commands of one
        # group commit each have their entry; one whose commit failed never gets published.
        self._returned: list[tuple[list[Event], list[dict[str, Any]]]] = []

    # ------------------------------------------------------------------ plumbing

    @property
    def config(self) -> Any:
        return self.office.config

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
        returned: list[dict[str, Any]] = []
        for e in events:
            if e.kind == "ticket_done" and e.ticket is not None:
                local = e.at.astimezone(self.config.office.tz).date()
                returned += dossiers.return_by_ticket(conn, e.ticket, e.at.isoformat(), local)
        if returned:
            self._returned = [*self._returned, (events, returned)]

    def after_commit(self, events: list[Event], seqs: list[int]) -> None:
        pending = self._returned
        for i, (committed, returned) in enumerate(pending):
            if committed is events:
                # Entries before it are of commands whose commit failed: dropped.
                self._returned = pending[i + 1 :]
                for d in returned:
                    self.publish("dossier_returned", d)
                return

    async def guard(self, action: str, counter: int) -> CounterCheck | None:
        """With ``dossiers.require_outcome``: a ticket is finished only after its outcome.

        Whether the held ticket has an outcome is read first, off the event loop (a committed
        outcome stays: ``dossier_log`` rows are never deleted); the check then runs under the
        office lock and decides from memory. If another ticket is held by then, it asks for a
        fresh read (``StaleCheck``)."""
        if not self.config.dossiers.require_outcome or action not in FINISHING:
            return None
        read_for = self.office.held_ticket(counter)
        if read_for is None:
            recorded = False
        else:
            recorded = await self.office.read(dossiers.has_outcome, read_for.id)

        def check() -> None:
            ticket = self.office.held_ticket(counter)
            if ticket is None or ticket.state not in (TicketState.CALLED, TicketState.SERVING):
                return
            if (
                ticket.state is TicketState.CALLED
                and action != "done"
                and (
                    ticket.recalls >= self.config.queue.max_recalls
                    or self.config.queue.closed_without_start == "absent"
                )
            ):
                return  # Next marks it a no-show: nobody was served
            if read_for is None or ticket.id != read_for.id:
                raise StaleCheck(
                    f"Quầy {counter} vừa chuyển sang lượt số {ticket.label}; hãy thử lại.",
                    f"Counter {counter} has just moved on to ticket {ticket.label}; please try again.",
                    ticket=ticket.label,
                )
            if not recorded:
                raise Conflict(
                    f"Hãy ghi kết quả của lượt số {ticket.label} (nhận hồ sơ, hướng dẫn, yêu cầu bổ sung "
                    "hoặc trả kết quả) trước khi kết thúc.",
                    f"Record the outcome of ticket {ticket.label} (dossier received, guidance, papers "
                    "requested or result returned) before finishing it.",
                    key="outcome_required",
                    ticket=ticket.label,
                )

        return check

    # ------------------------------------------------------------------ reads

    async def alerts(self) -> dict[str, Any]:
        """Open dossiers due today, overdue, and due within the next 2 working days (by
        their current date: the apology's new date when there is one)."""
        today = self.today()
        soon = self.calendar().add_working_days(today, 2).isoformat()
        rows = await self.office.read(dossiers.due_by, soon)
        out: dict[str, list[dict[str, Any]]] = {"due_today": [], "overdue": [], "due_soon": []}
        iso = today.isoformat()
        for d in rows:
            due = dossiers.effective_due(d) or ""
            group = "overdue" if due < iso else "due_today" if due == iso else "due_soon"
            out[group].append(dossiers.staff_view(self.config, d, today))
        return {"today": iso, "due_soon_until": soon, **out}

    def return_ticket(self, d: dict[str, Any]) -> Ticket | None:
        """The dossier's latest result-return ticket while it is in memory (any state): the
        one a check-in issued since ``d`` was read, else the one its row names. Under the
        office lock this is exact with no read: every check-in is issued under the lock
        (``checked_in``), and one from before this process started is in the row."""
        return self._live(self._checked_in.get(d["code"])) or self.office.find_ticket(d.get("return_ticket_id"))

    def _live(self, issued: tuple[int, str] | None) -> Ticket | None:
        """The ticket (id, token) names while it is in memory (a failed commit frees its id)."""
        t = self.office.find_ticket(issued[0]) if issued else None
        return t if t is not None and issued is not None and t.token == issued[1] else None

    def checked_in(self, code: str, ticket: Ticket) -> None:
        """Under the office lock: a check-in for ``code`` issued ``ticket``. Entries whose
        ticket has left memory (an earlier day, a commit that failed) are dropped."""
        self._checked_in = {c: i for c, i in self._checked_in.items() if self._live(i) is not None}
        self._checked_in[code] = (ticket.id, ticket.token)


def attach(office: Office) -> DossierDesk:
    desk = DossierDesk(office)
    office.set_part(desk)
    office.commit_hooks.append(desk.on_commit)
    office.after_commit.append(desk.after_commit)
    office.counter_guards.append(desk.guard)
    return desk


def desk_of(office: Office) -> DossierDesk:
    return office.part(DossierDesk) or attach(office)
