"""What the rules app does when a layer below it signals a change."""

from __future__ import annotations

import datetime as dt
import logging
from typing import Any

from django.utils import timezone

from . import tasks

logger = logging.getLogger(__name__)


def evaluate_after_scoring(
    sender: Any, *, as_of: dt.date, account_ids: list[int] | None = None, **kwargs: Any
) -> None:
    """A scoring run of today finished: evaluate the active rules for the
    accounts it scored (all of them after the nightly run). A run of a past
    day, a backfill, changes no account's current health."""
    if as_of != timezone.localdate():
        return
    try:
        tasks.evaluate_rules.delay(
            account_ids=sorted(set(account_ids)) if account_ids is not None else None
        )
    except Exception:
        logger.warning(
            "Could not hand the rule evaluation to a worker; the daily run will do it.",
            exc_info=True,
        )
