"""Signals and health scores: measures, the per-segment scorecard (thresholds),
observations and the daily scores computed from them (health.scoring)."""

from __future__ import annotations

from decimal import Decimal

from auditlog.registry import auditlog
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models, transaction
from django.db.models import F, Q
from django.db.models.signals import pre_delete
from django.dispatch import receiver

from accounts.models import Account, HealthBand, Segment


class Dimension(models.TextChoices):
    FIT = "fit", "Fit"
    CURRENT_STATE = "current_state", "Current state"
    INTEREST = "interest", "Interest"


class MeasureKind(models.TextChoices):
    NUMBER = "number", "Number"
    EVENT = "event", "Event"


class Better(models.TextChoices):
    HIGHER = "higher", "Higher is better"
    LOWER = "lower", "Lower is better"


class Scoring(models.TextChoices):
    VALUE = "value", "Latest value"
    CHANGE = "change", "% change against its baseline"


Band = HealthBand


class Source(models.TextChoices):
    API = "api", "API"
    CSV = "csv", "CSV import"
    MANUAL = "manual", "Manual"


def _lock_for_delete(queryset: models.QuerySet) -> None:
    """Lock the rows about to be deleted (FOR UPDATE, in id order) before the
    ORM looks for their observations. Observations have no foreign key
    constraint: an import that named these rows holds them FOR KEY SHARE until
    it commits, so this waits for it and the cascade or the protection then
    sees its observations; an import that comes later finds the rows gone.
    (SQLite serialises writers and ignores the lock.)"""
    list(queryset.select_for_update().order_by("pk").values_list("pk", flat=True))


class MeasureQuerySet(models.QuerySet):
    def delete(self) -> tuple[int, dict[str, int]]:
        with transaction.atomic(using=self.db):
            _lock_for_delete(self)
            return super().delete()


class Measure(models.Model):
    code = models.SlugField(
        max_length=64,
        unique=True,
        help_text="A slug; observations and the API name measures by code.",
    )
    name = models.CharField(max_length=120)
    description = models.TextField(blank=True)
    unit = models.CharField(max_length=32, blank=True, help_text="e.g. logins, %, days.")
    dimension = models.CharField(max_length=16, choices=Dimension.choices)
    kind = models.CharField(max_length=8, choices=MeasureKind.choices, default=MeasureKind.NUMBER)
    better = models.CharField(
        max_length=8,
        choices=Better.choices,
        blank=True,
        help_text="Numbers only: whether a higher or a lower value is healthier.",
    )
    scoring = models.CharField(
        max_length=8,
        choices=Scoring.choices,
        default=Scoring.VALUE,
        help_text="Numbers only: score the latest value, or its % change against "
        "the mean of the baseline window before it.",
    )
    baseline_days = models.PositiveSmallIntegerField(
        default=90, validators=[MinValueValidator(1), MaxValueValidator(3660)]
    )
    stale_after_days = models.PositiveSmallIntegerField(
        default=45,
        validators=[MinValueValidator(1), MaxValueValidator(3660)],
        help_text="A number older than this is left out; an event counts for this many days.",
    )
    # Named as a string: health sits below risks and never imports it.
    suggested_cause = models.ForeignKey(
        "risks.RootCause",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        help_text="Offered first when a CSM files on an account where this measure is red.",
    )
    active = models.BooleanField(default=True)

    objects = MeasureQuerySet.as_manager()

    class Meta:
        ordering = ["dimension", "name"]
        constraints = [
            models.CheckConstraint(condition=~Q(code=""), name="measure_code_not_blank"),
            models.CheckConstraint(
                condition=Q(kind=MeasureKind.EVENT, better="")
                | Q(kind=MeasureKind.NUMBER) & ~Q(better=""),
                name="measure_better_for_numbers_only",
            ),
        ]

    def __str__(self) -> str:
        return self.name

    def delete(self, using: str | None = None, keep_parents: bool = False) -> tuple:
        with transaction.atomic(using=using):
            _lock_for_delete(Measure._base_manager.using(using).filter(pk=self.pk))
            return super().delete(using=using, keep_parents=keep_parents)


