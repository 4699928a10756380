"""Setting up where messages go: a region's Slack webhook, and the webhook
endpoints an admin registers (each write one transaction)."""

from __future__ import annotations

import base64
import secrets
import uuid
from collections.abc import Iterable
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from accounts.models import Region, User
from core.exceptions import Conflict, InvalidInput, NotAllowed

from . import http
from .events import SUBSCRIBABLE, TEST_EVENT
from .models import OutboundMessage, SlackWebhook, WebhookEndpoint
from .outbox import queue_event


def ensure_admin(user: User) -> None:
    if not user.is_cs_admin:
        raise NotAllowed("Only CS operations admins may set up integrations.")


def new_secret() -> str:
    """A signing secret in the Standard Webhooks form: whsec_ and 24 random bytes."""
    return "whsec_" + base64.b64encode(secrets.token_bytes(24)).decode()


def check_events(events: Iterable[str]) -> list[str]:
    chosen = list(dict.fromkeys(events))
    unknown = [event for event in chosen if event not in SUBSCRIBABLE]
    if unknown:
        raise InvalidInput({"events": [f"Unknown event type: {', '.join(unknown)}."]})
    if not chosen:
        raise InvalidInput({"events": ["Choose at least one event."]})
    return [event for event in SUBSCRIBABLE if event in chosen]


def _check_url(url: str, field: str = "url") -> str:
    url = url.strip()
    try:
        http.check_url(url)
    except ValidationError as error:
        raise InvalidInput({field: error.messages}) from error
    return url


@transaction.atomic
def endpoint_create(
    *, user: User, url: str, events: Iterable[str], description: str = "", active: bool = True
) -> tuple[WebhookEndpoint, str]:
    """Register an endpoint. Returns it and its signing secret, which is
    shown to the admin this once (afterwards only its last characters)."""
    ensure_admin(user)
    endpoint = WebhookEndpoint(
        url=_check_url(url), events=check_events(events), description=description, active=active
    )
    secret = new_secret()
    endpoint.set_secret(secret)
    if len(endpoint.url) > 500:
        raise InvalidInput({"url": ["At most 500 characters."]})
    endpoint.save()
    return endpoint, secret


@transaction.atomic
def endpoint_update(
    *, user: User, endpoint: WebhookEndpoint | int, **changes: Any
) -> WebhookEndpoint:
    """Change an endpoint's url, events, description or active. Switching it
    back on forgets its failures (the three days start again)."""
    ensure_admin(user)
    endpoint = WebhookEndpoint.objects.select_for_update().get(pk=getattr(endpoint, "pk", endpoint))
    unknown = set(changes) - {"url", "events", "description", "active"}
    if unknown:
        raise ValueError(f"Cannot change {', '.join(sorted(unknown))}.")
    if "url" in changes:
        endpoint.url = _check_url(changes["url"])
    if "events" in changes:
        endpoint.events = check_events(changes["events"])
    if "description" in changes:
        endpoint.description = changes["description"]
    if "active" in changes and bool(changes["active"]) != endpoint.active:
        endpoint.active = bool(changes["active"])
        if endpoint.active:
            endpoint.failing_since = endpoint.disabled_at = None
            endpoint.disabled_reason = ""
        else:
            endpoint.disabled_at = timezone.now()
            endpoint.disabled_reason = f"Switched off by {user}."
    if len(endpoint.url) > 500:
        raise InvalidInput({"url": ["At most 500 characters."]})
    endpoint.save()
    return endpoint


@transaction.atomic
def endpoint_rotate_secret(*, user: User, endpoint: WebhookEndpoint | int) -> str:
    """A new signing secret, returned this once; the old one stops at once."""
    ensure_admin(user)
    endpoint = WebhookEndpoint.objects.select_for_update().get(pk=getattr(endpoint, "pk", endpoint))
    secret = new_secret()
    endpoint.set_secret(secret)
    endpoint.save(update_fields=["secret_encrypted", "secret_hint"])
    return secret


@transaction.atomic
def endpoint_send_test(*, user: User, endpoint: WebhookEndpoint | int) -> OutboundMessage:
    """Queue a ``webhook.test`` event to this endpoint only."""
    ensure_admin(user)
    endpoint = WebhookEndpoint.objects.get(pk=getattr(endpoint, "pk", endpoint))
    if not endpoint.active:
        raise Conflict("The endpoint is switched off: switch it on to send a test event.")
    now = timezone.now()
    (delivery,) = queue_event(
        TEST_EVENT,
        {"endpoint": endpoint.pk, "sent_by": user.get_username(), "sent_at": now.isoformat()},
        key=f"{TEST_EVENT}:{uuid.uuid4().hex}",
        occurred_at=now,
        endpoints=[endpoint],
    )
    return delivery


@transaction.atomic
def slack_webhook_create(
    *, user: User, region: Region, url: str, active: bool = True
) -> SlackWebhook:
    """Give a region its Slack incoming-webhook URL (one per region)."""
    ensure_admin(user)
    # The region's row is locked: two admins adding at once get one webhook.
    Region.objects.select_for_update().filter(pk=region.pk).first()
    if SlackWebhook.objects.filter(region=region).exists():
        raise InvalidInput(
            {"region": ["This region has a Slack webhook already: change that one."]}
        )
    if not url.strip():
        raise InvalidInput({"url": ["Enter the Slack incoming-webhook URL."]})
    slack = SlackWebhook(region=region)
    return _save_slack(slack, url, active)


@transaction.atomic
def slack_webhook_update(
    *,
    user: User,
    slack: SlackWebhook | int,
    url: str = "",
    active: bool = True,
    region: Region | None = None,
) -> SlackWebhook:
    """Change a Slack webhook's URL (an empty ``url`` keeps the stored one)
    or switch it on or off. Its region never changes (``region``, when
    given, must be its own)."""
    ensure_admin(user)
    slack = SlackWebhook.objects.select_for_update().get(pk=getattr(slack, "pk", slack))
    if region is not None and region.pk != slack.region_id:
        raise InvalidInput({"region": ["The region of a Slack webhook cannot change."]})
    return _save_slack(slack, url, active)


def _save_slack(slack: SlackWebhook, url: str, active: bool) -> SlackWebhook:
    if url.strip():
        slack.set_url(_check_url(url))
    slack.active = active
    slack.updated_at = timezone.now()
    slack.save()
    return slack
