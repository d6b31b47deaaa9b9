"""The sites' dossiers and booking slots at the central (``queue_server.sync_rows`` sends
them): one row per (site, dossier code) and per (site, slot), each with the version
(``v``) it was read at. An older version never overwrites a newer one, and the row cursor
per site commits with the page, so repeated pulls and bundles change nothing."""

from __future__ import annotations

import json
import sqlite3
from typing import Any

from ..sync_rows import DOSSIER_FIELDS

SCHEMA = """
CREATE TABLE IF NOT EXISTS row_cursors (site TEXT PRIMARY KEY, cursor INTEGER NOT NULL) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS dossiers (
    site TEXT NOT NULL, code TEXT NOT NULL, procedure TEXT, service TEXT, status TEXT, received_on TEXT,
    due_date TEXT, new_due_date TEXT, ready_on TEXT, staff TEXT, counter INTEGER, gone INTEGER NOT NULL,
    v INTEGER NOT NULL, PRIMARY KEY (site, code)) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS dossiers_received ON dossiers (received_on, site);
CREATE TABLE IF NOT EXISTS slots (
    site TEXT NOT NULL, date TEXT NOT NULL, service TEXT NOT NULL, start TEXT NOT NULL, start_at TEXT,
    late_minutes INTEGER, booked INTEGER, cancelled INTEGER, checked_in INTEGER, other INTEGER, waits TEXT,
    v INTEGER NOT NULL, PRIMARY KEY (site, date, service, start)) WITHOUT ROWID;
"""
_FIELDS = [f for f in DOSSIER_FIELDS if f != "code"]
_DOSSIER_UPSERT = f"""INSERT INTO dossiers (site, code, {", ".join(_FIELDS)}, gone, v)
    VALUES (?, ?, {", ".join("?" * len(_FIELDS))}, ?, ?)
    ON CONFLICT (site, code) DO UPDATE SET {", ".join(f"{f} = excluded.{f}" for f in _FIELDS)},
        gone = excluded.gone, v = excluded.v
    WHERE excluded.v > dossiers.v"""
_SLOT_COLUMNS = ("start_at", "late_minutes", "booked", "cancelled", "checked_in", "other", "waits")
_SLOT_UPSERT = f"""INSERT INTO slots (site, date, service, start, {", ".join(_SLOT_COLUMNS)}, v)
    VALUES (?, ?, ?, ?, {", ".join("?" * len(_SLOT_COLUMNS))}, ?)
    ON CONFLICT (site, date, service, start) DO UPDATE SET
        {", ".join(f"{c} = excluded.{c}" for c in _SLOT_COLUMNS)}, v = excluded.v
    WHERE excluded.v > slots.v"""


def row_cursor(conn: sqlite3.Connection, site: str) -> int:
    row = conn.execute("SELECT cursor FROM row_cursors WHERE site = ?", (site,)).fetchone()
    return int(row[0]) if row else 0


def fold(c: sqlite3.Connection, site: str, page: dict[str, Any]) -> int:
    """Store the page's dossiers and slots and move the site's row cursor (inside the page's
    transaction). Returns how many rows the page carried. A page without ``rows_after``
    (an older office) carries none."""
    if page.get("rows_after") is None:
        return 0
    dossiers = page.get("dossiers") or []
    slots = page.get("slots") or []
    c.executemany(
        _DOSSIER_UPSERT,
        [(site, d["code"], *(d.get(f) for f in _FIELDS), 1 if d.get("gone") else 0, int(d["v"])) for d in dossiers],
    )
    c.executemany(
        _SLOT_UPSERT,
        [
            (
                site,
                s["date"],
                s["service"],
                s["start"],
                s.get("start_at"),
                s.get("late_minutes") or 0,
                *(int(s.get(k) or 0) for k in ("booked", "cancelled", "checked_in", "other")),
                json.dumps([int(w) for w in s.get("waits") or []]),
                int(s["v"]),
            )
            for s in slots
        ],
    )
    cursor = row_cursor(c, site)
    after, next_after = int(page["rows_after"]), int(page.get("rows_next") or 0)
    # Like the event cursor: it moves only over a contiguous stretch.
    if after <= cursor < next_after:
        c.execute(
            "INSERT INTO row_cursors (site, cursor) VALUES (?, ?) ON CONFLICT (site) DO UPDATE SET cursor = excluded.cursor",
            (site, next_after),
        )
    return len(dossiers) + len(slots)
