"""The email outbox, formerly reviews.OutboundEmail. Its table was renamed by
reviews 0004; this migration takes the model over in state only, and moves
its content type (and so its admin permissions) along."""

import django.utils.timezone
from django.db import migrations, models


def move_content_type(apps, schema_editor):
    ContentType = apps.get_model("contenttypes", "ContentType")
    ContentType.objects.filter(app_label="reviews", model="outboundemail").update(
        app_label="notifications"
    )


def move_content_type_back(apps, schema_editor):
    ContentType = apps.get_model("contenttypes", "ContentType")
    ContentType.objects.filter(app_label="notifications", model="outboundemail").update(
        app_label="reviews"
    )


class Migration(migrations.Migration):
    initial = True

    dependencies = [
        ("contenttypes", "0002_remove_content_type_name"),
        ("reviews", "0004_move_outbound_email_to_notifications"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.CreateModel(
                    name="OutboundEmail",
                    fields=[
                        (
                            "id",
                            models.BigAutoField(
                                auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                            ),
                        ),
                        ("dedupe_key", models.CharField(max_length=200, unique=True)),
                        ("kind", models.CharField(max_length=64)),
                        ("to", models.JSONField(help_text="List of recipient addresses.")),
                        ("subject", models.CharField(max_length=255)),
                        ("body", models.TextField()),
                        (
                            "ics",
                            models.TextField(
                                blank=True, help_text="iCalendar invite attached when present."
                            ),
                        ),
                        ("created_at", models.DateTimeField(default=django.utils.timezone.now)),
                        ("sent_at", models.DateTimeField(blank=True, null=True)),
                        ("attempts", models.PositiveIntegerField(default=0)),
                        ("last_error", models.TextField(blank=True)),
                    ],
                    options={
                        "ordering": ["created_at", "id"],
                        "indexes": [
                            models.Index(fields=["sent_at", "created_at"], name="outbox_unsent_idx")
                        ],
                    },
                ),
            ],
            database_operations=[],
        ),
        migrations.RunPython(move_content_type, move_content_type_back),
    ]
