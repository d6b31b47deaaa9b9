"""Daily report aggregates: a year report reads a few thousand rows, not half a million.

For every office day that has ended, ``report_days`` holds, per grouping (``day``,
``service``, ``counter``, ``staff``, ``hour``) and per group of that day, the sums the report
adds up (the main query's columns, as JSON) and the waiting- and service-time histograms of
whole seconds (``(seconds, count)`` pairs packed as 32-bit integers). Charts get two more:
``arrivals`` (service, hour) and the served count per clerk (the ``staff`` rows).

Rules, and why:

- Any change to a day's ``ticket_facts`` marks the day dirty (triggers, in the same
  transaction as the ticket), and the report computes dirty days — today, a day whose held
  ticket finished after midnight — straight from ``ticket_facts``, as before. So a report is
  always exact, whether or not the aggregates are up to date.
- ``refresh_one`` rebuilds one dirty day that has ended, in the store's writer, one day per
  transaction so no command waits long behind it; ``keep_fresh`` runs it beside the server.
- The aggregates are computed by the very queries the direct path runs (``queries``), so the
  figures are identical by construction (tests/test_report_days.py checks it on random data).
  A change to those queries (a new figure, other rating levels) or to the office's UTC offset
  changes ``version``: rows of another version are not used, and are rebuilt.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import hashlib
import itertools
import json
import logging
import sqlite3
from array import array
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .office import Office

log = logging.getLogger("motcua.report_days")

GROUP_SQL = {
    "day": "day",
    "service": "service",
    "counter": "counter",
    "staff": "staff",
    "hour": "((issued_epoch + :offset) / 3600) % 24",
}
ARRIVALS = "arrivals"
# Seconds between looking for ended days to aggregate.
REFRESH_SECONDS = 300


def queries(by: str, levels: int, where: str) -> list[str]:
    """The report's four scans of ``ticket_facts`` for grouping ``by``: the sums per group,
    the two histograms per group, and the charts' spread (service, hour, clerk)."""
    key_sql = GROUP_SQL[by]
    rating_cols = ", ".join(f"sum(rating = {i})" for i in range(1, levels + 1))
    return [
        f"""SELECT {key_sql}, count(*), sum(state = 'done'), sum(state = 'no_show'), sum(state = 'cancelled'),
                   sum(state = 'expired'), sum(transfers > 0), sum(abs(estimated_wait_s - wait_s)),
                   sum(closed_unstarted), {rating_cols}
            FROM ticket_facts WHERE {where} GROUP BY 1""",
        f"""SELECT {key_sql}, wait_s, count(*) FROM ticket_facts
            WHERE {where} AND wait_s IS NOT NULL GROUP BY 1, 2 ORDER BY 1, 2""",
        f"""SELECT {key_sql}, service_s, count(*) FROM ticket_facts
            WHERE {where} AND service_s IS NOT NULL GROUP BY 1, 2 ORDER BY 1, 2""",
        # One scan for the charts: arrivals per service and hour, served tickets per clerk.
        f"""SELECT service, {GROUP_SQL["hour"]}, staff, count(*), sum(state = 'done') FROM ticket_facts
            WHERE {where} GROUP BY 1, 2, 3""",
    ]


def version(levels: int) -> str:
    """Changes whenever the aggregated queries do."""
    text = "\n".join(q for by in GROUP_SQL for q in queries(by, levels, "day = :day"))
    return hashlib.sha1(text.encode()).hexdigest()[:16]


# --------------------------------------------------------------------------- schema


