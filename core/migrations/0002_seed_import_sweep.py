"""Seed the five-minute sweep that queues again the tasks of stalled import
jobs (core.tasks.sweep_imports). Idempotent; admins may change it afterwards."""

from django.db import migrations
from django.utils import timezone

TASK_NAME = "Queue stalled imports again"
TASK = "core.tasks.sweep_imports"


def seed(apps, schema_editor):
    IntervalSchedule = apps.get_model("django_celery_beat", "IntervalSchedule")
    PeriodicTask = apps.get_model("django_celery_beat", "PeriodicTask")
    PeriodicTasks = apps.get_model("django_celery_beat", "PeriodicTasks")
    if PeriodicTask.objects.filter(name=TASK_NAME).exists():
        return
    every_five_minutes = IntervalSchedule.objects.filter(every=5, period="minutes").order_by(
        "pk"
    ).first() or IntervalSchedule.objects.create(every=5, period="minutes")
    PeriodicTask.objects.create(
        name=TASK_NAME,
        task=TASK,
        interval=every_five_minutes,
        enabled=True,
        description="Queues again the check or import of an import job whose task was lost "
        "(broker down when it was queued, or its worker died).",
    )
    PeriodicTasks.objects.update_or_create(ident=1, defaults={"last_update": timezone.now()})


def unseed(apps, schema_editor):
    apps.get_model("django_celery_beat", "PeriodicTask").objects.filter(
        name=TASK_NAME, task=TASK
    ).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("core", "0001_initial"),
        ("django_celery_beat", "0019_alter_periodictasks_options"),
    ]

    operations = [migrations.RunPython(seed, unseed)]
