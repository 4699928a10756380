"""Risk rules over health signals, and their matches (docs/domain.md, "Risk rules")."""

from __future__ import annotations

from auditlog.registry import auditlog
from django.conf import settings
from django.db import models
from django.db.models import Q
from django.db.models.functions import Lower

from accounts.models import Account, Region, Segment
from risks.models import RiskRecord, RootCause


class Action(models.TextChoices):
    OPEN_RISK = "open_risk", "Open a tier-1 risk record"
    NOTIFY = "notify", "Email the CSM and their manager"
    WEBHOOK = "webhook", "Send the rule.matched webhook event"


class Rule(models.Model):
    """When every condition holds for an account in scope, the rule matches it
    once per episode and takes its actions. Rules start inactive: an admin
    previews what a rule would match before switching it on."""

    name = models.CharField(max_length=120)
    description = models.TextField(blank=True)
    active = models.BooleanField(default=False)
    segment = models.ForeignKey(
        Segment, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    region = models.ForeignKey(
        Region, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    # A list of 1-3 objects, each {"type": …, and its parameters}; checked
    # by rules.conditions (the one place that knows the condition types).
    conditions = models.JSONField(default=list)
    actions = models.JSONField(default=list, help_text='Action codes, e.g. ["open_risk"].')
    primary_cause = models.ForeignKey(
        RootCause,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        help_text="The primary cause of the records the rule opens (its playbook follows).",
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+"
    )
    created_at = models.DateTimeField()
    updated_at = models.DateTimeField()
    # Bumped by every change: the editor and the API send the version they
    # loaded, and a change to a rule someone saved since is refused.
    version = models.PositiveIntegerField(default=1)

    class Meta:
        ordering = ["name"]
        constraints = [
            models.CheckConstraint(condition=~Q(name=""), name="rule_name_not_blank"),
            # Unique whatever the case, as the service checks it.
            models.UniqueConstraint(Lower("name"), name="rule_name_unique_any_case"),
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def opens_risk(self) -> bool:
        return Action.OPEN_RISK in (self.actions or [])

    @property
    def notifies(self) -> bool:
        return Action.NOTIFY in (self.actions or [])

    @property
    def sends_webhook(self) -> bool:
        return Action.WEBHOOK in (self.actions or [])


class Outcome(models.TextChoices):
    PENDING = "", "Pending"
    OPENED = "opened", "Opened a risk record"
    NOTED = "noted", "Noted on the open record"
    NOTIFIED = "notified", "Notified"
    SKIPPED = "skipped", "Skipped"


class RuleMatch(models.Model):
    """One episode of a rule holding for an account: written when the rule
    starts to hold, cleared when it stops. Its actions are taken once, by a
    task, after the evaluation that wrote it commits (`acted_at`)."""

    rule = models.ForeignKey(Rule, on_delete=models.PROTECT, related_name="matches")
    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="+")
    matched_at = models.DateTimeField()
    as_of = models.DateField(help_text="The day the conditions were judged on.")
    evidence = models.JSONField(default=list)
    risk = models.ForeignKey(
        RiskRecord, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    outcome = models.CharField(max_length=8, choices=Outcome.choices, blank=True, default="")
    outcome_note = models.CharField(max_length=255, blank=True)
    acted_at = models.DateTimeField(null=True, blank=True)
    cleared_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-matched_at", "-id"]
        constraints = [
            # One episode at a time: at most one uncleared match per rule and account.
            models.UniqueConstraint(
                fields=["rule", "account"],
                condition=Q(cleared_at__isnull=True),
                name="rulematch_one_open_episode",
            ),
        ]
        indexes = [
            models.Index(fields=["rule", "matched_at"], name="rulematch_rule_time_idx"),
            models.Index(fields=["account", "matched_at"], name="rulematch_account_time_idx"),
            # The weekly digest's matches of a week.
            models.Index(fields=["acted_at"], name="rulematch_acted_idx"),
            # The actions' queue: matches not acted on yet.
            models.Index(
                fields=["id"], condition=Q(acted_at__isnull=True), name="rulematch_to_act_idx"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.rule} matched account {self.account_id} at {self.matched_at:%Y-%m-%d}"

    @property
    def is_open(self) -> bool:
        return self.cleared_at is None


RULE_FIELDS = (
    "name",
    "description",
    "active",
    "segment",
    "region",
    "conditions",
    "actions",
    "primary_cause",
)
auditlog.register(Rule, include_fields=list(RULE_FIELDS))
