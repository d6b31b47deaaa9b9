"""The order in which Next calls waiting tickets — one definition for calling and for telling.

Part of the pure engine (no I/O, no clock). ``Engine.pick_next`` uses ``Picker`` to choose the
ticket a counter calls; ``positions_ahead`` replays the same picks, counter by counter, to tell
a citizen how many people will be called before them. Because both go through ``Picker.pick``,
the number on the kiosk screen, the printed ticket, the phone page and
``GET /api/tickets/{token}`` is the number of tickets Next would really call first.

The rules Next follows at one counter (README "Queue rules"):

1. tickets transferred to this counter, oldest first;
2. otherwise its pool: tickets of its services not transferred to another counter; the
   primary/normal ones, or the backup ones only when no primary/normal ticket waits;
3. in the pool, tickets sent to the front (transferred to a service) first, oldest first;
4. then the priority rule: "strict" calls a priority ticket whenever one waits;
   "interleave" calls one after at most ``interleave`` normal tickets (an office-wide count);
5. then the level (primary before normal), then arrival (``queued_at``, then id).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .engine import Ticket

LEVEL_RANK = {"primary": 0, "normal": 1, "backup": 2}


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


class Picker:
    """What Next at one counter would call, over and over, from a fixed set of waiting tickets.

    ``taken`` (ticket ids) is shared by the pickers of one simulation: a ticket one counter
    took is gone for the others. Building costs one sort of the counter's pool; each pick after
    that is amortised constant time.
    """

    def __init__(self, number: int, levels: dict[str, str], waiting: Iterable[Ticket]):
        self.number = number
        self.levels = levels
        targeted: list[Ticket] = []
        main: list[Ticket] = []
        backup: list[Ticket] = []
        for t in waiting:
            if t.target_counter == number:
                targeted.append(t)
            elif t.target_counter is None and t.service in levels:
                (backup if levels[t.service] == "backup" else main).append(t)
        arrival = _arrival
        targeted.sort(key=arrival)

        def order(t: Ticket) -> tuple[Any, ...]:
            return (LEVEL_RANK[levels[t.service]], t.queued_at, t.id)

        main.sort(key=order)
        backup.sort(key=order)
        self.targeted = _Lane(targeted)
        self.pools = [
            (_Lane(pool), _Lane(sorted((t for t in pool if t.front), key=arrival)),
             _Lane([t for t in pool if t.priority]))
            for pool in (main, backup)
        ]

    def pick(self, taken: set[int], normals_since_priority: int, strict: bool, interleave: int) -> Ticket | None:
        t = self.targeted.first(taken)
        if t is not None:
            return t
        for everyone, fronts, priority in self.pools:
            best = everyone.first(taken)
            if best is None:
                continue  # no primary/normal ticket waits: the backup pool
            front = fronts.first(taken)
            if front is not None:
                return front
            if best.priority:
                return best
            first_priority = priority.first(taken)
            if first_priority is None:
                return best
            if strict or normals_since_priority >= interleave:
                return first_priority
            return best
        return None


def _arrival(t: Ticket) -> tuple[Any, ...]:
    return (t.queued_at, t.id)


def next_normals(picked: Ticket, priority_left: int, normals_since_priority: int) -> int:
    """The interleave count after calling ``picked``: reset by a priority ticket, else counted
    while a priority ticket is still waiting (``priority_left`` excludes ``picked``)."""
    if picked.priority:
        return 0
    if priority_left > 0:
        return normals_since_priority + 1
    return normals_since_priority


def positions_ahead(target: Ticket, waiting: Sequence[Ticket], counters: Sequence[tuple[int, dict[str, str]]],
                    normals_since_priority: int, strict: bool, interleave: int) -> int:
    """How many tickets Next calls before ``target`` when ``counters`` (number, levels) press
    Next in turn, in the order given, and nobody new arrives.

    ``waiting`` is every waiting ticket of the office (``target`` among them): the interleave
    count depends on priority tickets waiting anywhere.
    """
    pickers = [Picker(n, levels, waiting) for n, levels in counters]
    taken: set[int] = set()
    priority_left = sum(1 for t in waiting if t.priority)
    ahead = 0
    while True:
        progressed = False
        for picker in pickers:
            t = picker.pick(taken, normals_since_priority, strict, interleave)
            if t is None:
                continue
            if t is target:
                return ahead
            progressed = True
            taken.add(t.id)
            ahead += 1
            if t.priority:
                priority_left -= 1
            normals_since_priority = next_normals(t, priority_left, normals_since_priority)
        if not progressed:
            # None of these counters would ever call it (cannot happen for a counter list
            # built by the engine); every ticket they would call is ahead.
            return ahead
