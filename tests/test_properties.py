"""Property-based tests: random command sequences from many counters, first against the pure
engine (no event loop), then — shorter — against a live server through its HTTP API.

Invariants checked after every command:
- a ticket is held by at most one counter, a counter holds at most one ticket, and a held
  ticket is called/serving *at that counter* (and every called/serving ticket is held);
- a clerk holds at most one open counter; a paused or closed counter holds nothing;
- ticket numbers are unique per day; today's counts add up (issued = sum over states);
- tickets only move along the state machine, and a refused command changes nothing;
- Next calls a ticket this counter may take (transferred to it first; backup level only when
  nothing else waits), and calls one whenever there is one.
The full order Next follows is stated independently, as a table of cases written from
README's queue rules (``NEXT_CASES``), not as a copy of ``Engine.pick_next``.
"""

from __future__ import annotations

import copy
import datetime as dt
import os
from collections import Counter as Tally
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from queue_server.config import Config
from queue_server.engine import CounterState, Engine, Ticket, TicketState
from queue_server.errors import MotcuaError
from tests.support import KIOSK_TOKEN, ServerProcess, add_staff, http, login, office_config, write_config

EXAMPLES = int(os.environ.get("MOTCUA_PROPERTY_EXAMPLES", "120"))
T0 = dt.datetime(2026, 11, 2, 1, 0, tzinfo=dt.UTC)  # 08:00 in Hanoi, a Monday
SERVICES = ("CT", "HT", "DD", "LD", "TKQ")
COUNTERS = (1, 2, 3, 4, 5)
STAFF = ("an", "binh", "chi", "dung", "em", "giang")

W, C, S, N, D, X = (
    TicketState.WAITING,
    TicketState.CALLED,
    TicketState.SERVING,
    TicketState.NO_SHOW,
    TicketState.DONE,
    TicketState.CANCELLED,
)
ALLOWED = {  # state before -> states allowed after one command
    W: {W, C, X, TicketState.EXPIRED},
    C: {C, S, D, N, W, TicketState.EXPIRED},
    S: {S, D, W},
    N: {N, W, C},
    D: {D},
    X: {X},
    TicketState.EXPIRED: {TicketState.EXPIRED},
}


def config_for(rule: str, interleave: int) -> Config:
    return office_config(
        office={"enforce_hours": False}, queue={"priority_rule": rule, "interleave": interleave, "max_recalls": 1}
    )


CONFIGS = {
    ("strict", 0): config_for("strict", 0),
    ("interleave", 1): config_for("interleave", 1),
    ("interleave", 2): config_for("interleave", 2),
}

# --------------------------------------------------------------------------- what Next may call


def may_be_called(waiting: list[dict[str, Any]], levels: dict[str, str], counter: int) -> set[int]:
    """Partial rules from README (the full order is the table in test_next_calls_in_the_order_the_readme_states):
    a ticket transferred to this counter comes first; otherwise a ticket of one of its services
    not aimed at another counter, and one at backup level only when nothing else waits."""
    targeted = {t["id"] for t in waiting if t["target_counter"] == counter}
    if targeted:
        return targeted
    pool = [t for t in waiting if t["target_counter"] is None and t["service"] in levels]
    main = [t for t in pool if levels[t["service"]] != "backup"] or pool
    return {t["id"] for t in main}


# --------------------------------------------------------------------------- invariants


def check_invariants(e: Engine) -> None:
    held: dict[int, int] = {}
    for c in e.counters.values():
        if c.ticket_id is None:
            continue
        assert c.state is CounterState.OPEN, f"counter {c.number} is {c.state} but holds {c.ticket_id}"
        assert c.ticket_id not in held, f"ticket {c.ticket_id} held by {held[c.ticket_id]} and {c.number}"
        held[c.ticket_id] = c.number
        t = e.tickets[c.ticket_id]
        assert t.state in (C, S), f"counter {c.number} holds {t.label} which is {t.state}"
        assert t.counter == c.number
    for t in e.tickets.values():
        if t.state in (C, S):
            assert held.get(t.id) == t.counter, f"{t.label} is {t.state} but not held by its counter"
    open_staff = [c.staff for c in e.counters.values() if c.state is not CounterState.CLOSED]
    assert all(s for s in open_staff) and len(open_staff) == len(set(open_staff)), open_staff
    today = [t for t in e.tickets.values() if t.day == e.day]
    labels = [t.label for t in today]
    assert len(labels) == len(set(labels)), "a number was given twice today"
    states = Tally(t.state for t in today)
    assert sum(sd.issued for sd in e.services.values()) == len(today) == sum(states.values())
    for code, sd in e.services.items():
        issued_here = [t for t in today if e.config.service(code).first <= t.number <= e.config.service(code).last]
        assert sd.issued == len(issued_here)


