"""The outbox and the places it sends to (docs/architecture.md, "Notifications").

Every outgoing message — an email, a Slack message, a signed webhook delivery —
is an ``OutboundMessage`` row written in the transaction of the change that
causes it, then sent by a task, exactly once (``dedupe_key`` is unique; a row
is sent only while its sender holds a lock on it, and marked sent in the same
transaction).
"""

from __future__ import annotations

import uuid

from django.db import models
from django.db.models import Q
from django.utils import timezone

from accounts.models import Region
from core import encryption


class Channel(models.TextChoices):
    EMAIL = "email", "Email"
    SLACK = "slack", "Slack"
    WEBHOOK = "webhook", "Webhook"


class MessageStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    SENT = "sent", "Sent"
    FAILED = "failed", "Failed"


class SlackWebhook(models.Model):
    """A region's Slack incoming-webhook URL. The URL is a credential (anyone
    holding it may post to the channel): it is stored encrypted and shown back
    only as its last characters."""

    region = models.OneToOneField(Region, on_delete=models.CASCADE, related_name="slack_webhook")
    url_encrypted = models.TextField(editable=False)
    url_hint = models.CharField(
        "URL", max_length=80, editable=False, help_text="The end of the stored URL."
    )
    active = models.BooleanField(default=True)
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    updated_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        ordering = ["region__code"]
        verbose_name = "Slack webhook"

    def __str__(self) -> str:
        return f"Slack for {self.region}"

    @property
    def url(self) -> str:
        return encryption.decrypt(self.url_encrypted)

    def set_url(self, url: str) -> None:
        self.url_encrypted = encryption.encrypt(url)
        self.url_hint = url.split("://", 1)[-1].split("/", 1)[0] + "/" + encryption.hint(url)


class WebhookEndpoint(models.Model):
    """A receiver an admin registered for signed webhook events."""

    url = models.URLField(max_length=500, verbose_name="URL")
    description = models.CharField(max_length=200, blank=True)
    events = models.JSONField(default=list, help_text="The event types sent to this endpoint.")
    active = models.BooleanField(default=True)
    secret_encrypted = models.TextField(editable=False)
    secret_hint = models.CharField("signing secret", max_length=16, editable=False)
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    # Since when every attempt has failed (cleared by a success); three days of
    # that and the endpoint is switched off.
    failing_since = models.DateTimeField(null=True, blank=True, editable=False)
    disabled_at = models.DateTimeField(null=True, blank=True, editable=False)
    disabled_reason = models.CharField(max_length=255, blank=True, editable=False)

    class Meta:
        ordering = ["url", "pk"]
        verbose_name = "webhook endpoint"

    def __str__(self) -> str:
        return self.description or self.url

    @property
    def secret(self) -> str:
        return encryption.decrypt(self.secret_encrypted)

    def set_secret(self, secret: str) -> None:
        self.secret_encrypted = encryption.encrypt(secret)
        self.secret_hint = encryption.hint(secret)


class OutboundMessage(models.Model):
    """One outgoing message on one channel. Email rows carry ``to``,
    ``subject``, ``body`` and ``ics``; Slack and webhook rows carry the JSON
    ``payload`` sent and their ``slack`` webhook or ``endpoint``. Slack and
    webhook rows of one destination are sent one at a time, oldest first."""

    dedupe_key = models.CharField(max_length=200, unique=True)
    channel = models.CharField(max_length=8, choices=Channel.choices, default=Channel.EMAIL)
    kind = models.CharField(max_length=64, help_text="What it is about, e.g. risk.opened.")
    # Email
    to = models.JSONField(default=list, blank=True, help_text="List of recipient addresses.")
    subject = models.CharField(max_length=255, blank=True)
    body = models.TextField(blank=True)
    ics = models.TextField(blank=True, help_text="iCalendar invite attached when present.")
    # Slack and webhooks
    slack = models.ForeignKey(
        SlackWebhook, on_delete=models.CASCADE, null=True, blank=True, related_name="messages"
    )
    endpoint = models.ForeignKey(
        WebhookEndpoint, on_delete=models.CASCADE, null=True, blank=True, related_name="deliveries"
    )
    event_id = models.UUIDField(
        null=True, blank=True, help_text="The event's id (webhook-id is msg_ and its hex)."
    )
    payload = models.JSONField(null=True, blank=True)
    # Sending
    status = models.CharField(
        max_length=8, choices=MessageStatus.choices, default=MessageStatus.PENDING
    )
    created_at = models.DateTimeField(default=timezone.now)
    next_attempt_at = models.DateTimeField(default=timezone.now)
    last_attempt_at = models.DateTimeField(null=True, blank=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    attempts = models.PositiveIntegerField(default=0)
    response_code = models.PositiveSmallIntegerField(null=True, blank=True)
    duration_ms = models.PositiveIntegerField(null=True, blank=True)
    last_error = models.TextField(blank=True)

    class Meta:
        ordering = ["created_at", "id"]
        verbose_name = "outbound message"
        indexes = [
            models.Index(fields=["sent_at", "created_at"], name="outbox_unsent_idx"),
            models.Index(
                fields=["endpoint", "created_at", "id"],
                condition=Q(status="pending"),
                name="outbox_endpoint_pending_idx",
            ),
            models.Index(
                fields=["slack", "created_at", "id"],
                condition=Q(status="pending"),
                name="outbox_slack_pending_idx",
            ),
            models.Index(
                fields=["channel", "next_attempt_at"],
                condition=Q(status="pending"),
                name="outbox_due_idx",
            ),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(channel__in=[choice.value for choice in Channel]),
                name="outbox_channel_valid",
            ),
            models.CheckConstraint(
                condition=Q(status__in=[choice.value for choice in MessageStatus]),
                name="outbox_status_valid",
            ),
            models.CheckConstraint(
                condition=Q(channel="email", slack__isnull=True, endpoint__isnull=True)
                | Q(channel="slack", slack__isnull=False, endpoint__isnull=True)
                | Q(channel="webhook", slack__isnull=True, endpoint__isnull=False),
                name="outbox_destination_matches_channel",
            ),
            models.CheckConstraint(
                condition=Q(status="sent", sent_at__isnull=False)
                | (~Q(status="sent") & Q(sent_at__isnull=True)),
                name="outbox_sent_at_matches_status",
            ),
        ]

    def __str__(self) -> str:
        if self.channel == Channel.EMAIL:
            return f"{self.kind} → {', '.join(self.to)}"
        return f"{self.kind} → {self.endpoint or self.slack}"

    @property
    def webhook_id(self) -> str:
        """The ``webhook-id`` header: the same for every attempt and endpoint."""
        return f"msg_{(self.event_id or uuid.UUID(int=self.pk or 0)).hex}"


class WebhookDeliveryManager(models.Manager["WebhookDelivery"]):
    def get_queryset(self) -> models.QuerySet[WebhookDelivery]:
        return super().get_queryset().filter(channel=Channel.WEBHOOK)


class WebhookDelivery(OutboundMessage):
    """The webhook channel's rows, for the delivery log."""

    objects = WebhookDeliveryManager()

    class Meta:
        proxy = True
        verbose_name = "webhook delivery"
        verbose_name_plural = "webhook deliveries"
