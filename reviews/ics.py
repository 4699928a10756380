"""The calendar invite of a weekly review meeting (built by ``notifications.ics``)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable

from notifications import ics

from .models import Agenda

MEETING_LENGTH = dt.timedelta(minutes=60)


def agenda_uid(agenda: Agenda) -> str:
    """Stable per agenda, so a re-sent invite updates the same calendar entry."""
    return f"agenda-{agenda.pk}@red-account"


def agenda_invite(
    agenda: Agenda,
    *,
    url: str,
    attendees: Iterable[str] = (),
    method: str = ics.REQUEST,
    now: dt.datetime | None = None,
) -> str:
    """The invite for the agenda's meeting (``meeting_at``, 60 minutes), linking
    to ``url`` (the agenda page): a REQUEST to ``attendees`` for the email, a
    PUBLISH without attendees for the download."""
    region = agenda.region
    return ics.meeting_invite(
        uid=agenda_uid(agenda),
        start=agenda.meeting_at,
        end=agenda.meeting_at + MEETING_LENGTH,
        summary=f"{region.code} cross-functional review",
        description=(
            f"Weekly cross-functional review of {region.name} ({region.code}), "
            f"week of {agenda.week_start:%Y-%m-%d}.\nAgenda: {url}"
        ),
        url=url,
        attendees=attendees,
        method=method,
        now=now,
    )
