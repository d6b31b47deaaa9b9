"""The order in which Next calls waiting tickets — one definition for calling and for telling.
(Over 400 lines: the pick, its replay and the replay's shared forms for estimates are one definition.)

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

import copy
import datetime as dt
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from itertools import chain
from operator import attrgetter
from typing import TYPE_CHECKING, Any, cast

from .order_resume import Checkpoint, capture, restore

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
        items, i = self.items, self.i
        end = len(items)
        while i < end and items[i].id in taken:
            i += 1
        self.i = i
        return items[i] if i < end else None


class _Hop(_Lane):
    """A lane ``order_resume`` put back with a late ticket at ``at``, before tickets already
    taken up to ``to``: once the late ticket is taken, the cursor hops over them at once."""

    __slots__ = ("at", "to")

    def __init__(self, items: list[Ticket], at: int, to: int):
        super().__init__(items)
        self.i, self.at, self.to = at, at, to

    def first(self, taken: set[int]) -> Ticket | None:
        if self.i == self.at and self.items[self.at].id in taken:
            self.i = self.to
        return _Lane.first(self, taken)


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

    def sharing(self, number: int, targeted: list[Ticket]) -> _Lists:
        """Counter ``number``'s lanes: these pools (shared, never changed) and its own
        transferred tickets."""
        out = _Lists(number, self.levels, self.now)
        out.targeted = targeted
        out.by_rank, out.fronts, out.priority, out.due, out.early = (
            self.by_rank,
            self.fronts,
            self.priority,
            self.due,
            self.early,
        )
        return out

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


def partition(
    in_order: Sequence[Ticket], counters: Sequence[tuple[int, dict[str, str]]], now: dt.datetime
) -> dict[int, _Lists]:
    """Every counter's lanes from the waiting tickets in arrival order: the same lanes as
    ``_Lists.build`` (``tests/test_positions_fast.py`` compares them), made from one pass that
    sorts the tickets by service, then, per distinct set of service levels (counters that serve
    the same services at the same levels share their lanes), merges the services' lists in
    arrival order, then each counter's own transferred tickets."""
    targeted: dict[int, list[Ticket]] = {}
    walk: dict[str, list[Ticket]] = {}  # not an appointment waiting for its slot's rules
    fronts: dict[str, list[Ticket]] = {}
    prio: dict[str, list[Ticket]] = {}
    booked: dict[str, list[Ticket]] = {}  # appointment tickets not sent to the front
    # The same, every service together under "" (no service code is empty: config.py): a
    # merge of several services is a filter of these.
    walk[""], fronts[""], prio[""] = [], [], []
    for t in in_order:
        if t.target_counter is not None:
            targeted.setdefault(t.target_counter, []).append(t)
        elif t.booked and not t.front:
            booked.setdefault(t.service, []).append(t)
        else:
            walk[""].append(t)
            walk.setdefault(t.service, []).append(t)
            if t.front:
                fronts[""].append(t)
                fronts.setdefault(t.service, []).append(t)
            if t.priority:
                prio[""].append(t)
                prio.setdefault(t.service, []).append(t)
    shared: dict[tuple[tuple[str, str], ...], _Lists] = {}
    out: dict[int, _Lists] = {}
    for n, levels in counters:
        sig = tuple(levels.items())
        common = shared.get(sig)
        if common is None:
            common = shared[sig] = _merged(levels, walk, fronts, prio, booked, now)
        out[n] = common.sharing(n, targeted.get(n, []))
    return out


