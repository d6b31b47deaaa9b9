"""The print-job state machine, sans I/O: jobs and printers in memory, and every decision
about them (over 400 lines: one state machine, its moves and its recovery rules stay
together). Like the engine it imports no asyncio, SQLite, HTTP or printer driver; the
time is passed in (``now``), so its rules are tested without sleeping
(``tests/test_print_jobs.py``). ``queue_server.printing.service`` adapts it: it commits each
move in the office's writer thread, then calls ``apply`` and publishes.

States of a job::

    queued ──> sent ──> printed
      │  ^       │
      │  │       ├────> failed     part-way, or no confirmation: staff decide (Reprint)
      │  └───────┘                 nothing reached the printer: tried again
      └──> stale                   not sent within the printer's ``stale_after`` seconds

Rules, and why:

- A stale job is never printed: the citizen already saw the number on the kiosk screen, and a
  ticket coming out minutes later would be picked up by the next person.
- Only a job the printer got no byte of (``failed_before_send``) goes back to ``queued``.
  Anything else that fails stays ``failed``: sending it again may print it twice.
- ``sent`` is committed before the first byte goes out, so a server stopped while printing
  finds the job ``sent`` at start and marks it failed ("no confirmation"), never resends it.
- While the printer reports paper out, jobs wait: many printers keep jobs through a paper
  change and print them all much later.
- An agent's late result for a job failed for lack of confirmation settles that job (the
  agent sends it first thing after reconnecting), so staff do not reprint a printed ticket.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Literal

from printer.render import TicketInfo, wait_minutes

from ..config import Config, Printer
from ..errors import InvalidTransition
from ..kiosk import counters_text, serving_counters
from .printers import Mode, PrinterState, mode_of, public_error

# Agent job ids are job.id * DELIVERIES + attempt: the agent prints a job_id at most once,
# so every new attempt needs a new id, also across server restarts (attempts are stored).
DELIVERIES = 10_000
NO_CONFIRMATION = "no confirmation"

Audience = Literal["public", "staff"]
# What delivering a job came to: the printer outcomes, or no answer at all.
Delivery = Literal["printed", "failed_before_send", "failed_partial", "no_confirmation"]


class JobState(StrEnum):
    QUEUED = "queued"
    SENT = "sent"
    PRINTED = "printed"
    FAILED = "failed"
    STALE = "stale"


# failed -> printed | failed only settles a job that had no confirmation (a late result).
MOVES: dict[JobState, frozenset[JobState]] = {
    JobState.QUEUED: frozenset({JobState.SENT, JobState.STALE}),
    JobState.SENT: frozenset({JobState.PRINTED, JobState.FAILED, JobState.QUEUED}),
    JobState.FAILED: frozenset({JobState.PRINTED, JobState.FAILED}),
    JobState.PRINTED: frozenset(),
    JobState.STALE: frozenset(),
}
UNFINISHED = (JobState.QUEUED, JobState.SENT)
# What the kiosk is told (``sent`` is "printing" to a citizen).
KIOSK_STATE = {
    JobState.QUEUED: "queued",
    JobState.SENT: "printing",
    JobState.PRINTED: "printed",
    JobState.FAILED: "failed",
    JobState.STALE: "stale",
}


@dataclass
class Job:
    id: int
    ticket_id: int
    printer: str
    state: JobState
    created_at: dt.datetime
    updated_at: dt.datetime
    info: dict[str, Any]  # TicketInfo JSON: what is printed
    attempts: int = 0
    error: str | None = None
    reprint_of: int | None = None
    requested_by: str | None = None

    @classmethod
    def from_row(cls, row: Mapping[str, Any]) -> Job:
        r = dict(row)
        return cls(
            id=r["id"],
            ticket_id=r["ticket_id"],
            printer=r["printer"],
            state=JobState(r["state"]),
            created_at=dt.datetime.fromisoformat(r["created_at"]),
            updated_at=dt.datetime.fromisoformat(r["updated_at"]),
            info=json.loads(r["info"]),
            attempts=r["attempts"] or 0,
            error=r["error"],
            reprint_of=r["reprint_of"],
            requested_by=r["requested_by"],
        )

    def to_row(self) -> dict[str, Any]:
        """The ``print_jobs`` columns, without ``id``."""
        return {
            "ticket_id": self.ticket_id,
            "printer": self.printer,
            "state": self.state.value,
            "created_at": self.created_at.isoformat(),
            "updated_at": self.updated_at.isoformat(),
            "attempts": self.attempts,
            "error": self.error,
            "reprint_of": self.reprint_of,
            "requested_by": self.requested_by,
            "info": json.dumps(self.info, ensure_ascii=False),
        }

    def to_dict(self, audience: Audience = "staff") -> dict[str, Any]:
        d = {
            "id": self.id,
            "ticket_id": self.ticket_id,
            "label": self.info.get("label"),
            "printer": self.printer,
            "state": self.state.value,
            "error": self.error,
            "attempts": self.attempts,
            "reprint_of": self.reprint_of,
            "created_at": self.created_at.isoformat(),
            "updated_at": self.updated_at.isoformat(),
        }
        if audience == "staff":
            d["requested_by"] = self.requested_by
        else:
            d["error"] = public_error(self.error)
        return d

    @property
    def delivery_id(self) -> int:
        """The agent's ``job_id`` for the current attempt."""
        return self.id * DELIVERIES + self.attempts


