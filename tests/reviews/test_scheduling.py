"""When agendas are generated: one per region and week, at the region's local
meeting time, only within the lead time — across the daylight-saving changes
of 2026 in America/New_York (8 March, 1 November) and Europe/Berlin
(29 March, 25 October)."""

from __future__ import annotations

import datetime as dt
from collections import Counter
from zoneinfo import ZoneInfo

import pytest
from django.utils import timezone

from accounts.models import Region
from reviews import scheduling, services
from reviews.models import Agenda
from reviews.tasks import generate_due_agendas
from tests import factories

pytestmark = pytest.mark.django_db

UTC = dt.UTC
LEAD_HOURS = 24


def utc(*args: int) -> dt.datetime:
    return dt.datetime(*args, tzinfo=UTC)


def make_region(code: str, tz: str, weekday: int, hour: int, minute: int = 0) -> Region:
    return factories.RegionFactory(
        code=code, timezone=tz, review_weekday=weekday, review_time=dt.time(hour, minute)
    )


@pytest.fixture
def clock(monkeypatch):
    """Stands the whole app (services and tasks) at a chosen instant."""

    class Clock:
        now = utc(2026, 1, 1)

    monkeypatch.setattr(timezone, "now", lambda: Clock.now)
    return Clock


# --- the pure calendar -----------------------------------------------------------------


def test_week_start_is_the_monday_of_the_iso_week():
    assert scheduling.week_start_of(dt.date(2026, 3, 8)) == dt.date(2026, 3, 2)  # a Sunday
    assert scheduling.week_start_of(dt.date(2026, 3, 9)) == dt.date(2026, 3, 9)  # a Monday
    assert scheduling.week_start_of(dt.date(2026, 1, 1)) == dt.date(2025, 12, 29)


@pytest.mark.parametrize(
    ("tz", "week_start", "expected_utc"),
    [
        # New York, Monday 09:00: EST (UTC-5) until 8 March, then EDT (UTC-4).
        ("America/New_York", dt.date(2026, 3, 2), utc(2026, 3, 2, 14)),
        ("America/New_York", dt.date(2026, 3, 9), utc(2026, 3, 9, 13)),
        ("America/New_York", dt.date(2026, 10, 26), utc(2026, 10, 26, 13)),
        ("America/New_York", dt.date(2026, 11, 2), utc(2026, 11, 2, 14)),
        # Berlin, Monday 09:00: CET (UTC+1) until 29 March, CEST (UTC+2) until 25 October.
        ("Europe/Berlin", dt.date(2026, 3, 23), utc(2026, 3, 23, 8)),
        ("Europe/Berlin", dt.date(2026, 3, 30), utc(2026, 3, 30, 7)),
        ("Europe/Berlin", dt.date(2026, 10, 19), utc(2026, 10, 19, 7)),
        ("Europe/Berlin", dt.date(2026, 10, 26), utc(2026, 10, 26, 8)),
    ],
)
def test_meeting_keeps_its_local_time_when_clocks_change(tz, week_start, expected_utc):
    region = Region(code="X", timezone=tz, review_weekday=0, review_time=dt.time(9, 0))

    meeting_at = scheduling.meeting_at_for(region, week_start)

    assert meeting_at == expected_utc
    local = meeting_at.astimezone(ZoneInfo(tz))
    assert (local.date(), local.time()) == (week_start, dt.time(9, 0))


@pytest.mark.parametrize(
    ("tz", "week_start", "expected_utc", "expected_local"),
    [
        # 02:30 does not exist on 8 March in New York: shifted forward to 03:30 EDT.
        ("America/New_York", dt.date(2026, 3, 2), utc(2026, 3, 8, 7, 30), dt.time(3, 30)),
        # ... nor on 29 March in Berlin: 03:30 CEST.
        ("Europe/Berlin", dt.date(2026, 3, 23), utc(2026, 3, 29, 1, 30), dt.time(3, 30)),
    ],
)
def test_meeting_slot_in_a_spring_forward_gap_moves_forward_by_the_gap(
    tz, week_start, expected_utc, expected_local
):
    region = Region(code="X", timezone=tz, review_weekday=6, review_time=dt.time(2, 30))

    meeting_at = scheduling.meeting_at_for(region, week_start)

    assert meeting_at == expected_utc
    assert meeting_at.astimezone(ZoneInfo(tz)).time() == expected_local


