"""Amounts of money (ARR): one parser and one message for every way in — the
services, the HTML forms and the API fields all use ``parse_money``."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Any

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
