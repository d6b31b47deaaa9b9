"""Synthetic but realistic offices for the central's benchmark: the pages their sync feeds
would send (``queue_server.sync`` format), day by day.

Each site has the sample office's five services and five counters, five clerks, and
``tickets_per_day`` citizens a day: arrivals peak mid-morning and mid-afternoon around a
lunch break, services are weighted like a ward's (certification busiest), waiting times
follow the day's load, service times are log-normal per service, 4 % are no-shows, 1 %
cancelled, 2 % transferred, 60 % rate the service (mostly "hài lòng"). Every ticket has its
issued, called, started and done (or no-show) events and, when rated, a rated event; each
counter opens and closes once a day. Deterministic for a given seed.
"""

from __future__ import annotations

import datetime as dt
import random
from collections.abc import Iterator
from typing import Any
from zoneinfo import ZoneInfo

VN = ZoneInfo("Asia/Ho_Chi_Minh")
# code, first number, share of arrivals, mean service seconds, counters serving it
SERVICES = [
    ("CT", 1001, 0.40, 300, (1, 2)),
    ("HT", 2001, 0.20, 600, (3,)),
    ("DD", 3001, 0.10, 900, (4,)),
    ("LD", 4001, 0.10, 600, (4, 5)),
    ("TKQ", 5001, 0.20, 180, (5,)),
]
SERVICE_NAMES = {
    "CT": "Chứng thực",
    "HT": "Hộ tịch",
    "DD": "Đất đai – Xây dựng",
    "LD": "Lao động – Thương binh và Xã hội",
    "TKQ": "Trả kết quả",
}
# Minutes after 07:30 local, with the lunch break 11:30-13:30 left out.
_MORNING, _AFTERNOON = (0, 240), (360, 570)


def site_info(index: int) -> dict[str, Any]:
    return {
        "name": f"Trung tâm PVHCC số {index + 1}",
        "name_en": f"Service centre {index + 1}",
        "timezone": "Asia/Ho_Chi_Minh",
        "day_starts_at": "03:00",
        "rating_levels": 4,
        "services": [{"code": c, "name": SERVICE_NAMES[c], "name_en": c} for c, *_ in SERVICES],
        "counters": [
            {"number": n, "name": f"Quầy {n}", "name_en": f"Counter {n}", "services": []} for n in range(1, 6)
        ],
        "staff": [{"username": f"canbo{n}", "display_name": f"Cán bộ {n}"} for n in range(1, 6)],
    }


