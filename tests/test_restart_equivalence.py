"""Restart equivalence: the engine a restart rebuilds from the database equals, field by field,
the engine that wrote it — for any sequence of commands.

A hypothesis state machine drives random commands (issue, call, recall, start, done, no-show,
transfer to a service or a counter, call by number, requeue, cancel, pause, resume, open/close,
service changes, config reloads with range edits, the day rollover), commits each command's
events to a real SQLite file exactly as ``Office.execute`` does, and at random points rebuilds
the engine from that file (``Store.load_engine``, what a restart runs) and compares the whole
``Engine.state()``; it then carries on with the rebuilt engine. After every step it checks the
numbering rules: no number given twice in an office day, no label outside the range its
service had when it was given.
"""

from __future__ import annotations

import datetime as dt
import os
import shutil
import tempfile
from typing import Any

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule

from queue_server.config import Config, parse_config
from queue_server.engine import CounterState, Engine, TicketState, Unsaid
from queue_server.errors import MotcuaError
from queue_server.store import Store

EXAMPLES = int(os.environ.get("MOTCUA_STATEFUL_EXAMPLES", "40"))
T0 = dt.datetime(2026, 11, 2, 1, 0, tzinfo=dt.UTC)  # 08:00 in Hanoi, a Monday
STAFF = ("an", "binh", "chi", "dung")


def office(variant: str) -> Config:
    """The test's own small office, in a few variants an admin might switch between."""
    services = [
        {"code": "CT", "name": "Chứng thực", "range": [1001, 1999], "service_minutes": 5},
        {"code": "HT", "name": "Hộ tịch", "range": [2001, 2999], "service_minutes": 10},
        {"code": "TKQ", "name": "Trả kết quả", "range": [5001, 5999], "service_minutes": 3},
    ]
    counters = [
        {"number": 1, "name": "Quầy 1", "services": {"CT": "primary", "TKQ": "backup"}},
        {"number": 2, "name": "Quầy 2", "services": {"CT": "primary", "HT": "backup"}},
        {"number": 3, "name": "Quầy 3", "services": {"HT": "primary", "CT": "normal"}},
        {"number": 4, "name": "Quầy 4", "services": {"TKQ": "primary", "HT": "normal"}},
    ]
    queue: dict[str, Any] = {"priority_rule": "interleave", "interleave": 1, "max_recalls": 1}
    if variant == "ct_moved_xx_added":  # the issue's case: CT to 6001-6999, XX takes 1001-1999
        services[0]["range"] = [6001, 6999]
        services.append({"code": "XX", "name": "Mới", "range": [1001, 1999]})
        counters[2]["services"]["XX"] = "normal"
    elif variant == "ct_short":  # a range shrunk below what was given today
        services[0]["range"] = [1001, 1003]
    elif variant == "ht_removed":
        services.pop(1)
        for c in counters:
            c["services"].pop("HT", None)
    elif variant == "counter4_removed":
        counters.pop()
    elif variant == "strict_absent":
        queue.update(priority_rule="strict", closed_without_start="absent")
    data = {
        "office": {"name": "Phường thử", "enforce_hours": False},
        "queue": queue,
        "services": services,
        "counters": counters,
    }
    return parse_config(data)


VARIANTS = ("base", "ct_moved_xx_added", "ct_short", "ht_removed", "counter4_removed", "strict_absent")
CONFIGS = {v: office(v) for v in VARIANTS}


