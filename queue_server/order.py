"""The order in which Next calls waiting tickets — one definition for calling and for telling.

Part of the pure engine (no I/O; the time comes in as ``Rules.now``). ``Engine.pick_next``
uses ``Picker`` to choose the ticket a counter calls; ``positions_ahead`` replays the same
picks, counter by counter, to tell a citizen how many people will be called before them.
Because both go through ``Picker.pick``, the number on the kiosk screen, the printed ticket,
the phone page and ``GET /api/tickets/{token}`` is the number of tickets Next would really
call first.

The rules Next follows at one counter (README "Queue rules", docs/appointments.md "Routing"):

1. tickets transferred to this counter, oldest first;
2. otherwise its pool: tickets of its services not transferred to another counter; the
   primary/normal ones, or the backup ones only when no primary/normal ticket waits;
3. in the pool, tickets sent to the front (transferred to a service) first, oldest first;
4. appointment tickets (checked in at the kiosk) of its primary/normal services whose slot has
   started are *due*: "strict" (``appointments.rule``) calls a due one before any walk-in;
   "interleave" calls one when it arrived first (an appointment arrives at its slot's start,
   or at its check-in if later) or after at most ``appointments.interleave`` walk-ins in a row
   while one was due (an office-wide count); among them, earlier slot, then earlier check-in;
5. then, among walk-ins, the priority rule: "strict" calls a priority ticket whenever one
   waits; "interleave" calls one after at most ``interleave`` normal tickets (office-wide);
6. then the level (primary before normal), then arrival (``queued_at``, then id);
7. an appointment checked in before its slot waits for it, unless nothing else waits;
8. at a counter whose level for a service is "appointment", only that service's appointment
   tickets (rules 4 and 7).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .engine import Ticket

LEVEL_RANK = {"primary": 0, "normal": 1, "appointment": 0, "backup": 2}


@dataclass(frozen=True)
class Rules:
    """What Next follows besides the tickets: the priority rule, the appointment rule and
    the time that decides which appointments are due."""

    strict: bool
    interleave: int
    booked_strict: bool
    booked_interleave: int
    now: dt.datetime


@dataclass(frozen=True)
class Counts:
    """The office-wide interleave counts Next carries from one call to the next."""

    normals_since_priority: int = 0
    walkins_since_appointment: int = 0


class _Lane:
    """Tickets in one fixed order, with a cursor that skips the ones already taken."""

    __slots__ = ("items", "i")

    def __init__(self, items: list[Ticket]):
        self.items = items
        self.i = 0

    def first(self, taken: set[int]) -> Ticket | None:
        while self.i < len(self.items) and self.items[self.i].id in taken:
            self.i += 1
        return self.items[self.i] if self.i < len(self.items) else None


def is_due(t: Ticket, now: dt.datetime) -> bool:
    """An appointment ticket whose slot has started (and that no transfer sent elsewhere)."""
    return t.booked and not t.front and t.slot_start is not None and t.slot_start <= now


def _slot_order(t: Ticket) -> tuple[Any, ...]:
    return (t.slot_start, t.queued_at, t.id)


class _Lists:
    """One counter's share of the waiting tickets, partitioned in arrival order."""

    __slots__ = ("number", "levels", "now", "targeted", "by_rank", "fronts", "priority", "due", "early")

    def __init__(self, number: int, levels: dict[str, str], now: dt.datetime):
        self.number, self.levels, self.now = number, levels, now
        self.targeted: list[Ticket] = []
        self.by_rank: tuple[list[Ticket], list[Ticket], list[Ticket]] = ([], [], [])  # primary, normal, backup
        self.fronts: tuple[list[Ticket], list[Ticket]] = ([], [])  # main pool, backup pool
        self.priority: tuple[list[Ticket], list[Ticket], list[Ticket]] = ([], [], [])  # by rank
        self.due: list[Ticket] = []
        self.early: list[Ticket] = []

    @classmethod
    def build(cls, number: int, levels: dict[str, str], in_order: Iterable[Ticket], now: dt.datetime) -> _Lists:
        lists = cls(number, levels, now)
        for t in in_order:
            lists.place(t)
        return lists

    def place(self, t: Ticket) -> None:
        """Add ``t``, which arrived after every ticket placed so far."""
        if t.target_counter is not None:
            if t.target_counter == self.number:
                self.targeted.append(t)
            return
        level = self.levels.get(t.service)
        if level is None:
            return
        if t.booked and not t.front and level != "backup":
            (self.due if is_due(t, self.now) else self.early).append(t)
        elif level != "appointment":  # an "appointment" counter serves that service's appointments only
            rank = LEVEL_RANK[level]
            self.by_rank[rank].append(t)
            if t.front:
                self.fronts[rank == 2].append(t)
            if t.priority:
                self.priority[rank].append(t)

    def plus(self, t: Ticket) -> _Lists:
        """A copy with ``t`` (the latest arrival) placed."""
        out = _Lists(self.number, self.levels, self.now)
        out.targeted = list(self.targeted)
        out.by_rank = (list(self.by_rank[0]), list(self.by_rank[1]), list(self.by_rank[2]))
        out.fronts = (list(self.fronts[0]), list(self.fronts[1]))
        out.priority = (list(self.priority[0]), list(self.priority[1]), list(self.priority[2]))
        out.due, out.early = list(self.due), list(self.early)
        out.place(t)
        return out


