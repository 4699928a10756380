"""Adding business days (core.business_days.add_business_days), which dates a
playbook's tasks: Monday to Friday count, weekends do not, and a start on a
weekend counts from the Monday after it. Every expected date is worked out by
hand on the calendar of March 2026 (2 March is a Monday)."""

from __future__ import annotations

import datetime as dt

import pytest

from core.business_days import add_business_days

MON = dt.date(2026, 3, 2)
WED = dt.date(2026, 3, 4)
FRI = dt.date(2026, 3, 6)
SAT = dt.date(2026, 3, 7)
SUN = dt.date(2026, 3, 8)


@pytest.mark.parametrize(
    ("start", "days", "expected"),
    [
        (MON, 0, MON),
        (MON, 1, dt.date(2026, 3, 3)),  # Tuesday
        (MON, 4, FRI),
        (MON, 5, dt.date(2026, 3, 9)),  # the next Monday
        (WED, 2, FRI),
        (WED, 3, dt.date(2026, 3, 9)),  # Thursday, Friday, then Monday
        (FRI, 0, FRI),
        (FRI, 1, dt.date(2026, 3, 9)),  # over the weekend to Monday
        (FRI, 2, dt.date(2026, 3, 10)),
        (FRI, 5, dt.date(2026, 3, 13)),  # a week later, Friday again
        (FRI, 7, dt.date(2026, 3, 17)),  # Mon..Fri, Mon, Tue
        (FRI, 10, dt.date(2026, 3, 20)),
        (MON, 260, dt.date(2027, 3, 1)),  # 52 weeks: a Monday again
    ],
)
def test_weekdays_count_and_weekends_are_skipped(start, days, expected):
    assert add_business_days(start, days) == expected


@pytest.mark.parametrize(
    ("start", "days", "expected"),
    [
        (SAT, 0, dt.date(2026, 3, 9)),  # that Monday
        (SUN, 0, dt.date(2026, 3, 9)),
        (SAT, 1, dt.date(2026, 3, 10)),  # counted from Monday: Tuesday
        (SUN, 4, dt.date(2026, 3, 13)),
        (SUN, 5, dt.date(2026, 3, 16)),
    ],
)
def test_a_start_on_the_weekend_counts_from_the_monday_after_it(start, days, expected):
    assert add_business_days(start, days) == expected


def test_year_end_is_crossed_like_any_other_week():
    # Thursday 31 Dec 2026 + 2: Friday 1 Jan, then Monday 4 Jan (no holidays).
    assert add_business_days(dt.date(2026, 12, 31), 2) == dt.date(2027, 1, 4)


def test_every_result_is_a_weekday_and_one_more_day_never_goes_back():
    for offset in range(14):
        start = MON + dt.timedelta(days=offset)
        previous = None
        for days in range(12):
            result = add_business_days(start, days)
            assert result.weekday() < 5, (start, days, result)
            if previous is not None:
                assert result > previous
            previous = result


def test_negative_days_are_refused():
    with pytest.raises(ValueError):
        add_business_days(MON, -1)
