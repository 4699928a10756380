"""The one model of core: an import job (core.imports). Core sits below every
app, so the job names its user model by setting and its kind by a string that
an app's importer registers."""

from __future__ import annotations

from django.conf import settings
from django.db import models


class ImportStatus(models.TextChoices):
    UPLOADED = "uploaded", "Waiting to be checked"
    VALIDATING = "validating", "Checking"
    READY = "ready", "Ready to import"
    INVALID = "invalid", "Has errors"
    IMPORTING = "importing", "Importing"
    DONE = "done", "Done"
    FAILED = "failed", "Failed"


class ImportJob(models.Model):
    """One uploaded file on its way in: checked first (a preview of every row
    error), then, when an admin says so, written in one transaction.

    The file itself is kept in the database so that any worker on any machine
    can read it; it is emptied once the import is done."""

    kind = models.CharField(max_length=32, help_text="The importer, e.g. observations.")
    status = models.CharField(
        max_length=16, choices=ImportStatus.choices, default=ImportStatus.UPLOADED
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        related_name="+",
    )
    filename = models.CharField(max_length=255)
    size = models.PositiveBigIntegerField(default=0, help_text="Bytes uploaded.")
    content = models.BinaryField(editable=False)
    total_rows = models.PositiveIntegerField(null=True, blank=True)
    processed_rows = models.PositiveIntegerField(default=0)
    # The header and first rows as read, for the preview: [{"row", "cells"}, …].
    sample = models.JSONField(default=list, blank=True)
    # [{"row": n, "field": column or null, "message": text}, …] in row order,
    # at most core.imports.ERRORS_KEPT of them; error_count counts them all.
    errors = models.JSONField(default=list, blank=True)
    error_count = models.PositiveIntegerField(default=0)
    created_count = models.PositiveIntegerField(default=0)
    updated_count = models.PositiveIntegerField(default=0)
    failure = models.TextField(blank=True, help_text="What went wrong, for status failed.")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    validated_at = models.DateTimeField(null=True, blank=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["kind", "-created_at"], name="importjob_kind_created_idx")]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(status__in=[choice.value for choice in ImportStatus]),
                name="importjob_status_valid",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.kind} import {self.pk} ({self.filename})"

    @property
    def is_running(self) -> bool:
        """Whether a task is (or is about to be) working on the job: the page polls."""
        return self.status in (
            ImportStatus.UPLOADED,
            ImportStatus.VALIDATING,
            ImportStatus.IMPORTING,
        )

    @property
    def can_start(self) -> bool:
        return self.status == ImportStatus.READY and self.error_count == 0

    @property
    def percent(self) -> int | None:
        if not self.total_rows:
            return None
        return min(100, self.processed_rows * 100 // self.total_rows)