# positions_ahead's last partition, reused while the waiting tickets and counters are the
# same (the services summary asks for every service's estimate at one state).
_last_lists: dict[str, Any] = {"key": None, "lists": {}}


def _state_key(in_order: Sequence[Ticket], counters: Sequence[tuple[int, dict[str, str]]], now: dt.datetime) -> Any:
    return (
        now if any(t.booked for t in in_order) else None,
        tuple((n, tuple(levels.items())) for n, levels in counters),
        tuple(
            (t.id, t.service, t.queued_at, t.front, t.priority, t.target_counter, t.booked, t.slot_start)
            for t in in_order
        ),
    )


class Picker:
    """What Next at one counter would call, over and over, from a fixed set of waiting tickets.

    ``taken`` (ticket ids) is shared by the pickers of one simulation: a ticket one counter
    took is gone for the others. Building costs one sort of the counter's pool; each pick after
    that is amortised constant time.
    """

    def __init__(
        self,
        number: int,
        levels: dict[str, str],
        waiting: Iterable[Ticket],
        now: dt.datetime,
        *,
        in_arrival_order: bool = False,
        lists: _Lists | None = None,
    ):
        """``in_arrival_order``: ``waiting`` is already sorted by (queued_at, id); the lanes
        then come from one pass, without sorting (a pool is ordered by level, then arrival).
        ``lists``: the lanes already partitioned (``positions_ahead`` reuses them)."""
        self.number = number
        self.levels = levels
        if lists is None:
            lists = _Lists.build(number, levels, waiting if in_arrival_order else sorted(waiting, key=_arrival), now)
        main = lists.by_rank[0] + lists.by_rank[1]
        backup = lists.by_rank[2]
        self.targeted = _Lane(lists.targeted)
        self.pools = [
            (_Lane(main), _Lane(lists.fronts[0]), _Lane(lists.priority[0] + lists.priority[1])),
            (_Lane(backup), _Lane(lists.fronts[1]), _Lane(lists.priority[2])),
        ]
        self.due = _Lane(sorted(lists.due, key=_slot_order))
        self.early = _Lane(sorted(lists.early, key=_slot_order))

    def pick(self, taken: set[int], counts: Counts, rules: Rules) -> Ticket | None:
        t = self.targeted.first(taken)
        if t is not None:
            return t
        front = self.pools[0][1].first(taken)
        if front is not None:
            return front
        appointment = self.due.first(taken)
        walk_in, from_backup = self._walk_in(taken, counts, rules)
        if appointment is not None:
            if (
                walk_in is None
                or from_backup
                or rules.booked_strict
                or counts.walkins_since_appointment >= rules.booked_interleave
            ):
                return appointment
            assert appointment.slot_start is not None
            arrived = (max(appointment.queued_at, appointment.slot_start), appointment.id)
            return appointment if arrived <= _arrival(walk_in) else walk_in
        if walk_in is not None:
            return walk_in
        return self.early.first(taken)

    def _walk_in(self, taken: set[int], counts: Counts, rules: Rules) -> tuple[Ticket | None, bool]:
        """The walk-in Next would call (rules 2, 3, 5, 6), and whether it is a backup one."""
        for from_backup, (everyone, fronts, priority) in enumerate(self.pools):
            best = everyone.first(taken)
            if best is None:
                continue  # no primary/normal ticket waits: the backup pool
            front = fronts.first(taken)
            if front is not None:
                return front, bool(from_backup)
            if best.priority:
                return best, bool(from_backup)
            first_priority = priority.first(taken)
            if first_priority is None:
                return best, bool(from_backup)
            if rules.strict or counts.normals_since_priority >= rules.interleave:
                return first_priority, bool(from_backup)
            return best, bool(from_backup)
        return None, False


