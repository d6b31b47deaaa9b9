"""Routing with appointments and walk-ins mixed, on the pure engine (no event loop).

The rules, from docs/appointments.md ("Routing"), stated here independently:
1. checked in before its slot, an appointment ticket is not called while anything else waits
   for that counter;
2. from its slot's start it is due: "strict" calls a due appointment before any walk-in;
   "interleave N" calls at most N walk-ins in a row while an appointment is due;
3. due appointments among themselves: earlier slot first, then earlier check-in;
4. a counter with the level "appointment" for a service calls only its appointment tickets;
5. Next calls someone whenever someone waits for the counter;
6. positions agree with Next: the people ahead of a ticket are the tickets Next calls before it.
"""

from __future__ import annotations

import copy
import datetime as dt
import os
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from queue_server.config import Config
from queue_server.engine import Engine, Ticket, TicketState
from tests.appointment_support import MONDAY, booking_config

EXAMPLES = int(os.environ.get("MOTCUA_PROPERTY_EXAMPLES", "120"))
START = MONDAY.replace(hour=8, minute=0)
ONE_COUNTER = [
    {"number": 1, "name": "Quầy 1", "services": {"CT": "primary"}},
    {"number": 2, "name": "Quầy 2", "services": {"HT": "primary"}},
]


def config(rule: str = "interleave", interleave: int = 2, counters: list[dict[str, Any]] | None = None) -> Config:
    return booking_config(
        appointments={"rule": rule, "interleave": interleave},
        ct={"early_minutes": 240, "late_minutes": 240},
        counters=counters or ONE_COUNTER,
    )


class Office:
    """The engine with a hand-driven clock and helpers to add tickets."""

    def __init__(self, cfg: Config) -> None:
        self.now = START
        self.engine = Engine(cfg, self.now)
        self.n = 0
        self.engine.sign_on(self.now, 1, "an")

    def walk_in(self, priority: bool = False) -> Ticket:
        self.n += 1
        t, _ = self.engine.issue(self.now, service="CT", token=f"w{self.n:020d}", priority=priority)
        return t

    def booked(self, slot_minutes_from_now: int) -> Ticket:
        self.n += 1
        slot = self.now + dt.timedelta(minutes=slot_minutes_from_now)
        t, _ = self.engine.check_in(
            self.now, service="CT", code=f"C{self.n:05d}", slot_start=slot, token=f"a{self.n:020d}"
        )
        return t

    def advance(self, minutes: int) -> None:
        self.now += dt.timedelta(minutes=minutes)

    def next(self, counter: int = 1) -> Ticket | None:
        before = self.engine.counters[counter].ticket_id
        self.engine.call_next(self.now, counter, self.engine.counters[counter].staff)
        held = self.engine.counters[counter].ticket_id
        return self.engine.tickets[held] if held is not None and held != before else None


def due(t: Ticket, now: dt.datetime) -> bool:
    return t.booked and t.slot_start is not None and t.slot_start <= now


# ---------------------------------------------------------------------- a table of cases


def test_strict_calls_a_due_appointment_before_earlier_walk_ins():
    o = Office(config("strict"))
    w1, w2 = o.walk_in(), o.walk_in()
    a = o.booked(0)
    assert [o.next(), o.next(), o.next()] == [a, w1, w2]


def test_interleave_two_calls_at_most_two_walk_ins_before_a_due_appointment():
    o = Office(config("interleave", 2))
    walk = [o.walk_in() for _ in range(4)]
    a = o.booked(0)
    assert [o.next() for _ in range(5)] == [walk[0], walk[1], a, walk[2], walk[3]]


def test_a_walk_in_who_came_after_the_slot_started_goes_after_the_appointment():
    o = Office(config("interleave", 2))
    a = o.booked(0)
    o.advance(1)
    w = o.walk_in()
    assert [o.next(), o.next()] == [a, w]


def test_an_early_check_in_waits_for_its_slot_while_walk_ins_wait():
    o = Office(config("strict"))
    a = o.booked(20)
    w1, w2 = o.walk_in(), o.walk_in()
    assert o.next() == w1
    o.advance(20)  # the slot starts: now it goes first
    assert [o.next(), o.next()] == [a, w2]


def test_an_early_appointment_is_served_when_nobody_else_waits():
    o = Office(config("strict"))
    a = o.booked(30)
    assert o.next() == a


