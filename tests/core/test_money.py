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
