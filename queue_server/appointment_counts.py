"""Booking counts without personal data: today's per service (the snapshot and the public
screens' pushes) and the coming days' (the staff list's overview)."""

from __future__ import annotations

import datetime as dt
import sqlite3
from typing import Any

from .appointments import STATES, day_slots, local_today
from .config import Config, Service


def day_counts(conn: sqlite3.Connection, day: str) -> dict[str, dict[str, int]]:
    """Per service: booked, checked in and cancelled appointments of ``day`` (counts only)."""
    out: dict[str, dict[str, int]] = {}
    for service, state, n in conn.execute(
        "SELECT service, state, count(*) FROM appointments WHERE date = ? GROUP BY service, state", (day,)
    ):
        out.setdefault(service, {s: 0 for s in STATES})[state] = n
    return out


def upcoming_days(
    conn: sqlite3.Connection, config: Config, services: list[Service], now: dt.datetime
) -> list[dict[str, Any]]:
    """Today and the next days ``services`` take bookings on (not closed, with a slot), each with
    its active bookings (booked or checked in): the staff list's overview of what is coming."""
    today = local_today(config, now)
    horizon = max((s.booking.days_ahead for s in services if s.booking.open), default=0)
    last = today + dt.timedelta(days=horizon)
    codes = [s.code for s in services]
    counts = dict(
        conn.execute(
            f"SELECT date, count(*) FROM appointments WHERE date BETWEEN ? AND ? AND state != 'cancelled' "
            f"AND service IN ({', '.join('?' for _ in codes)}) GROUP BY date",
            (today.isoformat(), last.isoformat(), *codes),
        ).fetchall()
    )
    out = []
    for i in range(horizon + 1):
        day = today + dt.timedelta(days=i)
        if config.office.is_closed_day(day) or not any(day_slots(s, day) for s in services):
            continue
        out.append({"date": day.isoformat(), "booked": counts.get(day.isoformat(), 0)})
    return out
