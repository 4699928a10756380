"""Every write of the weekly review: generating a region's
agenda, review notes, action items (tasks on the item's risk record; marking
them done is ``risks.services.task_set_done``).

As in ``risks.services``: keyword-only, one transaction each, row locks where
two callers can race, refusals as ``core.exceptions``, and the timeline event
written (through ``risks.services.timeline_add``) in the same transaction as the
change it records.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import BooleanField, Exists, ExpressionWrapper, OuterRef, Q
from django.utils import timezone

from accounts.models import Region, User
from core.exceptions import Conflict, InvalidInput, NotAllowed
from core.text import too_long
from risks import services as risk_services
from risks.models import (
    CLOSED_STATUSES,
    Escalation,
    EscalationStatus,
    RiskRecord,
    RiskStatus,
    Task,
    TaskSource,
    Tier,
    TimelineKind,
)

from . import integrations, notifications, rules, scheduling
from .models import (
    SECTION_ORDER,
    Agenda,
    AgendaItem,
    AgendaSection,
    AgendaStatus,
    ReviewNote,
)

# The longest action a review may agree, in characters (its first line becomes
# the task's title).
ACTION_TEXT_LIMIT = 4000

_SECTION_RANK = {section.value: rank for rank, section in enumerate(SECTION_ORDER)}


# --- agenda generation ----------------------------------------------------------------


# How far ahead a person may generate an agenda (the scheduler needs no limit:
# it only ever builds the next meeting's).
GENERATE_WEEKS_AHEAD = 8


def ensure_may_generate(user: User, region: Region | None = None) -> None:
    if not rules.can_generate(user):
        raise NotAllowed("Only managers and admins can generate an agenda.")
    if region is not None and not rules.can_generate(user, region):
        raise NotAllowed(
            f"Managers generate agendas only for their own region; {region.code} is not yours."
        )


def _ensure_week_in_reach(region: Region, week_start: dt.date, now: dt.datetime) -> None:
    """On demand, only the current week or one of the next GENERATE_WEEKS_AHEAD:
    an agenda far ahead would mail invites for a meeting nobody plans yet."""
    current = scheduling.week_start_of(now.astimezone(scheduling.zone_of(region)).date())
    last = current + dt.timedelta(weeks=GENERATE_WEEKS_AHEAD)
    if not current <= week_start <= last:
        raise InvalidInput(
            {
                "week_start": [
                    f"Choose the current week or one of the next {GENERATE_WEEKS_AHEAD} "
                    f"(weeks starting {current.isoformat()} to {last.isoformat()})."
                ]
            }
        )


def _previous_meeting_at(region: Region, week_start: dt.date) -> dt.datetime:
    """When the region last met before ``week_start``: the latest earlier
    agenda's meeting, or the same slot a week earlier for a first agenda."""
    previous = (
        Agenda.objects.filter(region=region, week_start__lt=week_start)
        .order_by("-week_start")
        .values_list("meeting_at", flat=True)
        .first()
    )
    return previous or scheduling.previous_meeting_fallback(region, week_start)


def _section_of(risk: dict[str, Any], previous_at: dt.datetime) -> str | None:
    """The agenda section a risk belongs in, or None."""
    if risk["status"] == RiskStatus.OPEN:
        if risk["tier"] == Tier.REVIEW:
            # Tier 3 is only reached through an approved escalation, which sets
            # tier_changed_at; a record de-escalated and escalated again is new again.
            if risk["tier_changed_at"] > previous_at:
                return AgendaSection.NEW
            return AgendaSection.CARRIED_OVER
        if risk["pending_to_review"]:
            return AgendaSection.PENDING_ESCALATION
        return None
    return AgendaSection.RESOLVED if risk["resolved_in_window"] else None