def _merged(
    levels: dict[str, str],
    walk: dict[str, list[Ticket]],
    fronts: dict[str, list[Ticket]],
    prio: dict[str, list[Ticket]],
    booked: dict[str, list[Ticket]],
    now: dt.datetime,
) -> _Lists:
    """One set of service levels' lanes (``_Lists.place`` for every ticket, by service)."""
    lists = _Lists(-1, levels, now)
    ranks: tuple[list[str], list[str], list[str]] = ([], [], [])
    booked_lanes: list[list[Ticket]] = []
    for service, level in levels.items():
        if level == "appointment":
            booked_lanes.append(booked.get(service, []))
            continue
        rank = LEVEL_RANK[level]
        ranks[rank].append(service)
        if rank < 2:
            booked_lanes.append(booked.get(service, []))
    backup_booked = [booked.get(s, []) for s in ranks[2]]  # a backup counter calls them as walk-ins
    backup_booked_priority = [[t for t in b if t.priority] for b in backup_booked]
    lists.by_rank = (
        _merge(walk, ranks[0]),
        _merge(walk, ranks[1]),
        _merge(walk, ranks[2], backup_booked),
    )
    lists.fronts = (_merge(fronts, ranks[0] + ranks[1]), _merge(fronts, ranks[2]))
    lists.priority = (
        _merge(prio, ranks[0]),
        _merge(prio, ranks[1]),
        _merge(prio, ranks[2], backup_booked_priority),
    )
    for t in _sorted_merge(booked_lanes):
        (lists.due if is_due(t, now) else lists.early).append(t)
    return lists


_arrival_key = attrgetter("queued_at", "id")


def _merge(
    by_service: dict[str, list[Ticket]], services: list[str], more: list[list[Ticket]] | None = None
) -> list[Ticket]:
    """The tickets of ``services`` (and ``more``) in arrival order: ``by_service`` has each
    service's in arrival order, and every service's together under ""."""
    runs = [by_service[s] for s in services if s in by_service]
    if more and any(more):
        return _sorted_merge(runs + more)
    if len(runs) <= 1:
        return list(runs[0]) if runs else []
    wanted = set(services)
    return [t for t in by_service[""] if t.service in wanted]


def _sorted_merge(runs: list[list[Ticket]]) -> list[Ticket]:
    """Lists each in arrival order, merged in arrival order."""
    runs = [r for r in runs if r]
    if len(runs) == 1:
        return list(runs[0])
    return sorted(chain.from_iterable(runs), key=_arrival_key)


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
        shared: dict[int, Any] | None = None,
    ):
        """``in_arrival_order``: ``waiting`` is already sorted by (queued_at, id); the lanes
        then come from one pass, without sorting (a pool is ordered by level, then arrival).
        ``lists``: the lanes already partitioned (``positions_ahead`` reuses them).
        ``shared``: lanes already made for pickers of one replay from the same pools
        (``partition``: counters that serve the same services at the same levels). A lane's
        first ticket depends only on its tickets and the shared ``taken``, so counters with the
        same pools can share lanes, and their cursors skip each taken ticket once."""
        self.number = number
        self.levels = levels
        if lists is None:
            in_order = waiting if in_arrival_order else sorted(waiting, key=_arrival_key)
            lists = partition(list(in_order), [(number, levels)], now)[number]
        self.targeted = _Lane(lists.targeted)
        made = shared.get(id(lists.by_rank)) if shared is not None else None
        if made is None:
            main = lists.by_rank[0] + lists.by_rank[1]
            pools = [
                (_Lane(main), _Lane(lists.fronts[0]), _Lane(lists.priority[0] + lists.priority[1])),
                (_Lane(lists.by_rank[2]), _Lane(lists.fronts[1]), _Lane(lists.priority[2])),
            ]
            # Where a primary-level newcomer would stand in the main pool and its priority
            # lane (after the primary tickets, before the normal ones): see ``newcomers_ahead``.
            splits = (len(lists.by_rank[0]), len(lists.priority[0]))
            due = _Lane(sorted(lists.due, key=_slot_order))
            early = _Lane(sorted(lists.early, key=_slot_order))
            made = (pools, splits, due, early)
            if shared is not None:
                shared[id(lists.by_rank)] = made
        self.pools: list[tuple[_Lane, _Lane, _Lane]] = made[0]
        self.splits: tuple[int, int] = made[1]
        self.due: _Lane = made[2]
        self.early: _Lane = made[3]

    def pick(self, taken: set[int], counts: Counts, rules: Rules) -> Ticket | None:
        # A lane without tickets is not asked (most offices have no transferred, front or
        # appointment tickets most of the time); the pool lanes are always asked, since a
        # newcomer's view of them (``_Guest``) may hold a ticket they do not.
        if not (self.targeted.items or self.pools[0][1].items or self.due.items):
            # Then, while the main pool has a ticket, ``_walk_in`` on it is the answer.
            everyone, _, priority = self.pools[0]
            best = everyone.first(taken)
            if best is not None:
                if best.priority or not (priority.items or type(priority) is _Guest):
                    return best
                first_priority = priority.first(taken)
                if first_priority is None or not (rules.strict or counts.normals_since_priority >= rules.interleave):
                    return best
                return first_priority
        if self.targeted.items:
            t = self.targeted.first(taken)
            if t is not None:
                return t
        fronts = self.pools[0][1]
        if fronts.items:
            front = fronts.first(taken)
            if front is not None:
                return front
        appointment = self.due.first(taken) if self.due.items else None
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
        return self.early.first(taken) if self.early.items else None

    def _walk_in(self, taken: set[int], counts: Counts, rules: Rules) -> tuple[Ticket | None, bool]:
        """The walk-in Next would call (rules 2, 3, 5, 6), and whether it is a backup one."""
        for from_backup, (everyone, fronts, priority) in enumerate(self.pools):
            best = everyone.first(taken)
            if best is None:
                continue  # no primary/normal ticket waits: the backup pool
            front = fronts.first(taken) if fronts.items else None
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


