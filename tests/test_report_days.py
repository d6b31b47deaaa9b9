"""Daily report aggregates give exactly the figures of the direct computation, on random
data, for every grouping and range, while days change after they were aggregated."""

from __future__ import annotations

import datetime as dt
import random
import sqlite3
from array import array
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from queue_server import report_days, reports
from queue_server.config import Config
from queue_server.store import Store, connect, insert_tickets
from tests.support import office_config

FIRST = dt.date(2026, 3, 2)
DAYS = 12
UTC = dt.UTC
STATES = ("done", "done", "done", "no_show", "cancelled", "expired", "waiting", "called", "serving")


def insert(conn: sqlite3.Connection, rows: list[dict[str, Any]]) -> None:
    """The rows, in the columns they fill (later ones take their defaults)."""
    conn.executemany(insert_tickets(rows[0]), rows)


def random_tickets(rng: random.Random, config: Config) -> list[dict[str, Any]]:
    rows = []
    tid = 0
    services = [s.code for s in config.services]
    for d in range(DAYS):
        day = FIRST + dt.timedelta(days=d)
        opening = dt.datetime.combine(day, dt.time(0, 30), UTC)
        for _ in range(rng.randint(0, 60)):
            tid += 1
            issued = opening + dt.timedelta(seconds=rng.randint(0, 10 * 3600))
            state = rng.choice(STATES)
            called = started = finished = rated = None
            counter = staff = rating = None
            if state in ("done", "no_show", "called", "serving") or (state == "expired" and rng.random() < 0.3):
                called = issued + dt.timedelta(seconds=rng.choice((0, 1, 59, 60, rng.randint(0, 5000))))
                counter = rng.choice((1, 2, 3, 4, 5))
                staff = rng.choice(("clerk1", "clerk2", "clerk3", None))
            if state in ("done", "serving"):
                started = called + dt.timedelta(seconds=rng.randint(0, 30))  # type: ignore[operator]
            if state in ("done", "no_show", "cancelled", "expired"):
                finished = (started or called or issued) + dt.timedelta(seconds=rng.randint(0, 2000))
            if state == "done" and rng.random() < 0.6:
                rating = rng.randint(1, config.rating.levels)
                rated = finished
            iso = lambda t: t.isoformat() if t else None  # noqa: E731
            row = {
                "id": tid,
                "day": day.isoformat(),
                "service": rng.choice(services),
                "number": 1000 + tid,
                "label": str(1000 + tid),
                "priority": int(rng.random() < 0.1),
                "token": f"tok{tid:08d}",
                "state": state,
                "issued_at": iso(issued),
                "queued_at": iso(issued),
                "front": 0,
                "target_counter": None,
                "counter": counter,
                "staff": staff,
                "called_at": iso(called),
                "started_at": iso(started),
                "finished_at": iso(finished),
                "recalls": 0,
                "transfers": int(rng.random() < 0.05),
                "kiosk": "k",
                "request_id": None,
                "people_ahead": rng.randint(0, 20),
                "estimated_wait_s": rng.randint(0, 3000),
                "rating": rating,
                "rated_at": iso(rated),
            }
            rows.append(row)
    return rows


def reports_agree(path: Path, config: Config) -> None:
    conn = connect(path, readonly=True)
    last = FIRST + dt.timedelta(days=DAYS - 1)
    ranges = [
        (FIRST, last),
        (FIRST + dt.timedelta(days=3), FIRST + dt.timedelta(days=7)),
        (last, last),
        (FIRST - dt.timedelta(days=5), FIRST),
    ]
    try:
        for a, b in ranges:
            for by in reports.GROUPINGS:
                fast = reports.build_report(conn, config, a, b, by)
                direct = reports.build_report(conn, config, a, b, by, aggregates=False)
                assert fast == direct, (a, b, by)
    finally:
        conn.close()


