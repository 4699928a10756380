"""The filing form offers first the root causes that the chosen account's red
health measures suggest, and shows the account's health badge.

A measure is red when its part of the account's newest score is below
HEALTH_RED_BELOW (40). The seeded measures name their suggested causes:
logins-30d and active-user-share → low-usage, feature-adoption →
incomplete-onboarding, open-tickets → defects, nps → value-not-realised."""

from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal

import pytest
from django.urls import reverse
from django.utils import timezone

from health.models import HealthScore
from risks.forms import SUGGESTED_GROUP
from risks.models import RootCause
from tests import factories

pytestmark = pytest.mark.django_db

HTMX = {"HTTP_HX_REQUEST": "true"}
FILE_URL = reverse("risks:file")


def part(score):
    return {
        "value": 1,
        "observed_on": timezone.localdate().isoformat(),
        "change": None,
        "score": score,
        "weight": 10,
        "dimension": "current_state",
        "fresh": score is not None,
    }


def score_parts(account, parts: dict, *, score=35, band="red", days_ago=0):
    as_of = timezone.localdate() - dt.timedelta(days=days_ago)
    HealthScore.objects.create(
        account=account,
        as_of=as_of,
        score=score,
        band=band,
        coverage=Decimal("1"),
        parts={code: part(value) for code, value in parts.items()},
        computed_at=timezone.now(),
    )
    account.health_score, account.health_band, account.health_as_of = score, band, as_of
    account.save(update_fields=["health_score", "health_band", "health_as_of"])


@pytest.fixture
def red_account(csm):
    account = factories.AccountFactory(csm=csm, name="Northwind")
    score_parts(
        account,
        {
            "logins-30d": 0,
            "active-user-share": 30,
            "feature-adoption": 20,
            "open-tickets": 39.99,
            "nps": 40,  # on the line: not red
            "csat": None,  # left out: never red
        },
    )
    return account


def primary_cause_groups(response) -> list[tuple[str, list[str]]]:
    field = response.context["form"].fields["primary_cause"]
    return [
        (group, [RootCause.objects.get(pk=value.value).code for value, _label in options])
        for group, options in field.choices
    ]


def test_causes_of_red_measures_come_first_reddest_first(client, csm, red_account):
    client.force_login(csm)

    response = client.get(FILE_URL, {"account": red_account.pk})

    groups = primary_cause_groups(response)
    assert groups[0] == (SUGGESTED_GROUP, ["low-usage", "incomplete-onboarding", "defects"])
    # Each cause is offered once: the suggested ones leave their category.
    offered = [code for _group, codes in groups for code in codes]
    assert len(offered) == len(set(offered)) == RootCause.objects.filter(active=True).count()
    assert "value-not-realised" not in groups[0][1]


def test_suggested_causes_say_which_measures_are_red(client, csm, red_account):
    client.force_login(csm)

    html = client.get(FILE_URL, {"account": red_account.pk}).content.decode()

    assert html.index(SUGGESTED_GROUP) < html.index("<h3>Adoption</h3>")
    assert (
        "Red health measures: Logins in the last 30 days (score 0), "
        "Share of licensed users active (score 30)" in html
    )
    assert "Red health measure: Open support tickets (score 40)" in html
    assert "Its red health measures suggest 3 causes" in html


def test_the_secondary_cause_keeps_its_category_order(client, csm, red_account):
    client.force_login(csm)

    response = client.get(FILE_URL, {"account": red_account.pk})

    field = response.context["form"].fields["secondary_cause"]
    assert SUGGESTED_GROUP not in [group for group, _options in field.choices]


def test_no_suggestions_without_a_chosen_account_or_without_a_score(client, csm):
    unscored = factories.AccountFactory(csm=csm)
    client.force_login(csm)

    for params in ({}, {"account": unscored.pk}):
        response = client.get(FILE_URL, params)

        groups = [group for group, _codes in primary_cause_groups(response)]
        assert SUGGESTED_GROUP not in groups
        assert groups[0] == "Adoption"


