"""One position for a citizen: ``people_ahead`` is the number of tickets Next really calls first.

For random queues (priority tickets, the priority rule, tickets sent to the front or to one
counter by a transfer, some counters open, some paused), each waiting ticket's position is
taken, then — on a copy of the engine — the counters that can call it press Next in turn and
nothing else happens; the count of tickets called before it must equal the position it was
given. With one counter this is exactly what the office will see.
"""

from __future__ import annotations

import copy
import datetime as dt
import os
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from queue_server.config import Config, parse_config
from queue_server.engine import CounterState, Engine, Ticket, TicketState

EXAMPLES = int(os.environ.get("MOTCUA_PROPERTY_EXAMPLES", "120"))
T0 = dt.datetime(2026, 11, 2, 1, 0, tzinfo=dt.UTC)


def office(rule: str, interleave: int, one_counter: bool) -> Config:
    services = [
        {"code": "CT", "name": "Chứng thực", "range": [1001, 1999]},
        {"code": "HT", "name": "Hộ tịch", "range": [2001, 2999]},
        {"code": "TKQ", "name": "Trả kết quả", "range": [5001, 5999]},
    ]
    counters = [{"number": 1, "name": "Quầy 1", "services": {"CT": "primary", "TKQ": "backup", "HT": "normal"}}]
    if not one_counter:
        counters += [
            {"number": 2, "name": "Quầy 2", "services": {"CT": "primary", "HT": "backup"}},
            {"number": 3, "name": "Quầy 3", "services": {"HT": "primary", "CT": "normal"}},
            {"number": 4, "name": "Quầy 4", "services": {"TKQ": "primary"}},
        ]
    return parse_config(
        {
            "office": {"name": "Phường thử", "enforce_hours": False},
            "queue": {"priority_rule": rule, "interleave": interleave},
            "services": services,
            "counters": counters,
        }
    )


def called_before(engine: Engine, target: Ticket, now: dt.datetime) -> int:
    """Let the counters that can call ``target`` press Next in turn, on a copy: how many
    tickets are called before it?"""
    sim = copy.deepcopy(engine)
    callers = [n for n, _ in engine._callers(target)]
    for n in callers:
        c = sim.counters[n]
        if c.state is CounterState.CLOSED:
            sim.sign_on(now, n, f"sim{n}")
        elif c.state is CounterState.PAUSED:
            sim.resume(now, n, c.staff)
    count = 0
    while True:
        progressed = False
        for n in callers:
            now += dt.timedelta(seconds=1)
            sim.call_next(now, n, sim.counters[n].staff)
            held = sim.counters[n].ticket_id
            if held is None:
                continue
            if held == target.id:
                return count
            count += 1
            progressed = True
        assert progressed, "the counters that can call this ticket never call it"


@settings(max_examples=EXAMPLES, deadline=None)
@given(
    rule=st.sampled_from(("strict", "interleave")),
    interleave=st.integers(0, 3),
    one_counter=st.booleans(),
    arrivals=st.lists(st.tuples(st.sampled_from(("CT", "HT", "TKQ")), st.booleans()), min_size=1, max_size=14),
    opened=st.sets(st.integers(1, 4), max_size=4),
    paused=st.sets(st.integers(1, 4), max_size=2),
    transfers=st.lists(st.tuples(st.integers(1, 4), st.sampled_from(("CT", "HT", "TKQ", 1, 2, 3, 4))), max_size=3),
    normals=st.integers(0, 3),
)
def test_people_ahead_is_the_number_next_calls_first(
    rule: str,
    interleave: int,
    one_counter: bool,
    arrivals: list[tuple[str, bool]],
    opened: set[int],
    paused: set[int],
    transfers: list[tuple[int, Any]],
    normals: int,
) -> None:
    config = office(rule, interleave, one_counter)
    numbers = [c.number for c in config.counters]
    now = T0
    engine = Engine(config, now)
    for i, (service, priority) in enumerate(arrivals):
        now += dt.timedelta(seconds=10)
        engine.issue(now, service=service, priority=priority, token=f"t{i:021d}")
    for n in sorted(opened & set(numbers)):
        engine.sign_on(now, n, f"clerk{n}")
    # Transfers: a counter calls a ticket and sends it to a service (front) or a counter.
    for n, target in transfers:
        if n not in numbers or engine.counters[n].state is not CounterState.OPEN:
            continue
        now += dt.timedelta(seconds=10)
        engine.call_next(now, n, f"clerk{n}")
        if engine.counters[n].ticket_id is None:
            continue
        if isinstance(target, int):
            if target in numbers and target != n:
                engine.transfer(now, n, f"clerk{n}", to_counter=target)
        else:
            engine.transfer(now, n, f"clerk{n}", service=target)
    for n in sorted(paused & set(numbers)):
        c = engine.counters[n]
        if c.state is CounterState.OPEN and c.ticket_id is None:
            engine.pause(now, n, c.staff, "Nghỉ giải lao")
    engine.normals_since_priority = normals
    now += dt.timedelta(seconds=10)
    for t in [t for t in engine.tickets.values() if t.state is TicketState.WAITING]:
        ahead, wait = engine.position(t)
        assert ahead == called_before(engine, t, now), t.label
        assert wait >= 0


