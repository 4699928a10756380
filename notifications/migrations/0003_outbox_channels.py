"""The email outbox becomes the outbox of every channel: OutboundEmail is
renamed OutboundMessage and gains a channel, a status, the Slack webhook or
webhook endpoint it goes to, a JSON payload and the log of its attempts.
Existing rows are emails; those already sent get the status "sent", those that
gave up (10 failed attempts) "failed"."""

import django.db.models.deletion
import django.utils.timezone
from django.db import migrations, models

MAX_SEND_ATTEMPTS = 10


def set_status(apps, schema_editor):
    OutboundMessage = apps.get_model("notifications", "OutboundMessage")
    OutboundMessage.objects.filter(sent_at__isnull=False).update(status="sent")
    OutboundMessage.objects.filter(sent_at__isnull=True, attempts__gte=MAX_SEND_ATTEMPTS).update(
        status="failed"
    )


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0008_renewal"),
        ("notifications", "0002_rename_sweep_task"),
    ]

    operations = [
        migrations.RenameModel("OutboundEmail", "OutboundMessage"),
        migrations.AlterModelOptions(
            name="outboundmessage",
            options={"ordering": ["created_at", "id"], "verbose_name": "outbound message"},
        ),
        migrations.AddField(
            model_name="outboundmessage",
            name="channel",
            field=models.CharField(
                choices=[("email", "Email"), ("slack", "Slack"), ("webhook", "Webhook")],
                default="email",
                max_length=8,
            ),
        ),
        migrations.AlterField(
            model_name="outboundmessage",
            name="kind",
            field=models.CharField(help_text="What it is about, e.g. risk.opened.", max_length=64),
        ),
        migrations.AlterField(
            model_name="outboundmessage",
            name="to",
            field=models.JSONField(
                blank=True, default=list, help_text="List of recipient addresses."
            ),
        ),
        migrations.AlterField(
            model_name="outboundmessage",
            name="subject",
            field=models.CharField(blank=True, max_length=255),
        ),
        migrations.AlterField(
            model_name="outboundmessage", name="body", field=models.TextField(blank=True)
        ),
        migrations.AddField(
            model_name="outboundmessage",
            name="event_id",
            field=models.UUIDField(
                blank=True, null=True, help_text="The event's id (webhook-id is msg_ and its hex)."
            ),
        ),
        migrations.AddField(
            model_name="outboundmessage",
            name="payload",
            field=models.JSONField(blank=True, null=True),
        ),
        migrations.AddField(
            model_name="outboundmessage",
            name="status",
            field=models.CharField(
                choices=[("pending", "Pending"), ("sent", "Sent"), ("failed", "Failed")],
                default="pending",
                max_length=8,
            ),
        ),
        migrations.AddField(
            model_name="outboundmessage",
            name="next_attempt_at",
            field=models.DateTimeField(default=django.utils.timezone.now),
        ),
        migrations.AddField(
            model_name="outboundmessage",
            name="last_attempt_at",
            field=models.DateTimeField(blank=True, null=True),
        ),
        migrations.AddField(
            model_name="outboundmessage",
            name="response_code",
            field=models.PositiveSmallIntegerField(blank=True, null=True),
        ),
        migrations.AddField(
            model_name="outboundmessage",
            name="duration_ms",
            field=models.PositiveIntegerField(blank=True, null=True),
        ),
        migrations.RunPython(set_status, migrations.RunPython.noop),
        migrations.CreateModel(
            name="SlackWebhook",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("url_encrypted", models.TextField(editable=False)),
                (
                    "url_hint",
                    models.CharField(
                        editable=False,
                        help_text="The end of the stored URL.",
                        max_length=80,
                        verbose_name="URL",
                    ),
                ),
                ("active", models.BooleanField(default=True)),
                (
                    "created_at",
                    models.DateTimeField(default=django.utils.timezone.now, editable=False),
                ),
                (
                    "updated_at",
                    models.DateTimeField(default=django.utils.timezone.now, editable=False),
                ),
                (
                    "region",
                    models.OneToOneField(
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="slack_webhook",
                        to="accounts.region",
                    ),
                ),
            ],
            options={
                "verbose_name": "Slack webhook",
                "ordering": ["region__code"],
            },
        ),
        migrations.CreateModel(
            name="WebhookEndpoint",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("url", models.URLField(max_length=500, verbose_name="URL")),
                ("description", models.CharField(blank=True, max_length=200)),
                (
                    "events",
                    models.JSONField(
                        default=list, help_text="The event types sent to this endpoint."
                    ),
                ),
                ("active", models.BooleanField(default=True)),
                ("secret_encrypted", models.TextField(editable=False)),
                (
                    "secret_hint",
                    models.CharField(editable=False, max_length=16, verbose_name="signing secret"),
                ),
                (
                    "created_at",
                    models.DateTimeField(default=django.utils.timezone.now, editable=False),
                ),
                ("failing_since", models.DateTimeField(blank=True, editable=False, null=True)),
                ("disabled_at", models.DateTimeField(blank=True, editable=False, null=True)),
                ("disabled_reason", models.CharField(blank=True, editable=False, max_length=255)),
            ],
            options={
                "verbose_name": "webhook endpoint",
                "ordering": ["url", "pk"],
            },
        ),
        migrations.CreateModel(
            name="WebhookDelivery",
            fields=[],
            options={
                "verbose_name": "webhook delivery",
                "verbose_name_plural": "webhook deliveries",
                "proxy": True,
                "indexes": [],
                "constraints": [],
            },
            bases=("notifications.outboundmessage",),
        ),
        migrations.AddField(
            model_name="outboundmessage",
            name="slack",
            field=models.ForeignKey(
                blank=True,
                null=True,
                on_delete=django.db.models.deletion.CASCADE,
                related_name="messages",
                to="notifications.slackwebhook",
            ),
        ),
        migrations.AddField(
            model_name="outboundmessage",
            name="endpoint",
            field=models.ForeignKey(
                blank=True,
                null=True,
                on_delete=django.db.models.deletion.CASCADE,
                related_name="deliveries",
                to="notifications.webhookendpoint",
            ),
        ),
        migrations.AddIndex(
            model_name="outboundmessage",
            index=models.Index(
                condition=models.Q(("status", "pending")),
                fields=["endpoint", "created_at", "id"],
                name="outbox_endpoint_pending_idx",
            ),
        ),
        migrations.AddIndex(
            model_name="outboundmessage",
            index=models.Index(
                condition=models.Q(("status", "pending")),
                fields=["slack", "created_at", "id"],
                name="outbox_slack_pending_idx",
            ),
        ),
        migrations.AddIndex(
            model_name="outboundmessage",
            index=models.Index(
                condition=models.Q(("status", "pending")),
                fields=["channel", "next_attempt_at"],
                name="outbox_due_idx",
            ),
        ),
        migrations.AddConstraint(
            model_name="outboundmessage",
            constraint=models.CheckConstraint(
                condition=models.Q(("channel__in", ["email", "slack", "webhook"])),
                name="outbox_channel_valid",
            ),
        ),
        migrations.AddConstraint(
            model_name="outboundmessage",
            constraint=models.CheckConstraint(
                condition=models.Q(("status__in", ["pending", "sent", "failed"])),
                name="outbox_status_valid",
            ),
        ),
        migrations.AddConstraint(
            model_name="outboundmessage",
            constraint=models.CheckConstraint(
                condition=models.Q(
                    models.Q(
                        ("channel", "email"), ("endpoint__isnull", True), ("slack__isnull", True)
                    ),
                    models.Q(
                        ("channel", "slack"), ("endpoint__isnull", True), ("slack__isnull", False)
                    ),
                    models.Q(
                        ("channel", "webhook"), ("endpoint__isnull", False), ("slack__isnull", True)
                    ),
                    _connector="OR",
                ),
                name="outbox_destination_matches_channel",
            ),
        ),
        migrations.AddConstraint(
            model_name="outboundmessage",
            constraint=models.CheckConstraint(
                condition=models.Q(
                    models.Q(("sent_at__isnull", False), ("status", "sent")),
                    models.Q(
                        models.Q(("status", "sent"), _negated=True), ("sent_at__isnull", True)
                    ),
                    _connector="OR",
                ),
                name="outbox_sent_at_matches_status",
            ),
        ),
    ]
