"""Health operations that views, the API, commands and importers call."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from functools import partial
from typing import Any

from django.core.validators import slug_re
from django.db import IntegrityError, transaction
from django.db.models import Model, ProtectedError, Q
from django.utils import timezone

from accounts.models import Segment, User
from core.exceptions import Conflict, InvalidInput, NotAllowed

from . import tasks
from .models import (
    MEASURE_FIELDS,
    Better,
    Dimension,
    Measure,
    MeasureKind,
    Observation,
    Scoring,
    Threshold,
)


def rescore_on_commit(account_ids: Iterable[int]) -> None:
    """After the current transaction commits, rescore these accounts as of today."""
    ids = sorted(set(account_ids))
    if ids:
        transaction.on_commit(partial(tasks.score_some_accounts.delay, ids), robust=True)


def compute_now(as_of: date | None = None):
    """Queue scoring of every account as of `as_of` (today by default); returns
    the Celery result (already finished when tasks run in-process)."""
    return tasks.score_all_accounts.delay(as_of.isoformat() if as_of else None)


def backfill_days(since: date, until: date, every_days: int) -> list[date]:
    """The days a backfill scores: `until` and every `every_days` before it, back
    to `since` (so the newest score is always the one of `until`)."""
    days = []
    day = until
    while day >= since:
        days.append(day)
        day -= timedelta(days=every_days)
    return sorted(days)


# --- the scorecard: measures and their threshold lines ----------------------------------
#
# Every write of a measure or a line goes through the functions below, which
# the API, the Django admin and its scorecard editor all call: one set of rules,
# one set of messages, raised as InvalidInput with the field they are about.

ONLY_ADMINS = "Only CS operations admins may change the scorecard."
CODE_TAKEN = "Another measure has this code."
MEASURE_IN_USE = (
    "Observations refer to this measure, so it cannot be deleted; deactivate it "
    "instead (active: false)."
)
REQUIRED = "This field is required."
# Threshold.red and .green: 14 digits, 4 of them after the point.
LINE_PLACES = 4
LINE_INTEGER_DIGITS = 10
_UNSET: Any = object()


def _ensure_admin(user: User) -> None:
    if not user.is_cs_admin:
        raise NotAllowed(ONLY_ADMINS)


def _add(errors: dict[str, list[str]], field: str, message: str) -> None:
    errors.setdefault(field, []).append(message)


def _whole_number(
    value: Any, field: str, errors: dict[str, list[str]], low: int, high: int
) -> int | None:
    if value is None or value == "":
        _add(errors, field, REQUIRED)
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        _add(errors, field, "Enter a whole number.")
        return None
    if not low <= value <= high:
        _add(errors, field, f"Enter a whole number from {low} to {high}.")
        return None
    return value


def _line_value(value: Any, field: str, errors: dict[str, list[str]]) -> Decimal | None:
    """A red or green value: a finite decimal that fits the column."""
    if value is None or value == "":
        _add(errors, field, REQUIRED)
        return None
    if isinstance(value, bool):
        value = "not a number"
    try:
        number = value if isinstance(value, Decimal) else Decimal(str(value).strip())
    except ArithmeticError:
        number = Decimal("NaN")
    if not number.is_finite():
        _add(errors, field, "Enter a number.")
        return None
    exponent = number.normalize().as_tuple().exponent
    places = -exponent if isinstance(exponent, int) and exponent < 0 else 0
    if places > LINE_PLACES or abs(number) >= Decimal(10) ** LINE_INTEGER_DIGITS:
        _add(
            errors,
            field,
            f"Enter a number below {10**LINE_INTEGER_DIGITS:,} (in size) "
            f"with at most {LINE_PLACES} decimal places.",
        )
        return None
    return number


def line_problem(better: str, red: Decimal, green: Decimal) -> str | None:
    """Why red and green do not fit a number measure's direction, or None.
    (Events ignore red and green: an event scores 0 while it counts, else 100.)"""
    if better == Better.HIGHER and not red < green:
        return "Higher is better for this measure, so green must be above red."
    if better == Better.LOWER and not red > green:
        return "Lower is better for this measure, so green must be below red."
    return None


def _root_cause_model() -> type[Model]:
    # The cause is named by a string on the model: health sits below risks
    # and never imports it.
    return Measure._meta.get_field("suggested_cause").related_model


def _clean_measure(values: dict[str, Any], *, measure: Measure | None) -> dict[str, Any]:
    errors: dict[str, list[str]] = {}
    code = str(values["code"] or "").strip()
    if not code:
        _add(errors, "code", REQUIRED)
    elif len(code) > 64 or not slug_re.match(code):
        _add(errors, "code", "Enter a code of at most 64 letters, digits, hyphens or underscores.")
    elif Measure.objects.filter(code=code).exclude(pk=getattr(measure, "pk", None)).exists():
        _add(errors, "code", CODE_TAKEN)
    name = str(values["name"] or "").strip()
    if not name:
        _add(errors, "name", REQUIRED)
    elif len(name) > 120:
        _add(errors, "name", "Use at most 120 characters.")
    unit = str(values["unit"] or "").strip()
    if len(unit) > 32:
        _add(errors, "unit", "Use at most 32 characters.")
    dimension, kind, better, scoring = (
        values[field] for field in ("dimension", "kind", "better", "scoring")
    )
    better = better or ""
    if dimension not in Dimension.values:
        _add(errors, "dimension", f"Choose one of {', '.join(Dimension.values)}.")
    if kind not in MeasureKind.values:
        _add(errors, "kind", f"Choose one of {', '.join(MeasureKind.values)}.")
    if scoring not in Scoring.values:
        _add(errors, "scoring", f"Choose one of {', '.join(Scoring.values)}.")
    if kind == MeasureKind.NUMBER and better not in Better.values:
        _add(errors, "better", "A number needs a direction: higher or lower is better.")
    if kind == MeasureKind.EVENT:
        if better:
            _add(errors, "better", "An event has no direction: leave it empty.")
        if scoring == Scoring.CHANGE:
            _add(errors, "scoring", "An event counts while it is recent: score it by value.")
    baseline_days = _whole_number(values["baseline_days"], "baseline_days", errors, 1, 3660)
    stale_after_days = _whole_number(
        values["stale_after_days"], "stale_after_days", errors, 1, 3660
    )
    cause = values["suggested_cause"]
    if cause is not None:
        if not isinstance(cause, _root_cause_model()):
            _add(errors, "suggested_cause", "Choose a root cause.")
        elif not cause.active and cause.pk != getattr(measure, "suggested_cause_id", None):
            _add(errors, "suggested_cause", "This root cause is inactive; choose an active one.")
    if measure is not None and kind == MeasureKind.NUMBER and "better" not in errors:
        # Lines written for the other direction would score upside down.
        wrong = [
            line
            for line in measure.thresholds.select_related("segment")
            if line_problem(better, line.red, line.green)
        ]
        if wrong:
            names = ", ".join(line.segment.name if line.segment else "default" for line in wrong)
            _add(
                errors,
                "better",
                f"The scorecard lines of {names} have red and green the other way round; "
                "change or delete them first.",
            )
    if errors:
        raise InvalidInput(errors)
    return {
        "code": code,
        "name": name,
        "description": str(values["description"] or "").strip(),
        "unit": unit,
        "dimension": dimension,
        "kind": kind,
        "better": better,
        "scoring": scoring,
        "baseline_days": baseline_days,
        "stale_after_days": stale_after_days,
        "suggested_cause": cause,
        "active": bool(values["active"]),
    }


@transaction.atomic
def measure_create(
    *,
    user: User,
    code: str,
    name: str,
    dimension: str,
    kind: str = MeasureKind.NUMBER,
    better: str = "",
    scoring: str = Scoring.VALUE,
    description: str = "",
    unit: str = "",
    baseline_days: int = 90,
    stale_after_days: int = 45,
    suggested_cause: Model | None = None,
    active: bool = True,
) -> Measure:
    """Add a measure. It is scored once it has a line on the scorecard."""
    _ensure_admin(user)
    values = {
        "code": code,
        "name": name,
        "description": description,
        "unit": unit,
        "dimension": dimension,
        "kind": kind,
        "better": better,
        "scoring": scoring,
        "baseline_days": baseline_days,
        "stale_after_days": stale_after_days,
        "suggested_cause": suggested_cause,
        "active": active,
    }
    cleaned = _clean_measure(values, measure=None)
    try:
        with transaction.atomic():
            return Measure.objects.create(**cleaned)
    except IntegrityError:  # another admin took the code at the same moment
        raise InvalidInput({"code": [CODE_TAKEN]}) from None


@transaction.atomic
def measure_update(
    *,
    user: User,
    measure: Measure | int,
    code: str = _UNSET,
    name: str = _UNSET,
    dimension: str = _UNSET,
    kind: str = _UNSET,
    better: str = _UNSET,
    scoring: str = _UNSET,
    description: str = _UNSET,
    unit: str = _UNSET,
    baseline_days: int = _UNSET,
    stale_after_days: int = _UNSET,
    suggested_cause: Model | None = _UNSET,
    active: bool = _UNSET,
) -> Measure:
    """Change the fields given. ``active=False`` takes the measure off every
    scorecard without losing its observations."""
    _ensure_admin(user)
    given = {
        "code": code,
        "name": name,
        "description": description,
        "unit": unit,
        "dimension": dimension,
        "kind": kind,
        "better": better,
        "scoring": scoring,
        "baseline_days": baseline_days,
        "stale_after_days": stale_after_days,
        "suggested_cause": suggested_cause,
        "active": active,
    }
    pk = measure.pk if isinstance(measure, Measure) else measure
    measure = (
        Measure.objects.select_for_update(of=("self",)).select_related("suggested_cause").get(pk=pk)
    )
    values = {
        field: getattr(measure, field) if value is _UNSET else value
        for field, value in given.items()
    }
    cleaned = _clean_measure(values, measure=measure)
    changed = [field for field in MEASURE_FIELDS if getattr(measure, field) != cleaned[field]]
    for field in changed:
        setattr(measure, field, cleaned[field])
    if changed:
        try:
            with transaction.atomic():
                measure.save(update_fields=changed)
        except IntegrityError:  # the new code was taken at the same moment
            raise InvalidInput({"code": [CODE_TAKEN]}) from None
    return measure


def measure_observed(measure: Measure | int) -> bool:
    """Some observation is of ``measure`` (then it is deactivated, never deleted)."""
    pk = measure.pk if isinstance(measure, Measure) else measure
    return Observation.objects.filter(measure_id=pk).exists()


@transaction.atomic
def measure_delete(*, user: User, measure: Measure | int) -> None:
    """Delete a measure nothing was observed for (its lines go with it)."""
    _ensure_admin(user)
    pk = measure.pk if isinstance(measure, Measure) else measure
    # Asked first: the delete's own check would load every observation.
    if measure_observed(pk):
        raise Conflict(MEASURE_IN_USE)
    try:
        with transaction.atomic():
            Measure.objects.filter(pk=pk).delete()
    except (ProtectedError, IntegrityError):
        raise Conflict(MEASURE_IN_USE) from None


def _clean_line(
    *,
    measure: Measure | None,
    segment: Segment | None,
    red: Any,
    green: Any,
    weight: Any,
    line: Threshold | None,
) -> dict[str, Any]:
    errors: dict[str, list[str]] = {}
    if not isinstance(measure, Measure):
        _add(errors, "measure", REQUIRED if measure is None else "Choose a measure.")
    if segment is not None and not isinstance(segment, Segment):
        _add(errors, "segment", "Choose a segment, or none for the default line.")
    red_value = _line_value(red, "red", errors)
    green_value = _line_value(green, "green", errors)
    weight_value = _whole_number(weight, "weight", errors, 0, 100)
    if (
        isinstance(measure, Measure)
        and measure.kind == MeasureKind.NUMBER
        and red_value is not None
        and green_value is not None
    ):
        problem = line_problem(measure.better, red_value, green_value)
        if problem:
            _add(errors, "green", problem)
    if "measure" not in errors and "segment" not in errors:
        taken = Threshold.objects.filter(measure=measure, segment=segment)
        if line is not None:
            taken = taken.exclude(pk=line.pk)
        if taken.exists():
            _add(errors, "segment", _line_taken(segment))
    if errors:
        raise InvalidInput(errors)
    return {
        "measure": measure,
        "segment": segment,
        "red": red_value,
        "green": green_value,
        "weight": weight_value,
    }


def _line_taken(segment: Segment | None) -> str:
    if segment is None:
        return "This measure has a default line already; change that one."
    return f"This measure has a line for {segment.name} already; change that one."


LINE_FIELDS = ("measure", "segment", "red", "green", "weight")


@transaction.atomic
def threshold_create(
    *,
    user: User,
    measure: Measure,
    segment: Segment | None,
    red: Decimal,
    green: Decimal,
    weight: int,
) -> Threshold:
    """Add a line to the scorecard: for one segment, or (segment None) the
    default line of every segment without its own."""
    _ensure_admin(user)
    cleaned = _clean_line(
        measure=measure, segment=segment, red=red, green=green, weight=weight, line=None
    )
    try:
        with transaction.atomic():
            return Threshold.objects.create(**cleaned)
    except IntegrityError:  # the same line was added at the same moment
        raise InvalidInput({"segment": [_line_taken(segment)]}) from None


@transaction.atomic
def threshold_update(
    *,
    user: User,
    threshold: Threshold | int,
    measure: Measure = _UNSET,
    segment: Segment | None = _UNSET,
    red: Decimal = _UNSET,
    green: Decimal = _UNSET,
    weight: int = _UNSET,
) -> Threshold:
    """Change the fields given of one line."""
    _ensure_admin(user)
    given = {"measure": measure, "segment": segment, "red": red, "green": green, "weight": weight}
    pk = threshold.pk if isinstance(threshold, Threshold) else threshold
    line = (
        Threshold.objects.select_for_update(of=("self",))
        .select_related("measure", "segment")
        .get(pk=pk)
    )
    values = {
        field: getattr(line, field) if value is _UNSET else value for field, value in given.items()
    }
    cleaned = _clean_line(**values, line=line)
    changed = [field for field in LINE_FIELDS if getattr(line, field) != cleaned[field]]
    for field in changed:
        setattr(line, field, cleaned[field])
    if changed:
        try:
            with transaction.atomic():
                line.save(update_fields=changed)
        except IntegrityError:
            raise InvalidInput({"segment": [_line_taken(cleaned["segment"])]}) from None
    return line


def threshold_delete(*, user: User, threshold: Threshold | int) -> None:
    """Remove a line: a segment's falls back to the default line; without a
    default line, the measure is not scored there."""
    _ensure_admin(user)
    pk = threshold.pk if isinstance(threshold, Threshold) else threshold
    Threshold.objects.filter(pk=pk).delete()


# --- the scorecard editor: one segment's lines in one form ------------------------------


@dataclass(frozen=True)
class ScorecardLine:
    """An active measure on one segment's scorecard (or on the default card,
    when the segment is None): its own line there, and the default line."""

    measure: Measure
    own: Threshold | None
    default: Threshold | None

    @property
    def effective(self) -> Threshold | None:
        """The line that scores this measure for the segment."""
        return self.own or self.default


@dataclass(frozen=True)
class ScorecardRow:
    """What the editor sends for one measure. All three values None: the card
    has no line of its own for it. ``keep_own``: keep (or create) the
    segment's own line even where it equals the default line."""

    measure_id: int
    red: Decimal | None
    green: Decimal | None
    weight: int | None
    keep_own: bool = False


