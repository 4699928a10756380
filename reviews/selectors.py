"""Reads of the weekly review that feed pages, the API and emails. They own
select_related / prefetch_related / annotate so that nothing costs a query per row."""

from __future__ import annotations

import datetime as dt
import zoneinfo

from django.db.models import (
    Case,
    F,
    IntegerField,
    OuterRef,
    Prefetch,
    QuerySet,
    Subquery,
    Value,
    When,
)
from django.urls import reverse

from accounts.models import Region, User
from risks.models import Task, Tier, TimelineEvent, TimelineKind
from risks.timeline import Link, References

from .models import SECTION_ORDER, Agenda, AgendaItem, ReviewNote

# --- agenda ---


def _days(later: dt.datetime, earlier: dt.datetime | None, zone: zoneinfo.ZoneInfo) -> int | None:
    """Calendar days between two moments on the region's wall clock, as every
    other page counts days (opened yesterday evening = 1 day), never negative."""
    if earlier is None:
        return None
    return max((later.astimezone(zone).date() - earlier.astimezone(zone).date()).days, 0)


def agenda_with_items(agenda_id: int) -> Agenda:
    """One agenda with everything its page, its email and its API detail show,
    in a fixed number of queries. Raises ``Agenda.DoesNotExist``.

    ``agenda.item_list`` holds the items in agenda order (``position`` runs
    across the sections in ``SECTION_ORDER``), ``agenda.sections`` the same
    items grouped as ``{"section", "label", "items"}`` for every section (empty
    ones included). Each item carries its facts as of the meeting:
    ``days_to_renewal`` (from the meeting's local date; negative once past),
    ``days_open`` and ``days_at_tier3`` (until the meeting or the record's
    closing, whichever came first; None when not at tier 3), and
    ``latest_note_text`` / ``latest_note_at`` (the risk's latest timeline note).
    """
    latest_note = TimelineEvent.objects.filter(
        risk=OuterRef("risk"), kind=TimelineKind.NOTE
    ).order_by("-at", "-pk")
    items = (
        AgendaItem.objects.select_related(
            "risk__account__region",
            "risk__account__segment",
            "risk__account__csm__manager",
            "risk__primary_cause",
            "risk__secondary_cause",
        )
        .prefetch_related(*_notes_and_actions())
        .annotate(
            latest_note_text=Subquery(latest_note.values("text")[:1]),
            latest_note_at=Subquery(latest_note.values("at")[:1]),
        )
        .order_by("position", "id")
    )
    agenda = (
        Agenda.objects.select_related("region")
        .prefetch_related(Prefetch("items", queryset=items))
        .get(pk=agenda_id)
    )
    zone = zoneinfo.ZoneInfo(agenda.region.timezone)
    meeting_day = agenda.meeting_at.astimezone(zone).date()
    grouped: dict[str, list[AgendaItem]] = {section.value: [] for section in SECTION_ORDER}
    item_list = list(agenda.items.all())
    for item in item_list:
        risk = item.risk
        until = min(risk.closed_at or agenda.meeting_at, agenda.meeting_at)
        item.days_to_renewal = (risk.account.renewal_date - meeting_day).days
        item.days_open = _days(until, risk.opened_at, zone)
        item.days_at_tier3 = (
            _days(until, risk.tier_changed_at, zone) if risk.tier == Tier.REVIEW else None
        )
        grouped.setdefault(item.section, []).append(item)
    agenda.item_list = item_list
    agenda.sections = [
        {"section": section.value, "label": section.label, "items": grouped[section.value]}
        for section in SECTION_ORDER
    ]
    return agenda


# --- lists ---


def _section_rank() -> Case:
    """Items in the order of the agenda's sections, whatever ``position`` counts."""
    return Case(
        *[When(section=section, then=Value(rank)) for rank, section in enumerate(SECTION_ORDER)],
        default=Value(len(SECTION_ORDER)),
        output_field=IntegerField(),
    )


def _notes_and_actions() -> tuple[Prefetch, Prefetch]:
    """An item's review notes, and every task of its risk record (from any
    source) for ``item_tasks`` to choose from."""
    return (
        Prefetch(
            "notes",
            queryset=ReviewNote.objects.select_related("author").order_by("created_at", "id"),
        ),
        Prefetch(
            "risk__tasks",
            queryset=Task.objects.select_related("owner").order_by(
                F("due_date").asc(nulls_last=True), "id"
            ),
        ),
    )


def item_tasks(item: AgendaItem) -> list[Task]:
    """The tasks an agenda item shows: those agreed on this item (done or
    not), and every other open task of its record — a playbook's, one added by
    hand, one agreed in an earlier review. Open ones first, soonest due first.
    Reads the prefetch of ``_notes_and_actions``: no query."""
    shown = [
        task
        for task in item.risk.tasks.all()
        if task.agenda_item_id == item.pk or task.done_at is None
    ]
    return sorted(shown, key=lambda task: task.done_at is not None)


def agenda_api_queryset() -> QuerySet[Agenda]:
    """Agendas with their items, notes and actions as the API shows them, in a
    fixed number of queries however many agendas and items there are."""
    items = (
        AgendaItem.objects.select_related(
            "risk__account", "risk__primary_cause", "risk__secondary_cause"
        )
        .prefetch_related(*_notes_and_actions())
        .annotate(section_rank=_section_rank())
        .order_by("section_rank", "position", "id")
    )
    return (
        Agenda.objects.select_related("region")
        .prefetch_related(Prefetch("items", queryset=items))
        .order_by("-week_start", "region__code")
    )


def agenda_item_with_work() -> QuerySet[AgendaItem]:
    """Agenda items with what their notes-and-actions block shows."""
    return AgendaItem.objects.select_related(
        "agenda__region", "risk__account__csm"
    ).prefetch_related(*_notes_and_actions())


def review_owner_choices(region: Region) -> list[User]:
    """Who may own an action item of the region's review: its active people."""
    return list(
        User.objects.filter(region=region, is_active=True).order_by(
            "first_name", "last_name", "username"
        )
    )


def agenda_references(events: list[TimelineEvent]) -> References:
    """Names and links of the agendas that review notes and action items on a
    risk's timeline came from (registered with ``risks.timeline``): one query."""
    ids = {
        event.data.get("agenda")
        for event in events
        if event.kind in (TimelineKind.REVIEW_NOTE, TimelineKind.ACTION_ADDED)
        and isinstance(event.data, dict)
    }
    ids = {pk for pk in ids if isinstance(pk, int)}
    if not ids:
        return {}
    return {
        ("agenda", agenda.pk): Link(
            f"{agenda.region.code} review, week of {agenda.week_start:%-d %b %Y}",
            reverse(
                "reviews:agenda",
                kwargs={"region_code": agenda.region.code, "week": agenda.week_start.isoformat()},
            ),
        )
        for agenda in Agenda.objects.filter(pk__in=ids).select_related("region")
    }
