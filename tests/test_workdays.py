"""Due dates in working days: the rule as the README states it, as a table of cases."""

from __future__ import annotations

import datetime as dt

import pytest

from queue_server.workdays import Calendar

D = dt.date
# 2026-12-03 is a Thursday; 2027-01-01 (a Friday) is New Year's Day.
CLOSED = Calendar(frozenset({D(2027, 1, 1), D(2026, 12, 8)}))


@pytest.mark.parametrize(
    "received, days, due",
    [
        (D(2026, 12, 3), 0, D(2026, 12, 3)),  # 0: the same day
        (D(2026, 12, 5), 0, D(2026, 12, 5)),  # 0 on a Saturday (received on a Saturday morning): the same day
        (D(2026, 12, 3), 1, D(2026, 12, 4)),  # Thursday + 1 = Friday
        (D(2026, 12, 3), 2, D(2026, 12, 7)),  # Thursday + 2 skips Saturday and Sunday: Monday
        (D(2026, 12, 4), 1, D(2026, 12, 7)),  # Friday + 1: Monday
        (D(2026, 12, 5), 1, D(2026, 12, 7)),  # received Saturday: the first working day after is Monday
        (D(2026, 12, 6), 1, D(2026, 12, 7)),  # received Sunday: Monday
        (D(2026, 12, 3), 10, D(2026, 12, 17)),  # two whole weeks of working days
    ],
)
def test_n_working_days_after_receipt_skipping_weekends(received: dt.date, days: int, due: dt.date):
    assert Calendar().add_working_days(received, days) == due


@pytest.mark.parametrize(
    "received, days, due",
    [
        (D(2026, 12, 7), 1, D(2026, 12, 9)),  # Tuesday 8 is closed: Wednesday
        (D(2026, 12, 4), 2, D(2026, 12, 9)),  # Fri + 2: Mon 7, (Tue 8 closed), Wed 9
        (D(2026, 12, 31), 1, D(2027, 1, 4)),  # Thursday + 1: Friday 1 January closed, then the weekend
        (D(2026, 12, 8), 0, D(2026, 12, 8)),  # 0 days: the same day, even a closed one
    ],
)
def test_closed_days_are_not_working_days(received: dt.date, days: int, due: dt.date):
    assert CLOSED.add_working_days(received, days) == due


def test_working_days_between_counts_what_add_working_days_adds():
    for days in range(0, 30):
        due = CLOSED.add_working_days(D(2026, 12, 3), days)
        assert CLOSED.working_days_between(D(2026, 12, 3), due) == days


def test_closed_days_come_from_the_office_setting_and_bad_entries_are_ignored():
    class Office:
        closed_days = ["2026-12-08", "not a date"]

    class Config:
        office = Office()

    assert Calendar.from_config(Config()).closed == frozenset({D(2026, 12, 8)})


def test_a_negative_or_absurd_number_of_days_is_refused():
    with pytest.raises(ValueError):
        Calendar().add_working_days(D(2026, 12, 3), -1)
    with pytest.raises(ValueError):
        Calendar().add_working_days(D(2026, 12, 3), 100_000)
