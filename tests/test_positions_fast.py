"""The counts from a shared replay equal the replay for each ticket alone.

``order.positions_ahead`` answers every estimate about a ticket that arrives after every
waiting one (a new ticket, each service's estimate in the services summary) from one replay
of Next shared by all of them (``order.newcomers_ahead``). On random queues — priority tickets,
both priority rules, tickets sent to the front or to one counter, appointment tickets due or
early, both appointment rules, counters at every level, random interleave counts — each of
those answers must equal ``order.replay_ahead``: Next replayed until it calls that ticket.
So must every waiting ticket's count taken from one replay to the end (``order.replay_order``).
"""

from __future__ import annotations

import datetime as dt
import itertools
import os

from hypothesis import example, given, settings
from hypothesis import strategies as st

from queue_server.engine import Ticket, TicketState
from queue_server.order import Counts, Rules, _Lists, partition, positions_ahead, replay_ahead

EXAMPLES = int(os.environ.get("MOTCUA_PROPERTY_EXAMPLES", "120"))
T0 = dt.datetime(2026, 11, 2, 1, 0, tzinfo=dt.UTC)
SERVICES = ("CT", "HT", "DD")
STATES = itertools.count()
LEVELS = ("primary", "normal", "backup", "appointment")

levels_st = st.dictionaries(st.sampled_from(SERVICES), st.sampled_from(LEVELS), min_size=1, max_size=3)
ticket_st = st.tuples(
    st.sampled_from(SERVICES),
    st.booleans(),  # priority
    st.integers(0, 9),  # 0: sent to the front, 1: sent to a counter, 2-3: appointment, else walk-in
    st.integers(-30, 30),  # the appointment's slot start, minutes from now
    st.integers(0, 3),  # ties in arrival
)


