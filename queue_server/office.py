"""The running office: the pure engine adapted to SQLite, the push hub and a clock.
(Over 400 lines: the one write path, the queries handlers use and the snapshots screens
start from belong together.)

``Office.execute`` is the one write path. Under one asyncio lock it runs an engine command,
commits the events (and any extra rows, such as a print job) in the store's writer thread,
and only then publishes them. If the commit fails, the engine is rebuilt from the database,
so memory never holds what the database does not.

Request handlers and feature modules use the office through its commands (``execute``,
``write``, the account commands, ``publish``) and queries (``day``, ``counter``, ``ticket``,
``waiting``, ``read``...), never its engine, store or hub: those are its own.
"""

from __future__ import annotations

import asyncio
import copy
import datetime as dt
import json
import logging
import sqlite3
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from contextlib import AbstractContextManager
from dataclasses import dataclass
from operator import attrgetter
from pathlib import Path
from typing import Any, Generic, TypeVar, cast

from . import auth, speech
from .commits import GroupCommitter, storage_error
from .config import Config
from .engine import STAFF_ONLY_TICKET_FIELDS, CounterStatus, Engine, Event, Ticket, TicketState
from .errors import MotcuaError
from .hub import FrameWriter, Hub, Subscriber, text_frame
from .kiosk import serving_counters
from .store import Store

# The clips that ship with motcua (display/audio/clips); an office's own are in display.clips_dir.
BUNDLED_CLIPS = Path(__file__).resolve().parent.parent / "display" / "audio" / "clips"
log = logging.getLogger("motcua.office")

Clock = Callable[[], dt.datetime]
# The /ws protocol (see queue_server.ws): 2 = one "events" message per command.
PROTOCOL_VERSION = 2
# A cached snapshot is reused for this long at most: it says "now" and waiting times.
SNAPSHOT_MAX_AGE = dt.timedelta(seconds=1)
_ARRIVAL = attrgetter("queued_at", "id")  # the order tickets wait in: arrival, then id


def head_of_queue(arrived: list[Ticket], n: int = 3) -> list[Ticket]:
    """The first ``n`` of a service's waiting tickets, given in arrival order, as the services
    summary lists them: those sent to the front first (by ``(not front, queued_at, id)``)."""
    fronts = [t for t in arrived if t.front]
    if len(fronts) >= n:
        return fronts[:n]
    return fronts + [t for t in arrived if not t.front][: n - len(fronts)]


T = TypeVar("T")
P = TypeVar("P")


@dataclass(frozen=True, slots=True)
class Outcome(Generic[T]):
    """What a command given to ``Office.execute_outcome`` returns: the answer for its caller
    and the events to commit and publish (none when the command changed nothing)."""

    value: T
    events: list[Event]


# An engine command: ``command(engine, now)`` changes the engine and returns its events.
Command = Callable[[Engine, dt.datetime], list[Event]]

# The hooks feature modules register on an office (documented in ``queue_server.features``).
# Runs inside a command's commit transaction with (connection, events): rows outside the
# engine that must change with those events (a print job, a dossier returned).
CommitHook = Callable[[sqlite3.Connection, list[Event]], None]
# Runs after each commit, once the events are published, with (events, their seqs).
AfterCommit = Callable[[list[Event], list[int]], None]
# A part of every snapshot: ``part(audience)`` ("public" or "staff") returns JSON-ready data.
SnapshotPart = Callable[[str], object]
# Before a counter action, with (action, counter), e.g. ("done", 3): reads what it needs
# off the event loop (``Office.read``), then returns a check (or None). The check runs
# under the office lock, just before the action's engine command, from memory only; it
# raises a ``MotcuaError`` to refuse the action (``StaleCheck`` when what it read no longer
# applies: the caller reads again and retries).
CounterCheck = Callable[[], None]
CounterGuard = Callable[[str, int], Awaitable[CounterCheck | None]]
# Runs after a commit with (counter, old holder, new holder) when a counter changes hands.
HolderListener = Callable[[int, str | None, str | None], None]


