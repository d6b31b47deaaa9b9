"""Ticket printing on the server: print jobs, their state machine, and the printers' state.

A print job is stored with its ticket (``job_writer`` runs inside the ticket's transaction),
so the kiosk never shows a number whose ticket the database could lose. One worker task per
printer then delivers that printer's queued jobs, oldest first: itself, through
``printer.output.print_ticket`` in a thread, or through the connected print agent
(``motcua-printer``) on ``/ws/printer`` — the protocol is in ``printer/agent.py``.

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

Every state change is one write transaction in the office's writer thread, followed by a
``print_job`` push message; printer state changes push a ``printer`` message.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import datetime as dt
import json
import logging
import sqlite3
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route, WebSocketRoute
from starlette.websockets import WebSocket, WebSocketDisconnect

from printer.output import print_ticket, printer_status
from printer.render import TicketInfo, render_ticket, wait_minutes

from . import auth
from .api import path_int, status_url
from .config import Config, Kiosk, Printer
from .engine import Event
from .errors import Conflict, InvalidTransition, NotFound
from .kiosk import counters_text, serving_counters
from .office import Office
from .openapi import STAFF, obj, operation, path_param, query_param

log = logging.getLogger("motcua.printing")

# Seconds between status queries to a printer the server drives (never png://).
POLL_SECONDS = 5.0
# Status queries must not hold the printer long: a silent printer costs this much.
STATUS_TIMEOUT = 2.0
# First wait before sending again a job that did not reach the printer; doubles up to the max.
RETRY_SECONDS = 1.0
RETRY_MAX_SECONDS = 8.0
# How often queued jobs are checked for staleness.
SWEEP_SECONDS = 0.5
# An agent that neither answers a job nor disconnects within this long: no confirmation.
RESULT_TIMEOUT = 30.0
# Agent job ids are job.id * DELIVERIES + attempt: the agent prints a job_id at most once,
# so every new attempt needs a new id, also across server restarts (attempts are stored).
DELIVERIES = 10_000
NO_CONFIRMATION = "no confirmation"
PAPERS = ("ok", "low", "out", "unknown")
OUTCOMES = ("printed", "failed_before_send", "failed_partial")


class JobState(StrEnum):
    QUEUED = "queued"
    SENT = "sent"
    PRINTED = "printed"
    FAILED = "failed"
    STALE = "stale"


# failed -> printed | failed only settles a job that had no confirmation (a late result).
_MOVES: dict[JobState, frozenset[JobState]] = {
    JobState.QUEUED: frozenset({JobState.SENT, JobState.STALE}),
    JobState.SENT: frozenset({JobState.PRINTED, JobState.FAILED, JobState.QUEUED}),
    JobState.FAILED: frozenset({JobState.PRINTED, JobState.FAILED}),
    JobState.PRINTED: frozenset(),
    JobState.STALE: frozenset(),
}
# What the kiosk is told (``sent`` is "printing" to a citizen).
_KIOSK_STATE = {JobState.QUEUED: "queued", JobState.SENT: "printing", JobState.PRINTED: "printed",
                JobState.FAILED: "failed", JobState.STALE: "stale"}


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
    def from_row(cls, row: sqlite3.Row | dict[str, Any]) -> Job:
        r = dict(row)
        return cls(id=r["id"], ticket_id=r["ticket_id"], printer=r["printer"], state=JobState(r["state"]),
                   created_at=dt.datetime.fromisoformat(r["created_at"]),
                   updated_at=dt.datetime.fromisoformat(r["updated_at"]), info=json.loads(r["info"]),
                   attempts=r["attempts"] or 0, error=r["error"], reprint_of=r["reprint_of"],
                   requested_by=r["requested_by"])

    def to_dict(self, audience: str = "staff") -> dict[str, Any]:
        d = {"id": self.id, "ticket_id": self.ticket_id, "label": self.info.get("label"), "printer": self.printer,
             "state": self.state.value, "error": self.error, "attempts": self.attempts,
             "reprint_of": self.reprint_of, "created_at": self.created_at.isoformat(),
             "updated_at": self.updated_at.isoformat()}
        if audience == "staff":
            d["requested_by"] = self.requested_by
        else:
            d["error"] = public_error(self.error)
        return d


@dataclass
class PrinterState:
    id: str
    mode: str  # "server" (driven here), "agent" (motcua-printer) or "virtual" (png://)
    online: bool | None = None  # None: not known yet
    paper: str = "unknown"
    error: str | None = None
    checked_at: dt.datetime | None = None
    last_success_at: dt.datetime | None = None
    last_error_at: dt.datetime | None = None
    agent_connected: bool | None = None  # None for printers without an agent

    def to_dict(self) -> dict[str, Any]:
        d = dataclasses.asdict(self)
        for k in ("checked_at", "last_success_at", "last_error_at"):
            d[k] = d[k].isoformat() if d[k] else None
        return d

    @property
    def problem(self) -> str | None:
        """Why a job would wait or fail now, in one line; None when the printer looks fine."""
        if self.agent_connected is False:
            return "print agent not connected"
        if self.paper == "out":
            return self.error or "printer is out of paper"
        if self.online is False:
            return self.error or "printer offline"
        return None


@dataclass(eq=False)
class AgentLink:
    """One connected print agent."""

    websocket: WebSocket
    closed: asyncio.Event = field(default_factory=asyncio.Event)


def public_error(error: str | None) -> str | None:
    """An error for the public audience (hall screens, phones): what kind of trouble, without
    device addresses or paths."""
    if not error:
        return None
    if "paper" in error:
        return "printer is out of paper"
    if "agent" in error:
        return "print agent not connected"
    return "printer error"


def ticket_info(config: Config, printer: Printer, ticket: dict[str, Any], url: str) -> dict[str, Any]:
    """The ticket as printed: TicketInfo JSON from the ticket's row at issue time."""
    try:
        service_name = config.service(ticket["service"]).name
    except KeyError:
        service_name = ticket["service"]
    issued = dt.datetime.fromisoformat(ticket["issued_at"]).astimezone(config.office.tz)
    return TicketInfo(
        office_name=config.office.name, service_name=service_name, label=ticket["label"],
        issued_at=issued.strftime("%d/%m/%Y %H:%M"), people_ahead=int(ticket["people_ahead"] or 0),
        estimated_wait_min=wait_minutes(ticket["estimated_wait_s"]), status_url=url,
        footer=printer.footer, priority=bool(ticket["priority"]),
        counters=counters_text(serving_counters(config, ticket["service"])),
    ).to_json()


