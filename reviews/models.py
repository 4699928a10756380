from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone

from accounts.models import Region
from risks.models import RiskRecord


class AgendaStatus(models.TextChoices):
    SCHEDULED = "scheduled", "Scheduled"
    HELD = "held", "Held"


class Agenda(models.Model):
    """A region's weekly cross-functional review (docs/domain.md)."""

    region = models.ForeignKey(Region, on_delete=models.PROTECT, related_name="agendas")
    week_start = models.DateField(help_text="The Monday of the ISO week.")
    meeting_at = models.DateTimeField(help_text="Start of that week's meeting (aware).")
    status = models.CharField(
        max_length=16, choices=AgendaStatus.choices, default=AgendaStatus.SCHEDULED
    )
    generated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-week_start", "region__code"]
        constraints = [
            models.UniqueConstraint(
                fields=["region", "week_start"], name="agenda_one_per_region_and_week"
            ),
            models.CheckConstraint(
                condition=Q(status__in=[choice.value for choice in AgendaStatus]),
                name="agenda_status_valid",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.region.code} review, week of {self.week_start:%Y-%m-%d}"


class AgendaSection(models.TextChoices):
    NEW = "new", "New at tier 3"
    CARRIED_OVER = "carried_over", "Carried over"
    PENDING_ESCALATION = "pending_escalation", "Waiting for approval to tier 3"
    RESOLVED = "resolved", "Resolved since the last review"


SECTION_ORDER = [
    AgendaSection.NEW,
    AgendaSection.CARRIED_OVER,
    AgendaSection.PENDING_ESCALATION,
    AgendaSection.RESOLVED,
]


class AgendaItem(models.Model):
    agenda = models.ForeignKey(Agenda, on_delete=models.CASCADE, related_name="items")
    risk = models.ForeignKey(RiskRecord, on_delete=models.PROTECT, related_name="agenda_items")
    section = models.CharField(max_length=32, choices=AgendaSection.choices)
    position = models.PositiveIntegerField()

    class Meta:
        ordering = ["agenda", "position"]
        constraints = [
            models.UniqueConstraint(fields=["agenda", "risk"], name="agenda_item_once_per_risk"),
            models.CheckConstraint(
                condition=Q(section__in=[choice.value for choice in AgendaSection]),
                name="agenda_item_section_valid",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.agenda}: {self.risk.account} ({self.get_section_display()})"


class ReviewNote(models.Model):
    item = models.ForeignKey(AgendaItem, on_delete=models.CASCADE, related_name="notes")
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="review_notes"
    )
    text = models.TextField()
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["created_at", "id"]
        constraints = [
            models.CheckConstraint(condition=~Q(text=""), name="review_note_text_required"),
        ]

    def __str__(self) -> str:
        return f"Note by {self.author} on {self.item}"