def _after(picked: Ticket, priority_left: int, due_left: int, counts: Counts) -> Counts:
    """Both counts after calling ``picked`` (the same object when neither changes: most calls)."""
    normals = next_normals(picked, priority_left, counts.normals_since_priority)
    walkins = next_walkins(picked, due_left, counts.walkins_since_appointment)
    if normals == counts.normals_since_priority and walkins == counts.walkins_since_appointment:
        return counts
    return Counts(normals, walkins)


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
    *,
    stamp: Any = None,
    state: Any = None,
    base_state: Any = None,
) -> int:
    """How many tickets Next calls before ``target`` when ``counters`` (number, levels) press
    Next in turn, in the order given, nobody new arrives and the clock stands at ``rules.now``.

    ``waiting`` is every waiting ticket of the office (``target`` among them): the interleave
    counts depend on priority tickets and due appointments waiting anywhere.

    ``stamp`` (the engine's count of changes to waiting tickets) lets a newcomer's estimate
    (``target`` arrived after every other waiting ticket: a new ticket, the services summary)
    come from one replay shared by every estimate at the same state (``newcomers_ahead``).
    ``state`` (a key the caller guarantees changes whenever ``waiting`` or a field of its
    tickets does: the engine's own list of waiting tickets) lets any other ticket's count come
    from one replay to the end shared by every ticket at that state (``replay_order``).
    ``base_state`` (a key the caller guarantees changes whenever ``waiting`` without ``target``
    or a field of its tickets does) spares a newcomer's estimate the check of the waiting
    tickets' identities when the last estimate was made at the same ``base_state``: the ten
    estimates of a services summary check them once.
    Without them Next is replayed for ``target`` alone (``replay_ahead``).
    """
    if stamp is not None and not (target.booked or target.front or target.target_counter is not None):
        ahead = _newcomer_estimate(target, waiting, counters, counts, rules, stamp, base_state)
        if ahead is not None:
            return ahead
    if state is None:
        return replay_ahead(target, waiting, counters, counts, rules)
    # Any other ticket: Next replayed to the end once per state and counter list gives every
    # waiting ticket's count at once (the replay for one ticket is the same replay, stopped
    # when it calls that ticket), so a snapshot listing every position replays once.
    key = (
        state,
        tuple((n, tuple(levels.items())) for n, levels in counters),
        counts,
        (rules.strict, rules.interleave, rules.booked_strict, rules.booked_interleave),
    )
    if _called.get("key") != key:
        _called.clear()
        _called.update(key=key, booked=any(t.booked for t in waiting), orders={})
    orders: dict[Any, tuple[dict[int, int], int]] = _called["orders"]
    when = rules.now if _called["booked"] else None
    if when not in orders:
        orders[when] = replay_order(waiting, counters, counts, rules)
    order, total = orders[when]
    return order.get(target.id, total)


