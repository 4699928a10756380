"""Reads of health data for pages: the badge's trend, one account's breakdown,
history and observations, the figures of the Health page, and the red
measures behind the filing form's suggested causes.

Every list read is set-based: the badge's "30 days ago" score is one
subquery inside the list's own query (``with_health_trend``), and the Health
page's figures are aggregated in the database. Reads that need risk records
(the accountability list) live in ``risks.selectors``: health sits below risks.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from decimal import Decimal

from django.conf import settings
from django.db.models import (
    Count,
    ExpressionWrapper,
    F,
    IntegerField,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
    Sum,
)
from django.utils import timezone

from accounts.models import Account, AccountStatus

from .models import Band, Dimension, HealthScore, Measure, MeasureKind, Observation, Scoring

# The badge's arrow compares today's score with the one of this many days ago.
TREND_DAYS = 30
HISTORY_DAYS = 365
LATEST_OBSERVATIONS = 10


def trend_day(today: dt.date | None = None) -> dt.date:
    """The day the badge compares against: ``TREND_DAYS`` before today."""
    return (today or timezone.localdate()) - dt.timedelta(days=TREND_DAYS)


def score_as_of(day: dt.date, account_ref: str = "pk") -> Subquery:
    """The score of the newest HealthScore with ``as_of`` on or before ``day``
    of the account at ``account_ref`` (a path on the outer query), or NULL."""
    return Subquery(
        HealthScore.objects.filter(account_id=OuterRef(account_ref), as_of__lte=day)
        .order_by("-as_of")
        .values("score")[:1],
        output_field=IntegerField(),
    )


def with_health_trend(
    queryset: QuerySet, *, account_ref: str = "pk", today: dt.date | None = None
) -> QuerySet:
    """``queryset`` with ``health_previous_score``: the account's score 30 days
    ago (its newest HealthScore as of today - 30), NULL without one. The
    current score is the account's mirrored ``health_score``. ``account_ref``
    is the path from the queryset's rows to the account id (``"pk"`` on
    accounts, ``"account_id"`` on risk records)."""
    return queryset.annotate(health_previous_score=score_as_of(trend_day(today), account_ref))


# --- one account ----------------------------------------------------------------


@dataclass(frozen=True)
class PartRow:
    """One measure of a score's breakdown."""

    code: str
    name: str
    unit: str
    kind: str
    value: Decimal | None
    change: Decimal | None  # % against the baseline, for measures scored by change
    observed_on: dt.date | None
    score: float | None  # None: left out of the score
    weight: int
    status: str  # see PART_STATUSES

    @property
    def status_label(self) -> str:
        return PART_STATUSES[self.status]


PART_STATUSES = {
    "fresh": "Fresh",
    "stale": "Stale",
    "missing": "Missing",
    "no_baseline": "No baseline",
    "recent": "Happened recently",
    "none_recent": "None recent",
}


@dataclass(frozen=True)
class DimensionGroup:
    dimension: str
    label: str
    score: int | None
    rows: list[PartRow]


@dataclass(frozen=True)
class HistoryPoint:
    as_of: dt.date
    score: int | None
    band: str


@dataclass
class AccountHealth:
    latest: HealthScore | None
    dimensions: list[DimensionGroup] = field(default_factory=list)
    history: list[HistoryPoint] = field(default_factory=list)
    observations: list[Observation] = field(default_factory=list)


def _decimal(value: object) -> Decimal | None:
    return None if value is None else Decimal(str(value))


def _part_status(part: dict, kind: str, scoring: str) -> str:
    fresh = bool(part.get("fresh"))
    if kind == MeasureKind.EVENT:
        # An event scores 0 while it is recent and 100 otherwise: it is never
        # missing, and "stale" would read as a lack of data.
        return "recent" if fresh else "none_recent"
    if part.get("observed_on") is None:
        return "missing"
    if not fresh:
        return "stale"
    if part.get("score") is None and scoring == Scoring.CHANGE:
        return "no_baseline"
    return "fresh"


def breakdown(score: HealthScore, measures: dict) -> list[DimensionGroup]:
    """The parts of ``score`` grouped by dimension (in the order fit, current
    state, interest), each group by measure name. ``measures`` maps code to
    Measure; a part whose measure was deleted since shows its code."""
    groups: dict[str, list[PartRow]] = {dimension: [] for dimension in Dimension.values}
    for code, part in score.parts.items():
        measure = measures.get(code)
        kind = measure.kind if measure else MeasureKind.NUMBER
        scoring = measure.scoring if measure else Scoring.VALUE
        observed_on = part.get("observed_on")
        row = PartRow(
            code=code,
            name=measure.name if measure else code,
            unit=measure.unit if measure else "",
            kind=kind,
            value=_decimal(part.get("value")),
            change=_decimal(part.get("change")) if scoring == Scoring.CHANGE else None,
            observed_on=dt.date.fromisoformat(observed_on) if observed_on else None,
            score=part.get("score"),
            weight=int(part.get("weight") or 0),
            status=_part_status(part, kind, scoring),
        )
        dimension = part.get("dimension") or (measure.dimension if measure else "")
        groups.setdefault(dimension, []).append(row)
    labels = dict(Dimension.choices)
    return [
        DimensionGroup(
            dimension=dimension,
            label=labels.get(dimension, dimension),
            score=getattr(score, dimension, None) if dimension in labels else None,
            rows=sorted(rows, key=lambda row: row.name.lower()),
        )
        for dimension, rows in groups.items()
        if rows
    ]


