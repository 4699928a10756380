from __future__ import annotations

from typing import Any

from rest_framework.permissions import SAFE_METHODS, BasePermission
from rest_framework.request import Request


class CsAdminWritesOthersRead(BasePermission):
    """Everyone signed in reads (docs/domain.md); only CS operations admins (the
    admin role or a superuser) change the taxonomy."""

    message = "Only CS operations admins can change this."

    def has_permission(self, request: Request, view: Any) -> bool:
        user = request.user
        if not (user and user.is_authenticated):
            return False
        return request.method in SAFE_METHODS or user.is_cs_admin
