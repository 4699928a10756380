"""Seed the hourly beat schedule of agenda generation (docs/domain.md), so it
exists after ``migrate`` and operations can change it in the admin afterwards.
Idempotent: an existing task of that name (perhaps edited) is left alone."""

from django.db import migrations
from django.utils import timezone

TASK_NAME = "Generate due review agendas"
TASK = "reviews.tasks.generate_due_agendas"


def seed(apps, schema_editor):
    IntervalSchedule = apps.get_model("django_celery_beat", "IntervalSchedule")
    PeriodicTask = apps.get_model("django_celery_beat", "PeriodicTask")
    PeriodicTasks = apps.get_model("django_celery_beat", "PeriodicTasks")
    if PeriodicTask.objects.filter(name=TASK_NAME).exists():
        return
    every_hour = (
        IntervalSchedule.objects.filter(every=1, period="hours").order_by("pk").first()
        or IntervalSchedule.objects.create(every=1, period="hours")
    )
    PeriodicTask.objects.get_or_create(
        name=TASK_NAME,
        defaults={
            "task": TASK,
            "interval": every_hour,
            "enabled": True,
            "description": (
                "Generates the agenda of every region whose weekly review starts "
                "within REVIEW_AGENDA_LEAD_HOURS and has none yet."
            ),
        },
    )
    # Historical models send no signals: tell a running beat the schedule changed.
    PeriodicTasks.objects.update_or_create(ident=1, defaults={"last_update": timezone.now()})


def unseed(apps, schema_editor):
    PeriodicTask = apps.get_model("django_celery_beat", "PeriodicTask")
    PeriodicTask.objects.filter(name=TASK_NAME, task=TASK).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("reviews", "0001_initial"),
        ("django_celery_beat", "0019_alter_periodictasks_options"),
    ]

    operations = [migrations.RunPython(seed, unseed)]