def _target_items(
    agenda: Agenda, previous_at: dt.datetime, kept: dict[int, str]
) -> list[tuple[int, str]]:
    """``(risk_id, section)`` in agenda order. ``kept`` maps the risks of items
    with notes or actions to their current section: they stay on the agenda
    (in that section) even when the risk no longer qualifies. One query."""
    pending_to_review = Escalation.objects.filter(
        risk=OuterRef("pk"), status=EscalationStatus.PENDING, to_tier=Tier.REVIEW
    )
    resolved_in_window = Q(
        status__in=CLOSED_STATUSES,
        max_tier=Tier.REVIEW,
        closed_at__gt=previous_at,
        closed_at__lte=agenda.meeting_at,
    )
    rows = (
        RiskRecord.objects.filter(account__region_id=agenda.region_id)
        .annotate(pending_to_review=Exists(pending_to_review))
        .filter(
            Q(status=RiskStatus.OPEN, tier=Tier.REVIEW)
            | Q(status=RiskStatus.OPEN, pending_to_review=True)
            | resolved_in_window
            | Q(pk__in=list(kept))
        )
        .annotate(
            resolved_in_window=ExpressionWrapper(resolved_in_window, output_field=BooleanField())
        )
        .values(
            "pk",
            "status",
            "tier",
            "tier_changed_at",
            "pending_to_review",
            "resolved_in_window",
            "arr_at_risk",
            "account__renewal_date",
        )
    )
    placed = []
    for risk in rows:
        section = _section_of(risk, previous_at) or kept.get(risk["pk"])
        if section is None:
            continue
        placed.append(
            (
                (
                    _SECTION_RANK[section],
                    risk["account__renewal_date"],
                    -risk["arr_at_risk"],
                    risk["pk"],
                ),
                risk["pk"],
                section,
            )
        )
    placed.sort()
    return [(risk_id, section) for _, risk_id, section in placed]


def _refresh_items(agenda: Agenda) -> None:
    """Bring the items in line with the agenda's sections in a constant
    number of queries. Items carrying notes or action items are never deleted."""
    # Locking the items makes a concurrent review_note_add (which locks its
    # item) either finish first — and then count below — or wait until the
    # refresh has committed.
    existing = {
        item.risk_id: item
        for item in AgendaItem.objects.select_for_update()
        .filter(agenda=agenda)
        .only("id", "risk_id", "section", "position", "agenda_id")
    }
    with_notes = AgendaItem.objects.filter(agenda=agenda).filter(
        Exists(ReviewNote.objects.filter(item=OuterRef("pk")))
        | Exists(Task.objects.filter(agenda_item=OuterRef("pk")))
    )
    kept = dict(with_notes.values_list("risk_id", "section"))
    previous_at = _previous_meeting_at(agenda.region, agenda.week_start)
    target = _target_items(agenda, previous_at, kept)

    to_create: list[AgendaItem] = []
    to_update: list[AgendaItem] = []
    for position, (risk_id, section) in enumerate(target, start=1):
        item = existing.pop(risk_id, None)
        if item is None:
            to_create.append(
                AgendaItem(agenda=agenda, risk_id=risk_id, section=section, position=position)
            )
        elif (item.section, item.position) != (section, position):
            item.section, item.position = section, position
            to_update.append(item)
    # Whatever is left has no notes (those are in ``target`` via ``kept``).
    if existing:
        AgendaItem.objects.filter(pk__in=[item.pk for item in existing.values()]).delete()
    if to_update:
        AgendaItem.objects.bulk_update(to_update, ["section", "position"])
    if to_create:
        AgendaItem.objects.bulk_create(to_create)


def _create_agenda(
    region: Region, week_start: dt.date, meeting_at: dt.datetime, now: dt.datetime
) -> tuple[Agenda, bool]:
    try:
        # The region lock already serialises generation; the savepoint only
        # guards against a writer that bypassed it (the unique constraint wins).
        with transaction.atomic():
            agenda = Agenda.objects.create(
                region=region, week_start=week_start, meeting_at=meeting_at, generated_at=now
            )
    except IntegrityError:
        return Agenda.objects.select_for_update().get(region=region, week_start=week_start), False
    return agenda, True


@transaction.atomic
def agenda_generate(
    *,
    region: Region | int,
    week_start: dt.date | None = None,
    user: User | None = None,
    now: dt.datetime | None = None,
) -> Agenda:
    """Generate (or refresh) the region's agenda for the week of ``week_start``
    (default: the week of its next meeting). ``user`` None is the scheduler.

    Idempotent and safe under concurrency: the region row is locked first, so
    every generation of one region runs one after the other and (region,
    week_start) stays unique. Before ``meeting_at`` a second call refreshes the
    items (keeping those with notes or action items); from ``meeting_at`` on the
    agenda is frozen and returned as it is (marked held). An agenda is never
    first created once its meeting has started: it would describe today, not
    the meeting.
    """
    now = now or timezone.now()
    region_pk = region.pk if isinstance(region, Region) else region
    region = Region.objects.select_for_update().get(pk=region_pk)
    if user is not None:
        ensure_may_generate(user, region)
    if week_start is None:
        week_start, meeting_at = scheduling.next_meeting(region, now)
    else:
        week_start = scheduling.week_start_of(week_start)
        meeting_at = scheduling.meeting_at_for(region, week_start)
    if user is not None:
        _ensure_week_in_reach(region, week_start, now)

    existing = (
        Agenda.objects.select_for_update().filter(region=region, week_start=week_start).first()
    )
    if existing is not None and now >= existing.meeting_at:
        if existing.status != AgendaStatus.HELD:
            existing.status = AgendaStatus.HELD
            existing.save(update_fields=["status"])
        return existing
    if existing is None and now >= meeting_at:
        raise Conflict(
            f"The {region.code} review of the week of {week_start:%d %b %Y} has already "
            "started; its agenda can no longer be generated."
        )

    if existing is None:
        agenda, created = _create_agenda(region, week_start, meeting_at, now)
    else:
        agenda, created = existing, False
    agenda.region = region
    if not created:
        # The region's slot may have moved since the agenda was first generated.
        agenda.meeting_at = meeting_at
        agenda.generated_at = now
        agenda.save(update_fields=["meeting_at", "generated_at"])
    _refresh_items(agenda)
    if created:
        # Inside the transaction: the outbox row commits with the agenda.
        notifications.agenda_generated(agenda)
        integrations.agenda_generated(agenda, user=user)
    return agenda


