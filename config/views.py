from __future__ import annotations

from django.contrib.auth.decorators import login_not_required
from django.http import HttpRequest, HttpResponsePermanentRedirect
from django.templatetags.static import static


@login_not_required
def favicon(request: HttpRequest) -> HttpResponsePermanentRedirect:
    # Browsers ask for /favicon.ico on pages that name no icon (the admin).
    # Resolved per request: the static manifest exists only after collectstatic.
    return HttpResponsePermanentRedirect(static("favicon.svg"))