# The last full replay ``positions_ahead`` made: each ticket's place in Next's order.
_called: dict[str, Any] = {}


def replay(
    waiting: Sequence[Ticket],
    counters: Sequence[tuple[int, dict[str, str]]],
    counts: Counts,
    rules: Rules,
) -> Iterator[Ticket]:
    """The tickets Next calls when ``counters`` press it in turn, in the order given, nobody
    new arrives and the clock stands at ``rules.now``, until a round calls nobody."""
    in_order = sorted(waiting, key=_arrival)
    lists = partition(in_order, counters, rules.now)
    shared: dict[int, Any] = {}
    pickers = [Picker(n, levels, (), rules.now, lists=lists[n], shared=shared) for n, levels in counters]
    taken: set[int] = set()
    priority_left = sum(1 for t in waiting if t.priority)
    due_left = sum(1 for t in waiting if is_due(t, rules.now))
    progressed = True
    while progressed:
        progressed = False
        for picker in pickers:
            t = picker.pick(taken, counts, rules)
            if t is None:
                continue
            yield t
            progressed = True
            taken.add(t.id)
            if t.priority:
                priority_left -= 1
            if t.booked and is_due(t, rules.now):
                due_left -= 1
            counts = _after(t, priority_left, due_left, counts)


def replay_order(
    waiting: Sequence[Ticket],
    counters: Sequence[tuple[int, dict[str, str]]],
    counts: Counts,
    rules: Rules,
) -> tuple[dict[int, int], int]:
    """Next replayed until nobody calls anything: how many tickets are called before each
    ticket it calls (by id), and how many it calls in all (the count for one it never calls)."""
    order = {t.id: i for i, t in enumerate(replay(waiting, counters, counts, rules))}
    return order, len(order)


def replay_ahead(
    target: Ticket,
    waiting: Sequence[Ticket],
    counters: Sequence[tuple[int, dict[str, str]]],
    counts: Counts,
    rules: Rules,
) -> int:
    """``positions_ahead`` by the definition: replay Next until it calls ``target``. If these
    counters never call it (cannot happen for a counter list built by the engine), every
    ticket they call is ahead."""
    ahead = 0
    for t in replay(waiting, counters, counts, rules):
        if t is target:
            return ahead
        ahead += 1
    return ahead


@dataclass(frozen=True, eq=False)
class Newcomer:
    """A walk-in who arrives after every waiting ticket: whom an estimate is about."""

    id: int
    service: str
    priority: bool
    queued_at: dt.datetime
    booked: bool = False
    front: bool = False
    slot_start: dt.datetime | None = None
    target_counter: int | None = None


class _Guest(_Lane):
    """A lane as it would be with ``guest`` standing before index ``at`` (for one pick)."""

    __slots__ = ("guest", "at")

    def __init__(self, lane: _Lane, guest: Ticket, at: int):
        super().__init__(lane.items)
        self.i, self.guest, self.at = lane.i, guest, at

    def first(self, taken: set[int]) -> Ticket | None:
        t = _Lane.first(self, taken)
        return self.guest if t is None or self.i >= self.at else t


# (pool, index in the pool's lane, index in its priority lane or -1): where a newcomer stands.
_Slot = tuple[int, int, int]


