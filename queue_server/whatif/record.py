"""What happened on recorded office days, read from the event log into plain values.

The event log (``events``) holds every change the engine made, with the ticket's service at
that moment, so a day can be rebuilt exactly: when each citizen arrived and for what (with
priority, or checking in for an appointment: ``tickets``), every
stay at a counter (a *visit*: call → done, no-show or transfer), and when each counter opened,
paused, resumed and closed.

A visit's ``busy_s`` is how long it kept its clerk: from the call until the clerk was free to
call again. That is the call → finish time plus the clerk's turnaround before the next call at
the same counter when it came soon after (at most ``TURNAROUND_CAP_S``): the paperwork between
two citizens is part of the work, a long idle spell is not.
"""

from __future__ import annotations

import datetime as dt
import json
import sqlite3
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

# Longest gap between a visit's end and the counter's next call still counted as the
# clerk's turnaround (filing, a word with a colleague); longer gaps are idle time.
TURNAROUND_CAP_S = 120.0

_COUNTER_KINDS = {
    "counter_opened": "open",
    "counter_closed": "close",
    "counter_paused": "pause",
    "counter_resumed": "resume",
}


@dataclass(frozen=True)
class Visit:
    """One stay at a counter, from the call until the clerk was free again."""

    service: str
    counter: int | None
    busy_s: float
    outcome: str  # "done", "no_show", "transferred" or "unfinished"
    to_service: str | None = None
    to_counter: int | None = None
    requeued_at: dt.datetime | None = None  # a no-show who came back, and when


@dataclass(frozen=True)
class Arrival:
    ticket_id: int
    at: dt.datetime
    service: str  # the issuing service
    priority: bool
    visits: tuple[Visit, ...]
    cancelled_at: dt.datetime | None = None
    # (start, end) of every spell in the queue; end None when it was still waiting at the
    # day's end, the cancellation time when it was cancelled.
    waits: tuple[tuple[dt.datetime, dt.datetime | None], ...] = ()
    # A citizen who checked in for an appointment: its slot's start (the engine gives a due
    # appointment its precedence over walk-ins); None for a walk-in.
    slot_start: dt.datetime | None = None

    @property
    def first_wait_s(self) -> float | None:
        if not self.waits or self.waits[0][1] is None:
            return None
        if self.cancelled_at is not None and self.waits[0][1] == self.cancelled_at and not self.visits:
            return None  # it left the queue by cancellation, not by a call
        return (self.waits[0][1] - self.waits[0][0]).total_seconds()


@dataclass(frozen=True)
class CounterChange:
    at: dt.datetime
    counter: int
    kind: str  # "open", "close", "pause", "resume"


@dataclass(frozen=True)
class RecordedDay:
    day: str
    arrivals: tuple[Arrival, ...]
    counter_changes: tuple[CounterChange, ...]
    # Counters already open (or paused) when the day's first event happened.
    open_at_start: dict[int, str] = field(default_factory=dict)
    start: dt.datetime | None = None
    end: dt.datetime | None = None

    def durations(self) -> dict[str, list[float]]:
        """Every visit's busy time: the pool variant plans sample from, keyed by service and
        outcome (``"CT|done"``: a served citizen's visit is not as short as an absent one's)
        and by service alone (``"CT"``) as the fallback."""
        out: dict[str, list[float]] = defaultdict(list)
        for a in self.arrivals:
            for v in a.visits:
                if v.outcome != "unfinished":
                    out[v.service].append(v.busy_s)
                    out[pool_key(v.service, v.outcome)].append(v.busy_s)
        return dict(out)


def pool_key(service: str, outcome: str) -> str:
    return f"{service}|{outcome}"


class _Building:
    """A ticket's visits as they are read, before they are frozen."""

    def __init__(
        self, ticket_id: int, at: dt.datetime, service: str, priority: bool, slot_start: dt.datetime | None = None
    ):
        self.ticket_id, self.at, self.service, self.priority = ticket_id, at, service, priority
        self.slot_start = slot_start
        self.visits: list[dict[str, Any]] = []
        self.cancelled_at: dt.datetime | None = None
        self.waits: list[list[dt.datetime | None]] = [[at, None]]

    def freeze(self) -> Arrival:
        visits = tuple(
            Visit(
                service=str(v["service"]),
                counter=v["counter"],
                busy_s=float(v["busy_s"]),
                outcome=str(v["outcome"]),
                to_service=v.get("to_service"),
                to_counter=v.get("to_counter"),
                requeued_at=v.get("requeued_at"),
            )
            for v in self.visits
        )
        return Arrival(
            self.ticket_id,
            self.at,
            self.service,
            self.priority,
            visits,
            self.cancelled_at,
            tuple((a, b) for a, b in self.waits if a is not None),
            self.slot_start,
        )


