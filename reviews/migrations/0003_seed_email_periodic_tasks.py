"""Seed the beat schedule of the notification emails: the outbox sweep every
minute and the daily reminder of overdue escalations at 07:00 UTC. Idempotent:
an existing task of the same name (perhaps edited by operations) is left alone."""

from django.db import migrations
from django.utils import timezone

SWEEP_NAME = "Send pending emails"
SWEEP_TASK = "reviews.tasks.send_pending_emails"
REMINDER_NAME = "Remind managers of escalations pending over two business days"
REMINDER_TASK = "reviews.tasks.send_pending_escalation_reminders"


def seed(apps, schema_editor):
    IntervalSchedule = apps.get_model("django_celery_beat", "IntervalSchedule")
    CrontabSchedule = apps.get_model("django_celery_beat", "CrontabSchedule")
    PeriodicTask = apps.get_model("django_celery_beat", "PeriodicTask")
    PeriodicTasks = apps.get_model("django_celery_beat", "PeriodicTasks")

    if not PeriodicTask.objects.filter(name=SWEEP_NAME).exists():
        every_minute = (
            IntervalSchedule.objects.filter(every=1, period="minutes").order_by("pk").first()
            or IntervalSchedule.objects.create(every=1, period="minutes")
        )
        PeriodicTask.objects.create(
            name=SWEEP_NAME,
            task=SWEEP_TASK,
            interval=every_minute,
            enabled=True,
            description=(
                "Sends outbox emails that could not be handed to a worker when they "
                "were written (e.g. Redis was down) or whose sending failed."
            ),
        )

    if not PeriodicTask.objects.filter(name=REMINDER_NAME).exists():
        crontab_fields = {
            "minute": "0",
            "hour": "7",
            "day_of_week": "*",
            "day_of_month": "*",
            "month_of_year": "*",
            "timezone": "UTC",
        }
        seven_utc = (
            CrontabSchedule.objects.filter(**crontab_fields).order_by("pk").first()
            or CrontabSchedule.objects.create(**crontab_fields)
        )
        PeriodicTask.objects.create(
            name=REMINDER_NAME,
            task=REMINDER_TASK,
            crontab=seven_utc,
            enabled=True,
            description=(
                "Emails each approving manager the escalations of their team that "
                "have been pending for more than two business days."
            ),
        )

    # Historical models send no signals: tell a running beat the schedule changed.
    PeriodicTasks.objects.update_or_create(ident=1, defaults={"last_update": timezone.now()})


def unseed(apps, schema_editor):
    PeriodicTask = apps.get_model("django_celery_beat", "PeriodicTask")
    PeriodicTask.objects.filter(name=SWEEP_NAME, task=SWEEP_TASK).delete()
    PeriodicTask.objects.filter(name=REMINDER_NAME, task=REMINDER_TASK).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("reviews", "0002_seed_periodic_task"),
        ("django_celery_beat", "0019_alter_periodictasks_options"),
    ]

    operations = [migrations.RunPython(seed, unseed)]
