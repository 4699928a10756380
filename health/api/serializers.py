"""API representations of measures, scorecard lines, observations and health
scores, and the bodies of the bulk observation upload and of computing scores.

Input serializers parse types only: the rules (slugs, a direction for numbers,
red and green the right way round, one line per measure and segment) are
``health.services``', so the API and the admin answer alike.
"""

from __future__ import annotations

from typing import Any

from rest_framework import serializers

from accounts.models import HealthBand, Segment
from core import dates
from core.api import CodeRelatedField

from ..models import (
    MEASURE_FIELDS,
    Better,
    Dimension,
    Measure,
    MeasureKind,
    Observation,
    Scoring,
    Threshold,
)
from ..services import LINE_INTEGER_DIGITS, LINE_PLACES

# The cause model is named by a string on Measure: health never imports risks.
RootCause = Measure._meta.get_field("suggested_cause").related_model


class BoundedDateField(serializers.DateField):
    """A date within the range every date of the product keeps to."""

    def to_internal_value(self, value: Any) -> Any:
        day = super().to_internal_value(value)
        if not dates.in_range(day):
            raise serializers.ValidationError(dates.OUT_OF_RANGE)
        return day


# --- measures and the scorecard -------------------------------------------------------


class MeasureSerializer(serializers.ModelSerializer):
    """A signal about an account, and how it is scored."""

    code = serializers.CharField(
        allow_blank=True,
        help_text="Slug, unique; observations name the measure by it.",
    )
    name = serializers.CharField(allow_blank=True)
    description = serializers.CharField(allow_blank=True, required=False, default="")
    unit = serializers.CharField(
        allow_blank=True, required=False, default="", help_text="e.g. logins, %, days."
    )
    dimension = serializers.ChoiceField(choices=Dimension.choices)
    kind = serializers.ChoiceField(choices=MeasureKind.choices, default=MeasureKind.NUMBER)
    better = serializers.ChoiceField(
        choices=Better.choices,
        allow_blank=True,
        required=False,
        default="",
        help_text="Numbers: higher or lower (required). Events: empty.",
    )
    scoring = serializers.ChoiceField(
        choices=Scoring.choices,
        default=Scoring.VALUE,
        help_text="value: the latest value; change: its % change against the mean of the "
        "baseline_days before it. Events: value.",
    )
    baseline_days = serializers.IntegerField(min_value=1, max_value=3660, default=90)
    stale_after_days = serializers.IntegerField(
        min_value=1,
        max_value=3660,
        default=45,
        help_text="A number older than this is left out; an event counts for this many days.",
    )
    suggested_cause = CodeRelatedField(
        slug_field="code",
        queryset=RootCause.objects.all(),
        allow_null=True,
        required=False,
        default=None,
        help_text="Root cause code offered first when a CSM files on an account where this "
        "measure is red, or null. Newly chosen causes must be active.",
    )
    active = serializers.BooleanField(
        default=True, help_text="false takes the measure off every scorecard."
    )

    class Meta:
        model = Measure
        fields = ["id", *MEASURE_FIELDS]
        validators: list = []  # the service checks the code is free


class ThresholdSerializer(serializers.ModelSerializer):
    """One line of the scorecard: a measure's red and green values and weight
    for one segment, or (segment null) the default line."""

    measure = CodeRelatedField(
        slug_field="code", queryset=Measure.objects.all(), help_text="Measure code."
    )
    segment = CodeRelatedField(
        slug_field="code",
        queryset=Segment.objects.all(),
        allow_null=True,
        required=False,
        default=None,
        help_text="Segment code, or null for the default line of every segment without its own.",
    )
    red = serializers.DecimalField(
        max_digits=LINE_INTEGER_DIGITS + LINE_PLACES,
        decimal_places=LINE_PLACES,
        help_text="Scores 0 at or beyond it. Higher is better: red < green; lower is "
        "better: red > green. Ignored for events.",
    )
    green = serializers.DecimalField(
        max_digits=LINE_INTEGER_DIGITS + LINE_PLACES,
        decimal_places=LINE_PLACES,
        help_text="Scores 100 at or beyond it; linear between red and green.",
    )
    weight = serializers.IntegerField(
        min_value=0, max_value=100, help_text="0-100; 0 leaves the measure unscored there."
    )

    class Meta:
        model = Threshold
        fields = ["id", "measure", "segment", "red", "green", "weight"]
        validators: list = []  # the service says which line is taken, on `segment`


