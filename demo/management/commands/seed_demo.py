"""``manage.py seed_demo``: demo regions, people, accounts and risk history.

The generator lives in ``demo.data``; this command only reports what it did.
"""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError

from demo import data as demo


class Command(BaseCommand):
    help = (
        "Create demo data (regions, users with password 'demo', ~150 accounts and a year of "
        "risk records). Idempotent: a second run creates nothing. Refused unless "
        "settings.DEMO_DATA_ALLOWED is True (local and test settings only)."
    )

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            report = demo.seed_demo()
        except demo.DemoDataError as exc:
            raise CommandError(str(exc)) from exc
        for line in report.lines():
            self.stdout.write(line)
        self.stdout.write(
            self.style.SUCCESS(
                f"Demo data ready. Sign in as admin, manager, csm or reviewer "
                f"with the password “{demo.DEMO_PASSWORD}”."
            )
        )