@dataclass
class ScorecardChanges:
    created: list[Threshold] = dataclasses.field(default_factory=list)
    updated: list[Threshold] = dataclasses.field(default_factory=list)
    # Unsaved copies that keep the deleted lines' ids, for the admin's log.
    deleted: list[Threshold] = dataclasses.field(default_factory=list)

    def __bool__(self) -> bool:
        return bool(self.created or self.updated or self.deleted)


class ScorecardInvalid(InvalidInput):
    """Some rows of the editor break a rule; ``rows`` maps a row's index to its
    field errors, and nothing has been written."""

    def __init__(self, rows: dict[int, dict[str, list[str]]], labels: dict[int, str | int]) -> None:
        self.rows = rows
        super().__init__(
            {
                f"{labels.get(index, index)}.{name}": messages
                for index, fields in rows.items()
                for name, messages in fields.items()
            }
        )


def _card_q(segment: Segment | None) -> Q:
    """The lines a card reads: the default lines, and the segment's own."""
    if segment is None:
        return Q(segment__isnull=True)
    return Q(segment__isnull=True) | Q(segment=segment)


def scorecard_lines(segment: Segment | None) -> list[ScorecardLine]:
    """Every active measure, in scorecard order, with the segment's own line
    and the default line (two queries)."""
    measures = list(Measure.objects.filter(active=True).order_by("dimension", "name", "pk"))
    lines = Threshold.objects.filter(measure__active=True).filter(_card_q(segment))
    defaults: dict[int, Threshold] = {}
    own: dict[int, Threshold] = {}
    for line in lines:
        (defaults if line.segment_id is None else own)[line.measure_id] = line
    if segment is None:
        return [ScorecardLine(m, defaults.get(m.pk), None) for m in measures]
    return [ScorecardLine(m, own.get(m.pk), defaults.get(m.pk)) for m in measures]


