"""The central's own SQLite database: what it pulled from each site, folded into

- ``facts``: one row per ticket per site with its report figures (the same figures the site's
  own reports count), clustered by (site, day);
- ``daily``: daily aggregates per site and per service, counter, staff and hour (and per
  service × hour for the arrivals chart), recomputed from ``facts`` for every (site, day) a
  page touches, so reports over years read a few thousand rows;
- ``live_tickets`` and ``counters``: each site's current office day, for the overview and
  the read-only monitor;
- ``other_events``: events about neither a ticket nor a counter (service closed, day
  started, and kinds other modules add), kept as sent for reports built on them later;
- ``sites``: the cursor per site, committed in the same transaction as the page it ends.

Ingesting a page is idempotent: rows are keyed (site, ticket) and a snapshot older than the
one stored (``snap_seq``) never overwrites it, so a repeated pull or a bundle imported twice
or overlapping changes nothing.
"""

from __future__ import annotations

import datetime as dt
import json
import sqlite3
from collections.abc import Callable
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from ..store import connect
from . import rows
from .aggregates import (
    AGG_COLUMNS,
    DIM_MARKS,
    DIMENSIONS,
    HIST_COLUMNS,
    agg_values,
    aggregate_facts,
    merge_into,
    new_agg,
)

_AGG_COLUMN_SQL = ", ".join(f"{c} INTEGER" for c in AGG_COLUMNS) + ", wait_hist BLOB, service_hist BLOB"
_AGG_NAMES = ", ".join([*AGG_COLUMNS, *HIST_COLUMNS])
_AGG_MARKS = ", ".join("?" * (len(AGG_COLUMNS) + len(HIST_COLUMNS)))

SCHEMA = f"""
CREATE TABLE IF NOT EXISTS sites (
    id TEXT PRIMARY KEY, cursor INTEGER NOT NULL DEFAULT 0, snapshot_seq INTEGER NOT NULL DEFAULT 0,
    info TEXT, timezone TEXT, day TEXT, last_heard TEXT, last_attempt TEXT, last_error TEXT,
    events_total INTEGER NOT NULL DEFAULT 0, behind INTEGER NOT NULL DEFAULT 0);
CREATE TABLE IF NOT EXISTS facts (
    site TEXT NOT NULL, day TEXT NOT NULL, id INTEGER NOT NULL, service TEXT, counter INTEGER, staff TEXT,
    state TEXT, transfers INTEGER, issued_epoch INTEGER, hour INTEGER, wait_s INTEGER, service_s INTEGER,
    estimated_wait_s INTEGER, rating INTEGER, snap_seq INTEGER NOT NULL,
    closed_unstarted INTEGER NOT NULL DEFAULT 0, PRIMARY KEY (site, day, id)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS daily (
    dim TEXT NOT NULL, site TEXT NOT NULL, day TEXT NOT NULL, key TEXT NOT NULL, {_AGG_COLUMN_SQL},
    PRIMARY KEY (dim, day, site, key)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS monthly (
    dim TEXT NOT NULL, site TEXT NOT NULL, month TEXT NOT NULL, key TEXT NOT NULL, {_AGG_COLUMN_SQL},
    PRIMARY KEY (dim, month, site, key)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS dirty_months (site TEXT NOT NULL, month TEXT NOT NULL, PRIMARY KEY (site, month))
    WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS live_tickets (
    site TEXT NOT NULL, id INTEGER NOT NULL, day TEXT NOT NULL, state TEXT NOT NULL, data TEXT NOT NULL,
    snap_seq INTEGER NOT NULL, PRIMARY KEY (site, id)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS counters (
    site TEXT NOT NULL, number INTEGER NOT NULL, state TEXT, staff TEXT, ticket_id INTEGER, pause_reason TEXT,
    since TEXT, snap_seq INTEGER NOT NULL, PRIMARY KEY (site, number)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS other_events (
    site TEXT NOT NULL, seq INTEGER NOT NULL, at TEXT, day TEXT, kind TEXT, staff TEXT, details TEXT,
    PRIMARY KEY (site, seq)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS users (
    username TEXT PRIMARY KEY, display_name TEXT, password_hash TEXT NOT NULL, disabled INTEGER NOT NULL DEFAULT 0,
    created_at TEXT);
CREATE TABLE IF NOT EXISTS sessions (id TEXT PRIMARY KEY, username TEXT NOT NULL, created_at TEXT);
"""

