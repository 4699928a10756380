"""The risk detail page, its actions (note, escalate, de-escalate, close) and
the edit page.

Each action is a plain POST form that redirects back to the detail page with a
message; on a refusal the detail page is shown again with the errors next to
the fields and that action's block open. Which actions are offered follows
``risks.rules``; the services decide (and enforce) the rest. Approving and
rejecting a pending escalation post to ``risks:approve`` / ``risks:reject``
(risks/views/approvals.py) with ``next`` pointing back here.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django import forms
from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_POST

from accounts.models import User
from core.exceptions import Conflict, InvalidInput
from core.forms import add_domain_error
from risks import rules, selectors, services
from risks.forms import (
    EscalationReasonForm,
    RiskCloseForm,
    RiskDeescalateForm,
    RiskEditForm,
    RiskNoteEntryForm,
    detail_link,
)
from risks.models import (
    Escalation,
    EscalationStatus,
    RiskRecord,
    RiskStatus,
    RootCause,
)
from risks.templatetags.risk_tags import money
from risks.timeline import FIELD_LABELS, LONG_FIELDS, MONEY_FIELDS, timeline_entries
from risks.views.tasks import new_task_form, record_tasks_context


def detail_url(risk: RiskRecord) -> str:
    return reverse("risks:detail", args=[risk.pk])


def _closed_message(risk: RiskRecord) -> str:
    return f"This record was closed as {risk.get_status_display().lower()} and is read-only."


def _load(pk: int) -> RiskRecord:
    return get_object_or_404(selectors.risk_detail_queryset(), pk=pk)


# --- the page ---------------------------------------------------------------------------


def _allowed(user: User, risk: RiskRecord, pending: Escalation | None) -> dict[str, bool]:
    """What this user may do to this record now: the page offers only that."""
    work = risk.is_open and rules.can_work_on(user, risk)
    return {
        "note": work,
        "edit": work,
        "close": work,
        "escalate": work and not risk.is_top_tier and pending is None,
        "deescalate": risk.is_open and not risk.is_bottom_tier and rules.can_deescalate(user, risk),
        # A request by someone who may decide is approved at once.
        "escalate_at_once": rules.can_decide_escalations(user, risk),
        "decide": risk.is_open and pending is not None and rules.can_decide_escalations(user, risk),
    }


def _action_form(name: str, risk: RiskRecord, data: Any = None) -> forms.Form:
    """The form of one action, bound to ``data`` if given. Several forms share
    the page, so each gets its own id prefix (the field names stay plain)."""
    auto_id = f"{name}_%s"
    if name == "task":
        return new_task_form(risk, data)
    if name == "note":
        return RiskNoteEntryForm(data, auto_id=auto_id)
    if name == "escalate":
        return EscalationReasonForm(data, auto_id=auto_id)
    form_class = RiskDeescalateForm if name == "deescalate" else RiskCloseForm
    return form_class(data, risk=risk, initial={"version": risk.version}, auto_id=auto_id)


def _detail_context(
    request: HttpRequest,
    risk: RiskRecord,
    *,
    bound: dict[str, forms.Form] | None = None,
    open_action: str | None = None,
) -> dict[str, Any]:
    escalations = selectors.risk_escalations(risk)
    pending = next((e for e in escalations if e.status == EscalationStatus.PENDING), None)
    allowed = _allowed(request.user, risk, pending)
    bound = bound or {}
    action_forms = {
        name: bound.get(name) or _action_form(name, risk)
        for name in ("note", "escalate", "deescalate", "close")
        if allowed[name]
    }
    for name, form in bound.items():
        if name not in action_forms:
            # The action is no longer offered (e.g. an escalation is now
            # pending, or the tier changed): its errors go above the page.
            for error in form.errors.get("__all__", []):
                messages.error(request, error)
    today = timezone.localdate()
    end = timezone.localtime(risk.closed_at).date() if risk.closed_at else today
    renewal_days = (risk.account.renewal_date - today).days
    return {
        "risk": risk,
        "account": risk.account,
        "timeline": timeline_entries(selectors.risk_timeline(risk), current_summary=risk.summary),
        "escalations": escalations,
        "pending": pending,
        "allowed": allowed,
        "forms": action_forms,
        "open_action": open_action,
        "days_open": (end - timezone.localtime(risk.opened_at).date()).days,
        "renewal_days": renewal_days,
        "renewal_days_ago": -renewal_days,
        "next_url": detail_url(risk),
        "task_form": bound.get("task") or new_task_form(risk),
        **record_tasks_context(request, risk),
    }


def risk_detail(request: HttpRequest, pk: int) -> HttpResponse:
    risk = _load(pk)
    return render(request, "risks/detail.html", _detail_context(request, risk))


# --- actions ------------------------------------------------------------------------------

Perform = Callable[[User, RiskRecord, dict[str, Any]], str]


def _run_action(
    request: HttpRequest,
    pk: int,
    *,
    name: str,
    guard: Callable[[User, RiskRecord], None],
    perform: Perform,
) -> HttpResponse:
    risk = _load(pk)
    # The service's own check, asked before the form is read: a refusal is the
    # 403 page whatever was posted.
    guard(request.user, risk)
    if not risk.is_open:
        # No form is offered on a closed record, so field errors would have
        # nowhere to show: say it above the page (the service refuses it too).
        messages.error(request, _closed_message(risk))
        if name == "note" and request.htmx:
            return _render_timeline_panel(request, risk, note_form=None)
        return _render_detail(request, risk, status=409)
    form = _action_form(name, risk, request.POST)
    status = 400
    if form.is_valid():
        try:
            message = perform(request.user, risk, form.cleaned_data)
        except Conflict as error:
            status = 409
            risk = _load(pk)
            if not risk.is_open:
                # The record was closed meanwhile: no form is offered any more,
                # so say it above the (now read-only) page.
                messages.error(request, error.message)
                if name == "note" and request.htmx:
                    return _render_timeline_panel(request, risk, note_form=None)
                return _render_detail(request, risk, status=status)
            add_domain_error(form, error, existing_link=detail_link)
            if "version" in form.fields:
                # The page now shows the current record: submitting again applies
                # the change to what the user sees.
                # (The errors stay: only the data the form shows is replaced.)
                data = request.POST.copy()
                data["version"] = str(risk.version)
                form.data = data
        except InvalidInput as error:
            add_domain_error(form, error, existing_link=detail_link)
        else:
            messages.success(request, message)
            if name == "note" and request.htmx:
                return _render_timeline_panel(request, _load(pk), note_form=None)
            return redirect(detail_url(risk))
    if name == "note" and request.htmx:
        return _render_timeline_panel(request, risk, note_form=form)
    return _render_detail(request, risk, bound={name: form}, open_action=name, status=status)


def _render_detail(
    request: HttpRequest,
    risk: RiskRecord,
    *,
    bound: dict[str, forms.Form] | None = None,
    open_action: str | None = None,
    status: int = 200,
) -> HttpResponse:
    context = _detail_context(request, risk, bound=bound, open_action=open_action)
    return render(request, "risks/detail.html", context, status=status)


def _render_timeline_panel(
    request: HttpRequest, risk: RiskRecord, *, note_form: forms.Form | None
) -> HttpResponse:
    """The htmx answer to "add note": the timeline with the note form, plus the
    messages out of band. Always 200, because htmx swaps no 4xx answer; the
    errors are in the returned form."""
    may_note = risk.is_open and rules.can_work_on(request.user, risk)
    context = {
        "risk": risk,
        "timeline": timeline_entries(selectors.risk_timeline(risk), current_summary=risk.summary),
        "forms": {"note": note_form or _action_form("note", risk)} if may_note else {},
        "open_action": "note",
        "htmx_swap": True,
    }
    return render(request, "risks/_detail_timeline.html", context)


@require_POST
def risk_note(request: HttpRequest, pk: int) -> HttpResponse:
    def perform(user: User, risk: RiskRecord, data: dict[str, Any]) -> str:
        services.risk_add_note(user=user, risk=risk.pk, text=data["text"])
        return "Note added to the timeline."

    return _run_action(
        request,
        pk,
        name="note",
        guard=lambda user, risk: services.ensure_may_work_on(user, risk, "add notes to"),
        perform=perform,
    )


@require_POST
def risk_task_add(request: HttpRequest, pk: int) -> HttpResponse:
    def perform(user: User, risk: RiskRecord, data: dict[str, Any]) -> str:
        task = services.task_add(
            user=user,
            risk=risk.pk,
            title=data["title"],
            description=data["description"],
            owner=data["owner"],
            department=data["department"],
            due_date=data["due_date"],
        )
        return f"Task \u201c{task.title[:80]}\u201d added."

    def guard(user: User, risk: RiskRecord) -> None:
        services.ensure_may_work_on(user, risk, "add tasks to")

    return _run_action(request, pk, name="task", guard=guard, perform=perform)


@require_POST
def risk_escalate(request: HttpRequest, pk: int) -> HttpResponse:
    def perform(user: User, risk: RiskRecord, data: dict[str, Any]) -> str:
        escalation = services.escalation_request(user=user, risk=risk.pk, reason=data["reason"])
        if escalation.status == EscalationStatus.APPROVED:
            return f"Escalated to tier {escalation.to_tier}."
        return (
            f"Escalation to tier {escalation.to_tier} requested. "
            "It waits for the manager's decision."
        )

    return _run_action(
        request,
        pk,
        name="escalate",
        guard=lambda user, risk: services.ensure_may_work_on(user, risk, "escalate"),
        perform=perform,
    )


@require_POST
def risk_deescalate(request: HttpRequest, pk: int) -> HttpResponse:
    def perform(user: User, risk: RiskRecord, data: dict[str, Any]) -> str:
        risk = services.risk_deescalate(
            user=user,
            risk=risk.pk,
            to_tier=data["to_tier"],
            note=data["note"],
            version=data["version"],
        )
        return f"De-escalated to tier {risk.tier}."

    return _run_action(
        request,
        pk,
        name="deescalate",
        guard=services.ensure_may_deescalate,
        perform=perform,
    )


@require_POST
def risk_close(request: HttpRequest, pk: int) -> HttpResponse:
    def perform(user: User, risk: RiskRecord, data: dict[str, Any]) -> str:
        risk = services.risk_close(
            user=user,
            risk=risk.pk,
            outcome=data["outcome"],
            note=data["note"],
            arr_retained=data["arr_retained"],
            version=data["version"],
        )
        message = f"Closed as {risk.get_status_display().lower()}."
        if risk.status == RiskStatus.SAVED:
            message += f" ARR retained: {money(risk.arr_retained)} of {money(risk.arr_at_risk)}."
        return message

    return _run_action(
        request,
        pk,
        name="close",
        guard=lambda user, risk: services.ensure_may_work_on(user, risk, "close"),
        perform=perform,
    )


# --- edit ---------------------------------------------------------------------------------


@dataclass
class Difference:
    label: str
    saved: str
    yours: str
    long: bool = False


def _comparable(name: str, value: Any) -> Any:
    if isinstance(value, RootCause):
        return value.pk
    if isinstance(value, Decimal):
        return value.quantize(Decimal("0.01"))
    if isinstance(value, str):
        return value.strip().replace("\r\n", "\n")
    return value


def _show_value(name: str, value: Any) -> str:
    if value in (None, ""):
        return "—"
    if isinstance(value, RootCause):
        return value.name
    if name in MONEY_FIELDS:
        return money(value)
    return str(value)


def _loaded_values(risk: RiskRecord) -> dict[str, str]:
    """The editable values of ``risk`` as the edit form carries them in hidden
    ``loaded_<field>`` inputs: what the user started from."""
    return {
        "primary_cause": str(risk.primary_cause_id or ""),
        "secondary_cause": str(risk.secondary_cause_id or ""),
        "summary": risk.summary,
        "next_steps": risk.next_steps,
        "arr_at_risk": str(risk.arr_at_risk),
    }


def _posted_loaded_values(post: Any, risk: RiskRecord) -> dict[str, str]:
    """The ``loaded_<field>`` values a form posted, the record's own where one is missing."""
    fallback = _loaded_values(risk)
    return {name: post.get(f"loaded_{name}", fallback[name]) for name in fallback}


