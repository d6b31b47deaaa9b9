"""The queue rules, checked on the pure engine: no event loop, no database, a hand clock."""

from __future__ import annotations

import datetime as dt
import itertools
from typing import Any

import pytest

from queue_server.engine import CounterState, Engine, TicketState
from queue_server.errors import BadRequest, Conflict, InvalidTransition, NotFound
from tests.support import office_config

VN = dt.timezone(dt.timedelta(hours=7))
MONDAY_8AM = dt.datetime(2026, 11, 30, 8, 0, tzinfo=VN)


class Clock:
    def __init__(self, start: dt.datetime = MONDAY_8AM):
        self.now = start

    def __call__(self, seconds: float = 1) -> dt.datetime:
        self.now += dt.timedelta(seconds=seconds)
        return self.now


_tokens = (f"tok{i:020d}" for i in itertools.count())


def office(**sections: Any) -> tuple[Engine, Clock]:
    clock = Clock()
    return Engine(office_config(**sections), clock.now), clock


def issue(engine: Engine, clock: Clock, service: str = "CT", priority: bool = False, **kw: Any):
    ticket, _ = engine.issue(clock(), service=service, token=next(_tokens), priority=priority, **kw)
    return ticket


def open_counters(engine: Engine, clock: Clock, *numbers: int) -> None:
    for n in numbers:
        engine.sign_on(clock(), n, f"clerk{n}")


def called(engine: Engine, counter: int) -> str | None:
    held = engine.counters[counter].ticket_id
    return engine.tickets[held].label if held else None


def next_label(engine: Engine, clock: Clock, counter: int) -> str | None:
    engine.call_next(clock(), counter, f"clerk{counter}")
    return called(engine, counter)


# ------------------------------------------------------------------ numbering


def test_numbers_start_at_the_range_and_count_up_per_service():
    engine, clock = office()
    assert [issue(engine, clock, "CT").label for _ in range(3)] == ["1001", "1002", "1003"]
    assert issue(engine, clock, "HT").label == "2001"
    assert issue(engine, clock, "CT").label == "1004"


def test_prefix_letter_is_part_of_the_label():
    services = office_config().services
    data = [dict(code=s.code, name=s.name, range=s.range) for s in services]
    data[0]["prefix"] = "A"
    engine, clock = office(services=data)
    assert issue(engine, clock, "CT").label == "A1001"


def test_numbers_are_never_reused_the_same_day_even_after_cancel():
    engine, clock = office()
    first = issue(engine, clock)
    engine.cancel(clock(), first.id, "boss")
    assert issue(engine, clock).number == first.number + 1


def test_numbering_continues_after_restore_from_saved_state():
    engine, clock = office()
    for _ in range(3):
        issue(engine, clock)
    restored = Engine(
        engine.config,
        clock(),
        tickets=list(engine.tickets.values()),
        counters=list(engine.counters.values()),
        meta=engine.meta(),
    )
    assert issue(restored, clock).label == "1004"


def test_same_request_id_returns_the_same_ticket_and_no_event():
    engine, clock = office()
    t1, events1 = engine.issue(clock(), service="CT", token="a" * 22, kiosk="sanh", request_id="tap-1")
    t2, events2 = engine.issue(clock(), service="CT", token="b" * 22, kiosk="sanh", request_id="tap-1")
    assert t1 is t2 and len(events1) == 1 and events2 == []
    assert len(engine.tickets) == 1


def test_daily_cap_refuses_further_tickets():
    engine, clock = office()
    for _ in range(60):
        issue(engine, clock, "DD")
    with pytest.raises(Conflict) as e:
        issue(engine, clock, "DD")
    assert e.value.key == "cap_reached"


def test_exhausted_number_range_refuses():
    services = [dict(code="CT", name="Chứng thực", range=[1, 2])]
    counters = [dict(number=1, name="Quầy 1", services={"CT": "primary"})]
    engine, clock = office(services=services, counters=counters)
    issue(engine, clock)
    issue(engine, clock)
    with pytest.raises(Conflict) as e:
        issue(engine, clock)
    assert e.value.key == "range_exhausted"


