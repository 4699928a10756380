"""Posting JSON to Slack and webhook endpoints, and which addresses may be posted to.

Only ``https://`` URLs in production (``WEBHOOK_REQUIRE_HTTPS``), and never to a
loopback, private, link-local or otherwise reserved address unless
``WEBHOOK_ALLOW_PRIVATE`` is on: an admin must not be able to make the server
call into its own network. Host names are resolved and every address checked
both when a URL is saved and before each request.
"""

from __future__ import annotations

import ipaddress
import socket
import threading
import time
from dataclasses import dataclass
from urllib.parse import urlsplit

import requests
from django.conf import settings
from django.core.exceptions import ValidationError

CONNECT_TIMEOUT = 5
READ_TIMEOUT = 10
USER_AGENT = "RedAccount-Webhooks/1.0"


def _addresses(host: str) -> list[ipaddress.IPv4Address | ipaddress.IPv6Address]:
    try:
        return [ipaddress.ip_address(host.strip("[]"))]
    except ValueError:
        pass
    try:
        found = socket.getaddrinfo(host, None, proto=socket.IPPROTO_TCP)
    except (socket.gaierror, UnicodeError) as error:
        raise ValidationError(f"The host {host} cannot be resolved.") from error
    return [ipaddress.ip_address(info[4][0].split("%", 1)[0]) for info in found]


def _is_public(address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped:
        address = address.ipv4_mapped
    return address.is_global and not address.is_multicast


def check_url(url: str, *, resolve: bool = True) -> None:
    """Raise ValidationError unless ``url`` may be posted to."""
    parts = urlsplit(url)
    allowed = ("https",) if settings.WEBHOOK_REQUIRE_HTTPS else ("https", "http")
    if parts.scheme not in allowed:
        raise ValidationError(
            "Only https:// URLs are allowed."
            if settings.WEBHOOK_REQUIRE_HTTPS
            else "Only http:// and https:// URLs are allowed."
        )
    if not parts.hostname:
        raise ValidationError("The URL has no host.")
    if parts.username or parts.password:
        raise ValidationError("The URL must not carry a user name or password.")
    if settings.WEBHOOK_ALLOW_PRIVATE or not resolve:
        return
    blocked = [str(a) for a in _addresses(parts.hostname) if not _is_public(a)]
    if blocked:
        raise ValidationError(
            f"{parts.hostname} is a loopback, private or reserved address ({blocked[0]}); "
            "only public addresses may receive messages."
        )


@dataclass(frozen=True)
class Response:
    """What one attempt got back: ``code`` None when there was no answer."""

    code: int | None
    duration_ms: int
    error: str = ""
    retry_after: float | None = None

    @property
    def ok(self) -> bool:
        return self.code is not None and 200 <= self.code < 300


def _retry_after(value: str | None) -> float | None:
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        return None


_local = threading.local()


def _session() -> requests.Session:
    # A Session keeps connections open between messages; one per thread.
    if not hasattr(_local, "session"):
        _local.session = requests.Session()
    return _local.session


def post_json(url: str, body: bytes, headers: dict[str, str]) -> Response:
    """POST ``body`` as JSON, without following redirects. Never raises for
    a network failure or a refused address: the Response says what happened."""
    started = time.monotonic()

    def elapsed() -> int:
        return round((time.monotonic() - started) * 1000)

    try:
        check_url(url)
    except ValidationError as error:
        return Response(None, 0, "Refused: " + " ".join(error.messages))
    try:
        answer = _session().post(
            url,
            data=body,
            headers={"Content-Type": "application/json", "User-Agent": USER_AGENT, **headers},
            timeout=(CONNECT_TIMEOUT, READ_TIMEOUT),
            allow_redirects=False,
        )
    except requests.RequestException as error:
        return Response(None, elapsed(), f"{type(error).__name__}: {error}"[:500])
    error = (
        "" if 200 <= answer.status_code < 300 else f"HTTP {answer.status_code}: {answer.text[:400]}"
    )
    return Response(
        answer.status_code, elapsed(), error, _retry_after(answer.headers.get("Retry-After"))
    )
