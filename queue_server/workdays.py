"""The working-day calendar that due dates are counted in.

A working day is Monday to Friday, except the dates in ``office.closed_days`` (Tết, public
holidays). Saturdays are never working days for due dates, even where the office receives
citizens on Saturday mornings: the legal processing times (thời hạn giải quyết) are counted
in working days of the administration.

A procedure of ``n`` working days received on day D is due on the n-th working day after D
(D itself does not count, whatever day it is); ``n = 0`` means the same day.

Pure functions: no clock, no I/O. ``Calendar.from_config`` reads the closed days once.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

# Beyond this a due date is surely a typo (a procedure of 10 years?).
MAX_WORKING_DAYS = 2000


@dataclass(frozen=True)
class Calendar:
    closed: frozenset[dt.date] = frozenset()

    @classmethod
    def from_config(cls, config: Any) -> Calendar:
        """The calendar of ``config.office.closed_days`` ("YYYY-MM-DD" strings; ignored when
        the setting does not exist)."""
        return cls(frozenset(_dates(getattr(config.office, "closed_days", ()) or ())))

    def is_working_day(self, day: dt.date) -> bool:
        return day.weekday() < 5 and day not in self.closed

    def add_working_days(self, day: dt.date, n: int) -> dt.date:
        """The n-th working day after ``day`` (``day`` itself for n = 0)."""
        if not 0 <= n <= MAX_WORKING_DAYS:
            raise ValueError(f"working days must be 0..{MAX_WORKING_DAYS}, not {n}")
        d = day
        left = n
        while left:
            d += dt.timedelta(days=1)
            if self.is_working_day(d):
                left -= 1
        return d

    def working_days_between(self, start: dt.date, end: dt.date) -> int:
        """How many working days lie after ``start`` up to and including ``end`` (0 if
        ``end <= start``): ``add_working_days(start, k) == end`` gives ``k`` for a working ``end``."""
        count = 0
        d = start
        while d < end:
            d += dt.timedelta(days=1)
            if self.is_working_day(d):
                count += 1
        return count


def _dates(values: Iterable[Any]) -> Iterable[dt.date]:
    for v in values:
        if isinstance(v, dt.date):
            yield v
        elif isinstance(v, str):
            try:
                yield dt.date.fromisoformat(v.strip())
            except ValueError:
                continue  # config.py validates the setting; a bad entry is not a working-day rule