def ticket(i: int, spec: tuple[str, bool, int, int, int], counters: list[int]) -> Ticket:
    service, priority, kind, slot, tie = spec
    queued = T0 - dt.timedelta(minutes=60 - 3 * (i // (tie + 1)))
    booked = kind in (2, 3)
    return Ticket(
        id=i + 1,
        day="2026-11-02",
        service=service,
        number=i + 1,
        label=f"{service}{i + 1}",
        priority=priority and not booked,
        token=f"t{i:021d}",
        state=TicketState.WAITING,
        issued_at=queued,
        queued_at=queued,
        front=kind == 0,
        target_counter=counters[i % len(counters)] if kind == 1 else None,
        booked=booked,
        slot_start=T0 + dt.timedelta(minutes=slot) if booked else None,
    )


@settings(max_examples=EXAMPLES * 3, deadline=None)
@given(
    counters=st.lists(levels_st, min_size=1, max_size=4),
    specs=st.lists(ticket_st, max_size=25),
    strict=st.booleans(),
    interleave=st.integers(0, 3),
    booked_strict=st.booleans(),
    booked_interleave=st.integers(0, 3),
    normals=st.integers(0, 3),
    walkins=st.integers(0, 3),
    newcomer=st.tuples(st.sampled_from(SERVICES), st.booleans()),
    callers=st.sets(st.integers(0, 3), min_size=1),
    stamp=st.integers(0, 2),
)
def test_the_shared_replay_gives_each_newcomer_the_replay_of_its_own(
    counters: list[dict[str, str]],
    specs: list[tuple[str, bool, int, int, int]],
    strict: bool,
    interleave: int,
    booked_strict: bool,
    booked_interleave: int,
    normals: int,
    walkins: int,
    newcomer: tuple[str, bool],
    callers: set[int],
    stamp: int,
) -> None:
    numbers = list(range(1, len(counters) + 1))
    office = list(zip(numbers, counters, strict=True))
    chosen = [office[i] for i in sorted(callers) if i < len(office)] or office
    waiting = [ticket(i, spec, numbers) for i, spec in enumerate(specs)]
    rules = Rules(strict, interleave, booked_strict, booked_interleave, T0)
    counts = Counts(normals, walkins)
    service, priority = newcomer
    new = Ticket(
        id=len(waiting) + 1,
        day="2026-11-02",
        service=service,
        number=999,
        label="N",
        priority=priority,
        token="n" * 22,
        state=TicketState.WAITING,
        issued_at=T0,
        queued_at=T0,
        front=False,
    )
    everyone = [*waiting, new]
    expected = replay_ahead(new, everyone, chosen, counts, rules)
    assert positions_ahead(new, everyone, chosen, counts, rules, stamp=stamp) == expected
    # Asked again at the same state (the answer now comes from the shared replay's memo),
    # and for every other service and priority there: each the replay of its own.
    assert positions_ahead(new, everyone, chosen, counts, rules, stamp=stamp) == expected
    for other in SERVICES:
        for p in (False, True):
            new.service, new.priority = other, p
            assert positions_ahead(new, everyone, chosen, counts, rules, stamp=stamp) == replay_ahead(
                new, everyone, chosen, counts, rules
            ), (other, p)


@settings(max_examples=EXAMPLES, deadline=None)
@given(
    counters=st.lists(levels_st, min_size=1, max_size=4),
    specs=st.lists(ticket_st, min_size=1, max_size=25),
    strict=st.booleans(),
    interleave=st.integers(0, 3),
    booked_interleave=st.integers(0, 3),
    normals=st.integers(0, 3),
)
def test_one_replay_to_the_end_gives_every_ticket_the_replay_of_its_own(
    counters: list[dict[str, str]],
    specs: list[tuple[str, bool, int, int, int]],
    strict: bool,
    interleave: int,
    booked_interleave: int,
    normals: int,
) -> None:
    numbers = list(range(1, len(counters) + 1))
    office = list(zip(numbers, counters, strict=True))
    waiting = [ticket(i, spec, numbers) for i, spec in enumerate(specs)]
    rules = Rules(strict, interleave, False, booked_interleave, T0)
    counts = Counts(normals, 0)
    state = next(STATES)  # a key of this example's waiting tickets, as the engine keeps one
    for t in waiting:
        expected = replay_ahead(t, waiting, office, counts, rules)
        assert positions_ahead(t, waiting, office, counts, rules, stamp=0, state=state) == expected


@settings(max_examples=EXAMPLES, deadline=None)
@given(
    counters=st.lists(levels_st, min_size=1, max_size=4),
    specs=st.lists(ticket_st, max_size=25),
    fronts=st.sets(st.integers(0, 24)),
)
def test_the_lanes_merged_by_service_are_the_lanes_placed_ticket_by_ticket(
    counters: list[dict[str, str]], specs: list[tuple[str, bool, int, int, int]], fronts: set[int]
) -> None:
    """``order.partition`` (one pass by service, then merges) gives each counter the lanes
    ``_Lists.build`` gives it by placing every waiting ticket in arrival order."""
    numbers = list(range(1, len(counters) + 1))
    office = list(zip(numbers, counters, strict=True))
    waiting = [ticket(i, spec, numbers) for i, spec in enumerate(specs)]
    for i in fronts & set(range(len(waiting))):
        waiting[i].front = True  # also an appointment ticket sent to a service's front
    in_order = sorted(waiting, key=lambda t: (t.queued_at, t.id))
    merged = partition(in_order, office, T0)

    def lanes(lists: _Lists) -> list[list[int]]:
        all_ = [lists.targeted, *lists.by_rank, *lists.fronts, *lists.priority, lists.due, lists.early]
        return [[t.id for t in lane] for lane in all_]

    for n, levels in office:
        assert lanes(merged[n]) == lanes(_Lists.build(n, levels, in_order, T0)), n


@settings(max_examples=EXAMPLES * 3, deadline=None)
@given(
    counters=st.lists(levels_st, min_size=1, max_size=4),
    specs=st.lists(ticket_st, max_size=20),
    arrivals=st.lists(st.tuples(st.sampled_from(SERVICES), st.booleans()), min_size=1, max_size=6),
    strict=st.booleans(),
    interleave=st.integers(0, 3),
    normals=st.integers(0, 3),
    callers=st.sets(st.integers(0, 3), min_size=1),
)
@example(
    # Counter 2 is first in HT's priority lane once HT_p is called, while counter 1's CT_y
    # was called with no other priority ticket waiting: a priority ticket issued then is
    # called at once only if CT_y counted towards the interleave (the shadow count). (A
    # priority ticket's issue is replayed afresh; this keeps it so.)
    counters=[{"CT": "primary"}, {"HT": "primary"}],
    specs=[("HT", True, 5, 0, 0), ("HT", False, 5, 0, 0), ("HT", False, 5, 0, 0)]
    + [("CT", False, 5, 0, 0), ("CT", False, 5, 0, 0)],
    arrivals=[("HT", True)],
    strict=False,
    interleave=1,
    normals=0,
    callers={0, 1},
)
def test_a_replay_kept_from_before_an_issue_goes_on_as_one_made_afresh(
    counters: list[dict[str, str]],
    specs: list[tuple[str, bool, int, int, int]],
    arrivals: list[tuple[str, bool]],
    strict: bool,
    interleave: int,
    normals: int,
    callers: set[int],
) -> None:
    """Tickets issued one after another: each state's estimates come from the previous
    state's replay, gone on from where it first reached a newcomer (``order_resume``); each
    must equal Next replayed afresh for that newcomer."""
    numbers = list(range(1, len(counters) + 1))
    office = list(zip(numbers, counters, strict=True))
    chosen = [office[i] for i in sorted(callers) if i < len(office)] or office
    waiting = [ticket(i, spec, numbers) for i, spec in enumerate(specs)]
    rules = Rules(strict, interleave, False, 0, T0 + dt.timedelta(hours=1))
    counts = Counts(normals, 0)
    stamp = ("kept", next(STATES))  # nothing changes but arrivals: one stamp for the example
    for j, (service, priority) in enumerate([*arrivals, arrivals[0]]):
        at = T0 + dt.timedelta(minutes=2 * j + 1)
        for other in SERVICES:
            for p in (False, True):
                new = Ticket(
                    id=1000 + j,
                    day="2026-11-02",
                    service=other,
                    number=999,
                    label="N",
                    priority=p,
                    token="n" * 22,
                    state=TicketState.WAITING,
                    issued_at=at,
                    queued_at=at,
                )
                everyone = [*waiting, new]
                assert positions_ahead(new, everyone, chosen, counts, rules, stamp=stamp) == replay_ahead(
                    new, everyone, chosen, counts, rules
                ), (j, other, p)
        issued = at + dt.timedelta(seconds=30)
        waiting.append(
            Ticket(
                id=500 + j,
                day="2026-11-02",
                service=service,
                number=500 + j,
                label=f"{service}{500 + j}",
                priority=priority,
                token=f"i{j:021d}",
                state=TicketState.WAITING,
                issued_at=issued,
                queued_at=issued,
            )
        )
