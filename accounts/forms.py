"""The web sign-in form: Django's, with failed sign-ins throttled by
accounts/throttle.py (the same counter as the API's token endpoint)."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.forms import AuthenticationForm
from django.core.exceptions import ValidationError
from django.views.decorators.debug import sensitive_variables

from . import throttle


class ThrottledAuthenticationForm(AuthenticationForm):
    @sensitive_variables()
    def clean(self) -> dict[str, Any]:
        username = self.cleaned_data.get("username")
        password = self.cleaned_data.get("password")
        if username is None or not password:
            # A missing field is reported next to it; it is not a guess.
            return self.cleaned_data
        ip = throttle.client_ip(self.request)
        locked = throttle.attempt(username, ip)
        if locked is not None:
            # Counted before the check: past the limit the password is not even
            # checked, so guessing stays pointless until the lock ends.
            raise ValidationError(locked.message, code="locked")
        try:
            super().clean()
        except ValidationError as error:
            if self.user_cache is None:  # wrong credentials, not an inactive account
                now_locked = throttle.record_failure(username, ip)
                if now_locked is not None:
                    raise ValidationError(now_locked.message, code="locked") from error
            raise
        throttle.reset(username, ip)
        return self.cleaned_data
