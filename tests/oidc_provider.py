"""A small OpenID provider for the single sign-on tests, served on 127.0.0.1
from a background thread (http.server), with its RSA keys, key set and signed
ID tokens made by joserfc (Authlib's JOSE library) and the PKCE check by
Authlib.

It serves the discovery document, the authorization endpoint (signs in
``provider.person`` at once and sends the browser back with a code, or, with
``interactive``, first shows a page with a Continue button), the token endpoint
(checks the client's id and secret, the code, the redirect URI and the PKCE
verifier; answers an RS256 ID token carrying the nonce), userinfo and the key
set. Knobs (reset by :meth:`OpenIDProvider.reset`) make it misbehave: another
audience, issuer, nonce or lifetime in the ID token, any claim of the ID token
or of userinfo changed or left out (:data:`OMIT`), a token signed with a key it
does not publish, with no signature (alg none) or with HS256 keyed with its
public key, a refusal. It records its answers to the token endpoint.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import html
import json
import secrets
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

from authlib.oauth2.rfc7636 import create_s256_code_challenge
from joserfc import jwt
from joserfc.jwk import RSAKey

WELL_KNOWN_PATH = "/.well-known/openid-configuration"
CLIENT_ID = "red-account-tests"
CLIENT_SECRET = "a-client-secret-for-the-tests"
# A value in ``id_token_changes`` or ``userinfo_changes``: leave the claim out.
OMIT = object()
# How the ID token may be signed (``id_token_signing``).
SIGNED = "RS256"  # with the published key, as it should be
UNSIGNED = "none"  # alg none, no signature
HMAC_WITH_PUBLIC_KEY = "HS256-public-key"  # HS256 keyed with the published public key


def new_signing_key(kid: str) -> RSAKey:
    """A new RSA key pair for RS256 signatures, with this key id."""
    return RSAKey.generate_key(
        2048, parameters={"kid": kid, "use": "sig", "alg": "RS256"}, private=True
    )


class OpenIDProvider:
    """The provider; ``with OpenIDProvider() as provider:`` serves it."""

    def __init__(self) -> None:
        self.client_id = CLIENT_ID
        self.client_secret = CLIENT_SECRET
        self.signing_key = new_signing_key("key-1")
        # Claims the same key id as the published key, but is not published:
        # a token it signs must fail the signature check.
        self.impostor_key = new_signing_key("key-1")
        self._lock = threading.Lock()
        self._codes: dict[str, dict[str, Any]] = {}
        self._access_tokens: dict[str, dict[str, Any]] = {}
        self.hits: Counter[str] = Counter()
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), _handler_for(self))
        self.issuer = f"http://127.0.0.1:{self.server.server_port}"
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.reset()

    # --- setup ----------------------------------------------------------------

    def reset(self) -> None:
        """The well-behaved provider, signing in ``person``, with nothing counted."""
        self.redirect_uris: list[str] = ["http://testserver/oidc/callback/"]
        self.person: dict[str, Any] = {
            "sub": "subject-1",
            "email": "casey@example.com",
            "email_verified": True,
            "given_name": "Casey",
            "family_name": "Jones",
        }
        self.interactive = False
        self.refuse = False
        self.audience: Any = None  # None: our client id
        self.token_issuer: str | None = None  # None: the provider's issuer
        self.token_nonce: str | None = None  # None: the nonce of the request
        self.lifetime = 300
        self.sign_with_impostor = False
        self.id_token_signing = SIGNED
        self.id_token_changes: dict[str, Any] = {}
        self.userinfo_changes: dict[str, Any] = {}
        # (HTTP status, error or "") of each answer of the token endpoint.
        self.token_answers: list[tuple[int, str]] = []
        self.last_authorization: dict[str, str] = {}
        self.hits.clear()

    def rotate_key(self) -> None:
        """Sign from now on with a new key (a new key id) and publish only it."""
        self.signing_key = new_signing_key(f"key-{secrets.token_hex(4)}")

    @property
    def discovery_url(self) -> str:
        return self.issuer + WELL_KNOWN_PATH

    def start(self) -> OpenIDProvider:
        self._thread.start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self._thread.join(timeout=5)

    def __enter__(self) -> OpenIDProvider:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    # --- the endpoints ---------------------------------------------------------

    def discovery(self) -> dict[str, Any]:
        return {
            "issuer": self.issuer,
            "authorization_endpoint": f"{self.issuer}/authorize",
            "token_endpoint": f"{self.issuer}/token",
            "userinfo_endpoint": f"{self.issuer}/userinfo",
            "jwks_uri": f"{self.issuer}/jwks",
            "response_types_supported": ["code"],
            "subject_types_supported": ["public"],
            "id_token_signing_alg_values_supported": ["RS256"],
            "scopes_supported": ["openid", "email", "profile"],
            "token_endpoint_auth_methods_supported": [
                "client_secret_post",
                "client_secret_basic",
            ],
            "code_challenge_methods_supported": ["S256"],
        }

    def key_set(self) -> dict[str, Any]:
        return {"keys": [self.signing_key.as_dict(private=False)]}

    def check_authorization(self, params: dict[str, str]) -> str | None:
        """What is wrong with an authorization request, or None. A bad client
        or redirect URI is answered on the provider's page, never redirected."""
        if params.get("client_id") != self.client_id:
            return "unknown client_id"
        if params.get("redirect_uri") not in self.redirect_uris:
            return f"unregistered redirect_uri {params.get('redirect_uri')!r}"
        if params.get("response_type") != "code":
            return "response_type must be code"
        if "openid" not in params.get("scope", "").split():
            return "scope must include openid"
        if not params.get("state"):
            return "state is missing"
        return None

    def redirect_after_sign_in(self, params: dict[str, str]) -> str:
        """The callback address the browser goes back to: with a code, or with
        an error when the provider refuses."""
        if self.refuse:
            answer = {"error": "access_denied", "state": params["state"]}
        else:
            code = secrets.token_urlsafe(24)
            with self._lock:
                self._codes[code] = {
                    "client_id": params["client_id"],
                    "redirect_uri": params["redirect_uri"],
                    "nonce": params.get("nonce"),
                    "code_challenge": params.get("code_challenge"),
                    "code_challenge_method": params.get("code_challenge_method"),
                    "person": dict(self.person),
                }
            answer = {"code": code, "state": params["state"]}
        return f"{params['redirect_uri']}?{urlencode(answer)}"

    def token(self, form: dict[str, str], authorization: str) -> tuple[int, dict[str, Any]]:
        status, answer = self._token(form, authorization)
        self.token_answers.append((status, answer.get("error", "")))
        return status, answer

    def _token(self, form: dict[str, str], authorization: str) -> tuple[int, dict[str, Any]]:
        client_id, client_secret = form.get("client_id"), form.get("client_secret")
        if authorization.startswith("Basic "):
            decoded = base64.b64decode(authorization[6:]).decode()
            client_id, _, client_secret = decoded.partition(":")
        if client_id != self.client_id or client_secret != self.client_secret:
            return 401, {"error": "invalid_client"}
        if form.get("grant_type") != "authorization_code":
            return 400, {"error": "unsupported_grant_type"}
        with self._lock:
            grant = self._codes.pop(form.get("code", ""), None)  # a code works once
        if grant is None or grant["client_id"] != client_id:
            return 400, {"error": "invalid_grant", "error_description": "unknown code"}
        if form.get("redirect_uri") != grant["redirect_uri"]:
            return 400, {"error": "invalid_grant", "error_description": "redirect_uri differs"}
        if grant["code_challenge"] is not None:
            verifier = form.get("code_verifier", "")
            if grant["code_challenge_method"] != "S256" or (
                create_s256_code_challenge(verifier) != grant["code_challenge"]
            ):
                return 400, {"error": "invalid_grant", "error_description": "PKCE failed"}
        person = grant["person"]
        now = int(time.time())
        claims = {
            "iss": self.token_issuer or self.issuer,
            "sub": person["sub"],
            "aud": self.audience if self.audience is not None else client_id,
            "iat": now,
            "exp": now + self.lifetime,
            "nonce": self.token_nonce or grant["nonce"],
            "email": person.get("email"),
        }
        if "email_verified" in person:
            claims["email_verified"] = person["email_verified"]
        access_token = secrets.token_urlsafe(24)
        with self._lock:
            self._access_tokens[access_token] = _changed(person, self.userinfo_changes)
        id_token = self.sign_id_token(_changed(claims, self.id_token_changes))
        return 200, {
            "access_token": access_token,
            "token_type": "Bearer",
            "expires_in": 300,
            "id_token": id_token,
        }

    def sign_id_token(self, claims: dict[str, Any]) -> str:
        if self.id_token_signing == UNSIGNED:
            return _compact({"alg": "none", "typ": "JWT"}, claims, sign=lambda data: b"")
        if self.id_token_signing == HMAC_WITH_PUBLIC_KEY:
            # The key confusion attack: a verifier that took the algorithm
            # from the token would check this "signature" with the public key.
            secret = self.signing_key.as_pem(private=False)
            return _compact(
                {"alg": "HS256", "typ": "JWT", "kid": self.signing_key.kid},
                claims,
                sign=lambda data: hmac.new(secret, data, hashlib.sha256).digest(),
            )
        key = self.impostor_key if self.sign_with_impostor else self.signing_key
        return jwt.encode({"alg": "RS256", "kid": key.kid}, claims, key)

    def userinfo(self, authorization: str) -> tuple[int, dict[str, Any]]:
        token = authorization.removeprefix("Bearer ")
        with self._lock:
            claims = self._access_tokens.get(token)
        if claims is None:
            return 401, {"error": "invalid_token"}
        return 200, claims


