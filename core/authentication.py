"""The API's token authentication. A module of its own: DRF loads it from the
settings while other API modules are still being imported."""

from __future__ import annotations

from typing import Any

from auditlog.context import auditlog_value
from drf_spectacular.contrib.knox_auth_token import KnoxTokenScheme
from knox.auth import TokenAuthentication


class AuditedTokenAuthentication(TokenAuthentication):
    """django-rest-knox's token check, telling the audit trail who acts.

    The audit middleware notes the signed-in user when the request arrives;
    a token request is only authenticated later, inside the API view, so the
    actor of its changes is filled in here."""

    def authenticate(self, request: Any) -> tuple[Any, Any] | None:
        result = super().authenticate(request)
        if result is not None:
            try:
                context = auditlog_value.get()
            except LookupError:  # no audit context: nothing is being logged
                pass
            else:
                context["actor"] = result[0]
        return result


class AuditedTokenScheme(KnoxTokenScheme):
    """The schema's description of the scheme: `Authorization: Token <token>`."""

    target_class = "core.authentication.AuditedTokenAuthentication"
    name = "tokenAuth"