def ticket_info(
    config: Config, printer: Printer, ticket: Mapping[str, Any], url: str, dossier: str = ""
) -> dict[str, Any]:
    """The ticket as printed: TicketInfo JSON from the ticket's row at issue time (and, for a
    result-return ticket, the code of the dossier it collects)."""
    try:
        service_name = config.service(ticket["service"]).name
    except KeyError:
        service_name = ticket["service"]
    issued = dt.datetime.fromisoformat(ticket["issued_at"]).astimezone(config.office.tz)
    return TicketInfo(
        office_name=config.office.name,
        service_name=service_name,
        label=ticket["label"],
        issued_at=issued.strftime("%d/%m/%Y %H:%M"),
        people_ahead=int(ticket["people_ahead"] or 0),
        estimated_wait_min=wait_minutes(ticket["estimated_wait_s"]),
        status_url=url,
        footer=printer.footer,
        priority=bool(ticket["priority"]),
        counters=counters_text(serving_counters(config, ticket["service"])),
        appointment=(
            dt.datetime.fromisoformat(ticket["slot_start"]).astimezone(config.office.tz).strftime("%H:%M")
            if ticket.get("booked") and ticket.get("slot_start")
            else ""
        ),
        dossier=dossier,
    ).to_json()


def check_move(job: Job, old: JobState, new: JobState) -> None:
    """Raise ``InvalidTransition`` unless a job may go from ``old`` to ``new``."""
    if new not in MOVES[old]:
        raise InvalidTransition(
            f"Lệnh in {job.id}: không thể chuyển {old} → {new}.", f"Print job {job.id}: cannot go from {old} to {new}."
        )


def recovery(
    rows: Iterable[Mapping[str, Any]], stale_after: Mapping[str, float], now: dt.datetime
) -> list[tuple[int, JobState, str]]:
    """At start, for the unfinished jobs of the last run: (id, new state, error) for those
    that change. ``sent`` ones failed (nobody knows if they printed), queued ones older than
    their printer's ``stale_after`` are stale, younger ones stay queued (delivered once)."""
    out = []
    for row in rows:
        if row["state"] == JobState.SENT:
            out.append((row["id"], JobState.FAILED, f"{NO_CONFIRMATION}: the server stopped while printing"))
        elif row["state"] == JobState.QUEUED:
            age = (now - dt.datetime.fromisoformat(row["created_at"])).total_seconds()
            if age >= stale_after.get(row["printer"], 0):
                out.append((row["id"], JobState.STALE, "not sent in time (server restart)"))
    return out


