"""office.closed_days: validated dates; on such a day the kiosk issues nothing."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from starlette.testclient import TestClient

from queue_server.app import create_app
from queue_server.errors import ConfigError
from tests.support import KIOSK_TOKEN, office_config

VN = dt.timezone(dt.timedelta(hours=7))
KIOSK = {"Authorization": f"Bearer {KIOSK_TOKEN}"}


def test_closed_days_are_dates_written_yyyy_mm_dd():
    cfg = office_config(office={"closed_days": ["2027-02-05", "2027-02-08"]})
    assert cfg.office.is_closed_day("2027-02-05")
    assert cfg.office.is_closed_day(dt.date(2027, 2, 8))
    assert not cfg.office.is_closed_day(dt.date(2027, 2, 9))
    assert cfg.office.closed_dates == {dt.date(2027, 2, 5), dt.date(2027, 2, 8)}


@pytest.mark.parametrize("bad", ["2027-2-5", "05/02/2027", "2027-02-30", "", "Tết"])
def test_a_closed_day_that_is_not_a_date_names_its_key(bad: str):
    with pytest.raises(ConfigError) as e:
        office_config(office={"closed_days": ["2027-01-01", bad]})
    assert e.value.key == "office.closed_days[1]"
    assert "YYYY-MM-DD" in e.value.message and "YYYY-MM-DD" in e.value.message_en


def test_a_closed_day_listed_twice_is_refused():
    with pytest.raises(ConfigError) as e:
        office_config(office={"closed_days": ["2027-01-01", "2027-01-01"]})
    assert e.value.key == "office.closed_days[1]"


def test_closed_days_must_be_strings():
    with pytest.raises(ConfigError) as e:
        office_config(office={"closed_days": [dt.date(2027, 1, 1)]})
    assert e.value.key == "office.closed_days[0]"


class Clock:
    def __init__(self, now: dt.datetime) -> None:
        self.now = now

    def __call__(self) -> dt.datetime:
        return self.now


def test_the_kiosk_refuses_tickets_on_a_closed_day_with_a_bilingual_409(tmp_path: Path):
    # Tuesday 2027-02-09 09:00, inside opening hours, but declared closed (Tết).
    clock = Clock(dt.datetime(2027, 2, 9, 9, 0, tzinfo=VN))
    config = office_config(tmp_path, office={"closed_days": ["2027-02-09"]})
    app = create_app(config, database=tmp_path / "m.db", clock=clock, printing=False)
    with TestClient(app) as client:
        r = client.post("/api/tickets", json={"service": "CT"}, headers=KIOSK)
        assert r.status_code == 409
        body = r.json()
        assert body["error"] == "closed_day"
        assert "ngày nghỉ" in body["message"] and "closed" in body["message_en"]
        ct = next(s for s in client.get("/api/state").json()["services"] if s["code"] == "CT")
        assert ct["available"] is False and ct["reason"] == "closed_day"
        assert client.get("/api/state").json()["services"][0]["issued"] == 0
        # The next day is an ordinary working day.
        clock.now = dt.datetime(2027, 2, 10, 9, 0, tzinfo=VN)
        assert client.post("/api/tickets", json={"service": "CT"}, headers=KIOSK).status_code == 201