def _same_as_loaded(name: str, mine: Any, loaded: str) -> bool:
    if isinstance(mine, RootCause) or mine is None:
        return str(mine.pk if mine else "") == loaded.strip()
    if isinstance(mine, Decimal):
        try:
            return _comparable(name, mine) == _comparable(name, Decimal(loaded.strip()))
        except ArithmeticError:
            return False
    return _comparable(name, mine) == _comparable(name, loaded)


def _changed_fields(yours: dict[str, Any], post: Any) -> list[str]:
    """The editable fields the user changed: their value differs from the
    ``loaded_<field>`` value the page was loaded with. A post without it (an
    older page, a script) counts the field as changed."""
    return [
        name
        for name in services.EDITABLE_FIELDS
        if f"loaded_{name}" not in post
        or not _same_as_loaded(name, yours.get(name), post[f"loaded_{name}"])
    ]


def _edit_differences(
    current: RiskRecord, yours: dict[str, Any], changed: list[str]
) -> list[Difference]:
    """The fields the user changed whose value differs from the saved record:
    what saving again would replace. Fields the user left alone are not
    proposed, whatever someone else saved in them."""
    differences = []
    for name in changed:
        saved, mine = getattr(current, name), yours.get(name)
        if _comparable(name, saved) == _comparable(name, mine):
            continue
        differences.append(
            Difference(
                label=FIELD_LABELS[name],
                saved=_show_value(name, saved),
                yours=_show_value(name, mine),
                long=name in LONG_FIELDS,
            )
        )
    return differences


