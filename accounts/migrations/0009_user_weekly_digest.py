from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0008_renewal"),
    ]

    operations = [
        migrations.AddField(
            model_name="user",
            name="weekly_digest",
            field=models.BooleanField(
                default=False,
                db_default=False,
                help_text=(
                    "Monday 07:00 in the person's region: open records, tasks due and "
                    "accounts that turned red, instead of the daily overdue-task email "
                    "and the emails of matched risk rules (the digest lists those matches)."
                ),
                verbose_name="Weekly digest instead of per-event email",
            ),
        ),
    ]