def test_closed_service_and_hours_refuse_with_reason():
    engine, clock = office(office={"enforce_hours": True})
    engine.set_service(clock(), "HT", "boss", open=False)
    with pytest.raises(Conflict) as e:
        issue(engine, clock, "HT")
    assert e.value.key == "service_closed"
    late = dt.datetime(2026, 11, 30, 19, 0, tzinfo=VN)
    with pytest.raises(Conflict) as e:
        engine.issue(late, service="CT", token="x" * 22)
    assert e.value.key == "outside_hours"
    sunday = dt.datetime(2026, 11, 29, 9, 0, tzinfo=VN)
    assert not engine.is_open_hours(sunday)


def test_unknown_service_is_not_found_and_changes_nothing():
    engine, clock = office()
    with pytest.raises(NotFound):
        issue(engine, clock, "XX")
    assert engine.tickets == {}


def test_priority_refused_when_the_office_has_no_priority_path():
    engine, clock = office(queue={"priority_enabled": False})
    with pytest.raises(BadRequest):
        issue(engine, clock, priority=True)


# ------------------------------------------------------------------ routing


def test_next_calls_the_oldest_ticket_of_the_counters_services():
    engine, clock = office()
    open_counters(engine, clock, 1)
    issue(engine, clock, "HT")  # counter 1 serves HT? no: CT primary, TKQ backup
    issue(engine, clock, "CT")
    issue(engine, clock, "CT")
    assert next_label(engine, clock, 1) == "1001"
    assert next_label(engine, clock, 1) == "1002"
    assert next_label(engine, clock, 1) is None  # HT is not served at counter 1


def test_backup_service_is_served_only_when_no_primary_or_normal_ticket_waits():
    engine, clock = office()
    open_counters(engine, clock, 1)  # CT primary, TKQ backup
    issue(engine, clock, "TKQ")
    issue(engine, clock, "CT")
    assert next_label(engine, clock, 1) == "1001"
    assert next_label(engine, clock, 1) == "5001"


def test_primary_level_goes_before_normal_level():
    engine, clock = office()
    open_counters(engine, clock, 5)  # TKQ primary, LD normal, CT backup
    issue(engine, clock, "LD")
    issue(engine, clock, "TKQ")
    assert next_label(engine, clock, 5) == "5001"
    assert next_label(engine, clock, 5) == "4001"


def test_strict_priority_always_goes_first():
    engine, clock = office(queue={"priority_rule": "strict"})
    open_counters(engine, clock, 1)
    for _ in range(3):
        issue(engine, clock)
    p = issue(engine, clock, priority=True)
    assert next_label(engine, clock, 1) == p.label


def test_interleave_allows_at_most_n_normal_tickets_between_priority_ones():
    engine, clock = office(queue={"priority_rule": "interleave", "interleave": 2})
    open_counters(engine, clock, 1)
    normals = [issue(engine, clock).label for _ in range(5)]
    prios = [issue(engine, clock, priority=True).label for _ in range(2)]
    order = [next_label(engine, clock, 1) for _ in range(7)]
    assert order == [normals[0], normals[1], prios[0], normals[2], normals[3], prios[1], normals[4]]


def test_interleave_calls_an_early_priority_ticket_at_once():
    engine, clock = office(queue={"priority_rule": "interleave", "interleave": 3})
    open_counters(engine, clock, 1)
    p = issue(engine, clock, priority=True)
    issue(engine, clock)
    assert next_label(engine, clock, 1) == p.label


def test_ticket_transferred_to_a_counter_is_called_there_first_and_keeps_its_number():
    engine, clock = office()
    open_counters(engine, clock, 1, 3)
    t = issue(engine, clock, "CT")
    issue(engine, clock, "HT")
    engine.call_next(clock(), 1, "clerk1")
    engine.transfer(clock(), 1, "clerk1", to_counter=3)
    assert engine.tickets[t.id].state is TicketState.WAITING
    assert next_label(engine, clock, 3) == t.label  # before 2001, though HT is primary at 3


def test_ticket_transferred_to_a_service_goes_to_the_front_of_that_queue():
    engine, clock = office()
    open_counters(engine, clock, 1, 3)
    first_ht = issue(engine, clock, "HT")
    t = issue(engine, clock, "CT")
    engine.call_number(clock(), 1, "clerk1", t.label)
    engine.transfer(clock(), 1, "clerk1", service="HT")
    assert engine.tickets[t.id].service == "HT" and engine.tickets[t.id].label == t.label
    assert next_label(engine, clock, 3) == t.label
    assert next_label(engine, clock, 3) == first_ht.label


