"""The system user *Red Account rules* (who opens the records rules open:
an admin who can never sign in) and the beat schedule of the rules: a daily
evaluation at 06:45 UTC (every scoring run of the day also evaluates them)
and, every 15 minutes, the actions of any match whose hand-over to a worker
failed. Idempotent: existing rows (perhaps edited by operations) stay."""

from django.contrib.auth.hashers import make_password
from django.db import migrations
from django.utils import timezone

USERNAME = "red-account-rules"
TASKS = (
    (
        "Evaluate risk rules",
        "rules.tasks.evaluate_rules",
        {"minute": "45", "hour": "6"},
        "Evaluates every active risk rule against today's health signals; new "
        "matches open tier-1 records or notify, as each rule says.",
    ),
    (
        "Act on risk rule matches",
        "rules.tasks.act_on_matches",
        {"minute": "*/15", "hour": "*"},
        "Takes the actions of rule matches not acted on yet (normally done at once "
        "after each evaluation; this catches a failed hand-over).",
    ),
)


def seed(apps, schema_editor):
    User = apps.get_model("accounts", "User")
    if not User.objects.filter(username=USERNAME).exists():
        User.objects.create(
            username=USERNAME,
            first_name="Red Account",
            last_name="rules",
            role="admin",
            is_active=False,
            password=make_password(None),
        )
    CrontabSchedule = apps.get_model("django_celery_beat", "CrontabSchedule")
    PeriodicTask = apps.get_model("django_celery_beat", "PeriodicTask")
    PeriodicTasks = apps.get_model("django_celery_beat", "PeriodicTasks")
    for name, task, when, description in TASKS:
        if PeriodicTask.objects.filter(name=name).exists():
            continue
        fields = {
            **when,
            "day_of_week": "*",
            "day_of_month": "*",
            "month_of_year": "*",
            "timezone": "UTC",
        }
        crontab = (
            CrontabSchedule.objects.filter(**fields).order_by("pk").first()
            or CrontabSchedule.objects.create(**fields)
        )
        PeriodicTask.objects.create(
            name=name, task=task, crontab=crontab, enabled=True, description=description
        )
    # Historical models send no signals: tell a running beat the schedule changed.
    PeriodicTasks.objects.update_or_create(ident=1, defaults={"last_update": timezone.now()})


def unseed(apps, schema_editor):
    PeriodicTask = apps.get_model("django_celery_beat", "PeriodicTask")
    for name, task, _, _ in TASKS:
        PeriodicTask.objects.filter(name=name, task=task).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("rules", "0001_rules_and_matches"),
        ("django_celery_beat", "0019_alter_periodictasks_options"),
    ]

    operations = [migrations.RunPython(seed, unseed)]
