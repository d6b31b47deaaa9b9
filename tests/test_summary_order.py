"""The services summary's "next" labels and longest wait come from each service's waiting
tickets in arrival order (one sort for all services) instead of one sort per service by
``(not front, queued_at, id)``: on random queues both give the same tickets."""

from __future__ import annotations

import datetime as dt

from hypothesis import given
from hypothesis import strategies as st

from queue_server.engine import Ticket, TicketState
from queue_server.office import _ARRIVAL, head_of_queue

T0 = dt.datetime(2026, 11, 2, 1, 0, tzinfo=dt.UTC)


def ticket(i: int, minute: int, front: bool) -> Ticket:
    at = T0 + dt.timedelta(minutes=minute)
    return Ticket(
        id=i,
        day="2026-11-02",
        service="CT",
        number=i,
        label=f"CT{i}",
        priority=False,
        token=f"t{i:021d}",
        state=TicketState.WAITING,
        issued_at=at,
        queued_at=at,
        front=front,
    )


@given(
    specs=st.lists(st.tuples(st.integers(0, 5), st.booleans()), max_size=12),
    n=st.integers(1, 4),
)
def test_the_head_of_a_queue_in_arrival_order_is_the_head_sorted_fronts_first(
    specs: list[tuple[int, bool]], n: int
) -> None:
    waiting = [ticket(i + 1, minute, front) for i, (minute, front) in enumerate(specs)]
    waiting.reverse()  # ids do not follow arrival
    expected = sorted(waiting, key=lambda t: (not t.front, t.queued_at, t.id))
    arrived = sorted(waiting, key=_ARRIVAL)
    assert [t.id for t in head_of_queue(arrived, n)] == [t.id for t in expected[:n]]
    if waiting:
        assert arrived[0].queued_at == min(t.queued_at for t in waiting)
