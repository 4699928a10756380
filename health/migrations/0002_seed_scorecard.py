"""Seed the measures, a default scorecard (with a few segment lines) and the
daily scoring task. Admins edit all of them afterwards; re-running leaves
existing rows alone."""

from decimal import Decimal

from django.db import migrations
from django.utils import timezone

# code, name, unit, dimension, kind, better, scoring, baseline_days,
# stale_after_days, suggested cause, (red, green, weight), description
MEASURES = [
    ("logins-30d", "Logins in the last 30 days", "logins", "current_state", "number",
     "higher", "value", 90, 45, "low-usage", (20, 100, 10),
     "Sign-ins by any of the account's users over the 30 days before the day observed."),
    ("active-user-share", "Share of licensed users active", "%", "current_state", "number",
     "higher", "value", 90, 45, "low-usage", (30, 70, 15),
     "Users active in the month as a percentage of the licences bought."),
    ("feature-adoption", "Share of key features used", "%", "current_state", "number",
     "higher", "value", 90, 45, "incomplete-onboarding", (25, 60, 10),
     "Of the features the account bought for, the percentage used in the month."),
    ("usage-volume", "Usage volume", "events", "current_state", "number",
     "higher", "change", 90, 45, "low-usage", (-30, 0, 15),
     "Product events in the week; scored by its % change against the 90 days before."),
    ("open-tickets", "Open support tickets", "tickets", "current_state", "number",
     "lower", "value", 90, 45, "defects", (10, 2, 5),
     "Support tickets open on the day observed."),
    ("oldest-ticket-age", "Age of the oldest open ticket", "days", "current_state", "number",
     "lower", "value", 90, 45, "performance-reliability", (30, 7, 10),
     "Days since the oldest still-open ticket was raised (0 with none open)."),
    ("nps", "NPS", "score", "interest", "number",
     "higher", "value", 90, 120, "value-not-realised", (0, 40, 10),
     "Net promoter score of the account's respondents (−100 to 100)."),
    ("csat", "CSAT", "%", "interest", "number",
     "higher", "value", 90, 90, "usability", (70, 90, 5),
     "Share of satisfied answers to support surveys."),
    ("fees-yoy", "Fees year on year", "%", "interest", "number",
     "higher", "value", 90, 400, "value-not-realised", (-10, 5, 5),
     "Change of the contracted fees against a year earlier, in %."),
    ("health-checks", "Health-check meetings attended in the quarter", "meetings", "interest",
     "number", "higher", "value", 90, 100, "lost-champion", (0, 2, 5),
     "Business reviews and health checks the customer attended this quarter."),
    ("company-size", "Company size band", "band", "fit", "number",
     "higher", "value", 90, 400, None, (1, 4, 5),
     "1 (under 50 staff) to 5 (over 10,000): how well the customer fits our sweet spot."),
    ("sponsor-left", "Sponsor left", "", "interest", "event",
     "", "value", 90, 90, "lost-champion", (0, 0, 5),
     "The executive sponsor or champion left the customer; counts for 90 days."),
]

# Segment lines that differ from the default: (measure, segment, red, green, weight).
SEGMENT_LINES = [
    ("logins-30d", "strategic", 60, 250, 10),
    ("logins-30d", "smb", 5, 30, 10),
    ("open-tickets", "strategic", 20, 5, 5),
    ("open-tickets", "enterprise", 15, 4, 5),
    ("company-size", "smb", 1, 2, 0),
    ("health-checks", "smb", 0, 1, 0),
]

TASK_NAME = "Score account health daily"
TASK = "health.tasks.score_all_accounts"


def seed(apps, schema_editor):
    Measure = apps.get_model("health", "Measure")
    Threshold = apps.get_model("health", "Threshold")
    RootCause = apps.get_model("risks", "RootCause")
    Segment = apps.get_model("accounts", "Segment")
    causes = {cause.code: cause for cause in RootCause.objects.all()}
    for (code, name, unit, dimension, kind, better, scoring, baseline, stale, cause,
         (red, green, weight), description) in MEASURES:
        measure, created = Measure.objects.get_or_create(
            code=code,
            defaults={
                "name": name, "unit": unit, "dimension": dimension, "kind": kind,
                "better": better, "scoring": scoring, "baseline_days": baseline,
                "stale_after_days": stale, "suggested_cause": causes.get(cause),
                "description": description,
            },
        )
        if created:
            Threshold.objects.create(
                measure=measure, segment=None, red=Decimal(red), green=Decimal(green),
                weight=weight,
            )
    segments = {segment.code: segment for segment in Segment.objects.all()}
    for code, segment_code, red, green, weight in SEGMENT_LINES:
        segment = segments.get(segment_code)
        if segment is None:
            continue
        Threshold.objects.get_or_create(
            measure=Measure.objects.get(code=code), segment=segment,
            defaults={"red": Decimal(red), "green": Decimal(green), "weight": weight},
        )

    CrontabSchedule = apps.get_model("django_celery_beat", "CrontabSchedule")
    PeriodicTask = apps.get_model("django_celery_beat", "PeriodicTask")
    PeriodicTasks = apps.get_model("django_celery_beat", "PeriodicTasks")
    if not PeriodicTask.objects.filter(name=TASK_NAME).exists():
        nightly, _ = CrontabSchedule.objects.get_or_create(
            minute="15", hour="2", day_of_week="*", day_of_month="*", month_of_year="*",
            timezone="UTC",
        )
        PeriodicTask.objects.create(
            name=TASK_NAME, task=TASK, crontab=nightly, enabled=True,
            description="Scores every active account as of today (UTC) and refreshes "
            "each account's current health.",
        )
        PeriodicTasks.objects.update_or_create(ident=1, defaults={"last_update": timezone.now()})


def unseed(apps, schema_editor):
    apps.get_model("django_celery_beat", "PeriodicTask").objects.filter(
        name=TASK_NAME, task=TASK
    ).delete()
    apps.get_model("health", "Measure").objects.filter(
        code__in=[row[0] for row in MEASURES]
    ).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("health", "0001_initial"),
        ("risks", "0002_seed_root_causes"),
        ("accounts", "0002_seed_segments"),
        ("django_celery_beat", "0019_alter_periodictasks_options"),
    ]

    operations = [migrations.RunPython(seed, unseed)]
