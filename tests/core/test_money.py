"""One money rule: the services, the HTML forms and the API refuse a bad amount
with the same message, and accept the same amounts."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.urls import reverse
from rest_framework.test import APIClient

from core.money import MONEY_MESSAGE, InvalidMoney, parse_money
from risks.models import RiskRecord

BAD = ["-0.01", "abc", "1.005", "1000000000000", "NaN", "-Infinity", ""]


@pytest.mark.parametrize(
    ("value", "amount"),
    [
        ("125000", Decimal("125000.00")),
        (" 0.5 ", Decimal("0.50")),
        (Decimal("1e3"), Decimal("1000.00")),
        (42, Decimal("42.00")),
        ("999999999999.99", Decimal("999999999999.99")),
    ],
)
def test_amounts_are_read_to_two_places(value, amount):
    assert parse_money(value) == amount


@pytest.mark.parametrize("value", [*BAD, None, True])
def test_anything_else_is_refused_with_the_one_message(value):
    with pytest.raises(InvalidMoney) as refused:
        parse_money(value)
    assert str(refused.value) == MONEY_MESSAGE


@pytest.mark.django_db
@pytest.mark.parametrize("value", ["-5", "1.005", "1e15"])
def test_the_filing_form_and_the_api_answer_with_the_same_message(
    client, csm, account, low_usage, value
):
    client.force_login(csm)
    page = client.post(
        reverse("risks:file"),
        {
            "account": account.pk,
            "primary_cause": low_usage.pk,
            "summary": "Usage halved.",
            "next_steps": "Call.",
            "arr_at_risk": value,
        },
    )
    api = APIClient()
    api.force_authenticate(csm)
    answer = api.post(
        "/api/v1/risks/",
        {
            "account": account.pk,
            "primary_cause": low_usage.code,
            "summary": "Usage halved.",
            "next_steps": "Call.",
            "arr_at_risk": value,
        },
        format="json",
    )

    assert page.status_code == 400
    assert page.context["form"].errors["arr_at_risk"] == [MONEY_MESSAGE]
    assert answer.status_code == 400
    assert answer.json() == {"arr_at_risk": [MONEY_MESSAGE]}
    assert not RiskRecord.objects.exists()


def test_people_read_amounts_with_the_currency(settings):
    from core.money import format_amount, format_money

    settings.CURRENCY = "EUR"
    assert format_money(Decimal("208800.00")) == "EUR 208,800"
    assert format_money("1234.5") == "EUR 1,234.50"
    assert format_money(None) == "—"
    assert format_amount(Decimal("208800.00")) == "208,800"


@pytest.mark.parametrize("value", ["EURO", "€", "12", "e u"])
def test_a_currency_that_is_not_an_iso_code_stops_start_up(value):
    import os
    import subprocess
    import sys

    result = subprocess.run(
        [sys.executable, "-c", "import config.settings.local"],
        env={**os.environ, "CURRENCY": value, "DJANGO_SETTINGS_MODULE": ""},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode != 0
    assert "CURRENCY must be a 3-letter ISO 4217 code" in result.stderr


@pytest.mark.django_db
def test_escalation_emails_print_money_with_the_currency(
    csm, manager, account, low_usage, django_capture_on_commit_callbacks, mailoutbox
):
    from risks import services

    with django_capture_on_commit_callbacks(execute=True):
        risk = services.risk_open(
            user=csm, account=account, primary_cause=low_usage, summary="S.", next_steps="N."
        )
        services.escalation_request(user=csm, risk=risk, reason="Help.")

    [message] = mailoutbox
    assert "ARR at risk: USD 120,000" in message.body
