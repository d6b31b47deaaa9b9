"""The central's dossier, satisfaction and appointment reports: the offices' report kinds
over the sites, with the site as a dimension (``by="site"``) and a filter (``sites``).

Definitions are the offices' (docs/reports.md, docs/appointments.md), computed from what
the sites sent, so one site's figures equal its own report's:

- dossiers: each site's dossiers received in the range, in their state now, the category
  decided with *that site's* today (its own time zone);
- satisfaction: the served tickets of the range (``facts``), a rating "satisfied" by each
  site's own ``rating.satisfied_levels``;
- appointments: the booking slots of the range; a booking is absent once *its* site's
  check-in window has closed, waits are each called appointment's seconds from its slot.

Counters and staff are per site when several sites are in scope (``site/1``,
``site/clerk1``), services, procedures and months are summed by code.
"""

from __future__ import annotations

import datetime as dt
import json
import sqlite3
from collections import defaultdict
from typing import Any
from zoneinfo import ZoneInfo

from ..appointment_report import ON_TIME_MINUTES
from ..dossier_reports import CATEGORIES, category, summary_sentence
from ..dossier_reports import _finish as dossier_row
from ..dossier_reports import _sat_row as satisfaction_row
from ..errors import BadRequest
from ..reports import NO_GROUP, summarize, vn_date
from ..store import connect
from .config import CentralConfig
from .reports import check as check_range

KINDS = ("dossiers", "satisfaction", "appointments")
GROUPINGS = {
    "dossiers": ("month", "site", "service", "procedure", "staff"),
    "satisfaction": ("month", "site", "service", "staff", "counter"),
    "appointments": ("day", "site", "service"),
}


def check(kind: str, by: str) -> None:
    if kind not in KINDS:
        raise BadRequest(
            f"Loại báo cáo phải là một trong: tickets, {', '.join(KINDS)}.",
            f"Report kind must be one of: tickets, {', '.join(KINDS)}.",
            key="bad_kind",
        )
    if by not in GROUPINGS[kind]:
        raise BadRequest(
            f"Nhóm theo phải là một trong: {', '.join(GROUPINGS[kind])}.",
            f"Group by must be one of: {', '.join(GROUPINGS[kind])}.",
            key="bad_group",
        )


def build_kind_report(
    path: str,
    config: CentralConfig,
    kind: str,
    date_from: dt.date,
    date_to: dt.date,
    by: str,
    sites: list[str] | None = None,
    now: dt.datetime | None = None,
) -> dict[str, Any]:
    """The ``kind`` report for ``date_from``..``date_to`` over ``sites`` (None: all), read
    from the central database at ``path`` in one snapshot. ``now``: the central's clock."""
    check(kind, by)
    check_range(date_from, date_to, "site", config, sites)
    now = now or dt.datetime.now(dt.UTC)
    conn = connect(path, readonly=True)
    try:
        conn.execute("BEGIN")
        ctx = _Context(conn, config, sites, by)
        build = {"dossiers": _dossiers, "satisfaction": _satisfaction, "appointments": _appointments}[kind]
        report = build(ctx, date_from, date_to, now)
    finally:
        conn.close()
    report.update(
        kind=kind,
        office=ctx.office,
        sites=ctx.scope,
        **{"from": date_from.isoformat(), "to": date_to.isoformat()},
        by=by,
    )
    return report