def migrate(conn: sqlite3.Connection) -> None:
    """Tables and triggers (store migration); every existing day starts dirty."""
    # ``key`` has no type: a counter stays an integer, a clerk a string, "no clerk" NULL.
    # ``sums``: the main query's columns (64-bit integers); ``waits`` / ``services``: every
    # time of the group that day, in seconds (32-bit integers), so merging days is a C loop.
    conn.execute("""CREATE TABLE report_days (
        day TEXT NOT NULL, dim TEXT NOT NULL, key, version TEXT NOT NULL, tz_offset INTEGER NOT NULL,
        sums BLOB NOT NULL, waits BLOB, services BLOB)""")
    conn.execute("CREATE INDEX report_days_dim_day ON report_days (dim, day)")
    conn.execute("CREATE INDEX report_days_day ON report_days (day)")
    conn.execute("CREATE TABLE report_dirty (day TEXT PRIMARY KEY) WITHOUT ROWID")
    for when, row in (("INSERT", "NEW"), ("UPDATE", "NEW"), ("DELETE", "OLD")):
        # Not INSERT OR IGNORE: inside a trigger the outer statement's conflict rule wins.
        conn.execute(
            f"CREATE TRIGGER report_dirty_after_{when.lower()} AFTER {when} ON ticket_facts "
            f"BEGIN INSERT INTO report_dirty (day) SELECT {row}.day WHERE NOT EXISTS "
            f"(SELECT 1 FROM report_dirty WHERE day = {row}.day); END"
        )
    conn.execute("INSERT OR IGNORE INTO report_dirty (day) SELECT DISTINCT day FROM ticket_facts")


# --------------------------------------------------------------------------- figures


def ints(values: Iterable[Any], typecode: str = "q") -> bytes:
    return array(typecode, [v or 0 for v in values]).tobytes()


def from_ints(blob: bytes, typecode: str = "q") -> array[int]:
    out = array(typecode)
    out.frombytes(blob)
    return out


def expand(pairs: Iterable[tuple[int, int]]) -> bytes:
    """(seconds, count) pairs as the list of every value, packed (in order when the pairs are)."""
    values = array("i")
    for seconds, count in pairs:
        values.extend([seconds] * count)
    return values.tobytes()


def merge_runs(runs: list[bytes]) -> Sequence[int] | Counter[int]:
    """The values of ``runs`` (each a packed run of values in order): one run as it is, every
    value in order; several (a group's days) counted in C, as seconds -> count (cheaper than
    merging them in order: a group's times repeat)."""
    values = from_ints(b"".join(runs), "i")
    return values if len(runs) == 1 else Counter(values)


def column_sums(blobs: list[bytes]) -> list[int]:
    """The column sums of rows of ``sums`` (packed 64-bit integers, all of one width)."""
    width = len(blobs[0]) // 8
    values = from_ints(b"".join(blobs))
    return [sum(values[i::width]) for i in range(width)]


@dataclass
class Figures:
    """What the report is made from, per group key: the main query's sums and the two
    distributions of whole seconds (per group: runs of values in order, merged when asked;
    over all groups: seconds -> count); and for the charts, arrivals per (service, hour) and
    served tickets per clerk."""

    sums: dict[Any, list[int]] = field(default_factory=dict)
    waits: dict[Any, list[bytes]] = field(default_factory=lambda: defaultdict(list))
    services: dict[Any, list[bytes]] = field(default_factory=lambda: defaultdict(list))
    arrivals: dict[tuple[str, int], int] = field(default_factory=lambda: defaultdict(int))
    served_by_staff: dict[str | None, int] = field(default_factory=lambda: defaultdict(int))
    _merged: dict[tuple[str, Any], Sequence[int] | Counter[int]] = field(default_factory=dict)

    def add_sums(self, key: Any, values: Iterable[Any]) -> None:
        current = self.sums.get(key)
        values = [v or 0 for v in values]
        self.sums[key] = values if current is None else [a + b for a, b in zip(current, values)]

    def add_runs(self, which: str, key: Any, runs: list[bytes]) -> None:
        """Add a group's times: packed runs of whole seconds, each in order."""
        (self.waits if which == "wait" else self.services)[key].extend(runs)
        self._merged.pop((which, key), None)

    def add_scan(self, rows: list[list[Any]]) -> None:
        """Add the result of ``queries`` (main, waits, services, spread)."""
        main, waits, services, spread = rows
        for row in main:
            self.add_sums(row[0], row[1:])
        for which, hist in (("wait", waits), ("service", services)):
            # Rows come ordered by group and seconds: one run in order per group.
            for key, pairs in itertools.groupby(hist, key=lambda r: r[0]):
                self.add_runs(which, key, [expand((seconds, count) for _, seconds, count in pairs)])
        for service, hour, staff, n, done in spread:
            self.arrivals[(service, hour)] += n
            if done:
                self.served_by_staff[staff] += done

    def times(self, which: str, key: Any) -> Sequence[int] | Counter[int]:
        """The times of group ``key``: every value in order, or seconds -> count."""
        merged = self._merged.get((which, key))
        if merged is None:
            runs = (self.waits if which == "wait" else self.services).get(key)
            merged = self._merged[(which, key)] = merge_runs(runs) if runs else ()
        return merged

    def total_histogram(self, which: str) -> Counter[int]:
        """Seconds -> count over the groups that have sums (a group with times only is left
        for next time)."""
        total: Counter[int] = Counter()
        for key, runs in (self.waits if which == "wait" else self.services).items():
            if key not in self.sums:
                continue
            times = self.times(which, key)
            # A group already counted adds its counts (a Python loop over its distinct times)
            # when they repeat enough; otherwise its values are counted again, in C.
            values = sum(map(len, runs)) // 4  # packed 32-bit integers
            if isinstance(times, Counter) and 2 * len(times) < values:
                total.update(times)
            else:
                total.update(from_ints(b"".join(runs), "i"))
        return total