def _slot(picker: Picker, service: str, priority: bool) -> _Slot | None:
    level = picker.levels.get(service)
    if level is None or level == "appointment":
        return None
    rank = LEVEL_RANK[level]
    pool = int(rank == 2)
    everyone, _, prio = picker.pools[pool]
    at = picker.splits[0] if rank == 0 else len(everyone.items)
    at_priority = (picker.splits[1] if rank == 0 else len(prio.items)) if priority else -1
    return pool, at, at_priority


def _reached(picker: Picker, slot: _Slot, taken: set[int]) -> bool:
    """Whether a newcomer at ``slot`` is first in one of its lanes at this counter: only then
    can it change what the counter calls. Once true it stays true (lanes only shrink)."""
    pool, at, at_priority = slot
    if pool == 1 and picker.pools[0][0].first(taken) is not None:
        return False  # the backup pool is not looked at while the main pool has tickets
    everyone, _, prio = picker.pools[pool]
    # A cursor short of ``at`` whose ticket is not taken is where ``first`` would leave it.
    if everyone.i < at and everyone.items[everyone.i].id in taken:
        everyone.first(taken)
    if everyone.i >= at:
        return True
    if at_priority < 0:
        return False
    if prio.i < at_priority and prio.items[prio.i].id in taken:
        prio.first(taken)
    return prio.i >= at_priority


def _with_guest(picker: Picker, guest: Ticket, slot: _Slot) -> Picker:
    pool, at, at_priority = slot
    view = copy.copy(picker)
    everyone, fronts, prio = picker.pools[pool]
    view.pools = list(picker.pools)
    view.pools[pool] = (
        _Guest(everyone, guest, at),
        fronts,
        _Guest(prio, guest, at_priority) if at_priority >= 0 else prio,
    )
    return view