def account_health(
    account: Account, *, history_days: int = HISTORY_DAYS, observations: int = LATEST_OBSERVATIONS
) -> AccountHealth:
    """What the account page shows about health, in at most four queries: the
    newest score with its parts, the measures those parts name, the scores of
    the year before it, and the newest observations."""
    latest = HealthScore.objects.filter(account=account).order_by("-as_of").first()
    health = AccountHealth(latest=latest)
    if latest is not None:
        measures = {
            measure.code: measure for measure in Measure.objects.filter(code__in=list(latest.parts))
        }
        health.dimensions = breakdown(latest, measures)
        health.history = [
            HistoryPoint(as_of=as_of, score=score, band=band)
            for as_of, score, band in HealthScore.objects.filter(
                account=account, as_of__gt=latest.as_of - dt.timedelta(days=history_days)
            )
            .order_by("as_of")
            .values_list("as_of", "score", "band")
        ]
    health.observations = list(
        Observation.objects.filter(account=account)
        .select_related("measure")
        .order_by("-observed_on", "-recorded_at", "-pk")[:observations]
    )
    return health


def red_measures(account_id: int) -> list[tuple[int, str, float]]:
    """(suggested cause id, measure name, part score) for each measure of the
    account's newest score that is red and names a suggested cause, reddest
    first. A measure is red when its part score is below HEALTH_RED_BELOW, the
    same line that makes a whole score red; a part left out (stale, missing,
    no baseline) has no score and is never red. Two queries at most."""
    parts = (
        HealthScore.objects.filter(account_id=account_id)
        .order_by("-as_of")
        .values_list("parts", flat=True)
        .first()
    )
    red_below = settings.HEALTH_RED_BELOW
    red = {
        code: part["score"]
        for code, part in (parts or {}).items()
        if part.get("score") is not None and part["score"] < red_below
    }
    if not red:
        return []
    rows = Measure.objects.filter(code__in=list(red), suggested_cause__isnull=False).values_list(
        "code", "name", "suggested_cause_id"
    )
    return sorted(
        ((cause_id, name, red[code]) for code, name, cause_id in rows),
        key=lambda row: (row[2], row[1].lower()),
    )


# --- the Health page ----------------------------------------------------------------

BAND_COLUMNS = (
    (Band.GREEN, "Green", Q(health_band=Band.GREEN)),
    (Band.YELLOW, "Yellow", Q(health_band=Band.YELLOW)),
    (Band.RED, "Red", Q(health_band=Band.RED)),
    # Never scored (blank) and not enough data (unknown) read the same: no score.
    (Band.UNKNOWN, "No score", Q(health_band__in=[Band.UNKNOWN, ""])),
)


def active_accounts() -> QuerySet[Account]:
    """Active accounts: the ones the Health page counts (a churned customer is gone)."""
    return Account.objects.filter(status=AccountStatus.ACTIVE)


@dataclass(frozen=True)
class BandCell:
    band: str
    label: str
    count: int
    arr: Decimal


@dataclass(frozen=True)
class BandRow:
    code: str
    name: str
    cells: list[BandCell]
    count: int
    arr: Decimal


def _band_aggregates() -> dict:
    aggregates: dict = {}
    for band, _label, condition in BAND_COLUMNS:
        aggregates[f"{band}_count"] = Count("pk", filter=condition)
        aggregates[f"{band}_arr"] = Sum("arr", filter=condition, default=Decimal(0))
    aggregates["all_count"] = Count("pk")
    aggregates["all_arr"] = Sum("arr", default=Decimal(0))
    return aggregates


def _band_row(code: str, name: str, values: dict) -> BandRow:
    return BandRow(
        code=code,
        name=name,
        cells=[
            BandCell(band, label, values[f"{band}_count"], values[f"{band}_arr"])
            for band, label, _condition in BAND_COLUMNS
        ],
        count=values["all_count"],
        arr=values["all_arr"],
    )


def bands_by(accounts: QuerySet[Account], group: str) -> list[BandRow]:
    """Count and ARR of ``accounts`` per band, one row per ``group``
    (``"segment"`` or ``"region"``): one query with conditional aggregation."""
    order = "region__code" if group == "region" else "segment__name"
    rows = (
        accounts.order_by()
        .values(f"{group}__code", f"{group}__name")
        .annotate(**_band_aggregates())
        .order_by(order)
    )
    return [_band_row(row[f"{group}__code"], row[f"{group}__name"], row) for row in rows]


def band_totals(accounts: QuerySet[Account]) -> BandRow:
    """The same figures over every account: one query."""
    return _band_row("", "All accounts", accounts.order_by().aggregate(**_band_aggregates()))


def biggest_drops(
    accounts: QuerySet[Account], *, today: dt.date | None = None, limit: int = 20
) -> QuerySet[Account]:
    """The accounts whose score fell most against 30 days ago (``health_drop``
    points, largest first; then the larger ARR): both scores known and the
    current one lower. One query."""
    return (
        with_health_trend(accounts, today=today)
        .filter(health_score__isnull=False, health_previous_score__isnull=False)
        .annotate(
            health_drop=ExpressionWrapper(
                F("health_previous_score") - F("health_score"), output_field=IntegerField()
            )
        )
        .filter(health_drop__gt=0)
        .select_related("region", "segment", "csm")
        .order_by("-health_drop", "-arr", "name", "pk")[:limit]
    )
