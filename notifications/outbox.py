"""The outbox: every outgoing message is an ``OutboundMessage`` row written in
the transaction of the change that causes it (so it exists exactly when the
change does), and handed to a task once that transaction commits: an email to
``send_email``, a Slack message or webhook delivery to ``drain``, which sends
its destination's messages one at a time, oldest first. If Redis is down the
hand-over fails quickly and is only logged: the web request still succeeds,
the row waits, and the ``notifications.tasks.send_pending`` sweep sends it
once a worker runs again. ``delivery`` sends each row exactly once.

The apps above compose their messages and call ``queue_email`` (who, subject,
body), ``queue_slack`` (a region's Block Kit message) or ``queue_event`` (a
webhook event's data); this app knows nothing of risks or agendas.
"""

from __future__ import annotations

import datetime as dt
import logging
import uuid
from collections.abc import Callable, Iterable
from functools import partial
from typing import Any

from celery import current_app
from django.conf import settings
from django.db import transaction
from django.utils import timezone

from accounts.models import User

from .events import EVENT_TYPES
from .models import Channel, OutboundMessage, SlackWebhook, WebhookEndpoint

# The tasks are looked up by name (notifications.tasks registers them when the
# app is ready): the tasks send through ``delivery``, which writes emails here.
SEND_EMAIL = "notifications.tasks.send_email"
DRAIN = "notifications.tasks.drain"

logger = logging.getLogger(__name__)


def absolute_url(path: str) -> str:
    """A link for a message: the site's base URL plus ``path``."""
    return settings.SITE_URL + path


def addresses(users: Iterable[User]) -> list[str]:
    """Distinct addresses of active users, in order, skipping blanks."""
    found = (user.email.strip() for user in users if user.is_active and user.email)
    return list(dict.fromkeys(address for address in found if address))


def _one_line(text: str, limit: int = 255) -> str:
    # A header with a line break is refused by Django (BadHeaderError).
    return " ".join(text.split())[:limit]


def queue_email(
    *, dedupe_key: str, kind: str, to: Iterable[str], subject: str, body: str, ics: str = ""
) -> OutboundMessage | None:
    """Write the email to the outbox in the current transaction and enqueue its
    sending after commit. The same ``dedupe_key`` twice is one email. Returns
    the row, or None when there is nobody to send to."""
    recipients = list(dict.fromkeys(address.strip() for address in to if address.strip()))
    if not recipients:
        logger.info("No recipients for %s; nothing queued.", dedupe_key)
        return None
    row, created = OutboundMessage.objects.get_or_create(
        dedupe_key=dedupe_key,
        defaults={
            "channel": Channel.EMAIL,
            "kind": kind,
            "to": recipients,
            "subject": _one_line(subject),
            "body": body,
            "ics": ics,
        },
    )
    if created:
        transaction.on_commit(partial(_enqueue, row.pk), robust=True)
    return row


def _enqueue(outbound_email_id: int) -> None:
    """Hand the row to a worker. Any failure — the broker is down, or (with
    tasks in-process) the mail server refused — is logged and left to the
    sweep: the row is already committed, so the caller's request succeeds."""
    try:
        current_app.tasks[SEND_EMAIL].delay(outbound_email_id)
    except Exception:
        logger.warning(
            "Could not hand outbound email %s to a worker; the periodic sweep will send it.",
            outbound_email_id,
            exc_info=True,
        )


def queue_slack(
    *,
    region_id: int,
    dedupe_key: str,
    kind: str,
    text: str,
    blocks: list[dict[str, Any]] | Callable[[], list[dict[str, Any]]],
) -> OutboundMessage | None:
    """Write a Slack message for the region's channel to the outbox in the
    current transaction: ``text`` is the notification's plain text (Slack
    shows it where blocks cannot be shown), ``blocks`` its Block Kit layout,
    or a function that makes it (called only when the region has a channel).
    None when the region has no active Slack webhook. The same
    ``dedupe_key`` twice is one message."""
    slack = SlackWebhook.objects.filter(region_id=region_id, active=True).first()
    if slack is None:
        return None
    if callable(blocks):
        blocks = blocks()
    row, created = OutboundMessage.objects.get_or_create(
        dedupe_key=f"slack:{dedupe_key}",
        defaults={
            "channel": Channel.SLACK,
            "kind": kind,
            "slack": slack,
            "payload": {"text": text, "blocks": blocks},
        },
    )
    if created:
        transaction.on_commit(partial(_enqueue_drain, Channel.SLACK, slack.pk), robust=True)
    return row


