"""An office of its own for the dossier tests (never the sample config.toml): two services
and a result-return service, procedures of 0, 2 and 10 working days, a hand-driven clock."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import tomlkit

from queue_server.config import Config, parse_config

VN = dt.timezone(dt.timedelta(hours=7))
KIOSK_TOKEN = "kiosk-thu-nghiem-123"
KIOSK = {"Authorization": f"Bearer {KIOSK_TOKEN}"}
CODE = "000.00.21.H40-261203-0001"
TABLET_TOKEN = "danh-gia-quay-1-thu"
TABLET = {"Authorization": f"Bearer {TABLET_TOKEN}"}


def code(n: int, day: str = "261203") -> str:
    return f"000.00.21.H40-{day}-{n:04d}"


def office_data(**dossiers: Any) -> dict[str, Any]:
    return {
        "office": {"name": "Bộ phận Một cửa – UBND phường Thử Nghiệm", "enforce_hours": False},
        "services": [
            {"code": "CT", "name": "Chứng thực", "range": [1001, 1999]},
            {"code": "DD", "name": "Đất đai", "range": [3001, 3999]},
            {"code": "TKQ", "name": "Trả kết quả", "range": [5001, 5999]},
        ],
        "counters": [
            {"number": 1, "name": "Quầy 1", "services": {"CT": "primary", "DD": "normal"}},
            {"number": 2, "name": "Quầy 2", "services": {"DD": "primary", "CT": "backup"}},
            {"number": 5, "name": "Quầy 5", "services": {"TKQ": "primary"}},
        ],
        "kiosks": [{"id": "sanh", "token": KIOSK_TOKEN}],
        "rating_tablets": [{"counter": 1, "token": TABLET_TOKEN}],
        "procedures": [
            {"service": "CT", "code": "CT01", "name": "Chứng thực bản sao", "days": 0, "papers": ["Bản chính"]},
            {"service": "CT", "code": "CT03", "name": "Chứng thực hợp đồng", "days": 2, "papers": []},
            {
                "service": "DD",
                "code": "DD01",
                "name": "Đăng ký biến động đất đai",
                "days": 10,
                "papers": ["Đơn", "Giấy chứng nhận"],
            },
        ],
        "dossiers": {"return_service": "TKQ", **dossiers},
    }


def office(tmp_path: Path, **dossiers: Any) -> Config:
    return parse_config(office_data(**dossiers), tmp_path / "config.toml")


def write_office(folder: Path, data: dict[str, Any] | None = None) -> Path:
    path = folder / "config.toml"
    path.write_text(tomlkit.dumps(data or office_data()), encoding="utf-8")
    return path


class Clock:
    """Office time that moves only when a test moves it (plus a second per reading, so
    events keep their order)."""

    def __init__(self, start: dt.datetime | None = None) -> None:
        self.now = start or dt.datetime(2026, 12, 3, 8, 0, tzinfo=VN)  # a Thursday

    def __call__(self) -> dt.datetime:
        self.now += dt.timedelta(seconds=1)
        return self.now

    def to_day(self, day: dt.date, hour: int = 8) -> None:
        self.now = dt.datetime.combine(day, dt.time(hour), tzinfo=VN)
