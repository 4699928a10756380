"""ARR at risk is at most the account's ARR unless the CSM's manager (or an
admin) confirms a higher figure with a reason; free text has sensible maximum
lengths. Through the service, the API and the filing page alike."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.urls import reverse
from rest_framework.test import APIClient

from core.exceptions import InvalidInput
from risks import services
from risks.models import TEXT_LIMITS, RiskRecord, TimelineKind

pytestmark = pytest.mark.django_db

ABOVE = Decimal("99999999999.00")


def _open(user, account, cause, **fields):
    return services.risk_open(
        user=user,
        account=account,
        primary_cause=cause,
        summary=fields.pop("summary", "Usage halved."),
        next_steps=fields.pop("next_steps", "Call."),
        **fields,
    )


def test_a_csm_cannot_put_more_than_the_accounts_arr_at_risk(csm, account, low_usage):
    with pytest.raises(InvalidInput) as refused:
        _open(csm, account, low_usage, arr_at_risk=ABOVE, arr_above_account_reason="Big.")

    assert refused.value.errors["arr_at_risk"] == [
        "At most the account's ARR (USD 120,000); a higher figure needs the CSM's "
        "manager to confirm it with a reason."
    ]
    assert not RiskRecord.objects.exists()


def test_the_accounts_whole_arr_is_fine(csm, account, low_usage):
    assert _open(csm, account, low_usage, arr_at_risk=account.arr).arr_at_risk == account.arr


def test_a_manager_confirms_a_higher_figure_only_with_a_reason(manager, account, low_usage):
    with pytest.raises(InvalidInput) as refused:
        _open(manager, account, low_usage, arr_at_risk=Decimal("150000"))
    assert (
        "Say why more than the account's ARR" in refused.value.errors["arr_above_account_reason"][0]
    )

    risk = _open(
        manager,
        account,
        low_usage,
        arr_at_risk=Decimal("150000"),
        arr_above_account_reason="Expansion deal of 30k signed for next quarter is at risk too.",
    )

    assert risk.arr_at_risk == Decimal("150000.00")
    opened = risk.events.get(kind=TimelineKind.OPENED)
    assert opened.data["arr_above_account_reason"].startswith("Expansion deal")


def test_raising_the_arr_at_risk_on_edit_follows_the_same_rule(csm, manager, account, low_usage):
    risk = _open(csm, account, low_usage)
    with pytest.raises(InvalidInput):
        services.risk_edit(user=csm, risk=risk, version=risk.version, arr_at_risk="130000")

    risk = services.risk_edit(
        user=manager,
        risk=risk,
        version=risk.version,
        arr_at_risk="130000",
        arr_above_account_reason="Add-on renewal is in the same contract.",
    )

    assert risk.arr_at_risk == Decimal("130000.00")


@pytest.mark.parametrize("field", ["summary", "next_steps"])
def test_long_texts_are_refused_with_their_limit(csm, account, low_usage, field):
    limit = TEXT_LIMITS[field]
    with pytest.raises(InvalidInput) as refused:
        _open(csm, account, low_usage, **{field: "x" * (limit + 1)})
    assert refused.value.errors[field] == [
        f"Use at most {limit:,} characters (this is {limit + 1:,})."
    ]
    assert _open(csm, account, low_usage, **{field: "x" * limit})


def test_notes_and_reasons_have_limits_too(csm, account, low_usage):
    risk = _open(csm, account, low_usage)
    with pytest.raises(InvalidInput) as refused:
        services.risk_add_note(user=csm, risk=risk, text="n" * (TEXT_LIMITS["text"] + 1))
    assert "Use at most 10,000 characters" in refused.value.errors["text"][0]
    with pytest.raises(InvalidInput) as refused:
        services.escalation_request(user=csm, risk=risk, reason="r" * (TEXT_LIMITS["reason"] + 1))
    assert "Use at most 2,000 characters" in refused.value.errors["reason"][0]


def test_the_api_answers_400_on_the_field(csm, account, low_usage):
    api = APIClient()
    api.force_authenticate(csm)

    response = api.post(
        "/api/v1/risks/",
        {
            "account": account.pk,
            "primary_cause": low_usage.code,
            "summary": "s" * (TEXT_LIMITS["summary"] + 1),
            "next_steps": "Call.",
            "arr_at_risk": "500000.00",
        },
        format="json",
    )

    assert response.status_code == 400
    assert set(response.json()) == {"summary", "arr_at_risk"}


def test_the_filing_page_shows_the_rule_and_the_browser_limit(client, manager, account, low_usage):
    client.force_login(manager)
    page = client.get(reverse("risks:file"), {"account": account.pk}).content.decode()
    assert f'maxlength="{TEXT_LIMITS["summary"]}"' in page
    assert "Why more than the account" in page

    response = client.post(
        reverse("risks:file"),
        {
            "account": account.pk,
            "primary_cause": low_usage.pk,
            "summary": "Usage halved.",
            "next_steps": "Call.",
            "arr_at_risk": "150000",
        },
    )

    assert response.status_code == 400
    assert "Say why more than the account" in response.content.decode()
    assert not RiskRecord.objects.exists()


def test_the_timeline_shows_why_more_than_the_accounts_arr_is_at_risk(
    client, manager, account, low_usage
):
    risk = _open(
        manager,
        account,
        low_usage,
        arr_at_risk=Decimal("150000"),
        arr_above_account_reason="Expansion deal at stake.",
    )
    client.force_login(manager)

    html = client.get(reverse("risks:detail", args=[risk.pk])).content.decode()

    assert "<dt>Above the account&#x27;s ARR</dt><dd>Expansion deal at stake.</dd>" in html


def test_an_admin_confirms_a_higher_figure_in_the_django_admin(client, account, low_usage):
    from tests import factories

    superuser = factories.AdminFactory(username="root", is_staff=True, is_superuser=True)
    client.force_login(superuser)
    fields = {
        "account": account.pk,
        "primary_cause": low_usage.pk,
        "summary": "Usage halved.",
        "next_steps": "Call.",
        "arr_at_risk": "150000",
    }

    refused = client.post(reverse("admin:risks_riskrecord_add"), fields)
    assert "arr_above_account_reason" in refused.context["adminform"].form.errors

    client.post(
        reverse("admin:risks_riskrecord_add"),
        {**fields, "arr_above_account_reason": "Expansion at stake."},
    )
    assert RiskRecord.objects.get(account=account).arr_at_risk == Decimal("150000.00")