class _Context:
    def __init__(self, conn: sqlite3.Connection, config: CentralConfig, sites: list[str] | None, by: str):
        self.conn, self.config, self.by = conn, config, by
        self.scope = list(sites) if sites else [s.id for s in config.sites]
        self.single = len(self.scope) == 1
        rows = conn.execute(
            f"SELECT id, info, timezone FROM sites WHERE id IN ({', '.join('?' * len(self.scope))})", self.scope
        ).fetchall()
        self.infos = {r[0]: json.loads(r[1]) if r[1] else {} for r in rows}
        self.zones = {r[0]: r[2] or "Asia/Ho_Chi_Minh" for r in rows}
        first = self.infos.get(self.scope[0], {})
        self.office = (first.get("name") or config.site(self.scope[0]).name) if self.single else config.central.name
        self.marks = ", ".join("?" * len(self.scope))

    def today(self, site: str, now: dt.datetime) -> str:
        return now.astimezone(ZoneInfo(self.zones.get(site) or "Asia/Ho_Chi_Minh")).date().isoformat()

    def key(self, site: str, value: Any) -> Any:
        """The group of a row: per site for staff and counters when several sites are in scope."""
        if self.by == "site":
            return site
        if self.by in ("staff", "counter") and not self.single:
            return f"{site}/{'' if value is None else value}"
        return value

    def label(self, key: Any) -> str:
        if key is None or key == "" or (isinstance(key, str) and key.endswith("/")):
            return NO_GROUP
        by = self.by
        if by == "site":
            return self.config.site(key).name
        if by == "month":
            return f"{key[5:7]}/{key[:4]}"
        if by == "day":
            return vn_date(key)
        if by == "service":
            names = [x["name"] for s in self.scope for x in self._info(s).get("services", []) if x["code"] == key]
            return names[0] if names else str(key)
        if by == "procedure":
            names = [x["name"] for s in self.scope for x in self._info(s).get("procedures", []) if x["code"] == key]
            return f"{key} – {names[0]}" if names else str(key)
        site, value = (self.scope[0], str(key)) if self.single else str(key).split("/", 1)
        suffix = "" if self.single else f" ({self.config.site(site).name})"
        if by == "staff":
            staff = self._info(site).get("staff", [])
            return next((u.get("display_name") or value for u in staff if u["username"] == value), value) + suffix
        counters = self._info(site).get("counters", [])
        return next((c["name"] for c in counters if str(c["number"]) == value), value) + suffix

    def _info(self, site: str) -> dict[str, Any]:
        return self.infos.get(site) or {}

    def order(self, key: Any) -> tuple[Any, ...]:
        """The offices' order (by the key's text), sites in central.toml's order."""
        if self.by == "site":
            return (self.scope.index(key) if key in self.scope else len(self.scope), str(key))
        return (key is None, str(key))

    def public(self, key: Any) -> Any:
        return None if isinstance(key, str) and key.endswith("/") else key


# ---------------------------------------------------------------------- dossiers


def _dossiers(ctx: _Context, date_from: dt.date, date_to: dt.date, now: dt.datetime) -> dict[str, Any]:
    column = {"month": "substr(received_on, 1, 7)", "site": "site", "service": "service", "procedure": "procedure"}
    col = column.get(ctx.by, "staff")
    groups: dict[Any, dict[str, int]] = defaultdict(lambda: dict.fromkeys(("received", *CATEGORIES), 0))
    late: list[dict[str, Any]] = []
    names = {(s, p["code"]): p["name"] for s in ctx.scope for p in ctx.infos.get(s, {}).get("procedures", [])}
    todays = {s: ctx.today(s, now) for s in ctx.scope}
    for site, value, code, proc, status, received_on, due, new_due, ready_on in ctx.conn.execute(
        f"SELECT site, {col}, code, procedure, status, received_on, due_date, new_due_date, ready_on FROM dossiers "
        f"WHERE received_on BETWEEN ? AND ? AND site IN ({ctx.marks}) AND gone = 0 ORDER BY received_on, site, code",
        (date_from.isoformat(), date_to.isoformat(), *ctx.scope),
    ):
        cat = category({"status": status, "due_date": due, "new_due_date": new_due, "ready_on": ready_on}, todays[site])
        g = groups[ctx.key(site, value)]
        g["received"] += 1
        g[cat] += 1
        if cat in ("late", "overdue"):
            late.append(
                {
                    "site": site,
                    "code": code,
                    "procedure": proc,
                    "procedure_name": names.get((site, proc or ""), proc or ""),
                    "received_on": received_on,
                    "due_date": due,
                    "new_due_date": new_due,
                    "ready_on": ready_on,
                    "status": status,
                    "pending": cat == "overdue",
                }
            )
    rows = [dossier_row(ctx.public(k), ctx.label(k), groups[k]) for k in sorted(groups, key=ctx.order)]
    total = dict.fromkeys(("received", *CATEGORIES), 0)
    for g in groups.values():
        for k in total:
            total[k] += g[k]
    return {
        "as_of": {s: todays[s] for s in ctx.scope},
        "rows": rows,
        "total": dossier_row(None, "Tổng cộng", total),
        "late": late,
        "summary": summary_sentence(date_from, date_to, total["received"], total["on_time"], total["late"]),
    }


# ---------------------------------------------------------------------- satisfaction


