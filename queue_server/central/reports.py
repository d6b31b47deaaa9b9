"""Combined reports over the sites the central pulled, with the site as a dimension
(``by="site"``) and as a filter (``sites``).

The answer has the shape of an office's own report (``queue_server.reports.build_report``),
so the same CSV/XLSX exporters write it, and for one site its figures equal that site's own
report exactly: the facts are the site's own (each ticket's figures as the site counts them),
grouped by the site's own office day. Counts, sums and maxima come from the daily aggregates;
medians and P90 need the whole distribution and come from a histogram of whole seconds over
the facts of the range (the same interpolation as the offices').

Across several sites, counters and staff are per site (counter 1 of one office is not
counter 1 of another): their groups are keyed ``site/counter`` and ``site/username``.
Services and hours are shared codes and are summed across sites.
"""

from __future__ import annotations

import datetime as dt
import json
import sqlite3
from collections import defaultdict
from typing import Any

from ..errors import BadRequest
from ..reports import MAX_DAYS, NO_GROUP, WAIT_BUCKETS, quantile, vn_date
from .config import CentralConfig
from .store import (
    AGG_COLUMNS,
    BUCKET_COLUMNS,
    COUNT_COLUMNS,
    HIST_COLUMNS,
    MAX_COLUMNS,
    hist_int,
    merge_into,
    new_agg,
    unpack,
)

GROUPINGS = ("day", "site", "service", "counter", "staff", "hour")


def check(date_from: dt.date, date_to: dt.date, by: str, config: CentralConfig, sites: list[str] | None) -> None:
    if by not in GROUPINGS:
        raise BadRequest(
            f"Nhóm theo phải là một trong: {', '.join(GROUPINGS)}.",
            f"Group by must be one of: {', '.join(GROUPINGS)}.",
            key="bad_group",
        )
    if date_to < date_from:
        raise BadRequest(
            "Ngày kết thúc phải sau ngày bắt đầu.", "The end date is before the start date.", key="bad_range"
        )
    if (date_to - date_from).days >= MAX_DAYS:
        raise BadRequest(
            "Khoảng thời gian quá dài (tối đa 3 năm).", "Range too long (at most 3 years).", key="bad_range"
        )
    known = {s.id for s in config.sites}
    for s in sites or ():
        if s not in known:
            raise BadRequest(
                f"Không có điểm một cửa {s!r} trong central.toml.",
                f"No site {s!r} in central.toml.",
                key="unknown_site",
            )


def _site_infos(conn: sqlite3.Connection) -> dict[str, dict[str, Any]]:
    return {r[0]: json.loads(r[1]) for r in conn.execute("SELECT id, info FROM sites WHERE info IS NOT NULL")}


# Above this many tickets in a report's scope, medians and P90 come from the per-minute
# histograms of the aggregates instead of every ticket's seconds (docs/central.md).
EXACT_LIMIT = 250_000


def _month_ranges(date_from: dt.date, date_to: dt.date) -> tuple[list[str], list[tuple[str, str]]]:
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


def _sources(
    conn: sqlite3.Connection, dim: str, date_from: dt.date, date_to: dt.date, scope: list[str], by_day: bool
) -> tuple[str, list[Any]]:
    """The aggregate rows of ``dim`` for the range as one SQL source (``UNION ALL``, with
    its parameters): whole months from ``monthly`` (unless a month is waiting for its
    roll-up), everything else from ``daily``. Each row has site, period, key and every
    aggregate column."""
    months, edges = (
        ([], [(date_from.isoformat(), date_to.isoformat())]) if by_day else _month_ranges(date_from, date_to)
    )
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


def _aggregates(
    conn: sqlite3.Connection,
    dim: str,
    group: str,
    date_from: dt.date,
    date_to: dt.date,
    scope: list[str],
    by_day: bool,
) -> dict[Any, dict[str, Any]]:
    """The aggregates of ``dim`` over the range, summed per ``group`` (an SQL expression over
    site, period and key) by SQLite, without their histograms (``_add_histograms``)."""
    source, params = _sources(conn, dim, date_from, date_to, scope, by_day)
    sums = ", ".join([*(f"coalesce(sum({c}), 0)" for c in COUNT_COLUMNS), *(f"max({c})" for c in MAX_COLUMNS)])
    names = [*COUNT_COLUMNS, *MAX_COLUMNS]
    groups: dict[Any, dict[str, Any]] = {}
    for key, *values in conn.execute(f"SELECT {group}, {sums} FROM ({source}) GROUP BY 1", params):
        g = groups[key] = dict(zip(names, values))
        g["wait_hist"] = g["service_hist"] = 0
    return groups