def scan(conn: sqlite3.Connection, by: str, levels: int, where: str, params: dict[str, Any]) -> list[list[Any]]:
    return [conn.execute(q, params).fetchall() for q in queries(by, levels, where)]


def collect(
    conn: sqlite3.Connection, by: str, levels: int, date_from: str, date_to: str, offset: int, fetch: Any
) -> Figures:
    """Figures for ``date_from``..``date_to``: ended days from ``report_days``, the rest
    (dirty, or aggregated under another version or UTC offset) straight from the facts with
    ``fetch(queries, params)``."""
    figures = Figures()
    params = {"a": date_from, "b": date_to, "offset": offset, "v": version(levels)}
    # Every day with facts is either dirty or aggregated (the triggers and refresh_one keep it
    # so): the days to read from the facts are the dirty ones and those aggregated otherwise.
    direct = [
        r[0]
        for r in conn.execute(
            """SELECT day FROM report_dirty WHERE day BETWEEN :a AND :b
           UNION SELECT day FROM report_days WHERE dim = 'day' AND day BETWEEN :a AND :b
                 AND (version != :v OR tz_offset != :offset)""",
            params,
        )
    ]
    _add_aggregates(conn, figures, by, params)
    if direct:
        where = "day IN (SELECT value FROM json_each(:days))"
        figures.add_scan(fetch(queries(by, levels, where), {**params, "days": json.dumps(direct)}))
    return figures


def _add_aggregates(conn: sqlite3.Connection, figures: Figures, by: str, params: dict[str, Any]) -> None:
    where = (
        "day BETWEEN :a AND :b AND version = :v AND tz_offset = :offset "
        "AND day NOT IN (SELECT day FROM report_dirty WHERE day BETWEEN :a AND :b)"
    )
    sums: dict[Any, list[bytes]] = defaultdict(list)
    waits: dict[Any, list[bytes]] = defaultdict(list)
    services: dict[Any, list[bytes]] = defaultdict(list)
    for key, day_sums, wait_values, service_values in conn.execute(
        f"SELECT key, sums, waits, services FROM report_days WHERE dim = :dim AND {where}", {**params, "dim": by}
    ):
        sums[key].append(day_sums)
        if wait_values:
            waits[key].append(wait_values)
        if service_values:
            services[key].append(service_values)
    # Adding columns and counting values in C (sums of array slices, Counter.update on an
    # array) is what makes a year fast; merging a group's days waits for its summary.
    group_sums = {key: column_sums(blobs) for key, blobs in sums.items()}
    for key, row in group_sums.items():
        figures.add_sums(key, row)
    for which, parts in (("wait", waits), ("service", services)):
        for key, runs in parts.items():
            figures.add_runs(which, key, runs)
    for service, hours in conn.execute(
        f"SELECT key, sums FROM report_days WHERE dim = '{ARRIVALS}' AND {where}", params
    ):
        for hour, n in enumerate(from_ints(hours)):
            if n:
                figures.arrivals[(service, hour)] += n
    if by != "staff":
        sums.clear()
        for staff, day_sums in conn.execute(
            f"SELECT key, sums FROM report_days WHERE dim = 'staff' AND {where}", params
        ):
            sums[staff].append(day_sums)
        group_sums = {staff: column_sums(blobs) for staff, blobs in sums.items()}
    for staff, row in group_sums.items():
        if row[1]:
            figures.served_by_staff[staff] += row[1]


