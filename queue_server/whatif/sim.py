"""The replay: a recorded day run again through the real ``Engine`` under a plan.

Pure like the engine (no I/O, no wall clock): time is a virtual clock that jumps from one
happening to the next. Simulated clerks press Next whenever their counter is open and free;
each visit keeps its clerk busy for its recorded duration when it happens at the same counter
and for the same service as on the recorded day, otherwise for a duration drawn (with the
run's seed) from that service's recorded durations. Arrivals, transfers, no-shows, requeues
and cancellations happen as recorded; counters open, pause and close as recorded unless the
plan gives their hours.

Every queue decision (who is called next, priority, levels, transfers) is the engine's own:
the replay only says *when* a clerk presses a button.

(Over 400 lines: one event loop of the replay, whose parts share its virtual clock and state.)
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import heapq
import random
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from ..config import Config, Counter
from ..engine import CounterState, Engine, Event, Ticket, TicketState
from ..errors import MotcuaError
from .plan import Plan
from .record import Arrival, RecordedDay, Visit, pool_key

# Order of happenings at the same instant: counters change first, then clerks finish, then
# citizens arrive; clerks who are free press Next after all of them.
_CHANGE, _RELEASE, _ARRIVE, _REQUEUE, _CANCEL = range(5)


@dataclass
class Trace:
    """What one replay (or the recorded day itself) produced; ``measure`` turns it into figures."""

    day: str
    start: dt.datetime
    first_waits: list[tuple[str, float]] = field(default_factory=list)  # (issuing service, seconds)
    # (issuing service, seconds waited until the end) of those never called that day
    never_called: list[tuple[str, float]] = field(default_factory=list)
    queue_steps: list[tuple[float, int]] = field(default_factory=list)  # (seconds from start, +1/-1)
    busy_s: dict[int, float] = field(default_factory=dict)
    open_s: dict[int, float] = field(default_factory=dict)
    calls: list[tuple[float, int, str]] = field(default_factory=list)  # (seconds, counter, label)
    end_s: float = 0.0


class ReplayEngine(Engine):
    """The server's engine, every rule of calling as it is, without working out each new
    ticket's position: a replay has nobody to tell, and a position never changes who is
    called (``tests/test_whatif_live.py`` checks the calls against a live server)."""

    def __init__(self, config: Config, now: dt.datetime) -> None:
        super().__init__(config, now)
        # Ids of tickets that became waiting (fed by the replay from the engine's events);
        # the ones no longer waiting are dropped as they are met. A day's replay asks for the
        # waiting tickets thousands of times, and the day holds hundreds of finished ones.
        self.maybe_waiting: set[int] = set()

    def position(self, ticket: Ticket, now: dt.datetime | None = None) -> tuple[int, int]:
        return 0, 0

    def waiting(self) -> list[Ticket]:
        out: list[Ticket] = []
        gone: list[int] = []
        for i in self.maybe_waiting:
            t = self.tickets[i]
            if t.state is TicketState.WAITING:
                out.append(t)
            else:
                gone.append(i)
        self.maybe_waiting.difference_update(gone)
        return out


def plan_config(config: Config, plan: Plan) -> Config:
    """The office config the engine runs under the plan: its counters and priority rule; no
    opening-hours check, closed days or caps (the recorded arrivals were all accepted, even on
    a day config.toml lists as closed since)."""
    known = {c.number: c for c in config.counters}
    counters = []
    for cp in sorted(plan.counters, key=lambda c: c.number):
        base = known.get(cp.number)
        name = base.name if base else f"Quầy {cp.number}"
        counters.append(
            Counter(
                number=cp.number,
                name=name,
                services=dict(cp.services),
                name_en=base.name_en if base else f"Counter {cp.number}",
            )
        )
    return dataclasses.replace(
        config,
        counters=counters,
        queue=dataclasses.replace(config.queue, priority_rule=plan.priority_rule, interleave=plan.interleave),
        office=dataclasses.replace(config.office, enforce_hours=False, closed_days=[]),
        services=[dataclasses.replace(s, daily_cap=0) for s in config.services],
    )


def _timeline(day: RecordedDay, config: Config, plan: Plan) -> list[tuple[dt.datetime, int, str]]:
    """(time, counter, "open"/"close"/"pause"/"resume") for every counter of the plan."""
    out: list[tuple[dt.datetime, int, str]] = []
    local_day = dt.date.fromisoformat(day.day)
    tz = config.office.tz
    start = day.start or dt.datetime.combine(local_day, dt.time(0), tz)
    for cp in plan.counters:
        if cp.closed:
            continue
        own: list[tuple[dt.datetime, int, str]] = []
        if cp.hours is not None:
            for a, b in cp.hours:
                own.append((dt.datetime.combine(local_day, a, tz), cp.number, "open"))
                own.append((dt.datetime.combine(local_day, b, tz), cp.number, "close"))
        else:
            initial = day.open_at_start.get(cp.number)
            if initial is not None:
                own.append((start, cp.number, "open"))
                if initial == "pause":
                    own.append((start, cp.number, "pause"))
            own.extend((ch.at, ch.counter, ch.kind) for ch in day.counter_changes if ch.counter == cp.number)
        shift = dt.timedelta(minutes=cp.shift_minutes)
        out.extend((at + shift, n, kind) for at, n, kind in own)
    out.sort(key=lambda x: (x[0], x[1]))
    return out


class Replay:
    """One replay of one day under one plan with one seed. Call ``run()`` once."""

    def __init__(
        self,
        day: RecordedDay,
        config: Config,
        plan: Plan,
        *,
        seed: int = 0,
        pool: dict[str, list[float]] | None = None,
        log: Callable[..., None] | None = None,
    ):
        self.day, self.plan, self.log = day, plan, log
        self.config = plan_config(config, plan)
        self.rng = random.Random(f"{day.day}:{seed}")
        self.pool = pool if pool is not None else day.durations()
        self.start = day.start or dt.datetime.combine(dt.date.fromisoformat(day.day), dt.time(0), config.office.tz)
        self.engine = ReplayEngine(self.config, self.start)
        self.trace = Trace(day.day, self.start)
        self.heap: list[tuple[dt.datetime, int, int, Any]] = []
        self._n = 0
        self.arrival_of: dict[int, Arrival] = {}  # engine ticket id -> recorded arrival
        self.visit_no: dict[int, int] = {}  # engine ticket id -> index of its next visit
        self.current: dict[int, Visit | None] = {}  # counter -> the visit it holds
        self.call_at: dict[int, dt.datetime] = {}
        self.releasing: set[int] = set()  # counters with a release scheduled
        self.pending: dict[int, list[str]] = {}  # counter -> close/pause waiting for its ticket
        self.wanted: list[int] = []  # counters waiting for a free clerk (plan.clerks)
        self.open_since: dict[int, dt.datetime] = {}
        self.in_plan = {c.number for c in plan.counters if not c.closed}
        self.waiting = 0  # tickets waiting now, followed from the engine's events
        # Who waits for what, from the same events: (service, counter sent to) per ticket id,
        # so a counter with nobody it could call does not press Next for nothing.
        self.queue: dict[int, tuple[str, int | None]] = {}
        self.levels = {c.number: set(c.services) for c in self.config.counters}

    # ------------------------------------------------------------------ scheduling

    def _push(self, at: dt.datetime, order: int, payload: Any) -> None:
        self._n += 1
        heapq.heappush(self.heap, (at, order, self._n, payload))

    def _seconds(self, at: dt.datetime) -> float:
        return (at - self.start).total_seconds()

    def _do(self, now: dt.datetime, name: str, *args: Any, **kw: Any) -> list[Event]:
        if self.log is not None:
            self.log(now, name, *args, **kw)
        events: list[Event] = getattr(self.engine, name)(now, *args, **kw)
        self._account(now, events)
        return events

    def _account(self, now: dt.datetime, events: list[Event]) -> None:
        s = self._seconds(now)
        for e in events:
            k = e.kind
            if k in ("ticket_issued", "ticket_transferred", "ticket_requeued") and e.ticket is not None:
                self.trace.queue_steps.append((s, 1))
                self.waiting += 1
                self.queue[e.ticket["id"]] = (e.ticket["service"], e.ticket.get("target_counter"))
                self.engine.maybe_waiting.add(e.ticket["id"])
            elif k == "ticket_cancelled" and e.ticket is not None:
                self.trace.queue_steps.append((s, -1))
                self.waiting -= 1
                self.queue.pop(e.ticket["id"], None)
            elif k == "ticket_called" and e.ticket is not None and e.counter is not None:
                self.trace.queue_steps.append((s, -1))
                self.waiting -= 1
                tid = e.ticket["id"]
                self.queue.pop(tid, None)
                self.trace.calls.append((s, e.counter["number"], e.ticket["label"]))
                arrival = self.arrival_of.get(tid)
                if arrival is not None and self.visit_no.get(tid, 0) == 0:
                    self.trace.first_waits.append((arrival.service, (now - arrival.at).total_seconds()))
            elif k in ("counter_opened", "counter_resumed") and e.counter is not None:
                self.open_since[e.counter["number"]] = now
            elif k in ("counter_closed", "counter_paused") and e.counter is not None:
                n = e.counter["number"]
                since = self.open_since.pop(n, None)
                if since is not None:
                    self.trace.open_s[n] = self.trace.open_s.get(n, 0.0) + (now - since).total_seconds()

    # ------------------------------------------------------------------ the day

    def run(self) -> Trace:
        for a in self.day.arrivals:
            self._push(a.at, _ARRIVE, a)
        for at, number, kind in _timeline(self.day, self.config, self.plan):
            self._push(at, _CHANGE, (number, kind))
        # The replay ends where the recorded day ended (or at the plan's last closing time):
        # whoever is still waiting then was not called that day, as on the recorded day.
        closes = [at for at, _, kind in _timeline(self.day, self.config, self.plan) if kind == "close"]
        end = max([self.day.end or self.start, *closes])
        last = self.start
        while self.heap and self.heap[0][0] <= end:
            now = self.heap[0][0]
            while self.heap and self.heap[0][0] == now:
                _, order, _, payload = heapq.heappop(self.heap)
                self._handle(now, order, payload)
            self._dispatch(now)
            last = now
        for number, called in self.call_at.items():  # still with a citizen at the end
            self.trace.busy_s[number] = self.trace.busy_s.get(number, 0.0) + (end - called).total_seconds()
        stop = end
        end = max(last, end)
        for n, since in list(self.open_since.items()):
            self.trace.open_s[n] = self.trace.open_s.get(n, 0.0) + (end - since).total_seconds()
        for t in self.engine.waiting():
            left = self.arrival_of.get(t.id)
            if left is not None and self.visit_no.get(t.id, 0) == 0:
                self.trace.never_called.append((left.service, (stop - left.at).total_seconds()))
        self.trace.end_s = self._seconds(end)
        return self.trace

    def _handle(self, now: dt.datetime, order: int, payload: Any) -> None:
        if order == _ARRIVE:
            a = payload
            ticket, events = self._arrive(now, a)
            self.arrival_of[ticket.id] = a
            self._account(now, events)
            if a.cancelled_at is not None:
                self._push(max(a.cancelled_at, now), _CANCEL, ticket.id)
        elif order == _CHANGE:
            number, kind = payload
            self._change(now, number, kind)
        elif order == _RELEASE:
            self._release(now, payload)
        elif order == _REQUEUE:
            if self.engine.tickets[payload].state is TicketState.NO_SHOW:
                self._do(now, "requeue", payload, None)
        elif order == _CANCEL:
            if self.engine.tickets[payload].state is TicketState.WAITING:
                self._do(now, "cancel", payload, None)

    def _arrive(self, now: dt.datetime, a: Arrival) -> tuple[Ticket, list[Event]]:
        """The citizen takes a ticket, or checks in for their appointment as they did (the
        engine then gives the due appointment its precedence, as on the day)."""
        if a.slot_start is not None:
            try:
                ticket, events = self.engine.check_in(
                    now,
                    service=a.service,
                    code=f"sim-{a.ticket_id}",
                    slot_start=a.slot_start,
                    token=f"sim-{a.ticket_id}",
                )
            except MotcuaError:  # the window was changed in config.toml since: a walk-in
                pass
            else:
                if self.log is not None:
                    self.log(now, "check_in", service=a.service, slot_start=a.slot_start, recorded=a.ticket_id)
                return ticket, events
        ticket, events = self.engine.issue(
            now,
            service=a.service,
            token=f"sim-{a.ticket_id}",
            priority=a.priority and self.config.queue.priority_enabled,
        )
        if self.log is not None:
            self.log(now, "issue", service=a.service, priority=ticket.priority, recorded=a.ticket_id)
        return ticket, events

    # ------------------------------------------------------------------ counters

    def _staff(self, number: int) -> str:
        return f"sim{number}"

    def _open_count(self) -> int:
        return sum(1 for c in self.engine.counters.values() if c.state is not CounterState.CLOSED)

    def _change(self, now: dt.datetime, number: int, kind: str) -> None:
        if number not in self.in_plan:
            return
        c = self.engine.counters[number]
        if kind == "open":
            if c.state is not CounterState.CLOSED:
                return
            if self.plan.clerks is not None and self._open_count() >= self.plan.clerks:
                if number not in self.wanted:
                    self.wanted.append(number)
                return
            self._do(now, "sign_on", number, self._staff(number))
        elif kind == "close":
            if number in self.wanted:
                self.wanted.remove(number)
            if c.state is CounterState.CLOSED:
                return
            if c.ticket_id is not None:
                self.pending.setdefault(number, []).append("close")
                return
            self._do(now, "sign_off", number, self._staff(number))
            self._wake_wanted(now)
        elif kind == "pause":
            if c.state is not CounterState.OPEN:
                return
            if c.ticket_id is not None:
                self.pending.setdefault(number, []).append("pause")
                return
            self._do(now, "pause", number, self._staff(number), "mô phỏng")
        elif kind == "resume":
            if "pause" in self.pending.get(number, []):
                self.pending[number].remove("pause")
            elif c.state is CounterState.PAUSED:
                self._do(now, "resume", number, self._staff(number))

    def _dispatch(self, now: dt.datetime) -> None:
        """Every open, free counter presses Next (lowest number first). A counter with nobody
        it may serve is skipped: pressing Next there would change nothing."""
        if self.waiting <= 0:
            return
        for number in sorted(self.engine.counters):
            c = self.engine.counters[number]
            if c.state is CounterState.OPEN and c.ticket_id is None and number not in self.releasing:
                served = self.levels.get(number, set())
                if any(target == number or (target is None and code in served) for code, target in self.queue.values()):
                    self._next(now, number)
                if self.waiting <= 0:
                    return

    def _next(self, now: dt.datetime, number: int) -> None:
        events = self._do(now, "call_next", number, self._staff(number))
        called = next((e for e in events if e.kind == "ticket_called"), None)
        if called is None or called.ticket is None:
            return
        tid = called.ticket["id"]
        visit = self._visit(tid, number, called.ticket["service"])
        self.current[number] = visit
        if visit is not None and visit.outcome in ("done", "transferred", "unfinished"):
            self._do(now, "start", number, self._staff(number))
        duration = self._duration(visit, number, called.ticket["service"])
        self.call_at[number] = now
        self.releasing.add(number)
        self._push(now + dt.timedelta(seconds=duration), _RELEASE, number)

    def _visit(self, tid: int, number: int, service: str) -> Visit | None:
        a = self.arrival_of.get(tid)
        i = self.visit_no.get(tid, 0)
        self.visit_no[tid] = i + 1
        if a is None or i >= len(a.visits):
            return None
        return a.visits[i]

    def _duration(self, visit: Visit | None, number: int, service: str) -> float:
        if visit is not None and visit.outcome != "unfinished" and visit.counter == number and visit.service == service:
            return visit.busy_s
        outcome = visit.outcome if visit is not None and visit.outcome != "unfinished" else "done"
        pool = self.pool.get(pool_key(service, outcome)) or self.pool.get(service)
        if pool:
            return self.rng.choice(pool)
        return self.config.service(service).service_minutes * 60

    def _release(self, now: dt.datetime, number: int) -> None:
        self.releasing.discard(number)
        visit = self.current.pop(number, None)
        c = self.engine.counters[number]
        busy = (now - self.call_at.pop(number)).total_seconds()
        self.trace.busy_s[number] = self.trace.busy_s.get(number, 0.0) + busy
        if c.ticket_id is None:
            return
        tid = c.ticket_id
        staff = self._staff(number)
        outcome = visit.outcome if visit is not None else "done"
        if outcome == "no_show":
            self._do(now, "no_show", number, staff)
            if visit is not None and visit.requeued_at is not None:
                self._push(max(visit.requeued_at, now), _REQUEUE, tid)
        elif outcome == "transferred" and visit is not None:
            to_counter = visit.to_counter if visit.to_counter in self.in_plan and visit.to_counter != number else None
            # A ticket sent to a counter this plan does not open waits for its service instead.
            to_service = visit.to_service or self.engine.tickets[tid].service
            self._do(now, "transfer", number, staff, service=to_service, to_counter=to_counter)
        else:
            self._do(now, "finish", number, staff)
        for kind in self.pending.pop(number, []):
            if kind == "close":
                self._do(now, "sign_off", number, staff)
                self._wake_wanted(now)
                return
            if kind == "pause":
                self._do(now, "pause", number, staff, "mô phỏng")
                return

    def _wake_wanted(self, now: dt.datetime) -> None:
        while self.wanted and (self.plan.clerks is None or self._open_count() < self.plan.clerks):
            number = self.wanted.pop(0)
            self._do(now, "sign_on", number, self._staff(number))


def replay(
    day: RecordedDay,
    config: Config,
    plan: Plan,
    *,
    seed: int = 0,
    pool: dict[str, list[float]] | None = None,
    log: Callable[..., None] | None = None,
) -> Trace:
    """Replay ``day`` under ``plan``; see the module docstring."""
    try:
        return Replay(day, config, plan, seed=seed, pool=pool, log=log).run()
    except MotcuaError as e:  # a rule refused a step: a bug in the replay, never the user's
        raise RuntimeError(f"replay of {day.day} under {plan.name!r} failed: {e.message_en}") from e
