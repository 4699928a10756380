"""Sending outbox rows, exactly once each.

* ``dedupe_key`` is unique, so a repeated trigger never writes a second row;
* an email is sent by ``deliver`` only while it holds the row's lock and only
  if the row is still pending, then marked sent in the same transaction. Two
  senders at once (the task and the sweep) cannot both send it;
* Slack messages and webhook deliveries go through ``drain``: one sender at a
  time per destination (it holds the Slack webhook's or endpoint's row lock),
  oldest message first, each marked sent in the transaction that sent it. A
  message that fails holds back the ones after it until it is sent or given
  up, so a receiver gets a destination's events in order.

If a worker dies mid-send the transaction rolls back and the message is sent
again later: delivery is at least once, never silently dropped (webhook
receivers can tell a repeat by its ``webhook-id``).
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import random
import time
from collections.abc import Callable
from email.mime.text import MIMEText
from enum import Enum

from celery.exceptions import SoftTimeLimitExceeded
from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.db import transaction
from django.db.models import F
from django.utils import timezone
from standardwebhooks.webhooks import Webhook

from accounts.selectors import cs_admins

from . import http
from .models import Channel, MessageStatus, OutboundMessage, SlackWebhook, WebhookEndpoint
from .outbox import absolute_url, queue_email

logger = logging.getLogger(__name__)

# The sweep leaves fresh rows to the task enqueued on commit, and gives up on an
# email that failed this many times (its last_error tells operations why).
SWEEP_GRACE = dt.timedelta(seconds=30)
SWEEP_BATCH = 100
MAX_SEND_ATTEMPTS = 10

# Slack and webhooks: the n-th failed attempt waits a random time between half
# and all of min(base * 2**(n-1), RETRY_CAP) ("equal jitter"), base being
# WEBHOOK_RETRY_BASE_SECONDS (30 s), and a message is given up when its next
# attempt would be more than RETRY_FOR after it was written. An endpoint
# failing for DISABLE_AFTER is switched off.
RETRY_CAP = dt.timedelta(hours=4)
RETRY_FOR = dt.timedelta(hours=24)
DISABLE_AFTER = dt.timedelta(days=3)
# Slack's 429 without a usable Retry-After.
SLACK_RATE_LIMIT_WAIT = dt.timedelta(seconds=30)
# A retry due within this long is scheduled as a task; later ones are left to
# the sweep (a broker holding tasks for hours is fragile).
SCHEDULE_RETRY_WITHIN = dt.timedelta(minutes=5)
# One drain task sends for this long at most, then hands over to a new one
# (the task's soft time limit is 240 s; one attempt takes at most about 45 s).
DRAIN_BUDGET_SECONDS = 120


def retry_delay(failures: int, rand: Callable[[], float] | None = None) -> dt.timedelta:
    """How long to wait after the ``failures``-th failed attempt in a row;
    ``rand`` (default random.random) draws the jitter."""
    base = dt.timedelta(seconds=settings.WEBHOOK_RETRY_BASE_SECONDS)
    ceiling = min(base * 2 ** (max(failures, 1) - 1), RETRY_CAP)
    return ceiling / 2 + ceiling / 2 * (rand or random.random)()


# --- Email ------------------------------------------------------------------------


def _message(row: OutboundMessage) -> EmailMultiAlternatives:
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
    """Send one email if it is still pending. True if this call sent it;
    False if it was already sent or another sender holds it right now. A send
    failure is recorded on the row (attempts, last_error) and re-raised."""
    with transaction.atomic():
        row = (
            OutboundMessage.objects.select_for_update(skip_locked=True)
            .filter(pk=outbound_email_id, channel=Channel.EMAIL, status=MessageStatus.PENDING)
            .first()
        )
        if row is None:
            return False
        # The claim: a conditional UPDATE on the locked, still-pending row.
        claimed = OutboundMessage.objects.filter(pk=row.pk, status=MessageStatus.PENDING).update(
            attempts=F("attempts") + 1, last_attempt_at=timezone.now()
        )
        if claimed != 1:
            return False
        try:
            _message(row).send()
        except Exception as error:
            gave_up = row.attempts + 1 >= MAX_SEND_ATTEMPTS
            OutboundMessage.objects.filter(pk=row.pk).update(
                last_error=f"{type(error).__name__}: {error}"[:2000],
                status=MessageStatus.FAILED if gave_up else MessageStatus.PENDING,
            )
            failure = error
        else:
            OutboundMessage.objects.filter(pk=row.pk, status=MessageStatus.PENDING).update(
                status=MessageStatus.SENT, sent_at=timezone.now(), last_error=""
            )
            return True
    raise failure


# --- Slack and webhooks -------------------------------------------------------------


class Outcome(Enum):
    SENT = "sent"
    GAVE_UP = "gave up"
    FAILED = "failed"  # will be tried again
    WAITING = "waiting"  # the next message is not due yet
    EMPTY = "empty"
    BUSY = "busy"  # another sender holds the destination


def _webhook_request(row: OutboundMessage, endpoint: WebhookEndpoint, now: dt.datetime):
    body = json.dumps(row.payload, separators=(",", ":"), ensure_ascii=False)
    signature = Webhook(endpoint.secret).sign(row.webhook_id, now, body)
    headers = {
        "webhook-id": row.webhook_id,
        "webhook-timestamp": str(int(now.timestamp())),
        "webhook-signature": signature,
    }
    return endpoint.url, body.encode(), headers


def _slack_request(row: OutboundMessage, slack: SlackWebhook, now: dt.datetime):
    body = json.dumps(row.payload, separators=(",", ":"), ensure_ascii=False)
    return slack.url, body.encode(), {}


def _admins() -> list[str]:
    return list(dict.fromkeys(cs_admins().values_list("email", flat=True)))


def disable_endpoint(endpoint: WebhookEndpoint, now: dt.datetime, reason: str) -> None:
    """Switch the endpoint off, give up its pending deliveries and email the
    admins, in the caller's transaction (which must hold the endpoint's lock)."""
    endpoint.active = False
    endpoint.disabled_at = now
    endpoint.disabled_reason = reason[:255]
    endpoint.save(update_fields=["active", "disabled_at", "disabled_reason"])
    endpoint.deliveries.filter(status=MessageStatus.PENDING).update(
        status=MessageStatus.FAILED, last_error="Not sent: the endpoint was switched off."
    )
    queue_email(
        dedupe_key=f"webhook-disabled:{endpoint.pk}:{now.isoformat()}",
        kind="webhook_disabled",
        to=_admins(),
        subject=f"Webhook endpoint switched off: {endpoint.url}"[:255],
        body=(
            f"The webhook endpoint {endpoint.url} was switched off: {reason}\n\n"
            "Events are no longer sent to it. Once the receiver works again, switch "
            "the endpoint back on in the admin and send it a test event:\n"
            f"{absolute_url(f'/admin/notifications/webhookendpoint/{endpoint.pk}/change/')}\n"
        ),
    )


def _send_next(
    channel: str, destination_id: int, now: dt.datetime
) -> tuple[Outcome, dt.datetime | None]:
    """Try the destination's oldest pending message, if it is due."""
    model = SlackWebhook if channel == Channel.SLACK else WebhookEndpoint
    with transaction.atomic():
        destination = (
            # no_key: the lock keeps other senders off without holding up the
            # transactions that write new messages for this destination.
            model.objects.select_for_update(skip_locked=True, no_key=True)
            .filter(pk=destination_id)
            .first()
        )
        if destination is None:
            return Outcome.BUSY, None
        pending = OutboundMessage.objects.filter(
            channel=channel, status=MessageStatus.PENDING, **{channel_field(channel): destination}
        )
        if not destination.active:
            pending.update(status=MessageStatus.FAILED, last_error="Not sent: switched off.")
            return Outcome.EMPTY, None
        row = pending.order_by("created_at", "pk").first()
        if row is None:
            return Outcome.EMPTY, None
        if row.next_attempt_at > now:
            return Outcome.WAITING, row.next_attempt_at
        build = _slack_request if channel == Channel.SLACK else _webhook_request
        try:
            url, body, headers = build(row, destination, now)
        except Exception as error:  # e.g. the stored secret cannot be decrypted
            answer = http.Response(None, 0, f"{type(error).__name__}: {error}"[:500])
        else:
            answer = http.post_json(url, body, headers)
        row.attempts += 1
        row.last_attempt_at = now
        row.response_code = answer.code
        row.duration_ms = answer.duration_ms
        fields = ["attempts", "last_attempt_at", "response_code", "duration_ms", "status"]
        fields += ["sent_at", "last_error", "next_attempt_at"]
        if answer.ok:
            row.status, row.sent_at, row.last_error = MessageStatus.SENT, now, ""
            row.save(update_fields=fields)
            if channel == Channel.WEBHOOK and destination.failing_since is not None:
                destination.failing_since = None
                destination.save(update_fields=["failing_since"])
            return Outcome.SENT, None
        row.last_error = answer.error
        if channel == Channel.SLACK and answer.code == 429:
            wait = (
                dt.timedelta(seconds=answer.retry_after)
                if answer.retry_after is not None
                else SLACK_RATE_LIMIT_WAIT
            )
        else:
            wait = retry_delay(row.attempts)
        outcome: tuple[Outcome, dt.datetime | None]
        deadline = row.created_at + RETRY_FOR
        if now >= deadline:
            row.status = MessageStatus.FAILED
            row.last_error = f"{answer.error} — gave up after {row.attempts} attempts."[:2000]
            outcome = Outcome.GAVE_UP, None
        else:
            # The last try is 24 hours after the message was written.
            row.next_attempt_at = min(now + wait, deadline)
            outcome = Outcome.FAILED, row.next_attempt_at
        row.save(update_fields=fields)
        if channel == Channel.WEBHOOK:
            if destination.failing_since is None:
                destination.failing_since = now
                destination.save(update_fields=["failing_since"])
            elif now - destination.failing_since >= DISABLE_AFTER:
                # This attempt failed, and so did every one in the three days
                # before it: the receiver is gone, not having a bad hour.
                disable_endpoint(destination, now, "every attempt failed for three days.")
                return Outcome.GAVE_UP, None
        return outcome


