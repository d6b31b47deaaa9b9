"""Benchmark: the staffing what-if (``motcua whatif``) on a commune centre's days.

    .venv/bin/python bench/bench_whatif.py [--tickets 500] [--seeds 20] [--budget 25]

Records a 500-ticket day and a five-day week (300 tickets a day) for a ten-counter centre
through the real engine and store (``queue_server.whatif.synthetic``), then times:

- replaying the 500-ticket day with 20 seeds under the actual plan (target ≤ 2 s);
- a week's recommendation (``--recommend``, search budget ``--budget`` seconds; target ≤ 30 s
  in all, the first evaluation included).

Prints the figures with the agreement of the replay and writes them to
``bench/results/whatif.json``. A benchmark, not a test: the numbers depend on the machine.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import resource
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from queue_server.config import parse_config  # noqa: E402
from queue_server.store import Store, connect  # noqa: E402
from queue_server.whatif import export, runner  # noqa: E402
from queue_server.whatif.synthetic import record_day  # noqa: E402

HOURS = ["07:30-11:30", "13:30-17:00"]
CENTRE = {
    "office": {
        "name": "Trung tâm phục vụ hành chính công xã (bench)",
        "timezone": "Asia/Ho_Chi_Minh",
        "hours": {d: HOURS for d in ("mon", "tue", "wed", "thu", "fri")},
    },
    "services": [
        {"code": "CT", "name": "Chứng thực", "range": [1001, 1999], "service_minutes": 5},
        {"code": "HT", "name": "Hộ tịch", "range": [2001, 2999], "service_minutes": 10},
        {"code": "DD", "name": "Đất đai", "range": [3001, 3999], "service_minutes": 15},
        {"code": "LD", "name": "Lao động", "range": [4001, 4999], "service_minutes": 10},
        {"code": "KD", "name": "Kinh doanh", "range": [6001, 6999], "service_minutes": 12},
        {"code": "TKQ", "name": "Trả kết quả", "range": [5001, 5999], "service_minutes": 3},
    ],
    "counters": [
        {"number": 1, "name": "Quầy 1", "services": {"CT": "primary", "TKQ": "backup"}},
        {"number": 2, "name": "Quầy 2", "services": {"CT": "primary", "HT": "backup"}},
        {"number": 3, "name": "Quầy 3", "services": {"CT": "primary", "KD": "backup"}},
        {"number": 4, "name": "Quầy 4", "services": {"HT": "primary", "CT": "backup"}},
        {"number": 5, "name": "Quầy 5", "services": {"HT": "primary", "LD": "normal"}},
        {"number": 6, "name": "Quầy 6", "services": {"DD": "primary", "KD": "backup"}},
        {"number": 7, "name": "Quầy 7", "services": {"DD": "primary", "LD": "normal"}},
        {"number": 8, "name": "Quầy 8", "services": {"KD": "primary", "CT": "backup"}},
        {"number": 9, "name": "Quầy 9", "services": {"TKQ": "primary", "LD": "normal"}},
        {"number": 10, "name": "Quầy 10", "services": {"TKQ": "primary", "CT": "backup"}},
    ],
}
MONDAY = dt.date(2026, 11, 23)
# A centre's usual mix of fields: certification the busiest, land and business files fewer.
MIX = {"CT": 5.0, "HT": 2.0, "DD": 1.0, "LD": 1.0, "KD": 1.0, "TKQ": 2.0}


def cpu_seconds() -> float:
    """CPU time of this process and of its finished children (the replay workers): a figure a
    busy machine does not inflate, unlike the wall clock."""
    own = resource.getrusage(resource.RUSAGE_SELF)
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tickets", type=int, default=500)
    parser.add_argument("--seeds", type=int, default=20)
    parser.add_argument("--budget", type=float, default=25.0)
    args = parser.parse_args()
    config = parse_config(CENTRE)
    folder = Path(tempfile.mkdtemp(prefix="motcua-bench-whatif-"))
    db = folder / "bench.db"
    store = Store(db)
    started = time.perf_counter()
    try:
        big_day = MONDAY - dt.timedelta(days=7)
        record_day(store, config, big_day, tickets=args.tickets, seed=1, mix=MIX)
        for i in range(5):
            record_day(store, config, MONDAY + dt.timedelta(days=i), tickets=300, seed=10 + i, mix=MIX)
    finally:
        store.close()
    recorded_s = time.perf_counter() - started
    conn = connect(db, readonly=True)
    try:
        t, c = time.perf_counter(), cpu_seconds()
        day = runner.run(conn, config, runner.Request(big_day, big_day, [], seeds=args.seeds))
        replay_s, replay_cpu = time.perf_counter() - t, cpu_seconds() - c
        t = time.perf_counter()
        evaluated = []
        week = runner.run(
            conn,
            config,
            runner.Request(
                MONDAY, MONDAY + dt.timedelta(days=4), [], seeds=args.seeds, recommend=True, budget_s=args.budget
            ),
            progress=lambda done, what: evaluated.append(done),
        )
        recommend_s = time.perf_counter() - t
    finally:
        conn.close()
    best = week["recommendation"]["plans"][0]
    base = week["recommendation"]["plans"][-1]
    figures = {
        "machine": {
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "load_average": list(os.getloadavg()) if hasattr(os, "getloadavg") else None,
        },
        "recording_s": round(recorded_s, 2),
        "replay_day": {
            "tickets": day["tickets"],
            "seeds": args.seeds,
            "seconds": round(replay_s, 2),
            "cpu_seconds": round(replay_cpu, 2),
            "target_s": 2.0,
            "agreement": day["agreement"],
        },
        "recommend_week": {
            "days": len(week["days"]),
            "tickets": week["tickets"],
            "budget_s": args.budget,
            "seconds": round(recommend_s, 2),
            "target_s": 30.0,
            "best": {"changes": best["changes"], "p90_min": best["figures"]["overall"]["p90_min"]},
            "actual_p90_min": base["figures"]["overall"]["p90_min"],
        },
    }
    out = ROOT / "bench" / "results" / "whatif.json"
    out.write_text(json.dumps(figures, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    print(
        f"replay: {day['tickets']} tickets × {args.seeds} seeds in {replay_s:.2f} s (target ≤ 2 s), "
        f"{replay_cpu:.2f} s of CPU over {os.cpu_count()} cores"
    )
    for line in export.agreement_lines(day):
        print(line)
    print(
        f"recommend: a week of {week['tickets']} tickets in {recommend_s:.1f} s (target ≤ 30 s); "
        f"best: {best['changes']} — p90 {best['figures']['overall']['p90_min']} min "
        f"(actual plan {base['figures']['overall']['p90_min']} min)"
    )
    print(f"load average {figures['machine']['load_average']}; written {out.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