def test_a_ticket_transferred_to_counter_3_is_not_taken_by_counter_2():
    engine, clock = office()
    open_counters(engine, clock, 1, 2, 3)
    issue(engine, clock, "CT")
    engine.call_next(clock(), 1, "clerk1")
    engine.transfer(clock(), 1, "clerk1", to_counter=3)
    assert next_label(engine, clock, 2) is None


def test_paused_and_closed_counters_get_nothing():
    engine, clock = office()
    issue(engine, clock)
    with pytest.raises(InvalidTransition) as e:
        engine.call_next(clock(), 1, "clerk1")
    assert e.value.key == "counter_closed"
    open_counters(engine, clock, 1)
    engine.pause(clock(), 1, "clerk1", "Họp giao ban")
    with pytest.raises(InvalidTransition) as e:
        engine.call_next(clock(), 1, "clerk1")
    assert e.value.key == "counter_paused"
    engine.resume(clock(), 1, "clerk1")
    assert next_label(engine, clock, 1) == "1001"


# ------------------------------------------------------------------ transitions


def test_full_service_cycle_waiting_called_serving_done():
    engine, clock = office()
    open_counters(engine, clock, 1)
    t = issue(engine, clock)
    engine.call_next(clock(), 1, "clerk1")
    assert t.state is TicketState.CALLED and t.counter == 1
    engine.start(clock(), 1, "clerk1")
    assert t.state is TicketState.SERVING
    events = engine.finish(clock(), 1, "clerk1")
    assert t.state is TicketState.DONE and [e.kind for e in events] == ["ticket_done"]
    assert engine.counters[1].ticket_id is None


def test_next_while_holding_finishes_the_held_ticket():
    engine, clock = office()
    open_counters(engine, clock, 1)
    a, b = issue(engine, clock), issue(engine, clock)
    engine.call_next(clock(), 1, "clerk1")
    kinds = [e.kind for e in engine.call_next(clock(), 1, "clerk1")]
    assert kinds == ["ticket_done", "ticket_called"]
    assert a.state is TicketState.DONE and b.state is TicketState.CALLED


def test_next_after_max_recalls_marks_no_show():
    engine, clock = office(queue={"max_recalls": 2})
    open_counters(engine, clock, 1)
    a = issue(engine, clock)
    issue(engine, clock)
    engine.call_next(clock(), 1, "clerk1")
    engine.recall(clock(), 1, "clerk1")
    engine.recall(clock(), 1, "clerk1")
    assert a.recalls == 2
    events = engine.call_next(clock(), 1, "clerk1")
    assert events[0].kind == "ticket_no_show" and events[0].details == {"automatic": True}
    assert a.state is TicketState.NO_SHOW


def test_no_show_can_be_requeued_and_goes_to_the_back():
    engine, clock = office()
    open_counters(engine, clock, 1)
    a = issue(engine, clock)
    b = issue(engine, clock)
    engine.call_next(clock(), 1, "clerk1")
    engine.no_show(clock(), 1, "clerk1")
    engine.requeue(clock(), a.id, "clerk1")
    assert a.state is TicketState.WAITING and a.recalls == 0
    assert next_label(engine, clock, 1) == b.label
    assert next_label(engine, clock, 1) == a.label


def test_call_a_specific_number_out_of_order():
    engine, clock = office()
    open_counters(engine, clock, 1)
    issue(engine, clock)
    late = issue(engine, clock)
    events = engine.call_number(clock(), 1, "clerk1", "1002")
    assert called(engine, 1) == late.label and events[-1].details["out_of_order"] is True


def test_call_number_also_reaches_a_no_show_who_came_back():
    engine, clock = office()
    open_counters(engine, clock, 1)
    a = issue(engine, clock)
    engine.call_next(clock(), 1, "clerk1")
    engine.no_show(clock(), 1, "clerk1")
    engine.call_number(clock(), 1, "clerk1", a.number)
    assert a.state is TicketState.CALLED


