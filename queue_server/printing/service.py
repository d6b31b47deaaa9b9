"""The print service: runs ``PrintBook`` (the state machine in ``jobs``) for one office.

(Over 400 lines: one class owns every asyncio task of printing — a worker and a status poll
per printer, the sweeper, the agent link's callbacks — and the state they share.)

A print job is stored with its ticket (``job_writer`` runs inside the ticket's transaction),
so the kiosk never shows a number whose ticket the database could lose. One worker task per
printer then delivers that printer's queued jobs, oldest first: itself, through
``printer.output.print_ticket`` in a thread, or through the connected print agent
(``agent_link``). A status poll per server-driven printer and a sweeper (stale jobs, a new
office day) run beside them.

Every state change is one write transaction in the office's writer thread, then applied in
memory and followed by a ``print_job`` push message; printer state changes push a
``printer`` message.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import sqlite3
from collections.abc import Callable
from typing import Any

from starlette.websockets import WebSocket

from printer import protocol
from printer.render import TicketInfo, render_ticket

from ..config import Kiosk, Printer
from ..engine import Event
from ..errors import Conflict, NotFound
from ..office import Office
from .agent_link import AgentLinks
from .jobs import (
    Audience,
    Backoff,
    Delivery,
    Hold,
    Idle,
    Job,
    JobState,
    MakeStale,
    PrintBook,
    check_move,
    recovery,
    settle,
    ticket_info,
)
from .printers import PrinterState, public_error, status_changes

log = logging.getLogger("motcua.printing")

# Seconds between status queries to a printer the server drives (never png://).
POLL_SECONDS = 5.0
# Status queries must not hold the printer long: a silent printer costs this much.
STATUS_TIMEOUT = 2.0
# How often queued jobs are checked for staleness.
SWEEP_SECONDS = 0.5
# First wait before sending again a job that did not reach the printer; doubles up to the max.
RETRY_SECONDS = 1.0
RETRY_MAX_SECONDS = 8.0


def _insert_job(conn: sqlite3.Connection, job: Job) -> Job:
    row = job.to_row()
    columns = ", ".join(row)
    marks = ", ".join("?" * len(row))
    job.id = conn.execute(f"INSERT INTO print_jobs ({columns}) VALUES ({marks})", tuple(row.values())).lastrowid or 0
    return job


def _output() -> Any:
    """``printer.output``, imported at the first print or status question (in its thread),
    not at start: python-escpos parses its printer database (a YAML file) on import, about
    0.6 s of CPU that serving need not wait for."""
    from printer import output

    return output


def _printer_status(url: str, timeout: float, profile: str | None) -> Any:
    return _output().printer_status(url, timeout, profile=profile)


def _print_job(printer: Printer, url: str, info: dict[str, Any]) -> tuple[Delivery, str | None]:
    """Render and print one job (blocking: run it in a thread)."""
    try:
        image = render_ticket(TicketInfo.from_json(info), printer.width)
    except Exception as error:  # nothing was sent: a bug or a bad width, not a printer fault
        log.exception("rendering a ticket failed")
        return "failed_before_send", f"rendering failed: {error}"
    result = _output().print_ticket(
        url, image, profile=printer.profile or None, timeout=printer.timeout, kanji_off=printer.kanji_off
    )
    return result.outcome, result.error


class PrintService:
    """Print jobs and printers for one office. ``start()`` in the app's lifespan, ``stop()``
    at shutdown; ``job_writer`` and ``job_status`` are what the kiosk endpoint uses."""

    def __init__(self, office: Office) -> None:
        self.office = office
        self.book = PrintBook(office.day)
        self.agents = AgentLinks(
            on_status=self._on_agent_status,
            on_connected=self._on_agent_connected,
            on_unmatched=self._settle_late,
            is_ours=self._is_ours,
        )
        self._pending: dict[int, Job] = {}  # written in a ticket's transaction, not yet committed
        self._wake: dict[str, asyncio.Event] = {}
        self._locks: dict[str, asyncio.Lock] = {}  # one printer conversation at a time
        self._workers: dict[str, asyncio.Task[None]] = {}
        self._polls: dict[str, asyncio.Task[None]] = {}
        self._tasks: list[asyncio.Task[None]] = []
        self._closing = False

    @property
    def jobs(self) -> dict[int, Job]:
        return self.book.jobs

    @property
    def printers(self) -> dict[str, PrinterState]:
        return self.book.printers

    # ------------------------------------------------------------------ lifecycle

    async def start(self) -> None:
        """Recover jobs left by the last run, then start the workers and status polls."""
        config = self.office.config
        now = self.office.clock()
        stale_after = {p.id: float(p.stale_after) for p in config.printers}
        day = self.book.day

        def recover(conn: sqlite3.Connection) -> list[sqlite3.Row]:
            cur = conn.cursor()
            cur.row_factory = sqlite3.Row
            unfinished = cur.execute("SELECT * FROM print_jobs WHERE state IN ('queued', 'sent')").fetchall()
            for job_id, state, error in recovery(unfinished, stale_after, now):
                conn.execute(
                    "UPDATE print_jobs SET state = ?, error = ?, updated_at = ? WHERE id = ?",
                    (state.value, error, now.isoformat(), job_id),
                )
            return cur.execute(
                "SELECT * FROM print_jobs WHERE state = 'queued' OR ticket_id IN"
                " (SELECT id FROM tickets WHERE day = ?) ORDER BY id",
                (day,),
            ).fetchall()

        for row in await self._write(recover):
            self.book.add(Job.from_row(row))
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
        await self.agents.close_all()
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

    def _ensure_printer(self, p: Printer) -> None:
        """A worker (and a status poll) for ``p``; a fresh state when the config changed how
        it is driven (printers added or changed by a live config reload)."""
        if not self.book.ensure_printer(p, self.agents.connected(p.id)):
            return
        if p.id not in self._workers:
            self._wake[p.id] = asyncio.Event()
            self._locks[p.id] = asyncio.Lock()
            self._workers[p.id] = asyncio.create_task(self._deliver_forever(p.id))
        if self.printers[p.id].mode == "server" and p.id not in self._polls:
            self._polls[p.id] = asyncio.create_task(self._poll_forever(p.id))

    def _printer(self, printer_id: str) -> Printer | None:
        for p in self.office.config.printers:  # the live config (it may be reloaded)
            if p.id == printer_id:
                return p
        return None

    def _url(self, p: Printer) -> str:
        # png:// folders are relative to config.toml, like every other path in it.
        if p.url.startswith("png://"):
            return "png://" + str(self.office.config.resolve(p.url[len("png://") :]))
        return p.url

    async def _write(self, fn: Callable[[sqlite3.Connection], Any]) -> Any:
        """One write transaction in the office's writer thread (the single writer)."""
        return await self.office.write(fn)

    # ------------------------------------------------------------------ the kiosk's side

    def job_writer(
        self, kiosk: Kiosk, status_url_fn: Callable[[str], str], dossier: str = ""
    ) -> Callable[[sqlite3.Connection, list[Event]], None] | None:
        """The ``extra`` for the kiosk's issue command: a queued job for the ticket it issues,
        in the ticket's own transaction (``dossier``: the code a result-return ticket
        collects, printed on it). None when the kiosk has no printer."""
        config = self.office.config
        printer = next((p for p in config.printers if p.id == kiosk.printer), None)
        if printer is None:
            return None

        def write(conn: sqlite3.Connection, events: list[Event]) -> None:
            for e in events:
                t = e.ticket
                if e.kind != "ticket_issued" or t is None or t.get("kiosk") != kiosk.id:
                    continue
                info = ticket_info(config, printer, t, status_url_fn(t["token"]), dossier)
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
        self.book.add(job)
        p = self._printer(job.printer)
        if p is not None:
            self._ensure_printer(p)
        self._publish_job(job)
        self._wake_printer(job.printer)

    def latest_job(self, ticket_id: int) -> Job | None:
        return self.book.latest_job(ticket_id)

    def job_status(self, ticket_id: int) -> dict[str, Any]:
        """What the kiosk (and the ticket's ``print_job`` messages) say about its printing."""
        return self.book.job_status(ticket_id)

    def printers_summary(self, audience: str = "staff") -> list[dict[str, Any]]:
        """Each printer's state for the snapshot: see ``PrinterState``; staff also get the URL."""
        return self.book.printers_summary(self.office.config.printers, "staff" if audience == "staff" else "public")

    def today_jobs(self, state: str | None = None) -> list[dict[str, Any]]:
        return self.book.today_jobs(state)

    # ------------------------------------------------------------------ state changes

    async def _move(self, job: Job, old: JobState, new: JobState, error: str | None = None) -> bool:
        """Commit ``job``'s move from ``old`` to ``new``; False when it is no longer in ``old``
        (another task moved it meanwhile, e.g. the sweeper made it stale)."""
        check_move(job, old, new)
        if job.state is not old:
            return False
        now = self.office.clock()
        attempts = job.attempts + (new is JobState.SENT)

        def write(conn: sqlite3.Connection) -> bool:
            cur = conn.execute(
                "UPDATE print_jobs SET state = ?, error = ?, attempts = ?, updated_at = ? WHERE id = ? AND state = ?",
                (new.value, error, attempts, now.isoformat(), job.id, old.value),
            )
            return cur.rowcount == 1

        if not await self._write(write) or job.state is not old:
            return False
        self.book.apply(job, new, error, now)
        if new in (JobState.FAILED, JobState.STALE):
            log.warning(
                "print job %s (ticket %s) on %s: %s: %s", job.id, job.info.get("label"), job.printer, new.value, error
            )
        else:
            log.debug("print job %s (ticket %s) on %s: %s", job.id, job.info.get("label"), job.printer, new.value)
        self._publish_job(job)
        return True

    async def _note(self, job: Job, error: str) -> None:
        """Record why a queued job waits (no state change)."""
        await self._write(
            lambda conn: conn.execute(
                "UPDATE print_jobs SET error = ? WHERE id = ? AND state = 'queued'", (error, job.id)
            )
        )
        if job.state is JobState.QUEUED:
            job.error = error
            self._publish_job(job)

    def _publish_job(self, job: Job) -> None:
        # "print" (as in the kiosk's answer) only from the ticket's newest job: an older job of a
        # reprinted ticket must not overwrite what the kiosk shows.
        for_kiosk = self.job_status(job.ticket_id) if self.latest_job(job.ticket_id) is job else None
        messages: dict[str, str] = {}
        audiences: tuple[Audience, ...] = ("public", "staff")
        for audience in audiences:
            status = for_kiosk
            if for_kiosk is not None and audience == "public":
                status = dict(for_kiosk, error=public_error(for_kiosk["error"]))
            msg = {"type": "print_job", "ticket_id": job.ticket_id, "print": status, "job": job.to_dict(audience)}
            messages[audience] = json.dumps(msg, ensure_ascii=False)
        self.office.publish(messages)

    def _set_printer(self, printer_id: str, **changes: Any) -> None:
        if self.book.change_printer(printer_id, changes):
            audiences: tuple[Audience, ...] = ("public", "staff")
            messages: dict[str, str] = {
                audience: json.dumps({"type": "printer", "printer": entry}, ensure_ascii=False)
                for audience in audiences
                for entry in self.printers_summary(audience)
                if entry["id"] == printer_id
            }
            self.office.publish(messages)
            self._wake_printer(printer_id)

    def _wake_printer(self, printer_id: str) -> None:
        wake = self._wake.get(printer_id)
        if wake is not None:
            wake.set()

    async def _sweep_forever(self) -> None:
        """Queued jobs past ``stale_after`` go stale, even while their printer is busy."""
        while True:
            await asyncio.sleep(SWEEP_SECONDS)
            try:
                for p in self.office.config.printers:
                    self._ensure_printer(p)
                await self.agents.revoke(self.office.config.printers)
                printers = {p.id: p for p in self.office.config.printers}
                for job in self.book.stale(printers, self.office.clock()):
                    await self._move(job, JobState.QUEUED, JobState.STALE, job.error or "not sent in time")
                self.book.new_day(self.office.day)
            except Exception:
                log.exception("print job sweep failed")

    # ------------------------------------------------------------------ delivery

    async def _deliver_forever(self, printer_id: str) -> None:
        """Deliver this printer's queued jobs one at a time, oldest first."""
        wake = self._wake[printer_id]
        retry = Backoff(RETRY_SECONDS, RETRY_MAX_SECONDS)
        while not self._closing:
            wake.clear()
            try:
                p = self._printer(printer_id)
                step = self.book.next_step(printer_id, p, self.office.clock(), self.agents.connected(printer_id))
                if isinstance(step, Idle) or p is None:
                    await wake.wait()
                    continue
                if isinstance(step, MakeStale):
                    await self._move(step.job, JobState.QUEUED, JobState.STALE, step.error)
                    continue
                job = step.job
                if isinstance(step, Hold):
                    reason: str | None = step.reason
                    if self.printers[printer_id].mode == "server":
                        await self._poll(p)  # paper out: ask again before believing it
                        reason = self.book.hold_reason(printer_id, agent_connected=False)
                    if reason is not None:
                        if job.error != reason:
                            await self._note(job, reason)
                        await self._sleep_or_wake(wake, POLL_SECONDS)
                        continue
                if not await self._move(job, JobState.QUEUED, JobState.SENT):
                    continue
                outcome, error = await self._send(p, job)
                result = settle(outcome, error, self.printers[printer_id].mode, self.office.clock())
                # The printer's state first: whoever sees the job's new state sees the printer's too.
                if result.printer_changes:
                    self._set_printer(printer_id, **result.printer_changes)
                await self._move(job, JobState.SENT, result.new, result.error)
                if result.new is JobState.PRINTED:
                    retry.reset()
                if not result.retry:
                    continue
                wake.clear()  # a new job or a stop cuts the wait short, a status change does not
                await self._sleep_or_wake(wake, retry.next())
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("printer %s: delivering a job failed", printer_id)
                await asyncio.sleep(RETRY_SECONDS)

    async def _sleep_or_wake(self, wake: asyncio.Event, seconds: float) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(wake.wait(), seconds)

    async def _send(self, p: Printer, job: Job) -> tuple[Delivery, str | None]:
        """Hand ``job`` to the printer or its agent: (outcome, error)."""
        if self.printers[p.id].mode == "agent":
            return await self.agents.send(p, job)
        async with self._locks[p.id]:
            return await asyncio.to_thread(_print_job, p, self._url(p), job.info)

    # ------------------------------------------------------------------ printer status

    async def _poll(self, p: Printer) -> None:
        async with self._locks[p.id]:
            status = await asyncio.to_thread(
                _printer_status, self._url(p), min(p.timeout, STATUS_TIMEOUT), p.profile or None
            )
        self._set_printer(p.id, **status_changes(status.online, status.paper, status.error, self.office.clock()))

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
        """Talk to one accepted agent connection until it closes (see ``agent_link``)."""
        await self.agents.serve(websocket, printer)

    def _on_agent_connected(self, printer_id: str, connected: bool) -> None:
        self._set_printer(printer_id, agent_connected=connected)

    def _on_agent_status(self, printer_id: str, status: protocol.Status) -> None:
        self._set_printer(printer_id, **status_changes(status.online, status.paper, status.error, self.office.clock()))

    def _is_ours(self, printer_id: str, delivery: int) -> bool:
        job = self.book.job_for_delivery(delivery)
        return job is not None and job.printer == printer_id

    async def _settle_late(self, printer_id: str, result: protocol.Result) -> None:
        """A result after its job was failed for lack of confirmation: now we know."""
        move = self.book.late_result(printer_id, result.job_id, result.outcome, result.error)
        if move is None:
            log.info("printer %s: ignoring a result for job_id %s", printer_id, result.job_id)
            return
        job, new, error = move
        if new is JobState.PRINTED:
            self._set_printer(printer_id, last_success_at=self.office.clock())
        await self._move(job, JobState.FAILED, new, error)

    # ------------------------------------------------------------------ staff

    async def reprint(self, ticket_id: int, username: str, url_fn: Callable[[str], str]) -> Job:
        """A new job for a ticket of today (the Reprint button)."""
        ticket = self.office.find_ticket(ticket_id)
        if ticket is None:
            # An earlier day's ticket: read on a connection of its own, off the event loop.
            found = await self.office.read(_ticket_day, ticket_id)
            if found is None:
                raise NotFound("Không tìm thấy vé.", "Ticket not found.", key="ticket_not_found")
            day = found
        else:
            day = ticket.day
        if day != self.office.day:
            raise Conflict(
                "Vé này không phải của hôm nay: không in lại.",
                "This ticket is not from today: it cannot be reprinted.",
                key="ticket_not_today",
            )
        assert ticket is not None  # today's tickets are all in the engine
        previous = self.latest_job(ticket_id)
        if previous is not None and previous.state in (JobState.QUEUED, JobState.SENT):
            raise Conflict(
                f"Vé {ticket.label} đang được in.", f"Ticket {ticket.label} is being printed.", key="print_in_progress"
            )
        config = self.office.config
        kiosk = next((k for k in config.kiosks if k.id == ticket.kiosk), None)
        printer = self._printer(previous.printer if previous else (kiosk.printer if kiosk else ""))
        if printer is None:
            raise Conflict("Không có máy in cho vé này.", "There is no printer for this ticket.", key="no_printer")
        info = previous.info if previous else ticket_info(config, printer, ticket.to_dict(), url_fn(ticket.token))
        now = self.office.clock()
        job = Job(
            0,
            ticket_id,
            printer.id,
            JobState.QUEUED,
            now,
            now,
            info,
            reprint_of=previous.id if previous else None,
            requested_by=username,
        )
        await self._write(lambda conn: _insert_job(conn, job))
        self._add(job)
        log.info("ticket %s: reprint requested by %s (job %s)", ticket.label, username, job.id)
        return job


def _ticket_day(conn: sqlite3.Connection, ticket_id: int) -> str | None:
    """The office day of ticket ``ticket_id`` in the database, or None."""
    row = conn.execute("SELECT day FROM tickets WHERE id = ?", (ticket_id,)).fetchone()
    return None if row is None else str(row[0])