@pytest.mark.parametrize(
    ("tz", "slot", "week_start", "expected_utc"),
    [
        # 01:30 happens twice on 1 November in New York: the first one, still EDT.
        ("America/New_York", dt.time(1, 30), dt.date(2026, 10, 26), utc(2026, 11, 1, 5, 30)),
        # 02:30 happens twice on 25 October in Berlin: the first one, still CEST.
        ("Europe/Berlin", dt.time(2, 30), dt.date(2026, 10, 19), utc(2026, 10, 25, 0, 30)),
    ],
)
def test_ambiguous_meeting_slot_when_clocks_fall_back_takes_the_first_occurrence(
    tz, slot, week_start, expected_utc
):
    region = Region(code="X", timezone=tz, review_weekday=6, review_time=slot)

    meeting_at = scheduling.meeting_at_for(region, week_start)

    assert meeting_at == expected_utc
    assert meeting_at.astimezone(ZoneInfo(tz)).time() == slot


def test_next_meeting_is_the_first_starting_after_now():
    region = Region(
        code="X", timezone="Europe/Berlin", review_weekday=2, review_time=dt.time(15, 0)
    )
    meeting = utc(2026, 6, 3, 13)  # Wednesday 15:00 CEST

    assert scheduling.next_meeting(region, meeting - dt.timedelta(days=2)) == (
        dt.date(2026, 6, 1),
        meeting,
    )
    # One starting at this very instant has started (generation would refuse it).
    assert scheduling.next_meeting(region, meeting - dt.timedelta(seconds=1)) == (
        dt.date(2026, 6, 1),
        meeting,
    )
    assert scheduling.next_meeting(region, meeting)[0] == dt.date(2026, 6, 8)
    assert scheduling.next_meeting(region, meeting + dt.timedelta(seconds=1)) == (
        dt.date(2026, 6, 8),
        meeting + dt.timedelta(days=7),
    )


def test_next_meeting_uses_the_regions_local_week_not_utcs():
    # Sunday 23:30 in New York is already Monday 04:30 UTC.
    region = Region(
        code="X", timezone="America/New_York", review_weekday=6, review_time=dt.time(23, 30)
    )

    week_start, meeting_at = scheduling.next_meeting(region, utc(2026, 6, 8, 3))

    assert week_start == dt.date(2026, 6, 1)
    assert meeting_at == utc(2026, 6, 8, 3, 30)


# --- lead time -------------------------------------------------------------------------


def test_region_is_due_only_within_the_lead_time(emails):
    region = make_region("NA", "America/New_York", weekday=0, hour=9)
    meeting = utc(2026, 3, 9, 13)  # Monday 09:00 EDT, the day after the change

    assert scheduling.regions_due(meeting - dt.timedelta(hours=25), LEAD_HOURS) == []
    assert scheduling.regions_due(meeting - dt.timedelta(hours=24), LEAD_HOURS) == [
        (region, dt.date(2026, 3, 9))
    ]
    assert scheduling.regions_due(meeting - dt.timedelta(hours=23), LEAD_HOURS) == [
        (region, dt.date(2026, 3, 9))
    ]


def test_region_with_an_agenda_for_the_week_is_no_longer_due(emails):
    region = make_region("NA", "America/New_York", weekday=0, hour=9)
    now = utc(2026, 3, 8, 20)
    services.agenda_generate(region=region, now=now)

    assert scheduling.regions_due(now, LEAD_HOURS) == []
    assert scheduling.regions_due(now + dt.timedelta(hours=1), LEAD_HOURS) == []


def test_a_missed_run_catches_up_until_the_meeting_starts(emails):
    region = make_region("EMEA", "Europe/Berlin", weekday=2, hour=15)
    meeting = utc(2026, 6, 3, 13)

    # The beat was down for the whole lead time but the one hour before the meeting.
    assert scheduling.regions_due(meeting - dt.timedelta(minutes=30), LEAD_HOURS) == [
        (region, dt.date(2026, 6, 1))
    ]
    # Once it has started, the next week is the next meeting: nothing is due.
    assert scheduling.regions_due(meeting + dt.timedelta(minutes=30), LEAD_HOURS) == []


