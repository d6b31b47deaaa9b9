"""``--recommend``: a bounded local search over counter plans.

Starting from the actual plan, it tries one change at a time and keeps a change when it
improves the objective, until no single change helps or the time budget is spent. The changes
it may make are the ones an office can make tomorrow without hiring or retraining:

- a counter's level for a service it already serves (primary, normal, backup): the
  counters' services in config.toml are the limit of what each clerk handles;
- a counter's opening times, moved earlier or later by 30 minutes (the same working time).

Every plan is judged on the same days with the same seeds, so two plans differ only by the
plan. Objectives: ``p90`` (the 90th percentile wait), ``balance`` (the spread of utilisation
between open counters, as a standard deviation) or ``mix`` (``weight`` × p90 + (1 − weight) ×
balance, each relative to the actual plan's).
"""

from __future__ import annotations

import random
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

from ..errors import BadRequest
from .plan import Plan

OBJECTIVES = ("p90", "balance", "mix")
# The levels the search moves between (not "appointment": an appointments-only counter is
# a decision about bookings, not about staffing).
SEARCH_LEVELS = ("primary", "normal", "backup")
SHIFT_STEP = 30
SHIFT_LIMIT = 90

Evaluate = Callable[[Plan], dict[str, Any]]


def check_objective(objective: str, weight: float) -> None:
    if objective not in OBJECTIVES:
        raise BadRequest(
            f"Tiêu chí phải là một trong: {', '.join(OBJECTIVES)}.",
            f"The objective must be one of: {', '.join(OBJECTIVES)}.",
            key="bad_objective",
        )
    if not 0.0 <= weight <= 1.0:
        raise BadRequest("Trọng số phải từ 0 đến 1.", "The weight must be from 0 to 1.", key="bad_weight")


def balance(figs: dict[str, Any]) -> float:
    shares = [u for u in figs["utilisation"].values() if u is not None]
    return statistics.pstdev(shares) if len(shares) > 1 else 0.0


def p90(figs: dict[str, Any]) -> float:
    value = figs["overall"]["p90_min"]
    return float(value) if value is not None else 0.0


@dataclass
class Scorer:
    objective: str
    weight: float
    base_p90: float
    base_balance: float

    def __call__(self, figs: dict[str, Any]) -> float:
        if self.objective == "p90":
            return p90(figs)
        if self.objective == "balance":
            return balance(figs)
        return self.weight * p90(figs) / max(self.base_p90, 0.1) + (1 - self.weight) * balance(figs) / max(
            self.base_balance, 0.01
        )


def _key(plan: Plan) -> tuple[Any, ...]:
    return tuple(
        (c.number, tuple(sorted(c.services.items())), c.shift_minutes, c.closed)
        for c in sorted(plan.counters, key=lambda c: c.number)
    )


def neighbours(plan: Plan, allowed: dict[int, set[str]]) -> list[Plan]:
    out: list[Plan] = []
    for c in plan.counters:
        if c.closed:
            continue
        for code in sorted(allowed.get(c.number, set())):
            for level in SEARCH_LEVELS:
                if c.services.get(code) != level:
                    out.append(plan.with_counter(replace(c, services={**c.services, code: level})))
        for step in (-SHIFT_STEP, SHIFT_STEP):
            shift = c.shift_minutes + step
            if abs(shift) <= SHIFT_LIMIT:
                out.append(plan.with_counter(replace(c, shift_minutes=shift)))
    return out


def describe(plan: Plan, base: Plan) -> str:
    """The plan's changes from ``base`` in plain Vietnamese, e.g. "Quầy 3: CT dự phòng → chính"."""
    words = {"primary": "chính", "normal": "thường", "backup": "dự phòng"}
    parts = []
    for c in sorted(plan.counters, key=lambda c: c.number):
        b = base.counter(c.number)
        changes = []
        for code in sorted(set(c.services) | set(b.services if b else {})):
            old = b.services.get(code) if b else None
            new = c.services.get(code)
            if old != new:
                changes.append(f"{code} {words.get(old or '', 'không')} → {words.get(new or '', 'không')}")
        shift = c.shift_minutes - (b.shift_minutes if b else 0)
        if shift:
            changes.append(f"mở {'sớm' if shift < 0 else 'muộn'} {abs(shift)} phút")
        if changes:
            parts.append(f"Quầy {c.number}: " + ", ".join(changes))
    return "; ".join(parts) or "Không đổi"


def recommend(
    base: Plan,
    allowed: dict[int, set[str]],
    evaluate: Evaluate,
    *,
    objective: str,
    weight: float,
    budget_s: float,
    seed: int = 0,
    progress: Callable[[float], None] | None = None,
    clock: Callable[[], float] = time.monotonic,
) -> list[dict[str, Any]]:
    """The three best plans found (better than ``base`` or not), each with its figures and score."""
    started = clock()
    base_figs = evaluate(base)
    score = Scorer(objective, weight, p90(base_figs), balance(base_figs))
    seen: dict[tuple[Any, ...], tuple[float, Plan, dict[str, Any]]] = {_key(base): (score(base_figs), base, base_figs)}
    rng = random.Random(seed)
    current, current_score = base, score(base_figs)
    improved = True
    while improved and clock() - started < budget_s:
        improved = False
        options = neighbours(current, allowed)
        rng.shuffle(options)
        for candidate in options:
            if clock() - started >= budget_s:
                break
            k = _key(candidate)
            if k in seen:
                continue
            figs = evaluate(candidate)
            s = score(figs)
            seen[k] = (s, candidate, figs)
            if progress is not None:
                progress(min((clock() - started) / budget_s, 0.99))
            if s < current_score - 1e-9:
                current, current_score, improved = candidate, s, True
                break
    ranked = sorted((v for k, v in seen.items() if k != _key(base)), key=lambda v: v[0])[:3]
    return [
        {
            "name": f"Đề xuất {i + 1}",
            "changes": describe(p, base),
            "score": round(s, 4),
            "plan": p.to_dict(),
            "figures": f,
        }
        for i, (s, p, f) in enumerate(ranked)
    ] + [
        {
            "name": base.name,
            "changes": "Không đổi",
            "score": round(score(base_figs), 4),
            "plan": base.to_dict(),
            "figures": base_figs,
            "base": True,
        }
    ]


def allowed_services(base: Plan) -> dict[int, set[str]]:
    return {c.number: set(c.services) for c in base.counters}