def newcomers_ahead(
    newcomers: Sequence[Newcomer],
    in_order: Sequence[Ticket],
    lists: dict[int, _Lists],
    counters: Sequence[tuple[int, dict[str, str]]],
    counts: Counts,
    rules: Rules,
    *,
    resume: tuple[Checkpoint, Ticket, dict[int, tuple[int | None, int]]] | None = None,
    keep: list[Checkpoint] | None = None,
    decided: list[int] | None = None,
) -> list[int | None]:
    """``positions_ahead`` for each newcomer (each alone, after every ticket of ``in_order``,
    the waiting tickets in arrival order), from one replay of Next over ``in_order``.

    Until a newcomer is first in one of its lanes at the counter whose turn it is, Next calls
    exactly what it calls without it (the priority count differs only once no other priority
    ticket waits, when it no longer matters). From then on, at each of those turns, the pick
    is made once more with the newcomer in its lanes: the newcomer itself ends its count; the
    same ticket goes on; another one (possible only with due appointments) gives None, and
    the caller replays for that newcomer alone.

    ``keep``: receives the replay's state at the first turn where a newcomer who is not a
    priority one is first in one of its lanes; ``decided``: the turn at which each newcomer's
    answer was found. ``resume`` (that state, kept by the replay of ``in_order`` without its
    last ticket; that last ticket, a walk-in without priority; and the answers found before
    that turn, by newcomer): the replay up to that turn is the same with the late ticket (it
    stands where a newcomer of its service stood, so it is reached no earlier), and so is
    every answer found before it; this replay starts there (``order_resume``).
    """
    shared: dict[int, Any] = {}
    pickers = [Picker(n, levels, (), rules.now, lists=lists[n], shared=shared) for n, levels in counters]
    guests = [cast("Ticket", g) for g in newcomers]
    watch: list[list[tuple[_Slot, list[int]]]] = []
    for picker in pickers:
        by_slot: dict[_Slot, list[int]] = {}
        for k, g in enumerate(newcomers):
            slot = _slot(picker, g.service, g.priority)
            if slot is not None:
                by_slot.setdefault(slot, []).append(k)
        watch.append(list(by_slot.items()))
    reached: list[set[_Slot]] = [set() for _ in pickers]
    out: list[int | None] = [None] * len(newcomers)
    open_ = set(range(len(newcomers)))
    taken: set[int] = set()
    priority_left = due_left = 0
    # The priority count as it would be with one more priority ticket waiting.
    shadow = counts.normals_since_priority
    ahead = 0
    start, progressed, step = 0, False, 0
    when = decided if decided is not None else [0] * len(newcomers)
    if resume is None:
        priority_left = sum(1 for t in in_order if t.priority)
        due_left = sum(1 for t in in_order if is_due(t, rules.now))
    else:
        cp, late, prior = resume
        assert not late.priority
        restore(cp, late, pickers)
        taken, ahead, shadow, due_left = set(cp.taken), cp.ahead, cp.shadow, cp.due_left
        start, progressed, step = cp.turn, cp.progressed, cp.step
        priority_left, counts = cp.priority_left, cp.counts
        for k, (answer, at) in prior.items():
            out[k], when[k] = answer, at
            open_.discard(k)
    while open_:
        for c in range(start, len(pickers)):
            picker = pickers[c]
            step += 1
            t = picker.pick(taken, counts, rules)
            for slot, members in watch[c]:
                if slot not in reached[c]:
                    if not _reached(picker, slot, taken):
                        continue
                    reached[c].add(slot)
                    if keep is not None and not keep and slot[2] < 0:
                        state = (taken, counts, ahead, shadow, priority_left, due_left)
                        keep.append(capture(pickers, *state, c, progressed, step - 1))
                for k in members:
                    if k not in open_:
                        continue
                    guest = guests[k]
                    as_if = Counts(shadow, counts.walkins_since_appointment) if guest.priority else counts
                    picked = _with_guest(picker, guest, slot).pick(taken, as_if, rules)
                    if picked is guest:
                        out[k], when[k] = ahead, step
                        open_.discard(k)
                    elif picked is not t:
                        when[k] = step
                        open_.discard(k)  # out[k] stays None: replay this one
            if t is None:
                continue
            progressed = True
            taken.add(t.id)
            ahead += 1
            if t.priority:
                priority_left -= 1
            if t.booked and is_due(t, rules.now):
                due_left -= 1
            shadow = next_normals(t, priority_left + 1, shadow)
            counts = _after(t, priority_left, due_left, counts)
        if not progressed:
            for k in open_:
                out[k], when[k] = ahead, step
            break
        start, progressed = 0, False
    return out


# The last state ``positions_ahead`` estimated newcomers at, and what it found there.
_memo: dict[str, Any] = {"key": None}


