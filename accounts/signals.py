"""Signal receivers of the accounts app, connected in AccountsConfig.ready."""

from __future__ import annotations

from typing import Any

from knox.models import AuthToken

from .models import User


def revoke_tokens_on_password_change(sender: type[User], instance: User, **kwargs: Any) -> None:
    """A new password revokes every API token of the person: whoever had the old
    password (or a token obtained with it) is out. ``_password`` holds the new
    raw password from ``set_password`` until the save completes."""
    if getattr(instance, "_password", None) is not None:
        AuthToken.objects.filter(user=instance).delete()