def _insert_job(conn: sqlite3.Connection, job: Job) -> Job:
    job.id = conn.execute(
        "INSERT INTO print_jobs (ticket_id, printer, state, created_at, updated_at, attempts, error, reprint_of,"
        " requested_by, info) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (job.ticket_id, job.printer, job.state.value, job.created_at.isoformat(), job.updated_at.isoformat(),
         job.attempts, job.error, job.reprint_of, job.requested_by, json.dumps(job.info, ensure_ascii=False)),
    ).lastrowid  # type: ignore[assignment]
    return job


def _print_job(printer: Printer, url: str, info: dict[str, Any]) -> tuple[str, str | None]:
    """Render and print one job (blocking: run it in a thread)."""
    try:
        image = render_ticket(TicketInfo.from_json(info), printer.width)
    except Exception as error:  # nothing was sent: a bug or a bad width, not a printer fault
        log.exception("rendering a ticket failed")
        return "failed_before_send", f"rendering failed: {error}"
    result = print_ticket(url, image, profile=printer.profile or None, timeout=printer.timeout,
                          kanji_off=printer.kanji_off)
    return result.outcome, result.error


class PrintService:
    """Print jobs and printers for one office. ``start()`` in the app's lifespan, ``stop()``
    at shutdown; ``job_writer`` and ``job_status`` are what the kiosk endpoint uses."""

    def __init__(self, office: Office) -> None:
        self.office = office
        self.jobs: dict[int, Job] = {}  # today's jobs and every unfinished one
        self._latest: dict[int, Job] = {}  # ticket id -> its newest job
        self.printers: dict[str, PrinterState] = {}
        self._pending: dict[int, Job] = {}  # written in a ticket's transaction, not yet committed
        self._agents: dict[str, AgentLink] = {}
        # Agent job_id -> the worker waiting for its result. Not per connection: an agent that
        # reconnects sends the result of the job it was printing on its new connection.
        self._waiting: dict[int, asyncio.Future[tuple[str, str | None]]] = {}
        self._wake: dict[str, asyncio.Event] = {}
        self._locks: dict[str, asyncio.Lock] = {}  # one printer conversation at a time
        self._workers: dict[str, asyncio.Task[None]] = {}
        self._polls: dict[str, asyncio.Task[None]] = {}
        self._tasks: list[asyncio.Task[None]] = []
        self._closing = False
        self._day = office.engine.day

    # ------------------------------------------------------------------ lifecycle

    async def start(self) -> None:
        """Recover jobs left by the last run, then start the workers and status polls."""
        config = self.office.config
        now = self.office.clock()
        rows = await self._write(lambda conn: self._recover(conn, config, now))
        for row in rows:
            job = Job.from_row(row)
            self.jobs[job.id] = self._latest[job.ticket_id] = job
        self.office.after_commit.append(self._after_commit)
        self.office.snapshot_extras["printers"] = self.printers_summary
        for p in config.printers:
            self._ensure_printer(p)
        self._tasks.append(asyncio.create_task(self._sweep_forever()))

    async def stop(self) -> None:
        """Let a job being printed finish (bounded by the printers' timeouts), stop the rest."""
        self._closing = True
        for wake in self._wake.values():
            wake.set()
        for link in list(self._agents.values()):
            with contextlib.suppress(Exception):
                await link.websocket.close(code=1012)
        workers = list(self._workers.values())
        if workers:
            limit = max((p.timeout for p in self.office.config.printers), default=5.0) + 1
            await asyncio.wait(workers, timeout=limit)
        others = [*self._polls.values(), *self._tasks]
        for task in [*workers, *others]:
            task.cancel()
        await asyncio.gather(*workers, *others, return_exceptions=True)
        with contextlib.suppress(ValueError):
            self.office.after_commit.remove(self._after_commit)
        self.office.snapshot_extras.pop("printers", None)

    def _recover(self, conn: sqlite3.Connection, config: Config, now: dt.datetime) -> list[sqlite3.Row]:
        """At start: ``sent`` jobs failed (nobody knows if they printed), queued ones too old
        are stale, younger ones stay queued and are delivered once. Returns the jobs to keep."""
        cur = conn.cursor()
        cur.row_factory = sqlite3.Row
        stale_after = {p.id: p.stale_after for p in config.printers}
        for row in cur.execute("SELECT * FROM print_jobs WHERE state IN ('queued', 'sent')").fetchall():
            if row["state"] == "sent":
                state, error = "failed", f"{NO_CONFIRMATION}: the server stopped while printing"
            else:
                age = (now - dt.datetime.fromisoformat(row["created_at"])).total_seconds()
                if age < stale_after.get(row["printer"], 0):
                    continue
                state, error = "stale", "not sent in time (server restart)"
            conn.execute("UPDATE print_jobs SET state = ?, error = ?, updated_at = ? WHERE id = ?",
                         (state, error, now.isoformat(), row["id"]))
        return cur.execute(
            "SELECT * FROM print_jobs WHERE state = 'queued' OR ticket_id IN"
            " (SELECT id FROM tickets WHERE day = ?) ORDER BY id", (self._day,)).fetchall()

    def _ensure_printer(self, p: Printer) -> None:
        """A worker (and a status poll) for ``p``; a fresh state when the config changed how
        it is driven (printers added or changed by a live config reload)."""
        mode = "agent" if p.agent_token else "virtual" if p.url.startswith("png://") else "server"
        state = self.printers.get(p.id)
        if state is not None and state.mode == mode:
            return
        state = PrinterState(p.id, mode, agent_connected=(p.id in self._agents) if mode == "agent" else None)
        if mode == "virtual":
            state.online, state.paper = True, "ok"
        self.printers[p.id] = state
        if p.id not in self._workers:
            self._wake[p.id] = asyncio.Event()
            self._locks[p.id] = asyncio.Lock()
            self._workers[p.id] = asyncio.create_task(self._deliver_forever(p.id))
        if mode == "server" and p.id not in self._polls:
            self._polls[p.id] = asyncio.create_task(self._poll_forever(p.id))

    def _printer(self, printer_id: str) -> Printer | None:
        for p in self.office.config.printers:  # the live config (it may be reloaded)
            if p.id == printer_id:
                return p
        return None

    def _url(self, p: Printer) -> str:
        # png:// folders are relative to config.toml, like every other path in it.
        if p.url.startswith("png://"):
            return "png://" + str(self.office.config.resolve(p.url[len("png://"):]))
        return p.url

    async def _write(self, fn: Callable[[sqlite3.Connection], Any]) -> Any:
        """One write transaction in the office's writer thread (the single writer)."""
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self.office.writer, self.office.store.write, fn)

    # ------------------------------------------------------------------ the kiosk's side

    def job_writer(self, kiosk: Kiosk, status_url_fn: Callable[[str], str]
                   ) -> Callable[[sqlite3.Connection, list[Event]], None] | None:
        """The ``extra`` for the kiosk's issue command: a queued job for the ticket it issues,
        in the ticket's own transaction. None when the kiosk has no printer."""
        config = self.office.config
        printer = next((p for p in config.printers if p.id == kiosk.printer), None)
        if printer is None:
            return None

        def write(conn: sqlite3.Connection, events: list[Event]) -> None:
            for e in events:
                t = e.ticket
                if e.kind != "ticket_issued" or t is None or t.get("kiosk") != kiosk.id:
                    continue
                info = ticket_info(config, printer, t, status_url_fn(t["token"]))
                job = Job(0, t["id"], printer.id, JobState.QUEUED, e.at, e.at, info)
                self._pending[t["id"]] = _insert_job(conn, job)

        return write

    def _after_commit(self, events: list[Event], seqs: list[int]) -> None:
        for e in events:
            if e.kind == "ticket_issued" and e.ticket is not None:
                job = self._pending.pop(e.ticket["id"], None)
                if job is not None:
                    self._add(job)

    def _add(self, job: Job) -> None:
        self.jobs[job.id] = self._latest[job.ticket_id] = job
        p = self._printer(job.printer)
        if p is not None:
            self._ensure_printer(p)
        self._publish_job(job)
        self._wake_printer(job.printer)

    def latest_job(self, ticket_id: int) -> Job | None:
        return self._latest.get(ticket_id)

    def job_status(self, ticket_id: int) -> dict[str, Any]:
        """What the kiosk (and the ticket's ``print_job`` messages) say about its printing."""
        job = self.latest_job(ticket_id)
        if job is None:
            return {"state": "none", "printer": None, "error": None, "job_id": None}
        error = job.error
        if job.state is JobState.QUEUED and job.printer in self.printers:
            error = self.printers[job.printer].problem or error
        return {"state": _KIOSK_STATE[job.state], "printer": job.printer, "error": error, "job_id": job.id}

    def printers_summary(self, audience: str = "staff") -> list[dict[str, Any]]:
        """Each printer's state for the snapshot: see ``PrinterState``; staff also get the URL."""
        out = []
        for p in self.office.config.printers:
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

    # ------------------------------------------------------------------ state changes

    async def _move(self, job: Job, old: JobState, new: JobState, error: str | None = None) -> bool:
        """Commit ``job``'s move from ``old`` to ``new``; False when it is no longer in ``old``
        (another task moved it meanwhile, e.g. the sweeper made it stale)."""
        if new not in _MOVES[old]:
            raise InvalidTransition(f"Lệnh in {job.id}: không thể chuyển {old} → {new}.",
                                    f"Print job {job.id}: cannot go from {old} to {new}.")
        if job.state is not old:
            return False
        now = self.office.clock()
        attempts = job.attempts + (new is JobState.SENT)

        def write(conn: sqlite3.Connection) -> bool:
            cur = conn.execute(
                "UPDATE print_jobs SET state = ?, error = ?, attempts = ?, updated_at = ? WHERE id = ? AND state = ?",
                (new.value, error, attempts, now.isoformat(), job.id, old.value))
            return cur.rowcount == 1

        if not await self._write(write) or job.state is not old:
            return False
        job.state, job.error, job.attempts, job.updated_at = new, error, attempts, now
        if new in (JobState.FAILED, JobState.STALE):
            log.warning("print job %s (ticket %s) on %s: %s: %s", job.id, job.info.get("label"), job.printer,
                        new.value, error)
        else:
            log.debug("print job %s (ticket %s) on %s: %s", job.id, job.info.get("label"), job.printer, new.value)
        self._publish_job(job)
        return True

    def _publish_job(self, job: Job) -> None:
        # "print" (as in the kiosk's answer) only from the ticket's newest job: an older job of a
        # reprinted ticket must not overwrite what the kiosk shows.
        for_kiosk = self.job_status(job.ticket_id) if self.latest_job(job.ticket_id) is job else None
        messages = {}
        for audience in ("public", "staff"):
            status = dict(for_kiosk, error=public_error(for_kiosk["error"])) if for_kiosk and audience == "public" \
                else for_kiosk
            msg = {"type": "print_job", "ticket_id": job.ticket_id, "print": status, "job": job.to_dict(audience)}
            messages[audience] = json.dumps(msg, ensure_ascii=False)
        self.office.hub.publish(messages)

    def _set_printer(self, printer_id: str, **changes: Any) -> None:
        state = self.printers.get(printer_id)
        if state is None:
            return
        before = state.to_dict()
        before.pop("checked_at")
        for key, value in changes.items():
            setattr(state, key, value)
        after = state.to_dict()
        after.pop("checked_at")
        if after != before:
            messages = {audience: json.dumps({"type": "printer", "printer": entry}, ensure_ascii=False)
                        for audience in ("public", "staff")
                        for entry in self.printers_summary(audience) if entry["id"] == printer_id}
            self.office.hub.publish(messages)
            self._wake_printer(printer_id)

    def _wake_printer(self, printer_id: str) -> None:
        wake = self._wake.get(printer_id)
        if wake is not None:
            wake.set()

    def _is_stale(self, job: Job, now: dt.datetime) -> bool:
        p = self._printer(job.printer)
        return p is None or (now - job.created_at).total_seconds() >= p.stale_after

    async def _sweep_forever(self) -> None:
        """Queued jobs past ``stale_after`` go stale, even while their printer is busy."""
        while True:
            await asyncio.sleep(SWEEP_SECONDS)
            try:
                for p in self.office.config.printers:
                    self._ensure_printer(p)
                now = self.office.clock()
                for job in [j for j in self.jobs.values() if j.state is JobState.QUEUED]:
                    if self._is_stale(job, now):
                        await self._move(job, JobState.QUEUED, JobState.STALE, job.error or "not sent in time")
                if self.office.engine.day != self._day:  # a new office day: forget finished jobs
                    self._day = self.office.engine.day
                    self.jobs = {i: j for i, j in self.jobs.items() if j.state in (JobState.QUEUED, JobState.SENT)}
                    self._latest = {j.ticket_id: j for j in self.jobs.values()}
            except Exception:
                log.exception("print job sweep failed")

    # ------------------------------------------------------------------ delivery

    async def _deliver_forever(self, printer_id: str) -> None:
        """Deliver this printer's queued jobs one at a time, oldest first."""
        wake = self._wake[printer_id]
        retry = RETRY_SECONDS
        while not self._closing:
            wake.clear()
            try:
                job = min((j for j in self.jobs.values() if j.printer == printer_id and j.state is JobState.QUEUED),
                          key=lambda j: j.id, default=None)
                p = self._printer(printer_id)
                if job is None or p is None:
                    await wake.wait()
                    continue
                if self._is_stale(job, self.office.clock()):
                    await self._move(job, JobState.QUEUED, JobState.STALE, job.error or "not sent in time")
                    continue
                hold = await self._hold_reason(p)
                if hold is not None:
                    if job.error != hold:
                        await self._note(job, hold)
                    await self._sleep_or_wake(wake, POLL_SECONDS)
                    continue
                if not await self._move(job, JobState.QUEUED, JobState.SENT):
                    continue
                outcome, error = await self._send(p, job)
                # The printer's state first: whoever sees the job's new state sees the printer's too.
                if outcome == "printed":
                    retry = RETRY_SECONDS
                    self._set_printer(printer_id, online=True, error=None, last_success_at=self.office.clock())
                    await self._move(job, JobState.SENT, JobState.PRINTED)
                elif outcome == "failed_before_send":
                    if self.printers[printer_id].mode != "agent":
                        self._set_printer(printer_id, online=False, error=error, last_error_at=self.office.clock())
                    await self._move(job, JobState.SENT, JobState.QUEUED, error)
                    wake.clear()  # a new job or a stop cuts the wait short, a status change does not
                    await self._sleep_or_wake(wake, retry)
                    retry = min(retry * 2, RETRY_MAX_SECONDS)
                else:
                    self._set_printer(printer_id, error=error, last_error_at=self.office.clock())
                    await self._move(job, JobState.SENT, JobState.FAILED, error)
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("printer %s: delivering a job failed", printer_id)
                await asyncio.sleep(RETRY_SECONDS)

    async def _hold_reason(self, p: Printer) -> str | None:
        """Why not to send now: no agent, or paper out (asked again before believing it)."""
        state = self.printers[p.id]
        if state.mode == "agent":
            if p.id not in self._agents:
                return "print agent not connected"
            return "printer is out of paper" if state.paper == "out" else None
        if state.paper == "out" and state.mode == "server":
            await self._poll(p)
        return "printer is out of paper" if state.paper == "out" else None

    async def _note(self, job: Job, error: str) -> None:
        """Record why a queued job waits (no state change)."""
        await self._write(lambda conn: conn.execute(
            "UPDATE print_jobs SET error = ? WHERE id = ? AND state = 'queued'", (error, job.id)))
        if job.state is JobState.QUEUED:
            job.error = error
            self._publish_job(job)

    async def _sleep_or_wake(self, wake: asyncio.Event, seconds: float) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(wake.wait(), seconds)

    async def _send(self, p: Printer, job: Job) -> tuple[str, str | None]:
        """Hand ``job`` to the printer or its agent: (outcome, error), outcome one of OUTCOMES
        or ``"no_confirmation"``."""
        if self.printers[p.id].mode != "agent":
            async with self._locks[p.id]:
                return await asyncio.to_thread(_print_job, p, self._url(p), job.info)
        link = self._agents.get(p.id)
        if link is None:
            return "failed_before_send", "print agent not connected"
        delivery = job.id * DELIVERIES + job.attempts
        future: asyncio.Future[tuple[str, str | None]] = asyncio.get_running_loop().create_future()
        self._waiting[delivery] = future
        closed = asyncio.create_task(link.closed.wait())
        either: set[asyncio.Future[Any]] = {future, closed}
        try:
            await link.websocket.send_text(json.dumps(
                {"type": "job", "job_id": delivery, "ticket": job.info, "width_px": p.width}, ensure_ascii=False))
            await asyncio.wait(either, timeout=RESULT_TIMEOUT, return_when=asyncio.FIRST_COMPLETED)
        except Exception as error:  # the connection broke while sending: it may have got there
            log.warning("printer %s: sending job %s to the agent failed: %s", p.id, job.id, error)
        finally:
            closed.cancel()
            self._waiting.pop(delivery, None)
        if future.done():
            return future.result()
        future.cancel()
        if link.closed.is_set():
            return "no_confirmation", f"{NO_CONFIRMATION}: the print agent disconnected"
        return "no_confirmation", f"{NO_CONFIRMATION}: the print agent did not answer in {RESULT_TIMEOUT:g} s"

    # ------------------------------------------------------------------ printer status

    async def _poll(self, p: Printer) -> None:
        async with self._locks[p.id]:
            status = await asyncio.to_thread(printer_status, self._url(p), min(p.timeout, STATUS_TIMEOUT),
                                             profile=p.profile or None)
        now = self.office.clock()
        changes: dict[str, Any] = {"online": status.online, "paper": status.paper, "checked_at": now}
        if status.online and status.paper != "out":
            # "did not answer the status request" is normal for many printers: not an error.
            changes["error"] = None
        else:
            changes.update(error=status.error, last_error_at=now)
        self._set_printer(p.id, **changes)

    async def _poll_forever(self, printer_id: str) -> None:
        """Ask the printer how it is every POLL_SECONDS, while the server drives it."""
        try:
            while (p := self._printer(printer_id)) is not None and self.printers[printer_id].mode == "server":
                try:
                    await self._poll(p)
                except Exception:
                    log.exception("printer %s: status query failed", printer_id)
                await asyncio.sleep(POLL_SECONDS)
        finally:
            self._polls.pop(printer_id, None)

    # ------------------------------------------------------------------ print agents

    async def serve_agent(self, websocket: WebSocket, printer: Printer) -> None:
        """Talk to one accepted agent connection until it closes. A newer connection with the
        same token replaces an older one (an agent reconnecting over a half-dead link)."""
        link = AgentLink(websocket)
        old = self._agents.get(printer.id)
        self._agents[printer.id] = link
        if old is not None:
            with contextlib.suppress(Exception):
                await old.websocket.close(code=1000, reason="replaced by a newer connection")
        try:
            await websocket.send_text(json.dumps({"type": "hello", "printer_id": printer.id,
                                                  "width_px": printer.width}))
            self._set_printer(printer.id, agent_connected=True)
            while True:
                message = await websocket.receive()
                if message["type"] == "websocket.disconnect":
                    return
                await self._on_agent_message(printer.id, link, message.get("text") or "")
        except (WebSocketDisconnect, ConnectionError, RuntimeError):
            pass
        finally:
            link.closed.set()
            if self._agents.get(printer.id) is link:
                del self._agents[printer.id]
                self._set_printer(printer.id, agent_connected=False)

    async def _on_agent_message(self, printer_id: str, link: AgentLink, text: str) -> None:
        try:
            msg = json.loads(text)
            kind = msg.get("type")
        except (ValueError, AttributeError):
            log.warning("printer %s: ignoring a message that is not a JSON object", printer_id)
            return
        if kind == "status":
            paper = msg.get("paper") if msg.get("paper") in PAPERS else "unknown"
            online = msg.get("online") is True
            error = msg.get("error") if isinstance(msg.get("error"), str) else None
            now = self.office.clock()
            changes: dict[str, Any] = {"online": online, "paper": paper, "checked_at": now}
            changes.update({"error": None} if online and paper != "out" else {"error": error, "last_error_at": now})
            self._set_printer(printer_id, **changes)
        elif kind == "result":
            delivery, outcome = msg.get("job_id"), msg.get("outcome")
            error = msg.get("error") if isinstance(msg.get("error"), str) else None
            if not isinstance(delivery, int) or isinstance(delivery, bool) or outcome not in OUTCOMES:
                log.warning("printer %s: ignoring a malformed result %.200r", printer_id, text)
                return
            future = self._waiting.get(delivery)
            job = self.jobs.get(delivery // DELIVERIES)
            if future is not None and not future.done() and job is not None and job.printer == printer_id:
                future.set_result((outcome, error))
            else:
                await self._settle_late(printer_id, delivery, outcome, error)
        else:
            log.warning("printer %s: ignoring message type %r", printer_id, kind)

    async def _settle_late(self, printer_id: str, delivery: int, outcome: str, error: str | None) -> None:
        """A result after its job was failed for lack of confirmation: now we know."""
        job = self.jobs.get(delivery // DELIVERIES)
        if (job is None or job.printer != printer_id or job.attempts != delivery % DELIVERIES
                or job.state is not JobState.FAILED or not (job.error or "").startswith(NO_CONFIRMATION)):
            log.info("printer %s: ignoring a result for job_id %s", printer_id, delivery)
            return
        if outcome == "printed":
            self._set_printer(printer_id, last_success_at=self.office.clock())
            await self._move(job, JobState.FAILED, JobState.PRINTED)
        else:
            await self._move(job, JobState.FAILED, JobState.FAILED, error or outcome)

    # ------------------------------------------------------------------ staff

    async def reprint(self, ticket_id: int, username: str, url_fn: Callable[[str], str]) -> Job:
        """A new job for a ticket of today (the Reprint button)."""
        engine = self.office.engine
        ticket = engine.tickets.get(ticket_id)
        if ticket is None:
            rows = list(self.office.store.db["tickets"].rows_where("id = ?", [ticket_id], limit=1))
            if not rows:
                raise NotFound("Không tìm thấy vé.", "Ticket not found.", key="ticket_not_found")
            day = rows[0]["day"]
        else:
            day = ticket.day
        if day != engine.day:
            raise Conflict("Vé này không phải của hôm nay: không in lại.",
                           "This ticket is not from today: it cannot be reprinted.", key="ticket_not_today")
        assert ticket is not None  # today's tickets are all in the engine
        previous = self.latest_job(ticket_id)
        if previous is not None and previous.state in (JobState.QUEUED, JobState.SENT):
            raise Conflict(f"Vé {ticket.label} đang được in.", f"Ticket {ticket.label} is being printed.",
                           key="print_in_progress")
        config = self.office.config
        kiosk = next((k for k in config.kiosks if k.id == ticket.kiosk), None)
        printer = self._printer(previous.printer if previous else (kiosk.printer if kiosk else ""))
        if printer is None:
            raise Conflict("Không có máy in cho vé này.", "There is no printer for this ticket.", key="no_printer")
        info = previous.info if previous else ticket_info(config, printer, ticket.to_dict(), url_fn(ticket.token))
        now = self.office.clock()
        job = Job(0, ticket_id, printer.id, JobState.QUEUED, now, now, info,
                  reprint_of=previous.id if previous else None, requested_by=username)
        await self._write(lambda conn: _insert_job(conn, job))
        self._add(job)
        log.info("ticket %s: reprint requested by %s (job %s)", ticket.label, username, job.id)
        return job

    def today_jobs(self, state: str | None = None) -> list[dict[str, Any]]:
        jobs = sorted(self.jobs.values(), key=lambda j: j.id, reverse=True)
        return [j.to_dict() for j in jobs if state is None or j.state.value == state]


# ---------------------------------------------------------------------- routes

def _service(request: Request) -> PrintService:
    service: PrintService | None = request.app.state.printing
    if service is None:
        raise Conflict("Máy chủ đang chạy không in vé.", "Printing is turned off on this server.",
                       key="printing_off")
    return service


async def reprint(request: Request) -> JSONResponse:
    office: Office = request.app.state.office
    user = auth.require_user(request, office.store)
    ticket_id = path_int(request, "ticket_id")
    service = _service(request)
    job = await service.reprint(ticket_id, user["username"], lambda token: status_url(request, token))
    # Any staff may reprint, and every reprint is audited: a second paper ticket is a
    # second claim on a place in the queue.
    await office.audit(user, "ticket_reprint", ticket_id=ticket_id, label=job.info.get("label"), job_id=job.id,
                       printer=job.printer)
    return JSONResponse({"job": job.to_dict(), "print": service.job_status(ticket_id)}, status_code=201)


async def list_jobs(request: Request) -> JSONResponse:
    office: Office = request.app.state.office
    auth.require_user(request, office.store)
    state = request.query_params.get("state")
    return JSONResponse({"jobs": _service(request).today_jobs(state)})


async def list_printers(request: Request) -> JSONResponse:
    office: Office = request.app.state.office
    auth.require_user(request, office.store)
    return JSONResponse({"printers": _service(request).printers_summary("staff")})


async def agent_endpoint(websocket: WebSocket) -> None:
    """``/ws/printer``: one print agent, authenticated by its printer's ``agent_token``."""
    office: Office = websocket.app.state.office
    service: PrintService | None = websocket.app.state.printing
    printer = auth.printer_for_agent(auth.bearer_token(websocket), office.config)
    if service is None or printer is None:
        await websocket.close(code=1008)  # before accept: the handshake gets HTTP 403
        return
    await websocket.accept()
    await service.serve_agent(websocket, printer)


routes = [
    Route("/api/print-jobs", list_jobs),
    Route("/api/print-jobs/{ticket_id}/reprint", reprint, methods=["POST"]),
    Route("/api/printers", list_printers),
    WebSocketRoute("/ws/printer", agent_endpoint),
]


# ---------------------------------------------------------------------- OpenAPI

_NULL_STR = {"type": ["string", "null"]}
_NULL_INT = {"type": ["integer", "null"]}
_JOB = obj({"id": {"type": "integer"}, "ticket_id": {"type": "integer"}, "label": _NULL_STR, "printer": {"type": "string"},
            "state": {"enum": [s.value for s in JobState]}, "error": _NULL_STR, "attempts": {"type": "integer"},
            "reprint_of": _NULL_INT, "created_at": {"type": "string"}, "updated_at": {"type": "string"},
            "requested_by": _NULL_STR})
_PRINT_STATUS = obj({"state": {"enum": ["none", *_KIOSK_STATE.values()]}, "printer": _NULL_STR, "error": _NULL_STR,
                     "job_id": _NULL_INT})
_PRINTER = obj({"id": {"type": "string"}, "mode": {"enum": ["server", "agent", "virtual"]},
                "online": {"type": ["boolean", "null"]}, "paper": {"enum": list(PAPERS)}, "error": _NULL_STR,
                "checked_at": _NULL_STR, "last_success_at": _NULL_STR, "last_error_at": _NULL_STR,
                "agent_connected": {"type": ["boolean", "null"]}, "queued": {"type": "integer"},
                "failed": {"type": "integer"}, "url": {"type": "string"}})

openapi_paths: dict[str, Any] = {
    "/api/print-jobs": {"get": operation(
        "Today's print jobs (and every unfinished one), newest first", obj({"jobs": {"type": "array", "items": _JOB}}),
        errors=(401, 409), security=STAFF,
        params=[query_param("state", {"type": "string"}, "Only jobs in this state (queued, sent, printed…)")])},
    "/api/print-jobs/{ticket_id}/reprint": {"post": operation(
        "Print a ticket of today again (any staff; audited). 409 while it is being printed, for a ticket "
        "of another day, without a printer, or with printing off", obj({"job": _JOB, "print": _PRINT_STATUS}),
        status="201", errors=(401, 404, 409, 503), security=STAFF,
        params=[path_param("ticket_id", {"type": "integer", "minimum": 1})])},
    "/api/printers": {"get": operation(
        "Each printer's state", obj({"printers": {"type": "array", "items": _PRINTER}}), errors=(401, 409),
        security=STAFF)},
}
