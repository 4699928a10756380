"""Pages of the weekly cross-functional review (docs/domain.md): a region's
agenda for a week, the notes and action items recorded on its items, the
"generate now" button, the calendar invite and the action items across agendas.

Writes go through ``reviews.services``. The note, action and "done" endpoints
serve two callers:

- a plain form post (no JavaScript): a message and a redirect back to the
  agenda page, anchored at the item; on a refusal the agenda page is shown again
  with the errors next to the fields (status 400);
- htmx from the item's block (``HX-Target`` is ``item-<id>-work``): that block,
  re-rendered, always with status 200 because htmx 2 does not swap 4xx answers.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.conf import settings
from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.http import content_disposition_header
from django.views.decorators.http import require_GET, require_POST

from accounts.models import Region, User
from core import dates
from core.exceptions import Conflict, InvalidInput
from core.forms import add_domain_error
from core.redirects import safe_next_url
from notifications import ics as ics_writer
from risks import rules as risk_rules
from risks import services as risk_services
from risks.models import Task

from . import ics, notifications, rules, scheduling, selectors, services
from .forms import ActionItemForm, ReviewNoteForm, action_prefix, note_prefix
from .models import Agenda, AgendaItem, AgendaSection

EMPTY_SECTION_TEXT = {
    AgendaSection.NEW: "No account reached tier 3 since the last review.",
    AgendaSection.CARRIED_OVER: "No tier 3 account is carried over from earlier reviews.",
    AgendaSection.PENDING_ESCALATION: "No escalation to tier 3 is waiting for approval.",
    AgendaSection.RESOLVED: "No tier 3 record was closed since the last review.",
}

# --- URLs ------------------------------------------------------------------------------


def agenda_url(region: Region | str, week_start: dt.date, *, item: int | None = None) -> str:
    code = region if isinstance(region, str) else region.code
    url = reverse("reviews:agenda", args=[code, week_start.isoformat()])
    return f"{url}#item-{item}" if item else url


def _parse_week(value: str) -> dt.date | None:
    try:
        day = dt.date.fromisoformat(value)
    except (TypeError, ValueError):
        return None
    # Weeks at the ends of the calendar would overflow the date arithmetic
    # (previous / next week, time zones); no review is held there.
    return day if dates.in_range(day) else None


# --- the agenda of a region and week -----------------------------------------------------


# A meeting that started less than this long ago is still "the current
# review": people open the page during and just after it to take notes.
MEETING_STAYS_CURRENT = dt.timedelta(hours=12)


def current_week(region: Region, now: dt.datetime) -> dt.date:
    """The week of the meeting in progress (or just over) when it has an agenda
    to take notes on, else the week of the next meeting."""
    week_start, _ = scheduling.next_meeting(region, now)
    previous_week = week_start - dt.timedelta(days=7)
    if (
        now - scheduling.meeting_at_for(region, previous_week) < MEETING_STAYS_CURRENT
        and Agenda.objects.filter(region=region, week_start=previous_week).exists()
    ):
        return previous_week
    return week_start


@require_GET
def index(request: HttpRequest) -> HttpResponse:
    """The current agenda of the user's region, or a choice of regions."""
    region = request.user.region
    now = timezone.now()
    if region is not None:
        return redirect(agenda_url(region, current_week(region, now)))
    regions = []
    for each in Region.objects.order_by("code"):
        _, meeting_at = scheduling.next_meeting(each, now)
        regions.append(
            {
                "region": each,
                "url": agenda_url(each, current_week(each, now)),
                "meeting_at": meeting_at,
            }
        )
    return render(request, "reviews/choose_region.html", {"regions": regions})


@require_GET
def agenda_page(request: HttpRequest, region_code: str, week: str) -> HttpResponse:
    region = get_object_or_404(Region, code=region_code)
    day = _parse_week(week)
    if day is None:
        raise Http404("No such week: give the date of its Monday, e.g. 2025-03-03.")
    week_start = scheduling.week_start_of(day)
    if week_start != day or week != day.isoformat():
        return redirect(agenda_url(region, week_start))
    return _agenda_response(request, region, week_start)