class Threshold(models.Model):
    """One line of the scorecard: a measure's red and green values and weight,
    for one segment or (segment empty) for every segment without its own line."""

    measure = models.ForeignKey(Measure, on_delete=models.CASCADE, related_name="thresholds")
    segment = models.ForeignKey(
        Segment, on_delete=models.CASCADE, null=True, blank=True, related_name="thresholds"
    )
    red = models.DecimalField(max_digits=14, decimal_places=4, default=Decimal("0"))
    green = models.DecimalField(max_digits=14, decimal_places=4, default=Decimal("0"))
    weight = models.PositiveSmallIntegerField(
        validators=[MaxValueValidator(100)], help_text="0-100; 0 leaves the measure unscored."
    )

    class Meta:
        ordering = ["measure", F("segment").asc(nulls_first=True)]
        constraints = [
            # One line per measure and segment, and one default line per
            # measure (two partial indexes: SQLite has no NULLS NOT DISTINCT).
            models.UniqueConstraint(
                fields=["measure", "segment"],
                condition=Q(segment__isnull=False),
                name="threshold_one_per_measure_segment",
            ),
            models.UniqueConstraint(
                fields=["measure"],
                condition=Q(segment__isnull=True),
                name="threshold_one_default_per_measure",
            ),
            models.CheckConstraint(
                condition=Q(weight__gte=0, weight__lte=100), name="threshold_weight_0_100"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.measure} ({self.segment or 'default'})"


class Observation(models.Model):
    # No index of their own: the unique (account, measure, day) index serves
    # every lookup by account, and observations are never looked up by measure
    # alone. No foreign key constraints in the database either: a per-row
    # check cost a bulk import more than the insert itself. Every writer goes
    # through the importer (health.imports), which locks the accounts and
    # measures it names (FOR KEY SHARE) and checks them again under the lock;
    # deleting an account or a measure locks its row first (below) before the
    # ORM cascades or protects (docs/architecture.md, "Imports").
    account = models.ForeignKey(
        Account, on_delete=models.CASCADE, related_name="+", db_index=False, db_constraint=False
    )
    measure = models.ForeignKey(
        Measure, on_delete=models.PROTECT, related_name="+", db_index=False, db_constraint=False
    )
    observed_on = models.DateField()
    value = models.DecimalField(max_digits=18, decimal_places=4)
    source = models.CharField(max_length=8, choices=Source.choices, default=Source.API)
    recorded_at = models.DateTimeField()

    class Meta:
        constraints = [
            # Also the index every read goes through: an account's measure by day.
            models.UniqueConstraint(
                fields=["account", "measure", "observed_on"], name="observation_one_per_day"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.measure_id}={self.value} on {self.observed_on}"


@receiver(pre_delete, sender=Account, dispatch_uid="health_lock_account_for_delete")
def _lock_account_for_delete(sender: type, instance: Account, **kwargs: object) -> None:
    # Sent inside the delete's transaction, before the observations are
    # deleted with the account (the ORM's cascade: no constraint does it).
    _lock_for_delete(Account._base_manager.using(kwargs.get("using")).filter(pk=instance.pk))


class HealthScore(models.Model):
    # The unique (account, as_of) index serves lookups by account.
    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="+", db_index=False)
    as_of = models.DateField()
    score = models.PositiveSmallIntegerField(null=True)
    band = models.CharField(max_length=8, choices=Band.choices)
    coverage = models.DecimalField(max_digits=5, decimal_places=4)
    fit = models.PositiveSmallIntegerField(null=True)
    current_state = models.PositiveSmallIntegerField(null=True)
    interest = models.PositiveSmallIntegerField(null=True)
    parts = models.JSONField(default=dict)
    computed_at = models.DateTimeField()

    class Meta:
        ordering = ["account", "-as_of"]
        constraints = [
            models.UniqueConstraint(fields=["account", "as_of"], name="healthscore_one_per_day"),
        ]
        indexes = [models.Index(fields=["as_of", "band"], name="healthscore_asof_band_idx")]

    def __str__(self) -> str:
        return f"{self.account_id} {self.as_of}: {self.score} ({self.band})"


# The scorecard's history, with who changed it, on the audit trail.
# What a measure is made of: its API fields, its audit trail, its service.
MEASURE_FIELDS = (
    "code",
    "name",
    "description",
    "unit",
    "dimension",
    "kind",
    "better",
    "scoring",
    "baseline_days",
    "stale_after_days",
    "suggested_cause",
    "active",
)
auditlog.register(Measure, include_fields=list(MEASURE_FIELDS))
auditlog.register(Threshold, include_fields=["measure", "segment", "red", "green", "weight"])