def risk_edit(request: HttpRequest, pk: int) -> HttpResponse:
    risk = _load(pk)
    services.ensure_may_work_on(request.user, risk, "edit")
    if not risk.is_open:
        messages.error(request, _closed_message(risk))
        return redirect(detail_url(risk))
    keep = (risk.primary_cause, risk.secondary_cause)
    differences: list[Difference] = []
    loaded = _loaded_values(risk)
    status = 200
    if request.method == "POST":
        form = RiskEditForm(request.POST, keep_causes=keep)
        loaded = _posted_loaded_values(request.POST, risk)
        status = 400
        if form.is_valid():
            data = form.cleaned_data
            # Only what the user changed is sent: a field they left alone keeps
            # whatever is saved, even if someone else changed it meanwhile.
            changed = _changed_fields(data, request.POST)
            if not changed:
                messages.info(request, "Nothing to save: no field was changed.")
                return redirect(detail_url(risk))
            try:
                updated = services.risk_edit(
                    user=request.user,
                    risk=risk.pk,
                    version=data["version"],
                    **{name: data[name] for name in changed},
                    arr_above_account_reason=data.get("arr_above_account_reason", ""),
                )
            except Conflict as error:
                current = error.existing if isinstance(error.existing, RiskRecord) else None
                if current is None or not current.is_open:
                    messages.error(request, error.message)
                    return redirect(detail_url(risk))
                differences = _edit_differences(current, data, changed)
                if not differences:
                    messages.info(
                        request, "Nothing to save: the saved record already has your changes."
                    )
                    return redirect(detail_url(current))
                # The form now starts from the current record: the fields the
                # user changed keep their text, the others show what is saved,
                # and version and loaded_<field> are the current ones, so saving
                # again replaces exactly the listed fields, deliberately.
                loaded = _loaded_values(current)
                fresh = request.POST.copy()
                fresh["version"] = str(current.version)
                for name in services.EDITABLE_FIELDS:
                    if name not in changed:
                        fresh[name] = loaded[name]
                form = RiskEditForm(
                    fresh, keep_causes=(*keep, current.primary_cause, current.secondary_cause)
                )
                form.is_valid()
                form.add_error(
                    None,
                    "Someone else saved changes to this record after you opened it "
                    f"(you had version {data['version']}, it is now version {current.version}). "
                    "Your changes are kept below and the other fields now show the saved "
                    "values. Compare your changes with the saved values, then save again to "
                    "replace them with yours, or cancel to keep what is saved.",
                )
                risk = current
                status = 409
            except InvalidInput as error:
                add_domain_error(form, error, existing_link=detail_link)
            else:
                if updated.version == risk.version:
                    messages.info(request, "Nothing to save: no field was changed.")
                else:
                    messages.success(request, "Changes saved and recorded on the timeline.")
                return redirect(detail_url(updated))
    else:
        form = RiskEditForm(
            initial={
                "primary_cause": risk.primary_cause_id,
                "secondary_cause": risk.secondary_cause_id,
                "summary": risk.summary,
                "next_steps": risk.next_steps,
                "arr_at_risk": risk.arr_at_risk,
                "version": risk.version,
            },
            keep_causes=keep,
        )
    context = {
        "risk": risk,
        "account": risk.account,
        "form": form,
        "differences": differences,
        "loaded": loaded,
    }
    return render(request, "risks/edit.html", context, status=status)
