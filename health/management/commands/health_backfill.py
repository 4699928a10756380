"""manage.py health_backfill --since 2026-01-01 --every week

Scores every account as of each day from --since to today, a day, week or
month apart (ending today), so that score history, the 30-day arrows and
calibration reports have data. Days already scored are scored again."""

from __future__ import annotations

from datetime import date

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from health.scoring import score_accounts
from health.services import backfill_days

STEPS = {"day": 1, "week": 7, "month": 30}


class Command(BaseCommand):
    help = "Fill the health score history from --since to today."

    def add_arguments(self, parser):
        parser.add_argument("--since", required=True, help="First day, YYYY-MM-DD.")
        parser.add_argument("--every", choices=sorted(STEPS), default="week")
        parser.add_argument(
            "--until", help="Last day, YYYY-MM-DD (default today in the server's TIME_ZONE)."
        )

    def handle(self, *args, since: str, every: str, until: str | None, **options):
        try:
            first = date.fromisoformat(since)
            last = date.fromisoformat(until) if until else timezone.localdate()
        except ValueError as error:
            raise CommandError(f"Dates are YYYY-MM-DD: {error}") from None
        today = timezone.localdate()
        if last > today:
            # A future day would become every account's newest score and hide
            # the real ones until that day.
            raise CommandError(f"--until {last} is after today ({today}).")
        if first > last:
            raise CommandError(f"--since {first} is after {last}.")
        days = backfill_days(first, last, STEPS[every])
        for day in days:
            count = score_accounts(day)
            if options["verbosity"] >= 2:
                self.stdout.write(f"{day}: {count} accounts")
        self.stdout.write(f"Scored {len(days)} days, {days[0]} to {days[-1]}.")
