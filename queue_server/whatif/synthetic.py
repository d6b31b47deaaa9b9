"""A realistic office day, recorded through the real engine and store: for the tests and the
benchmark, which need days to replay without waiting a day for them.

Citizens arrive with a morning peak and a smaller afternoon one; clerks open at the start of
each session, press Next when free, take 20-60 s for the citizen to walk up, serve for a
log-normal time around the service's ``service_minutes``, and sometimes transfer a citizen
or mark one absent after recalling. Every command goes through ``Engine`` and its events are
committed with ``Store.commit``, exactly as the server records a day.
"""

from __future__ import annotations

import datetime as dt
import heapq
import math
import random
from typing import Any

from ..config import Config
from ..engine import CounterState, Engine, Event, TicketState
from ..errors import Conflict
from ..store import Store


def _arrival_times(rng: random.Random, sessions: list[tuple[dt.datetime, dt.datetime]], n: int) -> list[dt.datetime]:
    """``n`` arrival times over the sessions, denser early in each session."""
    out = []
    weights = [(b - a).total_seconds() * (1.4 if i == 0 else 0.8) for i, (a, b) in enumerate(sessions)]
    for _ in range(n):
        a, b = rng.choices(sessions, weights)[0]
        span = (b - a).total_seconds() - 600
        # A triangular draw leaning to the start: the queue at opening time.
        offset = rng.triangular(0, max(span, 60), span * 0.15)
        out.append(a + dt.timedelta(seconds=offset))
    return sorted(out)


def record_day(
    store: Store,
    config: Config,
    day: dt.date,
    *,
    tickets: int = 150,
    seed: int = 1,
    transfer_share: float = 0.03,
    no_show_share: float = 0.04,
    mix: dict[str, float] | None = None,
) -> int:
    """Record one office day of ``tickets`` arrivals into ``store``; returns the events written."""
    rng = random.Random(seed)
    tz = config.office.tz
    sessions = [
        (dt.datetime.combine(day, a, tz), dt.datetime.combine(day, b, tz))
        for a, b in config.office.hours.sessions(day.weekday())
    ]
    if not sessions:
        raise ValueError(f"{day} is not an opening day")
    codes = [s.code for s in config.services]
    weights = [(mix or {}).get(c, 4.0 if i == 0 else 2.0) for i, c in enumerate(codes)]
    engine = Engine(config, sessions[0][0] - dt.timedelta(minutes=30), meta={"next_id": store.max_ticket_id() + 1})
    pending: list[Event] = []
    written = 0

    def flush() -> None:
        nonlocal written
        if pending:
            store.commit(pending, engine.meta())
            written += len(pending)
            pending.clear()

    heap: list[tuple[dt.datetime, int, str, Any]] = []
    n = 0

    def push(at: dt.datetime, kind: str, payload: Any = None) -> None:
        nonlocal n
        n += 1
        heapq.heappush(heap, (at, n, kind, payload))

    for i, at in enumerate(_arrival_times(rng, sessions, tickets)):
        push(at, "arrive", i)
    for a, b in sessions:
        for c in config.counters:
            push(a + dt.timedelta(seconds=rng.uniform(0, 240)), "open", c.number)
            push(b, "close", c.number)
    busy: set[int] = set()  # holding a citizen
    filing: set[int] = set()  # between two citizens
    closing: set[int] = set()
    while heap:
        now, _, kind, payload = heapq.heappop(heap)
        if kind == "arrive":
            code = rng.choices(codes, weights)[0]
            priority = config.queue.priority_enabled and rng.random() < 0.1
            try:
                _, events = engine.issue(now, service=code, token=f"syn-{day}-{payload}", priority=priority)
            except Conflict:  # the kiosk refused it (cap reached): the citizen went home
                continue
            pending += events
        elif kind == "open":
            pending += engine.sign_on(now, payload, f"clerk{payload}")
        elif kind == "close":
            if engine.counters[payload].ticket_id is None:
                pending += engine.sign_off(now, payload, f"clerk{payload}")
            else:
                closing.add(payload)
        elif kind == "start":
            pending += engine.start(now, payload, f"clerk{payload}")
            held = engine.tickets[engine.counters[payload].ticket_id]  # type: ignore[index]
            minutes = config.service(held.service).service_minutes
            serve = rng.lognormvariate(math.log(minutes * 60), 0.45)
            if held.transfers == 0 and rng.random() < transfer_share:
                others = [c for c in codes if c != held.service]
                push(now + dt.timedelta(seconds=serve * 0.5), "transfer", (payload, rng.choice(others)))
            else:
                push(now + dt.timedelta(seconds=serve), "finish", payload)
        elif kind == "recall":
            pending += engine.recall(now, payload, f"clerk{payload}")
            push(now + dt.timedelta(seconds=45), "no_show", payload)
        elif kind in ("finish", "no_show", "transfer"):
            number = payload[0] if kind == "transfer" else payload
            staff = f"clerk{number}"
            if kind == "finish":
                pending += engine.finish(now, number, staff)
            elif kind == "no_show":
                pending += engine.no_show(now, number, staff)
            else:
                pending += engine.transfer(now, number, staff, service=payload[1])
            busy.discard(number)
            if number in closing:
                closing.discard(number)
                pending += engine.sign_off(now, number, staff)
            else:
                # The clerk files the papers, then presses Next.
                filing.add(number)
                push(now + dt.timedelta(seconds=rng.uniform(0, 25)), "free", number)
        elif kind == "free":
            filing.discard(payload)
        # Free clerks press Next.
        if engine.waiting():
            for number in sorted(engine.counters):
                status = engine.counters[number]
                if status.state is not CounterState.OPEN or status.ticket_id is not None or number in busy | filing:
                    continue
                events = engine.call_next(now, number, f"clerk{number}")
                pending += events
                called = [e for e in events if e.kind == "ticket_called"]
                if not called:
                    continue
                busy.add(number)
                t = engine.tickets[status.ticket_id]  # type: ignore[index]
                walk = rng.uniform(20, 60)
                if t.state is TicketState.CALLED and t.transfers == 0 and rng.random() < no_show_share:
                    push(now + dt.timedelta(seconds=walk), "recall", number)
                else:
                    push(now + dt.timedelta(seconds=walk), "start", number)
        if len(pending) > 200:
            flush()
    flush()
    return written
