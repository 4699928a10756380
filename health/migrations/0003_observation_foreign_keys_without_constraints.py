"""Observations keep their foreign keys in the ORM (CASCADE from the account,
PROTECT of the measure) but lose the database constraints: the per-row checks
cost a bulk import more than the insert itself. The importer locks the rows it
names instead (health.imports; docs/architecture.md, "Imports")."""

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0007_account_fillfactor"),
        ("health", "0002_seed_scorecard"),
    ]

    operations = [
        migrations.AlterField(
            model_name="observation",
            name="account",
            field=models.ForeignKey(
                db_constraint=False,
                db_index=False,
                on_delete=django.db.models.deletion.CASCADE,
                related_name="+",
                to="accounts.account",
            ),
        ),
        migrations.AlterField(
            model_name="observation",
            name="measure",
            field=models.ForeignKey(
                db_constraint=False,
                db_index=False,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="+",
                to="health.measure",
            ),
        ),
    ]
