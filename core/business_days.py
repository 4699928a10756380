"""Business-day arithmetic for the approval queue.

An escalation counts as overdue once it has waited more than two *full*
business days. Waiting time is measured on the wall clock of the account's
region, with Saturdays and Sundays left out: a request made on Friday at 10:00
has waited 3 business days on Wednesday at 10:00 (Friday's 14 hours, Monday,
Tuesday and Wednesday's first 10 hours), and 2 on Wednesday at 09:00.
"""

from __future__ import annotations

import datetime as dt
import zoneinfo

from django.utils import timezone

# Waiting longer than this many full business days needs the manager's attention.
OVERDUE_AFTER_BUSINESS_DAYS = 2

_DAY = dt.timedelta(days=1)
_WEEK = dt.timedelta(days=7)
_BUSINESS_WEEK = 5 * _DAY
# Any Monday at midnight serves as the origin of the count below.
_A_MONDAY = dt.datetime(2001, 1, 1)


def current_time() -> dt.datetime:
    """The clock the pages use; tests replace it to stand on a given weekday."""
    return timezone.now()


def _business_time_since_origin(moment: dt.datetime) -> dt.timedelta:
    """Weekday time elapsed between ``_A_MONDAY`` and the naive local ``moment``."""
    weeks, rest = divmod(moment - _A_MONDAY, _WEEK)
    # ``rest`` lies in [0, 7 days): Monday to Friday count, the weekend does not.
    return weeks * _BUSINESS_WEEK + min(rest, _BUSINESS_WEEK)


def business_time_between(
    start: dt.datetime, end: dt.datetime, tz: dt.tzinfo | None = None
) -> dt.timedelta:
    """Monday to Friday time from ``start`` to ``end`` (aware datetimes), on the
    wall clock of ``tz`` (default: the current time zone). Zero if ``end`` is
    before ``start``."""
    tz = tz or timezone.get_current_timezone()
    local_start = start.astimezone(tz).replace(tzinfo=None)
    local_end = end.astimezone(tz).replace(tzinfo=None)
    elapsed = _business_time_since_origin(local_end) - _business_time_since_origin(local_start)
    return max(elapsed, dt.timedelta(0))


def business_days_between(
    start: dt.datetime, end: dt.datetime, tz: dt.tzinfo | str | None = None
) -> int:
    """Whole business days (Monday to Friday) elapsed from ``start`` to ``end``."""
    if isinstance(tz, str):
        tz = zoneinfo.ZoneInfo(tz)
    return business_time_between(start, end, tz) // _DAY


def is_overdue(business_days_waiting: int) -> bool:
    return business_days_waiting > OVERDUE_AFTER_BUSINESS_DAYS


def add_business_days(start: dt.date, days: int) -> dt.date:
    """The date ``days`` business days (Monday to Friday) after ``start``. A
    start on a weekend counts from the Monday after it; 0 days from a weekend
    is that Monday."""
    if days < 0:
        raise ValueError("days must not be negative")
    while start.weekday() >= 5:
        start += _DAY
    weeks, rest = divmod(days, 5)
    result = start + weeks * _WEEK
    for _ in range(rest):
        result += _DAY
        while result.weekday() >= 5:
            result += _DAY
    return result
