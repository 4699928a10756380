"""What the weekly review does when the risk workflow changes something it
shows (``risks.signals``): refresh the region's upcoming agendas, after the
change commits, in a task."""

from __future__ import annotations

import logging
from functools import partial
from typing import Any

from django.db import transaction

from risks.models import RiskRecord

from .tasks import refresh_upcoming_agendas

logger = logging.getLogger(__name__)


def refresh_region_agendas(sender: type[RiskRecord], risk: RiskRecord, **kwargs: Any) -> None:
    transaction.on_commit(partial(_enqueue, risk.account.region_id), robust=True)


def _enqueue(region_id: int) -> None:
    try:
        refresh_upcoming_agendas.delay(region_id)
    except Exception:
        # The broker is down: the hourly generation and the next refresh catch up.
        logger.warning(
            "Could not enqueue the agenda refresh of region %s.", region_id, exc_info=True
        )