@pytest.mark.parametrize("seed", range(6))
def test_aggregated_reports_equal_the_direct_computation_on_random_data(tmp_path: Path, seed: int) -> None:
    rng = random.Random(seed)
    config = office_config(tmp_path)
    path = tmp_path / "office.db"
    store = Store(path)
    store.write(lambda c: insert(c, random_tickets(rng, config)))
    today = (FIRST + dt.timedelta(days=DAYS - 1)).isoformat()
    # Every day is dirty until aggregated; the current office day stays out.
    assert report_days.refresh_all(store.conn, config.rating.levels, config.office.tz, today) >= 1
    assert [r[0] for r in store.conn.execute("SELECT day FROM report_dirty")] in ([today], [])
    reports_agree(path, config)

    # A past day changes after it was aggregated (a held ticket finished after midnight):
    # it is read from the facts again until it is aggregated again.
    some = store.conn.execute("SELECT id, day FROM tickets WHERE day < ? ORDER BY id LIMIT 1", (today,)).fetchone()
    if some:
        store.write(
            lambda c: c.execute(
                "UPDATE tickets SET state = 'done', rating = 1, called_at = issued_at, "
                "started_at = issued_at, finished_at = issued_at WHERE id = ?",
                (some[0],),
            )
        )
        assert store.conn.execute("SELECT 1 FROM report_dirty WHERE day = ?", (some[1],)).fetchone()
        reports_agree(path, config)
        report_days.refresh_all(store.conn, config.rating.levels, config.office.tz, today)
        reports_agree(path, config)

    # Other rating levels change the queries: the old aggregates are not used, then rebuilt.
    five = office_config(tmp_path, rating={"levels": 5})
    reports_agree(path, five)
    assert report_days.refresh_all(store.conn, 5, five.office.tz, today) >= 1
    reports_agree(path, five)
    store.close()


def test_a_new_database_has_nothing_dirty_and_a_ticket_marks_its_day(tmp_path: Path) -> None:
    config = office_config(tmp_path)
    store = Store(tmp_path / "office.db")
    assert store.conn.execute("SELECT count(*) FROM report_dirty").fetchone()[0] == 0
    store.write(lambda c: insert(c, random_tickets(random.Random(1), config)[:1]))
    assert store.conn.execute("SELECT count(*) FROM report_dirty").fetchone()[0] == 1
    store.close()


@pytest.mark.parametrize("seed", range(30))
def test_figures_of_values_in_order_equal_those_of_their_histogram(seed: int) -> None:
    """A group's figures come from its values in order (days merged), the total's from counts:
    both give what ``summarize`` gives for the histogram, whatever the runs."""
    rng = random.Random(seed)
    high = rng.choice((1, 3, 100, 5000))
    values = sorted(rng.randint(0, high) for _ in range(rng.choice((0, 1, 2, 3, rng.randint(4, 400)))))
    hist = Counter(values)
    expected = reports.summarize(sorted(hist.items()))
    assert reports.summarize(dict(hist)) == expected
    assert reports.summarize_values(values) == expected
    # The values split into runs (one per day), each in order, merged.
    cuts = sorted(rng.randint(0, len(values)) for _ in range(rng.randint(0, 5)))
    shuffled = values[:]
    rng.shuffle(shuffled)
    runs = [sorted(part) for part in (shuffled[a:b] for a, b in zip([0, *cuts], [*cuts, len(values)])) if part]
    packed = [array("i", run).tobytes() for run in runs]
    merged = report_days.merge_runs(packed) if packed else ()
    assert (merged == hist) if isinstance(merged, dict) else (list(merged) == values)
    assert reports.summarize_times(merged) == expected


def test_figures_of_a_histogram_by_hand() -> None:
    # 1, 2, 2, 10: median between ranks 1 and 2 (2 and 2); P90 at rank 2.7: 2 + 0.7 × 8.
    assert reports.summarize_values([1, 2, 2, 10]) == {"count": 4, "mean": 3.8, "median": 2, "p90": 7.6, "max": 10}
    assert reports.summarize([(1, 1), (2, 2), (10, 1)]) == reports.summarize_values([1, 2, 2, 10])
    assert reports.summarize_values([7])["p90"] == 7


def test_the_total_counts_every_time_of_the_groups_with_sums() -> None:
    """Groups of one run, of several runs with times repeating (their counts are added) or
    not (counted again); a group with times but no sums is left out."""
    rng = random.Random(7)
    figures = report_days.Figures()
    expected: Counter[int] = Counter()
    groups = {"one run": (1, 5000), "repeating": (6, 3), "distinct": (6, 10**6), "no sums": (3, 10)}
    for key, (days, high) in groups.items():
        runs = [sorted(rng.randint(0, high) for _ in range(50)) for _ in range(days)]
        figures.add_runs("wait", key, [array("i", run).tobytes() for run in runs])
        if key != "no sums":
            figures.add_sums(key, [1])
            expected.update(v for run in runs for v in run)
    assert isinstance(figures.times("wait", "repeating"), Counter)
    assert figures.total_histogram("wait") == expected
    assert figures.total_histogram("service") == Counter()
