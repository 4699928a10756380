"""Middleware of our own.

``DomainErrorMiddleware`` is the central mapping of the services' refusals for
HTML pages: a ``NotAllowed`` that a view lets through becomes the 403 page
with the service's own message, as ``PermissionDenied`` would (the API has the
same mapping in ``core.api.exception_handler``). ``PrivateCacheMiddleware``
keeps what a signed-in person sees out of shared caches."""

from __future__ import annotations

from collections.abc import Callable

from django.core.exceptions import PermissionDenied
from django.core.handlers.exception import response_for_exception
from django.http import HttpRequest, HttpResponse
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