class Office(RuleBasedStateMachine):
    """One office: an engine, its SQLite file, a hand clock."""

    def __init__(self) -> None:
        super().__init__()
        self.folder = tempfile.mkdtemp(prefix="motcua-restart-")
        self.store = Store(os.path.join(self.folder, "motcua.db"))
        self.config = CONFIGS["base"]
        self.now = T0
        self.engine = Engine(self.config, self.now)
        self.given: dict[str, set[int]] = {}  # office day -> numbers given that day
        self.tokens = 0
        self.restarts = 0

    def teardown(self) -> None:
        self.store.close()
        shutil.rmtree(self.folder, ignore_errors=True)

    # ------------------------------------------------------------------ the write path

    def commit(self, events: list[Any]) -> None:
        if events:
            self.store.commit(events, self.engine.meta())

    def run(self, command: Any) -> Any:
        """As ``Office.execute``: the rollover commits even when the command is refused; a
        refused command changes nothing."""
        self.now += dt.timedelta(seconds=7)
        self.commit(self.engine.tick(self.now))
        before = self.engine.state()
        try:
            result = command(self.engine, self.now)
        except MotcuaError:
            assert self.engine.state() == before, "a refused command changed the engine"
            return None
        value, events = result if isinstance(result, tuple) else (result, result)
        for e in events:
            if e.kind == "ticket_issued":
                self.check_new_number(e.ticket)
        self.commit(list(events))
        return value

    def check_new_number(self, t: dict[str, Any]) -> None:
        svc = self.engine.config.service(t["issued_service"])
        assert svc.first <= t["number"] <= svc.last, f"{t['label']} outside {svc.code} {svc.range}"
        day = self.given.setdefault(t["day"], set())
        assert t["number"] not in day, f"{t['label']} given twice on {t['day']}"
        day.add(t["number"])

    # ------------------------------------------------------------------ commands

    @initialize()
    def open_two_counters(self) -> None:
        self.run(lambda e, now: e.sign_on(now, 1, "an"))
        self.run(lambda e, now: e.sign_on(now, 3, "chi"))

    @rule(service=st.sampled_from(("CT", "HT", "TKQ", "XX")), priority=st.booleans(), repeat=st.integers(0, 3))
    def issue(self, service: str, priority: bool, repeat: int) -> None:
        self.tokens += 1
        token = f"tok-{self.tokens:020d}"
        # request ids repeat now and then: a retried tap must give the same ticket, no event
        request_id = f"r{self.tokens - repeat if repeat < 3 else self.tokens}"
        self.run(
            lambda e, now: e.issue(
                now, service=service, token=token, priority=priority, kiosk="k", request_id=request_id
            )
        )

    def holder(self, n: int) -> str:
        return self.engine.counters[n].staff or STAFF[n % len(STAFF)] if n in self.engine.counters else "an"

    @rule(n=st.integers(1, 4), staff=st.sampled_from(STAFF))
    def sign_on(self, n: int, staff: str) -> None:
        self.run(lambda e, now: e.sign_on(now, n, staff))

    @rule(n=st.integers(1, 4), stale=st.booleans())
    def next(self, n: int, stale: bool) -> None:
        staff = "someone-else" if stale else self.holder(n)
        self.run(lambda e, now: e.call_next(now, n, staff))

    @rule(n=st.integers(1, 4), number=st.integers(1001, 1012) | st.integers(2001, 2006) | st.integers(6001, 6004))
    def call_number(self, n: int, number: int) -> None:
        self.run(lambda e, now: e.call_number(now, n, self.holder(n), number))

    @rule(n=st.integers(1, 4), action=st.sampled_from(("recall", "start", "finish", "no_show", "resume", "sign_off")))
    def counter_action(self, n: int, action: str) -> None:
        self.run(lambda e, now: getattr(e, action)(now, n, self.holder(n)))

    @rule(n=st.integers(1, 4))
    def pause(self, n: int) -> None:
        self.run(lambda e, now: e.pause(now, n, self.holder(n), "Họp giao ban"))

    @rule(
        n=st.integers(1, 4),
        service=st.sampled_from((None, "CT", "HT", "TKQ", "XX")),
        to=st.sampled_from((None, 1, 2, 3, 4)),
    )
    def transfer(self, n: int, service: str | None, to: int | None) -> None:
        self.run(lambda e, now: e.transfer(now, n, self.holder(n), service=service, to_counter=to))

    @rule(
        n=st.integers(1, 4),
        service=st.sampled_from(("CT", "HT", "TKQ", "XX")),
        to_service=st.sampled_from(("CT", "HT", "TKQ")),
    )
    def serve_then_transfer(self, n: int, service: str, to_service: str) -> None:
        """A common path, made likely: a ticket, Next, and a transfer to another service."""
        self.issue(service, False, 3)
        self.next(n, False)
        self.transfer(n, to_service, None)

    @rule(i=st.integers(0, 30), action=st.sampled_from(("requeue", "cancel")))
    def ticket_action(self, i: int, action: str) -> None:
        ids = sorted(self.engine.tickets)
        if ids:
            tid = ids[i % len(ids)]
            self.run(lambda e, now: getattr(e, action)(now, tid, "boss"))

    @rule(n=st.integers(1, 4), level=st.integers(1, 4))
    def rate(self, n: int, level: int) -> None:
        last = self.engine.latest_done(n)
        if last is not None:
            self.run(lambda e, now: e.rate(now, last.id, level, counter=n))

    @rule(
        service=st.sampled_from(("CT", "HT", "TKQ")),
        is_open=st.none() | st.booleans(),
        cap=st.sampled_from((Unsaid.KEEP, None, 0, 2, 5, "x")),
    )
    def set_service(self, service: str, is_open: bool | None, cap: Any) -> None:
        self.run(lambda e, now: e.set_service(now, service, "boss", open=is_open, cap=cap))

    @rule(variant=st.sampled_from(VARIANTS))
    def reload_config(self, variant: str) -> None:
        """As ``Office.reload_config``: the switch and its meta commit together, or nothing."""
        self.now += dt.timedelta(seconds=3)
        self.commit(self.engine.tick(self.now))
        before = self.engine.state()
        try:
            events = self.engine.reconfigure(CONFIGS[variant], self.now)
        except MotcuaError:
            assert self.engine.state() == before, "a refused reload changed the engine"
            return
        self.config = CONFIGS[variant]
        self.store.commit(events, self.engine.meta())

    @rule(seconds=st.sampled_from((5, 60, 900, 3600 * 20, 86_400)))
    def wait(self, seconds: int) -> None:
        self.now += dt.timedelta(seconds=seconds)

    # ------------------------------------------------------------------ the property

    @rule()
    def restart(self) -> None:
        """kill -9 and start again: the database must give back exactly this engine."""
        rebuilt = self.store.load_engine(self.config, self.now)
        live = self.engine.state()
        again = rebuilt.state()
        for key in live:
            assert again[key] == live[key], f"after a restart {key} differs"
        self.engine = rebuilt
        self.restarts += 1

    @invariant()
    def counters_and_tickets_agree(self) -> None:
        e = self.engine
        for c in e.counters.values():
            if c.ticket_id is not None:
                assert c.state is CounterState.OPEN
                assert e.tickets[c.ticket_id].state in (TicketState.CALLED, TicketState.SERVING)
        today = [t for t in e.tickets.values() if t.day == e.day]
        assert len({t.number for t in today}) == len(today), "a number was given twice today"


