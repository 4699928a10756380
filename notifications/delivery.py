"""Sending outbox rows, exactly once each.

* ``dedupe_key`` is unique, so a repeated trigger never writes a second row;
* ``deliver`` sends a row only while holding its row lock and only if it is
  still unsent, then marks it sent in the same transaction. Two senders at once
  (the task and the sweep) cannot both send it. If a worker dies mid-send the
  transaction rolls back and the sweep sends the row again later — delivery is
  at least once, never silently dropped.
"""

from __future__ import annotations

import datetime as dt
import logging
from email.mime.text import MIMEText

from celery.exceptions import SoftTimeLimitExceeded
from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from .models import OutboundEmail

logger = logging.getLogger(__name__)

# The sweep leaves fresh rows to the task enqueued on commit, and gives up on a
# row that failed this many times (its last_error tells operations why).
SWEEP_GRACE = dt.timedelta(seconds=30)
SWEEP_BATCH = 100
MAX_SEND_ATTEMPTS = 10


def _message(row: OutboundEmail) -> EmailMultiAlternatives:
    message = EmailMultiAlternatives(
        subject=row.subject,
        body=row.body,
        from_email=settings.DEFAULT_FROM_EMAIL,
        to=list(row.to),
    )
    if row.ics:
        invite = MIMEText(row.ics, "calendar", "utf-8")
        # method=REQUEST makes mail clients offer the invite's accept buttons.
        invite.set_param("method", "REQUEST")
        invite.add_header("Content-Disposition", "attachment", filename="invite.ics")
        message.attach(invite)
    return message


def deliver(outbound_email_id: int) -> bool:
    """Send one outbox row if it is still unsent. True if this call sent it;
    False if it was already sent or another sender holds it right now. A send
    failure is recorded on the row (attempts, last_error) and re-raised."""
    with transaction.atomic():
        row = (
            OutboundEmail.objects.select_for_update(skip_locked=True)
            .filter(pk=outbound_email_id, sent_at__isnull=True)
            .first()
        )
        if row is None:
            return False
        # The claim: a conditional UPDATE on the locked, still-unsent row.
        claimed = OutboundEmail.objects.filter(pk=row.pk, sent_at__isnull=True).update(
            attempts=F("attempts") + 1
        )
        if claimed != 1:
            return False
        try:
            _message(row).send()
        except Exception as error:
            OutboundEmail.objects.filter(pk=row.pk).update(
                last_error=f"{type(error).__name__}: {error}"[:2000]
            )
            failure = error
        else:
            OutboundEmail.objects.filter(pk=row.pk, sent_at__isnull=True).update(
                sent_at=timezone.now(), last_error=""
            )
            return True
    raise failure


def send_pending(*, now: dt.datetime | None = None) -> int:
    """Send unsent rows older than SWEEP_GRACE (younger ones are still with the
    task enqueued on commit). Returns how many this call sent."""
    cutoff = (now or timezone.now()) - SWEEP_GRACE
    pending = list(
        OutboundEmail.objects.filter(
            sent_at__isnull=True, created_at__lte=cutoff, attempts__lt=MAX_SEND_ATTEMPTS
        )
        .order_by("created_at", "pk")
        .values_list("pk", flat=True)[:SWEEP_BATCH]
    )
    sent = 0
    for outbound_email_id in pending:
        try:
            sent += deliver(outbound_email_id)
        except SoftTimeLimitExceeded:
            raise
        except Exception:
            # Recorded on the row; the next sweep tries again.
            logger.warning("Sending outbound email %s failed.", outbound_email_id, exc_info=True)
    return sent
