"""The replay follows the live server's rules: for the same arrivals, durations and counters,
the simulator and a real server driven over HTTP call the same tickets at the same counters,
in the same order.

The server runs in this process (uvicorn on a free 127.0.0.1 port) so that its clock can be
set by hand to each moment of the replay; every command goes over real HTTP.
"""

from __future__ import annotations

import datetime as dt
import os
import sqlite3
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import uvicorn
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from queue_server import auth
from queue_server.app import create_app
from queue_server.config import Config, parse_config
from queue_server.store import Store
from queue_server.whatif.plan import actual_plan
from queue_server.whatif.record import Arrival, CounterChange, RecordedDay, Visit
from queue_server.whatif.sim import replay

from .support import PASSWORD, free_port, http

TZ = dt.timezone(dt.timedelta(hours=7))
START = dt.datetime(2026, 12, 2, 7, 30, tzinfo=TZ)
KIOSK = "kiosk-thu-nghiem-0001"
CODES = ("CT", "HT", "TKQ")


def office(levels: list[dict[str, str]], rule: str, interleave: int) -> dict[str, Any]:
    return {
        "office": {"name": "Phường Thử", "timezone": "Asia/Ho_Chi_Minh", "enforce_hours": False},
        "queue": {"priority_rule": rule, "interleave": interleave},
        "services": [{"code": c, "name": c, "range": [1001 + 1000 * i, 1999 + 1000 * i]} for i, c in enumerate(CODES)],
        "counters": [{"number": i + 1, "name": f"Quầy {i + 1}", "services": s} for i, s in enumerate(levels)],
        "kiosks": [{"id": "k1", "token": KIOSK}],
    }


class HandClock:
    def __init__(self) -> None:
        self.now = START

    def __call__(self) -> dt.datetime:
        return self.now


@contextmanager
def live_server(config: Config, db: Path, clock: HandClock) -> Iterator[str]:
    store = Store(db)
    for c in config.counters:
        auth.add_user(store, f"sim{c.number}", PASSWORD, "clerk")
    store.close()
    app = create_app(config, database=db, clock=clock, printing=False)
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="on"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.02)
    assert server.started, "server did not start"
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)


levels_st = st.lists(
    st.dictionaries(st.sampled_from(CODES), st.sampled_from(("primary", "normal", "backup")), min_size=1, max_size=3),
    min_size=2,
    max_size=3,
)
Spec = tuple[int, str, bool, int, str | None, int | None, bool]
arrival_st = st.tuples(
    st.integers(0, 90),
    st.sampled_from(CODES),
    st.booleans(),
    st.integers(60, 900),
    st.one_of(st.none(), st.sampled_from(CODES)),  # transferred to this service
    st.one_of(st.none(), st.integers(1, 3)),  # ... and to this counter
    st.booleans(),
)
# A counter pausing (then resuming) or closing (then opening again): (counter, kind, minute, length).
change_st = st.tuples(st.integers(1, 3), st.sampled_from(("pause", "close")), st.integers(5, 120), st.integers(3, 40))


def recorded(arrivals: list[Spec], counters: int, breaks: list[tuple[int, str, int, int]] | None = None) -> RecordedDay:
    out = []
    for i, (minute, code, priority, busy, transfer_to, to_counter, no_show) in enumerate(
        sorted(arrivals, key=lambda a: a[0])
    ):
        at = START + dt.timedelta(minutes=minute, seconds=i)
        if transfer_to is not None:
            visits = (
                Visit(code, None, busy, "transferred", to_service=transfer_to, to_counter=to_counter),
                Visit(transfer_to, None, busy / 2, "done"),
            )
        elif no_show:
            visits = (Visit(code, None, 90, "no_show"),)
        else:
            visits = (Visit(code, None, busy, "done"),)
        out.append(Arrival(i + 1, at, code, priority, visits))
    opened = [CounterChange(START - dt.timedelta(minutes=5), n, "open") for n in range(1, counters + 1)]
    later = []
    for j, (number, kind, minute, length) in enumerate(breaks or []):
        if number > counters:
            continue
        at = START + dt.timedelta(minutes=minute, seconds=j)
        back = "resume" if kind == "pause" else "open"
        later += [CounterChange(at, number, kind), CounterChange(at + dt.timedelta(minutes=length), number, back)]
    changes = (*opened, *sorted(later, key=lambda c: c.at))
    return RecordedDay(
        START.date().isoformat(),
        tuple(out),
        changes,
        {},
        START - dt.timedelta(minutes=5),
        START + dt.timedelta(hours=4),
    )


ACTIONS = {
    "call_next": "next",
    "start": "start",
    "finish": "done",
    "no_show": "no-show",
    "sign_off": "close",
    "resume": "resume",
}


@settings(
    max_examples=int(os.environ.get("MOTCUA_LIVE_EXAMPLES", "8")),
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    levels=levels_st,
    rule=st.sampled_from(("strict", "interleave")),
    interleave=st.integers(1, 3),
    arrivals=st.lists(arrival_st, min_size=3, max_size=18),
    changes=st.lists(change_st, max_size=3),
)
def test_the_simulator_and_a_live_server_call_the_same_tickets_in_the_same_order(
    tmp_path_factory: Any,
    levels: list[dict[str, str]],
    rule: str,
    interleave: int,
    arrivals: list[Spec],
    changes: list[tuple[int, str, int, int]],
) -> None:
    config = parse_config(office(levels, rule, interleave))
    day = recorded(arrivals, len(levels), changes)
    log: list[tuple[dt.datetime, str, tuple[Any, ...], dict[str, Any]]] = []
    trace = replay(
        day, config, actual_plan(config), seed=1, log=lambda now, name, *args, **kw: log.append((now, name, args, kw))
    )

    for name in sorted({name for _, name, _, _ in log} & {"pause", "sign_off", "transfer", "no_show"}):
        event(f"the replay did {name}")  # --hypothesis-show-statistics shows what was covered
    db = tmp_path_factory.mktemp("live") / "motcua.db"
    clock = HandClock()
    with live_server(config, db, clock) as base:
        cookies: dict[int, str] = {}
        for i, (now, name, args, kw) in enumerate(log):
            clock.now = now
            if name == "issue":
                status, body, _ = http(
                    "POST",
                    base + "/api/tickets",
                    {"service": kw["service"], "priority": kw["priority"], "request_id": f"r{i}"},
                    token=KIOSK,
                )
                assert status == 201, body
            elif name == "sign_on":
                number, staff = args
                status, body, headers = http(
                    "POST", base + "/api/login", {"username": staff, "password": PASSWORD, "counter": number}
                )
                assert status == 200, body
                cookies[number] = headers["set-cookie"].split(";")[0]
            else:
                number = args[0]
                if name == "transfer":
                    payload: dict[str, Any] = {"service": kw["service"]}
                    if kw.get("to_counter"):
                        payload["counter"] = kw["to_counter"]
                    action = "transfer"
                elif name == "pause":
                    payload, action = {"reason": args[2]}, "pause"
                else:
                    payload, action = {}, ACTIONS[name]
                status, body, _ = http(
                    "POST", base + f"/api/counters/{number}/{action}", payload, cookie=cookies[number]
                )
                assert status == 200, (name, body)
    with sqlite3.connect(db) as conn:
        live = conn.execute(
            "SELECT e.counter, t.label FROM events e JOIN tickets t ON t.id = e.ticket_id "
            "WHERE e.kind = 'ticket_called' ORDER BY e.seq"
        ).fetchall()
    simulated = [(counter, label) for _, counter, label in trace.calls]
    assert simulated == [tuple(row) for row in live]
