"""Amounts of money (ARR): one parser and one message for every way in — the
services, the HTML forms and the API fields all use ``parse_money`` — and one
way to show an amount to people, with the currency (``CURRENCY``)."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Any

from django.conf import settings
from django.contrib.humanize.templatetags.humanize import intcomma

MONEY_DIGITS = 14
MONEY_PLACES = 2
MAX_MONEY = Decimal("999999999999.99")
CENT = Decimal("0.01")

MONEY_MESSAGE = (
    "Enter an amount from 0 to 999999999999.99 with at most two decimal places, e.g. 125000.00."
)


class InvalidMoney(ValueError):
    """The value is not an amount of money we store."""

    def __init__(self) -> None:
        super().__init__(MONEY_MESSAGE)


def parse_money(value: Any) -> Decimal:
    """``value`` (a Decimal, number or string) as a non-negative amount with two
    places, or ``InvalidMoney``. Floats are taken by their shortest repr."""
    if isinstance(value, bool):
        raise InvalidMoney
    try:
        amount = value if isinstance(value, Decimal) else Decimal(str(value).strip())
    except (InvalidOperation, ValueError):
        raise InvalidMoney from None
    if not amount.is_finite() or amount < 0 or amount > MAX_MONEY:
        raise InvalidMoney
    if amount != amount.quantize(CENT):
        raise InvalidMoney
    return amount.quantize(CENT)


def format_amount(value: Decimal | int | float | str | None) -> str:
    """125000 → "125,000": for a table whose column header names the currency.
    Cents only when there are any; no amount → "—"."""
    if value in (None, ""):
        return "—"
    amount = Decimal(str(value))
    if amount == amount.to_integral_value():
        return intcomma(f"{amount:.0f}")
    return intcomma(f"{amount:.2f}")


def format_money(value: Decimal | int | float | str | None) -> str:
    """An amount as people read it, with the currency: 125000 → "USD 125,000".
    (The API and CSV files carry plain decimal strings; their currency is
    the deployment's ``CURRENCY``, documented.)"""
    if value in (None, ""):
        return "—"
    return f"{settings.CURRENCY} {format_amount(value)}"