def _satisfaction(ctx: _Context, date_from: dt.date, date_to: dt.date, now: dt.datetime) -> dict[str, Any]:
    levels_of = {s: int(ctx.infos.get(s, {}).get("rating_levels") or 5) for s in ctx.scope}
    top_of = {s: levels_of[s] - int(ctx.infos.get(s, {}).get("satisfied_levels") or 2) for s in ctx.scope}
    levels = max(levels_of.values(), default=5)
    col = {"month": "substr(day, 1, 7)", "site": "site", "service": "service", "staff": "staff", "counter": "counter"}
    groups: dict[Any, dict[str, Any]] = {}
    for site, value, rating, n in ctx.conn.execute(
        f"SELECT site, {col[ctx.by]}, rating, count(*) FROM facts WHERE site IN ({ctx.marks}) "
        "AND day BETWEEN ? AND ? AND state = 'done' GROUP BY 1, 2, 3",
        (*ctx.scope, date_from.isoformat(), date_to.isoformat()),
    ):
        key = ctx.key(site, value)
        g = groups.get(key)
        if g is None:
            g = groups[key] = {"served": 0, "rated": 0, "no_rating": 0, "satisfied": 0, "ratings": [0] * levels}
        g["served"] += n
        if rating is None:
            g["no_rating"] += n
            continue
        g["rated"] += n
        if 1 <= rating <= levels:
            g["ratings"][rating - 1] += n
        if rating > top_of[site]:
            g["satisfied"] += n
    total: dict[str, Any] = {"served": 0, "rated": 0, "no_rating": 0, "satisfied": 0, "ratings": [0] * levels}
    for g in groups.values():
        for k in ("served", "rated", "no_rating", "satisfied"):
            total[k] += g[k]
        total["ratings"] = [a + b for a, b in zip(total["ratings"], g["ratings"])]
    return {
        "rating_levels": levels,
        "satisfied_levels": {s: levels_of[s] - top_of[s] for s in ctx.scope},
        "rows": [satisfaction_row(ctx.public(k), ctx.label(k), groups[k]) for k in sorted(groups, key=ctx.order)],
        "total": satisfaction_row(None, "Tổng cộng", total),
    }


# ---------------------------------------------------------------------- appointments


def _appointments(ctx: _Context, date_from: dt.date, date_to: dt.date, now: dt.datetime) -> dict[str, Any]:
    groups: dict[Any, dict[str, Any]] = {}
    total = _appt_group()
    for site, day, service, start_at, late, booked, cancelled, checked_in, other, waits in ctx.conn.execute(
        "SELECT site, date, service, start_at, late_minutes, booked, cancelled, checked_in, other, waits FROM slots "
        f"WHERE date BETWEEN ? AND ? AND site IN ({ctx.marks})",
        (date_from.isoformat(), date_to.isoformat(), *ctx.scope),
    ):
        key = (day, service) if ctx.by == "day" else ctx.key(site, service)
        g = groups.get(key)
        if g is None:
            g = groups[key] = _appt_group()
        closed = now > dt.datetime.fromisoformat(start_at) + dt.timedelta(minutes=late or 0)
        for x in (g, total):
            x["booked"] += booked
            x["cancelled"] += cancelled
            x["checked_in"] += checked_in
            x["absent"] += other if closed else 0
            for w in json.loads(waits or "[]"):
                x["called"] += 1
                x["_wait"][w] = x["_wait"].get(w, 0) + 1
                x["on_time"] += w <= ON_TIME_MINUTES * 60
    rows = []
    for key in sorted(groups, key=lambda k: k if ctx.by == "day" else ctx.order(k)):
        if ctx.by == "day":
            day, service = key
            label = next(
                (
                    x["name"]
                    for s in ctx.scope
                    for x in ctx.infos.get(s, {}).get("services", [])
                    if x["code"] == service
                ),
                service,
            )
            rows.append(_appt_row(groups[key], day, service, label))
        else:
            rows.append(_appt_row(groups[key], None, ctx.public(key), ctx.label(key)))
    return {"on_time_minutes": ON_TIME_MINUTES, "rows": rows, "total": _appt_row(total, None, None, "Tổng cộng")}


def _appt_group() -> dict[str, Any]:
    return {"booked": 0, "checked_in": 0, "absent": 0, "cancelled": 0, "_wait": {}, "called": 0, "on_time": 0}


def _appt_row(g: dict[str, Any], day: str | None, key: Any, label: str) -> dict[str, Any]:
    """The office's row (``date``, ``service``, …) with the group's ``key``."""
    service = key if day else None
    out = {"date": day, "service": service, "key": key, "label": label}
    out.update({k: v for k, v in g.items() if not k.startswith("_")})
    out["wait"] = summarize(g["_wait"])
    out["on_time_share"] = round(g["on_time"] / g["called"], 4) if g["called"] else None
    return out
