from __future__ import annotations

from decimal import Decimal

from auditlog.registry import auditlog
from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MinValueValidator
from django.db import models
from django.db.models import F, Q
from django.utils import timezone

from accounts.models import Account, Department, Segment

MONEY = {"max_digits": 14, "decimal_places": 2}


# The longest free text the workflow takes, in characters: room for a real
# account of the situation, not for a pasted document.
TEXT_LIMITS = {
    "summary": 4000,
    "next_steps": 4000,
    "text": 10000,  # a note on the timeline
    "reason": 2000,  # an escalation request
    "note": 4000,  # a decision, de-escalation or outcome note
    "arr_above_account_reason": 1000,
}


class RootCauseCategory(models.TextChoices):
    """The seeded categories. Admins may add others: `category` is a free slug."""

    ADOPTION = "adoption", "Adoption"
    PRODUCT = "product", "Product"


def category_label(category: str) -> str:
    try:
        return RootCauseCategory(category).label
    except ValueError:
        return category.replace("_", " ").replace("-", " ").capitalize()


class RootCause(models.Model):
    code = models.SlugField(
        max_length=64,
        unique=True,
        help_text="A slug. Fixed once a risk record uses the cause: timeline events, "
        "reports and API clients name causes by code.",
    )
    name = models.CharField(max_length=120)
    category = models.SlugField(
        max_length=64,
        help_text="adoption, product, or another category slug added by CS operations.",
    )
    description = models.TextField(help_text="When a CSM should pick this cause.")
    active = models.BooleanField(
        default=True,
        help_text="Inactive causes cannot be chosen on new records but stay on old ones.",
    )

    class Meta:
        ordering = ["category", "name"]
        constraints = [
            models.CheckConstraint(condition=~Q(code=""), name="rootcause_code_not_blank"),
            models.CheckConstraint(condition=~Q(category=""), name="rootcause_category_not_blank"),
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def category_label(self) -> str:
        return category_label(self.category)


class RiskStatus(models.TextChoices):
    OPEN = "open", "Open"
    SAVED = "saved", "Saved"
    CHURNED = "churned", "Churned"
    WITHDRAWN = "withdrawn", "Withdrawn"


CLOSED_STATUSES = (RiskStatus.SAVED, RiskStatus.CHURNED, RiskStatus.WITHDRAWN)


class Tier(models.IntegerChoices):
    CSM = 1, "Tier 1 — CSM"
    MANAGER = 2, "Tier 2 — Manager"
    REVIEW = 3, "Tier 3 — Cross-functional review"


class RiskRecord(models.Model):
    account = models.ForeignKey(Account, on_delete=models.PROTECT, related_name="risks")
    primary_cause = models.ForeignKey(
        RootCause, on_delete=models.PROTECT, related_name="primary_risks"
    )
    secondary_cause = models.ForeignKey(
        RootCause,
        on_delete=models.PROTECT,
        related_name="secondary_risks",
        null=True,
        blank=True,
    )
    tier = models.PositiveSmallIntegerField(choices=Tier.choices, default=Tier.CSM)
    max_tier = models.PositiveSmallIntegerField(choices=Tier.choices, default=Tier.CSM)
    status = models.CharField(max_length=16, choices=RiskStatus.choices, default=RiskStatus.OPEN)
    summary = models.TextField()
    next_steps = models.TextField()
    arr_at_risk = models.DecimalField(
        "ARR at risk", **MONEY, validators=[MinValueValidator(Decimal("0"))]
    )
    arr_retained = models.DecimalField(
        "ARR retained",
        **MONEY,
        null=True,
        blank=True,
        validators=[MinValueValidator(Decimal("0"))],
    )
    opened_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="risks_opened"
    )
    opened_at = models.DateTimeField(default=timezone.now)
    tier_changed_at = models.DateTimeField(default=timezone.now)
    closed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        related_name="risks_closed",
        null=True,
        blank=True,
    )
    closed_at = models.DateTimeField(null=True, blank=True)
    outcome_note = models.TextField(blank=True)
    version = models.PositiveIntegerField(default=1)

    class Meta:
        ordering = ["-opened_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["account"],
                condition=Q(status="open"),
                name="risk_one_open_per_account",
                violation_error_message="This account already has an open risk record.",
            ),
            models.CheckConstraint(
                condition=Q(secondary_cause__isnull=True) | ~Q(secondary_cause=F("primary_cause")),
                name="risk_secondary_differs_from_primary",
            ),
            models.CheckConstraint(
                condition=Q(tier__gte=Tier.CSM, tier__lte=Tier.REVIEW), name="risk_tier_1_to_3"
            ),
            models.CheckConstraint(
                condition=Q(max_tier__gte=F("tier"), max_tier__lte=Tier.REVIEW),
                name="risk_max_tier_at_least_tier",
            ),
            models.CheckConstraint(
                condition=Q(status__in=[choice.value for choice in RiskStatus]),
                name="risk_status_valid",
            ),
            models.CheckConstraint(
                condition=Q(arr_at_risk__gte=0), name="risk_arr_at_risk_not_negative"
            ),
            models.CheckConstraint(
                condition=Q(arr_retained__isnull=True)
                | Q(arr_retained__gte=0, arr_retained__lte=F("arr_at_risk")),
                name="risk_arr_retained_within_arr_at_risk",
            ),
            models.CheckConstraint(
                condition=~Q(summary="") & ~Q(next_steps=""),
                name="risk_summary_and_next_steps_required",
            ),
            # An open record has no outcome; a closed one has all of it.
            models.CheckConstraint(
                condition=(
                    Q(status="open", closed_at__isnull=True, arr_retained__isnull=True)
                    | (~Q(status="open") & Q(closed_at__isnull=False, arr_retained__isnull=False))
                ),
                name="risk_closed_fields_match_status",
            ),
        ]
        indexes = [
            models.Index(fields=["status", "tier"], name="risk_status_tier_idx"),
            models.Index(fields=["opened_at"], name="risk_opened_at_idx"),
            models.Index(fields=["closed_at"], name="risk_closed_at_idx"),
            # The list filters by attributes of the account (region, segment,
            # CSM, manager) and by cause, newest first: from the matching
            # accounts this finds, counts and sorts their records in the index
            # alone instead of reading every record of the cause (make bench).
            models.Index(
                fields=["account", "primary_cause", "opened_at"],
                name="risk_account_cause_opened_idx",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.account} — {self.get_status_display()} (tier {self.tier})"

    @property
    def is_open(self) -> bool:
        return self.status == RiskStatus.OPEN

    @property
    def is_top_tier(self) -> bool:
        """At the cross-functional review: nothing to escalate to."""
        return self.tier >= Tier.REVIEW

    @property
    def is_bottom_tier(self) -> bool:
        """At tier 1: nothing to de-escalate to."""
        return self.tier <= Tier.CSM


class EscalationStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    APPROVED = "approved", "Approved"
    REJECTED = "rejected", "Rejected"
    CANCELLED = "cancelled", "Cancelled"


class Escalation(models.Model):
    risk = models.ForeignKey(RiskRecord, on_delete=models.CASCADE, related_name="escalations")
    from_tier = models.PositiveSmallIntegerField(choices=Tier.choices)
    to_tier = models.PositiveSmallIntegerField(choices=Tier.choices)
    status = models.CharField(
        max_length=16, choices=EscalationStatus.choices, default=EscalationStatus.PENDING
    )
    reason = models.TextField()
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="escalations_requested"
    )
    requested_at = models.DateTimeField(default=timezone.now)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        related_name="escalations_decided",
        null=True,
        blank=True,
    )
    decided_at = models.DateTimeField(null=True, blank=True)
    decision_note = models.TextField(blank=True)

    class Meta:
        ordering = ["-requested_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["risk"],
                condition=Q(status="pending"),
                name="escalation_one_pending_per_risk",
                violation_error_message="This risk already has a pending escalation.",
            ),
            models.CheckConstraint(
                condition=Q(
                    from_tier__gte=Tier.CSM,
                    from_tier__lte=Tier.MANAGER,
                    to_tier=F("from_tier") + 1,
                ),
                name="escalation_one_step_up",
            ),
            models.CheckConstraint(
                condition=Q(status__in=[choice.value for choice in EscalationStatus]),
                name="escalation_status_valid",
            ),
            models.CheckConstraint(condition=~Q(reason=""), name="escalation_reason_required"),
            models.CheckConstraint(
                condition=Q(status="pending", decided_at__isnull=True)
                | (~Q(status="pending") & Q(decided_at__isnull=False)),
                name="escalation_decided_at_matches_status",
            ),
        ]
        indexes = [models.Index(fields=["status", "requested_at"], name="escalation_status_idx")]

    def __str__(self) -> str:
        return f"Tier {self.from_tier} → {self.to_tier} ({self.get_status_display()})"


