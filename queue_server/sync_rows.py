"""Dossiers and appointments in the sync feed (docs/central.md).

Dossiers and bookings change without an event in the office's event log, so the office
keeps a second, small change log: ``sync_rows`` has one row per changed thing, its ``seq``
renewed (AUTOINCREMENT: always larger) by triggers in the same transaction as the change.
The feed sends what changed after the central's row cursor (``rows_after``), each *as it is
now*, with the ``seq`` as its version: the central never lets an older version overwrite a
newer one, so repeated pulls and bundles change nothing.

What leaves, through allow-lists like the tickets':

- a dossier: its code, procedure, service, status, dates, receiving staff account and
  counter. Never its owner, nor the free-text reason of an extension;
- a booking slot (service, date, start), counted: booked, cancelled, checked in, neither, and
  for each called appointment ticket its wait from the slot's start in seconds (as the
  office's appointment report counts it). Never a booking's code, name, phone or device.
"""

from __future__ import annotations

import datetime as dt
import sqlite3
from typing import Any

from msgspec import Struct

from .config import Config


class SyncedDossier(Struct, kw_only=True):
    """A dossier as it leaves the office (``gone``: deleted there)."""

    code: str
    v: int
    gone: bool = False
    procedure: str | None = None
    service: str | None = None
    status: str | None = None
    received_on: str | None = None
    due_date: str | None = None
    new_due_date: str | None = None
    ready_on: str | None = None
    staff: str | None = None
    counter: int | None = None


class SyncedSlot(Struct, kw_only=True):
    """A booking slot as it leaves the office: counted, with each called booking's wait (s)."""

    date: str
    service: str
    start: str
    v: int
    start_at: str
    late_minutes: int
    booked: int
    cancelled: int
    checked_in: int
    other: int
    waits: list[int]


# The dossier columns that may leave the office. Anything not listed here stays home.
DOSSIER_FIELDS = tuple(f for f in SyncedDossier.__struct_fields__ if f not in ("v", "gone"))
_SLOT_KEY = "{p}.date || '|' || {p}.service || '|' || {p}.start"


def _mark(kind: str, key: str) -> str:
    """Trigger statements giving (kind, key) a new, larger seq (delete, then insert: no
    reliance on a conflict clause the outer statement could override)."""
    return f"DELETE FROM sync_rows WHERE kind = '{kind}' AND key = {key}; INSERT INTO sync_rows (kind, key) VALUES ('{kind}', {key});"


def migrate(db: Any) -> None:
    """Migration: the change log and its triggers, filled with every dossier and slot so far."""
    conn: sqlite3.Connection = db.conn
    conn.execute("""CREATE TABLE sync_rows (
        seq INTEGER PRIMARY KEY AUTOINCREMENT, kind TEXT NOT NULL, key TEXT NOT NULL, UNIQUE (kind, key))""")
    conn.execute("CREATE INDEX appointments_ticket ON appointments (ticket_id)")
    for when in ("INSERT", "UPDATE"):
        conn.execute(
            f"CREATE TRIGGER sync_rows_dossier_{when.lower()} AFTER {when} ON dossiers "
            f"BEGIN {_mark('dossier', 'NEW.code')} END"
        )
    conn.execute(
        f"CREATE TRIGGER sync_rows_dossier_delete AFTER DELETE ON dossiers BEGIN {_mark('dossier', 'OLD.code')} END"
    )
    new_slot, old_slot = _SLOT_KEY.format(p="NEW"), _SLOT_KEY.format(p="OLD")
    conn.execute(
        f"CREATE TRIGGER sync_rows_slot_insert AFTER INSERT ON appointments BEGIN {_mark('slot', new_slot)} END"
    )
    conn.execute(
        "CREATE TRIGGER sync_rows_slot_update AFTER UPDATE ON appointments "
        f"BEGIN {_mark('slot', old_slot)} {_mark('slot', new_slot)} END"
    )
    conn.execute(
        f"CREATE TRIGGER sync_rows_slot_delete AFTER DELETE ON appointments BEGIN {_mark('slot', old_slot)} END"
    )
    # A booked ticket's call changes its slot's waits.
    conn.execute(
        "CREATE TRIGGER sync_rows_slot_call AFTER UPDATE OF called_at ON tickets "
        "WHEN NEW.booked = 1 AND NEW.called_at IS NOT OLD.called_at BEGIN "
        f"DELETE FROM sync_rows WHERE kind = 'slot' AND key IN (SELECT {_SLOT_KEY.format(p='a')} "
        "FROM appointments a WHERE a.ticket_id = NEW.id); "
        f"INSERT INTO sync_rows (kind, key) SELECT 'slot', {_SLOT_KEY.format(p='a')} "
        "FROM appointments a WHERE a.ticket_id = NEW.id; END"
    )
    conn.execute("INSERT INTO sync_rows (kind, key) SELECT 'dossier', code FROM dossiers ORDER BY received_at, code")
    conn.execute(
        f"INSERT INTO sync_rows (kind, key) SELECT DISTINCT 'slot', {_SLOT_KEY.format(p='a')} FROM appointments a "
        "ORDER BY 2"
    )


