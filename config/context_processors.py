from __future__ import annotations

from django.conf import settings
from django.http import HttpRequest


def navigation(request: HttpRequest) -> dict:
    """What the header shows depends on the role of the signed-in user."""
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {}
    return {
        "nav_can_approve": user.is_manager or user.is_cs_admin,
        "nav_can_file": user.role in ("csm", "manager") or user.is_cs_admin,
    }


def currency(request: HttpRequest) -> dict:
    """The currency of every amount (``CURRENCY``), for column headers."""
    return {"currency": settings.CURRENCY}