def fingerprint(e: Engine) -> Any:
    return (
        {i: t.to_dict() for i, t in e.tickets.items()},
        {n: c.to_dict() for n, c in e.counters.items()},
        e.meta(),
        copy.deepcopy(e.by_request),
    )


# --------------------------------------------------------------------------- the command language

counter_st = st.sampled_from(COUNTERS)
commands = st.one_of(
    *[st.tuples(st.just("issue"), st.sampled_from(SERVICES), st.booleans())] * 8,
    st.tuples(st.just("sign_on"), counter_st, st.sampled_from(STAFF)),
    *[st.tuples(st.just("next"), counter_st)] * 4,
    st.tuples(st.just("call"), counter_st, st.integers(0, 50)),
    st.tuples(st.just("recall"), counter_st),
    st.tuples(st.just("start"), counter_st),
    st.tuples(st.just("done"), counter_st),
    st.tuples(st.just("no_show"), counter_st),
    st.tuples(st.just("transfer"), counter_st, st.sampled_from((None, *SERVICES)), st.sampled_from((None, *COUNTERS))),
    st.tuples(st.just("requeue"), st.integers(0, 50)),
    st.tuples(st.just("cancel"), st.integers(0, 50)),
    st.tuples(st.just("pause"), counter_st),
    st.tuples(st.just("resume"), counter_st),
    st.tuples(st.just("sign_off"), counter_st),
    st.tuples(st.just("wait"), st.sampled_from((1, 7, 60, 600, 86_400))),
)


def pick(e: Engine, i: int) -> Ticket | None:
    tickets = sorted(e.tickets.values(), key=lambda t: t.id)
    return tickets[i % len(tickets)] if tickets else None


def run_command(e: Engine, cmd: tuple[Any, ...], now: dt.datetime, serial: int) -> list[Any]:
    kind = cmd[0]
    staff = lambda n: e.counters[n].staff or "x"  # noqa: E731
    if kind == "issue":
        return e.issue(
            now, service=cmd[1], token=f"tok{serial:08d}", priority=cmd[2], kiosk="k", request_id=f"r{serial}"
        )[1]
    if kind == "sign_on":
        return e.sign_on(now, cmd[1], cmd[2])
    if kind == "next":
        return e.call_next(now, cmd[1], staff(cmd[1]))
    if kind == "call":
        t = pick(e, cmd[2])
        return e.call_number(now, cmd[1], staff(cmd[1]), t.label if t else "1")
    if kind in ("recall", "start", "done", "no_show", "resume", "sign_off"):
        method = {"done": "finish"}.get(kind, kind)
        return getattr(e, method)(now, cmd[1], staff(cmd[1]))
    if kind == "transfer":
        return e.transfer(now, cmd[1], staff(cmd[1]), service=cmd[2], to_counter=cmd[3])
    if kind in ("requeue", "cancel"):
        t = pick(e, cmd[1])
        return getattr(e, kind)(now, t.id if t else 1, "boss")
    if kind == "pause":
        return e.pause(now, cmd[1], staff(cmd[1]), "nghỉ giữa giờ")
    raise AssertionError(kind)


