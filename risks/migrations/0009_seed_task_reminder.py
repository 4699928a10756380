"""Seed the beat schedule of the daily reminder of overdue tasks, at 07:30 UTC
(after the escalation reminder). Idempotent: an existing task of that name
(perhaps edited by operations) is left alone."""

from django.db import migrations
from django.utils import timezone

TASK_NAME = "Remind owners of overdue tasks"
TASK = "risks.tasks.send_task_reminders"


def seed(apps, schema_editor):
    CrontabSchedule = apps.get_model("django_celery_beat", "CrontabSchedule")
    PeriodicTask = apps.get_model("django_celery_beat", "PeriodicTask")
    PeriodicTasks = apps.get_model("django_celery_beat", "PeriodicTasks")
    if PeriodicTask.objects.filter(name=TASK_NAME).exists():
        return
    fields = {
        "minute": "30",
        "hour": "7",
        "day_of_week": "*",
        "day_of_month": "*",
        "month_of_year": "*",
        "timezone": "UTC",
    }
    daily = (
        CrontabSchedule.objects.filter(**fields).order_by("pk").first()
        or CrontabSchedule.objects.create(**fields)
    )
    PeriodicTask.objects.create(
        name=TASK_NAME,
        task=TASK,
        crontab=daily,
        enabled=True,
        description=(
            "Emails each task owner, once a day, the open tasks of open risk records "
            "that are past their due date; a department's tasks go to that "
            "department's reviewers in the account's region."
        ),
    )
    # Historical models send no signals: tell a running beat the schedule changed.
    PeriodicTasks.objects.update_or_create(ident=1, defaults={"last_update": timezone.now()})


def unseed(apps, schema_editor):
    PeriodicTask = apps.get_model("django_celery_beat", "PeriodicTask")
    PeriodicTask.objects.filter(name=TASK_NAME, task=TASK).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("risks", "0008_playbooks_and_tasks"),
        ("django_celery_beat", "0019_alter_periodictasks_options"),
    ]

    operations = [migrations.RunPython(seed, unseed)]
