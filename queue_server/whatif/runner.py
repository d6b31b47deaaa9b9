"""One what-if run, from the database to the figures: used by ``motcua whatif`` and the admin
screen. The database is only read, through its own read-only connection."""

from __future__ import annotations

import contextlib
import datetime as dt
import multiprocessing
import os
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from ..config import Config
from ..errors import BadRequest, NotFound
from .measure import agreement, figures, recorded_trace
from .plan import ACTUAL_NAME, Plan, actual_plan
from .record import RecordedDay, recorded_days
from .search import allowed_services, check_objective, recommend
from .sim import Trace, replay

ACTUAL_DAY_NAME = "Thực tế đã ghi nhận"
MAX_DAYS = 31
MAX_SEEDS = 200

Progress = Callable[[float, str], None]


@dataclass
class Request:
    date_from: dt.date
    date_to: dt.date
    variants: list[Plan] = field(default_factory=list)
    seeds: int = 20
    recommend: bool = False
    objective: str = "p90"
    weight: float = 0.5
    budget_s: float = 25.0

    def check(self) -> None:
        if self.date_to < self.date_from:
            raise BadRequest(
                "Ngày kết thúc phải sau ngày bắt đầu.", "The end date is before the start date.", key="bad_range"
            )
        if (self.date_to - self.date_from).days >= MAX_DAYS:
            raise BadRequest(
                f"Mô phỏng tối đa {MAX_DAYS} ngày một lần.", f"At most {MAX_DAYS} days per run.", key="bad_range"
            )
        if not 1 <= self.seeds <= MAX_SEEDS:
            raise BadRequest(
                f"Số lần mô phỏng phải từ 1 đến {MAX_SEEDS}.", f"Seeds must be 1 to {MAX_SEEDS}.", key="bad_seeds"
            )
        if not 1 <= self.budget_s <= 600:
            raise BadRequest(
                "Thời gian tìm kiếm phải từ 1 đến 600 giây.", "The search budget must be 1-600 s.", key="bad_budget"
            )
        check_objective(self.objective, self.weight)


def _no_days(request: Request) -> NotFound:
    return NotFound(
        f"Không có ngày nào có số thứ tự từ {request.date_from:%d/%m/%Y} đến {request.date_to:%d/%m/%Y}.",
        f"No recorded day with tickets from {request.date_from:%d/%m/%Y} to {request.date_to:%d/%m/%Y}.",
        key="no_recorded_days",
    )


def check_days(conn: Any, request: Request) -> None:
    """Refuse a range without a recorded day (a cheap look, before a run is started)."""
    found = conn.execute(
        "SELECT 1 FROM events WHERE day BETWEEN ? AND ? AND kind = 'ticket_issued' LIMIT 1",
        (request.date_from.isoformat(), request.date_to.isoformat()),
    ).fetchone()
    if found is None:
        raise _no_days(request)


def load_days(conn: Any, request: Request) -> list[RecordedDay]:
    days = recorded_days(conn, request.date_from, request.date_to)
    if not days:
        raise _no_days(request)
    return days


def pooled_durations(days: list[RecordedDay]) -> dict[str, list[float]]:
    pool: dict[str, list[float]] = {}
    for d in days:
        for code, values in d.durations().items():
            pool.setdefault(code, []).extend(values)
    return pool


# Set in each worker process by ``_start_worker``: the days, config and duration pool, sent
# once per run instead of with every plan.
_WORKER: tuple[list[RecordedDay], Config, dict[str, list[float]]] | None = None


def _start_worker(days: list[RecordedDay], config: Config, pool: dict[str, list[float]]) -> None:
    global _WORKER
    with contextlib.suppress(OSError, AttributeError):
        os.nice(5)
    _WORKER = (days, config, pool)


def _replay_pairs(plan: Plan, pairs: list[tuple[int, int]]) -> list[Trace]:
    assert _WORKER is not None
    days, config, pool = _WORKER
    return [replay(days[d], config, plan, seed=s, pool=pool) for d, s in pairs]


