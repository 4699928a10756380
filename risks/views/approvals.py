"""The approval queue and the approve / reject endpoints.

The endpoints serve three callers:

- a plain form post (no JavaScript), from the queue, the home page or the risk
  detail page: a message and a redirect to ``next``;
- htmx from a row of the queue (its ``HX-Target`` is that row): the row itself,
  updated, always with status 200 because htmx 2 does not swap 4xx responses;
- htmx from anywhere else: a message and a client-side redirect to ``next``.
"""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

from django import forms
from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils.http import urlencode
from django.views.decorators.http import require_http_methods, require_POST
from django_htmx.http import HttpResponseClientRedirect

from accounts.models import Region
from core.exceptions import Conflict, InvalidInput, NotAllowed
from core.forms import add_domain_error
from core.redirects import safe_next_url

from .. import selectors, services
from ..models import Escalation, EscalationStatus

QUEUE_FORBIDDEN = "Only managers and admins approve escalations."


class RejectForm(forms.Form):
    # Not ``required`` here: services.escalation_reject owns the rule and its
    # message; the browser's ``required`` only saves a round trip.
    note = forms.CharField(
        label="Why is it rejected?",
        required=False,
        widget=forms.Textarea(attrs={"rows": 4, "required": True}),
        help_text="Required. The CSM sees this note on the risk's timeline.",
    )
    next = forms.CharField(required=False, widget=forms.HiddenInput)


def approval_queue(request: HttpRequest) -> HttpResponse:
    user = request.user
    if not (user.is_manager or user.is_cs_admin):
        raise PermissionDenied(QUEUE_FORBIDDEN)
    regions = Region.objects.all() if user.is_cs_admin else Region.objects.none()
    region_code = request.GET.get("region", "") if user.is_cs_admin else ""
    escalations = selectors.with_waiting_time(
        selectors.approval_queue(user, region_code=region_code or None)
    )
    return render(
        request,
        "risks/approvals.html",
        {
            "escalations": escalations,
            "overdue_count": sum(1 for escalation in escalations if escalation.overdue),
            "regions": regions,
            "region_code": region_code,
            "next_url": request.get_full_path(),
        },
    )


@require_POST
def escalation_approve(request: HttpRequest, pk: int) -> HttpResponse:
    escalation = get_object_or_404(selectors.escalation_queryset(), pk=pk)
    next_url = _next_url(request, escalation)
    note = request.POST.get("note", "")
    try:
        decided = services.escalation_approve(user=request.user, escalation=escalation, note=note)
    except NotAllowed as error:
        return _refused(request, escalation, next_url, error, forbidden=True)
    except (Conflict, InvalidInput) as error:
        return _refused(request, escalation, next_url, error)
    if _from_queue_row(request, escalation):
        return _row(request, pk, next_url, outcome=f"Approved — now tier {decided.to_tier}.")
    messages.success(
        request, f"Approved: {escalation.risk.account} moves to tier {decided.to_tier}."
    )
    return _redirect(request, next_url)


@require_http_methods(["GET", "POST"])
def escalation_reject(request: HttpRequest, pk: int) -> HttpResponse:
    escalation = get_object_or_404(selectors.escalation_queryset(), pk=pk)
    next_url = _next_url(request, escalation)
    if request.method == "GET":
        services.ensure_may_decide(request.user, escalation.risk)
        form = RejectForm(initial={"next": next_url})
        return _reject_page(request, escalation, form, next_url)

    form = RejectForm(request.POST)
    note = form.cleaned_data["note"] if form.is_valid() else request.POST.get("note", "")
    try:
        decided = services.escalation_reject(user=request.user, escalation=escalation, note=note)
    except NotAllowed as error:
        return _refused(request, escalation, next_url, error, forbidden=True)
    except Conflict as error:
        return _refused(request, escalation, next_url, error)
    except InvalidInput as error:
        if _from_queue_row(request, escalation):
            message = " ".join(error.errors.get("note", [])) or error.message
            return _row(request, escalation.pk, next_url, note_error=message, note=note)
        if request.htmx:
            # Another page's htmx form: the standalone page shows the error.
            return HttpResponseClientRedirect(
                reverse("risks:reject", args=[escalation.pk]) + "?" + urlencode({"next": next_url})
            )
        add_domain_error(form, error)
        return _reject_page(request, escalation, form, next_url, status=400)
    if _from_queue_row(request, escalation):
        return _row(request, pk, next_url, outcome=f"Rejected — stays at tier {decided.from_tier}.")
    messages.success(
        request,
        f"Rejected: {escalation.risk.account} stays at tier {decided.from_tier}. "
        "The CSM sees your note on the timeline.",
    )
    return _redirect(request, next_url)


