"""The risk rule pages, mounted at /rules/: the list of rules (with "evaluate
now"), a rule's page (its definition in words, what it matches now, its
backtest, its recent matches, switching it on or off, deleting it), the
editor of a new or saved rule with its preview and backtest, and the block
of the account page that lists the rules holding for the account
(registered with ``risks.panels``).

Everyone signed in reads the list and the rules, and backtests them; only
CS operations admins write them. The services decide: a refusal
(``NotAllowed``) is the 403 page, ``InvalidInput`` errors sit beside their
fields, a ``Conflict`` is a message above the form. The editor's preview and
backtest, the rule page's backtest and "evaluate now" work with htmx (the
editor, the backtest or the rule list swapped in place, always with status
200 because htmx 2 swaps no 4xx answer) and without JavaScript (a full
page, or a redirect with a message).
"""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from accounts.models import Account, User
from core.exceptions import Conflict, InvalidInput
from risks.panels import Panel

from . import conditions, selectors, services
from .backtest import LISTED, Backtest
from .charts import backtest_chart
from .evaluation import PREVIEW_LIMIT, Preview, rule_preview
from .evidence import describe, sentences
from .forms import ActiveForm, BacktestForm, RuleForm
from .models import Action, Rule

# The matches a rule's page lists, newest first.
RECENT_MATCHES = 50
PREVIEW_INTENT = "preview"
BACKTEST_INTENT = "backtest"


def detail_url(rule: Rule | int) -> str:
    return reverse("rules:detail", kwargs={"pk": getattr(rule, "pk", rule)})


# --- a rule in words ------------------------------------------------------------------------


def scope_text(rule: Rule) -> str:
    parts = []
    if rule.segment_id:
        parts.append(f"{rule.segment.name} segment")
    if rule.region_id:
        parts.append(f"{rule.region.name} ({rule.region.code})")
    return " \u00b7 ".join(parts) if parts else "All accounts"


def action_labels(rule: Rule) -> list[str]:
    labels = dict(Action.choices)
    return [labels.get(action, str(action)) for action in rule.actions or []]


def condition_words(rule: Rule, names: dict[str, str]) -> list[str]:
    return [
        describe(condition, names)
        for condition in rule.conditions or []
        if isinstance(condition, dict)
    ]


def _in_words(rule: Rule, names: dict[str, str]) -> Rule:
    """Attach what the pages show of a rule: its scope, conditions and actions in words."""
    rule.scope_text = scope_text(rule)
    rule.condition_words = condition_words(rule, names)
    rule.action_labels = action_labels(rule)
    return rule


# --- the list -------------------------------------------------------------------------------


def _list_context(request: HttpRequest) -> dict[str, Any]:
    names = selectors.measure_names()
    rules = [_in_words(rule, names) for rule in selectors.rules_with_counts()]
    return {"rules": rules, "recent_days": selectors.RECENT_DAYS}


@require_GET
def rule_list(request: HttpRequest) -> HttpResponse:
    return render(request, "rules/list.html", _list_context(request))


def _plural(count: int, word: str, plural: str | None = None) -> str:
    return f"{count} {word if count == 1 else plural or word + 's'}"


@require_POST
def rule_evaluate(request: HttpRequest) -> HttpResponse:
    """Every active rule now; the new matches' actions follow in a task."""
    result = services.evaluate_now(user=request.user)
    if not result.rules and not result.problems:
        messages.info(request, "No rule is active, so nothing was evaluated.")
    elif result.rules:
        text = (
            f"Evaluated {_plural(result.rules, 'active rule')} as of "
            f"{result.as_of:%-d %b %Y}: {_plural(result.matched, 'new match', 'new matches')}, "
            f"{_plural(result.cleared, 'match', 'matches')} cleared."
        )
        if result.matched:
            text += (
                " Their actions (records opened, evidence noted, emails, webhook events) are taken "
                "in the background within a few moments."
            )
        messages.success(request, text)
    for problem in result.problems:
        # A rule whose conditions can no longer run was skipped; the others ran.
        messages.error(request, problem)
    if request.htmx:
        context = _list_context(request)
        context["htmx_swap"] = True
        return render(request, "rules/_list.html", context)
    return redirect("rules:index")


# --- a rule's page ----------------------------------------------------------------------------