class Replays:
    """Replays of the run's days under a plan, spread over the machine's cores (a replay is
    pure CPU work; each one depends only on its day, plan and seed, so the split changes
    nothing in the figures)."""

    def __init__(self, days: list[RecordedDay], config: Config, pool: dict[str, list[float]]) -> None:
        self.days, self.config, self.pool = days, config, pool
        # A daemonic process (the admin screen's run, see ``web``) may not start children: it
        # replays on its one core, which also leaves the other to the live office.
        self.workers = 1 if multiprocessing.current_process().daemon else min(os.cpu_count() or 1, 4)
        self.executor: ProcessPoolExecutor | None = None

    def run(self, plan: Plan, seeds: int) -> list[Trace]:
        pairs = [(d, s) for d in range(len(self.days)) for s in range(seeds)]
        if self.workers < 2 or len(pairs) < 4:
            return [replay(self.days[d], self.config, plan, seed=s, pool=self.pool) for d, s in pairs]
        if self.executor is None:
            method = "fork" if "fork" in multiprocessing.get_all_start_methods() else "spawn"
            self.executor = ProcessPoolExecutor(
                self.workers,
                mp_context=multiprocessing.get_context(method),
                initializer=_start_worker,
                initargs=(self.days, self.config, self.pool),
            )
        chunks = [pairs[i :: self.workers] for i in range(self.workers)]
        done = [self.executor.submit(_replay_pairs, plan, chunk) for chunk in chunks]
        by_pair = {pair: trace for chunk, f in zip(chunks, done) for pair, trace in zip(chunk, f.result())}
        return [by_pair[pair] for pair in pairs]

    def close(self) -> None:
        if self.executor is not None:
            self.executor.shutdown()
            self.executor = None


def run(
    conn: Any,
    config: Config,
    request: Request,
    progress: Progress | None = None,
    clock: Callable[[], float] = time.monotonic,
) -> dict[str, Any]:
    """Replay the recorded days under the actual plan and every variant (and search, when
    asked); the result is plain JSON-ready data (see docs/whatif.md)."""
    request.check()
    started = clock()
    days = load_days(conn, request)
    tz = config.office.tz
    pool = pooled_durations(days)
    base = actual_plan(config)
    plans = [base, *request.variants]
    steps = len(plans) + (1 if request.recommend else 0)

    def note(done: float, what: str) -> None:
        if progress is not None:
            progress(min(done / steps, 0.999), what)

    replays = Replays(days, config, pool)
    try:

        def evaluate(plan: Plan, seeds: int = request.seeds) -> dict[str, Any]:
            return figures(replays.run(plan, seeds), tz)

        actual = figures([recorded_trace(d, tz) for d in days], tz)
        scenarios: list[dict[str, Any]] = [{"name": ACTUAL_DAY_NAME, "kind": "actual", **actual}]
        for i, plan in enumerate(plans):
            note(i, plan.name)
            scenarios.append(
                {
                    "name": plan.name,
                    "kind": "replay" if plan is base else "variant",
                    "plan": plan.to_dict(),
                    **evaluate(plan),
                }
            )
        rows = agreement(actual, scenarios[1])
        result: dict[str, Any] = {
            "from": request.date_from.isoformat(),
            "to": request.date_to.isoformat(),
            "days": [d.day for d in days],
            "tickets": sum(len(d.arrivals) for d in days),
            "seeds": request.seeds,
            "agreement": {"rows": rows, "all_agree": all(r["agrees"] for r in rows)},
            "scenarios": scenarios,
        }
        if request.recommend:
            note(len(plans), "recommend")
            search_seeds = min(request.seeds, 5)
            found = recommend(
                base,
                allowed_services(base),
                lambda p: evaluate(p, search_seeds),
                objective=request.objective,
                weight=request.weight,
                # The budget covers the whole run: what the scenarios took is already spent.
                budget_s=max(1.0, request.budget_s - (clock() - started)),
                progress=lambda f: note(len(plans) + f, "recommend"),
                clock=clock,
            )
            result["recommendation"] = {
                "objective": request.objective,
                "weight": request.weight,
                "seeds": search_seeds,
                "plans": found,
            }
    finally:
        replays.close()
    if progress is not None:
        progress(1.0, "done")
    return result


__all__ = ["ACTUAL_NAME", "Request", "run"]
