"""``motcua demo``: the sample office living through a simulated day at an accelerated clock,
so the screens move with nobody touching them. Citizens arrive at the kiosk, five demo
clerks call, recall, serve, sometimes mark a no-show or transfer, and citizens rate.

Everything goes through the same ``Office.execute`` path as real requests.
"""

from __future__ import annotations

import asyncio
import dataclasses
import datetime as dt
import logging
import random
import secrets
from collections.abc import Callable
from pathlib import Path

from starlette.applications import Starlette

from . import auth, dossier_demo
from .config import Config
from .dblock import DatabaseLock
from .engine import Event, TicketState
from .errors import Conflict, MotcuaError
from .office import Office
from .store import Store, is_demo_database

log = logging.getLogger("motcua.demo")

DEMO_PASSWORD = "demo-pass"
DEMO_ADMIN = "admin"  # an admin account, so the reports can be explored on the demo data
SIMULATED_SECONDS_PER_ARRIVAL = 75


class AcceleratedClock:
    """Starts at 07:30 local on the most recent working day and runs ``speed`` times faster."""

    def __init__(self, config: Config, speed: float, real: dt.datetime | None = None):
        tz = config.office.tz
        real = real or dt.datetime.now(dt.UTC)
        day = real.astimezone(tz).date()
        while not config.office.hours.sessions(day.weekday()):
            day -= dt.timedelta(days=1)
        first = config.office.hours.sessions(day.weekday())[0][0]
        self.start_sim = dt.datetime.combine(day, first, tzinfo=tz).astimezone(dt.UTC)
        self.start_real = real
        self.speed = speed

    def __call__(self) -> dt.datetime:
        elapsed = dt.datetime.now(dt.UTC) - self.start_real
        return self.start_sim + elapsed * self.speed


async def simulate(office: Office, rng: random.Random, step: float = 0.25) -> None:
    """Drive the office: arrivals at the kiosk and five clerks at work."""
    config = office.config
    codes = [s.code for s in config.services]
    weights = [4 if i == 0 else 2 for i in range(len(codes))]
    kiosk = config.kiosks[0].id if config.kiosks else None
    next_arrival = office.clock()
    busy_until: dict[int, dt.datetime] = {c.number: office.clock() for c in config.counters}
    for c in config.counters:
        name = f"demo{c.number}"
        await _try(office, lambda e, now, n=c.number, s=name: e.sign_on(now, n, s))
    while True:
        await asyncio.sleep(step)
        now = office.clock()
        if now >= next_arrival:
            code = rng.choices(codes, weights)[0]
            priority = config.queue.priority_enabled and rng.random() < 0.12
            token = secrets.token_urlsafe(16)
            await _try(
                office,
                lambda e, t, c=code, p=priority, k=token: e.issue(t, service=c, token=k, priority=p, kiosk=kiosk)[1],
            )
            next_arrival = now + dt.timedelta(seconds=rng.expovariate(1 / SIMULATED_SECONDS_PER_ARRIVAL))
        for c in config.counters:
            if now < busy_until[c.number]:
                continue
            staff = f"demo{c.number}"
            held = office.held_ticket(c.number)
            if held is not None and held.state is TicketState.CALLED and rng.random() < 0.08:
                await _try(office, lambda e, t, n=c.number, s=staff: e.recall(t, n, s))
                busy_until[c.number] = now + dt.timedelta(seconds=40)
                continue
            if held is not None and held.state is TicketState.SERVING and rng.random() < 0.04:
                other = rng.choice([x.number for x in config.counters if x.number != c.number])
                await _try(office, lambda e, t, n=c.number, s=staff, o=other: e.transfer(t, n, s, to_counter=o))
                continue
            if held is not None and held.state is TicketState.CALLED:
                await _try(office, lambda e, t, n=c.number, s=staff: e.start(t, n, s))
                minutes = config.service(held.service).service_minutes * rng.uniform(0.5, 1.5)
                busy_until[c.number] = now + dt.timedelta(minutes=minutes)
                continue
            if held is not None:
                await dossier_demo.record_visit(office, held, c.number, staff, rng)
                await _try(office, lambda e, t, n=c.number, s=staff: e.finish(t, n, s))
                if rng.random() < 0.7:
                    level = rng.choices(range(1, config.rating.levels + 1), [1] * (config.rating.levels - 2) + [6, 4])[
                        0
                    ]
                    await _try(office, lambda e, t, i=held.id, lv=level: e.rate(t, i, lv))
            await _try(office, lambda e, t, n=c.number, s=staff: e.call_next(t, n, s))
            busy_until[c.number] = now + dt.timedelta(seconds=rng.uniform(20, 60))


async def _try(office: Office, command: Callable[..., list[Event]]) -> None:
    try:
        await office.execute(command)
    except MotcuaError as e:
        log.debug("demo step refused: %s", e.message_en)


def demo_app(
    config: Config, *, speed: float = 20.0, database: Path | None = None, seed: int | None = None
) -> Starlette:
    from .app import create_app

    # The simulated day runs past closing time; keep the kiosk open for the demo.
    config = dataclasses.replace(config, office=dataclasses.replace(config.office, enforce_hours=False))
    database = database or config.resolve("var/demo.db")
    # Only ever recreate a database an earlier demo made, and never one in use.
    DatabaseLock(database).release()  # in use: DatabaseInUse, naming the database and the PID
    if database.exists() and not is_demo_database(database):
        raise Conflict(
            f"{database} không phải cơ sở dữ liệu demo: motcua demo chỉ tạo lại tệp do chính nó tạo. "
            "Hãy chọn một tệp khác với --database.",
            f"{database} is not a demo database: motcua demo only recreates a file it made itself. "
            "Choose another file with --database.",
            key="not_a_demo_database",
            database=str(database),
        )
    for suffix in ("", "-wal", "-shm"):
        Path(f"{database}{suffix}").unlink(missing_ok=True)
    store = Store(database)
    store.mark_demo()
    for c in config.counters:
        auth.add_user(store, f"demo{c.number}", DEMO_PASSWORD, "clerk", f"Cán bộ demo {c.number}")
    auth.add_user(store, DEMO_ADMIN, DEMO_PASSWORD, "admin", "Quản trị demo")
    rng = random.Random(seed)
    clock = AcceleratedClock(config, speed)
    # Months of dossiers before today, so the dossier report is filled from the start.
    dossier_demo.seed_history(store, config, rng, clock().astimezone(config.office.tz).date())
    store.close()
    from .appointment_demo import simulate as simulate_bookings

    return create_app(
        config,
        database=database,
        clock=clock,
        background=[
            lambda office: simulate(office, rng),
            lambda office: simulate_bookings(office, random.Random(rng.random())),
        ],
    )