@pytest.mark.parametrize("rule", list(CONFIGS), ids=lambda r: f"{r[0]}-{r[1]}")
@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(script=st.lists(commands, min_size=20, max_size=100))
def test_random_command_sequences_keep_every_invariant(rule: tuple[str, int], script: list[tuple[Any, ...]]) -> None:
    config = CONFIGS[rule]
    e = Engine(config, T0)
    now = T0
    for n, name in zip(COUNTERS, STAFF):  # an office mid-morning: every counter staffed
        e.sign_on(now, n, name)
    for serial, cmd in enumerate(script):
        if cmd[0] == "wait":
            now += dt.timedelta(seconds=cmd[1])
            e.tick(now)
            check_invariants(e)
            continue
        now += dt.timedelta(seconds=1)
        e.tick(now)  # any rollover first, so the command itself starts from the state we see
        before = fingerprint(e)
        states_before = {i: t.state for i, t in e.tickets.items()}
        waiting = [
            {
                "id": t.id,
                "service": t.service,
                "priority": t.priority,
                "front": t.front,
                "target_counter": t.target_counter,
                "queued_at": t.queued_at,
            }
            for t in e.waiting()
        ]
        try:
            events = run_command(e, cmd, now, serial)
        except MotcuaError:
            assert fingerprint(e) == before, f"refused {cmd} but changed the engine"
            check_invariants(e)
            continue
        for i, t in e.tickets.items():
            if i in states_before:
                assert t.state in ALLOWED[states_before[i]], f"{cmd}: {t.label} {states_before[i]} -> {t.state}"
            else:
                assert t.state is W
        if cmd[0] == "next":
            called = [ev.ticket["id"] for ev in events if ev.kind == "ticket_called"]
            allowed = may_be_called(waiting, config.counter(cmd[1]).services, cmd[1])
            assert len(called) == (1 if allowed else 0) and set(called) <= allowed, (cmd, waiting)
        check_invariants(e)


def test_backup_level_is_used_only_when_nothing_else_waits() -> None:
    """Counter 1 serves CT (primary) and TKQ (backup): an older TKQ waits behind a newer CT."""
    e = Engine(CONFIGS[("strict", 0)], T0)
    tkq = e.issue(T0, service="TKQ", token="t" * 22)[0]
    ct = e.issue(T0 + dt.timedelta(seconds=5), service="CT", token="u" * 22)[0]
    e.sign_on(T0, 1, "an")
    assert e.call_next(T0 + dt.timedelta(seconds=9), 1, "an")[-1].ticket["id"] == ct.id
    assert e.call_next(T0 + dt.timedelta(seconds=20), 1, "an")[-1].ticket["id"] == tkq.id


def test_primary_service_comes_before_an_older_normal_one() -> None:
    """Counter 4 serves DD (primary) and LD (normal)."""
    for rule in CONFIGS:
        e = Engine(CONFIGS[rule], T0)
        ld = e.issue(T0, service="LD", token="l" * 22)[0]
        dd = e.issue(T0 + dt.timedelta(seconds=5), service="DD", token="d" * 22)[0]
        e.sign_on(T0, 4, "an")
        assert e.call_next(T0 + dt.timedelta(seconds=9), 4, "an")[-1].ticket["id"] == dd.id
        assert e.call_next(T0 + dt.timedelta(seconds=20), 4, "an")[-1].ticket["id"] == ld.id


def test_transferred_tickets_come_first_counter_before_service() -> None:
    e = Engine(CONFIGS[("strict", 0)], T0)
    old = e.issue(T0, service="CT", token="o" * 22, priority=True)[0]
    moved = e.issue(T0 + dt.timedelta(seconds=1), service="HT", token="m" * 22)[0]
    aimed = e.issue(T0 + dt.timedelta(seconds=2), service="HT", token="a" * 22)[0]
    e.sign_on(T0, 3, "chi")
    e.sign_on(T0, 2, "binh")
    e.call_number(T0 + dt.timedelta(seconds=3), 3, "chi", moved.label)
    e.transfer(T0 + dt.timedelta(seconds=4), 3, "chi", service="CT")  # front of CT
    e.call_number(T0 + dt.timedelta(seconds=5), 3, "chi", aimed.label)
    e.transfer(T0 + dt.timedelta(seconds=6), 3, "chi", to_counter=2)  # to counter 2 itself
    calls = [e.call_next(T0 + dt.timedelta(seconds=10 + k), 2, "binh")[-1].ticket["id"] for k in range(3)]
    assert calls == [aimed.id, moved.id, old.id]