def utc_now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _served_figures(served: list[Ticket]) -> dict[str, int | None]:
    """A counter's figures of the day from the tickets it finished: count and mean service time."""
    took = [(t.finished_at - t.started_at).total_seconds() for t in served if t.finished_at and t.started_at]
    return {
        "served_today": len(served),
        # (A ticket finished without being started counts as served, and as zero seconds.)
        "average_service_s": round(sum(took) / len(served)) if served else None,
    }


def _last_finished(tickets: list[Ticket]) -> Ticket | None:
    return max((t for t in tickets if t.finished_at), key=lambda t: (t.finished_at, t.id), default=None)


def public_ticket(t: dict[str, Any] | None) -> dict[str, Any] | None:
    if t is None:
        return None
    return {k: v for k, v in t.items() if k not in STAFF_ONLY_TICKET_FIELDS}


def public_counter(c: dict[str, Any] | None) -> dict[str, Any] | None:
    if c is None:
        return None
    return {k: v for k, v in c.items() if k != "staff"}


class Office:
    def __init__(self, config: Config, store: Store, *, clock: Clock = utc_now, hub: Hub | None = None):
        self.config = config
        self.store = store
        self.clock = clock
        self.hub = hub or Hub()
        self.lock = asyncio.Lock()
        # The single writer: every commit runs in this thread, one at a time.
        self.writer = ThreadPoolExecutor(max_workers=1, thread_name_prefix="motcua-writer")
        # Reads that need the database (older tickets, the audit log, print jobs) run here,
        # each on its own read-only connection: never on the event loop, never on the
        # writer's connection (see ``read``).
        self.readers = ThreadPoolExecutor(max_workers=2, thread_name_prefix="motcua-reader")
        # Status token -> ticket id for the tickets in memory (the phone status page).
        self._tokens: dict[str, int] = {}
        self.engine = self._load_engine()
        # Cleared while the engine is rebuilt from the database after a failure: commands
        # wait for it (holding the lock), so none runs on the engine being replaced.
        self._ready = asyncio.Event()
        self._ready.set()
        self.seq = store.last_seq()
        self._commits = GroupCommitter(store, self.writer, self._committed, self._reload)
        # Callbacks run after each commit with (events, seqs); used by the print service.
        self.after_commit: list[AfterCommit] = []
        # Extra snapshot parts from feature modules: key -> fn(audience) (e.g. "printers").
        self.snapshot_extras: dict[str, SnapshotPart] = {}
        # Run inside every commit's transaction with (connection, events): rows outside the
        # engine that must change with an event (a dossier returned when its ticket is done).
        self.commit_hooks: list[CommitHook] = []
        # Asked before a counter action, with (action, counter), for a check run under the lock.
        self.counter_guards: list[CounterGuard] = []
        # audience -> (key, built at, text, frame): see snapshot_message.
        self._snapshots: dict[str, tuple[tuple[int, int, int], dt.datetime, str, bytes]] = {}
        self._config_epoch = 0
        # Called after a commit with (counter, old holder, new holder) whenever a counter
        # changes hands (signed off, taken over, removed by a config edit): the web layer
        # uses it to end the old holder's counter screens.
        self.holder_changed: list[HolderListener] = []
        self._holders = self.holders()
        # A feature module's own state kept with the office, one object per type: see ``part``.
        self._parts: dict[type, object] = {}

    def part(self, kind: type[P], make: Callable[[], P] | None = None) -> P | None:
        """The feature state of type ``kind`` kept with this office (the dossier desk, the
        staff streams, today's booking counts), made by ``make`` on first use when given."""
        found = self._parts.get(kind)
        if found is None and make is not None:
            found = self._parts[kind] = make()
        return cast(P | None, found)

    def set_part(self, value: object) -> None:
        """Keep ``value`` as this office's feature state of its type (replacing the last)."""
        self._parts[type(value)] = value

    def _load_engine(self) -> Engine:
        """At start only (no other thread uses the database yet); later, see ``_reload``."""
        engine = self.store.load_engine(self.config, self.clock())
        self._tokens = {t.token: t.id for t in engine.tickets.values()}
        return engine

    def close(self) -> None:
        self.writer.shutdown(wait=True)
        self.readers.shutdown(wait=True)

    async def read(self, fn: Callable[..., Any], *args: Any) -> Any:
        """``fn(conn, *args)`` on a read-only connection of its own, in a reader thread.

        The API for every database read from a request handler or feature module: it sees
        the last committed state (never a write in progress), does not block the event loop
        on a slow disk, and never touches the writer's connection. Staff accounts and
        sessions need no read: ``Store.get_user`` and ``Store.has_session`` answer from
        memory. State held by the engine (today's tickets, counters) is read through the
        queries below, on the event loop.
        """

        def run() -> Any:
            with self.store.reader() as conn:
                return fn(conn, *args)

        return await asyncio.get_running_loop().run_in_executor(self.readers, run)

    async def read_aside(self, fn: Callable[..., T], *args: Any) -> T:
        """``fn(conn, *args)`` on a read-only connection of its own, in a thread of its own:
        for long reads (reports) that must not hold up the office's readers."""

        def run() -> T:
            with self.store.reader() as conn:
                return fn(conn, *args)

        return await asyncio.to_thread(run)

    def reader(self) -> AbstractContextManager[sqlite3.Connection]:
        """A read-only connection of its own, closed on leaving the ``with`` block (for a
        read in a thread or process the caller runs itself)."""
        return self.store.reader()

    @property
    def database_path(self) -> Path:
        """The office's SQLite file (for a backup, or a worker process that opens it read-only)."""
        return self.store.path

    # ------------------------------------------------------------------ the write path

    async def execute(self, command: Command, extra: CommitHook | None = None) -> list[Event]:
        """Run ``command(engine, now)``, commit the events it returns (with ``extra``'s rows,
        in the same transaction), then publish them. Returns those events."""

        def run(engine: Engine, now: dt.datetime) -> Outcome[list[Event]]:
            events = command(engine, now)
            return Outcome(events, events)

        return await self.execute_outcome(run, extra)

    async def execute_outcome(
        self,
        command: Callable[[Engine, dt.datetime], Outcome[T]],
        extra: CommitHook | None = None,
    ) -> T:
        """Like ``execute`` for a command with an answer: ``command(engine, now)`` returns an
        ``Outcome``; its events are committed and published, and its value returned."""
        async with self.lock:
            await self._ready.wait()
            now = self.clock()
            # The day rollover is committed even when the command after it is refused:
            # otherwise memory would hold a new day the database does not.
            rollover = self.engine.tick(now)
            try:
                result = command(self.engine, now)
            except MotcuaError:
                if rollover:
                    await asyncio.shield(self._commit(rollover, None))
                raise
            except Exception:
                # A bug, not a refusal: the engine may be half-changed; trust the database.
                log.exception("command failed unexpectedly; reloading state from the database")
                await self._commits.settled()  # the commands before it still commit
                await self._reload()
                raise
            events = rollover + result.events
            # Nothing new: the answer may still rest on commands not yet durable.
            durable = self._commit(events, extra) if events else self._commits.tail()
        # The lock is free while the batch commits: the next commands join the next batch.
        if durable is not None:
            await asyncio.shield(durable)
        return result.value

    def _commit(self, events: list[Event], extra: CommitHook | None) -> asyncio.Future[list[int]]:
        """Queue ``events`` for the next group commit (``queue_server.commits``); they are
        published once durable. The caller holds the lock and must await the future before
        acknowledging anything."""
        return self._commits.submit(events, self.engine.meta(), self._extra_writer(events, extra))

    def _extra_writer(
        self, events: list[Event], extra: CommitHook | None
    ) -> Callable[[sqlite3.Connection], None] | None:
        """The rows written with ``events`` in their transaction: ``extra``, then the commit hooks."""
        writers = [*([extra] if extra else []), *self.commit_hooks]

        def write_extra(conn: sqlite3.Connection) -> None:
            for write in writers:
                write(conn, events)

        return write_extra if writers else None

    async def settled(self) -> None:
        """Wait until every command run so far is durable (or failed). Call it holding the
        lock before reading the engine for a screen: the snapshot then holds no change that
        is not yet committed."""
        await self._commits.settled()

    def commit_counts(self) -> dict[str, int]:
        """Group commits since start: transactions (one fsync each) and commands in them."""
        return {"transactions": self._commits.batches, "commands": self._commits.commands}

    def _committed(self, events: list[Event], seqs: list[int]) -> None:
        self.seq = seqs[-1]
        for event in events:
            if event.ticket is not None:
                self._tokens[event.ticket["token"]] = event.ticket["id"]
            elif event.kind == "day_started":  # the engine forgot the earlier days' tickets
                self._tokens = {t.token: t.id for t in self.engine.tickets.values()}
        self._publish(events, seqs)
        for callback in self.after_commit:
            try:
                callback(events, seqs)
            except Exception:
                log.exception("after-commit callback failed")
        self._announce_holders(events)

    def _announce_holders(self, events: list[Event]) -> None:
        for event in events:
            if event.counter is None:
                continue
            number, holder = event.counter["number"], event.counter["staff"]
            before = self._holders.get(number)
            if holder == before:
                continue
            self._holders[number] = holder
            for listener in self.holder_changed:
                try:
                    listener(number, before, holder)
                except Exception:
                    log.exception("holder-changed listener failed")

    async def _reload(self) -> None:
        """After a failed commit or command: memory must not hold what the database does not.
        The rows are read in the writer thread, on the write connection between two of its
        jobs: never on the event loop, never beside a transaction in progress."""
        self._ready.clear()
        try:
            engine = await self.in_writer(self.store.load_engine, self.config, self.clock())
            self.engine = engine
            self._tokens = {t.token: t.id for t in engine.tickets.values()}
        finally:
            self._ready.set()

    async def in_writer(self, fn: Callable[..., T], *args: Any) -> T:
        """Run ``fn(*args)`` in the writer thread, the one that owns the write connection."""
        return await asyncio.get_running_loop().run_in_executor(self.writer, fn, *args)

    async def write(self, fn: Callable[[sqlite3.Connection], T], *, exclusive: bool = False) -> T:
        """``fn(conn)`` in one write transaction of its own, in the writer thread: rows outside
        the engine (bookings, dossiers, print jobs). Returns what ``fn`` returns. With
        ``exclusive``, under the office lock too: no engine command runs meanwhile."""
        if not exclusive:
            return await self.in_writer(self.store.write, fn)
        async with self.lock:
            return await self.in_writer(self.store.write, fn)

    async def with_write_connection(self, fn: Callable[..., T], *args: Any) -> T:
        """``fn(conn, *args)`` on the write connection in the writer thread, for work that
        opens and ends its own transactions (the daily report aggregates)."""
        return await self.in_writer(lambda: fn(self.store.conn, *args))

    # ------------------------------------------------------------------ accounts

    def get_user(self, username: str) -> dict[str, Any] | None:
        """The account as last committed (from memory: safe on the event loop)."""
        return self.store.get_user(username)

    def users(self) -> list[dict[str, Any]]:
        return self.store.users()

    def has_session(self, sid: str, username: str) -> bool:
        return self.store.has_session(sid, username)

    async def add_user(self, username: str, password: str, role: str, display_name: str = "") -> None:
        await self.in_writer(auth.add_user, self.store, username, password, role, display_name)

    async def set_user_disabled(self, username: str, disabled: bool) -> None:
        await self.in_writer(auth.set_disabled, self.store, username, disabled)

    async def set_user_password(self, username: str, password: str) -> None:
        await self.in_writer(auth.set_password, self.store, username, password)

    async def start_session(self, username: str) -> str:
        return await self.in_writer(auth.start_session, self.store, username)

    async def end_session(self, sid: str) -> None:
        await self.in_writer(auth.end_session, self.store, sid)

    async def audit(self, user: dict[str, Any], action: str, **details: Any) -> None:
        """Record that ``user`` did ``action`` (the ``audit`` table: when, who, what, details).

        Call it after the action succeeded, so a refused action leaves no row. The row is
        written in the writer thread, the one that owns the write connection; it is its own
        transaction, after the action's (a crash between the two loses the row, not the action).
        """
        await self.in_writer(self.store.audit, self.clock().isoformat(), user["username"], action, details)

    async def reload_config(self, config: Config) -> None:
        """Switch to an edited, already validated config without a restart.

        The whole new state is built aside: a copy of the engine reconfigured, the services'
        estimates and both snapshots rendered from it, the events of the switch (counters the
        new config removes are closed) committed. Only then are the engine and the config
        switched, in one step with no await, so no reader ever sees half of it. On any
        failure (a refusal from the engine, a storage error, a bug while rendering) nothing
        has changed: the office keeps its old config and state.
        """
        async with self.lock:
            await self.settled()  # nothing else is queued: the commit below is the only one
            now = self.clock()
            candidate = copy.deepcopy(self.engine)
            events = candidate.tick(now) + candidate.reconfigure(config, now)
            self._render_with(candidate, config)  # a dry run: any error leaves the office as it was
            seqs: list[int] = []
            if events:
                writer = self._extra_writer(events, None)
                try:
                    [result] = await asyncio.get_running_loop().run_in_executor(
                        self.writer, self.store.commit_batch, [(events, candidate.meta(), writer)]
                    )
                except Exception as exc:  # the transaction itself failed: nothing was written
                    log.exception("config reload: commit failed; the old config stays")
                    raise storage_error() from exc
                if isinstance(result, MotcuaError):
                    raise result
                if isinstance(result, BaseException):
                    raise storage_error() from result
                seqs = result
            # The switch: the new state is complete and durable.
            self.engine, self.config = candidate, config
            self._config_epoch += 1
            self._tokens = {t.token: t.id for t in candidate.tickets.values()}
            try:  # switched and durable: telling the screens cannot undo it (nor should it fail)
                if seqs:
                    self._committed(events, seqs)
                self.hub.publish({audience: self.snapshot_message(audience)[0] for audience in ("public", "staff")})
            except Exception:
                log.exception("config reload: publishing the new state failed")

    def _render_with(self, engine: Engine, config: Config) -> None:
        """Render both snapshots from ``engine`` and ``config`` without switching to them."""
        live = self.engine, self.config, self._snapshots
        self.engine, self.config, self._snapshots = engine, config, {}
        try:
            for audience in ("public", "staff"):
                json.dumps(self.snapshot(audience), ensure_ascii=False)
        finally:
            self.engine, self.config, self._snapshots = live

    async def tick(self) -> None:
        """Day rollover without anyone pressing anything (called from a timer)."""
        await self.execute(lambda engine, now: engine.tick(now))

    # ------------------------------------------------------------------ screens

    def publish(self, messages: dict[str, str]) -> None:
        """Send a message that is no queue event (a printer's state, a dossier, a booking) to
        every screen of each audience: audience -> JSON text."""
        self.hub.publish(messages)

    def screens(self) -> tuple[int, int]:
        """Screens connected now, and screens dropped as too slow since the start."""
        return len(self.hub), self.hub.dropped_total

    async def snapshot_text(self, audience: str) -> str:
        """The snapshot's JSON text (the cached one screens get), once every command run so far
        is durable."""
        async with self.lock:
            await self.settled()
            return self.snapshot_message(audience)[0]

    async def subscribe(self, audience: str, writer: FrameWriter | None) -> Subscriber:
        """A new screen: subscribed and sent its snapshot under the write lock, so the snapshot
        holds exactly the committed events up to its seq and every later event follows it."""
        async with self.lock:
            await self.settled()  # no command half-way through a group commit
            sub = self.hub.subscribe(audience, writer)
            text, frame = self.snapshot_message(audience)
            sub.send(text, frame)
            return sub

    async def resync(self, sub: Subscriber) -> None:
        """A screen asked for a fresh snapshot (it saw a gap); one too slow to take it is dropped."""
        if sub.dropped:
            return
        async with self.lock:
            await self.settled()
            if sub.dropped:
                return
            text, frame = self.snapshot_message(sub.audience)
            if not sub.send(text, frame):
                self.hub.drop(sub)

    def unsubscribe(self, sub: Subscriber) -> None:
        self.hub.unsubscribe(sub)

    # ------------------------------------------------------------------ messages

    def _publish(self, events: list[Event], seqs: list[int]) -> None:
        """One message per command and audience (protocol v2): its events in order, then the
        services summary once, serialised once per audience."""
        staff_events = [self.event_message(event, seq, "staff") for event, seq in zip(events, seqs)]
        public_events = []
        for staff in staff_events:
            public = dict(staff)
            public["ticket"] = public_ticket(staff["ticket"])
            public["counter"] = public_counter(staff["counter"])
            public.pop("staff", None)
            public_events.append(public)
        services = self.services_summary(events[-1].at)
        self._add_counter_figures(events, staff_events, public_events)
        self.hub.publish(
            {
                audience: json.dumps(
                    {"v": PROTOCOL_VERSION, "type": "events", "seq": seqs[-1], "events": batch, "services": services},
                    ensure_ascii=False,
                )
                for audience, batch in (("staff", staff_events), ("public", public_events))
            }
        )

    def _served_today(self, counters: set[int] | None = None) -> dict[int, list[Ticket]]:
        """Today's finished tickets by the counter that finished them (only ``counters``'s)."""
        engine = self.engine
        served: dict[int, list[Ticket]] = {}
        for t in engine.tickets.values():
            if t.state is TicketState.DONE and t.counter is not None and t.day == engine.day:
                if counters is None or t.counter in counters:
                    served.setdefault(t.counter, []).append(t)
        return served

    def _add_counter_figures(self, events: list[Event], *batches: list[dict[str, Any]]) -> None:
        """A finished ticket changes its counter's figures of the day: its message's counter
        carries them (``served_today``, ``average_service_s``), as the snapshot does."""
        done = {e.counter["number"] for e in events if e.kind == "ticket_done" and e.counter is not None}
        if not done:
            return
        served = self._served_today(done)
        for batch in batches:
            for msg in batch:
                if msg["kind"] == "ticket_done" and msg["counter"] is not None:
                    figures = _served_figures(served.get(msg["counter"]["number"], []))
                    msg["counter"] = {**msg["counter"], **figures}

    def event_message(self, event: Event, seq: int, audience: str, with_services: bool = False) -> dict[str, Any]:
        msg: dict[str, Any] = {
            "type": "event",
            "seq": seq,
            "kind": event.kind,
            "at": event.at.isoformat(),
            "ticket": event.ticket,
            "counter": event.counter,
            "staff": event.staff,
            "details": event.details,
        }
        if event.kind in ("ticket_called", "ticket_recalled") and event.ticket:
            msg["announce"] = self.announcement(
                event.ticket["label"], event.ticket["counter"], recall=event.kind == "ticket_recalled"
            )
        if with_services:
            msg["services"] = self.services_summary(event.at)
        return msg

    def announcement(self, label: str, counter: int, recall: bool = False) -> dict[str, Any]:
        """What the displays say for a call; a recall starts with display.recall_phrase."""
        dialect = self.config.display.dialect
        prefix = self.config.display.recall_phrase if recall else speech.CALL_PREFIX
        clips = speech.call_clips(label, counter, dialect, prefix)
        if recall and not self._has_clip(clips[0]):
            # The office worded its own recall phrase but has not recorded it yet: the
            # bundled recall phrase still makes a recall sound different from a call.
            clips[0] = speech.phrase_clip_name(speech.RECALL_PREFIX)
        return {
            "label": label,
            "counter": counter,
            "recall": recall,
            "sentence": speech.call_sentence(label, counter, dialect, prefix),
            "clips": clips,
        }

    def _has_clip(self, name: str) -> bool:
        folders = (self.config.resolve(self.config.display.clips_dir), BUNDLED_CLIPS)
        return any((folder / f"{name}.wav").is_file() for folder in folders)

    # ------------------------------------------------------------------ queries (today's state)

    @property
    def day(self) -> str:
        """The office day now served (ISO date)."""
        return self.engine.day

    def counter(self, number: int) -> CounterStatus:
        """Counter ``number``'s state; ``NotFound`` when the config has no such counter."""
        return self.engine.counter(number)

    def held_ticket(self, number: int) -> Ticket | None:
        """The ticket counter ``number`` is calling or serving, if any."""
        status = self.engine.counters.get(number)
        return self.engine.tickets.get(status.ticket_id) if status and status.ticket_id else None

    def holders(self) -> dict[int, str | None]:
        """Counter number -> the account signed on there (None when nobody is)."""
        return {n: c.staff for n, c in self.engine.counters.items()}

    def ticket(self, ticket_id: int) -> Ticket:
        """A ticket in memory (today's, or still open); ``NotFound`` otherwise."""
        return self.engine.ticket(ticket_id)

    def find_ticket(self, ticket_id: int | None) -> Ticket | None:
        return self.engine.tickets.get(ticket_id) if ticket_id else None

    def ticket_for_appointment(self, code: str) -> Ticket | None:
        """The ticket an appointment checked in with, while it is in memory."""
        return self.find_ticket(self.engine.by_appointment.get(code))

    def waiting(self) -> list[Ticket]:
        return self.engine.waiting()

    def tickets_today(self) -> list[Ticket]:
        engine = self.engine
        return [t for t in engine.tickets.values() if t.day == engine.day]

    def position(self, ticket: Ticket) -> tuple[int, int]:
        """(people ahead, estimated wait in seconds) of a waiting ticket, now."""
        return self.engine.position(ticket, self.clock())

    # ------------------------------------------------------------------ reads

    def services_summary(self, now: dt.datetime) -> list[dict[str, Any]]:
        engine = self.engine
        # Each service's waiting tickets in arrival order (one sort of the nearly sorted list).
        waiting_by_service: dict[str, list[Ticket]] = {}
        for t in sorted(engine.waiting(), key=_ARRIVAL):
            waiting_by_service.setdefault(t.service, []).append(t)
        out = []
        for svc in self.config.services:
            sd = engine.services[svc.code]
            ok, reason = engine.service_status(svc.code, now)
            ahead, wait = engine.estimate(svc.code, now=now)
            waiting = waiting_by_service.get(svc.code, [])
            out.append(
                {
                    "code": svc.code,
                    "name": svc.name,
                    "name_en": svc.name_en,
                    "open": sd.open,
                    "available": ok,
                    "reason": reason,
                    "issued": sd.issued,
                    "cap": sd.cap if sd.cap is not None else (svc.daily_cap or None),
                    "waiting": len(waiting),
                    "estimated_wait_s": wait,
                    "average_service_s": round(engine.average_service_seconds(svc.code)),
                    "next": [t.label for t in head_of_queue(waiting)],
                    "longest_wait_s": round((now - waiting[0].queued_at).total_seconds()) if waiting else 0,
                    # The kiosk's priority path shows what a priority ticket would wait.
                    "waiting_priority": sum(1 for t in waiting if t.priority),
                    "estimated_wait_priority_s": engine.estimate(svc.code, priority=True, now=now)[1],
                    "counters": serving_counters(self.config, svc.code),
                }
            )
        return out

    def snapshot_message(self, audience: str) -> tuple[str, bytes]:
        """The snapshot as JSON text and as a WebSocket frame, built once per sequence number
        and audience and reused (a resync flood, twenty screens reconnecting after a
        restart) for up to ``SNAPSHOT_MAX_AGE``. Anything published (an event, a printer's
        state, a config reload) makes it stale."""
        now = self.clock()
        key = (self.seq, self.hub.published, self._config_epoch)
        cached = self._snapshots.get(audience)
        if cached is not None and cached[0] == key and dt.timedelta(0) <= now - cached[1] < SNAPSHOT_MAX_AGE:
            return cached[2], cached[3]
        text = json.dumps(self.snapshot(audience), ensure_ascii=False)
        frame = text_frame(text)
        self._snapshots[audience] = (key, now, text, frame)
        return text, frame

    def snapshot(self, audience: str = "public") -> dict[str, Any]:
        """Everything a screen needs, with the sequence number of the last event it includes."""
        engine = self.engine
        now = self.clock()
        staff = audience == "staff"
        today = self.tickets_today()
        served_at = self._served_today()
        counters = []
        for c in self.config.counters:
            status = engine.counters[c.number]
            held = engine.tickets.get(status.ticket_id) if status.ticket_id else None
            served = served_at.get(c.number, [])
            entry: dict[str, Any] = {
                "number": c.number,
                "name": c.name,
                "name_en": c.name_en,
                "services": c.services,
                "state": status.state.value,
                "pause_reason": status.pause_reason,
                "since": status.since.isoformat() if status.since else None,
                "ticket": held.to_dict() if held else None,
                **_served_figures(served),
            }
            last = _last_finished(served)
            # For the rating tablet after a reload: the ticket it may still ask about.
            entry["last_done"] = (
                {
                    "id": last.id,
                    "label": last.label,
                    "rated": last.rating is not None,
                    "finished_at": last.finished_at.isoformat(),
                }
                if last and last.finished_at
                else None
            )
            if staff:
                entry["staff"] = status.staff
            else:
                entry["ticket"] = public_ticket(entry["ticket"])
            counters.append(entry)
        calls = sorted((t for t in today if t.called_at), key=lambda t: t.called_at, reverse=True)  # type: ignore
        office = self.config.office
        snap: dict[str, Any] = {
            "v": PROTOCOL_VERSION,
            "type": "snapshot",
            "seq": self.seq,
            "now": now.isoformat(),
            "office": {
                "name": office.name,
                "name_en": office.name_en,
                "ticker": office.ticker,
                "ticker_en": office.ticker_en,
                "timezone": office.timezone,
                "day": engine.day,
                "open_now": engine.is_open_hours(now),
                "priority_enabled": self.config.queue.priority_enabled,
                "rating_levels": self.config.rating.levels,
                "rating_timeout_s": self.config.rating.timeout_seconds,
                "max_recalls": self.config.queue.max_recalls,
                "voice": self.config.display.voice,
                "chime": self.config.display.chime,
                "dialect": self.config.display.dialect,
                "speech_voice": self.config.display.speech_voice,
                "keypad": {"keys": self.config.keypad.keys, "digits_call": self.config.keypad.digits_call},
                "kiosk_printers": {k.id: k.printer or None for k in self.config.kiosks},
            },
            "services": self.services_summary(now),
            "counters": counters,
            "latest_calls": [
                {
                    "label": t.label,
                    "service": t.service,
                    "counter": t.counter,
                    "at": t.called_at.isoformat(),  # type: ignore
                    "state": t.state.value,
                    "booked": t.booked,
                }
                for t in calls[: self.config.display.latest_calls]
            ],
        }
        for key, part in self.snapshot_extras.items():
            snap[key] = part(audience)
        if staff:
            snap["waiting"] = [
                public_ticket(t.to_dict()) for t in sorted(engine.waiting(), key=lambda t: (t.queued_at, t.id))
            ]
            snap["no_shows"] = [public_ticket(t.to_dict()) for t in today if t.state is TicketState.NO_SHOW]
        return snap

    def latest_done(self, counter: int) -> Ticket | None:
        """The ticket counter ``counter`` finished last today (what its rating tablet shows)."""
        return self.engine.latest_done(counter)

    def ticket_status(self, token: str, stored: Ticket | None = None) -> dict[str, Any] | None:
        """Public status of one ticket, by its status token: a ticket in memory, or ``stored``
        (an earlier day's, read with ``await office.read(queue_server.store.ticket_by_token, token)``)."""
        held = self.engine.tickets.get(self._tokens.get(token, 0))
        if held is not None and held.token == token:
            t = held
        elif stored is not None and stored.token == token:
            t = stored
        else:
            return None
        ahead, wait = self.engine.position(t, self.clock()) if t.id in self.engine.tickets else (0, 0)
        svc = self.config.service(t.service) if t.service in self.engine.services else None
        d = public_ticket(t.to_dict()) or {}
        d.update(
            {
                "people_ahead": ahead,
                "estimated_wait_s": wait,
                "service_name": svc.name if svc else t.service,
                "service_name_en": svc.name_en if svc else t.service,
                "office_name": self.config.office.name,
                "office_name_en": self.config.office.name_en,
            }
        )
        return d
