"""The queue engine: tickets, counters, routing and the office day — without any I/O.
(Over 400 lines: every queue rule lives here, under one lock, by design — see the rules above.)

Like the sans-I/O core of ``websockets``, this module never touches a socket, a file, a
database or an event loop, and never reads the clock: every command takes ``now`` (an aware
``datetime``) and returns the ``Event`` list describing what changed. The caller must persist
those events (see ``queue_server.store``) before telling any client about them, and must
serialise commands: the engine is not thread-safe and expects one command at a time.

A command that is not allowed raises a ``MotcuaError`` subclass *before* changing anything, so
a failed command leaves the engine exactly as it was.

Ticket states::

    waiting ──call──▶ called ──start──▶ serving ──done──▶ done
       │  ▲             │ │                │
       │  └─requeue── no_show              └──transfer──▶ waiting (front of its new queue)
       │                 ▲ └─transfer──▶ waiting
    cancel              no-show
       ▼
    cancelled          waiting/called ──day rollover──▶ expired

Next on a ticket that was called and never started closes it "without start"
(``closed_unstarted``): done (service time from the call) or no-show, as the office's
``queue.closed_without_start`` says. Numbering belongs to the service that issued a ticket
(``issued_service``) and to its office day; transfers never touch it.

Counter commands take the acting account (``staff``) and refuse anyone but the counter's
holder unless ``override`` (an administrator) is set.
"""

from __future__ import annotations

import bisect
import dataclasses
import datetime as dt
import itertools
import typing
from dataclasses import dataclass, field
from enum import Enum, StrEnum
from typing import Any, Literal

from .config import Config
from .errors import BadRequest, Conflict, Forbidden, InvalidTransition, NotFound
from .order import LEVEL_RANK as LEVEL_RANK
from .order import Counts, Picker, Rules, after_call, positions_ahead


class Unsaid(Enum):
    """Arguments a caller may leave unsaid, where ``None`` already means something: ``ANY``
    (``expected``: the clerk's screen did not say which ticket it shows; ``None`` = none) and
    ``KEEP`` (``cap``: leave today's cap as it is; ``None`` = no cap)."""

    ANY = "any"
    KEEP = "keep"


# The ticket id a clerk's screen shows as current, None for none, or Unsaid.ANY.
Expected = int | None | Literal[Unsaid.ANY]


class TicketState(StrEnum):
    WAITING = "waiting"
    CALLED = "called"
    SERVING = "serving"
    DONE = "done"
    NO_SHOW = "no_show"
    CANCELLED = "cancelled"
    EXPIRED = "expired"


class CounterState(StrEnum):
    CLOSED = "closed"
    OPEN = "open"
    PAUSED = "paused"


TERMINAL = frozenset({TicketState.DONE, TicketState.CANCELLED, TicketState.EXPIRED})
# Recent service durations kept per service for the moving average.
AVERAGE_WINDOW = 10

# Changes to the ticket fields Next's order reads, made after a ticket was created: with the
# waiting tickets' identities, the key under which ``order.positions_ahead`` reuses a replay.
_ORDER_FIELDS = frozenset(
    ("state", "service", "queued_at", "front", "priority", "target_counter", "booked", "slot_start")
)
_order_changes = [0]
_engines = itertools.count()

# A ticket's fields are declared once, here. Every field is a column of the ``tickets`` table
# (``store.TICKET_COLUMNS``) and a key of the staff view (``Ticket.to_dict``); the metadata
# narrows who else sees it: ``STAFF_ONLY`` fields are left out of the public view (hall
# screens, the status page, the kiosk's answer: ``PUBLIC_TICKET_FIELDS``), ``STAYS_HOME`` ones
# out of the sync bundle that leaves the office (``SYNCED_TICKET_FIELDS``).
STAFF_ONLY = {"public": False}
STAYS_HOME = {"synced": False}
PRIVATE = {"public": False, "synced": False}


@dataclass
class Ticket:
    id: int
    day: str
    service: str
    number: int
    label: str
    priority: bool
    token: str = field(metadata=PRIVATE)
    state: TicketState
    issued_at: dt.datetime
    queued_at: dt.datetime
    front: bool = False
    target_counter: int | None = None
    counter: int | None = None
    staff: str | None = field(default=None, metadata=STAFF_ONLY)
    called_at: dt.datetime | None = None
    started_at: dt.datetime | None = None
    finished_at: dt.datetime | None = None
    recalls: int = 0
    transfers: int = 0
    kiosk: str | None = field(default=None, metadata=PRIVATE)
    request_id: str | None = field(default=None, metadata=PRIVATE)
    people_ahead: int = field(default=0, metadata=STAYS_HOME)
    estimated_wait_s: int = 0
    rating: int | None = field(default=None, metadata=STAFF_ONLY)
    rated_at: dt.datetime | None = field(default=None, metadata=STAFF_ONLY)
    # The service that gave the number: numbering belongs to it and to the day, forever
    # (a transfer changes ``service``, never this).
    issued_service: str = field(default="", metadata=STAYS_HOME)
    # Closed by Next while called and never started (see ``queue.closed_without_start``);
    # synced: the central counts it as the office does.
    closed_unstarted: bool = False
    booked: bool = field(default=False, metadata=STAYS_HOME)  # checked in for an appointment
    appointment: str | None = field(default=None, metadata=PRIVATE)  # the booking code
    slot_start: dt.datetime | None = field(default=None, metadata=STAYS_HOME)  # the appointment's slot

    def __post_init__(self) -> None:
        if not self.issued_service:
            self.issued_service = self.service

    def __setattr__(self, name: str, value: Any) -> None:
        if name in _ORDER_FIELDS and name in self.__dict__:
            _order_changes[0] += 1
        object.__setattr__(self, name, value)

    def to_dict(self) -> dict[str, Any]:
        # Not dataclasses.asdict: it deep-copies and is ~5x slower, and every event, snapshot
        # and status answer goes through here.
        d = {name: getattr(self, name) for name in TICKET_FIELDS}
        d["state"] = self.state.value
        for k in _TICKET_TIMES:
            if d[k] is not None:
                d[k] = d[k].isoformat()
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Ticket:
        names = {f.name for f in dataclasses.fields(cls)}
        kw = {k: v for k, v in d.items() if k in names}
        kw["state"] = TicketState(kw["state"])
        for k in _TICKET_FLAGS:  # stored as 0/1
            kw[k] = bool(kw.get(k) or False)
        kw["issued_service"] = kw.get("issued_service") or kw["service"]
        for k in _TICKET_TIMES:
            if kw.get(k):
                kw[k] = dt.datetime.fromisoformat(kw[k])
        return cls(**kw)


