"""The email of the weekly review: when an agenda is generated, its
participants get the items, a link and a calendar invite, through the outbox
(``notifications.outbox``) in the transaction that built the agenda."""

from __future__ import annotations

import zoneinfo
from collections.abc import Iterable
from typing import Any

from django.template.loader import render_to_string
from django.urls import reverse

from accounts.models import Role, User
from notifications.models import OutboundMessage
from notifications.outbox import absolute_url, addresses, queue_email

from . import ics
from .models import SECTION_ORDER, Agenda, AgendaSection

AGENDA_GENERATED = "agenda_generated"


def agenda_url(agenda: Agenda) -> str:
    """The agenda's page, as an absolute link."""
    return absolute_url(
        reverse(
            "reviews:agenda",
            kwargs={"region_code": agenda.region.code, "week": agenda.week_start.isoformat()},
        )
    )


def _render(template: str, context: dict[str, Any]) -> str:
    return render_to_string(f"email/{template}", context)


def agenda_participants(agenda: Agenda, items: Iterable[Any]) -> list[str]:
    """The region's reviewers and managers, then the CSMs owning accounts with items."""
    people = list(
        User.objects.filter(
            region_id=agenda.region_id, role__in=(Role.REVIEWER, Role.MANAGER), is_active=True
        ).order_by("role", "last_name", "first_name", "pk")
    )
    people += [item.risk.account.csm for item in items]
    return addresses(people)


def agenda_generated(agenda: Agenda) -> OutboundMessage | None:
    """Invite the participants to the meeting, with the items and a link."""
    items = list(
        agenda.items.select_related(
            "risk__account__csm",
            "risk__account__segment",
            "risk__primary_cause",
            "risk__secondary_cause",
        )
    )
    order = {section: index for index, section in enumerate(SECTION_ORDER)}
    items.sort(key=lambda item: (order.get(item.section, len(order)), item.position))
    sections = [
        {"label": section.label, "items": [item for item in items if item.section == section]}
        for section in SECTION_ORDER
    ]
    region = agenda.region
    meeting_local = agenda.meeting_at.astimezone(zoneinfo.ZoneInfo(region.timezone))
    url = agenda_url(agenda)
    recipients = agenda_participants(agenda, items)
    return queue_email(
        dedupe_key=f"agenda-generated:{agenda.pk}",
        kind=AGENDA_GENERATED,
        to=recipients,
        subject=f"{region.code} cross-functional review — {meeting_local:%Y-%m-%d}",
        body=_render(
            "agenda_generated.txt",
            {
                "agenda": agenda,
                "region": region,
                # Formatted here: the template's date filter would show UTC.
                "meeting_local": f"{meeting_local:%A} {meeting_local.day} "
                f"{meeting_local:%B %Y, %H:%M}",
                "sections": sections,
                "item_count": len(items),
                "resolved": AgendaSection.RESOLVED,
                "url": url,
            },
        ),
        ics=ics.agenda_invite(agenda, attendees=recipients, url=url),
    )
