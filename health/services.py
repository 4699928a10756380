"""Health operations that views, the API, commands and importers call."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, timedelta
from functools import partial

from django.db import transaction

from . import tasks


def rescore_on_commit(account_ids: Iterable[int]) -> None:
    """After the current transaction commits, rescore these accounts as of today."""
    ids = sorted(set(account_ids))
    if ids:
        transaction.on_commit(partial(tasks.score_some_accounts.delay, ids), robust=True)


def compute_now(as_of: date | None = None):
    """Queue scoring of every account as of `as_of` (today by default); returns
    the Celery result (already finished when tasks run in-process)."""
    return tasks.score_all_accounts.delay(as_of.isoformat() if as_of else None)


def backfill_days(since: date, until: date, every_days: int) -> list[date]:
    """The days a backfill scores: `until` and every `every_days` before it, back
    to `since` (so the newest score is always the one of `until`)."""
    days = []
    day = until
    while day >= since:
        days.append(day)
        day -= timedelta(days=every_days)
    return sorted(days)
