"""Accounts now carry their churn. Before, closing a record as churned left the
account active: mark churned every account whose latest closed record churned
and that has no open record, as of the day that record closed (in the server's
time zone). One UPDATE."""

from django.db import migrations
from django.db.models import OuterRef, Subquery
from django.db.models.functions import TruncDate


def mark_churned(apps, schema_editor):
    Account = apps.get_model("accounts", "Account")
    RiskRecord = apps.get_model("risks", "RiskRecord")
    latest_closed = (
        RiskRecord.objects.filter(account=OuterRef("pk"))
        .exclude(status="open")
        .order_by("-closed_at", "-pk")
    )
    churned = (
        Account.objects.filter(status="active")
        .exclude(risks__status="open")
        .annotate(last_status=Subquery(latest_closed.values("status")[:1]))
        .filter(last_status="churned")
    )
    Account.objects.filter(pk__in=churned.values("pk")).update(
        status="churned",
        churned_on=Subquery(latest_closed.annotate(day=TruncDate("closed_at")).values("day")[:1]),
    )


class Migration(migrations.Migration):
    dependencies = [
        ("risks", "0005_rename_reminder_task"),
        ("accounts", "0004_account_status"),
    ]

    operations = [migrations.RunPython(mark_churned, migrations.RunPython.noop)]