def _same_line(line: Threshold, red: Decimal, green: Decimal, weight: int) -> bool:
    return (line.red, line.green, line.weight) == (red, green, weight)


@transaction.atomic
def scorecard_save(
    *, user: User, segment: Segment | None, rows: Sequence[ScorecardRow]
) -> ScorecardChanges:
    """Write one card's lines from the editor, all or nothing.

    For a segment, a row whose values equal the default line's leaves the
    segment on the default line (deleting its own line, if any) unless
    ``keep_own`` is set; any other row becomes, or updates, the segment's own
    line. For the default card (segment None) the rows are the default lines.
    A row left empty removes the card's own line for that measure."""
    _ensure_admin(user)
    measure_ids = [row.measure_id for row in rows]
    measures = Measure.objects.in_bulk(measure_ids)
    lines = Threshold.objects.select_for_update().filter(measure_id__in=measure_ids)
    lines = lines.filter(_card_q(segment))
    defaults: dict[int, Threshold] = {}
    own: dict[int, Threshold] = {}
    for line in lines:
        (defaults if line.segment_id is None else own)[line.measure_id] = line
    if segment is None:
        own, defaults = defaults, {}
    errors: dict[int, dict[str, list[str]]] = {}
    plan: list[tuple[str, Threshold | None, dict[str, Any]]] = []
    for index, row in enumerate(rows):
        measure = measures.get(row.measure_id)
        if measure is None or not measure.active:
            errors[index] = {"__all__": ["This measure is no longer active; reload the page."]}
            continue
        values = (row.red, row.green, row.weight)
        line = own.get(measure.pk)
        if all(value is None for value in values):
            if line is not None:
                plan.append(("delete", line, {}))
            continue
        try:
            cleaned = _clean_line(
                measure=measure,
                segment=segment,
                red=row.red,
                green=row.green,
                weight=row.weight,
                line=line,
            )
        except InvalidInput as error:
            errors[index] = error.errors
            continue
        red, green, weight = cleaned["red"], cleaned["green"], cleaned["weight"]
        default = defaults.get(measure.pk)
        if (
            segment is not None
            and default is not None
            and not row.keep_own
            and _same_line(default, red, green, weight)
        ):
            if line is not None:
                plan.append(("delete", line, {}))
        elif line is None:
            plan.append(("create", None, cleaned))
        elif not _same_line(line, red, green, weight):
            plan.append(("update", line, {"red": red, "green": green, "weight": weight}))
    if errors:
        codes = {
            index: measures[row.measure_id].code if row.measure_id in measures else index
            for index, row in enumerate(rows)
        }
        raise ScorecardInvalid(errors, codes)
    changes = ScorecardChanges()
    try:
        with transaction.atomic():
            for action, line, values in plan:
                if action == "create":
                    changes.created.append(Threshold.objects.create(**values))
                elif action == "update":
                    for name, value in values.items():
                        setattr(line, name, value)
                    line.save(update_fields=list(values))
                    changes.updated.append(line)
                else:
                    gone = Threshold(
                        pk=line.pk,
                        measure=measures[line.measure_id],
                        segment=segment,
                        red=line.red,
                        green=line.green,
                        weight=line.weight,
                    )
                    line.delete()
                    changes.deleted.append(gone)
    except IntegrityError:  # another admin added a line of this card meanwhile
        raise InvalidInput(
            "Another change to this scorecard was saved meanwhile; reload the page."
        ) from None
    return changes


# --- computing scores on request ----------------------------------------------------------

FUTURE_DAY = "Scores are computed for today (UTC) or an earlier day, not a later one."


def scores_compute(*, user: User, as_of: date | None = None) -> tuple[Any, date]:
    """Score every account as of ``as_of`` (today, UTC, by default) now rather
    than at night. Returns the Celery result and the day. A later day is
    refused: its score would become the accounts' current health ahead of time."""
    if not user.is_cs_admin:
        raise NotAllowed("Only CS operations admins may compute health scores.")
    today = timezone.localdate()
    day = as_of or today
    if day > today:
        raise InvalidInput({"as_of": [FUTURE_DAY]})
    return compute_now(day), day
