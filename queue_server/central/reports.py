"""Combined reports over the sites the central pulled, with the site as a dimension
(``by="site"``) and as a filter (``sites``).

The answer has the shape of an office's own report (``queue_server.reports.build_report``),
so the same CSV/XLSX exporters write it, and for one site its figures equal that site's own
report exactly: the facts are the site's own (each ticket's figures as the site counts them),
grouped by the site's own office day. Counts, sums and maxima come from the daily and monthly
aggregates (``aggregates``), summed by SQLite; medians and P90 need the whole distribution
and come from a histogram of whole seconds over the facts of the range (the same
interpolation as the offices'), or past ``EXACT_LIMIT`` tickets from the aggregates'
per-minute histograms.

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
from .aggregates import BUCKET_COLUMNS, add_histograms, exact_histograms, grouped, merge_into, new_agg, unpack
from .config import CentralConfig

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
    groups = grouped(conn, dim, group, date_from, date_to, scope, by == "day")
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
            hists = exact_histograms(conn, fact_key, date_from, date_to, scope, column)
            for key, g in groups.items():
                g[name] = hists.get(key, [])
    else:
        add_histograms(conn, groups, dim, group, date_from, date_to, scope, by == "day")
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
    for key, g in grouped(conn, "staff", staff_key, date_from, date_to, scope, False).items():
        if g["served"]:
            staff_served[key] += g["served"]
    arrivals: dict[str, list[int]] = defaultdict(lambda: [0] * 24)
    for key, g in grouped(conn, "service_hour", "key", date_from, date_to, scope, False).items():
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
        "closed_without_start": _closed_without_start(scope, infos),
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


def _closed_without_start(scope: list[str], infos: dict[str, dict[str, Any]]) -> str:
    """What the sites in scope count a ticket closed without start as (each site's own
    ``queue.closed_without_start``, sent with its figures): "served", "absent", or "mixed"
    when they differ (each ticket is then counted as its own site counts it)."""
    settings = {(infos.get(s) or {}).get("closed_without_start") or "served" for s in scope if s in infos}
    return settings.pop() if len(settings) == 1 else "mixed" if settings else "served"


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
        "closed_unstarted": g["closed_unstarted"],
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
