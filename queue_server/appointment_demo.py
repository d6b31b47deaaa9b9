"""``motcua demo``'s citizens with appointments: they book the next free slots and most of
them check in at the kiosk a few minutes before their slot. Everything goes through the same
functions as the HTTP routes (``appointments_api._book``, ``Engine.check_in``)."""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import secrets
from typing import Any

from . import appointments as ap
from .appointments_api import _book, _read
from .engine import Engine, Event
from .office import Office

log = logging.getLogger("motcua.appointments")


DEMO_NAMES = ("Nguyễn Văn An", "Trần Thị Bình", "Lê Văn Cường", "Phạm Thị Dung", "Hoàng Văn Em", "Vũ Thị Giang")


async def simulate(office: Office, rng: Any, step: float = 0.5) -> None:
    """``motcua demo``: citizens book the next slots of the services open for booking and
    most of them check in at the kiosk a few minutes before their slot (some never come)."""
    config = office.config
    services = [s for s in config.services if s.booking.open]
    kiosk = config.kiosks[0].id if config.kiosks else None
    pending: list[tuple[dt.datetime, str, str, dt.datetime]] = []  # (check in at, code, service, slot)
    next_booking = office.clock()
    while services:
        await asyncio.sleep(step)
        now = office.clock()
        if now >= next_booking:
            next_booking = now + dt.timedelta(minutes=rng.uniform(4, 12))
            svc = rng.choice(services)
            day = ap.local_today(config, now)
            free = [
                s
                for s in await _read(office, ap.slots_view, config, svc, day, now)
                if s["free"] > 0
                and ap.slot_datetime(config, day, ap.parse_time(s["start"])) > now + dt.timedelta(minutes=10)
            ]
            if free:
                slot = free[0]
                req = ap.Request(
                    svc.code,
                    day,
                    ap.parse_time(slot["start"]),
                    rng.choice(DEMO_NAMES),
                    f"09{rng.randrange(10**8):08d}",
                    staff="demo",
                )
                try:
                    found, _ = await _book(office, req)
                except Exception as e:  # a refusal (full, closed day): the demo goes on
                    log.debug("demo booking refused: %s", e)
                else:
                    start = ap.slot_datetime(config, day, req.start)
                    if rng.random() < 0.85:
                        pending.append(
                            (start - dt.timedelta(minutes=rng.uniform(2, 15)), found["code"], svc.code, start)
                        )
        for item in [p for p in pending if p[0] <= now]:
            pending.remove(item)
            _, code, service, start = item
            token = secrets.token_urlsafe(16)

            def extra(conn: Any, events: list[Any], code: str = code) -> None:
                for e in events:
                    if e.kind == "ticket_issued" and e.ticket and e.ticket.get("appointment") == code:
                        ap.mark_checked_in(conn, code, e.ticket["id"], e.at)

            def command(
                engine: Engine,
                at: dt.datetime,
                code: str = code,
                service: str = service,
                start: dt.datetime = start,
                token: str = token,
            ) -> list[Event]:
                return engine.check_in(at, service=service, code=code, slot_start=start, token=token, kiosk=kiosk)[1]

            try:
                await office.execute(command, extra=extra)
            except Exception as e:
                log.debug("demo check-in refused: %s", e)