def _add_histograms(
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
    addition (``store.pack``), so a province-year merges fast."""
    source, params = _sources(conn, dim, date_from, date_to, scope, by_day)
    for key, wait, service in conn.execute(f"SELECT {group}, wait_hist, service_hist FROM ({source})", params):
        g = groups[key]
        g["wait_hist"] += hist_int(wait)
        g["service_hist"] += hist_int(service)


def _exact_histograms(
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


def build_central_report(
    path: str,
    config: CentralConfig,
    date_from: dt.date,
    date_to: dt.date,
    by: str = "site",
    sites: list[str] | None = None,
    exact_limit: int = EXACT_LIMIT,
) -> dict[str, Any]:
    """Figures for office days ``date_from``..``date_to`` over ``sites`` (None: all) grouped
    ``by``. Reads the central database at ``path`` read-only, in one snapshot."""
    check(date_from, date_to, by, config, sites)
    from ..store import connect

    conn = connect(path, readonly=True)
    try:
        conn.execute("BEGIN")
        return _build(conn, config, date_from, date_to, by, sites, exact_limit)
    finally:
        conn.close()


def _build(
    conn: sqlite3.Connection,
    config: CentralConfig,
    date_from: dt.date,
    date_to: dt.date,
    by: str,
    sites: list[str] | None,
    exact_limit: int,
) -> dict[str, Any]:
    infos = _site_infos(conn)
    scope = list(sites) if sites else [s.id for s in config.sites]
    single = len(scope) == 1
    per_site = by in ("counter", "staff") and not single
    dim = {"day": "site", "site": "site"}.get(by, by)

    if by == "day":
        group = "period"
    elif by == "site":
        group = "site"
    else:
        group = "site || '/' || key" if per_site else "key"
    groups = _aggregates(conn, dim, group, date_from, date_to, scope, by == "day")
    exact = sum(g["issued"] for g in groups.values()) <= exact_limit
    if exact:
        fact_key = {
            "day": "day",
            "site": "site",
            "service": "coalesce(service, '')",
            "counter": "coalesce(CAST(counter AS TEXT), '')",
            "staff": "coalesce(staff, '')",
            "hour": "CAST(hour AS TEXT)",
        }[by]
        if per_site:
            fact_key = f"site || '/' || {fact_key}"
        for name, column in (("_wait", "wait_s"), ("_service", "service_s")):
            hists = _exact_histograms(conn, fact_key, date_from, date_to, scope, column)
            for key, g in groups.items():
                g[name] = hists.get(key, [])
    else:
        _add_histograms(conn, groups, dim, group, date_from, date_to, scope, by == "day")
        for g in groups.values():
            # Each time counted at the middle of its whole minute.
            g["_wait"] = [(m * 60 + 30, n) for m, n in sorted(unpack(g["wait_hist"]).items())]
            g["_service"] = [(m * 60 + 30, n) for m, n in sorted(unpack(g["service_hist"]).items())]
    levels = max([int((infos.get(s) or {}).get("rating_levels") or 0) for s in scope] or [0]) or 5
    labels = _labels(by, scope, infos, config, single)
    total_served = sum(g["served"] for g in groups.values())
    total = new_agg()
    total_wait: dict[int, int] = defaultdict(int)
    total_service: dict[int, int] = defaultdict(int)
    rows = []
    for key in sorted(groups, key=_sort_key(by, scope, infos, single)):
        g = groups[key]
        merge_into(total, g)
        for v, n in g["_wait"]:
            total_wait[v] += n
        for v, n in g["_service"]:
            total_service[v] += n
        rows.append(_row(g, _public_key(by, key, single), _label(by, key, labels), total_served, levels))
    total["_wait"] = sorted(total_wait.items())
    total["_service"] = sorted(total_service.items())
    total_row = _row(total, None, "Tổng cộng", total_served, levels)

    staff_served: dict[str, int] = defaultdict(int)
    staff_key = "key" if single else "site || '/' || key"
    for key, g in _aggregates(conn, "staff", staff_key, date_from, date_to, scope, False).items():
        if g["served"]:
            staff_served[key] += g["served"]
    arrivals: dict[str, list[int]] = defaultdict(lambda: [0] * 24)
    for key, g in _aggregates(conn, "service_hour", "key", date_from, date_to, scope, False).items():
        code, _, hour = key.rpartition("|")
        arrivals[code][int(hour)] += g["issued"] or 0
    staff_labels = labels if by == "staff" else _labels("staff", scope, infos, config, single)
    staff = [
        {
            "staff": s or NO_GROUP,
            "name": staff_labels.get(s, s) if s else NO_GROUP,
            "served": n,
            "share": round(n / total_served, 4) if total_served else None,
        }
        for s, n in sorted(
            ((k if k and not k.endswith("/") else None, v) for k, v in staff_served.items()),
            key=lambda kv: (-kv[1], kv[0] or ""),
        )
    ]
    service_names = _labels("service", scope, infos, config, single)
    order = _service_order(scope, infos)
    edges = [0, *WAIT_BUCKETS]
    office = (infos.get(scope[0]) or {}).get("name") or config.site(scope[0]).name if single else config.central.name
    return {
        "office": office,
        "sites": scope,
        "from": date_from.isoformat(),
        "to": date_to.isoformat(),
        "by": by,
        "rating_levels": levels,
        "percentiles": "exact" if exact else "minute",
        "rows": rows,
        "total": total_row,
        "staff": staff,
        "charts": {
            "arrivals_by_hour": {
                "hours": list(range(24)),
                "series": [
                    {"service": code, "name": service_names.get(code, code), "counts": arrivals[code]}
                    for code in sorted(arrivals, key=lambda c: (order.get(c, len(order)), c))
                ],
            },
            "wait_distribution": {
                "buckets": [f"{a}–{b}" for a, b in zip(edges, edges[1:])] + [f"≥{edges[-1]}"],
                "counts": [total[c] for c in BUCKET_COLUMNS],
            },
            "served_per_staff": [{"name": s["name"], "served": s["served"]} for s in staff],
            "satisfaction": {"levels": list(range(1, levels + 1)), "counts": total_row["ratings"]},
        },
    }


def _summary(hist: list[tuple[int, int]], n: int, total: int | None, top: int | None) -> dict[str, Any]:
    if not n:
        return {"count": 0, "mean": None, "median": None, "p90": None, "max": None}
    return {
        "count": n,
        "mean": round((total or 0) / n, 1),
        "median": round(quantile(hist, 0.5, n), 1),
        "p90": round(quantile(hist, 0.9, n), 1),
        "max": top,
    }


def _row(g: dict[str, Any], key: Any, label: str, total_served: int, levels: int) -> dict[str, Any]:
    wait_n = g["wait_n"]
    ratings = [g[f"r{i}"] for i in range(1, levels + 1)]
    wait_max, service_max = g["wait_max"], g["service_max"]
    return {
        "key": key,
        "label": label,
        "issued": g["issued"],
        "served": g["served"],
        "no_show": g["no_show"],
        "cancelled": g["cancelled"],
        "transferred": g["transferred"],
        "expired": g["expired"],
        "waiting": _summary(g["_wait"], wait_n, g["wait_sum"], wait_max),
        "service": _summary(g["_service"], g["service_n"], g["service_sum"], service_max),
        "served_share": round(g["served"] / total_served, 4) if total_served else None,
        "ratings": ratings,
        "rated": g["rated"],
        "satisfied_share": round(g["satisfied"] / g["rated"], 4) if g["rated"] else None,
        "estimate_mae": round(g["err"] / wait_n, 1) if wait_n else None,
    }


def _public_key(by: str, key: Any, single: bool) -> Any:
    """The key as the office's own report gives it (numbers for counters and hours)."""
    if key == "" or key is None:
        return None
    if by == "hour" or (by == "counter" and single):
        return int(key)
    return key


def _label(by: str, key: Any, labels: dict[Any, str]) -> str:
    if key == "" or key is None or (isinstance(key, str) and key.endswith("/")):
        return NO_GROUP
    if by == "day":
        return vn_date(key)
    if by == "hour":
        h = int(key)
        return f"{h:02d}:00–{(h + 1) % 24:02d}:00"
    return labels.get(key, str(key))


def _labels(
    by: str, scope: list[str], infos: dict[str, dict[str, Any]], config: CentralConfig, single: bool
) -> dict[Any, str]:
    out: dict[Any, str] = {}
    if by == "site":
        for s in config.sites:
            out[s.id] = s.name
    for site in scope:
        info = infos.get(site) or {}
        prefix = "" if single else f"{site}/"
        suffix = "" if single else f" ({config.site(site).name})"
        if by == "service":
            for s in info.get("services", []):
                out.setdefault(s["code"], s["name"])
        elif by == "counter":
            for c in info.get("counters", []):
                out[f"{prefix}{c['number']}"] = c["name"] + suffix
        elif by == "staff":
            for u in info.get("staff", []):
                out[f"{prefix}{u['username']}"] = (u.get("display_name") or u["username"]) + suffix
    return out


def _service_order(scope: list[str], infos: dict[str, dict[str, Any]]) -> dict[str, int]:
    order: dict[str, int] = {}
    for site in scope:
        for s in (infos.get(site) or {}).get("services", []):
            order.setdefault(s["code"], len(order))
    return order


def _sort_key(by: str, scope: list[str], infos: dict[str, dict[str, Any]], single: bool) -> Any:
    site_order = {s: i for i, s in enumerate(scope)}
    services = _service_order(scope, infos)

    def key(k: str) -> tuple[Any, ...]:
        none = k == "" or k.endswith("/")
        if by == "site":
            return (site_order.get(k, len(site_order)), k)
        if by == "service":
            return (none, services.get(k, len(services)), k)
        if by == "hour":
            return (none, int(k) if not none else 0)
        if by == "counter":
            site, _, number = k.rpartition("/")
            return (site_order.get(site, 0), none, int(number) if number else 0)
        if by == "staff":
            site, _, name = k.rpartition("/")
            return (site_order.get(site, 0), none, name)
        return (none, k)

    return key
