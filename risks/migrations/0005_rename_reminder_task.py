"""The daily reminder of overdue escalations moved to the risks app: point the
beat schedule's row (seeded by reviews 0003) at its new task name."""

from django.db import migrations
from django.utils import timezone

OLD = "reviews.tasks.send_pending_escalation_reminders"
NEW = "risks.tasks.send_escalation_reminders"


def rename(old, new):
    def run(apps, schema_editor):
        PeriodicTask = apps.get_model("django_celery_beat", "PeriodicTask")
        PeriodicTasks = apps.get_model("django_celery_beat", "PeriodicTasks")
        if PeriodicTask.objects.filter(task=old).update(task=new):
            PeriodicTasks.objects.update_or_create(ident=1, defaults={"last_update": timezone.now()})

    return run


class Migration(migrations.Migration):
    dependencies = [
        ("risks", "0004_risk_account_cause_opened_index"),
        ("reviews", "0003_seed_email_periodic_tasks"),
    ]

    operations = [migrations.RunPython(rename(OLD, NEW), rename(NEW, OLD))]