@pytest.mark.parametrize(
    "state,action",
    [
        (TicketState.WAITING, "start"),
        (TicketState.WAITING, "recall"),
        (TicketState.SERVING, "recall"),
        (TicketState.SERVING, "no_show"),
        (TicketState.DONE, "cancel"),
        (TicketState.CALLED, "cancel"),
        (TicketState.WAITING, "requeue"),
        (TicketState.DONE, "requeue"),
        (TicketState.WAITING, "rate"),
    ],
)
def test_illegal_moves_raise_one_domain_error_and_change_nothing(state: TicketState, action: str):
    engine, clock = office()
    open_counters(engine, clock, 1)
    t = issue(engine, clock)
    if state in (TicketState.CALLED, TicketState.SERVING, TicketState.DONE):
        engine.call_next(clock(), 1, "clerk1")
    if state in (TicketState.SERVING, TicketState.DONE):
        engine.start(clock(), 1, "clerk1")
    if state is TicketState.DONE:
        engine.finish(clock(), 1, "clerk1")
    before = (t.to_dict(), engine.counters[1].to_dict(), engine.meta())
    calls = {
        "start": lambda: engine.start(clock(), 1, "clerk1"),
        "recall": lambda: engine.recall(clock(), 1, "clerk1"),
        "no_show": lambda: engine.no_show(clock(), 1, "clerk1"),
        "cancel": lambda: engine.cancel(clock(), t.id, "boss"),
        "requeue": lambda: engine.requeue(clock(), t.id, "boss"),
        "rate": lambda: engine.rate(clock(), t.id, 4),
    }
    with pytest.raises((InvalidTransition, Conflict)):
        calls[action]()
    assert (t.to_dict(), engine.counters[1].to_dict(), engine.meta()) == before


def test_stale_screen_guard_refuses_a_double_click():
    engine, clock = office()
    open_counters(engine, clock, 1)
    a, b = issue(engine, clock), issue(engine, clock)
    engine.call_next(clock(), 1, "clerk1", expected=None)  # screen showed nothing
    with pytest.raises(Conflict) as e:
        engine.call_next(clock(), 1, "clerk1", expected=None)  # the same click again
    assert e.value.key == "stale_screen"
    assert a.state is TicketState.CALLED and b.state is TicketState.WAITING


def test_a_counter_never_holds_two_tickets_and_a_clerk_holds_one_counter():
    engine, clock = office()
    open_counters(engine, clock, 1)
    with pytest.raises(Conflict):
        engine.sign_on(clock(), 1, "clerk2")
    issue(engine, clock)
    engine.call_next(clock(), 1, "clerk1")
    with pytest.raises(Conflict):  # clerk1 moving to counter 2 while holding a ticket
        engine.sign_on(clock(), 2, "clerk1")
    engine.finish(clock(), 1, "clerk1")
    engine.sign_on(clock(), 2, "clerk1")
    assert engine.counters[1].state is CounterState.CLOSED and engine.counters[2].staff == "clerk1"


def test_pause_needs_a_reason_and_a_free_counter():
    engine, clock = office()
    open_counters(engine, clock, 1)
    with pytest.raises(BadRequest):
        engine.pause(clock(), 1, "clerk1", "   ")
    issue(engine, clock)
    engine.call_next(clock(), 1, "clerk1")
    with pytest.raises(Conflict):
        engine.pause(clock(), 1, "clerk1", "Nghỉ trưa")


def test_transfer_needs_a_valid_target():
    engine, clock = office()
    open_counters(engine, clock, 1)
    issue(engine, clock)
    engine.call_next(clock(), 1, "clerk1")
    with pytest.raises(BadRequest):
        engine.transfer(clock(), 1, "clerk1")
    with pytest.raises(BadRequest):
        engine.transfer(clock(), 1, "clerk1", to_counter=1)
    with pytest.raises(NotFound):
        engine.transfer(clock(), 1, "clerk1", to_counter=99)
    with pytest.raises(NotFound):
        engine.transfer(clock(), 1, "clerk1", service="XX")
    assert called(engine, 1) == "1001"


def test_rating_once_per_served_ticket_within_the_configured_levels():
    engine, clock = office(rating={"levels": 3})
    open_counters(engine, clock, 1)
    t = issue(engine, clock)
    engine.call_next(clock(), 1, "clerk1")
    engine.finish(clock(), 1, "clerk1")
    with pytest.raises(BadRequest):
        engine.rate(clock(), t.id, 4)
    engine.rate(clock(), t.id, 3)
    with pytest.raises(Conflict):
        engine.rate(clock(), t.id, 2)
    assert t.rating == 3


# ------------------------------------------------------------------ estimates and the day


def test_estimated_wait_uses_the_default_then_todays_average_divided_by_open_counters():
    engine, clock = office()
    # CT default 5 min; before anyone signs on, the 2 CT primary counters are assumed.
    for _ in range(4):
        issue(engine, clock)
    assert engine.estimate("CT") == (4, 4 * 300 / 2)
    open_counters(engine, clock, 1)  # only one CT counter open now
    assert engine.estimate("CT") == (4, 4 * 300)
    engine.call_next(clock(), 1, "clerk1")
    engine.start(clock(), 1, "clerk1")
    engine.finish(clock(120), 1, "clerk1")  # served in 120 s
    assert engine.estimate("CT") == (3, 3 * 120)


