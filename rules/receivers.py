"""What the rules app does when a layer below it signals a change."""

from __future__ import annotations

import datetime as dt
import logging
from typing import Any

from django.utils import timezone

from . import tasks

logger = logging.getLogger(__name__)


def evaluate_after_scoring(sender: Any, *, as_of: dt.date, **kwargs: Any) -> None:
    """A scoring run of today finished: evaluate the active rules. (A run of
    a past day, a backfill, changes no account's current health.)"""
    if as_of != timezone.localdate():
        return
    try:
        tasks.evaluate_rules.delay()
    except Exception:
        logger.warning(
            "Could not hand the rule evaluation to a worker; the daily run will do it.",
            exc_info=True,
        )
