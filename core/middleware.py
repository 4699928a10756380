"""The central mapping of the services' refusals for HTML pages: a
``NotAllowed`` that a view lets through becomes the 403 page with the
service's own message, as ``PermissionDenied`` would (the API has the same
mapping in ``core.api.exception_handler``)."""

from __future__ import annotations

from collections.abc import Callable

from django.core.exceptions import PermissionDenied
from django.core.handlers.exception import response_for_exception
from django.http import HttpRequest, HttpResponse

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