def _changed(claims: dict[str, Any], changes: dict[str, Any]) -> dict[str, Any]:
    changed = {**claims, **changes}
    return {name: value for name, value in changed.items() if value is not OMIT}


def _base64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _compact(
    header: dict[str, Any], claims: dict[str, Any], *, sign: Callable[[bytes], bytes]
) -> str:
    """A JWS in compact form, signed by hand (joserfc rightly refuses these)."""
    signing_input = ".".join(
        _base64url(json.dumps(part, separators=(",", ":")).encode()) for part in (header, claims)
    )
    return f"{signing_input}.{_base64url(sign(signing_input.encode()))}"


CONSENT_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Test provider</title>
<link rel="icon" href="data:,"></head>
<body><main><h1>Test provider</h1><p>Sign in to Red Account as {email}?</p>
<form method="post" action="/authorize">{fields}
<button type="submit">Continue</button></form></main></body></html>"""


def _handler_for(provider: OpenIDProvider) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:
            pass  # quiet test output

        def _send(
            self, status: int, body: str, content_type: str, headers: dict | None = None
        ) -> None:
            payload = body.encode()
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(payload)))
            self.send_header("Cache-Control", "no-store")
            for name, value in (headers or {}).items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(payload)

        def _json(self, status: int, document: dict[str, Any]) -> None:
            self._send(status, json.dumps(document), "application/json")

        def _redirect(self, location: str) -> None:
            self._send(302, "", "text/plain", {"Location": location})

        def _authorize(self, params: dict[str, str]) -> None:
            problem = provider.check_authorization(params)
            if problem is not None:
                self._send(400, problem, "text/plain")
            else:
                self._redirect(provider.redirect_after_sign_in(params))

        def do_GET(self) -> None:
            url = urlsplit(self.path)
            provider.hits[url.path] += 1
            params = {name: values[0] for name, values in parse_qs(url.query).items()}
            if url.path.endswith(WELL_KNOWN_PATH):
                # Served under any prefix, always naming the provider's own issuer.
                self._json(200, provider.discovery())
            elif url.path == "/jwks":
                self._json(200, provider.key_set())
            elif url.path == "/authorize":
                provider.last_authorization = params
                problem = provider.check_authorization(params)
                if problem is None and provider.interactive:
                    fields = "".join(
                        f'<input type="hidden" name="{html.escape(name)}" '
                        f'value="{html.escape(value)}">'
                        for name, value in params.items()
                    )
                    page = CONSENT_PAGE.format(
                        email=html.escape(str(provider.person.get("email"))), fields=fields
                    )
                    self._send(200, page, "text/html; charset=utf-8")
                else:
                    self._authorize(params)
            elif url.path == "/userinfo":
                self._json(*provider.userinfo(self.headers.get("Authorization", "")))
            else:
                self._send(404, "not found", "text/plain")

        def do_POST(self) -> None:
            url = urlsplit(self.path)
            provider.hits[url.path] += 1
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length).decode()
            form = {name: values[0] for name, values in parse_qs(body).items()}
            if url.path == "/authorize":  # the Continue button
                self._authorize(form)
            elif url.path == "/token":
                self._json(*provider.token(form, self.headers.get("Authorization", "")))
            else:
                self._send(404, "not found", "text/plain")

    return Handler


@contextmanager
def running_provider() -> Iterator[OpenIDProvider]:
    """A provider serving for the duration of the block."""
    with OpenIDProvider() as provider:
        yield provider
