"""Sending the outbox (reviews.notifications). Every task here is idempotent:
a sent row is never sent again, and a reminder is queued once per manager and day."""

from __future__ import annotations

import logging
from smtplib import SMTPException

from celery import shared_task
from django.db import transaction

from reviews import notifications

logger = logging.getLogger(__name__)


@shared_task(
    name="reviews.tasks.send_email",
    autoretry_for=(SMTPException, OSError),
    retry_backoff=True,
    retry_backoff_max=600,
    retry_jitter=True,
    max_retries=5,
    soft_time_limit=60,
    time_limit=90,
)
def send_email(outbound_email_id: int) -> bool:
    """Send one outbox row; a no-op if it was sent already."""
    return notifications.deliver(outbound_email_id)


@shared_task(name="reviews.tasks.send_pending_emails", soft_time_limit=240, time_limit=300)
def send_pending_emails() -> int:
    """The sweep (every minute): sends what could not be enqueued, e.g. while
    Redis was down, and what failed before."""
    sent = notifications.send_pending()
    if sent:
        logger.info("Sent %s pending outbound email(s).", sent)
    return sent


@shared_task(
    name="reviews.tasks.send_pending_escalation_reminders", soft_time_limit=240, time_limit=300
)
def send_pending_escalation_reminders() -> int:
    """Daily: remind approvers of escalations pending over two business days."""
    with transaction.atomic():
        return notifications.escalation_reminders()
