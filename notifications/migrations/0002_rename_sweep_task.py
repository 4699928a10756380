"""The outbox sweep's task moved to the notifications app: point the beat
schedule's row (seeded by reviews 0003) at its new name."""

from django.db import migrations
from django.utils import timezone

OLD = "reviews.tasks.send_pending_emails"
NEW = "notifications.tasks.send_pending_emails"


def rename(old, new):
    def run(apps, schema_editor):
        PeriodicTask = apps.get_model("django_celery_beat", "PeriodicTask")
        PeriodicTasks = apps.get_model("django_celery_beat", "PeriodicTasks")
        if PeriodicTask.objects.filter(task=old).update(task=new):
            PeriodicTasks.objects.update_or_create(ident=1, defaults={"last_update": timezone.now()})

    return run


class Migration(migrations.Migration):
    dependencies = [
        ("notifications", "0001_initial"),
        ("reviews", "0003_seed_email_periodic_tasks"),
    ]

    operations = [migrations.RunPython(rename(OLD, NEW), rename(NEW, OLD))]
