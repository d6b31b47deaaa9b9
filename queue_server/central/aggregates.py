"""The central's aggregates: per site and day (``daily``) and per site and month
(``monthly``), per dimension and key, with per-minute histograms of waiting and service
times; how they are computed from the facts, packed, merged and read for a date range.
"""

from __future__ import annotations

import datetime as dt
import json
import sqlite3
import sys
from array import array
from bisect import bisect_right
from collections import defaultdict
from typing import Any

from ..reports import WAIT_BUCKETS

DIMENSIONS = ("site", "service", "counter", "staff", "hour", "service_hour")
_EDGES = [m * 60 for m in WAIT_BUCKETS]
BUCKET_COLUMNS = [f"wb{i}" for i in range(len(_EDGES) + 1)]  # waits below 5, 5-10, … , 60+ minutes
COUNT_COLUMNS = [
    "issued",
    "served",
    "no_show",
    "closed_unstarted",
    "cancelled",
    "expired",
    "transferred",
    "err",
    "wait_n",
    "wait_sum",
    "service_n",
    "service_sum",
    "rated",
    "satisfied",
    "r1",
    "r2",
    "r3",
    "r4",
    "r5",
    *BUCKET_COLUMNS,
]
MAX_COLUMNS = ["wait_max", "service_max"]
HIST_COLUMNS = ["wait_hist", "service_hist"]
AGG_COLUMNS = [*COUNT_COLUMNS, *MAX_COLUMNS]


def new_agg() -> dict[str, Any]:
    g: dict[str, Any] = dict.fromkeys(COUNT_COLUMNS, 0)
    g.update(wait_max=None, service_max=None, wait_hist=0, service_hist=0)
    return g


# Per-minute histograms are stored packed: one little-endian 32-bit count per minute (minute
# 0 first, trailing zeros dropped). Read as one big integer each, so adding two histograms
# is one integer addition (no field ever carries: a count stays far below 2^32), which lets a
# province-year report merge a hundred thousand of them in a fraction of a second.
_FIELD = 4
assert array("I").itemsize == _FIELD


def pack(hist: dict[int, int]) -> bytes:
    """A {minute: count} histogram, packed."""
    if not hist:
        return b""
    counts = array("I", bytes(_FIELD * (max(hist) + 1)))
    for minute, n in hist.items():
        counts[minute] = n
    if sys.byteorder != "little":
        counts.byteswap()
    return counts.tobytes()


def hist_int(value: bytes | str | int | None) -> int:
    """A stored histogram as the integer sums are made of (JSON text: an older database)."""
    if not value:
        return 0
    if isinstance(value, int):
        return value
    if isinstance(value, str):
        value = pack({int(m): n for m, n in json.loads(value).items()})
    return int.from_bytes(value, "little")


