"""Sending the outbox. Every task here is idempotent: a sent row is never sent again."""

from __future__ import annotations

import datetime as dt
import logging
from smtplib import SMTPException

from celery import current_app, shared_task

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
    """Send one outbox email; a no-op if it was sent already."""
    return delivery.deliver(outbound_email_id)


def _schedule(channel: str, destination_id: int):
    def schedule(wait: dt.timedelta) -> None:
        # In-process tasks (tests, no broker) would run the retry at once and
        # find it not due; the sweep covers them instead.
        if current_app.conf.task_always_eager:
            return
        drain.apply_async((channel, destination_id), countdown=wait.total_seconds())

    return schedule


@shared_task(name="notifications.tasks.drain", soft_time_limit=240, time_limit=300)
def drain(channel: str, destination_id: int) -> int:
    """Send a Slack webhook's or an endpoint's due messages, oldest first;
    a no-op when another worker is already at it."""
    return delivery.drain(channel, destination_id, schedule=_schedule(channel, destination_id))


@shared_task(name="notifications.tasks.send_pending", soft_time_limit=240, time_limit=300)
def send_pending() -> int:
    """The sweep (every minute): sends the emails that could not be enqueued
    (e.g. while Redis was down) or whose sending failed, and hands every Slack
    webhook and endpoint with a message due to a worker (retries later than a
    few minutes are only ever started here). Returns how many emails it sent."""
    sent = delivery.send_pending()
    if sent:
        logger.info("Sent %s pending outbound email(s).", sent)
    for channel, destination_id in delivery.due_destinations():
        try:
            drain.delay(channel, destination_id)
        except Exception:
            logger.warning("Could not enqueue %s %s.", channel, destination_id, exc_info=True)
    return sent


# The sweep's name before Slack and webhooks: a schedule or a queued task that
# still uses it keeps working.
send_pending_emails = shared_task(
    send_pending.run, name="notifications.tasks.send_pending_emails", soft_time_limit=240
)