def test_with_strict_priority_a_priority_ticket_has_only_priority_tickets_ahead():
    engine, clock = office(queue={"priority_rule": "strict"})
    for _ in range(3):
        issue(engine, clock)
    issue(engine, clock, priority=True)
    assert engine.estimate("CT", priority=True)[0] == 1
    assert engine.estimate("CT")[0] == 4


def test_with_interleave_the_estimate_follows_the_order_next_takes():
    # Interleave 2, one counter: N1 N2 P1 N3 N4 P2 ... — the figure a citizen is told is
    # the number of tickets Next will really call first.
    engine, clock = office(queue={"priority_rule": "interleave", "interleave": 2})
    open_counters(engine, clock, 1)
    n1, n2 = issue(engine, clock), issue(engine, clock)
    p1 = issue(engine, clock, priority=True)
    assert (n1.people_ahead, n2.people_ahead, p1.people_ahead) == (0, 1, 2)
    assert [engine.position(t)[0] for t in (n1, n2, p1)] == [0, 1, 2]
    assert engine.estimate("CT", priority=True)[0] == 3
    assert engine.estimate("CT")[0] == 3


def test_position_of_a_waiting_ticket_counts_those_before_it():
    engine, clock = office()
    tickets = [issue(engine, clock) for _ in range(3)]
    assert [engine.position(t)[0] for t in tickets] == [0, 1, 2]


def test_day_rollover_expires_leftovers_and_restarts_numbers():
    engine, clock = office()
    open_counters(engine, clock, 1)
    waiting = issue(engine, clock)
    held = issue(engine, clock)
    engine.call_number(clock(), 1, "clerk1", held.label)
    done = issue(engine, clock)
    engine.call_number(clock(), 1, "clerk1", done.label)  # finishes `held`
    engine.finish(clock(), 1, "clerk1")
    tomorrow = dt.datetime(2026, 12, 1, 7, 45, tzinfo=VN)
    events = engine.tick(tomorrow)
    assert [e.kind for e in events] == ["ticket_expired", "day_started"]
    assert engine.day == "2026-12-01" and waiting.state is TicketState.EXPIRED
    t, _ = engine.issue(tomorrow, service="CT", token="n" * 22)
    assert t.label == "1001"
    assert engine.tick(tomorrow) == []


def test_office_day_starts_at_the_configured_hour_not_midnight():
    engine, _ = office()
    assert engine.office_day(dt.datetime(2026, 12, 1, 2, 59, tzinfo=VN)) == "2026-11-30"
    assert engine.office_day(dt.datetime(2026, 12, 1, 3, 0, tzinfo=VN)) == "2026-12-01"


def test_a_called_ticket_expires_at_rollover_and_frees_its_counter():
    engine, clock = office()
    open_counters(engine, clock, 1)
    t = issue(engine, clock)
    engine.call_next(clock(), 1, "clerk1")
    events = engine.tick(dt.datetime(2026, 12, 1, 4, 0, tzinfo=VN))
    assert t.state is TicketState.EXPIRED and engine.counters[1].ticket_id is None
    assert "counter_changed" in [e.kind for e in events]


def test_reconfigure_refuses_to_strand_a_waiting_ticket():
    engine, clock = office()
    issue(engine, clock, "HT")
    cfg = office_config()
    data_services = [dict(code=s.code, name=s.name, range=s.range) for s in cfg.services if s.code != "HT"]
    counters = [
        dict(number=c.number, name=c.name, services={k: v for k, v in c.services.items() if k != "HT"})
        for c in cfg.counters
    ]
    smaller = office_config(services=data_services, counters=counters)
    with pytest.raises(Conflict):
        engine.reconfigure(smaller)
    assert engine.config is not smaller


def test_the_engine_imports_no_io_library():
    import subprocess
    import sys

    code = (
        "import sys, queue_server.engine; "
        "print(sorted(m for m in ('asyncio', 'sqlite3', 'sqlite_utils', 'starlette', 'uvicorn', 'websockets', "
        "'escpos', 'socket') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True)
    assert out.stdout.strip() == "[]"