_FACT_UPSERT = """INSERT INTO facts (site, day, id, service, counter, staff, state, transfers, issued_epoch, hour,
        wait_s, service_s, estimated_wait_s, rating, snap_seq, closed_unstarted)
    VALUES (:site, :day, :id, :service, :counter, :staff, :state, :transfers, :issued_epoch, :hour,
        :wait_s, :service_s, :estimated_wait_s, :rating, :snap_seq, :closed_unstarted)
    ON CONFLICT (site, day, id) DO UPDATE SET service = excluded.service, counter = excluded.counter,
        staff = excluded.staff, state = excluded.state, transfers = excluded.transfers,
        issued_epoch = excluded.issued_epoch, hour = excluded.hour, wait_s = excluded.wait_s,
        service_s = excluded.service_s, estimated_wait_s = excluded.estimated_wait_s, rating = excluded.rating,
        snap_seq = excluded.snap_seq, closed_unstarted = excluded.closed_unstarted
    WHERE excluded.snap_seq >= facts.snap_seq"""
_LIVE_UPSERT = """INSERT INTO live_tickets (site, id, day, state, data, snap_seq) VALUES (?, ?, ?, ?, ?, ?)
    ON CONFLICT (site, id) DO UPDATE SET day = excluded.day, state = excluded.state, data = excluded.data,
        snap_seq = excluded.snap_seq WHERE excluded.snap_seq >= live_tickets.snap_seq"""
_COUNTER_UPSERT = """INSERT INTO counters (site, number, state, staff, ticket_id, pause_reason, since, snap_seq)
    VALUES (?, ?, ?, ?, ?, ?, ?, ?)
    ON CONFLICT (site, number) DO UPDATE SET state = excluded.state, staff = excluded.staff,
        ticket_id = excluded.ticket_id, pause_reason = excluded.pause_reason, since = excluded.since,
        snap_seq = excluded.snap_seq WHERE excluded.snap_seq >= counters.snap_seq"""


def _seconds(a: str | None, b: str | None) -> int | None:
    if not a or not b:
        return None
    return round((dt.datetime.fromisoformat(b) - dt.datetime.fromisoformat(a)).total_seconds())


def fact_row(site: str, t: dict[str, Any], tz: ZoneInfo, snap_seq: int) -> dict[str, Any]:
    issued = dt.datetime.fromisoformat(t["issued_at"])
    wait_s = t["wait_s"] if "wait_s" in t else _seconds(t.get("issued_at"), t.get("called_at"))
    if "service_s" in t:
        service_s = t["service_s"]
    else:
        service_s = _seconds(t.get("started_at"), t.get("finished_at")) if t.get("state") == "done" else None
    return {
        "site": site,
        "day": t["day"],
        "id": t["id"],
        "service": t.get("service"),
        "counter": t.get("counter"),
        "staff": t.get("staff"),
        "state": t.get("state"),
        "transfers": t.get("transfers") or 0,
        "issued_epoch": int(issued.timestamp()),
        "hour": issued.astimezone(tz).hour,
        "wait_s": wait_s,
        "service_s": service_s,
        "estimated_wait_s": t.get("estimated_wait_s"),
        "rating": t.get("rating"),
        "snap_seq": snap_seq,
        "closed_unstarted": 1 if t.get("closed_unstarted") else 0,
    }