def _agenda_response(
    request: HttpRequest,
    region: Region,
    week_start: dt.date,
    *,
    bound: dict[int, dict[str, Any]] | None = None,
    status: int = 200,
) -> HttpResponse:
    """The agenda page; ``bound`` holds the submitted forms of an item whose
    note or action was refused, so they show their errors."""
    user = request.user
    now = timezone.now()
    agenda_id = (
        Agenda.objects.filter(region=region, week_start=week_start)
        .values_list("pk", flat=True)
        .first()
    )
    agenda = selectors.agenda_with_items(agenda_id) if agenda_id else None
    may_review = rules.can_review(user, region)
    owners = selectors.review_owner_choices(region) if may_review else []

    sections = []
    if agenda is not None:
        for item in agenda.item_list:
            _prepare_item(item, user, may_review, owners, (bound or {}).get(item.pk))
        sections = [
            {
                "key": section["section"],
                "label": section["label"],
                "empty_text": EMPTY_SECTION_TEXT.get(section["section"], "Nothing here."),
                "items": section["items"],
            }
            for section in agenda.sections
        ]

    meeting_at = agenda.meeting_at if agenda else scheduling.meeting_at_for(region, week_start)
    context = {
        "region": region,
        "week_start": week_start,
        "week_end": week_start + dt.timedelta(days=6),
        "agenda": agenda,
        "sections": sections,
        "item_count": sum(len(section["items"]) for section in sections),
        # Rendered with ``|timezone:region.timezone``: the ``date`` filter
        # would turn a plain aware datetime back into the viewer's zone.
        "meeting_at": meeting_at,
        "meeting_viewer": timezone.localtime(meeting_at),
        "viewer_zone": timezone.get_current_timezone_name(),
        "same_zone": timezone.get_current_timezone_name() == region.timezone,
        "meeting_started": now >= meeting_at,
        "generate_at": timezone.localtime(
            meeting_at - dt.timedelta(hours=settings.REVIEW_AGENDA_LEAD_HOURS)
        ),
        "lead_hours": settings.REVIEW_AGENDA_LEAD_HOURS,
        "may_review": may_review,
        "may_generate": rules.can_generate(user, region),
        "previous_url": agenda_url(region, week_start - dt.timedelta(days=7)),
        "next_url": agenda_url(region, week_start + dt.timedelta(days=7)),
        "this_week_url": agenda_url(region, current_week(region, now)),
        "regions": [
            {"region": each, "url": agenda_url(each, week_start), "current": each.pk == region.pk}
            for each in Region.objects.order_by("code")
        ],
    }
    return render(request, "reviews/agenda.html", context, status=status)


def _prepare_item(
    item: AgendaItem,
    user: User,
    may_review: bool,
    owners: list[User],
    bound: dict[str, Any] | None,
) -> None:
    """Attach what the item's block shows: its forms and which actions the user may tick."""
    bound = bound or {}
    item.may_review = may_review
    if may_review:
        item.note_form = bound.get("note") or ReviewNoteForm(prefix=note_prefix(item))
        item.action_form = bound.get("action") or ActionItemForm(
            prefix=action_prefix(item), owners=owners
        )
        item.open_form = bound.get("open", "")
    item.shown_tasks = selectors.item_tasks(item)
    for task in item.shown_tasks:
        task.may_mark = risk_rules.can_mark_task(user, task)


@require_POST
def generate(request: HttpRequest) -> HttpResponse:
    services.ensure_may_generate(request.user)
    region = get_object_or_404(Region, code=request.POST.get("region", ""))
    week_start = _parse_week(request.POST.get("week_start", ""))
    if week_start is not None:
        week_start = scheduling.week_start_of(week_start)
        existed = Agenda.objects.filter(region=region, week_start=week_start).exists()
    else:
        existed = False
    try:
        agenda = services.agenda_generate(region=region, week_start=week_start, user=request.user)
    except (InvalidInput, Conflict) as error:
        messages.error(request, error.message)
        return redirect(agenda_url(region, week_start) if week_start else reverse("reviews:index"))
    count = agenda.items.count()
    items = f"{count} item{'' if count == 1 else 's'}"
    if not existed:
        messages.success(request, f"Agenda generated with {items}. Participants are notified.")
    elif timezone.now() >= agenda.meeting_at:
        messages.warning(
            request, "The meeting has started, so the agenda is frozen: nothing was changed."
        )
    else:
        messages.success(request, f"Agenda refreshed: {items}. Notes and action items were kept.")
    return redirect(agenda_url(region, agenda.week_start))


@require_GET
def calendar(request: HttpRequest, region_code: str, week: str) -> HttpResponse:
    week_start = _parse_week(week)
    if week_start is None:
        raise Http404("No such week.")
    agenda = get_object_or_404(
        Agenda.objects.select_related("region"), region__code=region_code, week_start=week_start
    )
    response = HttpResponse(
        ics.agenda_invite(agenda, url=notifications.agenda_url(agenda), method=ics_writer.PUBLISH),
        content_type="text/calendar; charset=utf-8",
    )
    filename = f"review-{agenda.region.code}-{agenda.week_start.isoformat()}.ics"
    response["Content-Disposition"] = content_disposition_header(True, filename)
    return response


# --- notes and action items on an item ------------------------------------------------


