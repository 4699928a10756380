"""The web sign-in form: Django's, with failed sign-ins throttled by
accounts/throttle.py (the same counter as the API's token endpoint); and the
profile's form of a person's own email preference."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib.admin.forms import AdminAuthenticationForm
from django.contrib.auth.forms import AuthenticationForm
from django.core.exceptions import ValidationError
from django.views.decorators.debug import sensitive_variables

from . import oidc, throttle


class ThrottledAuthenticationForm(AuthenticationForm):
    """While single sign-on is on, only administrators may sign in here
    (accounts.oidc.password_sign_in_allowed)."""

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
        if not oidc.password_sign_in_allowed(self.user_cache):
            # Refused like a wrong password (the same message, counted as a
            # failure), so the answer never tells whether the password was right.
            self.user_cache = None
            now_locked = throttle.record_failure(username, ip)
            if now_locked is not None:
                raise ValidationError(now_locked.message, code="locked")
            raise self.get_invalid_login_error()
        throttle.reset(username, ip)
        return self.cleaned_data

    def get_invalid_login_error(self) -> ValidationError:
        hint = oidc.password_sign_in_hint()
        if not hint:
            return super().get_invalid_login_error()
        return ValidationError(
            f"Unable to sign in with that username and password. {hint}", code="invalid_login"
        )


class AdminSignInForm(ThrottledAuthenticationForm, AdminAuthenticationForm):
    """The admin site's sign-in: staff only (Django's check), throttled and,
    while single sign-on is on, administrators only, like the sign-in page."""


class ProfileForm(forms.Form):
    weekly_digest = forms.BooleanField(
        label="Weekly digest instead of per-event email",
        required=False,
        help_text=(
            "One email on Monday at 07:00 in your region's time zone: your open risk "
            "records, your tasks that are overdue or due within a week, and, for the "
            "past week, the accounts that turned red and the risk rules that matched. "
            "It replaces the daily email of overdue tasks and the emails of matched "
            "risk rules. Escalation requests and decisions and weekly review "
            "invitations still come as they happen."
        ),
    )
