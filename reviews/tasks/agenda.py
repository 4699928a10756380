"""Scheduled agenda generation (docs/domain.md).

Beat runs ``generate_due_agendas`` hourly (seeded by migration
reviews/0002_seed_periodic_task). It fans out one ``generate_region_agenda``
per region whose next meeting starts within ``REVIEW_AGENDA_LEAD_HOURS`` and
has no agenda yet. Both are idempotent: ``regions_due`` skips weeks that have
an agenda, and ``agenda_generate`` locks the region and relies on the unique
(region, week_start), so a repeated, retried or concurrent run changes nothing.
"""

from __future__ import annotations

import datetime as dt
import logging

from celery import shared_task
from django.conf import settings
from django.db import OperationalError
from django.utils import timezone

from accounts.models import Region
from core.exceptions import Conflict

from .. import scheduling, services
from ..models import Agenda, AgendaStatus

logger = logging.getLogger(__name__)


@shared_task(
    name="reviews.tasks.generate_due_agendas",
    bind=True,
    autoretry_for=(OperationalError,),
    retry_backoff=True,
    retry_backoff_max=600,
    max_retries=5,
    soft_time_limit=60,
    time_limit=90,
)
def generate_due_agendas(self) -> list[str]:
    """Enqueue the generation of every agenda now due; returns the region codes."""
    now = timezone.now()
    # Agendas whose meeting has started are frozen; say so on the agenda.
    Agenda.objects.filter(status=AgendaStatus.SCHEDULED, meeting_at__lte=now).update(
        status=AgendaStatus.HELD
    )
    due = scheduling.regions_due(now, settings.REVIEW_AGENDA_LEAD_HOURS)
    for region, week_start in due:
        generate_region_agenda.delay_on_commit(region.pk, week_start.isoformat())
    if due:
        logger.info(
            "Agendas due: %s",
            ", ".join(f"{region.code} {week_start}" for region, week_start in due),
        )
    return [region.code for region, _ in due]


@shared_task(
    name="reviews.tasks.generate_region_agenda",
    bind=True,
    autoretry_for=(OperationalError,),
    retry_backoff=True,
    retry_backoff_max=600,
    max_retries=5,
    soft_time_limit=120,
    time_limit=150,
)
def generate_region_agenda(self, region_id: int, week_start_iso: str) -> int | None:
    """Generate one region's agenda for the week starting ``week_start_iso``;
    returns the agenda's id (None if the region is gone or the meeting started)."""
    region = Region.objects.filter(pk=region_id).first()
    if region is None:
        logger.warning("Region %s no longer exists; no agenda generated.", region_id)
        return None
    try:
        agenda = services.agenda_generate(
            region=region, week_start=dt.date.fromisoformat(week_start_iso)
        )
    except Conflict as refusal:
        # Delivered after the meeting started (a long queue, a worker down).
        logger.warning("No agenda for %s week %s: %s", region.code, week_start_iso, refusal)
        return None
    return agenda.pk


@shared_task(
    name="reviews.tasks.refresh_upcoming_agendas",
    autoretry_for=(OperationalError,),
    retry_backoff=True,
    retry_backoff_max=600,
    max_retries=5,
    soft_time_limit=120,
    time_limit=150,
)
def refresh_upcoming_agendas(region_id: int) -> list[int]:
    """Refresh the region's agendas whose meeting has not started (a record
    reached tier 3, left it or closed). Idempotent: a refresh recomputes the
    items and keeps those with notes or action items. Returns their ids."""
    weeks = list(
        Agenda.objects.filter(
            region_id=region_id, status=AgendaStatus.SCHEDULED, meeting_at__gt=timezone.now()
        ).values_list("week_start", flat=True)
    )
    refreshed = []
    for week_start in weeks:
        try:
            refreshed.append(services.agenda_generate(region=region_id, week_start=week_start).pk)
        except Conflict as refusal:  # the meeting started meanwhile: frozen
            logger.info(
                "Agenda of region %s week %s not refreshed: %s", region_id, week_start, refusal
            )
    return refreshed