# --- helpers -------------------------------------------------------------------------


def _next_url(request: HttpRequest, escalation: Escalation) -> str:
    """Where to go after a decision: ``next`` if it stays on this site, else the risk."""
    return safe_next_url(request) or reverse("risks:detail", args=[escalation.risk_id])


def _from_queue_row(request: HttpRequest, escalation: Escalation) -> bool:
    return bool(request.htmx) and request.htmx.target == _row_id(escalation.pk)


def _row_id(pk: int) -> str:
    return f"escalation-{pk}"


def _row(
    request: HttpRequest,
    pk: int,
    next_url: str,
    *,
    outcome: str = "",
    error: str = "",
    note_error: str = "",
    note: str = "",
) -> HttpResponse:
    """The queue row of escalation ``pk`` as it is now, for htmx to swap in."""
    escalation = selectors.with_waiting_time(selectors.escalation_queryset().filter(pk=pk))[0]
    row = render_to_string(
        "risks/_approval_row.html",
        {
            "escalation": escalation,
            "next_url": next_url,
            "outcome": outcome,
            "row_error": error,
            "note_error": note_error,
            "reject_note": note,
        },
        request=request,
    )
    return HttpResponse(row + _counts_oob(request, next_url))


def _counts_oob(request: HttpRequest, next_url: str) -> str:
    """The queue's counters as they are now, as out-of-band swaps: the page the
    row is on (the queue or a home page) shows them above its table. An admin's
    queue filtered by region (``next`` is that page) counts that region only."""
    user = request.user
    region_code = None
    if user.is_cs_admin:
        region_code = parse_qs(urlsplit(next_url).query).get("region", [""])[0] or None
    queue = selectors.with_waiting_time(selectors.approval_queue(user, region_code=region_code))
    return render_to_string(
        "risks/_approval_counts.html",
        {
            "oob": True,
            "waiting_count": len(queue),
            "overdue_count": sum(1 for escalation in queue if escalation.overdue),
        },
        request=request,
    )


def _refused(
    request: HttpRequest,
    escalation: Escalation,
    next_url: str,
    error: NotAllowed | Conflict | InvalidInput,
    *,
    forbidden: bool = False,
) -> HttpResponse:
    if _from_queue_row(request, escalation):
        return _row(request, escalation.pk, next_url, error=error.message)
    if forbidden and not request.htmx:
        raise PermissionDenied(error.message)
    messages.error(request, error.message)
    return _redirect(request, next_url)


def _redirect(request: HttpRequest, next_url: str) -> HttpResponse:
    if request.htmx:
        return HttpResponseClientRedirect(next_url)
    return redirect(next_url)


def _reject_page(
    request: HttpRequest,
    escalation: Escalation,
    form: RejectForm,
    next_url: str,
    *,
    status: int = 200,
) -> HttpResponse:
    escalation = selectors.with_waiting_time([escalation])[0]
    return render(
        request,
        "risks/reject.html",
        {
            "escalation": escalation,
            "risk": escalation.risk,
            "form": form,
            "next_url": next_url,
            "is_pending": escalation.status == EscalationStatus.PENDING,
        },
        status=status,
    )