class TimelineKind(models.TextChoices):
    OPENED = "opened", "Opened"
    NOTE = "note", "Note"
    ESCALATION_REQUESTED = "escalation_requested", "Escalation requested"
    ESCALATION_APPROVED = "escalation_approved", "Escalation approved"
    ESCALATION_REJECTED = "escalation_rejected", "Escalation rejected"
    DEESCALATED = "deescalated", "De-escalated"
    EDITED = "edited", "Edited"
    REVIEW_NOTE = "review_note", "Review note"
    ACTION_ADDED = "action_added", "Action item added"
    PLAYBOOK_STARTED = "playbook_started", "Playbook started"
    TASK_ADDED = "task_added", "Task added"
    TASK_DONE = "task_done", "Task done"
    TASK_REOPENED = "task_reopened", "Task reopened"
    CLOSED = "closed", "Closed"


class TimelineEvent(models.Model):
    """Append-only history of a risk record. Only the services write it."""

    risk = models.ForeignKey(RiskRecord, on_delete=models.CASCADE, related_name="events")
    kind = models.CharField(max_length=32, choices=TimelineKind.choices)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        related_name="timeline_events",
        null=True,
        blank=True,
    )
    at = models.DateTimeField(default=timezone.now)
    text = models.TextField(blank=True)
    data = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["at", "id"]
        indexes = [models.Index(fields=["risk", "at"], name="timeline_risk_at_idx")]
        constraints = [
            models.CheckConstraint(
                condition=Q(kind__in=[choice.value for choice in TimelineKind]),
                name="timeline_kind_valid",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} at {self.at:%Y-%m-%d %H:%M}"

    def save(self, *args, **kwargs) -> None:
        if self.pk is not None and not self._state.adding:
            raise ValidationError("Timeline events are append-only and cannot be changed.")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise ValidationError("Timeline events are append-only and cannot be deleted.")


# --- playbooks and tasks ---------------------------------------------------------------


class StepOwner(models.TextChoices):
    """Who a playbook step's task goes to: a person found from the account, or
    a department (then the task has no single owner). The departments are the
    reviewers' departments of ``accounts.Department``; a test keeps them equal."""

    CSM = "csm", "The account's CSM"
    MANAGER = "manager", "The CSM's manager"
    PROFESSIONAL_SERVICES = (
        Department.PROFESSIONAL_SERVICES.value,
        Department.PROFESSIONAL_SERVICES.label,
    )
    PRODUCT = Department.PRODUCT.value, Department.PRODUCT.label
    SUPPORT = Department.SUPPORT.value, Department.SUPPORT.label
    SALES = Department.SALES.value, Department.SALES.label
    FINANCE = Department.FINANCE.value, Department.FINANCE.label


# A step is due at most this many business days after the record opens (a year).
MAX_DUE_DAYS = 260


class Playbook(models.Model):
    """The team's known play for a root cause, optionally for one segment (a
    segment's own playbook wins over the cause's general one)."""

    name = models.CharField(max_length=120)
    root_cause = models.ForeignKey(RootCause, on_delete=models.PROTECT, related_name="playbooks")
    segment = models.ForeignKey(
        Segment,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="playbooks",
        help_text="Leave empty for every segment without its own playbook for this cause.",
    )
    description = models.TextField(blank=True, help_text="When and why the team runs this play.")
    active = models.BooleanField(
        default=True, help_text="Only active playbooks give new records their tasks."
    )

    class Meta:
        ordering = ["root_cause__name", "segment__name", "name"]
        constraints = [
            models.CheckConstraint(condition=~Q(name=""), name="playbook_name_required"),
            models.UniqueConstraint(
                fields=["root_cause", "segment"],
                condition=Q(active=True, segment__isnull=False),
                name="playbook_one_active_per_cause_and_segment",
                violation_error_message=(
                    "This cause already has an active playbook for this segment."
                ),
            ),
            models.UniqueConstraint(
                fields=["root_cause"],
                condition=Q(active=True, segment__isnull=True),
                name="playbook_one_active_default_per_cause",
                violation_error_message=(
                    "This cause already has an active playbook for every segment."
                ),
            ),
        ]

    def __str__(self) -> str:
        return self.name


class PlaybookStep(models.Model):
    playbook = models.ForeignKey(Playbook, on_delete=models.CASCADE, related_name="steps")
    position = models.PositiveSmallIntegerField(default=1)
    title = models.CharField(max_length=200)
    description = models.TextField(blank=True)
    owner = models.CharField(max_length=32, choices=StepOwner.choices, default=StepOwner.CSM)
    due_days = models.PositiveSmallIntegerField(
        help_text="Business days (Monday to Friday) after the record opens."
    )

    class Meta:
        ordering = ["playbook", "position", "id"]
        constraints = [
            models.CheckConstraint(condition=~Q(title=""), name="playbook_step_title_required"),
            models.CheckConstraint(
                condition=Q(owner__in=[choice.value for choice in StepOwner]),
                name="playbook_step_owner_valid",
            ),
            models.CheckConstraint(
                condition=Q(due_days__lte=MAX_DUE_DAYS),
                name="playbook_step_due_days_at_most_a_year",
            ),
        ]

    def __str__(self) -> str:
        return self.title


class TaskSource(models.TextChoices):
    PLAYBOOK = "playbook", "Playbook"
    REVIEW = "review", "Weekly review"
    MANUAL = "manual", "Added by hand"


class Task(models.Model):
    """A commitment on a risk record: who does what by when. Playbook steps
    and the weekly review's action items become tasks; people add them too."""

    risk = models.ForeignKey(RiskRecord, on_delete=models.CASCADE, related_name="tasks")
    title = models.CharField(max_length=200)
    description = models.TextField(blank=True)
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="tasks",
    )
    department = models.CharField(max_length=32, choices=Department.choices, blank=True)
    due_date = models.DateField(null=True, blank=True)
    done_at = models.DateTimeField(null=True, blank=True)
    done_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
    )
    source = models.CharField(max_length=16, choices=TaskSource.choices)
    step = models.ForeignKey(
        PlaybookStep,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="tasks",
        help_text="The playbook step the task came from.",
    )
    # The weekly review sits above this app; naming its model by string keeps
    # the import graph pointing down (the review creates these tasks).
    agenda_item = models.ForeignKey(
        "reviews.AgendaItem",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="tasks",
        help_text="The agenda item of the review that agreed the task.",
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["due_date", "id"]
        indexes = [
            models.Index(fields=["owner", "done_at", "due_date"], name="task_owner_open_idx"),
            models.Index(
                fields=["department", "done_at", "due_date"], name="task_department_open_idx"
            ),
            models.Index(fields=["done_at", "due_date"], name="task_open_due_idx"),
        ]
        constraints = [
            models.CheckConstraint(condition=~Q(title=""), name="task_title_required"),
            models.CheckConstraint(
                condition=Q(source__in=[choice.value for choice in TaskSource]),
                name="task_source_valid",
            ),
            models.CheckConstraint(
                condition=Q(department="") | Q(department__in=Department.values),
                name="task_department_valid",
            ),
            models.CheckConstraint(
                condition=Q(done_at__isnull=False) | Q(done_by__isnull=True),
                name="task_done_by_only_when_done",
            ),
        ]

    def __str__(self) -> str:
        return self.title

    @property
    def is_done(self) -> bool:
        return self.done_at is not None

    @property
    def is_overdue(self) -> bool:
        """Open and due before today (``risks.selectors.overdue_q`` in SQL)."""
        return (
            self.done_at is None
            and self.due_date is not None
            and self.due_date < timezone.localdate()
        )


# Root causes are admin data: their changes go on the audit trail.
auditlog.register(RootCause, include_fields=["code", "name", "category", "description", "active"])
auditlog.register(
    Playbook, include_fields=["name", "root_cause", "segment", "description", "active"]
)
auditlog.register(
    PlaybookStep, include_fields=["playbook", "position", "title", "owner", "due_days"]
)