@dataclass(frozen=True)
class Send:
    job: Job


@dataclass(frozen=True)
class MakeStale:
    job: Job
    error: str


@dataclass(frozen=True)
class Hold:
    """Wait (for paper, an agent) before trying ``job`` again; ``note`` it if it says otherwise."""

    job: Job
    reason: str


@dataclass(frozen=True)
class Idle:
    pass


Step = Send | MakeStale | Hold | Idle


@dataclass(frozen=True)
class Settle:
    """What a delivery's outcome does: the job's move and the printer's changes, in that
    order of publication reversed (the printer first: whoever sees the job's new state sees
    the printer's too)."""

    new: JobState
    error: str | None
    printer_changes: dict[str, Any]
    retry: bool  # True: wait (backoff) before the next attempt


def settle(outcome: Delivery, error: str | None, mode: Mode, now: dt.datetime) -> Settle:
    if outcome == "printed":
        return Settle(JobState.PRINTED, None, {"online": True, "error": None, "last_success_at": now}, False)
    if outcome == "failed_before_send":
        # An agent's failure says nothing about whether the agent's link is up; its status does.
        changes = {} if mode == "agent" else {"online": False, "error": error, "last_error_at": now}
        return Settle(JobState.QUEUED, error, changes, True)
    return Settle(JobState.FAILED, error, {"error": error, "last_error_at": now}, False)


class Backoff:
    """The wait before sending again a job that did not reach the printer: ``first``
    seconds, doubling up to ``most``; ``reset()`` after a success."""

    def __init__(self, first: float, most: float) -> None:
        self.first, self.most = first, most
        self.delay = first

    def next(self) -> float:
        delay = self.delay
        self.delay = min(self.delay * 2, self.most)
        return delay

    def reset(self) -> None:
        self.delay = self.first