def test_only_the_newest_score_counts(client, csm):
    account = factories.AccountFactory(csm=csm)
    score_parts(account, {"open-tickets": 0}, days_ago=7)
    score_parts(account, {"open-tickets": 90, "logins-30d": 5})
    client.force_login(csm)

    groups = primary_cause_groups(client.get(FILE_URL, {"account": account.pk}))

    assert groups[0] == (SUGGESTED_GROUP, ["low-usage"])


def test_an_inactive_suggested_cause_is_not_offered(client, csm, red_account):
    RootCause.objects.filter(code="defects").update(active=False)
    client.force_login(csm)

    groups = primary_cause_groups(client.get(FILE_URL, {"account": red_account.pk}))

    assert groups[0] == (SUGGESTED_GROUP, ["low-usage", "incomplete-onboarding"])
    assert "defects" not in [code for _group, codes in groups for code in codes]


def test_the_chosen_accounts_health_badge_is_shown(client, csm, red_account):
    HealthScore.objects.create(
        account=red_account,
        as_of=timezone.localdate() - dt.timedelta(days=30),
        score=52,
        band="yellow",
        coverage=Decimal("1"),
        parts={},
        computed_at=timezone.now(),
    )
    client.force_login(csm)

    html = client.get(FILE_URL, {"account": red_account.pk}).content.decode()

    section = html[html.index('id="account-health"') :]
    section = section[: section.index("</div>")]
    assert "Health of Northwind" in section
    assert 'class="health-badge health-red"' in section
    assert "down 17 from 30 days ago" in section


def test_choosing_an_account_refreshes_badge_and_causes_keeping_the_picked_cause(
    client, csm, red_account
):
    picked = RootCause.objects.get(code="usability")
    client.force_login(csm)

    response = client.get(
        FILE_URL,
        {"partial": "arr", "account": red_account.pk, "primary_cause": picked.pk},
        **HTMX,
    )

    html = response.content.decode()
    assert html.lstrip().startswith('<div id="arr-fields">')
    assert (
        '<div id="account-health" class="account-health" aria-live="polite" hx-swap-oob="true">'
        in html
    )
    assert '<div id="primary-cause" hx-swap-oob="true">' in html
    assert SUGGESTED_GROUP in html
    assert re.search(rf'value="{picked.pk}"[^>]*checked', html)


def test_the_account_select_asks_for_the_refresh_with_the_picked_cause(client, csm, red_account):
    client.force_login(csm)

    html = client.get(FILE_URL).content.decode()

    select = re.search(r'<select name="account"[^>]*>', html).group(0)
    assert 'hx-get="/risks/new/?partial=arr"' in select
    assert 'hx-include="#primary-cause"' in select
    assert '<div id="primary-cause">' in html


def test_a_form_shown_again_with_errors_keeps_the_suggestions(client, csm, red_account):
    client.force_login(csm)

    response = client.post(
        FILE_URL,
        {"account": red_account.pk, "primary_cause": "", "summary": "", "next_steps": ""},
    )

    assert response.status_code == 400
    assert primary_cause_groups(response)[0][0] == SUGGESTED_GROUP


def test_filing_with_a_suggested_cause_works_as_any_other(client, csm, red_account):
    client.force_login(csm)
    low_usage = RootCause.objects.get(code="low-usage")

    response = client.post(
        FILE_URL,
        {
            "account": red_account.pk,
            "primary_cause": low_usage.pk,
            "secondary_cause": "",
            "summary": "Logins collapsed.",
            "next_steps": "Call the sponsor.",
            "arr_at_risk": "",
        },
    )

    assert response.status_code == 302
    assert red_account.risks.get().primary_cause == low_usage


@pytest.mark.parametrize("red_measures", [1, 5])
def test_suggestions_cost_a_fixed_number_of_queries(
    client, csm, django_assert_num_queries, red_measures
):
    codes = ["logins-30d", "feature-adoption", "open-tickets", "oldest-ticket-age", "nps"]
    account = factories.AccountFactory(csm=csm)
    score_parts(account, dict.fromkeys(codes[:red_measures], 0))
    client.force_login(csm)

    # session, user, the chosen account, the account options, its newest
    # score's parts, the suggesting measures, the causes of both cause fields
    with django_assert_num_queries(8):
        response = client.get(FILE_URL, {"account": account.pk})

    assert len(primary_cause_groups(response)[0][1]) == red_measures