def test_interleave_calls_one_priority_ticket_after_n_normal_ones() -> None:
    e = Engine(CONFIGS[("interleave", 2)], T0)
    for i in range(6):
        e.issue(T0 + dt.timedelta(seconds=i), service="CT", token=f"n{i:021d}")
    for i in range(2):
        e.issue(T0 + dt.timedelta(seconds=10 + i), service="CT", token=f"p{i:021d}", priority=True)
    e.sign_on(T0, 1, "an")
    order = [e.call_next(T0 + dt.timedelta(minutes=k + 1), 1, "an")[-1].ticket["priority"] for k in range(8)]
    assert order == [False, False, True, False, False, True, False, False]


# --------------------------------------------------------------------------- Next, case by case
# Written from README's rule: "Next at counter C takes, in order: a ticket transferred to C; a
# ticket transferred to one of C's services; the priority rule (strict, or interleave = at most
# N normal tickets between two priority ones); the level (primary, then normal; backup only
# when nothing else waits for C); the oldest arrival."
# The sample office's counters: 1 = CT primary, TKQ backup; 2 = CT primary, HT backup;
# 4 = DD primary, LD normal. Tickets are issued in the order listed: "CT!" is a priority
# ticket, "HT>2" one transferred to counter 2, "HT>CT" one transferred to the service CT.
# Each case presses Next at the counter once per expected label (None: nothing to call).

NEXT_CASES = [
    ("oldest arrival first", "strict", 0, 1, ["CT", "CT"], ["1001", "1002"]),
    ("primary before an older normal", "strict", 0, 4, ["LD", "DD"], ["3001", "4001"]),
    ("backup only when nothing else waits", "strict", 0, 1, ["TKQ", "CT"], ["1001", "5001"]),
    ("no ticket of its services: nothing", "strict", 0, 4, ["CT", "HT"], [None]),
    ("strict: priority before older normals", "strict", 0, 1, ["CT", "CT", "CT!"], ["1003", "1001", "1002"]),
    ("strict: a priority normal-level before a primary", "strict", 0, 4, ["DD", "LD!"], ["4001", "3001"]),
    ("a priority backup still waits for the primary", "strict", 0, 1, ["CT", "TKQ!"], ["1001", "5001"]),
    (
        "interleave 2: two normals between priorities",
        "interleave",
        2,
        1,
        ["CT", "CT", "CT", "CT!", "CT!"],
        ["1001", "1002", "1004", "1003", "1005"],
    ),
    (
        "interleave 1: one normal between priorities",
        "interleave",
        1,
        1,
        ["CT", "CT", "CT!", "CT!"],
        ["1001", "1003", "1002", "1004"],
    ),
    ("transferred to the counter before any priority", "strict", 0, 2, ["CT!", "HT>2"], ["2001", "1001"]),
    ("transferred to a service before any priority", "strict", 0, 2, ["CT!", "HT>CT"], ["2001", "1001"]),
    ("transferred to the counter before to its service", "strict", 0, 2, ["HT>CT", "HT>2"], ["2002", "2001"]),
    ("a ticket aimed at another counter is not taken", "strict", 0, 1, ["CT", "HT>2"], ["1001", None]),
]


@pytest.mark.parametrize(
    ("rule", "interleave", "counter", "tickets", "calls"),
    [case[1:] for case in NEXT_CASES],
    ids=[case[0] for case in NEXT_CASES],
)
def test_next_calls_in_the_order_the_readme_states(
    rule: str, interleave: int, counter: int, tickets: list[str], calls: list[str | None]
) -> None:
    e = Engine(config_for(rule, interleave), T0)
    helper = 3 if counter != 3 else 5  # a counter that moves tickets where the case says
    e.sign_on(T0, helper, "helper")
    e.sign_on(T0, counter, "clerk")
    moves = []
    for i, spec in enumerate(tickets):
        service, _, target = spec.rstrip("!").partition(">")
        t = e.issue(T0 + dt.timedelta(seconds=i), service=service, token=f"tok{i:019d}", priority=spec.endswith("!"))[0]
        if target:
            moves.append((t.label, target))
    for k, (label, target) in enumerate(moves):
        now = T0 + dt.timedelta(seconds=100 + k)
        e.call_number(now, helper, "helper", label)
        if target.isdigit():
            e.transfer(now, helper, "helper", to_counter=int(target))
        else:
            e.transfer(now, helper, "helper", service=target)
    got = []
    for k in range(len(calls)):
        events = e.call_next(T0 + dt.timedelta(seconds=200 + k), counter, "clerk")
        called = [ev.ticket["label"] for ev in events if ev.kind == "ticket_called"]
        got.append(called[0] if called else None)
    assert got == calls