class PrintBook:
    """Today's jobs (and every unfinished one) and each printer's state."""

    def __init__(self, day: str | None) -> None:
        self.day = day
        self.jobs: dict[int, Job] = {}
        self.latest: dict[int, Job] = {}  # ticket id -> its newest job
        self.printers: dict[str, PrinterState] = {}

    def add(self, job: Job) -> None:
        self.jobs[job.id] = self.latest[job.ticket_id] = job

    def latest_job(self, ticket_id: int) -> Job | None:
        return self.latest.get(ticket_id)

    def apply(self, job: Job, new: JobState, error: str | None, now: dt.datetime) -> None:
        """Record a committed move (see ``check_move``); a move to ``sent`` is an attempt."""
        job.attempts += new is JobState.SENT
        job.state, job.error, job.updated_at = new, error, now

    def ensure_printer(self, p: Printer, agent_connected: bool) -> bool:
        """A fresh state for ``p`` if it is new or now driven another way; True if so."""
        mode = mode_of(p)
        state = self.printers.get(p.id)
        if state is not None and state.mode == mode:
            return False
        state = PrinterState(p.id, mode, agent_connected=agent_connected if mode == "agent" else None)
        if mode == "virtual":
            state.online, state.paper = True, "ok"
        self.printers[p.id] = state
        return True

    def change_printer(self, printer_id: str, changes: Mapping[str, Any]) -> bool:
        """Apply ``changes`` to a printer's state; True when something other than the time of
        the last check changed (then screens are told and the printer's worker woken)."""
        state = self.printers.get(printer_id)
        if state is None:
            return False
        before = state.to_dict()
        for key, value in changes.items():
            setattr(state, key, value)
        after = state.to_dict()
        before.pop("checked_at"), after.pop("checked_at")
        return after != before

    def job_status(self, ticket_id: int) -> dict[str, Any]:
        """What the kiosk (and the ticket's ``print_job`` messages) say about its printing."""
        job = self.latest_job(ticket_id)
        if job is None:
            return {"state": "none", "printer": None, "error": None, "job_id": None}
        error = job.error
        if job.state is JobState.QUEUED and job.printer in self.printers:
            error = self.printers[job.printer].problem or error
        return {"state": KIOSK_STATE[job.state], "printer": job.printer, "error": error, "job_id": job.id}

    def printers_summary(self, printers: Iterable[Printer], audience: Audience = "staff") -> list[dict[str, Any]]:
        """Each configured printer's state; staff also get the URL, the public a vague error."""
        out = []
        for p in printers:
            state = self.printers.get(p.id)
            if state is None:
                continue
            d = state.to_dict()
            d["queued"] = sum(1 for j in self.jobs.values() if j.printer == p.id and j.state is JobState.QUEUED)
            d["failed"] = sum(1 for j in self.jobs.values() if j.printer == p.id and j.state is JobState.FAILED)
            if audience == "staff":
                d["url"] = p.url
            else:
                d["error"] = public_error(d["error"])
            out.append(d)
        return out

    def today_jobs(self, state: str | None = None) -> list[dict[str, Any]]:
        jobs = sorted(self.jobs.values(), key=lambda j: j.id, reverse=True)
        return [j.to_dict() for j in jobs if state is None or j.state.value == state]

    @staticmethod
    def is_stale(job: Job, p: Printer | None, now: dt.datetime) -> bool:
        return p is None or (now - job.created_at).total_seconds() >= p.stale_after

    def stale(self, printers: Mapping[str, Printer], now: dt.datetime) -> list[Job]:
        """Queued jobs past their printer's ``stale_after`` (or whose printer is gone)."""
        return [
            j
            for j in self.jobs.values()
            if j.state is JobState.QUEUED and self.is_stale(j, printers.get(j.printer), now)
        ]

    def hold_reason(self, printer_id: str, agent_connected: bool) -> str | None:
        """Why not to send to this printer now: no agent, or paper out."""
        state = self.printers[printer_id]
        if state.mode == "agent" and not agent_connected:
            return "print agent not connected"
        return "printer is out of paper" if state.paper == "out" else None

    def next_step(self, printer_id: str, p: Printer | None, now: dt.datetime, agent_connected: bool) -> Step:
        """What this printer's worker does next: its oldest queued job goes stale, waits, or is
        sent; or there is nothing to do."""
        job = min(
            (j for j in self.jobs.values() if j.printer == printer_id and j.state is JobState.QUEUED),
            key=lambda j: j.id,
            default=None,
        )
        if job is None or p is None:
            return Idle()
        if self.is_stale(job, p, now):
            return MakeStale(job, job.error or "not sent in time")
        hold = self.hold_reason(printer_id, agent_connected)
        if hold is not None:
            return Hold(job, hold)
        return Send(job)

    def late_result(
        self, printer_id: str, delivery: int, outcome: str, error: str | None
    ) -> tuple[Job, JobState, str | None] | None:
        """A result after its job was failed for lack of confirmation: the move that settles
        it (failed → printed, or failed with the agent's error), or None to ignore it."""
        job = self.jobs.get(delivery // DELIVERIES)
        if (
            job is None
            or job.printer != printer_id
            or job.attempts != delivery % DELIVERIES
            or job.state is not JobState.FAILED
            or not (job.error or "").startswith(NO_CONFIRMATION)
        ):
            return None
        if outcome == "printed":
            return job, JobState.PRINTED, None
        return job, JobState.FAILED, error or outcome

    def job_for_delivery(self, delivery: int) -> Job | None:
        return self.jobs.get(delivery // DELIVERIES)

    def new_day(self, day: str | None) -> bool:
        """A new office day: forget finished jobs (unfinished ones stay). True if it changed."""
        if day == self.day:
            return False
        self.day = day
        self.jobs = {i: j for i, j in self.jobs.items() if j.state in UNFINISHED}
        self.latest = {j.ticket_id: j for j in self.jobs.values()}
        return True
