"""Sending the outbox. Every task here is idempotent: a sent row is never sent again."""

from __future__ import annotations

import logging
from smtplib import SMTPException

from celery import shared_task

from . import delivery

logger = logging.getLogger(__name__)


@shared_task(
    name="notifications.tasks.send_email",
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
    return delivery.deliver(outbound_email_id)


@shared_task(name="notifications.tasks.send_pending_emails", soft_time_limit=240, time_limit=300)
def send_pending_emails() -> int:
    """The sweep (every minute): sends what could not be enqueued, e.g. while
    Redis was down, and what failed before."""
    sent = delivery.send_pending()
    if sent:
        logger.info("Sent %s pending outbound email(s).", sent)
    return sent
