from __future__ import annotations

from django.db import models
from django.utils import timezone


class OutboundEmail(models.Model):
    """Outbox: every notification is written here in the transaction of the
    change that causes it, then sent by a task. If Redis is down the row waits
    and a periodic sweep sends it later — nothing is lost, nothing sent twice
    (``dedupe_key`` is unique; sending claims the row with a conditional UPDATE)."""

    dedupe_key = models.CharField(max_length=200, unique=True)
    kind = models.CharField(max_length=64)
    to = models.JSONField(help_text="List of recipient addresses.")
    subject = models.CharField(max_length=255)
    body = models.TextField()
    ics = models.TextField(blank=True, help_text="iCalendar invite attached when present.")
    created_at = models.DateTimeField(default=timezone.now)
    sent_at = models.DateTimeField(null=True, blank=True)
    attempts = models.PositiveIntegerField(default=0)
    last_error = models.TextField(blank=True)

    class Meta:
        ordering = ["created_at", "id"]
        indexes = [models.Index(fields=["sent_at", "created_at"], name="outbox_unsent_idx")]

    def __str__(self) -> str:
        return f"{self.kind} → {', '.join(self.to)}"
