"""Celery tasks of the risk workflow. Idempotent: a reminder is queued once per
approver and day, a digest once per person and week (the outbox's
``dedupe_key``)."""

from __future__ import annotations

from celery import shared_task
from django.db import transaction

from . import digest, notifications


@shared_task(name="risks.tasks.send_escalation_reminders", soft_time_limit=240, time_limit=300)
def send_escalation_reminders() -> int:
    """Daily: remind approvers of escalations pending over two business days."""
    with transaction.atomic():
        return notifications.escalation_reminders()


@shared_task(name="risks.tasks.send_task_reminders", soft_time_limit=240, time_limit=300)
def send_task_reminders() -> int:
    """Daily: one email per person listing their overdue tasks."""
    with transaction.atomic():
        return notifications.task_reminders()


@shared_task(name="risks.tasks.send_weekly_digests", soft_time_limit=240, time_limit=300)
def send_weekly_digests() -> int:
    """Every 15 minutes: the weekly digest of whoever chose it and whose clock
    shows Monday from 07:00 (one transaction per email). A run cut short by
    its time limit leaves the rest to the next one: a digest sent is never
    sent again that week."""
    return digest.send_weekly_digests()
