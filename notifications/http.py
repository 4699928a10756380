"""Posting JSON to Slack and webhook endpoints, and which addresses may be posted to.

Only ``https://`` URLs in production (``WEBHOOK_REQUIRE_HTTPS``), and never to a
loopback, private, link-local or otherwise reserved address unless
``WEBHOOK_ALLOW_PRIVATE`` is on: an admin must not be able to make the server
call into its own network. A URL's host is resolved and checked when it is
saved, and every connection goes to an address checked at that moment (the
connection classes below resolve the name themselves and connect to the
address they checked, so a name that resolves differently a second time
cannot slip through). Proxy settings of the environment are ignored, answers
are read up to 64 KB within 30 s, and errors never carry the URL's path (a
Slack webhook's path is its credential).
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
from requests.adapters import HTTPAdapter
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool
from urllib3.exceptions import NewConnectionError

CONNECT_TIMEOUT = 5
READ_TIMEOUT = 10
ANSWER_DEADLINE = 30  # seconds for the whole answer
ANSWER_LIMIT = 64 * 1024  # bytes of an answer read
USER_AGENT = "RedAccount-Webhooks/1.0"

Address = ipaddress.IPv4Address | ipaddress.IPv6Address
_NAT64 = ipaddress.ip_network("64:ff9b::/96")
_IPV4_COMPATIBLE = ipaddress.ip_network("::/96")


def _embedded_ipv4(address: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv6 one carries (mapped, NAT64, 6to4, compatible)."""
    if address.ipv4_mapped:
        return address.ipv4_mapped
    if address.sixtofour:
        return address.sixtofour
    if address in _NAT64 or (address in _IPV4_COMPATIBLE and int(address) > 1):
        return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    return None


def is_public(address: Address) -> bool:
    """Whether messages may go to ``address`` without WEBHOOK_ALLOW_PRIVATE."""
    if isinstance(address, ipaddress.IPv6Address):
        if address.teredo:
            return False
        embedded = _embedded_ipv4(address)
        if embedded is not None:
            return is_public(embedded)
    return address.is_global and not address.is_multicast


def _resolve(host: str, port: int | None = None) -> list[Address]:
    try:
        return [ipaddress.ip_address(host.strip("[]"))]
    except ValueError:
        pass
    try:
        found = socket.getaddrinfo(host, port, proto=socket.IPPROTO_TCP)
    except (socket.gaierror, UnicodeError) as error:
        raise ValidationError(f"The host {host} cannot be resolved.") from error
    return [ipaddress.ip_address(info[4][0].split("%", 1)[0]) for info in found]


def _refusal(host: str, address: Address) -> str:
    return (
        f"{host} is a loopback, private or reserved address ({address}); "
        "only public addresses may receive messages."
    )


def checked_address(host: str, port: int | None = None) -> str:
    """The address to connect to for ``host``: every address it resolves to
    must be public (unless WEBHOOK_ALLOW_PRIVATE). ValidationError otherwise."""
    addresses = _resolve(host, port)
    if not settings.WEBHOOK_ALLOW_PRIVATE:
        blocked = [address for address in addresses if not is_public(address)]
        if blocked:
            raise ValidationError(_refusal(host, blocked[0]))
    return str(addresses[0])


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
    try:
        host, port = parts.hostname, parts.port
    except ValueError as error:
        raise ValidationError("The URL's port is not a number from 0 to 65535.") from error
    if not host:
        raise ValidationError("The URL has no host.")
    if parts.username or parts.password:
        raise ValidationError("The URL must not carry a user name or password.")
    if resolve and not settings.WEBHOOK_ALLOW_PRIVATE:
        checked_address(host, port)


# --- Connections that go only where they were checked to go ------------------------


class BlockedAddress(NewConnectionError):
    """The host resolved to an address messages may not go to."""


class _CheckedConnectionMixin:
    host: str
    _dns_host: str

    def _new_conn(self) -> socket.socket:
        try:
            # Connect to the address just checked; TLS and the Host header
            # keep using the name (self.host).
            self._dns_host = checked_address(self.host)
        except ValidationError as error:
            raise BlockedAddress(self, " ".join(error.messages)) from None
        return super()._new_conn()  # type: ignore[misc]


