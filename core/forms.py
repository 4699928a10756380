"""Form pieces every app shares: showing a service's refusal on a form, and the
money field."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import Any

from django import forms
from django.utils.html import format_html

from .exceptions import Conflict, DomainError, InvalidInput
from .money import MONEY_MESSAGE, InvalidMoney, parse_money


def add_domain_error(
    form: forms.BaseForm,
    error: DomainError,
    *,
    existing_link: Callable[[Any], tuple[str, str]] | None = None,
) -> None:
    """Show a service's refusal on ``form``: field errors next to their fields,
    anything else (not allowed, conflicts) above the form, in the service's words.

    A conflict about another object (e.g. the account's open risk record) links
    to it when ``existing_link`` turns the object into (url, link text)."""
    if isinstance(error, InvalidInput):
        for field, messages in error.errors.items():
            form.add_error(field if field in form.fields else None, messages)
        return
    if isinstance(error, Conflict) and error.existing is not None and existing_link:
        url, text = existing_link(error.existing)
        form.add_error(None, format_html('{} <a href="{}">{}</a>.', error.message, url, text))
        return
    form.add_error(None, error.message)


class MoneyField(forms.DecimalField):
    """An amount of money, checked by ``core.money`` (the services' rule)."""

    default_error_messages = {"invalid": MONEY_MESSAGE}

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault(
            "widget",
            forms.NumberInput(attrs={"step": "0.01", "min": "0", "inputmode": "decimal"}),
        )
        super().__init__(**kwargs)

    def to_python(self, value: Any) -> Decimal | None:
        if value in self.empty_values:
            return None
        try:
            return parse_money(value)
        except InvalidMoney:
            raise forms.ValidationError(MONEY_MESSAGE, code="invalid") from None

    def validate(self, value: Decimal | None) -> None:
        forms.Field.validate(self, value)