TICKET_FIELDS = tuple(f.name for f in dataclasses.fields(Ticket))
# Which fields are times (ISO text outside) and flags (0/1 in SQLite), from their types.
_HINTS = typing.get_type_hints(Ticket)
_TICKET_TIMES = tuple(n for n in TICKET_FIELDS if _HINTS[n] in (dt.datetime, dt.datetime | None))
_TICKET_FLAGS = tuple(n for n in TICKET_FIELDS if _HINTS[n] is bool)
PUBLIC_TICKET_FIELDS = tuple(f.name for f in dataclasses.fields(Ticket) if f.metadata.get("public", True))
SYNCED_TICKET_FIELDS = tuple(f.name for f in dataclasses.fields(Ticket) if f.metadata.get("synced", True))
STAFF_ONLY_TICKET_FIELDS = frozenset(TICKET_FIELDS) - set(PUBLIC_TICKET_FIELDS)


@dataclass
class CounterStatus:
    number: int
    state: CounterState = CounterState.CLOSED
    staff: str | None = None
    ticket_id: int | None = None
    pause_reason: str = ""
    since: dt.datetime | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "number": self.number,
            "state": self.state.value,
            "staff": self.staff,
            "ticket_id": self.ticket_id,
            "pause_reason": self.pause_reason,
            "since": self.since.isoformat() if self.since else None,
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> CounterStatus:
        return cls(
            number=d["number"],
            state=CounterState(d["state"]),
            staff=d.get("staff"),
            ticket_id=d.get("ticket_id"),
            pause_reason=d.get("pause_reason") or "",
            since=dt.datetime.fromisoformat(d["since"]) if d.get("since") else None,
        )


@dataclass(frozen=True)
class Event:
    """One change. ``ticket`` and ``counter`` are full snapshots *after* the change."""

    kind: str
    at: dt.datetime
    ticket: dict[str, Any] | None = None
    counter: dict[str, Any] | None = None
    staff: str | None = None
    details: dict[str, Any] = field(default_factory=dict)


@dataclass
class ServiceDay:
    """Per-service settings and figures for the current office day.

    ``issued``, ``last_number`` and ``durations`` are derived from today's tickets (see
    ``Engine._rebuild_figures``), so a restart or a config reload recomputes exactly what the
    running engine had; ``open`` and ``cap`` are today's switches, kept in the engine meta.
    """

    open: bool = True
    cap: int | None = None  # overrides the config's daily_cap for today
    # Highest number this service issued today inside its *current* range (None: none yet).
    last_number: int | None = None
    last_appointment_number: int | None = None  # with its own booking.range
    issued: int = 0  # tickets this service issued today (its numbering, not its queue)
    # (finished_at, ticket id, seconds) of today's finished tickets, in finishing order.
    durations: list[tuple[dt.datetime, int, float]] = field(default_factory=list)


def _err_state(ticket: Ticket, action_vi: str, action_en: str) -> InvalidTransition:
    return InvalidTransition(
        f"Không thể {action_vi} số {ticket.label}: vé đang ở trạng thái {STATE_VI[ticket.state]}.",
        f"Cannot {action_en} ticket {ticket.label}: it is {ticket.state.value}.",
        ticket=ticket.label,
        state=ticket.state.value,
    )


STATE_VI = {
    TicketState.WAITING: "đang chờ",
    TicketState.CALLED: "đã gọi",
    TicketState.SERVING: "đang phục vụ",
    TicketState.DONE: "đã xong",
    TicketState.NO_SHOW: "vắng mặt",
    TicketState.CANCELLED: "đã hủy",
    TicketState.EXPIRED: "hết hạn",
}

# States a ticket of an earlier office day may still be in (a counter serving it across the
# day start, or a transfer of such a ticket): the engine keeps those, and forgets the rest.
ACTIVE = frozenset({TicketState.WAITING, TicketState.CALLED, TicketState.SERVING})
# Outcomes of Next on a called ticket that was never started (``queue.closed_without_start``).
CLOSED_WITHOUT_START = ("served", "absent")