def subscribers(event_type: str) -> list[WebhookEndpoint]:
    """The active endpoints subscribed to ``event_type``: one query (the
    endpoints are few), so that nobody listening costs nothing more."""
    return [
        endpoint
        for endpoint in WebhookEndpoint.objects.filter(active=True).order_by("pk")
        if event_type in (endpoint.events or [])
    ]


def event_payload(event_type: str, data: dict[str, Any], occurred_at: dt.datetime) -> dict:
    """A webhook body as the Standard Webhooks specification lays it out."""
    stamp = occurred_at.astimezone(dt.UTC).isoformat(timespec="milliseconds")
    return {"type": event_type, "timestamp": stamp.replace("+00:00", "Z"), "data": data}


def queue_event(
    event_type: str,
    data: dict[str, Any],
    *,
    key: str,
    occurred_at: dt.datetime | None = None,
    endpoints: Iterable[WebhookEndpoint] | None = None,
) -> list[OutboundMessage]:
    """Write one delivery of the event to each active endpoint subscribed to
    ``event_type`` (or to ``endpoints``), in the current transaction. ``key``
    names the event (e.g. ``risk.opened:42``): the same key twice is one event,
    delivered once per endpoint. Returns the deliveries written now."""
    if event_type not in EVENT_TYPES:
        raise ValueError(f"Unknown webhook event type {event_type!r}.")
    if endpoints is None:
        endpoints = subscribers(event_type)
    payload = event_payload(event_type, data, occurred_at or timezone.now())
    # Random, not derived from the key: ids stay unique across installations
    # and after a database is restored (receivers drop repeats by id).
    event_id = uuid.uuid4()
    written = []
    for endpoint in endpoints:
        row, created = OutboundMessage.objects.get_or_create(
            dedupe_key=event_dedupe_key(endpoint.pk, key),
            defaults={
                "channel": Channel.WEBHOOK,
                "kind": event_type,
                "endpoint": endpoint,
                "event_id": event_id,
                "payload": payload,
            },
        )
        if created:
            written.append(row)
            transaction.on_commit(
                partial(_enqueue_drain, Channel.WEBHOOK, endpoint.pk), robust=True
            )
    return written


def event_dedupe_key(endpoint_id: int, key: str) -> str:
    """The outbox key of the event ``key``'s delivery to one endpoint."""
    return f"webhook:{endpoint_id}:{key}"


def written_events(
    keys: Iterable[str], endpoints: Iterable[WebhookEndpoint]
) -> set[tuple[int, str]]:
    """(endpoint id, event key) of the deliveries of ``keys`` to ``endpoints``
    already in the outbox: a daily job can skip what it sent before without
    a query per event (one per 500 keys)."""
    by_dedupe_key = {
        event_dedupe_key(endpoint.pk, key): (endpoint.pk, key)
        for key in keys
        for endpoint in endpoints
    }
    wanted = list(by_dedupe_key)
    found: set[tuple[int, str]] = set()
    for start in range(0, len(wanted), 500):
        found.update(
            by_dedupe_key[dedupe_key]
            for dedupe_key in OutboundMessage.objects.filter(
                dedupe_key__in=wanted[start : start + 500]
            ).values_list("dedupe_key", flat=True)
        )
    return found


def _enqueue_drain(channel: str, destination_id: int) -> None:
    """Ask a worker to send the destination's pending messages; on failure the
    sweep does it."""
    try:
        current_app.tasks[DRAIN].delay(channel, destination_id)
    except Exception:
        logger.warning(
            "Could not hand %s %s to a worker; the periodic sweep will send its messages.",
            channel,
            destination_id,
            exc_info=True,
        )