def _preview(rule: Rule) -> tuple[Preview | None, str]:
    """What the rule matches now, or why that cannot be shown."""
    try:
        return rule_preview(rule), ""
    except Conflict as error:
        # A measure its conditions test was deleted or changed kind since.
        return None, error.message


def _detail_context(request: HttpRequest, rule: Rule) -> dict[str, Any]:
    _in_words(rule, selectors.measure_names())
    preview, preview_problem = _preview(rule)
    recent = list(selectors.matches(rule=rule)[:RECENT_MATCHES])
    for match in recent:
        match.sentences = sentences(match.evidence)
    return {
        "rule": rule,
        "preview": preview,
        "preview_problem": preview_problem,
        "preview_limit": PREVIEW_LIMIT,
        "recent": recent,
        "recent_limit": RECENT_MATCHES,
        "may_change": request.user.is_cs_admin,
        "backtest_form": BacktestForm(),
        "backtest_listed": LISTED,
    }


def _load(pk: int) -> Rule:
    return get_object_or_404(
        Rule.objects.select_related("segment", "region", "primary_cause", "created_by"), pk=pk
    )


@require_GET
def rule_detail(request: HttpRequest, pk: int) -> HttpResponse:
    rule = _load(pk)
    return render(request, "rules/detail.html", _detail_context(request, rule))


def _backtest_context(
    form: BacktestForm, result: Backtest | None, problem: str = ""
) -> dict[str, Any]:
    return {
        "backtest_form": form,
        "backtest": result,
        "backtest_chart": backtest_chart(result) if result is not None else None,
        "backtest_problem": problem,
        "backtest_listed": LISTED,
    }


@require_GET
def rule_backtest(request: HttpRequest, pk: int) -> HttpResponse:
    """The rule's backtest with the months and horizon asked for: its section
    of the rule's page (htmx), or the whole page with it."""
    rule = _load(pk)
    form = BacktestForm(request.GET)
    result, problem, status = None, "", 200
    try:
        result = services.rule_backtest(rule=rule, **form.values())
    except InvalidInput as error:
        form.take_errors(error)
        status = 400
    except Conflict as error:
        # A measure its conditions test was deleted or changed kind since.
        problem = error.message
    context = _backtest_context(form, result, problem)
    if request.htmx:
        # Always 200: htmx swaps no 4xx answer.
        return render(request, "rules/_backtest_section.html", {"rule": rule, **context})
    return render(
        request, "rules/detail.html", {**_detail_context(request, rule), **context}, status=status
    )


@require_POST
def rule_set_active(request: HttpRequest, pk: int) -> HttpResponse:
    rule = _load(pk)
    form = ActiveForm(request.POST)
    if not form.is_valid():
        services.ensure_admin(request.user)
        messages.error(request, "The switch was not understood: reload the page and try again.")
        return redirect(detail_url(rule))
    active = form.cleaned_data["active"]
    try:
        rule = services.rule_update(
            user=request.user,
            rule=rule,
            values={"active": active},
            version=form.cleaned_data["version"],
        )
    except Rule.DoesNotExist:
        raise Http404("The rule was deleted meanwhile.") from None
    except Conflict as error:
        messages.error(request, error.message)
    except InvalidInput as error:
        problems = " ".join(
            f"{_error_place(key)}: {' '.join(texts)}" for key, texts in error.errors.items()
        )
        messages.error(
            request,
            f"The rule cannot be switched {'on' if active else 'off'} as it is saved: "
            f"{problems} Edit the rule first.",
        )
    else:
        if active:
            messages.success(
                request,
                f"The rule \u201c{rule.name}\u201d is on: the next evaluation (after the daily "
                "scoring, or \u201cEvaluate now\u201d) acts on the accounts it matches.",
            )
        else:
            messages.success(
                request,
                f"The rule \u201c{rule.name}\u201d is off: it matches nothing new; its past "
                "matches stay listed.",
            )
    return redirect(detail_url(rule))


def _error_place(key: str) -> str:
    """A service's error key in words: conditions[1].measure → Condition 2, measure."""
    named = conditions.parse_key(key)
    if named:
        index, parameter = named
        place = f"Condition {index + 1}"
        return f"{place}, {parameter.replace('_', ' ')}" if parameter else place
    return key.replace("_", " ").capitalize()


