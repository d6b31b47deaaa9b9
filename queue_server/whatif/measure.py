"""Figures of a replay, or of the recorded day itself, in the words a leader uses.

- *wait*: from taking the ticket to the first call (the same definition as the reports);
  mean, median and 90th percentile (Excel's PERCENTILE.INC) per service and overall.
- *within 15 minutes*: the share of citizens called within 15 minutes of taking their ticket,
  counting those never called at all as not within.
- citizens *never called* that day count in the mean, median and P90 with the time they had
  waited when the day ended (a lower bound), so leaving people unserved never looks better.
- *queue length*: citizens waiting at each quarter hour (office-local time), and the longest.
- *utilisation*: of the time a counter was open (not paused), the share its clerk was busy
  with a citizen.

Figures over several seeds or days pool all the waits; queue lengths are averaged.
"""

from __future__ import annotations

import datetime as dt
import statistics
from collections import defaultdict
from typing import Any
from zoneinfo import ZoneInfo

from .record import RecordedDay
from .sim import Trace

WITHIN_S = 15 * 60
SAMPLE_MINUTES = 15
# Agreement between the replay of the actual plan and the recorded day: a service's mean wait
# agrees when it is within 15 % or within one minute.
AGREE_SHARE = 0.15
AGREE_SECONDS = 60.0


def recorded_trace(day: RecordedDay, tz: ZoneInfo) -> Trace:
    start = day.start or dt.datetime.combine(dt.date.fromisoformat(day.day), dt.time(0), tz)
    end = day.end or start
    tr = Trace(day.day, start)

    def s(at: dt.datetime) -> float:
        return (at - start).total_seconds()

    for a in day.arrivals:
        w = a.first_wait_s
        if w is not None:
            tr.first_waits.append((a.service, w))
        elif a.cancelled_at is None and a.waits and a.waits[0][1] is None:
            tr.never_called.append((a.service, (end - a.at).total_seconds()))
        for begin, finish in a.waits:
            tr.queue_steps.append((s(begin), 1))
            if finish is not None:
                tr.queue_steps.append((s(finish), -1))
        for v in a.visits:
            if v.counter is not None:
                tr.busy_s[v.counter] = tr.busy_s.get(v.counter, 0.0) + v.busy_s
    since: dict[int, dt.datetime] = {n: start for n, state in day.open_at_start.items() if state == "open"}
    for ch in day.counter_changes:
        if ch.kind in ("open", "resume"):
            since.setdefault(ch.counter, ch.at)
        else:
            began = since.pop(ch.counter, None)
            if began is not None:
                tr.open_s[ch.counter] = tr.open_s.get(ch.counter, 0.0) + (ch.at - began).total_seconds()
    for n, began in since.items():
        tr.open_s[n] = tr.open_s.get(n, 0.0) + (end - began).total_seconds()
    tr.end_s = s(end)
    return tr


def _minutes(seconds: float | None) -> float | None:
    return None if seconds is None else round(seconds / 60, 1)


def wait_figures(waits: list[float], never_called: list[float]) -> dict[str, Any]:
    """Figures of the waits of called citizens and of those never called (``never_called``:
    how long they had waited when the day ended). The never-called count in the mean, median
    and P90 with that time, a lower bound of their wait, so that a plan that leaves more
    citizens unserved never looks better for it; they are never "within 15 minutes"."""
    n = len(waits) + len(never_called)
    if n == 0:
        return {
            "called": 0,
            "never_called": 0,
            "mean_min": None,
            "median_min": None,
            "p90_min": None,
            "within_15_share": None,
        }
    ordered = sorted([*waits, *never_called])
    p90 = ordered[0] if len(ordered) == 1 else statistics.quantiles(ordered, n=10, method="inclusive")[8]
    return {
        "called": len(waits),
        "never_called": len(never_called),
        "mean_min": _minutes(statistics.fmean(ordered)),
        "median_min": _minutes(statistics.median(ordered)),
        "p90_min": _minutes(p90),
        "within_15_share": round(sum(1 for w in waits if w <= WITHIN_S) / n, 4),
    }


def _queue_series(traces: list[Trace], tz: ZoneInfo) -> tuple[list[dict[str, Any]], float, int]:
    """Average waiting count per local quarter hour; the mean and the largest longest queue."""
    sums: dict[str, float] = defaultdict(float)
    counts: dict[str, int] = defaultdict(int)
    longest: list[int] = []
    for tr in traces:
        steps = sorted(tr.queue_steps)
        local_start = tr.start.astimezone(tz)
        first = local_start.replace(
            minute=local_start.minute - local_start.minute % SAMPLE_MINUTES, second=0, microsecond=0
        )
        t = (first - local_start).total_seconds()
        level, peak, i = 0, 0, 0
        while t <= tr.end_s + SAMPLE_MINUTES * 60:
            while i < len(steps) and steps[i][0] <= t:
                level += steps[i][1]
                peak = max(peak, level)
                i += 1
            key = (local_start + dt.timedelta(seconds=t)).strftime("%H:%M")
            sums[key] += max(level, 0)
            counts[key] += 1
            t += SAMPLE_MINUTES * 60
        while i < len(steps):
            level += steps[i][1]
            peak = max(peak, level)
            i += 1
        longest.append(peak)
    series = [{"time": k, "waiting": round(sums[k] / counts[k], 1)} for k in sorted(sums)]
    mean_longest = statistics.fmean(longest) if longest else 0.0
    return series, round(mean_longest, 1), max(longest, default=0)


def figures(traces: list[Trace], tz: ZoneInfo) -> dict[str, Any]:
    """The figures of one scenario: ``traces`` are its replays (days × seeds)."""
    by_service: dict[str, list[float]] = defaultdict(list)
    never: dict[str, list[float]] = defaultdict(list)
    busy: dict[int, float] = defaultdict(float)
    opened: dict[int, float] = defaultdict(float)
    for tr in traces:
        for code, w in tr.first_waits:
            by_service[code].append(w)
        for code, waited in tr.never_called:
            never[code].append(waited)
        for c, v in tr.busy_s.items():
            busy[c] += v
        for c, v in tr.open_s.items():
            opened[c] += v
    services = {
        code: wait_figures(by_service.get(code, []), never.get(code, []))
        for code in sorted(set(by_service) | set(never))
    }
    overall = wait_figures([w for ws in by_service.values() for w in ws], [w for ws in never.values() for w in ws])
    series, longest_mean, longest_max = _queue_series(traces, tz)
    utilisation = {
        str(c): round(min(busy.get(c, 0.0) / opened[c], 1.0), 4) if opened.get(c) else None
        for c in sorted(set(busy) | set(opened))
    }
    return {
        "services": services,
        "overall": overall,
        "longest_queue": longest_mean,
        "longest_queue_max": longest_max,
        "queue_over_time": series,
        "utilisation": utilisation,
    }


def agreement(actual: dict[str, Any], replayed: dict[str, Any]) -> list[dict[str, Any]]:
    """How far the replay of the actual plan is from what was measured, per service."""
    rows = []
    for code, real in actual["services"].items():
        sim = replayed["services"].get(code)
        a = real["mean_min"]
        b = sim["mean_min"] if sim else None
        if a is None or b is None:
            continue
        diff_s = (b - a) * 60
        rows.append(
            {
                "service": code,
                "actual_mean_min": a,
                "replay_mean_min": b,
                "difference_min": round(b - a, 1),
                "difference_share": round((b - a) / a, 3) if a else None,
                "agrees": abs(diff_s) <= max(AGREE_SHARE * a * 60, AGREE_SECONDS),
            }
        )
    return rows
