"""A small office of our own for the appointment tests (not the sample config.toml)."""

from __future__ import annotations

import copy
import datetime as dt
from pathlib import Path
from typing import Any

from queue_server.config import Config, parse_config

VN = dt.timezone(dt.timedelta(hours=7))
KIOSK_TOKEN = "kiosk-test-token-123"
KIOSK = {"Authorization": f"Bearer {KIOSK_TOKEN}"}
WEEKDAY = ["07:30-11:30", "13:30-17:00"]
WINDOWS = ["08:00-11:00", "14:00-16:00"]

BASE: dict[str, Any] = {
    "office": {
        "name": "Bộ phận Một cửa – UBND phường Thử",
        "name_en": "One-stop section – Test ward",
        "enforce_hours": False,
        "hours": {d: WEEKDAY for d in ("mon", "tue", "wed", "thu", "fri")} | {"sat": ["07:30-11:30"]},
    },
    "services": [
        {
            "code": "CT",
            "name": "Chứng thực",
            "name_en": "Certification",
            "range": [1001, 1999],
            "booking": {
                "open": True,
                "windows": {d: WINDOWS for d in ("mon", "tue", "wed", "thu", "fri")},
                "slot_minutes": 15,
                "capacity": 3,
                "prefix": "H",
                "papers": "Bản chính và bản sao",
                "papers_en": "Originals and copies",
            },
        },
        {
            "code": "HT",
            "name": "Hộ tịch",
            "name_en": "Civil status",
            "range": [2001, 2999],
            "booking": {
                "open": True,
                "windows": {d: WINDOWS for d in ("mon", "tue", "wed", "thu", "fri")},
                "slot_minutes": 15,
                "capacity": 3,
            },
        },
        {"code": "DD", "name": "Đất đai", "name_en": "Land", "range": [3001, 3999]},
    ],
    "counters": [
        {"number": 1, "name": "Quầy 1", "services": {"CT": "primary"}},
        {"number": 2, "name": "Quầy 2", "services": {"HT": "primary", "CT": "backup"}},
        {"number": 3, "name": "Quầy 3", "services": {"DD": "primary"}},
    ],
    "kiosks": [{"id": "sanh", "token": KIOSK_TOKEN}],
}


def booking_data(
    office: dict[str, Any] | None = None,
    appointments: dict[str, Any] | None = None,
    ct: dict[str, Any] | None = None,
    counters: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    data = copy.deepcopy(BASE)
    data["office"].update(office or {})
    if appointments:
        data["appointments"] = appointments
    data["services"][0]["booking"].update(ct or {})
    if counters is not None:
        data["counters"] = counters
    return data


def booking_config(tmp_path: Path | None = None, **kw: Any) -> Config:
    return parse_config(booking_data(**kw), (tmp_path / "config.toml") if tmp_path else None)


class Clock:
    """A hand-driven clock (tests move ``now``)."""

    def __init__(self, now: dt.datetime) -> None:
        self.now = now

    def __call__(self) -> dt.datetime:
        return self.now


# Monday 7 December 2026, 07:00 in Hà Nội.
MONDAY = dt.datetime(2026, 12, 7, 7, 0, tzinfo=VN)