class CentralStore:
    """One write connection (ingest, accounts); reports open read-only connections."""

    def __init__(self, path: str | Path):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.conn = connect(self.path)
        # The central's data can be pulled again from the sites: NORMAL is durable enough
        # in WAL mode and makes catching up several times faster.
        self.conn.execute("PRAGMA synchronous = NORMAL")
        self.conn.execute("PRAGMA cache_size = -65536")
        self.conn.executescript(SCHEMA)
        self.conn.executescript(rows.SCHEMA)
        self._migrate()

    def _migrate(self) -> None:
        """A database made before "closed without start" reached the central gets its
        column (0 for what it already holds, until those days are pulled again)."""
        for table in ("facts", "daily", "monthly"):
            columns = {r[1] for r in self.conn.execute(f"PRAGMA table_info({table})")}
            if "closed_unstarted" not in columns:
                default = " NOT NULL DEFAULT 0" if table == "facts" else ""
                self.conn.execute(f"ALTER TABLE {table} ADD COLUMN closed_unstarted INTEGER{default}")

    def close(self) -> None:
        self.conn.close()

    def write(self, fn: Callable[[sqlite3.Connection], Any]) -> Any:
        self.conn.execute("BEGIN IMMEDIATE")
        try:
            result = fn(self.conn)
            self.conn.execute("COMMIT")
        except BaseException:
            self.conn.execute("ROLLBACK")
            raise
        return result

    def reader(self) -> sqlite3.Connection:
        """A read-only connection of its own (it sees the last commit); the caller closes it.
        Reads from the web run in a thread; the write connection belongs to the writer thread."""
        return connect(self.path, readonly=True)

    # ------------------------------------------------------------------ sites

    def site_row(self, site: str) -> dict[str, Any]:
        cur = self.conn.execute("SELECT * FROM sites WHERE id = ?", (site,))
        row = cur.fetchone()
        if row is None:
            return {
                "id": site,
                "cursor": 0,
                "snapshot_seq": 0,
                "info": None,
                "timezone": None,
                "day": None,
                "last_heard": None,
                "last_attempt": None,
                "last_error": None,
                "events_total": 0,
                "behind": 0,
            }
        return dict(zip([d[0] for d in cur.description], row))

    def cursor(self, site: str) -> int:
        return int(self.site_row(site)["cursor"])

    def cursors(self, site: str) -> tuple[int, int]:
        """(event cursor, dossier/booking row cursor) of ``site``."""
        return self.cursor(site), rows.row_cursor(self.conn, site)

    def note_failure(self, site: str, at: dt.datetime, error: str) -> None:
        self.write(
            lambda c: c.execute(
                """INSERT INTO sites (id, last_attempt, last_error) VALUES (?, ?, ?)
               ON CONFLICT (id) DO UPDATE SET last_attempt = excluded.last_attempt, last_error = excluded.last_error""",
                (site, at.isoformat(), error),
            )
        )

    # ------------------------------------------------------------------ ingest

    def ingest(self, site: str, page: dict[str, Any], heard_at: dt.datetime) -> dict[str, Any]:
        """Fold one page (a sync answer or a bundle) into the database, with the site's new
        cursor, in one transaction. Returns {applied, cursor, more, days}."""
        info = page.get("site") or {}
        tz_name = page.get("office_day_tz") or info.get("timezone") or "Asia/Ho_Chi_Minh"
        tz = ZoneInfo(tz_name)
        snap = int(page.get("snapshot_seq") or page.get("next_after") or 0)
        after = int(page.get("after") or 0)
        next_after = int(page.get("next_after") or after)
        levels = int(info.get("rating_levels") or 5)
        events = page.get("events") or []

        def write(c: sqlite3.Connection) -> dict[str, Any]:
            row = self.site_row(site)
            cursor = int(row["cursor"])
            fresh = [e for e in events if int(e["seq"]) > cursor]
            # A page wholly behind the cursor (a repeated pull, an old bundle) changes nothing.
            tickets = {t["id"]: t for t in (page.get("tickets") or [])} if fresh else {}
            counters = {cs["number"]: cs for cs in (page.get("counters") or [])} if fresh else {}
            others = [
                (
                    site,
                    e["seq"],
                    e.get("at"),
                    e.get("day"),
                    e.get("kind"),
                    e.get("staff"),
                    json.dumps(e.get("details"), ensure_ascii=False) if e.get("details") else None,
                )
                for e in fresh
                if e.get("ticket_id") is None and not str(e.get("kind")).startswith("counter_")
            ]
            c.executemany(_FACT_UPSERT, [fact_row(site, t, tz, snap) for t in tickets.values()])
            # Only the office's current day (and later) feeds the overview: a catch-up over
            # old days does not write rows it would delete at once.
            newest = max([row["day"] or "", *(t["day"] for t in tickets.values())])
            c.executemany(
                _LIVE_UPSERT,
                [
                    (site, t["id"], t["day"], t["state"], json.dumps(t, ensure_ascii=False), snap)
                    for t in tickets.values()
                    if t["day"] >= newest or t["state"] in ("called", "serving")
                ],
            )
            c.executemany(
                _COUNTER_UPSERT,
                [
                    (
                        site,
                        n,
                        s.get("state"),
                        s.get("staff"),
                        s.get("ticket_id"),
                        s.get("pause_reason"),
                        s.get("since"),
                        snap,
                    )
                    for n, s in counters.items()
                ],
            )
            c.executemany(
                "INSERT OR IGNORE INTO other_events (site, seq, at, day, kind, staff, details) "
                "VALUES (?, ?, ?, ?, ?, ?, ?)",
                others,
            )
            carried = rows.fold(c, site, page)
            days = sorted({t["day"] for t in tickets.values()})
            for day in days:
                self._recompute_day(c, site, day, levels)
            # The cursor moves only over a contiguous stretch: a bundle starting after a gap
            # adds its rows but the gap is still pulled later.
            new_cursor = max(cursor, next_after) if after <= cursor else cursor
            site_day = max([row["day"] or "", *days, *[e.get("day") or "" for e in events]]) or None
            applied = len(fresh)
            c.execute(
                """INSERT INTO sites (id, cursor, snapshot_seq, info, timezone, day, last_heard, last_attempt,
                       last_error, events_total, behind)
                   VALUES (:id, :cursor, :snap, :info, :tz, :day, :heard, :heard, NULL, :applied, :behind)
                   ON CONFLICT (id) DO UPDATE SET cursor = excluded.cursor,
                       snapshot_seq = max(sites.snapshot_seq, excluded.snapshot_seq),
                       info = coalesce(excluded.info, sites.info), timezone = excluded.timezone, day = excluded.day,
                       last_heard = max(coalesce(sites.last_heard, ''), excluded.last_heard),
                       last_attempt = excluded.last_attempt, last_error = NULL,
                       events_total = sites.events_total + excluded.events_total, behind = excluded.behind""",
                {
                    "id": site,
                    "cursor": new_cursor,
                    "snap": snap,
                    "info": json.dumps(info, ensure_ascii=False) if info else None,
                    "tz": tz_name,
                    "day": site_day,
                    "heard": heard_at.isoformat(),
                    "applied": applied,
                    "behind": max(0, snap - new_cursor),
                },
            )
            if site_day:
                # The overview shows the site's current day; older tickets no counter holds go.
                c.execute(
                    """DELETE FROM live_tickets WHERE site = ? AND day < ? AND id NOT IN
                             (SELECT ticket_id FROM counters WHERE site = ? AND ticket_id IS NOT NULL)""",
                    (site, site_day, site),
                )
            return {
                "applied": applied,
                "rows": carried,
                "cursor": new_cursor,
                "more": bool(page.get("more")),
                "days": days,
            }

        result: dict[str, Any] = self.write(write)
        return result

    def _recompute_day(self, c: sqlite3.Connection, site: str, day: str, levels: int) -> None:
        groups = aggregate_facts(c, site, day, levels)
        # ``dim IN (…)`` lets SQLite use the primary key (dim, day, site, key) instead of
        # scanning the whole table, which grows with every day of every site.
        c.execute(f"DELETE FROM daily WHERE dim IN ({DIM_MARKS}) AND day = ? AND site = ?", (*DIMENSIONS, day, site))
        c.executemany(
            f"INSERT INTO daily (dim, site, day, key, {_AGG_NAMES}) VALUES (?, ?, ?, ?, {_AGG_MARKS})",
            [(dim, site, day, key, *agg_values(g)) for (dim, key), g in groups.items()],
        )
        # The month's roll-up is rebuilt later (``roll_up``), once per catch-up, not per page.
        c.execute("INSERT OR IGNORE INTO dirty_months (site, month) VALUES (?, ?)", (site, day[:7]))

    def roll_up(self) -> int:
        """Rebuild the monthly aggregates of every month that changed. Returns how many."""

        def write(c: sqlite3.Connection) -> int:
            dirty = c.execute("SELECT site, month FROM dirty_months").fetchall()
            for site, month in dirty:
                cur = c.execute(
                    f"SELECT dim, key, {_AGG_NAMES} FROM daily WHERE dim IN ({', '.join('?' * len(DIMENSIONS))}) "
                    f"AND day BETWEEN ? AND ? AND site = ?",
                    (*DIMENSIONS, f"{month}-01", f"{month}-31", site),
                )
                names = [d[0] for d in cur.description]
                groups: dict[tuple[str, str], dict[str, Any]] = {}
                for values in cur:
                    row = dict(zip(names, values))
                    g = groups.get((row["dim"], row["key"]))
                    if g is None:
                        g = groups[(row["dim"], row["key"])] = new_agg()
                    merge_into(g, row)
                c.execute(
                    f"DELETE FROM monthly WHERE dim IN ({DIM_MARKS}) AND month = ? AND site = ?",
                    (*DIMENSIONS, month, site),
                )
                c.executemany(
                    f"INSERT INTO monthly (dim, site, month, key, {_AGG_NAMES}) VALUES (?, ?, ?, ?, {_AGG_MARKS})",
                    [(dim, site, month, key, *agg_values(g)) for (dim, key), g in groups.items()],
                )
                c.execute("DELETE FROM dirty_months WHERE site = ? AND month = ?", (site, month))
            return len(dirty)

        return int(self.write(write))

    # ------------------------------------------------------------------ reads for the overview

    def sites(self) -> list[dict[str, Any]]:
        cur = self.conn.execute("SELECT * FROM sites")
        names = [d[0] for d in cur.description]
        return [dict(zip(names, r)) for r in cur]

    def live(self, site: str) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        """(tickets of the site's current day or still held, counters) as last pulled."""
        tickets = [
            json.loads(r[0])
            for r in self.conn.execute("SELECT data FROM live_tickets WHERE site = ? ORDER BY id", (site,))
        ]
        cur = self.conn.execute(
            "SELECT number, state, staff, ticket_id, pause_reason, since FROM counters WHERE site = ? ORDER BY number",
            (site,),
        )
        counters = [dict(zip(("number", "state", "staff", "ticket_id", "pause_reason", "since"), r)) for r in cur]
        return tickets, counters