# --------------------------------------------------------------------------- refresh


def refresh_one(conn: sqlite3.Connection, levels: int, tz: dt.tzinfo, before: str) -> str | None:
    """Aggregate the oldest dirty day before ``before`` (the current office day), in one write
    transaction. Returns the day, or None when nothing is left to do."""
    conn.execute("BEGIN IMMEDIATE")
    try:
        row = conn.execute("SELECT day FROM report_dirty WHERE day < ? ORDER BY day LIMIT 1", (before,)).fetchone()
        if row is None:
            # Also redo days aggregated under another version or offset (e.g. after an upgrade).
            row = conn.execute(
                "SELECT day FROM report_days WHERE dim = 'day' AND day < ? AND version != ? ORDER BY day LIMIT 1",
                (before, version(levels)),
            ).fetchone()
        if row is None:
            conn.execute("COMMIT")
            return None
        day = row[0]
        offset = day_offset(tz, day)
        conn.execute("DELETE FROM report_days WHERE day = ?", (day,))
        params = {"day": day, "offset": offset}
        ver = version(levels)
        spread: list[Any] = []
        for by in GROUP_SQL:
            main, waits, services, spread = scan(conn, by, levels, "day = :day", params)
            hists: dict[Any, tuple[list[tuple[int, int]], list[tuple[int, int]]]] = defaultdict(lambda: ([], []))
            for i, hist in enumerate((waits, services)):
                for key, seconds, count in hist:
                    hists[key][i].append((seconds, count))
            conn.executemany(
                "INSERT INTO report_days (day, dim, key, version, tz_offset, sums, waits, services) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                [
                    (
                        day,
                        by,
                        r[0],
                        ver,
                        offset,
                        ints(r[1:]),
                        expand(hists[r[0]][0]) if r[0] in hists else None,
                        expand(hists[r[0]][1]) if r[0] in hists else None,
                    )
                    for r in main
                ],
            )
        arrivals: dict[str, list[int]] = defaultdict(lambda: [0] * 24)
        for service, hour, _staff, n, _done in spread:
            arrivals[service][hour] += n
        conn.executemany(
            "INSERT INTO report_days (day, dim, key, version, tz_offset, sums) VALUES (?, ?, ?, ?, ?, ?)",
            [(day, ARRIVALS, service, ver, offset, ints(hours)) for service, hours in arrivals.items()],
        )
        conn.execute("DELETE FROM report_dirty WHERE day = ?", (day,))
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    return str(day)


def refresh_all(conn: sqlite3.Connection, levels: int, tz: dt.tzinfo, before: str) -> int:
    """Aggregate every ended dirty day (``motcua`` tools and the bench; the server uses
    ``keep_fresh``). Returns how many days were done."""
    done = 0
    while refresh_one(conn, levels, tz, before) is not None:
        done += 1
    return done


def day_offset(tz: dt.tzinfo, day: str) -> int:
    """The UTC offset at noon of ``day`` (what the report uses for a one-day range)."""
    noon = dt.datetime.combine(dt.date.fromisoformat(day), dt.time(12), tz)
    return int((noon.utcoffset() or dt.timedelta(0)).total_seconds())


async def keep_fresh(office: Office) -> None:
    """Beside the server: aggregate ended days, one per writer job, then look again later."""
    while True:
        try:
            while True:
                config = office.config
                day = await office.with_write_connection(
                    refresh_one, config.rating.levels, config.office.tz, office.day
                )
                if day is None:
                    break
                await asyncio.sleep(0)
        except Exception:
            log.exception("aggregating report days failed")
        await asyncio.sleep(REFRESH_SECONDS)
