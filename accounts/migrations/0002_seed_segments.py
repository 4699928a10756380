from django.db import migrations

SEGMENTS = [
    ("strategic", "Strategic"),
    ("enterprise", "Enterprise"),
    ("mid-market", "Mid-Market"),
    ("smb", "SMB"),
]


def seed(apps, schema_editor):
    Segment = apps.get_model("accounts", "Segment")
    for code, name in SEGMENTS:
        Segment.objects.get_or_create(code=code, defaults={"name": name})


def unseed(apps, schema_editor):
    Segment = apps.get_model("accounts", "Segment")
    Segment.objects.filter(code__in=[code for code, _ in SEGMENTS], accounts__isnull=True).delete()


class Migration(migrations.Migration):
    dependencies = [("accounts", "0001_initial")]
    operations = [migrations.RunPython(seed, unseed)]
