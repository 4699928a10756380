"""When each region's weekly review takes place (docs/domain.md).

A region holds its review on ``review_weekday`` at ``review_time`` on the wall
clock of its ``timezone``. Everything here works on aware datetimes and
converts with ``zoneinfo``, so the UTC instant of a meeting moves by an hour
across daylight-saving changes while its local time stays put.

Wall-clock times that do not exist or exist twice on a transition day:

- A time in a spring-forward gap (02:30 in Europe/Berlin on 29 March 2026,
  or in America/New_York on 8 March 2026) is shifted forward by the length of
  the gap: the meeting starts at 03:30 local time, the instant 02:30 would have
  been in the offset before the change.
- A time that occurs twice when clocks fall back (01:30 in America/New_York on
  1 November 2026) means its first occurrence, still in summer time.

Both follow from interpreting the wall time with ``fold=0`` (PEP 495) and
normalising it through UTC.
"""

from __future__ import annotations

import datetime as dt
import zoneinfo

from accounts.models import Region

_WEEK = dt.timedelta(days=7)


def week_start_of(day: dt.date) -> dt.date:
    """The Monday of ``day``'s ISO week."""
    return day - dt.timedelta(days=day.weekday())


def zone_of(region: Region) -> zoneinfo.ZoneInfo:
    return zoneinfo.ZoneInfo(region.timezone)


def meeting_at_for(region: Region, week_start: dt.date) -> dt.datetime:
    """The start of the region's meeting in the week beginning ``week_start``,
    as an aware datetime in UTC (see the module docstring for DST gaps and folds)."""
    zone = zone_of(region)
    local_day = week_start_of(week_start) + dt.timedelta(days=region.review_weekday)
    wall_time = dt.datetime.combine(local_day, region.review_time, tzinfo=zone).replace(fold=0)
    return wall_time.astimezone(dt.UTC)


def next_meeting(region: Region, now: dt.datetime) -> tuple[dt.date, dt.datetime]:
    """``(week_start, meeting_at)`` of the first meeting starting after ``now``.
    A meeting starting at this very instant has started, as for generation,
    which freezes an agenda from ``meeting_at`` on."""
    local_today = now.astimezone(zone_of(region)).date()
    week_start = week_start_of(local_today)
    meeting_at = meeting_at_for(region, week_start)
    if meeting_at <= now:
        week_start += _WEEK
        meeting_at = meeting_at_for(region, week_start)
    return week_start, meeting_at


def previous_meeting_fallback(region: Region, week_start: dt.date) -> dt.datetime:
    """The meeting a week earlier: what "since the previous meeting" means for a
    region's first agenda."""
    return meeting_at_for(region, week_start - _WEEK)


def regions_due(now: dt.datetime, lead_hours: int) -> list[tuple[Region, dt.date]]:
    """Regions whose next meeting starts within ``lead_hours`` of ``now`` and
    that have no agenda for that week yet, with that week's Monday.

    Stateless: whatever ran before (or did not run — a missed hour, a stopped
    beat), the answer depends only on the clock and the agendas that exist, so
    running it hourly, twice, or from several schedulers is safe."""
    from .models import Agenda

    lead = dt.timedelta(hours=lead_hours)
    candidates: list[tuple[Region, dt.date]] = []
    for region in Region.objects.order_by("code"):
        week_start, meeting_at = next_meeting(region, now)
        if meeting_at - now <= lead:
            candidates.append((region, week_start))
    if not candidates:
        return []
    existing = set(
        Agenda.objects.filter(
            region_id__in=[region.pk for region, _ in candidates],
            week_start__in={week_start for _, week_start in candidates},
        ).values_list("region_id", "week_start")
    )
    return [
        (region, week_start)
        for region, week_start in candidates
        if (region.pk, week_start) not in existing
    ]