def _has(conn: sqlite3.Connection, table: str) -> bool:
    return (
        conn.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?", (table,)).fetchone() is not None
    )


def read_rows(conn: sqlite3.Connection, config: Config, after: int, limit: int | None) -> dict[str, Any]:
    """The dossiers and slots changed after ``after`` (at most ``limit`` of them; None: all),
    as they are now. Call inside the feed's read transaction."""
    empty: dict[str, Any] = {"dossiers": [], "slots": [], "rows_after": after, "rows_next": after, "rows_more": False}
    if not _has(conn, "sync_rows"):
        return empty
    last = conn.execute("SELECT coalesce(max(seq), 0) FROM sync_rows").fetchone()[0]
    sql = "SELECT seq, kind, key FROM sync_rows WHERE seq > ? ORDER BY seq"
    changed = conn.execute(*((sql + " LIMIT ?", (after, limit)) if limit is not None else (sql, (after,)))).fetchall()
    dossiers, slots = [], []
    for seq, kind, key in changed:
        if kind == "dossier":
            dossiers.append(_dossier(conn, seq, key))
        elif kind == "slot":
            slots.append(_slot(conn, config, seq, key))
    next_after = changed[-1][0] if changed else after
    return {
        "dossiers": dossiers,
        "slots": slots,
        "rows_after": after,
        "rows_next": next_after,
        "rows_more": next_after < last,
    }


def _dossier(conn: sqlite3.Connection, seq: int, code: str) -> dict[str, Any]:
    cur = conn.execute(f"SELECT {', '.join(DOSSIER_FIELDS)} FROM dossiers WHERE code = ?", (code,))
    row = cur.fetchone()
    out: dict[str, Any] = {"code": code, "v": seq, "gone": row is None}
    if row is not None:
        out.update(zip(DOSSIER_FIELDS, row))
    return out


def _slot(conn: sqlite3.Connection, config: Config, seq: int, key: str) -> dict[str, Any]:
    day, service, start = key.split("|", 2)
    tz = config.office.tz
    slot_at = dt.datetime.combine(dt.date.fromisoformat(day), dt.time.fromisoformat(start), tz)
    late = {s.code: s.booking.late_minutes for s in config.services}
    out: dict[str, Any] = {
        "date": day,
        "service": service,
        "start": start,
        "v": seq,
        "start_at": slot_at.isoformat(),
        "late_minutes": late.get(service, 0),
        "booked": 0,
        "cancelled": 0,
        "checked_in": 0,
        "other": 0,
        "waits": [],
    }
    for state, called_at in conn.execute(
        "SELECT a.state, t.called_at FROM appointments a LEFT JOIN tickets t ON t.id = a.ticket_id "
        "WHERE a.date = ? AND a.service = ? AND a.start = ?",
        (day, service, start),
    ):
        out["booked"] += 1
        out[state if state in ("cancelled", "checked_in") else "other"] += 1
        if called_at:
            out["waits"].append(max(0, round((dt.datetime.fromisoformat(called_at) - slot_at).total_seconds())))
    out["waits"].sort()
    return out