@require_POST
def rule_delete(request: HttpRequest, pk: int) -> HttpResponse:
    rule = _load(pk)
    name = rule.name
    try:
        services.rule_delete(user=request.user, rule=rule)
    except Rule.DoesNotExist:
        raise Http404("The rule was deleted meanwhile.") from None
    except Conflict as error:
        messages.error(request, error.message)
        return redirect(detail_url(rule))
    messages.success(request, f"The rule \u201c{name}\u201d was deleted.")
    return redirect("rules:index")


# --- the editor -------------------------------------------------------------------------------


def _editor(
    request: HttpRequest,
    form: RuleForm,
    *,
    rule: Rule | None,
    preview: Preview | None = None,
    backtest_form: BacktestForm | None = None,
    backtest: Backtest | None = None,
    differences: list[str] | None = None,
    conflict: bool = False,
    status: int = 200,
) -> HttpResponse:
    context = {
        "conflict": conflict,
        "form": form,
        "rule": rule,
        "preview": preview,
        "preview_limit": PREVIEW_LIMIT,
        **_backtest_context(backtest_form or BacktestForm(), backtest),
        "differences": differences or [],
        "action_url": reverse("rules:edit", args=[rule.pk]) if rule else reverse("rules:new"),
    }
    if request.htmx:
        # The editor swapped in place (a preview): always 200, htmx swaps no 4xx.
        return render(request, "rules/_editor.html", {**context, "htmx_swap": True})
    return render(request, "rules/edit.html", context, status=status)


def _edit(request: HttpRequest, rule: Rule | None) -> HttpResponse:
    services.ensure_admin(request.user)
    if request.method != "POST":
        return _editor(request, RuleForm(rule=rule), rule=rule)
    form = RuleForm(request.POST, rule=rule)
    backtest_form = BacktestForm(request.POST)
    if not form.is_valid():
        return _editor(request, form, rule=rule, backtest_form=backtest_form, status=400)
    if request.POST.get("intent") == BACKTEST_INTENT:
        try:
            result = services.backtest_definition(form.scope_values(), **backtest_form.values())
        except InvalidInput as error:
            rest = backtest_form.take_errors(error)
            if rest:
                form.add_service_error(InvalidInput(rest))
            return _editor(request, form, rule=rule, backtest_form=backtest_form, status=400)
        return _editor(request, form, rule=rule, backtest_form=backtest_form, backtest=result)
    if request.POST.get("intent") == PREVIEW_INTENT:
        try:
            preview = services.preview_definition(form.scope_values())
        except InvalidInput as error:
            form.add_service_error(error)
            return _editor(request, form, rule=rule, backtest_form=backtest_form, status=400)
        return _editor(request, form, rule=rule, backtest_form=backtest_form, preview=preview)
    try:
        if rule is None:
            saved = services.rule_create(user=request.user, values=form.rule_values())
        else:
            saved = services.rule_update(
                user=request.user, rule=rule, values=form.rule_values(), version=form.loaded_version
            )
    except Rule.DoesNotExist:
        raise Http404("The rule was deleted meanwhile.") from None
    except Conflict as error:
        form.add_service_error(error)
        current = _load(rule.pk) if rule is not None else None
        differences = form.differences(current) if current is not None else []
        return _editor(
            request, form, rule=current, differences=differences, conflict=True, status=409
        )
    except InvalidInput as error:
        form.add_service_error(error)
        return _editor(request, form, rule=rule, status=400)
    if rule is None:
        messages.success(
            request,
            f"Rule \u201c{saved.name}\u201d saved. It is off: check what it matches below, "
            "then switch it on.",
        )
    else:
        messages.success(request, f"Rule \u201c{saved.name}\u201d saved.")
    return redirect(detail_url(saved))


@require_http_methods(["GET", "POST"])
def rule_new(request: HttpRequest) -> HttpResponse:
    return _edit(request, None)


@require_http_methods(["GET", "POST"])
def rule_edit(request: HttpRequest, pk: int) -> HttpResponse:
    return _edit(request, _load(pk))


# --- the account page's block -----------------------------------------------------------------


def account_rules_panel(account: Account, user: User) -> Panel | None:
    """The rules holding for the account now (its uncleared matches), each
    with its evidence and the record it opened or noted on: one query; no
    block when none holds."""
    holding = selectors.account_matches(account.pk)
    if not holding:
        return None
    for match in holding:
        match.sentences = sentences(match.evidence)
    return Panel("rules/_account_panel.html", {"matches": holding})