# --- observations -----------------------------------------------------------------------


class ObservationSerializer(serializers.ModelSerializer):
    measure = serializers.CharField(source="measure.code", help_text="Measure code.")

    class Meta:
        model = Observation
        fields = ["id", "account", "measure", "observed_on", "value", "source", "recorded_at"]
        read_only_fields = fields


class ObservationRowSerializer(serializers.Serializer):
    """One row of a bulk upload (documentation of the request body: the rows
    are checked by the importer, which reports every bad row at once)."""

    account = serializers.IntegerField(
        required=False, help_text="Account id; or send account_external_id."
    )
    account_external_id = serializers.CharField(
        required=False, help_text="The account's CRM id; or send account."
    )
    measure = serializers.CharField(help_text="Measure code.")
    observed_on = serializers.DateField()
    value = serializers.DecimalField(
        max_digits=18,
        decimal_places=4,
        coerce_to_string=False,
        help_text="A number (1 for an event), as a JSON number or a decimal string.",
    )


class IngestResultSerializer(serializers.Serializer):
    created = serializers.IntegerField(help_text="New observations.")
    updated = serializers.IntegerField(
        help_text="Observations of an (account, measure, day) already known, now with the "
        "value sent."
    )


# --- health scores ----------------------------------------------------------------------


class PartSerializer(serializers.Serializer):
    """How one measure counted towards a score."""

    value = serializers.FloatField(
        allow_null=True, help_text="The latest value on or before the day, or null."
    )
    observed_on = serializers.DateField(allow_null=True)
    change = serializers.FloatField(
        allow_null=True, help_text="Measures scored by change: its % change, or null."
    )
    score = serializers.FloatField(
        allow_null=True, help_text="0-100, or null when left out (stale or missing)."
    )
    weight = serializers.IntegerField()
    fresh = serializers.BooleanField()


class DimensionsSerializer(serializers.Serializer):
    fit = serializers.IntegerField(allow_null=True)
    current_state = serializers.IntegerField(allow_null=True)
    interest = serializers.IntegerField(allow_null=True)


class AccountHealthSerializer(serializers.Serializer):
    """An account's health as of a day: its newest score on or before it."""

    account = serializers.IntegerField(source="account_id")
    as_of = serializers.DateField(
        allow_null=True, help_text="The day of the score; null when never scored by then."
    )
    score = serializers.IntegerField(
        allow_null=True, help_text="0-100, or null (band unknown: coverage under half)."
    )
    band = serializers.ChoiceField(choices=HealthBand.choices)
    coverage = serializers.DecimalField(
        max_digits=5,
        decimal_places=4,
        allow_null=True,
        help_text="Share of the weight with fresh data, 0-1; null when never scored.",
    )
    dimensions = DimensionsSerializer(source="*", help_text="Sub-scores, 0-100 or null.")
    parts = serializers.DictField(
        child=PartSerializer(), help_text="Measure code → how it counted."
    )
    computed_at = serializers.DateTimeField(allow_null=True)


class HealthScoreSerializer(serializers.Serializer):
    """One stored score: an account as of one day."""

    id = serializers.IntegerField()
    account = serializers.IntegerField(source="account_id")
    as_of = serializers.DateField()
    score = serializers.IntegerField(
        allow_null=True, help_text="0-100, or null (band unknown: coverage under half)."
    )
    band = serializers.ChoiceField(choices=HealthBand.choices)
    coverage = serializers.DecimalField(
        max_digits=5, decimal_places=4, help_text="Share of the weight with fresh data, 0-1."
    )
    dimensions = DimensionsSerializer(source="*", help_text="Sub-scores, 0-100 or null.")
    parts = serializers.DictField(
        child=PartSerializer(), help_text="Measure code → how it counted."
    )
    computed_at = serializers.DateTimeField()


class AsOfQuerySerializer(serializers.Serializer):
    as_of = BoundedDateField(required=False, help_text="YYYY-MM-DD; today (UTC) when left out.")


class ComputeSerializer(serializers.Serializer):
    as_of = BoundedDateField(
        required=False,
        allow_null=True,
        help_text="The day to score, today (UTC) or earlier; today when left out.",
    )


class ComputeJobSerializer(serializers.Serializer):
    task_id = serializers.CharField()
    status = serializers.ChoiceField(
        choices=[
            ("done", "Scored already (tasks run in-process)"),
            ("queued", "Queued for a worker"),
        ]
    )
    as_of = serializers.DateField()