def unpack(total: int) -> dict[int, int]:
    """The {minute: count} histogram of a sum of ``hist_int`` values."""
    counts = array("I")
    counts.frombytes(total.to_bytes(-(-total.bit_length() // (8 * _FIELD)) * _FIELD, "little"))
    if sys.byteorder != "little":
        counts.byteswap()
    return {m: n for m, n in enumerate(counts) if n}


def _packed(total: int) -> bytes:
    return total.to_bytes(-(-total.bit_length() // (8 * _FIELD)) * _FIELD, "little")


_EDGE_SQL = ", ".join(
    [f"sum(wait_s < {_EDGES[0]})"]
    + [f"sum(wait_s >= {lo} AND wait_s < {hi})" for lo, hi in zip(_EDGES, _EDGES[1:])]
    + [f"sum(wait_s >= {_EDGES[-1]})"]
)
DIM_MARKS = ", ".join("?" * len(DIMENSIONS))
_INDEX = {c: i for i, c in enumerate(COUNT_COLUMNS)}
_STATE_INDEX = {
    "done": _INDEX["served"],
    "no_show": _INDEX["no_show"],
    "cancelled": _INDEX["cancelled"],
    "expired": _INDEX["expired"],
}
_FACTS_OF_DAY = """SELECT service, counter, staff, hour, state, transfers, wait_s, service_s, estimated_wait_s, rating,
    closed_unstarted FROM facts WHERE site = ? AND day = ?"""


def aggregate_facts(
    conn: sqlite3.Connection, site: str, day: str, levels: int
) -> dict[tuple[str, str], dict[str, Any]]:
    """Daily aggregates of one site's day per dimension and key, with per-minute histograms.

    Each ticket's few non-zero increments are worked out once and added to its six groups
    (this loop is most of the ingest time: keep it lean)."""
    I = _INDEX  # noqa: N806, E741
    acc: dict[tuple[str, str], list[Any]] = {}
    size = len(COUNT_COLUMNS)
    for service, counter, staff, hour, state, transfers, wait_s, service_s, estimate, rating, unstarted in conn.execute(
        _FACTS_OF_DAY, (site, day)
    ):
        inc = [(I["issued"], 1)]
        column = _STATE_INDEX.get(state)
        if column is not None:
            inc.append((column, 1))
        if unstarted:
            inc.append((I["closed_unstarted"], 1))
        if transfers:
            inc.append((I["transferred"], 1))
        if wait_s is not None:
            inc += [(I["wait_n"], 1), (I["wait_sum"], wait_s), (I[f"wb{bisect_right(_EDGES, wait_s)}"], 1)]
            if estimate is not None:
                inc.append((I["err"], abs(estimate - wait_s)))
        if service_s is not None:
            inc += [(I["service_n"], 1), (I["service_sum"], service_s)]
        if rating is not None:
            if 1 <= rating <= 5:
                inc.append((I[f"r{rating}"], 1))
            if 1 <= rating <= levels:
                inc.append((I["rated"], 1))
                if rating >= levels - 1:
                    inc.append((I["satisfied"], 1))
        service = service or ""
        keys = (
            ("site", ""),
            ("service", service),
            ("counter", "" if counter is None else str(counter)),
            ("staff", staff or ""),
            ("hour", str(hour)),
            ("service_hour", f"{service}|{hour}"),
        )
        wait_m = None if wait_s is None else wait_s // 60
        service_m = None if service_s is None else service_s // 60
        for dk in keys:
            a = acc.get(dk)
            if a is None:
                a = acc[dk] = [0] * size + [None, None, {}, {}]
            for i, v in inc:
                a[i] += v
            if wait_m is not None:
                if a[size] is None or wait_s > a[size]:
                    a[size] = wait_s
                a[size + 2][wait_m] = a[size + 2].get(wait_m, 0) + 1
            if service_m is not None:
                if a[size + 1] is None or service_s > a[size + 1]:
                    a[size + 1] = service_s
                a[size + 3][service_m] = a[size + 3].get(service_m, 0) + 1
    names = [*COUNT_COLUMNS, "wait_max", "service_max", "wait_hist", "service_hist"]
    return {dk: dict(zip(names, [*a[:-2], pack(a[-2]), pack(a[-1])])) for dk, a in acc.items()}


def merge_into(g: dict[str, Any], row: dict[str, Any]) -> None:
    """Add one aggregate (a stored row, or another ``new_agg``) to ``g``."""
    for c in COUNT_COLUMNS:
        g[c] += row[c] or 0
    for c in MAX_COLUMNS:
        if row[c] is not None and (g[c] is None or row[c] > g[c]):
            g[c] = row[c]
    for c in HIST_COLUMNS:
        g[c] += hist_int(row[c])


def agg_values(g: dict[str, Any]) -> list[Any]:
    hists = (g[c] if isinstance(g[c], bytes) else _packed(hist_int(g[c])) for c in HIST_COLUMNS)
    return [*(g[c] for c in AGG_COLUMNS), *hists]


# --------------------------------------------------------------------------- reading a range


def month_ranges(date_from: dt.date, date_to: dt.date) -> tuple[list[str], list[tuple[str, str]]]:
    """The whole calendar months inside the range, and the day ranges left at its edges."""
    months: list[str] = []
    edges: list[tuple[str, str]] = []
    first = date_from if date_from.day == 1 else (date_from.replace(day=1) + dt.timedelta(days=32)).replace(day=1)
    cursor = first
    while True:
        nxt = (cursor + dt.timedelta(days=32)).replace(day=1)
        if nxt - dt.timedelta(days=1) > date_to:
            break
        months.append(cursor.strftime("%Y-%m"))
        cursor = nxt
    if not months:
        return [], [(date_from.isoformat(), date_to.isoformat())]
    if date_from < first:
        edges.append((date_from.isoformat(), (first - dt.timedelta(days=1)).isoformat()))
    if cursor <= date_to:
        edges.append((cursor.isoformat(), date_to.isoformat()))
    return months, edges


def sources(
    conn: sqlite3.Connection, dim: str, date_from: dt.date, date_to: dt.date, scope: list[str], by_day: bool
) -> tuple[str, list[Any]]:
    """The aggregate rows of ``dim`` for the range as one SQL source (``UNION ALL``, with
    its parameters): whole months from ``monthly`` (unless a month is waiting for its
    roll-up), everything else from ``daily``. Each row has site, period, key and every
    aggregate column."""
    months, edges = ([], [(date_from.isoformat(), date_to.isoformat())]) if by_day else month_ranges(date_from, date_to)
    cols = ", ".join([*AGG_COLUMNS, *HIST_COLUMNS])
    parts: list[str] = []
    params: list[Any] = []

    def add(table: str, period: str, where: str, values: list[Any], sites: list[str]) -> None:
        parts.append(
            f"SELECT site, {period} AS period, key, {cols} FROM {table} WHERE dim = ? AND {where} "
            f"AND site IN ({', '.join('?' * len(sites))})"
        )
        params.extend([dim, *values, *sites])

    dirty = {(s, m) for s, m in conn.execute("SELECT site, month FROM dirty_months")}
    clean_months = []
    for month in months:
        stale = [s for s in scope if (s, month) in dirty]
        clean = [s for s in scope if (s, month) not in dirty]
        if clean:
            clean_months.append(month)
        if stale:
            add("daily", "day", "day BETWEEN ? AND ?", [f"{month}-01", f"{month}-31"], stale)
    if clean_months and not dirty:
        add("monthly", "month", "month BETWEEN ? AND ?", [clean_months[0], clean_months[-1]], scope)
    else:
        for month in clean_months:
            add("monthly", "month", "month = ?", [month], [s for s in scope if (s, month) not in dirty])
    for lo, hi in edges:
        add("daily", "day", "day BETWEEN ? AND ?", [lo, hi], scope)
    return " UNION ALL ".join(parts), params


def grouped(
    conn: sqlite3.Connection,
    dim: str,
    group: str,
    date_from: dt.date,
    date_to: dt.date,
    scope: list[str],
    by_day: bool,
) -> dict[Any, dict[str, Any]]:
    """The aggregates of ``dim`` over the range, summed per ``group`` (an SQL expression over
    site, period and key) by SQLite, without their histograms (``add_histograms``)."""
    source, params = sources(conn, dim, date_from, date_to, scope, by_day)
    sums = ", ".join([*(f"coalesce(sum({c}), 0)" for c in COUNT_COLUMNS), *(f"max({c})" for c in MAX_COLUMNS)])
    names = [*COUNT_COLUMNS, *MAX_COLUMNS]
    groups: dict[Any, dict[str, Any]] = {}
    for key, *values in conn.execute(f"SELECT {group}, {sums} FROM ({source}) GROUP BY 1", params):
        g = groups[key] = dict(zip(names, values))
        g["wait_hist"] = g["service_hist"] = 0
    return groups


def add_histograms(
    conn: sqlite3.Connection,
    groups: dict[Any, dict[str, Any]],
    dim: str,
    group: str,
    date_from: dt.date,
    date_to: dt.date,
    scope: list[str],
    by_day: bool,
) -> None:
    """Sum the per-minute histograms of the same rows into ``groups``: each one integer
    addition (``pack``), so a province-year merges fast."""
    source, params = sources(conn, dim, date_from, date_to, scope, by_day)
    from_bytes = int.from_bytes
    for key, wait, service in conn.execute(f"SELECT {group}, wait_hist, service_hist FROM ({source})", params):
        g = groups[key]
        # Packed (bytes) is the usual case; anything else (JSON text of an older database).
        g["wait_hist"] += from_bytes(wait, "little") if type(wait) is bytes else hist_int(wait)
        g["service_hist"] += from_bytes(service, "little") if type(service) is bytes else hist_int(service)


def exact_histograms(
    conn: sqlite3.Connection, fact_key: str, date_from: dt.date, date_to: dt.date, scope: list[str], column: str
) -> dict[Any, list[tuple[int, int]]]:
    out: dict[Any, list[tuple[int, int]]] = defaultdict(list)
    for key, seconds, count in conn.execute(
        f"SELECT {fact_key}, {column}, count(*) FROM facts WHERE site IN ({', '.join('?' * len(scope))}) "
        f"AND day BETWEEN ? AND ? AND {column} IS NOT NULL GROUP BY 1, 2 ORDER BY 1, 2",
        [*scope, date_from.isoformat(), date_to.isoformat()],
    ):
        out[key].append((seconds, count))
    return out