def _arrival(t: Ticket) -> tuple[Any, ...]:
    return (t.queued_at, t.id)


def next_normals(picked: Ticket, priority_left: int, normals_since_priority: int) -> int:
    """The interleave count after calling ``picked``: reset by a priority ticket, else counted
    while a priority ticket is still waiting (``priority_left`` excludes ``picked``).
    Appointment tickets leave it as it is: they have their own count."""
    if picked.priority:
        return 0
    if picked.booked:
        return normals_since_priority
    if priority_left > 0:
        return normals_since_priority + 1
    return normals_since_priority


def next_walkins(picked: Ticket, due_left: int, walkins_since_appointment: int) -> int:
    """The appointment interleave count after calling ``picked``: reset by an appointment,
    else counted while an appointment is due (``due_left`` excludes ``picked``)."""
    if picked.booked:
        return 0
    if due_left > 0:
        return walkins_since_appointment + 1
    return walkins_since_appointment


def after_call(picked: Ticket, waiting: Iterable[Ticket], counts: Counts, now: dt.datetime) -> Counts:
    """Both interleave counts after calling ``picked`` out of ``waiting`` (which may hold it)."""
    others = [w for w in waiting if w is not picked]
    return Counts(
        next_normals(picked, sum(1 for w in others if w.priority), counts.normals_since_priority),
        next_walkins(picked, sum(1 for w in others if is_due(w, now)), counts.walkins_since_appointment),
    )


def positions_ahead(
    target: Ticket,
    waiting: Sequence[Ticket],
    counters: Sequence[tuple[int, dict[str, str]]],
    counts: Counts,
    rules: Rules,
) -> int:
    """How many tickets Next calls before ``target`` when ``counters`` (number, levels) press
    Next in turn, in the order given, nobody new arrives and the clock stands at ``rules.now``.

    ``waiting`` is every waiting ticket of the office (``target`` among them): the interleave
    counts depend on priority tickets and due appointments waiting anywhere.
    """
    in_order = sorted(waiting, key=_arrival)  # once, for every counter's picker
    # A new ticket's estimate asks about the latest arrival: partition the others once for
    # every service's estimate, then place it last.
    latest = in_order[-1] if in_order and in_order[-1] is target else None
    base = in_order[:-1] if latest is not None else in_order
    key = _state_key(base, counters, rules.now)
    if _last_lists["key"] != key:
        _last_lists["key"] = key
        _last_lists["lists"] = {n: _Lists.build(n, levels, base, rules.now) for n, levels in counters}
    cached: dict[int, _Lists] = _last_lists["lists"]
    pickers = [
        Picker(n, levels, (), rules.now, lists=cached[n].plus(latest) if latest is not None else cached[n])
        for n, levels in counters
    ]
    taken: set[int] = set()
    priority_left = sum(1 for t in waiting if t.priority)
    due_left = sum(1 for t in waiting if is_due(t, rules.now))
    ahead = 0
    while True:
        progressed = False
        for picker in pickers:
            t = picker.pick(taken, counts, rules)
            if t is None:
                continue
            if t is target:
                return ahead
            progressed = True
            taken.add(t.id)
            ahead += 1
            if t.priority:
                priority_left -= 1
            if is_due(t, rules.now):
                due_left -= 1
            counts = Counts(
                next_normals(t, priority_left, counts.normals_since_priority),
                next_walkins(t, due_left, counts.walkins_since_appointment),
            )
        if not progressed:
            # None of these counters would ever call it (cannot happen for a counter list
            # built by the engine); every ticket they would call is ahead.
            return ahead