def channel_field(channel: str) -> str:
    """The outbox row's field naming a destination of ``channel``."""
    return "slack" if channel == Channel.SLACK else "endpoint"


def drain(
    channel: str,
    destination_id: int,
    *,
    now: Callable[[], dt.datetime] = timezone.now,
    schedule: Callable[[dt.timedelta], None] | None = None,
) -> int:
    """Send the destination's due messages in order, until one fails, the
    next is not due, or none is left. Returns how many were sent. When a
    message failed and its next try is due soon, ``schedule`` is called with
    how long to wait."""
    sent = 0
    started = time.monotonic()
    while True:
        outcome, next_at = _send_next(channel, destination_id, now())
        if outcome is Outcome.SENT:
            sent += 1
        elif outcome is not Outcome.GAVE_UP:
            break
        if time.monotonic() - started > DRAIN_BUDGET_SECONDS:
            # Leave the rest to a fresh task, well within the time limit.
            if schedule is not None:
                schedule(dt.timedelta(0))
            return sent
    # Only the sender that saw the failure schedules the retry (a caller that
    # found the message waiting leaves it to that one, or to the sweep).
    if outcome is Outcome.FAILED and next_at is not None and schedule is not None:
        wait = max(next_at - now(), dt.timedelta(0))
        if wait <= SCHEDULE_RETRY_WITHIN:
            schedule(wait)
    return sent


# --- The sweep --------------------------------------------------------------------


def send_pending(*, now: dt.datetime | None = None) -> int:
    """Send pending emails older than SWEEP_GRACE (younger ones are still
    with the task enqueued on commit). Returns how many this call sent."""
    cutoff = (now or timezone.now()) - SWEEP_GRACE
    pending = list(
        OutboundMessage.objects.filter(
            channel=Channel.EMAIL,
            status=MessageStatus.PENDING,
            created_at__lte=cutoff,
            attempts__lt=MAX_SEND_ATTEMPTS,
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


def due_destinations(*, now: dt.datetime | None = None) -> list[tuple[str, int]]:
    """(channel, destination id) of every Slack webhook and endpoint with a
    pending message due now: one query."""
    now = now or timezone.now()
    rows = (
        OutboundMessage.objects.filter(
            channel__in=[Channel.SLACK, Channel.WEBHOOK],
            status=MessageStatus.PENDING,
            next_attempt_at__lte=now,
        )
        .order_by()
        .values_list("channel", "slack_id", "endpoint_id")
        .distinct()
    )
    return sorted({(channel, slack_id or endpoint_id) for channel, slack_id, endpoint_id in rows})
