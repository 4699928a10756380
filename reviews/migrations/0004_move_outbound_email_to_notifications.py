"""The email outbox moves to the notifications app: the table is renamed here
and the model is created, in state only, by notifications 0001."""

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [("reviews", "0003_seed_email_periodic_tasks")]

    operations = [
        migrations.SeparateDatabaseAndState(
            database_operations=[
                migrations.AlterModelTable("OutboundEmail", "notifications_outboundemail"),
            ],
            state_operations=[migrations.DeleteModel("OutboundEmail")],
        ),
    ]
