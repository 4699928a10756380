"""Filing a risk record (docs/domain.md).

One URL serves the page, its form, and two htmx fragments: the account list
narrowed as the user types (``?partial=accounts``) and the "ARR at risk" field
refilled when the account changes (``?partial=arr``), which also brings the
account's health badge and the primary causes, those suggested by its red
health measures first, out of band. Without JavaScript the search box is an
ordinary GET form, the ARR field is simply left empty, and the badge and
suggestions show for the account the page was opened with (``?account=``) or
once the form comes back with errors.
"""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse

from accounts.models import Account, User
from core.exceptions import Conflict, InvalidInput
from core.forms import add_domain_error
from health.selectors import red_measures, with_health_trend
from risks import selectors, services
from risks.forms import RiskFileForm, detail_link
from risks.models import RiskRecord
from risks.templatetags.risk_tags import money


def detail_url(risk: RiskRecord) -> str:
    return reverse("risks:detail", args=[risk.pk])


def _may_file_anything(user: User) -> bool:
    # The roles that can own or manage accounts; rules.can_file_on then decides
    # account by account (and the service enforces it).
    return user.is_csm or user.is_manager or user.is_cs_admin


def _account_label(account: Account) -> str:
    label = f"{account.name} — {account.region.code} — ARR {money(account.arr)}"
    if getattr(account, "open_risk_id", None):
        # Said up front, so nobody writes a whole record only to be refused.
        label += f" — already has open record #{account.open_risk_id}"
    return label


def _account_choices(
    user: User, search: str, selected: Account | None
) -> tuple[list[tuple[Any, str]], bool]:
    """The options of the account select, at most ACCOUNT_CHOICES_LIMIT of them
    (and whether the list was cut). The selected account stays listed even when
    the search or the cap would drop it, so a choice is never lost silently."""
    limit = selectors.ACCOUNT_CHOICES_LIMIT
    accounts = list(selectors.fileable_accounts(user, search=search)[: limit + 1])
    capped = len(accounts) > limit
    accounts = accounts[:limit]
    if selected is not None and selected.pk not in {account.pk for account in accounts}:
        accounts.insert(0, selected)
    return [(account.pk, _account_label(account)) for account in accounts], capped


def _selected_account(user: User, raw: str | None) -> Account | None:
    """The account named by ``raw`` if the user may file on it, else None; with
    its score of 30 days ago for the health badge."""
    if not raw or not str(raw).isdigit():
        return None
    return with_health_trend(selectors.fileable_accounts(user).filter(pk=int(raw))).first()


def _suggested_causes(account: Account | None) -> dict[int, str]:
    """Cause id → why it is suggested, for the causes the account's red health
    measures suggest, the reddest measure's cause first."""
    if account is None:
        return {}
    reasons: dict[int, list[str]] = {}
    for cause_id, measure_name, score in red_measures(account.pk):
        reasons.setdefault(cause_id, []).append(f"{measure_name} (score {score:.0f})")
    return {
        cause_id: "Red health measure: " + ", ".join(names)
        if len(names) == 1
        else "Red health measures: " + ", ".join(names)
        for cause_id, names in reasons.items()
    }


def _add_service_errors(user: User, form: RiskFileForm) -> None:
    """The form found errors of its own: add what the service would also say
    about the fields the form accepted, so every error shows at once."""
    data = form.cleaned_data
    account = data.get("account")
    if account is None:
        return
    errors = services.risk_open_field_errors(
        user=user,
        account=account,
        primary_cause=data.get("primary_cause"),
        secondary_cause=data.get("secondary_cause"),
        summary=data.get("summary", ""),
        next_steps=data.get("next_steps", ""),
        arr_at_risk=data.get("arr_at_risk"),
        arr_above_account_reason=data.get("arr_above_account_reason", ""),
    )
    for field, messages_ in errors.items():
        if field in form.fields and field in data and field not in form.errors:
            form.add_error(field, messages_)


def risk_file(request: HttpRequest) -> HttpResponse:
    user = request.user
    if not _may_file_anything(user):
        raise PermissionDenied(
            f"Risk records are filed by CSMs, managers and CS operations admins; as a "
            f"{user.get_role_display().lower()} you can read every record but not file one."
        )
    search = request.GET.get("q", "").strip()
    source = request.POST if request.method == "POST" else request.GET
    selected = _selected_account(user, source.get("account"))
    choices, capped = _account_choices(user, search, selected)
    suggested = _suggested_causes(selected)

    if request.method == "POST":
        form = RiskFileForm(request.POST, account_choices=choices, suggested_causes=suggested)
        if form.is_valid():
            data = form.cleaned_data
            try:
                risk = services.risk_open(
                    user=user,
                    account=data["account"],
                    primary_cause=data["primary_cause"],
                    secondary_cause=data.get("secondary_cause"),
                    summary=data["summary"],
                    next_steps=data["next_steps"],
                    arr_at_risk=data.get("arr_at_risk"),
                    arr_above_account_reason=data.get("arr_above_account_reason", ""),
                )
            except (InvalidInput, Conflict) as error:
                add_domain_error(form, error, existing_link=detail_link)
            else:
                messages.success(
                    request,
                    f"Risk record filed for {risk.account.name} at tier 1. "
                    "Add notes here as the situation develops.",
                )
                return redirect(detail_url(risk))
        else:
            _add_service_errors(user, form)
        status = 400
    else:
        initial: dict[str, Any] = {}
        if selected is not None:
            initial = {"account": selected.pk, "arr_at_risk": selected.arr}
        if request.GET.get("primary_cause"):
            # The cause already picked when the account changes (htmx) stays picked.
            initial["primary_cause"] = request.GET["primary_cause"]
        form = RiskFileForm(initial=initial, account_choices=choices, suggested_causes=suggested)
        status = 200

    context = {
        "form": form,
        "search": search,
        "capped": capped,
        "limit": selectors.ACCOUNT_CHOICES_LIMIT,
        "account_count": len(choices),
        "selected_account": selected,
        "suggested_count": len(suggested),
    }
    partial = request.GET.get("partial")
    if request.htmx and request.method == "GET" and partial == "accounts":
        return render(request, "risks/_file_account_choices.html", context)
    if request.htmx and request.method == "GET" and partial == "arr":
        return render(request, "risks/_file_account_changed.html", context)
    return render(request, "risks/file.html", context, status=status)