# --- review notes and action items -------------------------------------------------


def _lock_item(item: AgendaItem | int) -> AgendaItem:
    pk = item.pk if isinstance(item, AgendaItem) else item
    try:
        return (
            AgendaItem.objects.select_for_update(of=("self",))
            .select_related("agenda__region", "risk")
            .get(pk=pk)
        )
    except AgendaItem.DoesNotExist:
        raise Conflict(
            "This agenda item is no longer on the agenda (it was refreshed); reload it."
        ) from None


def ensure_may_review(user: User, region: Region) -> None:
    """Reviewers and managers of the region, and admins, write on its agendas."""
    if not rules.can_review(user, region):
        raise NotAllowed(
            f"Only reviewers and managers of {region.code}, or an admin, can write on this agenda."
        )


def _ensure_reviewer(user: User, item: AgendaItem) -> None:
    ensure_may_review(user, item.agenda.region)


def _timeline(item: AgendaItem, kind: str, user: User, *, at: dt.datetime, text: str, **data):
    """The event on the risk's timeline, naming the agenda by region and week so
    the timeline can say which review it was and link to it."""
    agenda = item.agenda
    return risk_services.timeline_add(
        risk=item.risk,
        kind=kind,
        actor=user,
        at=at,
        text=text,
        data={
            "agenda": agenda.pk,
            "region": agenda.region.code,
            "week_start": agenda.week_start.isoformat(),
            "item": item.pk,
            **data,
        },
    )


@transaction.atomic
def review_note_add(*, user: User, item: AgendaItem | int, text: str) -> ReviewNote:
    """A note taken in the review. Allowed on a frozen agenda too: notes are
    written during and after the meeting."""
    item = _lock_item(item)
    _ensure_reviewer(user, item)
    text = (text or "").strip()
    if not text:
        raise InvalidInput({"text": ["Write the note."]})
    now = timezone.now()
    note = ReviewNote.objects.create(item=item, author=user, text=text, created_at=now)
    _timeline(item, TimelineKind.REVIEW_NOTE, user, at=now, text=text, note=note.pk)
    return note


@transaction.atomic
def action_item_add(
    *,
    user: User,
    item: AgendaItem | int,
    description: str,
    owner: User | int | None = None,
    department: str = "",
    due_date: dt.date | str | None = None,
) -> Task:
    """An action agreed in the review: a task on the item's risk record
    (source ``review``), optionally with an owner, a department and a due
    date. It also appears on the risk's timeline, naming the review."""
    item = _lock_item(item)
    _ensure_reviewer(user, item)
    errors: dict[str, list[str]] = {}
    text = (description or "").strip()
    if not text:
        errors["description"] = ["Describe the action."]
    elif len(text) > ACTION_TEXT_LIMIT:
        errors["description"] = [too_long(ACTION_TEXT_LIMIT, len(text))]
    department = risk_services.parse_department(department, errors)
    owner_user = risk_services.parse_owner(owner, errors)
    due = risk_services.parse_due_date(due_date, errors, required=False)
    if errors:
        raise InvalidInput(errors)
    title, details = risk_services.task_text(text)
    agenda = item.agenda
    return risk_services.task_create(
        risk=item.risk,
        created_by=user,
        title=title,
        description=details,
        owner=owner_user,
        department=department,
        due_date=due,
        source=TaskSource.REVIEW,
        agenda_item_id=item.pk,
        timeline_kind=TimelineKind.ACTION_ADDED,
        # The timeline keeps the action as the review wrote it.
        timeline_text=text,
        timeline_data={
            "agenda": agenda.pk,
            "region": agenda.region.code,
            "week_start": agenda.week_start.isoformat(),
            "item": item.pk,
        },
    )
