"""Program effectiveness (reports.programs) on a dataset whose figures are
worked out by hand below (the formulas of docs/domain.md).

Playbook "Adoption rescue": step A (1. Exec sponsor call) and step B
(2. Training relaunch); playbook "Bug bash": step C (1. Triage call). Every
task is due on 20 Jan 2026. "on" = done on the due day at 23:30 (the last
minute that still counts), "next" = done on 21 Jan at 00:10 (late), "never" =
not done, "nodue" = done and without a due date (on time). Records closed on
10 Feb 2026 at noon UTC (the server's TIME_ZONE), EMEA, enterprise:

  #   status     days open   A       B       C      review tasks
  1   saved      10          on on*  on      -      on + next  → not on time
  2   saved      12          on      on      -      on + on    → on time
  3   saved      14          on      on      -      -          (+ a late manual task)
  4   saved      20          on      next    -      -
  5   saved      30          on      never   -      -
  6   churned    40          on      on      -      never      → not on time
  7   saved      16          next    nodue   -      -
  8   churned    18          next    on      -      -
  9   churned    22          never   next    -      nodue      → on time
  10  churned    25          next    never   -      -
  11  churned     5          -       next    -      -
  12  churned     7          -       never   on     -
  13  withdrawn   9          on      on      -      -          (left out)

(*) record 1 has two tasks of step A, both on time: it counts once.

Step A  on time: 1-6 → 6 records, 5 saved; not on time: 7-10 → 4 records, 1 saved.
Step B  on time: 1, 2, 3, 6, 7, 8 → 6 records, 4 saved (1, 2, 3, 7);
        not on time: 4, 5, 9, 10, 11, 12 → 6 records, 2 saved (4, 5).
Step C  on time: 12 → 1 record, 0 saved; not on time: none.
Review  on time: 2, 9 → 2 records, 1 saved; not on time: 1, 6 → 2 records, 1 saved.

Wilson 95% (z = 1.96, z² = 3.8416), n = 6 so z²/n = 0.640267, 1 + z²/n = 1.640267,
z²/2n = 0.320133, z²/4n² = 3.8416/144 = 0.026678:
  A on time, p = 5/6 = 0.833333: centre = (0.833333 + 0.320133) / 1.640267 = 0.703219;
    half = 1.96 · √(0.833333 · 0.166667 / 6 + 0.026678) / 1.640267
         = 1.96 · √(0.023148 + 0.026678) / 1.640267 = 1.96 · 0.223217 / 1.640267 = 0.266728;
    low = 0.436491 → 0.4365, high = 0.969947 → 0.9699.
  B on time, p = 4/6 = 0.666667: centre = (0.666667 + 0.320133) / 1.640267 = 0.601609;
    half = 1.96 · √(0.037037 + 0.026678) / 1.640267 = 1.96 · 0.252418 / 1.640267 = 0.301621;
    low = 0.299988 → 0.3000, high = 0.903231 → 0.9032.
  B not on time, p = 2/6 = 0.333333: centre = (0.333333 + 0.320133) / 1.640267 = 0.398391;
    half = 0.301621 (p(1 - p) is the same); low = 0.096769 → 0.0968, high = 0.700012 → 0.7000.

Median days to close (even counts: the mean of the middle two):
  A on time 10 12 14 20 30 40 → 17.0; A not on time 16 18 22 25 → 20.0;
  B on time 10 12 14 16 18 40 → 15.0; B not on time 5 7 20 22 25 30 → 21.0;
  C on time 7 → 7.0; review on time 12 22 → 17.0, not on time 10 40 → 25.0.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from core.exceptions import InvalidInput
from reports import programs
from reports.programs import ProgramGroup, ProgramRow
from reports.selectors import ReportFilters
from reviews.models import Agenda, AgendaItem, AgendaSection
from risks.models import RiskRecord, RiskStatus, RootCause, TaskSource
from tests import factories

pytestmark = pytest.mark.django_db

D = Decimal
UTC = dt.UTC
DUE = dt.date(2026, 1, 20)
CLOSED = dt.date(2026, 2, 10)
ON = dt.datetime(2026, 1, 20, 23, 30, tzinfo=UTC)
NEXT = dt.datetime(2026, 1, 21, 0, 10, tzinfo=UTC)
NEVER = None
NODUE = "nodue"
S, C, W = RiskStatus.SAVED, RiskStatus.CHURNED, RiskStatus.WITHDRAWN


def at_noon(day: dt.date) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(12), tzinfo=UTC)


def closed_record(
    status: str,
    days_open: int,
    *,
    region=None,
    segment: str = "enterprise",
    closed: dt.date = CLOSED,
) -> RiskRecord:
    account = factories.AccountFactory(
        **({"region": region} if region else {}),
        segment=factories.SegmentFactory(code=segment),
    )
    return factories.RiskRecordFactory(
        account=account,
        primary_cause=RootCause.objects.get(code="low-usage"),
        status=status,
        arr_retained=account.arr if status == S else D("0"),
        opened_at=at_noon(closed - dt.timedelta(days=days_open)),
        closed_at=at_noon(closed),
        closed_by=account.csm,
    )


def task(risk: RiskRecord, done, *, step=None, source: str = TaskSource.PLAYBOOK, **extra):
    """A task due on DUE and done at ``done`` (NODUE: done, without a due date)."""
    if done == NODUE:
        extra.update(due_date=None, done_at=ON)
    else:
        extra.update(due_date=DUE, done_at=done)
    return factories.TaskFactory(risk=risk, step=step, source=source, **extra)


def review_task(risk: RiskRecord, done) -> None:
    agenda, _ = Agenda.objects.get_or_create(
        region=risk.account.region,
        week_start=dt.date(2026, 1, 12),
        defaults={"meeting_at": dt.datetime(2026, 1, 14, 14, tzinfo=UTC)},
    )
    item, _ = AgendaItem.objects.get_or_create(
        agenda=agenda,
        risk=risk,
        defaults={"section": AgendaSection.NEW, "position": risk.pk},
    )
    task(risk, done, source=TaskSource.REVIEW, agenda_item=item)


@pytest.fixture
def steps() -> dict[str, object]:
    rescue = factories.PlaybookFactory(name="Adoption rescue")
    bug_bash = factories.PlaybookFactory(name="Bug bash")
    # Created in an order that is neither the report's nor the alphabet's.
    step_c = factories.PlaybookStepFactory(playbook=bug_bash, position=1, title="Triage call")
    step_b = factories.PlaybookStepFactory(playbook=rescue, position=2, title="Training relaunch")
    step_a = factories.PlaybookStepFactory(playbook=rescue, position=1, title="Exec sponsor call")
    return {"A": step_a, "B": step_b, "C": step_c}


TABLE = [
    # status, days open, A, B, C, review tasks
    (S, 10, [ON, ON], [ON], [], [ON, NEXT]),
    (S, 12, [ON], [ON], [], [ON, ON]),
    (S, 14, [ON], [ON], [], []),
    (S, 20, [ON], [NEXT], [], []),
    (S, 30, [ON], [NEVER], [], []),
    (C, 40, [ON], [ON], [], [NEVER]),
    (S, 16, [NEXT], [NODUE], [], []),
    (C, 18, [NEXT], [ON], [], []),
    (C, 22, [NEVER], [NEXT], [], [NODUE]),
    (C, 25, [NEXT], [NEVER], [], []),
    (C, 5, [], [NEXT], [], []),
    (C, 7, [], [NEVER], [ON], []),
    (W, 9, [ON], [ON], [], []),
]


@pytest.fixture
def dataset(steps, region) -> list[RiskRecord]:
    records = []
    for status, days_open, a_tasks, b_tasks, c_tasks, reviews in TABLE:
        record = closed_record(status, days_open, region=region)
        for name, tasks in (("A", a_tasks), ("B", b_tasks), ("C", c_tasks)):
            for done in tasks:
                task(record, done, step=steps[name])
        for done in reviews:
            review_task(record, done)
        records.append(record)
    # A late task added by hand is in no row.
    task(records[2], NEXT, source=TaskSource.MANUAL)
    return records


def group(
    records: int,
    saved: int,
    rate: str | None = None,
    low: str | None = None,
    high: str | None = None,
    median: str | None = None,
) -> ProgramGroup:
    return ProgramGroup(
        records=records,
        saved=saved,
        save_rate=None if rate is None else D(rate),
        save_rate_low=None if low is None else D(low),
        save_rate_high=None if high is None else D(high),
        median_days_to_close=None if median is None else D(median),
    )


def expected_rows(steps) -> list[ProgramRow]:
    return [
        ProgramRow(
            kind="playbook_step",
            step_id=steps["A"].pk,
            label="Adoption rescue — 1. Exec sponsor call",
            on_time=group(6, 5, "0.8333", "0.4365", "0.9699", "17.0"),
            not_on_time=group(4, 1, median="20.0"),
        ),
        ProgramRow(
            kind="playbook_step",
            step_id=steps["B"].pk,
            label="Adoption rescue — 2. Training relaunch",
            on_time=group(6, 4, "0.6667", "0.3000", "0.9032", "15.0"),
            not_on_time=group(6, 2, "0.3333", "0.0968", "0.7000", "21.0"),
        ),
        ProgramRow(
            kind="playbook_step",
            step_id=steps["C"].pk,
            label="Bug bash — 1. Triage call",
            on_time=group(1, 0, median="7.0"),
            not_on_time=group(0, 0),
        ),
        ProgramRow(
            kind="review",
            step_id=None,
            label="Review action items",
            on_time=group(2, 1, median="17.0"),
            not_on_time=group(2, 1, median="25.0"),
        ),
    ]


# --- the figures ---------------------------------------------------------------------------


def test_every_row_and_group_matches_the_hand_computed_figures(dataset, steps):
    report = programs.program_effectiveness()

    assert report.rows == expected_rows(steps)


def test_a_group_of_fewer_than_5_records_shows_counts_and_a_note_but_no_rate(dataset, steps):
    a_late = programs.program_effectiveness().rows[0].not_on_time

    assert (a_late.records, a_late.saved) == (4, 1)
    assert a_late.save_rate is None
    assert a_late.save_rate_low is None and a_late.save_rate_high is None
    assert a_late.note == "Fewer than 5 records"


def test_a_group_of_5_records_has_a_rate_and_no_note():
    five = programs.program_group(5, 1, None)

    # p = 0.2, z²/n = 0.76832, 1 + z²/n = 1.76832; centre = (0.2 + 0.38416) / 1.76832
    # = 0.330347; half = 1.96 · √(0.032 + 0.038416) / 1.76832 = 1.96 · 0.265360 / 1.76832
    # = 0.294124; low = 0.036223 → 0.0362, high = 0.624472 → 0.6245.
    assert (five.save_rate, five.save_rate_low, five.save_rate_high) == (
        D("0.2000"),
        D("0.0362"),
        D("0.6245"),
    )
    assert five.note is None


def test_done_on_the_due_day_is_on_time_the_next_day_late_and_never_not_on_time(steps, region):
    records = {
        done: closed_record(S, 10, region=region) for done in ("on the day", "next day", "never")
    }
    task(records["on the day"], ON, step=steps["A"])
    task(records["next day"], NEXT, step=steps["A"])
    task(records["never"], NEVER, step=steps["A"])

    (row,) = programs.program_effectiveness().rows

    assert (row.on_time.records, row.not_on_time.records) == (1, 2)


def test_the_done_day_is_that_of_the_server_time_zone(steps, region, settings):
    # Done at 03:00 UTC on 21 Jan: 22:00 on 20 Jan in New York, the due day.
    record = closed_record(S, 10, region=region)
    task(record, dt.datetime(2026, 1, 21, 3, 0, tzinfo=UTC), step=steps["A"])

    assert programs.program_effectiveness().rows[0].not_on_time.records == 1
    settings.TIME_ZONE = "America/New_York"
    assert programs.program_effectiveness().rows[0].on_time.records == 1


def test_one_late_review_task_makes_the_record_not_on_time(dataset):
    review = programs.program_effectiveness().rows[-1]

    # Record 1 has one review task on time and one late: not on time.
    assert review.label == "Review action items"
    assert (review.on_time.records, review.not_on_time.records) == (2, 2)


def test_withdrawn_and_open_records_are_left_out(dataset, steps, region):
    still_open = factories.RiskRecordFactory(account=factories.AccountFactory(region=region))
    task(still_open, ON, step=steps["A"])

    step_a = programs.program_effectiveness().rows[0]

    # Record 13 (withdrawn) and the open record would make A on time 8 records.
    assert step_a.on_time.records == 6


def test_no_tasks_no_rows(region):
    closed_record(S, 10, region=region)

    assert programs.program_effectiveness().rows == []


# --- filters -------------------------------------------------------------------------------


@pytest.fixture
def elsewhere(dataset, steps, other_region) -> RiskRecord:
    """One more saved record with step A on time: NA, smb, closed 2 Mar 2026
    at noon, 9 days open."""
    record = closed_record(S, 9, region=other_region, segment="smb", closed=dt.date(2026, 3, 2))
    task(record, ON, step=steps["A"])
    return record


def test_without_filters_every_period_region_and_segment_counts(elsewhere):
    step_a = programs.program_effectiveness().rows[0]

    # A on time: 6 + 1 = 7 records, 6 saved → p = 0.857143; z²/n = 0.5488,
    # centre = (0.857143 + 0.2744) / 1.5488 = 0.730593; half = 1.96 · √(0.017493 +
    # 0.0196) / 1.5488 = 1.96 · 0.192595 / 1.5488 = 0.243728 → 0.4869 to 0.9743.
    # Median of 9 10 12 14 20 30 40 → 14.0.
    assert step_a.on_time == group(7, 6, "0.8571", "0.4869", "0.9743", "14.0")


@pytest.mark.parametrize(
    ("filters", "a_on_time"),
    [
        (ReportFilters(closed_after=dt.date(2026, 3, 2)), 1),
        (ReportFilters(closed_before=dt.date(2026, 3, 1)), 6),
        (ReportFilters(closed_after=dt.date(2026, 2, 10), closed_before=dt.date(2026, 2, 10)), 6),
        (ReportFilters(closed_before=dt.date(2026, 2, 9)), None),
        (ReportFilters(region="NA"), 1),
        (ReportFilters(region="EMEA"), 6),
        (ReportFilters(segment="smb"), 1),
        (ReportFilters(region="EMEA", segment="smb"), None),
    ],
)
def test_period_region_and_segment_filters(elsewhere, filters, a_on_time):
    rows = programs.program_effectiveness(filters=filters).rows

    if a_on_time is None:
        assert rows == []
    else:
        assert rows[0].label == "Adoption rescue — 1. Exec sponsor call"
        assert rows[0].on_time.records == a_on_time


def test_parse_program_query_reads_the_outcomes_filters(region):
    filters = programs.parse_program_query(
        {"closed_after": "2026-01-01", "closed_before": "2026-01-31", "region": "EMEA"}
    )

    assert filters == ReportFilters(
        closed_after=dt.date(2026, 1, 1), closed_before=dt.date(2026, 1, 31), region="EMEA"
    )


def test_parse_program_query_names_every_bad_field(region):
    with pytest.raises(InvalidInput) as raised:
        programs.parse_program_query(
            {"closed_after": "2026-02-30", "closed_before": "soon", "region": "MARS"}
        )

    assert raised.value.errors == {
        "closed_after": ["Enter a date as YYYY-MM-DD."],
        "closed_before": ["Enter a date as YYYY-MM-DD."],
        "region": ["Unknown region 'MARS'; use one of: EMEA."],
    }


# --- Wilson, the medians, the queries ------------------------------------------------------


@pytest.mark.parametrize(
    ("saved", "records", "low", "high"),
    [
        (5, 6, "0.4365", "0.9699"),
        (4, 6, "0.3000", "0.9032"),
        # p = 1: centre + half = (1 + z²/n) / (1 + z²/n) = 1 exactly; low = 5 / 8.8416
        # = 0.565509 → 0.5655.
        (5, 5, "0.5655", "1.0000"),
        # p = 0: low = 0; high = 1 - 0.565509 = 0.434491 → 0.4345.
        (0, 5, "0.0000", "0.4345"),
    ],
)
def test_wilson_interval(saved, records, low, high):
    assert programs.wilson_interval(saved, records) == (D(low), D(high))


def test_wilson_interval_without_trials_is_none():
    assert programs.wilson_interval(0, 0) is None


def test_window_fallback_gives_the_same_report(dataset, monkeypatch):
    native = programs.program_effectiveness()
    monkeypatch.setattr(programs, "median_in_aggregate", lambda: False)

    assert programs.program_effectiveness() == native


def queries_of(build) -> int:
    with CaptureQueriesContext(connection) as captured:
        build()
    return len(captured)


def _more_records(steps, region, count: int) -> None:
    for index in range(count):
        record = closed_record([S, C][index % 2], 3 + index, region=region)
        task(record, [ON, NEXT, NEVER][index % 3], step=steps["ABC"[index % 3]])
        review_task(record, [ON, NEXT][index % 2])


def test_query_count_is_fixed_for_few_and_many_records(steps, region, django_assert_num_queries):
    # PostgreSQL: the step groups and the review groups, medians inside;
    # elsewhere three more for the medians (windows).
    expected = 2 if programs.median_in_aggregate() else 5
    _more_records(steps, region, 3)
    with django_assert_num_queries(expected):
        few = programs.program_effectiveness()
    _more_records(steps, region, 30)
    with django_assert_num_queries(expected):
        many = programs.program_effectiveness()

    assert sum(row.on_time.records + row.not_on_time.records for row in few.rows) == 3 + 3
    assert sum(row.on_time.records + row.not_on_time.records for row in many.rows) == 33 + 33


# --- CSV -----------------------------------------------------------------------------------


def test_csv_has_a_header_and_one_line_per_row_with_blank_rates_under_5(dataset, steps):
    lines = list(programs.program_csv_rows(programs.program_effectiveness()))

    assert lines[0] == [
        "kind",
        "step_id",
        "label",
        "on_time_records",
        "on_time_saved",
        "on_time_save_rate",
        "on_time_save_rate_low",
        "on_time_save_rate_high",
        "on_time_median_days_to_close",
        "not_on_time_records",
        "not_on_time_saved",
        "not_on_time_save_rate",
        "not_on_time_save_rate_low",
        "not_on_time_save_rate_high",
        "not_on_time_median_days_to_close",
    ]
    a, b = steps["A"].pk, steps["B"].pk
    step_a = ["6", "5", "0.8333", "0.4365", "0.9699", "17.0", "4", "1", "", "", "", "20.0"]
    step_b = ["6", "4", "0.6667", "0.3000", "0.9032", "15.0"]
    step_b += ["6", "2", "0.3333", "0.0968", "0.7000", "21.0"]
    step_c = ["1", "0", "", "", "", "7.0", "0", "0", "", "", "", ""]
    review = ["2", "1", "", "", "", "17.0", "2", "1", "", "", "", "25.0"]
    assert lines[1:] == [
        ["playbook_step", str(a), "Adoption rescue — 1. Exec sponsor call", *step_a],
        ["playbook_step", str(b), "Adoption rescue — 2. Training relaunch", *step_b],
        ["playbook_step", str(steps["C"].pk), "Bug bash — 1. Triage call", *step_c],
        ["review", "", "Review action items", *review],
    ]