def test_due_appointments_go_by_slot_then_check_in():
    o = Office(config("strict"))
    late_slot = o.booked(5)
    first_slot = o.booked(0)
    same_slot = o.booked(0)
    o.advance(10)
    assert [o.next(), o.next(), o.next()] == [first_slot, same_slot, late_slot]


def test_an_appointment_counter_calls_only_appointments():
    counters = [
        {"number": 1, "name": "Quầy hẹn", "services": {"CT": "appointment"}},
        {"number": 2, "name": "Quầy 2", "services": {"CT": "primary"}},
    ]
    o = Office(config("interleave", 2, counters))
    w = o.walk_in()
    assert o.next() is None
    a = o.booked(0)
    assert o.next() == a
    o.engine.sign_on(o.now, 2, "binh")
    assert o.next(2) == w


def test_the_appointment_level_is_valid_config_and_unknown_levels_are_not():
    from queue_server.errors import ConfigError

    config("strict", 0, [{"number": 1, "name": "Quầy hẹn", "services": {"CT": "appointment"}}])
    with pytest.raises(ConfigError):
        config("strict", 0, [{"number": 1, "name": "Quầy 1", "services": {"CT": "appointments"}}])


# ---------------------------------------------------------------------- properties

STEPS = st.lists(
    st.one_of(
        st.tuples(st.just("walk"), st.booleans()),
        st.tuples(st.just("book"), st.sampled_from([-30, -15, 0, 0, 15, 30])),
        st.tuples(st.just("wait"), st.integers(1, 15)),
        st.tuples(st.just("next"), st.just(0)),
    ),
    min_size=1,
    max_size=40,
)
RULES = st.sampled_from([("strict", 0), ("interleave", 0), ("interleave", 1), ("interleave", 2), ("interleave", 3)])


@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(rule=RULES, steps=STEPS)
def test_next_follows_the_appointment_rules_in_any_mix(rule: tuple[str, int], steps: list[tuple[str, Any]]):
    name, n = rule
    o = Office(config(name, n))
    run = 0  # walk-ins called in a row while an appointment was due
    for kind, arg in steps:
        if kind == "walk":
            o.walk_in(priority=arg)
        elif kind == "book":
            o.booked(arg)
        elif kind == "wait":
            o.advance(arg)
        else:
            waiting = [t for t in o.engine.waiting() if t.service == "CT"]
            due_now = [t for t in waiting if due(t, o.now)]
            walk_ins = [t for t in waiting if not t.booked]
            called = o.next()
            # 5. someone is called whenever someone waits
            assert (called is None) == (not waiting)
            if called is None:
                continue
            if called.booked and not due(called, o.now):
                # 1. an early appointment only when nothing else waits
                assert not due_now and not walk_ins
            if due_now:
                if name == "strict":
                    assert called.booked and due(called, o.now)  # 2. strict
                if called.booked and due(called, o.now):
                    # 3. the earliest slot, then the earliest check-in
                    first = min(due_now, key=lambda t: (t.slot_start, t.queued_at, t.id))
                    assert called is first
                    run = 0
                else:
                    run += 1
                    assert run <= n, f"{run} walk-ins in a row while an appointment was due"
            elif called.booked:
                run = 0


@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(rule=RULES, steps=STEPS)
def test_people_ahead_is_the_number_next_calls_first(rule: tuple[str, int], steps: list[tuple[str, Any]]):
    name, n = rule
    o = Office(config(name, n))
    for kind, arg in steps:
        if kind == "walk":
            o.walk_in(priority=arg)
        elif kind == "book":
            o.booked(arg)
        elif kind == "wait":
            o.advance(arg)
        else:
            o.next()
    waiting = [t for t in o.engine.waiting() if t.service == "CT"]
    told = {t.id: o.engine.position(t, o.now)[0] for t in waiting}
    # Replay Next on a copy, with no new arrivals and the clock standing still.
    replay = copy.deepcopy(o)
    order = []
    while True:
        t = replay.next()
        if t is None:
            break
        order.append(t.id)
        replay.engine.finish(replay.now, 1, replay.engine.counters[1].staff)
    assert {tid: order.index(tid) for tid in told} == told
    assert all(o.engine.tickets[tid].state is TicketState.WAITING for tid in told)