class SiteSimulator:
    """One site's event log, generated a day at a time; ``seq`` numbers its events."""

    def __init__(self, index: int, tickets_per_day: int, seed: int = 1):
        self.index = index
        self.tickets_per_day = tickets_per_day
        self.rnd = random.Random(seed * 100_003 + index)
        self.seq = 0
        self.next_id = 1
        self.info = site_info(index)
        # Busier and quieter sites: ±30 % around the mean.
        self.load = 0.7 + 0.6 * self.rnd.random()

    def _event(
        self,
        kind: str,
        at: dt.datetime,
        day: str,
        ticket: dict[str, Any] | None,
        counter: int | None,
        staff: str | None,
        details: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        self.seq += 1
        e: dict[str, Any] = {
            "seq": self.seq,
            "at": at.isoformat(),
            "day": day,
            "kind": kind,
            "ticket_id": ticket["id"] if ticket else None,
            "service": ticket["service"] if ticket else None,
            "counter": counter,
            "staff": staff,
            "details": details,
        }
        if ticket is not None:
            e["_ticket"] = ticket
        if counter is not None and kind.startswith("counter_"):
            e["_counter"] = {
                "number": counter,
                "state": "open" if kind == "counter_opened" else "closed",
                "staff": staff if kind == "counter_opened" else None,
                "ticket_id": None,
                "pause_reason": "",
                "since": at.isoformat(),
            }
        return e

    def day(self, day: dt.date) -> list[dict[str, Any]]:
        """Every event of one office day, in order of time."""
        rnd = self.rnd
        iso = day.isoformat()
        start = dt.datetime.combine(day, dt.time(7, 30), VN)
        n = max(1, int(rnd.gauss(self.tickets_per_day * self.load, self.tickets_per_day * 0.1)))
        timed: list[tuple[dt.datetime, int, dict[str, Any]]] = []
        numbers = {code: first for code, first, *_ in SERVICES}
        for c in range(1, 6):
            timed.append(
                (start - dt.timedelta(minutes=5), 0, {"kind": "counter_opened", "counter": c, "staff": f"canbo{c}"})
            )
            timed.append(
                (start + dt.timedelta(minutes=575), 9, {"kind": "counter_closed", "counter": c, "staff": f"canbo{c}"})
            )
        for _ in range(n):
            code, _first, _share, mean_service, counters = rnd.choices(SERVICES, [s[2] for s in SERVICES])[0]
            span = _MORNING if rnd.random() < 0.6 else _AFTERNOON
            minute = rnd.triangular(span[0], span[1], span[0] + (span[1] - span[0]) * 0.35)
            issued = start + dt.timedelta(seconds=int(minute * 60))
            number = numbers[code]
            numbers[code] += 1
            counter = rnd.choice(counters)
            staff = f"canbo{counter}"
            wait = int(rnd.expovariate(1 / (420 * self.load))) + rnd.randint(0, 30)
            called = issued + dt.timedelta(seconds=wait)
            t: dict[str, Any] = {
                "id": self.next_id,
                "day": iso,
                "service": code,
                "number": number,
                "label": str(number),
                "priority": rnd.random() < 0.08,
                "state": "waiting",
                "issued_at": issued.isoformat(),
                "queued_at": issued.isoformat(),
                "front": False,
                "target_counter": None,
                "counter": None,
                "staff": None,
                "called_at": None,
                "started_at": None,
                "finished_at": None,
                "recalls": 0,
                "transfers": 1 if rnd.random() < 0.02 else 0,
                "estimated_wait_s": max(0, int(wait * rnd.uniform(0.6, 1.4))),
                "rating": None,
                "rated_at": None,
                "wait_s": wait,
                "service_s": None,
            }
            self.next_id += 1
            fate = rnd.random()
            t.update(counter=counter, staff=staff, called_at=called.isoformat())
            timed.append((issued, 1, {"kind": "ticket_issued", "ticket": t}))
            timed.append((called, 2, {"kind": "ticket_called", "ticket": t, "counter": counter, "staff": staff}))
            if fate < 0.01:
                t.update(state="cancelled", called_at=None, counter=None, staff=None, wait_s=None)
                timed.pop()
                timed.append((issued + dt.timedelta(minutes=3), 3, {"kind": "ticket_cancelled", "ticket": t}))
                continue
            if fate < 0.05:
                t.update(state="no_show", finished_at=(called + dt.timedelta(minutes=2)).isoformat())
                timed.append(
                    (
                        called + dt.timedelta(minutes=2),
                        3,
                        {"kind": "ticket_no_show", "ticket": t, "counter": counter, "staff": staff},
                    )
                )
                continue
            started = called + dt.timedelta(seconds=rnd.randint(10, 60))
            service = max(30, int(rnd.lognormvariate(0, 0.5) * mean_service))
            finished = started + dt.timedelta(seconds=service)
            t.update(state="done", started_at=started.isoformat(), finished_at=finished.isoformat(), service_s=service)
            timed.append((started, 3, {"kind": "ticket_started", "ticket": t, "counter": counter, "staff": staff}))
            timed.append((finished, 4, {"kind": "ticket_done", "ticket": t, "counter": counter, "staff": staff}))
            if rnd.random() < 0.6:
                level = rnd.choices((4, 3, 2, 1), (0.70, 0.22, 0.06, 0.02))[0]
                rated = finished + dt.timedelta(seconds=rnd.randint(5, 40))
                t.update(rating=level, rated_at=rated.isoformat())
                timed.append((rated, 5, {"kind": "ticket_rated", "ticket": t, "details": {"level": level}}))
        timed.sort(key=lambda x: (x[0], x[1]))
        events = []
        for at, _order, e in timed:
            details = e.get("details")
            events.append(
                self._event(
                    e["kind"], at.astimezone(dt.UTC), iso, e.get("ticket"), e.get("counter"), e.get("staff"), details
                )
            )
        return events


def pages(sim: SiteSimulator, days: list[dt.date], page_size: int) -> Iterator[dict[str, Any]]:
    """The sync answers a central catching up over ``days`` would receive from ``sim``."""
    buffer: list[dict[str, Any]] = []
    after = sim.seq
    for i, day in enumerate(days):
        buffer.extend(sim.day(day))
        last = i == len(days) - 1
        while len(buffer) >= page_size or (last and buffer):
            chunk, buffer = buffer[:page_size], buffer[page_size:]
            next_after = chunk[-1]["seq"]
            tickets = {e["_ticket"]["id"]: e["_ticket"] for e in chunk if "_ticket" in e}
            counters = {e["_counter"]["number"]: e["_counter"] for e in chunk if "_counter" in e}
            events = [{k: v for k, v in e.items() if not k.startswith("_")} for e in chunk]
            yield {
                "site": sim.info,
                "office_day_tz": "Asia/Ho_Chi_Minh",
                "after": after,
                "events": events,
                "tickets": list(tickets.values()),
                "counters": list(counters.values()),
                "next_after": next_after,
                "more": bool(buffer) or not last,
                "snapshot_seq": next_after,
            }
            after = next_after