def test_the_issue_case_kiosk_and_status_agree_with_the_order_next_takes() -> None:
    """Interleave 2, one counter: two normal CT tickets, then a priority one. The priority
    ticket is called third, so it is told 2 people ahead, at the kiosk and later."""
    engine = Engine(office("interleave", 2, True), T0)
    engine.sign_on(T0, 1, "an")
    a, _ = engine.issue(T0 + dt.timedelta(seconds=1), service="CT", token="a" * 22)
    b, _ = engine.issue(T0 + dt.timedelta(seconds=2), service="CT", token="b" * 22)
    p, _ = engine.issue(T0 + dt.timedelta(seconds=3), service="CT", token="p" * 22, priority=True)
    assert [t.people_ahead for t in (a, b, p)] == [0, 1, 2]
    assert [engine.position(t)[0] for t in (a, b, p)] == [0, 1, 2]
    engine.call_next(T0 + dt.timedelta(seconds=4), 1, "an")
    assert engine.position(p)[0] == 1  # the estimate moves as the queue moves


@settings(max_examples=EXAMPLES, deadline=None)
@given(
    rule=st.sampled_from(("strict", "interleave")),
    interleave=st.integers(0, 3),
    commands=st.lists(
        st.one_of(
            st.tuples(st.just("issue"), st.sampled_from(("CT", "HT", "TKQ")), st.booleans()),
            st.tuples(st.just("next"), st.integers(1, 4), st.booleans()),
            st.tuples(st.just("transfer"), st.integers(1, 4), st.sampled_from(("CT", "HT", "TKQ", 1, 2, 3, 4))),
            st.tuples(st.just("cancel"), st.integers(0, 30), st.booleans()),
        ),
        max_size=25,
    ),
)
def test_estimates_kept_from_one_command_to_the_next_are_those_made_afresh(
    rule: str, interleave: int, commands: list[tuple[str, Any, Any]]
) -> None:
    """The services summary asks ``estimate`` for every service and priority after every
    command; the engine lets the shared replay's memo skip checking the waiting tickets
    when its own waiting list has not changed (``base_state``), and after an issue the replay
    goes on from the previous one (``order_resume``). After any command, each answer (and
    each waiting ticket's position) equals the one made with the memo cleared."""
    from queue_server import order

    engine = Engine(office(rule, interleave, False), T0)
    now = T0
    for n in (1, 2, 3, 4):
        engine.sign_on(now, n, f"clerk{n}")
    for i, (kind, a, b) in enumerate(commands):
        now += dt.timedelta(seconds=10)
        if kind == "issue":
            engine.issue(now, service=a, priority=b, token=f"t{i:021d}")
        elif kind == "next":
            engine.call_next(now, a, f"clerk{a}")
        elif kind == "transfer" and engine.counters[a].ticket_id is not None and b != a:
            if isinstance(b, int):
                engine.transfer(now, a, f"clerk{a}", to_counter=b)
            else:
                engine.transfer(now, a, f"clerk{a}", service=b)
        elif kind == "cancel":
            waiting = engine.waiting()
            if waiting:
                engine.cancel(now, waiting[a % len(waiting)].id, None)
        asked = {(s, p): engine.estimate(s, p, now) for s in ("CT", "HT", "TKQ") for p in (False, True)}
        # Every waiting ticket's position too, after some commands (b), not after others: a
        # position asked between two commands changes what the memo holds when the next comes.
        positions = {t.id: engine.position(t, now) for t in engine.waiting()} if b else {}
        # The answers made afresh, leaving the memo as the commands left it.
        memo, called = dict(order._memo), dict(order._called)
        for (s, p), answer in asked.items():
            order._memo.clear()
            order._memo["key"] = None
            assert engine.estimate(s, p, now) == answer, (i, s, p)
        for t in engine.waiting() if b else []:
            order._memo.clear()
            order._memo["key"] = None
            order._called.clear()
            assert engine.position(t, now) == positions[t.id], (i, t.label)
        order._memo.clear()
        order._memo.update(memo)
        order._called.clear()
        order._called.update(called)
