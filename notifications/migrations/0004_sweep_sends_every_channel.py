"""The outbox sweep now sends every channel: point the beat schedule's row at
the task's new name and say so in its description."""

from django.db import migrations
from django.utils import timezone

OLD = "notifications.tasks.send_pending_emails"
NEW = "notifications.tasks.send_pending"
DESCRIPTION = (
    "Sends outbox emails, Slack messages and webhook deliveries that could not be "
    "handed to a worker when they were written (e.g. Redis was down) or are due for "
    "another try, and switches off webhook endpoints that failed for three days."
)


OLD_NAME = "Send pending emails"
NEW_NAME = "Send pending messages"


def rename(old, new, description=None):
    def run(apps, schema_editor):
        PeriodicTask = apps.get_model("django_celery_beat", "PeriodicTask")
        PeriodicTasks = apps.get_model("django_celery_beat", "PeriodicTasks")
        changes = {"task": new}
        if description:
            changes["description"] = description
        names = (OLD_NAME, NEW_NAME) if description else (NEW_NAME, OLD_NAME)
        if not PeriodicTask.objects.filter(name=names[1]).exists():
            PeriodicTask.objects.filter(task=old, name=names[0]).update(name=names[1])
        if PeriodicTask.objects.filter(task=old).update(**changes):
            PeriodicTasks.objects.update_or_create(ident=1, defaults={"last_update": timezone.now()})

    return run


class Migration(migrations.Migration):
    dependencies = [("notifications", "0003_outbox_channels")]

    operations = [migrations.RunPython(rename(OLD, NEW, DESCRIPTION), rename(NEW, OLD))]