# --------------------------------------------------------------------------- the live server


@pytest.fixture(scope="module")
def strict_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    folder: Path = tmp_path_factory.mktemp("props")
    config_path = write_config(folder, queue={"priority_rule": "strict", "max_recalls": 1})
    add_staff(config_path, {f"clerk{n}": "clerk" for n in COUNTERS})
    proc = ServerProcess(folder, config_path).start()
    try:
        yield proc
    finally:
        proc.stop()


def check_live_state(state: dict[str, Any]) -> None:
    held: dict[int, int] = {}
    for c in state["counters"]:
        t = c["ticket"]
        if t is None:
            continue
        assert c["state"] == "open", c
        assert t["id"] not in held, (t["id"], held)
        held[t["id"]] = c["number"]
        assert t["state"] in ("called", "serving") and t["counter"] == c["number"], c
    waiting_ids = [t["id"] for t in state["waiting"]]
    assert len(waiting_ids) == len(set(waiting_ids))
    assert all(t["state"] == "waiting" for t in state["waiting"])
    assert not set(waiting_ids) & set(held)
    per_service = Tally(t["service"] for t in state["waiting"])
    for s in state["services"]:
        assert s["waiting"] == per_service.get(s["code"], 0), s
    staff = [c["staff"] for c in state["counters"] if c["state"] != "closed"]
    assert len(staff) == len(set(staff))


live_commands = st.one_of(
    st.tuples(st.just("issue"), st.sampled_from(SERVICES), st.booleans()),
    st.tuples(st.just("next"), counter_st),
    st.tuples(st.just("next"), counter_st),
    st.tuples(st.just("start"), counter_st),
    st.tuples(st.just("done"), counter_st),
    st.tuples(st.just("no-show"), counter_st),
    st.tuples(st.just("recall"), counter_st),
    st.tuples(st.just("transfer"), counter_st, st.sampled_from(SERVICES)),
)


def test_random_commands_against_the_live_server_keep_the_invariants(strict_server: ServerProcess) -> None:
    base = strict_server.base_url
    cookies = {n: login(base, f"clerk{n}", n) for n in COUNTERS}
    config = CONFIGS[("strict", 0)]
    counter = iter(range(10**6))

    @settings(max_examples=12, deadline=None, suppress_health_check=list(HealthCheck))
    @given(script=st.lists(live_commands, min_size=5, max_size=25))
    def run(script: list[tuple[Any, ...]]) -> None:
        for cmd in script:
            before = http("GET", base + "/api/state", cookie=cookies[1])[1]
            if cmd[0] == "issue":
                status, body, _ = http(
                    "POST",
                    base + "/api/tickets",
                    {"service": cmd[1], "priority": cmd[2], "request_id": f"p{next(counter)}"},
                    token=KIOSK_TOKEN,
                )
                assert status in (201, 409), body
            else:
                n = cmd[1]
                payload = {"service": cmd[2]} if cmd[0] == "transfer" else {}
                status, body, _ = http("POST", base + f"/api/counters/{n}/{cmd[0]}", payload, cookie=cookies[n])
                assert status in (200, 400, 409), body
                if cmd[0] == "next" and status == 200:
                    allowed = may_be_called(before["waiting"], config.counter(n).services, n)
                    got = body["ticket"]["id"] if body["ticket"] else None
                    assert (got in allowed) if allowed else got is None, (cmd, before["waiting"])
            check_live_state(http("GET", base + "/api/state", cookie=cookies[1])[1])

    run()
