"""Benchmark: a year of a busy centre (500,000 tickets with their events) and the time the
year report takes, for each grouping.

    .venv/bin/python bench/bench_reports.py [--tickets 500000] [--db var/bench-reports.db] [--keep]

Generates the data straight into a fresh database (schema from the store's migrations, rows
with ``executemany`` in one transaction, into a temporary file renamed when complete), then
times ``reports.build_report`` over the whole year with a read-only connection, as the admin
screen and ``motcua report`` use it. Prints the figures, the target (every grouping ≤ 0.5 s,
issue 12) and writes them to ``bench/results/reports.json`` (``--results``). ``make bench``
runs it through bench/bench.py with the database kept in ``bench/.cache/`` (not committed):
generated once, reused by later runs. A benchmark, not a test: the numbers depend on the
machine.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import random
import sqlite3
import sys
import time
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from queue_server import report_days, reports  # noqa: E402
from queue_server.config import load_config  # noqa: E402
from queue_server.store import Store, connect, insert_tickets  # noqa: E402

VN = ZoneInfo("Asia/Ho_Chi_Minh")
SERVICES = [
    ("CT", 1001, 0.40, 300),
    ("HT", 2001, 0.20, 600),
    ("DD", 3001, 0.10, 900),
    ("LD", 4001, 0.10, 600),
    ("TKQ", 5001, 0.20, 180),
]
COUNTERS = 40
# Issue 12: the year report in at most this, for every grouping.
TARGET_S = 0.5
CLERKS = [f"canbo{i:02d}" for i in range(1, 51)]
EVENT_SQL = "INSERT INTO events (at, day, kind, ticket_id, service, counter, staff, details) VALUES (?,?,?,?,?,?,?,?)"


def iso(t: dt.datetime) -> str:
    return t.astimezone(dt.UTC).isoformat()


def working_days(year: int) -> list[dt.date]:
    d, out = dt.date(year, 1, 1), []
    while d.year == year:
        if d.weekday() < 5:
            out.append(d)
        d += dt.timedelta(days=1)
    return out


def generate(path: Path, total: int, seed: int = 2026) -> int:
    """Write ``total`` tickets (spread over the working days of 2025) and their events."""
    rng = random.Random(seed)
    days = working_days(2025)
    per_day = total // len(days)
    store = Store(path)
    conn = store.conn
    conn.execute("PRAGMA synchronous = OFF")
    conn.execute("BEGIN")
    tid = 0
    events = 0
    weights = [s[2] for s in SERVICES]
    for day in days:
        tickets: list[dict[str, Any]] = []
        evs: list[tuple[Any, ...]] = []
        next_number = {s[0]: s[1] for s in SERVICES}
        opening = dt.datetime.combine(day, dt.time(7, 30), VN)
        n_today = per_day + (1 if tid + per_day * (len(days) - days.index(day)) < total else 0)
        for i in range(n_today):
            tid += 1
            code, _, _, mean_s = rng.choices(SERVICES, weights)[0]
            number = next_number[code]
            next_number[code] += 1
            issued = opening + dt.timedelta(seconds=int(i * 9.5 * 3600 / n_today) + rng.randint(0, 30))
            wait = int(rng.expovariate(1 / 900))
            estimate = max(0, int(wait + rng.gauss(0, 300)))
            counter = rng.randint(1, COUNTERS)
            staff = CLERKS[(counter + day.toordinal()) % len(CLERKS)]
            r = rng.random()
            state, transfers = "done", 1 if rng.random() < 0.03 else 0
            called = started = finished = rating = rated = None
            ds = day.isoformat()
            evs.append((iso(issued), ds, "ticket_issued", tid, code, None, None, None))
            if r < 0.02:
                state, finished = "cancelled", issued + dt.timedelta(seconds=wait // 2)
                evs.append((iso(finished), ds, "ticket_cancelled", tid, code, None, "admin", None))
            elif r < 0.04:
                state, finished = "expired", dt.datetime.combine(day + dt.timedelta(days=1), dt.time(3), VN)
                evs.append((iso(finished), ds, "ticket_expired", tid, code, None, None, None))
            else:
                called = issued + dt.timedelta(seconds=wait)
                evs.append((iso(called), ds, "ticket_called", tid, code, counter, staff, None))
                if r < 0.08:
                    state, finished = "no_show", called + dt.timedelta(seconds=120)
                    evs.append((iso(finished), ds, "ticket_no_show", tid, code, counter, staff, None))
                else:
                    if transfers:
                        evs.append(
                            (
                                iso(called + dt.timedelta(seconds=60)),
                                ds,
                                "ticket_transferred",
                                tid,
                                code,
                                counter,
                                staff,
                                None,
                            )
                        )
                        called = called + dt.timedelta(seconds=300)
                        evs.append((iso(called), ds, "ticket_called", tid, code, counter, staff, None))
                    started = called + dt.timedelta(seconds=20)
                    finished = started + dt.timedelta(seconds=int(rng.expovariate(1 / mean_s)) + 30)
                    evs.append((iso(started), ds, "ticket_started", tid, code, counter, staff, None))
                    evs.append((iso(finished), ds, "ticket_done", tid, code, counter, staff, None))
                    if rng.random() < 0.6:
                        rating = rng.choices((1, 2, 3, 4), (1, 2, 10, 20))[0]
                        rated = finished + dt.timedelta(seconds=10)
                        evs.append(
                            (iso(rated), ds, "ticket_rated", tid, code, None, None, json.dumps({"level": rating}))
                        )
            if called is None:
                counter = staff = None
            row = {
                "id": tid,
                "day": ds,
                "service": code,
                "number": number,
                "label": str(number),
                "priority": 0,
                "token": f"t{tid:09d}",
                "state": state,
                "issued_at": iso(issued),
                "queued_at": iso(issued),
                "front": 0,
                "target_counter": None,
                "counter": counter,
                "staff": staff,
                "called_at": called and iso(called),
                "started_at": started and iso(started),
                "finished_at": finished and iso(finished),
                "recalls": 0,
                "transfers": transfers,
                "kiosk": "sanh",
                "request_id": None,
                "people_ahead": 0,
                "estimated_wait_s": estimate,
                "rating": rating,
                "rated_at": rated and iso(rated),
            }
            tickets.append(row)
        if tickets:  # in the columns filled here; later ones take their defaults
            conn.executemany(insert_tickets(tickets[0]), tickets)
        conn.executemany(EVENT_SQL, evs)
        events += len(evs)
    conn.execute("COMMIT")
    conn.execute("ANALYZE")
    store.close()
    return events


def remove_database(path: Path, keep_main: bool = False) -> None:
    """The database file and its companions (WAL, shared memory, the store's lock file)."""
    for suffix in ("-wal", "-shm", ".lock") if keep_main else ("", "-wal", "-shm", ".lock"):
        Path(str(path) + suffix).unlink(missing_ok=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tickets", type=int, default=500_000)
    parser.add_argument("--db", default=str(ROOT / "var" / "bench-reports.db"))
    parser.add_argument("--keep", action="store_true", help="reuse the database if it exists")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--results", default=str(ROOT / "bench" / "results" / "reports.json"), help="JSON to write")
    args = parser.parse_args()
    path = Path(args.db)
    config = load_config(ROOT / "config.toml")
    load_before = os.getloadavg()
    if not (args.keep and path.exists()):
        remove_database(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        # Generated under another name and renamed when complete: an interrupted run leaves
        # no half-made database for --keep to reuse.
        partial = path.with_name(path.name + ".partial")
        remove_database(partial)
        t0 = time.perf_counter()
        events = generate(partial, args.tickets)
        # Out of WAL mode (everything in the main file) before the rename.
        plain = sqlite3.connect(partial)
        plain.execute("PRAGMA journal_mode = DELETE")
        plain.close()
        remove_database(partial, keep_main=True)
        partial.replace(path)
        print(f"generated {args.tickets:,} tickets and {events:,} events in {time.perf_counter() - t0:.1f} s")
    # What the running server does beside its work, one day per transaction (report_days.keep_fresh).
    store = Store(path)
    t0 = time.perf_counter()
    aggregated = report_days.refresh_all(store.conn, config.rating.levels, config.office.tz, "2026-01-01")
    aggregate_s = time.perf_counter() - t0
    store.close()
    if aggregated:
        print(f"aggregated {aggregated} days in {aggregate_s:.1f} s ({aggregate_s / aggregated * 1000:.0f} ms a day)")
    conn: sqlite3.Connection = connect(path, readonly=True)
    tickets = conn.execute("SELECT count(*) FROM tickets").fetchone()[0]
    events = conn.execute("SELECT count(*) FROM events").fetchone()[0]
    start, end = dt.date(2025, 1, 1), dt.date(2025, 12, 31)
    timings: dict[str, float] = {}
    cpu: dict[str, float] = {}
    for by in reports.GROUPINGS:
        best = float("inf")
        for _ in range(args.repeat):
            t0, c0 = time.perf_counter(), time.process_time()
            report = reports.build_report(conn, config, start, end, by)
            if time.perf_counter() - t0 < best:
                best, cpu[by] = time.perf_counter() - t0, round(time.process_time() - c0, 3)
        timings[by] = round(best, 3)
        total = report["total"]
        print(
            f"year report by {by:<8} {best:6.3f} s, CPU {cpu[by]:.3f} s  ({len(report['rows'])} rows; "
            f"issued {total['issued']:,}, served {total['served']:,}, wait median {total['waiting']['median']} s)"
        )
    t0 = time.perf_counter()
    month = reports.build_report(conn, config, dt.date(2025, 6, 1), dt.date(2025, 6, 30), "day")
    timings["month_by_day"] = round(time.perf_counter() - t0, 3)
    print(f"month report by day    {timings['month_by_day']:6.3f} s  (issued {month['total']['issued']:,})")
    t0 = time.perf_counter()
    xlsx = reports.to_xlsx(reports.build_report(conn, config, start, end, "day"))
    timings["year_by_day_xlsx"] = round(time.perf_counter() - t0, 3)
    print(f"year report by day + XLSX export {timings['year_by_day_xlsx']:.3f} s ({len(xlsx):,} bytes)")
    conn.close()
    worst = max(reports.GROUPINGS, key=lambda by: timings[by])
    met = timings[worst] <= TARGET_S
    print(
        f"target: year report ≤ {TARGET_S} s for every grouping: {'met' if met else 'MISSED'} "
        f"(slowest by {worst}: {timings[worst]:.3f} s, CPU {cpu[worst]:.3f} s)"
    )
    out = Path(args.results)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(
        json.dumps(
            {
                "benchmark": "year report",
                "when": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
                "machine": {
                    "python": platform.python_version(),
                    "sqlite": sqlite3.sqlite_version,
                    "platform": platform.platform(),
                    "cpus": os.cpu_count(),
                    # Other work on the machine slows the figures down: note how busy it was.
                    "load_average_1m": round(os.getloadavg()[0], 2),
                    "load_average_before": [round(x, 2) for x in load_before],
                },
                "tickets": tickets,
                "events": events,
                "best_of": args.repeat,
                "seconds": timings,
                "cpu_seconds": cpu,
                "aggregated_days": aggregated,
                "aggregate_s": round(aggregate_s, 2),
                "target_s": TARGET_S,
                "slowest": {"by": worst, "seconds": timings[worst], "cpu_seconds": cpu[worst]},
                "target_met": met,
            },
            indent=2,
        )
        + "\n",
        encoding="utf-8",
    )
    print(f"written {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
