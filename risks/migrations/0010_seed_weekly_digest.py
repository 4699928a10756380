"""Seed the beat schedule of the weekly digest: every 15 minutes, so that each
person's digest goes out within a quarter of an hour of Monday 07:00 on their
own region's clock (the task itself decides whose Monday morning it is).
Idempotent: an existing task of that name (perhaps edited by operations) is
left alone."""

from django.db import migrations
from django.utils import timezone

TASK_NAME = "Send the weekly digests"
TASK = "risks.tasks.send_weekly_digests"


def seed(apps, schema_editor):
    IntervalSchedule = apps.get_model("django_celery_beat", "IntervalSchedule")
    PeriodicTask = apps.get_model("django_celery_beat", "PeriodicTask")
    PeriodicTasks = apps.get_model("django_celery_beat", "PeriodicTasks")
    if PeriodicTask.objects.filter(name=TASK_NAME).exists():
        return
    every = {"every": 15, "period": "minutes"}
    quarter_hour = IntervalSchedule.objects.filter(**every).order_by("pk").first()
    if quarter_hour is None:
        quarter_hour = IntervalSchedule.objects.create(**every)
    PeriodicTask.objects.create(
        name=TASK_NAME,
        task=TASK,
        interval=quarter_hour,
        enabled=True,
        description=(
            "Emails the weekly digest (open records, tasks due, accounts that turned red, "
            "rule matches) to everyone who chose it in their profile, once per person and "
            "week, on Monday from 07:00 in their region's time zone."
        ),
    )
    # Historical models send no signals: tell a running beat the schedule changed.
    PeriodicTasks.objects.update_or_create(ident=1, defaults={"last_update": timezone.now()})


def unseed(apps, schema_editor):
    PeriodicTask = apps.get_model("django_celery_beat", "PeriodicTask")
    PeriodicTask.objects.filter(name=TASK_NAME, task=TASK).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("risks", "0009_seed_task_reminder"),
        ("django_celery_beat", "0019_alter_periodictasks_options"),
    ]

    operations = [migrations.RunPython(seed, unseed)]
