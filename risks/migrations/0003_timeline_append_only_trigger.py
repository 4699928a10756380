"""On PostgreSQL the database itself refuses to rewrite a timeline event, so the
history stays append-only even for code that bypasses the model (bulk
``QuerySet.update()``). Deletes stay possible: a risk record removed for data
protection takes its history with it."""

from django.db import migrations

CREATE = """
CREATE OR REPLACE FUNCTION risks_timelineevent_refuse_update() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION 'timeline events are append-only (event %)', OLD.id
        USING ERRCODE = 'integrity_constraint_violation';
END;
$$ LANGUAGE plpgsql;
CREATE TRIGGER risks_timelineevent_append_only
    BEFORE UPDATE ON risks_timelineevent
    FOR EACH ROW EXECUTE FUNCTION risks_timelineevent_refuse_update();
"""
DROP = """
DROP TRIGGER IF EXISTS risks_timelineevent_append_only ON risks_timelineevent;
DROP FUNCTION IF EXISTS risks_timelineevent_refuse_update();
"""


def create(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(CREATE, params=None)


def drop(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(DROP, params=None)


class Migration(migrations.Migration):
    dependencies = [("risks", "0002_seed_root_causes")]
    operations = [migrations.RunPython(create, drop)]