def _newcomer_estimate(
    target: Ticket,
    waiting: Sequence[Ticket],
    counters: Sequence[tuple[int, dict[str, str]]],
    counts: Counts,
    rules: Rules,
    stamp: Any,
    base_state: Any = None,
) -> int | None:
    """``target``'s position from the shared replay, or None when it is not a newcomer
    (or the shared replay could not tell)."""
    by_rules = (rules.strict, rules.interleave, rules.booked_strict, rules.booked_interleave)
    quick = None if base_state is None else (stamp, base_state, counts, by_rules)
    if quick is None or _memo.get("quick") != quick:
        _remember_base(target, waiting, counts, stamp, by_rules)
        _memo["quick"] = quick
    if _memo["latest"] is not None and _arrival(target) <= _memo["latest"]:
        return None
    booked: bool = _memo["booked"]
    # Without appointments neither the clock nor the newcomer's own arrival changes a count.
    when = (rules.now, target.queued_at, target.id) if booked else ()
    callers = tuple((n, tuple(levels.items())) for n, levels in counters)
    results: dict[Any, int | None] = _memo["by_counters"].setdefault(callers, {})
    wanted = (target.service, target.priority, *when)
    if wanted not in results:
        late, kept = _memo.get("late"), _memo.get("kept_before", {}).get(callers)
        before = _memo.get("lists_before", {}).get(callers)
        lists = (
            _plus(before, late)
            if before is not None and late is not None
            else partition(_memo["in_order"], counters, rules.now)
        )
        _memo["lists"][callers] = lists
        services = sorted({s for _, levels in counters for s, level in levels.items() if level != "appointment"})
        services = services if target.service in services else [*services, target.service]
        newcomers = [Newcomer(target.id, s, p, target.queued_at) for s in services for p in (False, True)]
        # After an issue: the previous state's replay, kept where it first reached a
        # newcomer, goes on with the new ticket if a newcomer of its service was watched.
        resume = None
        if kept is not None and late is not None:
            cp, before = kept
            if (late.service, False) in before:  # a newcomer of its service was watched there
                prior = {
                    k: before[(g.service, g.priority)]
                    for k, g in enumerate(newcomers)
                    if (g.service, g.priority) in before and before[(g.service, g.priority)][1] <= cp.step
                }
                resume = (cp, late, prior)
        keep: list[Checkpoint] = []
        decided = [0] * len(newcomers)
        found = newcomers_ahead(
            newcomers, _memo["in_order"], lists, counters, counts, rules, resume=resume, keep=keep, decided=decided
        )
        if keep and not booked:
            pairs = [(g.service, g.priority) for g in newcomers]
            _memo["kept"][callers] = (keep[0], dict(zip(pairs, zip(found, decided, strict=True), strict=True)))
        for g, ahead in zip(newcomers, found, strict=True):
            results[(g.service, g.priority, *when)] = ahead
    return results[wanted]


def _plus(lists: dict[int, _Lists], late: Ticket) -> dict[int, _Lists]:
    """``partition`` of the same tickets and ``late``, a walk-in who arrived after all of them
    (not transferred): each shared set of lanes copied once with it placed."""
    made: dict[int, _Lists] = {}
    out: dict[int, _Lists] = {}
    for n, own in lists.items():
        common = made.get(id(own.by_rank))
        if common is None:
            common = made[id(own.by_rank)] = own.plus(late)
        out[n] = common.sharing(n, own.targeted)
    return out


def _remember_base(target: Ticket, waiting: Sequence[Ticket], counts: Counts, stamp: Any, by_rules: Any) -> None:
    """Start ``_memo`` afresh unless it was made for the same waiting tickets besides ``target``."""
    base = [t for t in waiting if t is not target]
    state = (stamp, tuple(map(id, base)), counts, by_rules)
    if _memo["key"] != state:
        # One walk-in more than the last state, arrived after every other ticket, and no
        # appointment waiting (the clock then changes nothing): the replays kept there go on.
        old, late = _memo.get("key"), base[-1] if base else None
        later = (
            old is not None
            and late is not None
            and not _memo["booked"]
            and (old[0], old[2], old[3]) == (stamp, counts, by_rules)
            and state[1][:-1] == old[1]
            and not (late.priority or late.booked or late.front or late.target_counter is not None)
            and (_memo["latest"] is None or _arrival(late) > _memo["latest"])
        )
        if later:
            in_order = [*_memo["in_order"], late]
            kept_before, lists_before = _memo["kept"], _memo["lists"]
        else:
            in_order, late, kept_before, lists_before = sorted(base, key=_arrival_key), None, {}, {}
        _memo.clear()
        _memo.update(
            key=state,
            base=base,  # keeps the tickets alive: the ids in the key stay theirs
            in_order=in_order,
            latest=_arrival(in_order[-1]) if in_order else None,
            booked=False if later else any(t.booked for t in base),
            by_counters={},
            late=late,
            kept_before=kept_before,
            kept={},
            lists_before=lists_before,
            lists={},
        )
