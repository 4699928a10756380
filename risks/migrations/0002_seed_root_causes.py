from django.db import migrations

ROOT_CAUSES = [
    # (code, name, category, description)
    (
        "low-usage",
        "Low usage",
        "adoption",
        "Active users or key feature usage are well below what the contract assumes, "
        "and the trend is flat or falling.",
    ),
    (
        "lost-champion",
        "Lost champion or sponsor",
        "adoption",
        "The internal champion or executive sponsor left or moved on, and no one "
        "has taken ownership of the relationship.",
    ),
    (
        "incomplete-onboarding",
        "Incomplete onboarding",
        "adoption",
        "Implementation or onboarding stalled, so the customer never reached a "
        "working production setup.",
    ),
    (
        "value-not-realised",
        "Value not realised",
        "adoption",
        "The product works and is used, but the customer cannot see the business "
        "outcome they bought it for.",
    ),
    (
        "organisational-change",
        "Organisational change",
        "adoption",
        "A merger, reorganisation, budget cut or new leadership put the purchase "
        "itself in question, independent of the product.",
    ),
    (
        "missing-capability",
        "Missing capability",
        "product",
        "The customer needs a feature we do not have (and a competitor may), and "
        "the gap blocks their use case.",
    ),
    (
        "defects",
        "Defects",
        "product",
        "Bugs the customer hits in daily work erode trust; pick this when open "
        "support tickets about errors drive the risk.",
    ),
    (
        "performance-reliability",
        "Performance or reliability",
        "product",
        "Outages, slowness or missed SLAs are the customer's main complaint.",
    ),
    (
        "integration-gap",
        "Integration gap",
        "product",
        "The product does not connect to a system the customer depends on (CRM, "
        "ERP, data warehouse, SSO), or the integration is too limited.",
    ),
    (
        "usability",
        "Usability",
        "product",
        "Users find the product hard to learn or slow to use, so they avoid it "
        "even where it has the features they need.",
    ),
]


def seed(apps, schema_editor):
    RootCause = apps.get_model("risks", "RootCause")
    for code, name, category, description in ROOT_CAUSES:
        RootCause.objects.get_or_create(
            code=code,
            defaults={
                "name": name,
                "category": category,
                "description": description,
                "active": True,
            },
        )


def unseed(apps, schema_editor):
    RootCause = apps.get_model("risks", "RootCause")
    RootCause.objects.filter(
        code__in=[code for code, *_ in ROOT_CAUSES],
        primary_risks__isnull=True,
        secondary_risks__isnull=True,
    ).delete()


class Migration(migrations.Migration):
    dependencies = [("risks", "0001_initial")]
    operations = [migrations.RunPython(seed, unseed)]