class _CheckedHTTPConnection(_CheckedConnectionMixin, HTTPConnection):
    pass


class _CheckedHTTPSConnection(_CheckedConnectionMixin, HTTPSConnection):
    pass


class _CheckedHTTPPool(HTTPConnectionPool):
    ConnectionCls = _CheckedHTTPConnection


class _CheckedHTTPSPool(HTTPSConnectionPool):
    ConnectionCls = _CheckedHTTPSConnection


class _CheckedAdapter(HTTPAdapter):
    def init_poolmanager(self, *args, **kwargs) -> None:
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = {
            "http": _CheckedHTTPPool,
            "https": _CheckedHTTPSPool,
        }


_local = threading.local()


def _session() -> requests.Session:
    # A Session keeps connections open between messages; one per thread.
    if not hasattr(_local, "session"):
        session = requests.Session()
        session.trust_env = False  # no proxies or .netrc credentials from the environment
        adapter = _CheckedAdapter()
        session.mount("http://", adapter)
        session.mount("https://", adapter)
        _local.session = session
    return _local.session


# --- Posting ---------------------------------------------------------------------------


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


def _innermost(error: BaseException) -> BaseException:
    seen = set()
    while True:
        inner = error.__cause__ or error.__context__
        if inner is None or id(inner) in seen:
            return error
        seen.add(id(error))
        error = inner


def describe(error: requests.RequestException, host: str) -> str:
    """An error in words, naming the host but never the URL's path."""
    chain: list[BaseException] = [error]
    while chain[-1].__cause__ or chain[-1].__context__:
        chain.append(chain[-1].__cause__ or chain[-1].__context__)
        if len(chain) > 10:
            break
    for link in chain:
        if isinstance(link, BlockedAddress):
            return "Refused: " + str(link).split(": ", 1)[-1]
    for link in chain:
        for argument in getattr(link, "args", ()):
            if isinstance(argument, BlockedAddress):
                return "Refused: " + str(argument).split(": ", 1)[-1]
            reason = getattr(argument, "reason", None)
            if isinstance(reason, BlockedAddress):
                return "Refused: " + str(reason).split(": ", 1)[-1]
    if isinstance(error, requests.ConnectTimeout):
        return f"Timed out connecting to {host} (after {CONNECT_TIMEOUT} s)."
    if isinstance(error, requests.ReadTimeout):
        return f"{host} did not answer within {READ_TIMEOUT} s."
    if isinstance(error, requests.exceptions.SSLError):
        return f"The TLS connection to {host} failed."
    if isinstance(error, requests.ConnectionError):
        inner = _innermost(error)
        why = getattr(inner, "strerror", None) or type(inner).__name__
        return f"Could not connect to {host}: {why}."
    return f"{type(error).__name__} while posting to {host}."


def post_json(url: str, body: bytes, headers: dict[str, str]) -> Response:
    """POST ``body`` as JSON, without following redirects. Never raises for
    a network failure or a refused address: the Response says what happened."""
    started = time.monotonic()

    def elapsed() -> int:
        return round((time.monotonic() - started) * 1000)

    try:
        check_url(url, resolve=False)
    except ValidationError as error:
        return Response(None, 0, "Refused: " + " ".join(error.messages))
    host = urlsplit(url).hostname or ""
    try:
        answer = _session().post(
            url,
            data=body,
            headers={"Content-Type": "application/json", "User-Agent": USER_AGENT, **headers},
            timeout=(CONNECT_TIMEOUT, READ_TIMEOUT),
            allow_redirects=False,
            stream=True,
        )
    except requests.RequestException as error:
        return Response(None, elapsed(), describe(error, host))
    try:
        content = b""
        for chunk in answer.iter_content(8192):
            content += chunk
            if len(content) >= ANSWER_LIMIT or time.monotonic() - started > ANSWER_DEADLINE:
                break
    except requests.RequestException as error:
        content = f"({describe(error, host)})".encode()
    finally:
        answer.close()
    code = answer.status_code
    text = content[:400].decode("utf-8", "replace")
    error_text = "" if 200 <= code < 300 else f"HTTP {code}: {text}"
    return Response(code, elapsed(), error_text, _retry_after(answer.headers.get("Retry-After")))