def _load_item(pk: int) -> AgendaItem:
    return get_object_or_404(selectors.agenda_item_with_work(), pk=pk)


def _work_block_id(item: AgendaItem | int) -> str:
    return f"item-{getattr(item, 'pk', item)}-work"


def _from_work_block(request: HttpRequest, item: AgendaItem) -> bool:
    return bool(request.htmx) and request.htmx.target == _work_block_id(item)


def _check_may_review(request: HttpRequest, item: AgendaItem) -> None:
    services.ensure_may_review(request.user, item.agenda.region)


@require_POST
def item_note(request: HttpRequest, pk: int) -> HttpResponse:
    item = _load_item(pk)
    _check_may_review(request, item)
    form = ReviewNoteForm(request.POST, prefix=note_prefix(item))
    text = form.cleaned_data.get("text", "") if form.is_valid() else ""
    try:
        services.review_note_add(user=request.user, item=item, text=text)
    except (InvalidInput, Conflict) as error:
        add_domain_error(form, error)
        return _work_refused(request, item, {"note": form, "open": "note"})
    messages.success(request, "Note added. It is also on the risk's timeline.")
    return _work_done(request, item)


@require_POST
def item_action(request: HttpRequest, pk: int) -> HttpResponse:
    item = _load_item(pk)
    _check_may_review(request, item)
    owners = selectors.review_owner_choices(item.agenda.region)
    form = ActionItemForm(request.POST, prefix=action_prefix(item), owners=owners)
    if not form.is_valid():
        return _work_refused(request, item, {"action": form, "open": "action"})
    try:
        services.action_item_add(
            user=request.user,
            item=item,
            description=form.cleaned_data["description"],
            owner=form.owner_user(),
            department=form.cleaned_data["department"],
            due_date=form.cleaned_data["due_date"],
        )
    except (InvalidInput, Conflict) as error:
        add_domain_error(form, error)
        return _work_refused(request, item, {"action": form, "open": "action"})
    messages.success(request, "Action item added. It is also on the risk's timeline.")
    return _work_done(request, item)


@require_POST
def action_done(request: HttpRequest, pk: int) -> HttpResponse:
    """Mark a task shown on an agenda item done or open again. ``item`` names
    the agenda item whose block the button was in (a task agreed in an
    earlier review shows on later items of the same record too)."""
    task = get_object_or_404(Task.objects.select_related("risk"), pk=pk)
    item = get_object_or_404(
        selectors.agenda_item_with_work(), pk=_int(request.POST.get("item")), risk_id=task.risk_id
    )
    done = request.POST.get("done", "") in ("1", "true", "on")
    try:
        risk_services.task_set_done(user=request.user, task=task, done=done)
    except (InvalidInput, Conflict) as error:
        messages.error(request, error.message)
    else:
        state = "done" if done else "open again"
        messages.success(request, f"Task \u201c{task.title[:60]}\u201d marked {state}.")
    if _from_work_block(request, item):
        return _work_block(request, _load_item(item.pk))
    return redirect(
        safe_next_url(request)
        or agenda_url(item.agenda.region, item.agenda.week_start, item=item.pk)
    )


def _int(value: str | None) -> int:
    try:
        return int(value or "")
    except ValueError:
        raise Http404("No such agenda item.") from None


def _work_done(request: HttpRequest, item: AgendaItem) -> HttpResponse:
    if _from_work_block(request, item):
        return _work_block(request, _load_item(item.pk))
    return redirect(agenda_url(item.agenda.region, item.agenda.week_start, item=item.pk))


def _work_refused(request: HttpRequest, item: AgendaItem, bound: dict[str, Any]) -> HttpResponse:
    if _from_work_block(request, item):
        return _work_block(request, item, bound)
    return _agenda_response(
        request, item.agenda.region, item.agenda.week_start, bound={item.pk: bound}, status=400
    )


def _work_block(
    request: HttpRequest, item: AgendaItem, bound: dict[str, Any] | None = None
) -> HttpResponse:
    """The item's notes and actions block, for htmx to swap in, with the
    page's messages replaced out of band."""
    may_review = rules.can_review(request.user, item.agenda.region)
    owners = selectors.review_owner_choices(item.agenda.region) if may_review else []
    _prepare_item(item, request.user, may_review, owners, bound)
    return render(
        request,
        "reviews/_item_work.html",
        {"item": item, "agenda": item.agenda, "htmx_swap": True},
    )


# --- action items across agendas ----------------------------------------------------------


@require_GET
def action_list(request: HttpRequest) -> HttpResponse:
    """Action items are tasks now: the task list shows them (and every other task)."""
    return redirect(reverse("tasks:index") + "?source=review&scope=all")
