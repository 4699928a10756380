"""Middleware of our own.

``DomainErrorMiddleware`` is the central mapping of the services' refusals for
HTML pages: a ``NotAllowed`` that a view lets through becomes the 403 page
with the service's own message, as ``PermissionDenied`` would (the API has the
same mapping in ``core.api.exception_handler``). ``PrivateCacheMiddleware``
keeps what a signed-in person sees out of shared caches. ``RejectNulMiddleware``
turns a NUL character anywhere in a request into a 400."""

from __future__ import annotations

from collections.abc import Callable

from auditlog.middleware import AuditlogMiddleware as BaseAuditlogMiddleware
from django.core.exceptions import PermissionDenied
from django.core.handlers.exception import response_for_exception
from django.http import HttpRequest, HttpResponse, HttpResponseBadRequest, JsonResponse
from django.utils.cache import patch_cache_control

from .exceptions import NotAllowed


class DomainErrorMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        if isinstance(exception, NotAllowed):
            return response_for_exception(request, PermissionDenied(exception.message))
        return None


class PrivateCacheMiddleware:
    """Signed-in pages, every API answer and every export carry
    ``Cache-Control: private, no-store``: what one person saw must not be kept
    by a shared cache, a proxy, or the browser's back button on a shared machine.
    (Static files are served before this middleware and keep their own headers.)"""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        user = getattr(request, "user", None)
        if request.path.startswith("/api/") or (user is not None and user.is_authenticated):
            patch_cache_control(response, private=True, no_store=True)
        return response


NUL_MESSAGE = "The request contains a NUL character, which no field accepts."


class RejectNulMiddleware:
    """One guard for every page, the admin and the API: a NUL character in the
    path, the query string, a submitted form, a cookie or the Authorization
    header is a 400 before any view runs
    (PostgreSQL refuses NUL in text, which would otherwise surface as a 500).
    JSON bodies get the same check in ``core.parsers.JSONParser``."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if _has_nul(request):
            if request.path.startswith("/api/"):
                return JsonResponse({"detail": NUL_MESSAGE}, status=400)
            return HttpResponseBadRequest(NUL_MESSAGE, content_type="text/plain; charset=utf-8")
        return self.get_response(request)


def _has_nul(request: HttpRequest) -> bool:
    if "\x00" in request.path or "\x00" in request.META.get("HTTP_AUTHORIZATION", ""):
        return True
    # Django decodes octal escapes in quoted cookie values: "\000" is a NUL.
    if any("\x00" in value for value in request.COOKIES.values()):
        return True
    sources = [request.GET]
    if request.method == "POST" and request.content_type in (
        "application/x-www-form-urlencoded",
        "multipart/form-data",
    ):
        sources.append(request.POST)
    return any(
        "\x00" in key or any("\x00" in value for value in values)
        for source in sources
        for key, values in source.lists()
    )


class AuditlogMiddleware(BaseAuditlogMiddleware):
    """django-auditlog's middleware, but the address on the audit trail is
    REMOTE_ADDR only: X-Forwarded-For and X-Forwarded-Port are written by the
    client (the sign-in throttle ignores them for the same reason)."""

    @staticmethod
    def _get_remote_addr(request: HttpRequest) -> str | None:
        return request.META.get("REMOTE_ADDR") or None

    @staticmethod
    def _get_remote_port(request: HttpRequest) -> int | None:
        return None