Office.TestCase.settings = settings(
    max_examples=EXAMPLES, stateful_step_count=60, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
TestRestartEquivalence = Office.TestCase


def test_the_issue_case_transfers_then_restart_keep_numbering_with_the_issuing_service(tmp_path: Any) -> None:
    """CT 1001 transferred to TKQ, then a restart: TKQ goes on at 5001+, CT at 1002."""
    store = Store(tmp_path / "m.db")
    config = CONFIGS["base"]
    engine = Engine(config, T0)
    now = T0

    def run(command: Any) -> Any:
        nonlocal now
        now += dt.timedelta(seconds=5)
        result = command(engine, now)
        value, events = result if isinstance(result, tuple) else (result, result)
        store.commit(list(events), engine.meta())
        return value

    run(lambda e, t: e.sign_on(t, 1, "an"))
    first = run(lambda e, t: e.issue(t, service="CT", token="a" * 22))
    run(lambda e, t: e.call_next(t, 1, "an"))
    run(lambda e, t: e.transfer(t, 1, "an", service="TKQ"))
    engine = store.load_engine(config, now)
    assert engine.tickets[first.id].service == "TKQ" and engine.tickets[first.id].issued_service == "CT"
    assert run(lambda e, t: e.issue(t, service="TKQ", token="b" * 22)).label == "5001"
    assert run(lambda e, t: e.issue(t, service="CT", token="c" * 22)).label == "1002"
    assert engine.services["CT"].issued == 2 and engine.services["TKQ"].issued == 1
    store.close()