def recorded_days(conn: sqlite3.Connection, date_from: dt.date, date_to: dt.date) -> list[RecordedDay]:
    """The office days in ``[date_from, date_to]`` that have tickets, oldest first."""
    days = [
        r[0]
        for r in conn.execute(
            "SELECT DISTINCT day FROM events WHERE day BETWEEN ? AND ? AND kind = 'ticket_issued' ORDER BY day",
            (date_from.isoformat(), date_to.isoformat()),
        )
    ]
    return [read_day(conn, d) for d in days]


def _counters_open_before(conn: sqlite3.Connection, day: str) -> dict[int, str]:
    state: dict[int, str] = {}
    rows = conn.execute(
        "SELECT counter, kind FROM events WHERE seq IN (SELECT max(seq) FROM events WHERE day < ? AND kind IN "
        "('counter_opened', 'counter_closed', 'counter_paused', 'counter_resumed') GROUP BY counter)",
        (day,),
    )
    for counter, kind in rows:
        k = _COUNTER_KINDS[kind]
        if k != "close":
            state[int(counter)] = "pause" if k == "pause" else "open"
    return state


def read_day(conn: sqlite3.Connection, day: str) -> RecordedDay:
    priority: dict[int, bool] = {}
    slots: dict[int, dt.datetime] = {}
    for tid, prio, booked, slot in conn.execute(
        "SELECT id, priority, booked, slot_start FROM tickets WHERE day = ?", (day,)
    ):
        priority[tid] = bool(prio)
        if booked and slot:
            slots[tid] = dt.datetime.fromisoformat(slot)
    tickets: dict[int, _Building] = {}
    open_visit: dict[int, dict[str, object]] = {}  # ticket id -> its visit in progress
    last_end: dict[int, tuple[dt.datetime, dict[str, object]]] = {}  # counter -> (end, visit)
    changes: list[CounterChange] = []
    first: dt.datetime | None = None
    last: dt.datetime | None = None
    rows = conn.execute(
        "SELECT at, kind, ticket_id, service, counter, details FROM events WHERE day = ? ORDER BY seq", (day,)
    )
    for at_text, kind, tid, service, counter, details_text in rows:
        at = dt.datetime.fromisoformat(at_text)
        first = first or at
        last = at
        details = json.loads(details_text) if details_text else {}
        if kind in _COUNTER_KINDS:
            changes.append(CounterChange(at, int(counter), _COUNTER_KINDS[kind]))
            continue
        if kind == "ticket_issued":
            tickets[tid] = _Building(tid, at, service, priority.get(tid, False), slots.get(tid))
            continue
        b = tickets.get(tid)
        if b is None:  # a ticket of an earlier day still held by a counter
            continue
        if kind == "ticket_called":
            if b.waits and b.waits[-1][1] is None:
                b.waits[-1][1] = at
            prev = last_end.pop(counter, None)
            if prev is not None:
                gap = (at - prev[0]).total_seconds()
                if 0 <= gap <= TURNAROUND_CAP_S:
                    prev[1]["busy_s"] = float(prev[1]["busy_s"]) + gap  # type: ignore[arg-type]
            visit: dict[str, object] = {
                "service": service,
                "counter": counter,
                "called": at,
                "busy_s": 0.0,
                "outcome": "unfinished",
            }
            b.visits.append(visit)
            open_visit[tid] = visit
        elif kind in ("ticket_done", "ticket_no_show", "ticket_transferred"):
            ending = open_visit.pop(tid, None)
            if ending is None:
                continue
            visit = ending
            visit["busy_s"] = (at - visit["called"]).total_seconds()  # type: ignore[operator]
            visit["outcome"] = {
                "ticket_done": "done",
                "ticket_no_show": "no_show",
                "ticket_transferred": "transferred",
            }[kind]
            if kind == "ticket_transferred":
                visit["to_service"] = details.get("to_service")
                visit["to_counter"] = details.get("to_counter")
                b.waits.append([at, None])
            if visit["counter"] is not None:
                last_end[int(visit["counter"])] = (at, visit)  # type: ignore[call-overload]
        elif kind == "ticket_requeued":
            if b.visits and b.visits[-1]["outcome"] == "no_show":
                b.visits[-1]["requeued_at"] = at
            b.waits.append([at, None])
        elif kind == "ticket_cancelled":
            b.cancelled_at = at
            if b.waits and b.waits[-1][1] is None:
                b.waits[-1][1] = at
    arrivals = tuple(b.freeze() for b in sorted(tickets.values(), key=lambda b: (b.at, b.ticket_id)))
    return RecordedDay(day, arrivals, tuple(changes), _counters_open_before(conn, day), first, last)
