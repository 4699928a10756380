"""The weekly digest's section of risk rule matches (registered with
``risks.digest`` from RulesConfig.ready, as the digest lives a layer below).

People on the digest get no email when a rule matches one of their accounts
(``rules.evaluation``); this section is where they hear of it. It lists the
matches acted on in the digest's week (from Monday 00:00 to Sunday 24:00 on
the person's clock) on the active accounts in the person's scope, the first
acted on first, whatever the rule's conditions. A match whose actions did
something is listed: it opened a record, noted on the open one, or only
notified. A skipped match (the rule switched off, the episode cleared or the
account churned before the actions ran) did nothing and is left out, as is
a match still waiting for its actions (the next week's digest has it)."""

from __future__ import annotations

from django.db.models import QuerySet
from django.urls import reverse
from django.utils import timezone

from notifications.outbox import absolute_url
from risks.digest import AddedSection, DigestScope, DigestWindow, Line, first_rows

from .models import Outcome, RuleMatch

# The outcomes of a match whose actions did something, in the digest's words.
LISTED_OUTCOMES = {
    Outcome.OPENED: "opened a risk record",
    Outcome.NOTED: "noted on the open record",
    Outcome.NOTIFIED: "notified",
}


def digest_matches(scope: DigestScope, window: DigestWindow) -> QuerySet[RuleMatch]:
    """The matches acted on in the window, with an outcome that did
    something, on the active accounts in the person's scope; the first acted
    on first. One query for all of them."""
    return (
        RuleMatch.objects.filter(
            scope.accounts(prefix="account__"),
            outcome__in=list(LISTED_OUTCOMES),
            acted_at__gte=window.start,
            acted_at__lt=window.end,
        )
        .select_related("rule", "account__region", "account__csm")
        .order_by("acted_at", "pk")
    )


def _line(match: RuleMatch, window: DigestWindow) -> Line:
    account = match.account
    acted_on = timezone.localtime(match.acted_at, window.zone).date()
    text = (
        f"\u201c{match.rule.name}\u201d matched {account.name} ({account.region.code}) "
        f"on {acted_on:%Y-%m-%d}: {LISTED_OUTCOMES[match.outcome]}, CSM {account.csm}"
    )
    if match.cleared_at is not None:
        text += "; no longer holds"
    links = [absolute_url(reverse("customer_accounts:detail", kwargs={"pk": account.pk}))]
    if match.risk_id is not None:
        links.append(absolute_url(reverse("risks:detail", kwargs={"pk": match.risk_id})))
    return Line(text=text, links=tuple(links))


def matches_for_digest(scope: DigestScope, window: DigestWindow) -> AddedSection:
    """The digest's section of the risk rules that matched in the week: each
    match with its rule, account, outcome, and links to the account and to
    the record it opened or noted on. One query (two when there are more than
    the email shows)."""
    rows, total = first_rows(digest_matches(scope, window), lambda match: _line(match, window))
    where = f" {scope.where}" if scope.where else ""
    return AddedSection(
        title=(
            f"Risk rules that matched{where} "
            f"from {window.first_day:%Y-%m-%d} to {window.last_day:%Y-%m-%d}"
        ),
        rows=rows,
        total=total,
        url=absolute_url(reverse("rules:index")),
        summary=f"{total} rule match{'' if total == 1 else 'es'}",
    )