class Engine:
    """The whole office in memory: today's tickets, every counter, the queue rules.

    Everything here is a function of the tickets, the counters, ``meta()`` and the config: a
    new ``Engine`` built from the stored rows equals this one field by field (``state()``),
    which tests/test_restart_equivalence.py checks for random command sequences.
    """

    def __init__(
        self,
        config: Config,
        now: dt.datetime,
        *,
        tickets: list[Ticket] = (),  # type: ignore[assignment]
        counters: list[CounterStatus] = (),  # type: ignore[assignment]
        meta: dict[str, Any] | None = None,
    ):
        self.config = config
        meta = meta or {}
        self.day: str = meta.get("day") or self.office_day(now)
        self.normals_since_priority: int = meta.get("normals_since_priority", 0)
        # Walk-ins called in a row while an appointment was due (appointments.interleave).
        self.walkins_since_appointment: int = meta.get("walkins_since_appointment", 0)
        # The latest time a command or the timer brought: what "now" means for a position
        # asked for without a time (appointment tickets are due from their slot's start).
        self.clock_seen: dt.datetime = now
        self.tickets: dict[int, Ticket] = {t.id: t for t in tickets if self._keeps(t)}
        self.next_id = max(max(self.tickets, default=0) + 1, meta.get("next_id") or 0)
        known = {c.number: c for c in counters}
        self.counters: dict[int, CounterStatus] = {
            c.number: known.get(c.number, CounterStatus(c.number)) for c in config.counters
        }
        # Counters the config no longer has, as last stored: a config that adds one back
        # gets it as the database has it (so a restart cannot tell the difference).
        self.retired: dict[int, CounterStatus] = {n: c for n, c in known.items() if n not in self.counters}
        self.services: dict[str, ServiceDay] = {s.code: ServiceDay() for s in config.services}
        for code, saved in (meta.get("services") or {}).items():
            if code in self.services:
                self.services[code].open = saved.get("open", True)
                self.services[code].cap = saved.get("cap")
        # Every number given today, by any service (a number is never given twice a day).
        self.used_numbers: set[int] = set()
        self.by_request: dict[tuple[str, str], int] = {}
        self._waiting: tuple[Any, list[Ticket], dt.datetime | None] = (None, [], None)
        self._serial = next(_engines)  # with the dict's id: whose tickets a cached list holds
        self._rebuild_figures()

    def _keeps(self, t: Ticket) -> bool:
        return t.day == self.day or t.state in ACTIVE

    def _rebuild_figures(self) -> None:
        """Recompute numbering, counts, averages and the request index from today's tickets."""
        for sd in self.services.values():
            sd.last_number, sd.last_appointment_number, sd.issued, sd.durations = None, None, 0, []
        self.used_numbers = set()
        self.by_request = {}
        self.by_appointment: dict[str, int] = {}
        for t in sorted(self.tickets.values(), key=lambda t: t.id):
            if t.day != self.day:
                continue
            self.used_numbers.add(t.number)
            if t.request_id:
                self.by_request[(t.kiosk or "", t.request_id)] = t.id
            if t.appointment:
                self.by_appointment[t.appointment] = t.id
            issued_in = self.services.get(t.issued_service)
            if issued_in is not None:
                issued_in.issued += 1
                svc = self.config.service(t.issued_service)
                booking = svc.booking.range
                if t.booked and booking and booking[0] <= t.number <= booking[1]:
                    issued_in.last_appointment_number = max(issued_in.last_appointment_number or 0, t.number)
                elif svc.first <= t.number <= svc.last:
                    issued_in.last_number = max(issued_in.last_number or 0, t.number)
            if t.state is TicketState.DONE:
                self._record_duration(t)

    def state(self) -> dict[str, Any]:
        """The whole state as plain data, for comparing two engines field by field."""
        return {
            "day": self.day,
            "next_id": self.next_id,
            "normals_since_priority": self.normals_since_priority,
            "walkins_since_appointment": self.walkins_since_appointment,
            "tickets": {i: t.to_dict() for i, t in sorted(self.tickets.items())},
            "counters": {n: c.to_dict() for n, c in sorted(self.counters.items())},
            "retired_counters": {n: c.to_dict() for n, c in sorted(self.retired.items())},
            "services": {
                code: {
                    "open": sd.open,
                    "cap": sd.cap,
                    "last_number": sd.last_number,
                    "last_appointment_number": sd.last_appointment_number,
                    "issued": sd.issued,
                    "next_number": self._next_number(code),
                    "next_appointment_number": self._next_number(code, booked=True),
                    "durations": [(a.isoformat(), i, d) for a, i, d in sd.durations],
                }
                for code, sd in sorted(self.services.items())
            },
            "used_numbers": sorted(self.used_numbers),
            "by_request": sorted(self.by_request.items()),
            "by_appointment": sorted(self.by_appointment.items()),
            "config_services": [(s.code, s.first, s.last) for s in self.config.services],
        }

    # ---------------------------------------------------------------- the office day

    def office_day(self, now: dt.datetime) -> str:
        """The office day ``now`` belongs to: it starts at ``office.day_starts_at`` local time."""
        local = now.astimezone(self.config.office.tz)
        d = local.date()
        if local.time() < self.config.office.day_start:
            d -= dt.timedelta(days=1)
        return d.isoformat()

    def is_open_hours(self, now: dt.datetime) -> bool:
        local = now.astimezone(self.config.office.tz)
        t = local.time()
        return any(a <= t < b for a, b in self.config.office.hours.sessions(local.weekday()))

    def meta(self) -> dict[str, Any]:
        """What, besides tickets and counters, must survive a restart."""
        return {
            "day": self.day,
            "next_id": self.next_id,
            "normals_since_priority": self.normals_since_priority,
            "walkins_since_appointment": self.walkins_since_appointment,
            "services": {c: {"open": s.open, "cap": s.cap} for c, s in self.services.items()},
        }

    def tick(self, now: dt.datetime) -> list[Event]:
        """Roll over to a new office day if ``now`` is past the day start. Call it on every
        command (the command methods do) and from a timer, so the rollover happens even in a
        silent office."""
        self.clock_seen = max(self.clock_seen, now)
        today = self.office_day(now)
        if today <= self.day:
            return []
        events: list[Event] = []
        for t in sorted(self.tickets.values(), key=lambda t: t.id):
            if t.state in (TicketState.WAITING, TicketState.CALLED):
                t.state = TicketState.EXPIRED
                t.finished_at = now
                events.append(Event("ticket_expired", now, t.to_dict()))
        for c in self.counters.values():
            held = self.tickets.get(c.ticket_id) if c.ticket_id else None
            if held is not None and held.state is TicketState.EXPIRED:
                c.ticket_id = None
                events.append(Event("counter_changed", now, counter=c.to_dict(), details={"reason": "day_rollover"}))
        previous = self.day
        self.day = today
        self.normals_since_priority = 0
        self.walkins_since_appointment = 0
        self.services = {s.code: ServiceDay() for s in self.config.services}
        # Forget finished tickets of earlier days; keep what a counter still serves.
        self.tickets = {i: t for i, t in self.tickets.items() if self._keeps(t)}
        _order_changes[0] += 1
        self._rebuild_figures()
        events.append(Event("day_started", now, details={"day": today, "previous": previous}))
        return events

    def reconfigure(self, config: Config, now: dt.datetime | None = None) -> list[Event]:
        """Adopt an edited config (live reload); returns the events to commit.

        Refused, changing nothing, when it would strand a ticket (a removed counter holding
        one, a removed service with tickets waiting) or when a new or changed number range
        holds a number already given today by another service. An open counter that the new
        config removes is closed (its clerk is signed off).
        """
        new_counters = {c.number for c in config.counters}
        for c in self.counters.values():
            if c.number not in new_counters and c.ticket_id is not None:
                raise Conflict(
                    f"Không thể bỏ quầy {c.number}: quầy đang giữ một vé.",
                    f"Cannot remove counter {c.number}: it holds a ticket.",
                    key="counter_busy",
                )
        new_services = {s.code for s in config.services}
        for t in self.waiting():
            if t.service not in new_services:
                raise Conflict(
                    f"Không thể bỏ lĩnh vực {t.service}: còn người đang chờ.",
                    f"Cannot remove service {t.service}: tickets are waiting.",
                    key="service_busy",
                )
            if t.target_counter is not None and t.target_counter not in new_counters:
                raise Conflict(
                    f"Không thể bỏ quầy {t.target_counter}: có vé được chuyển đến.",
                    f"Cannot remove counter {t.target_counter}: a ticket was transferred to it.",
                    key="counter_busy",
                )
        self._check_ranges(config)
        events: list[Event] = []
        at = now or dt.datetime.now(dt.UTC)
        for c in self.counters.values():
            if c.number not in new_counters and c.state is not CounterState.CLOSED:
                holder = c.staff
                events += self._close(at, c, None)
                events[-1].details.update(reason="counter_removed", holder=holder)
        self.config = config
        every = {**self.retired, **self.counters}
        self.counters = {c.number: every.get(c.number, CounterStatus(c.number)) for c in config.counters}
        self.retired = {n: c for n, c in every.items() if n not in self.counters and c != CounterStatus(n)}
        self.services = {s.code: self.services.get(s.code, ServiceDay()) for s in config.services}
        self._rebuild_figures()
        return events

    def _check_ranges(self, config: Config) -> None:
        """A new or changed range may not hold a number another service gave today: labels
        already given stay valid, and no number is given twice in a day."""
        old = {s.code: (s.first, s.last) for s in self.config.services}
        today = [t for t in self.tickets.values() if t.day == self.day]
        for i, s in enumerate(config.services):
            if old.get(s.code) == (s.first, s.last):
                continue
            for t in sorted(today, key=lambda t: t.number):
                if t.issued_service != s.code and s.first <= t.number <= s.last:
                    raise Conflict(
                        f"services[{i}].range: khoảng số {s.first}-{s.last} của {s.code} trùng số {t.label} "
                        f"({t.issued_service}) đã cấp hôm nay.",
                        f"services[{i}].range: {s.code}'s range {s.first}-{s.last} holds {t.label} "
                        f"({t.issued_service}), already issued today.",
                        key="range_overlaps_issued",
                        field=f"services[{i}].range",
                        label=t.label,
                    )

    # ---------------------------------------------------------------- queries

    def ticket(self, ticket_id: int) -> Ticket:
        try:
            return self.tickets[ticket_id]
        except KeyError:
            raise NotFound(f"Không có vé {ticket_id}.", f"No ticket {ticket_id}.", key="ticket_not_found") from None

    def ticket_by_number(self, number: str | int) -> Ticket:
        text = str(number).strip().upper()
        for t in self.tickets.values():
            if t.day == self.day and (t.label == text or str(t.number) == text):
                return t
        raise NotFound(f"Hôm nay không có số {text}.", f"No ticket number {text} today.", key="ticket_not_found")

    def counter(self, number: int) -> CounterStatus:
        try:
            return self.counters[number]
        except KeyError:
            raise NotFound(f"Không có quầy {number}.", f"No counter {number}.", key="counter_not_found") from None

    def waiting(self) -> list[Ticket]:
        # Kept while no ticket changed and none came or went (asked for several times per
        # command: the pick, the counts, every estimate of the services summary).
        key = (_order_changes[0], self._serial, id(self.tickets), len(self.tickets), self.next_id)
        if self._waiting[0] != key:
            state = TicketState.WAITING
            waiting = [t for t in self.tickets.values() if t.state is state]
            self._waiting = (key, waiting, max((t.queued_at for t in waiting), default=None))
        return list(self._waiting[1])

    def average_service_seconds(self, code: str) -> float:
        durations = self.services[code].durations
        if durations:
            return sum(d for _, _, d in durations) / len(durations)
        return self.config.service(code).service_minutes * 60

    def _callers(self, t: Ticket) -> list[tuple[int, dict[str, str]]]:
        """The counters that would call ``t`` (number, levels), in number order: the counter
        it was transferred to; else the open (or paused) counters serving its service; else,
        before anyone has signed on, the counters serving it at primary/normal level."""
        if t.target_counter is not None:
            return [(t.target_counter, self.config.counter(t.target_counter).services)]
        serving = [c for c in self.config.counters if t.service in c.services]
        if not (t.booked and not t.front):  # a counter at level "appointment" never calls a walk-in
            serving = [c for c in serving if c.services[t.service] != "appointment"]
        staffed = [c for c in serving if self.counters[c.number].state is not CounterState.CLOSED]
        chosen = staffed or [c for c in serving if c.services[t.service] != "backup"] or serving
        return [(c.number, c.services) for c in sorted(chosen, key=lambda c: c.number)]

    def rules(self, now: dt.datetime | None = None) -> Rules:
        """The rules Next follows at ``now`` (default: the latest time the engine saw)."""
        q, a = self.config.queue, self.config.appointments
        return Rules(
            strict=q.priority_rule == "strict",
            interleave=q.interleave,
            booked_strict=a.rule == "strict",
            booked_interleave=a.interleave,
            now=now or self.clock_seen,
        )

    def counts(self) -> Counts:
        return Counts(self.normals_since_priority, self.walkins_since_appointment)

    def position(self, ticket: Ticket, now: dt.datetime | None = None) -> tuple[int, int]:
        """(people ahead, estimated wait in seconds) for a waiting ticket at ``now`` (default:
        the latest time the engine saw): the tickets Next would call before it if the counters
        that can call it press Next in turn (see ``queue_server.order``), and that count times
        the service's average over the number of those counters. 0, 0 for a ticket that no
        longer waits."""
        if ticket.state is not TicketState.WAITING:
            return 0, 0
        return self._position(ticket, self.waiting(), now, exact=True)

    def _position(
        self, ticket: Ticket, waiting: list[Ticket], now: dt.datetime | None = None, *, exact: bool = False
    ) -> tuple[int, int]:
        """``exact``: ``waiting`` is this engine's waiting list as ``waiting()`` gave it."""
        callers = self._callers(ticket)
        ahead = positions_ahead(
            ticket,
            waiting,
            callers,
            self.counts(),
            self.rules(now),
            stamp=_order_changes[0],
            state=self._waiting[0] if exact else None,
            # Without ``ticket``, ``waiting`` is this engine's waiting list (``estimate``'s
            # phantom is not in it), or that list less the ticket.
            base_state=(self._waiting[0], ticket.id if exact else None),
        )
        wait = ahead * self.average_service_seconds(ticket.service) / max(1, len(callers))
        return ahead, round(wait)

    def estimate(self, code: str, priority: bool = False, now: dt.datetime | None = None) -> tuple[int, int]:
        """(people ahead, estimated wait in seconds) for a ticket of ``code`` issued now: after
        every waiting ticket (a summary built for an event may be asked for after later
        commands, whose tickets arrived after the event's time)."""
        waiting = self.waiting()
        latest = self._waiting[2]
        if now is None:
            when = max((t.queued_at for t in self.tickets.values()), default=dt.datetime.now(dt.UTC))
        else:
            when = now if latest is None else max(now, latest)
        phantom = Ticket(
            id=self.next_id,
            day=self.day,
            service=code,
            number=0,
            label="",
            priority=priority,
            token="",
            state=TicketState.WAITING,
            issued_at=when,
            queued_at=when,
        )
        return self._position(phantom, [*waiting, phantom], now)

    def _next_number(self, code: str, booked: bool = False) -> int | None:
        """The number ``code`` would give next: after its highest number in its current range
        (``booking.range`` for an appointment, when the service has one), skipping any number
        given today; None when the range is used up."""
        svc = self.config.service(code)
        sd = self.services[code]
        if booked and svc.booking.range:
            (first, last), latest = svc.booking.range, sd.last_appointment_number
        else:
            first, last, latest = svc.first, svc.last, sd.last_number
        n = first if latest is None else latest + 1
        while n in self.used_numbers:
            n += 1
        return n if n <= last else None

    def service_status(self, code: str, now: dt.datetime) -> tuple[bool, str | None]:
        """Whether a ticket of ``code`` can be issued now, and the reason key if not."""
        sd = self.services[code]
        svc = self.config.service(code)
        if not sd.open:
            return False, "service_closed"
        if self.config.office.is_closed_day(self.office_day(now)):
            return False, "closed_day"
        if self.config.office.enforce_hours and not self.is_open_hours(now):
            return False, "outside_hours"
        cap = sd.cap if sd.cap is not None else svc.daily_cap
        if cap and sd.issued >= cap:
            return False, "cap_reached"
        if self._next_number(code) is None:
            return False, "range_exhausted"
        return True, None

    # ---------------------------------------------------------------- kiosk

    def find_request(self, kiosk: str | None, request_id: str | None) -> Ticket | None:
        if not request_id:
            return None
        tid = self.by_request.get((kiosk or "", request_id))
        return self.tickets.get(tid) if tid else None

    def issue(
        self,
        now: dt.datetime,
        *,
        service: str,
        token: str,
        priority: bool = False,
        kiosk: str | None = None,
        request_id: str | None = None,
    ) -> tuple[Ticket, list[Event]]:
        """Issue a ticket. The same (kiosk, request_id) again returns the first ticket and
        no event, so a double tap or a retried request never makes two tickets (the lookup
        runs here, under the caller's one lock, so two racing copies cannot both issue)."""
        events = self.tick(now)
        existing = self.find_request(kiosk, request_id)
        if existing is not None:
            return existing, events
        if service not in self.services:
            raise NotFound(f"Không có lĩnh vực {service}.", f"No service {service}.", key="service_not_found")
        if priority and not self.config.queue.priority_enabled:
            raise BadRequest(
                "Văn phòng không dùng số ưu tiên.",
                "This office does not issue priority tickets.",
                key="priority_disabled",
            )
        ok, reason = self.service_status(service, now)
        if not ok:
            raise Conflict(*ISSUE_REFUSALS[reason or ""], key=reason)
        svc = self.config.service(service)
        sd = self.services[service]
        number = self._next_number(service)
        assert number is not None  # service_status checked it
        t = Ticket(
            id=self.next_id,
            day=self.day,
            service=service,
            number=number,
            label=f"{svc.prefix}{number}",
            priority=priority,
            token=token,
            state=TicketState.WAITING,
            issued_at=now,
            queued_at=now,
            kiosk=kiosk,
            request_id=request_id,
            issued_service=service,
        )
        self.next_id += 1
        self.tickets[t.id] = t
        sd.last_number = number
        sd.issued += 1
        self.used_numbers.add(number)
        if request_id:
            self.by_request[(kiosk or "", request_id)] = t.id
        # What the kiosk shows and the ticket prints: the same figure the phone page shows now.
        t.people_ahead, t.estimated_wait_s = self.position(t)
        events.append(Event("ticket_issued", now, t.to_dict()))
        return t, events

    def check_in(
        self,
        now: dt.datetime,
        *,
        service: str,
        code: str,
        slot_start: dt.datetime,
        token: str,
        kiosk: str | None = None,
    ) -> tuple[Ticket, list[Event]]:
        """Turn a booked appointment into a ticket marked ``booked``. Check-in opens
        ``early_minutes`` before the slot (earlier: 409 ``too_early`` with ``opens_at``) and
        closes ``late_minutes`` after its start (later: 409 ``too_late``; the citizen takes a
        walk-in ticket). The same code again returns the same ticket and no event."""
        events = self.tick(now)
        existing = self.by_appointment.get(code)
        if existing is not None and existing in self.tickets:
            return self.tickets[existing], events
        if service not in self.services:
            raise NotFound(f"Không có lĩnh vực {service}.", f"No service {service}.", key="service_not_found")
        svc = self.config.service(service)
        b = svc.booking
        opens = slot_start - dt.timedelta(minutes=b.early_minutes)
        closes = slot_start + dt.timedelta(minutes=b.late_minutes)
        if now < opens:
            local = opens.astimezone(self.config.office.tz)
            raise Conflict(
                f"Chưa đến giờ xác nhận lịch hẹn: mời quay lại lúc {local:%H:%M} ngày {local:%d/%m/%Y}.",
                f"Too early to check in: please come back at {local:%H:%M} on {local:%d/%m/%Y}.",
                key="too_early",
                opens_at=opens.isoformat(),
            )
        if now > closes:
            raise Conflict(
                "Đã quá giờ hẹn: lịch hẹn không còn hiệu lực. Mời lấy số thường.",
                "You are past your appointment time: please take a regular number.",
                key="too_late",
                walk_in=True,
                service=service,
            )
        ok, reason = self.service_status(service, now)
        if not ok and reason != "cap_reached":  # a booked seat does not count against today's cap
            raise Conflict(*ISSUE_REFUSALS[reason or "service_closed"], key=reason)
        sd = self.services[service]
        number = self._next_number(service, booked=True)
        if number is None:
            raise Conflict(*ISSUE_REFUSALS["range_exhausted"], key="range_exhausted")
        if b.range:
            sd.last_appointment_number = number
        else:
            sd.last_number = number
        label = f"{b.prefix or svc.prefix}{number}"
        t = Ticket(
            id=self.next_id,
            day=self.day,
            service=service,
            number=number,
            label=label,
            priority=False,
            token=token,
            state=TicketState.WAITING,
            issued_at=now,
            queued_at=now,
            kiosk=kiosk,
            booked=True,
            appointment=code,
            slot_start=slot_start,
            issued_service=service,
        )
        self.next_id += 1
        self.tickets[t.id] = t
        self.used_numbers.add(number)
        sd.issued += 1
        self.by_appointment[code] = t.id
        t.people_ahead, t.estimated_wait_s = self.position(t)
        events.append(Event("ticket_issued", now, t.to_dict(), details={"appointment": True}))
        return t, events

    # ---------------------------------------------------------------- counters

    def _acting(self, c: CounterStatus, staff: str | None, override: bool) -> None:
        """Refuse a clerk acting for a counter another account holds: a session left open
        after its clerk closed the counter (or was moved) must not touch the new clerk's
        work. ``override`` is for an administrator acting on any counter."""
        if override or staff is None or c.state is CounterState.CLOSED or c.staff == staff:
            return
        raise Forbidden(
            f"Quầy {c.number} đang do {c.staff} phụ trách: bạn không còn giữ quầy này.",
            f"Counter {c.number} is held by {c.staff}: you no longer hold it.",
            key="counter_held_by_other",
            counter=c.number,
            holder=c.staff,
        )

    def _open_counter(self, number: int, staff: str | None = None, override: bool = True) -> CounterStatus:
        c = self.counter(number)
        self._acting(c, staff, override)
        if c.state is CounterState.CLOSED:
            raise InvalidTransition(
                f"Quầy {number} chưa mở: hãy đăng nhập tại quầy.",
                f"Counter {number} is closed: sign on first.",
                key="counter_closed",
            )
        if c.state is CounterState.PAUSED:
            raise InvalidTransition(
                f"Quầy {number} đang tạm dừng: hãy bấm Tiếp tục.",
                f"Counter {number} is paused: resume first.",
                key="counter_paused",
            )
        return c

    def _owned_counter(self, number: int, staff: str | None, override: bool) -> CounterStatus:
        c = self.counter(number)
        self._acting(c, staff, override)
        return c

    def _held(self, c: CounterStatus) -> Ticket:
        if c.ticket_id is None:
            raise InvalidTransition(
                f"Quầy {c.number} không có vé nào đang gọi.",
                f"Counter {c.number} holds no ticket.",
                key="no_current_ticket",
            )
        return self.tickets[c.ticket_id]

    def _check_expected(self, c: CounterStatus, expected: Expected) -> None:
        """Refuse when the clerk's screen showed another current ticket: a double click or
        a stale screen must not finish a ticket the clerk has not seen."""
        if expected is Unsaid.ANY:
            return
        if expected != c.ticket_id:
            raise Conflict(
                "Màn hình quầy chưa cập nhật: vé hiện tại đã thay đổi. Hãy thử lại.",
                "The counter screen was out of date: the current ticket changed. Try again.",
                key="stale_screen",
                current=c.ticket_id,
            )

    def _release(self, now: dt.datetime, c: CounterStatus, staff: str | None) -> list[Event]:
        """Finish whatever ``c`` holds, as pressing Next does. A called ticket recalled
        ``max_recalls`` times becomes a no-show; one called and never started is closed
        "without start", counted as served or absent by ``queue.closed_without_start``."""
        if c.ticket_id is None:
            return []
        t = self.tickets[c.ticket_id]
        if t.state is TicketState.CALLED:
            if t.recalls >= self.config.queue.max_recalls:
                return self._no_show(now, c, t, staff, automatic=True)
            t.closed_unstarted = True
            if self.config.queue.closed_without_start == "absent":
                return self._no_show(now, c, t, staff, automatic=True)
            events = self._finish(now, c, t, staff)
            events[-1].details["closed_without_start"] = True
            return events
        return self._finish(now, c, t, staff)

    def _finish(self, now: dt.datetime, c: CounterStatus, t: Ticket, staff: str | None) -> list[Event]:
        if t.state not in (TicketState.CALLED, TicketState.SERVING):
            raise _err_state(t, "hoàn thành", "finish")
        if t.started_at is None:
            t.started_at = t.called_at or now  # service time measured from the call
        t.state = TicketState.DONE
        t.finished_at = now
        c.ticket_id = None
        self._record_duration(t)
        event = Event("ticket_done", now, t.to_dict(), c.to_dict(), staff)
        self._forget_if_old(t)
        return [event]

    def _no_show(
        self, now: dt.datetime, c: CounterStatus, t: Ticket, staff: str | None, automatic: bool = False
    ) -> list[Event]:
        if t.state is not TicketState.CALLED:
            raise _err_state(t, "đánh dấu vắng mặt", "mark as no-show")
        t.state = TicketState.NO_SHOW
        t.finished_at = now
        c.ticket_id = None
        details: dict[str, Any] = {"automatic": automatic}
        if t.closed_unstarted:
            details["closed_without_start"] = True
        event = Event("ticket_no_show", now, t.to_dict(), c.to_dict(), staff, details)
        self._forget_if_old(t)
        return [event]

    def _forget_if_old(self, t: Ticket) -> None:
        """A ticket of an earlier day leaves memory once it no longer waits or is served (as
        a restart would leave it in the database only)."""
        if not self._keeps(t):
            del self.tickets[t.id]

    def _record_duration(self, t: Ticket) -> None:
        if t.day != self.day or not (t.finished_at and t.started_at) or t.service not in self.services:
            return
        d = self.services[t.service].durations
        bisect.insort(d, (t.finished_at, t.id, max(0.0, (t.finished_at - t.started_at).total_seconds())))
        del d[:-AVERAGE_WINDOW]

    def pick_next(self, number: int, now: dt.datetime | None = None) -> Ticket | None:
        """The ticket counter ``number`` would get on Next at ``now`` (the rules:
        ``queue_server.order``)."""
        rules = self.rules(now)
        picker = Picker(number, self.config.counter(number).services, self.waiting(), rules.now)
        return picker.pick(set(), self.counts(), rules)

    def _call(self, now: dt.datetime, c: CounterStatus, t: Ticket, staff: str | None, kind: str) -> Event:
        counts = after_call(t, self.waiting(), self.counts(), now)
        self.normals_since_priority = counts.normals_since_priority
        self.walkins_since_appointment = counts.walkins_since_appointment
        t.state = TicketState.CALLED
        t.counter = c.number
        t.staff = staff
        t.called_at = now
        t.started_at = None
        t.target_counter = None
        t.front = False
        t.closed_unstarted = False
        c.ticket_id = t.id
        return Event(kind, now, t.to_dict(), c.to_dict(), staff)

    def call_next(
        self,
        now: dt.datetime,
        counter: int,
        staff: str | None,
        expected: Expected = Unsaid.ANY,
        *,
        override: bool = False,
    ) -> list[Event]:
        """Finish the held ticket (no-show if recalled ``max_recalls`` times) and call the
        next one. Returns no ``ticket_called`` event when nobody waits."""
        events = self.tick(now)
        c = self._open_counter(counter, staff, override)
        self._check_expected(c, expected)
        events += self._release(now, c, staff)
        t = self.pick_next(counter, now)
        if t is not None:
            events.append(self._call(now, c, t, staff, "ticket_called"))
        elif not events or events[-1].counter is None:
            events.append(Event("counter_changed", now, counter=c.to_dict(), staff=staff))
        return events

    def call_number(
        self,
        now: dt.datetime,
        counter: int,
        staff: str | None,
        number: str | int,
        expected: Expected = Unsaid.ANY,
        *,
        override: bool = False,
    ) -> list[Event]:
        """Call one ticket out of order (waiting, or a no-show who came back)."""
        events = self.tick(now)
        c = self._open_counter(counter, staff, override)
        self._check_expected(c, expected)
        t = self.ticket_by_number(number)
        if t.state not in (TicketState.WAITING, TicketState.NO_SHOW) or t.id == c.ticket_id:
            raise _err_state(t, "gọi", "call")
        events += self._release(now, c, staff)
        t.finished_at = None
        events.append(self._call(now, c, t, staff, "ticket_called"))
        events[-1].details["out_of_order"] = True
        return events

    def recall(self, now: dt.datetime, counter: int, staff: str | None, *, override: bool = False) -> list[Event]:
        events = self.tick(now)
        c = self._open_counter(counter, staff, override)
        t = self._held(c)
        if t.state is not TicketState.CALLED:
            raise _err_state(t, "gọi lại", "recall")
        t.recalls += 1
        events.append(Event("ticket_recalled", now, t.to_dict(), c.to_dict(), staff, {"recalls": t.recalls}))
        return events

    def start(self, now: dt.datetime, counter: int, staff: str | None, *, override: bool = False) -> list[Event]:
        events = self.tick(now)
        c = self._open_counter(counter, staff, override)
        t = self._held(c)
        if t.state is not TicketState.CALLED:
            raise _err_state(t, "bắt đầu phục vụ", "start serving")
        t.state = TicketState.SERVING
        t.started_at = now
        events.append(Event("ticket_started", now, t.to_dict(), c.to_dict(), staff))
        return events

    def finish(self, now: dt.datetime, counter: int, staff: str | None, *, override: bool = False) -> list[Event]:
        events = self.tick(now)
        c = self._owned_counter(counter, staff, override)
        return events + self._finish(now, c, self._held(c), staff)

    def no_show(self, now: dt.datetime, counter: int, staff: str | None, *, override: bool = False) -> list[Event]:
        events = self.tick(now)
        c = self._owned_counter(counter, staff, override)
        return events + self._no_show(now, c, self._held(c), staff)

    def transfer(
        self,
        now: dt.datetime,
        counter: int,
        staff: str | None,
        *,
        service: str | None = None,
        to_counter: int | None = None,
        override: bool = False,
    ) -> list[Event]:
        """Send the held ticket to another service or counter; it keeps its number (numbering
        stays with the service that issued it) and goes to the front of its new queue."""
        events = self.tick(now)
        c = self._owned_counter(counter, staff, override)
        t = self._held(c)
        if service is None and to_counter is None:
            raise BadRequest(
                "Hãy chọn lĩnh vực hoặc quầy để chuyển đến.",
                "Choose a service or a counter.",
                key="transfer_target_missing",
            )
        if service is not None and service not in self.services:
            raise NotFound(f"Không có lĩnh vực {service}.", f"No service {service}.", key="service_not_found")
        if to_counter is not None:
            self.counter(to_counter)
            if to_counter == counter:
                raise BadRequest(
                    "Không thể chuyển vé đến chính quầy này.",
                    "Cannot transfer to the same counter.",
                    key="transfer_same_counter",
                )
        if t.state not in (TicketState.CALLED, TicketState.SERVING):
            raise _err_state(t, "chuyển", "transfer")
        before = t.service
        t.state = TicketState.WAITING
        t.service = service or t.service
        t.target_counter = to_counter
        t.front = True
        t.queued_at = now
        t.transfers += 1
        t.started_at = None
        c.ticket_id = None
        events.append(
            Event(
                "ticket_transferred",
                now,
                t.to_dict(),
                c.to_dict(),
                staff,
                {"from_counter": counter, "from_service": before, "to_service": t.service, "to_counter": to_counter},
            )
        )
        return events

    def requeue(self, now: dt.datetime, ticket_id: int, staff: str | None) -> list[Event]:
        """A no-show came back late: back in the queue, at the end."""
        events = self.tick(now)
        t = self.ticket(ticket_id)
        if t.state is not TicketState.NO_SHOW:
            raise _err_state(t, "xếp lại", "requeue")
        t.state = TicketState.WAITING
        t.queued_at = now
        t.finished_at = None
        t.recalls = 0
        t.closed_unstarted = False
        events.append(Event("ticket_requeued", now, t.to_dict(), staff=staff))
        return events

    def cancel(self, now: dt.datetime, ticket_id: int, staff: str | None) -> list[Event]:
        events = self.tick(now)
        t = self.ticket(ticket_id)
        if t.state is not TicketState.WAITING:
            raise _err_state(t, "hủy", "cancel")
        t.state = TicketState.CANCELLED
        t.finished_at = now
        events.append(Event("ticket_cancelled", now, t.to_dict(), staff=staff))
        return events

    def latest_done(self, counter: int) -> Ticket | None:
        """The ticket counter ``counter`` finished last today (what its rating tablet asks about)."""
        return max(
            (
                t
                for t in self.tickets.values()
                if t.counter == counter and t.state is TicketState.DONE and t.finished_at
            ),
            key=lambda t: (t.finished_at, t.id),
            default=None,
        )

    def rate(self, now: dt.datetime, ticket_id: int, level: int, counter: int | None = None) -> list[Event]:
        """Store the citizen's rating: once per served ticket. From a counter's tablet
        (``counter``), only for the ticket that counter finished last: the rating window
        closes when the clerk finishes the next one."""
        events = self.tick(now)
        t = self.ticket(ticket_id)
        if not 1 <= level <= self.config.rating.levels:
            raise BadRequest(
                f"Mức đánh giá phải từ 1 đến {self.config.rating.levels}.",
                f"Rating must be 1 to {self.config.rating.levels}.",
                key="bad_rating",
            )
        if counter is not None and t.counter != counter:
            raise Forbidden(
                f"Vé {t.label} không được phục vụ tại quầy {counter}.",
                f"Ticket {t.label} was not served at counter {counter}.",
                key="wrong_counter",
            )
        if t.state is not TicketState.DONE:
            raise _err_state(t, "đánh giá", "rate")
        if t.rating is not None:
            raise Conflict(
                f"Số {t.label} đã được đánh giá.", f"Ticket {t.label} was already rated.", key="already_rated"
            )
        if counter is not None:
            latest = self.latest_done(counter)
            if latest is not None and latest.id != t.id:
                raise Conflict(
                    f"Đã hết thời gian đánh giá số {t.label}.", f"Rating for {t.label} is closed.", key="rating_closed"
                )
        t.rating = level
        t.rated_at = now
        events.append(Event("ticket_rated", now, t.to_dict(), details={"level": level}))
        return events

    def sign_on(self, now: dt.datetime, counter: int, staff: str) -> list[Event]:
        """Open a counter for a clerk; a clerk holds one counter at a time."""
        events = self.tick(now)
        c = self.counter(counter)
        if c.staff == staff and c.state is not CounterState.CLOSED:
            return events
        if c.state is not CounterState.CLOSED:
            raise Conflict(
                f"Quầy {counter} đang do {c.staff} phụ trách.",
                f"Counter {counter} is held by {c.staff}.",
                key="counter_taken",
            )
        for other in self.counters.values():
            if other.staff == staff and other.state is not CounterState.CLOSED:
                if other.ticket_id is not None:
                    raise Conflict(
                        f"Bạn còn vé đang gọi ở quầy {other.number}: hãy hoàn thành trước.",
                        f"You still hold a ticket at counter {other.number}: finish it first.",
                        key="ticket_held_elsewhere",
                    )
                events += self._close(now, other, staff)
        c.state = CounterState.OPEN
        c.staff = staff
        c.since = now
        c.pause_reason = ""
        events.append(Event("counter_opened", now, counter=c.to_dict(), staff=staff))
        return events

    def _close(self, now: dt.datetime, c: CounterStatus, staff: str | None) -> list[Event]:
        if c.ticket_id is not None:
            raise Conflict(
                f"Quầy {c.number} còn vé đang gọi: hãy hoàn thành hoặc chuyển trước.",
                f"Counter {c.number} still holds a ticket: finish or transfer it first.",
                key="ticket_held",
            )
        c.state = CounterState.CLOSED
        c.staff = None
        c.since = now
        c.pause_reason = ""
        return [Event("counter_closed", now, counter=c.to_dict(), staff=staff)]

    def sign_off(self, now: dt.datetime, counter: int, staff: str | None, *, override: bool = False) -> list[Event]:
        events = self.tick(now)
        c = self._owned_counter(counter, staff, override)
        if c.state is CounterState.CLOSED:
            return events
        return events + self._close(now, c, staff)

    def pause(
        self, now: dt.datetime, counter: int, staff: str | None, reason: str, *, override: bool = False
    ) -> list[Event]:
        events = self.tick(now)
        c = self._open_counter(counter, staff, override)
        reason = reason.strip()
        if not reason or len(reason) > 200:
            raise BadRequest(
                "Hãy ghi lý do tạm dừng (tối đa 200 ký tự).",
                "Give a pause reason (at most 200 characters).",
                key="pause_reason",
            )
        if c.ticket_id is not None:
            raise Conflict(
                "Hãy hoàn thành hoặc chuyển vé hiện tại trước khi tạm dừng.",
                "Finish or transfer the current ticket before pausing.",
                key="ticket_held",
            )
        c.state = CounterState.PAUSED
        c.pause_reason = reason
        c.since = now
        events.append(Event("counter_paused", now, counter=c.to_dict(), staff=staff, details={"reason": reason}))
        return events

    def resume(self, now: dt.datetime, counter: int, staff: str | None, *, override: bool = False) -> list[Event]:
        events = self.tick(now)
        c = self._owned_counter(counter, staff, override)
        if c.state is not CounterState.PAUSED:
            raise InvalidTransition(
                f"Quầy {counter} không tạm dừng.", f"Counter {counter} is not paused.", key="counter_not_paused"
            )
        c.state = CounterState.OPEN
        c.pause_reason = ""
        c.since = now
        events.append(Event("counter_resumed", now, counter=c.to_dict(), staff=staff))
        return events

    def set_service(
        self,
        now: dt.datetime,
        code: str,
        staff: str | None,
        *,
        open: bool | None = None,
        cap: int | None | Literal[Unsaid.KEEP] = Unsaid.KEEP,
    ) -> list[Event]:
        """Open/close a service or change its cap, for today only."""
        events = self.tick(now)
        if code not in self.services:
            raise NotFound(f"Không có lĩnh vực {code}.", f"No service {code}.", key="service_not_found")
        sd = self.services[code]
        if (
            cap is not Unsaid.KEEP
            and cap is not None
            and (isinstance(cap, bool) or not isinstance(cap, int) or cap < 0)
        ):
            # Checked before anything changes: a refused command changes nothing.
            raise BadRequest("Giới hạn phải là số nguyên không âm.", "Cap must be a whole number ≥ 0.", key="bad_cap")
        if open is not None:
            sd.open = open
        if cap is not Unsaid.KEEP:
            sd.cap = cap
        events.append(
            Event("service_changed", now, staff=staff, details={"service": code, "open": sd.open, "cap": sd.cap})
        )
        return events


ISSUE_REFUSALS = {
    "service_closed": ("Lĩnh vực này hôm nay tạm ngừng nhận hồ sơ.", "This service is closed today."),
    "outside_hours": ("Ngoài giờ làm việc: hiện không cấp số.", "Outside opening hours: no tickets now."),
    "closed_day": (
        "Hôm nay là ngày nghỉ: cơ quan không làm việc, không cấp số.",
        "The office is closed today (holiday): no tickets.",
    ),
    "cap_reached": (
        "Đã hết số thứ tự của lĩnh vực này trong hôm nay.",
        "Today's tickets for this service are used up.",
    ),
    "range_exhausted": (
        "Đã hết số thứ tự của lĩnh vực này trong hôm nay.",
        "This service's number range is used up today.",
    ),
}
