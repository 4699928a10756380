"""Celery tasks that score account health. Both are idempotent: scoring a day
again overwrites that day's rows with the same figures."""

from __future__ import annotations

from datetime import date

from celery import shared_task
from django.utils import timezone

from .scoring import score_accounts
from .signals import scores_computed

# A whole book of accounts is scored in chunks, each its own transaction; the
# limits leave room for about a million accounts (100,000 take about 30 s)
# and stay under the broker's visibility timeout (docs/operations.md).
LIMITS = {"soft_time_limit": 480, "time_limit": 540}


@shared_task(name="health.tasks.score_all_accounts", **LIMITS)
def score_all_accounts(as_of: str | None = None) -> int:
    """Daily (beat): score every account active on the day (today, UTC, by default)."""
    day = date.fromisoformat(as_of) if as_of else timezone.localdate()
    scored = score_accounts(day)
    scores_computed.send(sender=score_all_accounts, as_of=day, account_ids=None)
    return scored


@shared_task(name="health.tasks.score_some_accounts", **LIMITS)
def score_some_accounts(account_ids: list[int], as_of: str | None = None) -> int:
    """Rescore the accounts an ingest touched."""
    day = date.fromisoformat(as_of) if as_of else timezone.localdate()
    scored = score_accounts(day, account_ids)
    scores_computed.send(sender=score_some_accounts, as_of=day, account_ids=account_ids)
    return scored
