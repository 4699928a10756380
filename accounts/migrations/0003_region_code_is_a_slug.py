"""Region codes become slugs. A code from before with other characters (a
slash, a space, a quote, a control character) is rewritten: each run of them
becomes a hyphen, and a number is added where that would repeat a code."""

import re

from django.db import migrations, models

NOT_SLUG = re.compile(r"[^-a-zA-Z0-9_]+")


def slugify_codes(apps, schema_editor):
    Region = apps.get_model("accounts", "Region")
    taken = set(Region.objects.values_list("code", flat=True))
    for region in Region.objects.order_by("pk"):
        if not NOT_SLUG.search(region.code):
            continue
        base = NOT_SLUG.sub("-", region.code).strip("-")[:12] or "REGION"
        code, number = base, 1
        while code in taken:
            number += 1
            code = f"{base}-{number}"
        taken.add(code)
        region.code = code
        region.save(update_fields=["code"])


class Migration(migrations.Migration):
    dependencies = [("accounts", "0002_seed_segments")]

    operations = [
        migrations.RunPython(slugify_codes, migrations.RunPython.noop),
        migrations.AlterField(
            model_name="region",
            name="code",
            field=models.SlugField(
                help_text="Short code, e.g. EMEA: letters, digits, hyphens and underscores.",
                max_length=16,
                unique=True,
            ),
        ),
    ]
