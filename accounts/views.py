"""The signed-in person's own profile: who they are, and their choice of the
weekly digest instead of per-event email."""

from __future__ import annotations

import zoneinfo

from django.conf import settings
from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods

from . import services
from .forms import ProfileForm


def _time_zone_name(request: HttpRequest) -> str:
    """The zone the digest's Monday 07:00 is on: the person's region's, or the
    site's without one (or with an unknown one), as risks.digest reads it."""
    region = request.user.region
    if region is not None:
        try:
            zoneinfo.ZoneInfo(region.timezone)
            return region.timezone
        except (zoneinfo.ZoneInfoNotFoundError, ValueError):
            pass
    return settings.TIME_ZONE


@require_http_methods(["GET", "POST"])
def profile(request: HttpRequest) -> HttpResponse:
    user = request.user
    if request.method == "POST":
        form = ProfileForm(request.POST)
        if form.is_valid():
            chosen = form.cleaned_data["weekly_digest"]
            services.user_set_weekly_digest(user=user, weekly_digest=chosen)
            messages.success(
                request,
                "Saved: you get the weekly digest instead of per-event email."
                if chosen
                else "Saved: you get email as things happen, and no weekly digest.",
            )
            return redirect("profile")
    else:
        form = ProfileForm(initial={"weekly_digest": user.weekly_digest})
    return render(
        request,
        "accounts/profile.html",
        {"form": form, "person": user, "time_zone": _time_zone_name(request)},
    )
