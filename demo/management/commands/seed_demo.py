"""``manage.py seed_demo``: demo regions, people, accounts, risk history and renewals.

The generator lives in ``demo.data``; this command only reports what it did.
"""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError
from django.test.utils import override_settings
from django.utils import timezone

from demo import data as demo
from notifications.models import Channel, OutboundMessage

# Emails sent while the seed runs go nowhere (see handle).
QUIET_EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"


class Command(BaseCommand):
    help = (
        "Create demo data (regions, users with password 'demo', ~150 accounts, a year of "
        "risk records with their playbooks' tasks, two years of renewals, health history). "
        "Idempotent: a second run "
        "creates nothing. Refused unless "
        "settings.DEMO_DATA_ALLOWED is True (local and test settings only). The emails the "
        "data causes are written to the outbox, never printed by this command."
    )

    def handle(self, *args: Any, **options: Any) -> None:
        started = timezone.now()
        # The seed's changes write their emails (the agenda announcements) to the
        # outbox like any change. When tasks run in-process, the send would
        # happen in this process and the console backend would print each whole
        # MIME message ahead of this command's report; an in-memory backend
        # swallows them instead. With a worker (make run) the worker sends them.
        try:
            with override_settings(EMAIL_BACKEND=QUIET_EMAIL_BACKEND):
                report = demo.seed_demo()
        except demo.DemoDataError as exc:
            raise CommandError(str(exc)) from exc
        for line in report.lines():
            self.stdout.write(line)
        emails = OutboundMessage.objects.filter(
            channel=Channel.EMAIL, created_at__gte=started
        ).count()
        if emails:
            self.stdout.write(
                f"Emails written to the outbox: {emails} (not printed here; see "
                f"Notifications in the Django admin)."
            )
        self.stdout.write(
            self.style.SUCCESS(
                f"Demo data ready. Sign in as admin, manager, csm or reviewer "
                f"with the password “{demo.DEMO_PASSWORD}”."
            )
        )