# --- a beat ticking hourly across the changes ---------------------------------------------

# Regions with ordinary slots, and Sunday slots that fall into the gap or the
# repeated hour of their time zone's changes.
REGIONS = [
    ("NA", "America/New_York", 0, 9, 0),
    ("EMEA", "Europe/Berlin", 2, 15, 0),
    ("NAGAP", "America/New_York", 6, 2, 30),
    ("NAFOLD", "America/New_York", 6, 1, 30),
    ("EUGAP", "Europe/Berlin", 6, 2, 30),
]
SPANS = {
    # Covers 8 March (US) and 29 March (EU).
    "spring": (utc(2026, 2, 23), utc(2026, 4, 13)),
    # Covers 25 October (EU) and 1 November (US).
    "autumn": (utc(2026, 10, 12), utc(2026, 11, 16)),
}
GAP_DAYS = {
    ("America/New_York", dt.date(2026, 3, 8)),
    ("Europe/Berlin", dt.date(2026, 3, 29)),
}


def expected_local_time(region: Region, local_day: dt.date) -> dt.time:
    if (region.timezone, local_day) in GAP_DAYS and region.review_time == dt.time(2, 30):
        return dt.time(3, 30)
    return region.review_time


@pytest.mark.parametrize("span", SPANS)
def test_hourly_beat_across_dst_changes_generates_exactly_one_agenda_per_week(
    span, clock, emails, django_capture_on_commit_callbacks
):
    regions = [make_region(*spec) for spec in REGIONS]
    start, end = SPANS[span]
    fanned_out: Counter[str] = Counter()

    clock.now = start
    while clock.now <= end:
        with django_capture_on_commit_callbacks(execute=True):
            codes = generate_due_agendas.apply().get()
        fanned_out.update(codes)
        clock.now += dt.timedelta(hours=1)

    assert emails, "no agenda was generated at all"
    # Every (region, week) got exactly one agenda and one notification.
    assert len(emails) == Agenda.objects.count()
    for region in regions:
        zone = ZoneInfo(region.timezone)
        agendas = list(Agenda.objects.filter(region=region).order_by("week_start"))
        weeks = [agenda.week_start for agenda in agendas]
        # One per week, with no week skipped, from the first meeting after the
        # start of the span to the last one before its end.
        first_week, _ = scheduling.next_meeting(region, start)
        last_week, last_meeting = scheduling.next_meeting(region, end)
        if last_meeting - end > dt.timedelta(hours=LEAD_HOURS):
            last_week -= dt.timedelta(days=7)
        expected = []
        week = first_week
        while week <= last_week:
            expected.append(week)
            week += dt.timedelta(days=7)
        assert weeks == expected, region.code
        for agenda in agendas:
            local = agenda.meeting_at.astimezone(zone)
            assert local.weekday() == region.review_weekday, (region.code, agenda.week_start)
            assert local.time() == expected_local_time(region, local.date()), (
                region.code,
                agenda.week_start,
            )
            assert scheduling.week_start_of(local.date()) == agenda.week_start
            # Generated within the lead time, at the first hourly tick inside it.
            lead = agenda.meeting_at - agenda.generated_at
            assert dt.timedelta(0) <= lead <= dt.timedelta(hours=LEAD_HOURS), region.code
            if agenda.meeting_at - start > dt.timedelta(hours=LEAD_HOURS):
                assert lead > dt.timedelta(hours=LEAD_HOURS - 1), (region.code, lead)
    # The fan-out asked for each region's week once: never twice, whatever the clocks did.
    assert fanned_out == Counter(
        agenda.region.code for agenda in Agenda.objects.select_related("region")
    )


def test_gap_region_meets_at_0330_on_the_day_clocks_spring_forward(clock, emails):
    region = make_region("EUGAP", "Europe/Berlin", weekday=6, hour=2, minute=30)
    clock.now = utc(2026, 3, 28, 2)  # 23.5 hours before 03:30 CEST on the 29th

    services.agenda_generate(region=region)

    agenda = Agenda.objects.get(region=region)
    assert agenda.week_start == dt.date(2026, 3, 23)
    assert agenda.meeting_at == utc(2026, 3, 29, 1, 30)
    assert agenda.meeting_at.astimezone(ZoneInfo("Europe/Berlin")).time() == dt.time(3, 30)
