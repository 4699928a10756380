"""Leave a fifth of each page of the accounts table free on PostgreSQL.

Every night the health scoring rewrites each account's current health
(health_score, health_band, health_as_of). None of those columns is indexed,
so with room on the page PostgreSQL updates the row in place (a HOT update)
instead of adding an entry to every index of the table. Pages written before
this migration get the room when the table is rewritten (VACUUM FULL)."""

from django.db import migrations


def set_fillfactor(apps, schema_editor, value=80):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(f"ALTER TABLE accounts_account SET (fillfactor = {int(value)})")


def reset_fillfactor(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute("ALTER TABLE accounts_account RESET (fillfactor)")


class Migration(migrations.Migration):
    dependencies = [("accounts", "0006_account_health")]

    operations = [migrations.RunPython(set_fillfactor, reset_fillfactor)]
