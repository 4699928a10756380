"""Absolute links to the risk pages, for emails, Slack messages and webhook
payloads (one place, so every message links the same way)."""

from __future__ import annotations

from django.urls import reverse

from notifications.outbox import absolute_url


def risk_url(risk_id: int) -> str:
    return absolute_url(reverse("risks:detail", kwargs={"pk": risk_id}))


def account_url(account_id: int) -> str:
    return absolute_url(reverse("customer_accounts:detail", kwargs={"pk": account_id}))
