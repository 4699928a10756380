"""Single sign-on with OpenID Connect, on top of mozilla-django-oidc.

Single sign-on is on when ``OIDC_RP_CLIENT_ID`` is set (config/settings/base.py
checks the rest of the configuration at start-up). A person signs in with the
authorization code flow (with PKCE): ``/oidc/authenticate/`` sends the browser
to the provider, which sends it back to ``/oidc/callback/`` with a code that
the backend below trades for an ID token and the person's claims.

What this module adds to the library:

- The provider's endpoints and signing keys come from its discovery document
  (``OIDC_OP_DISCOVERY_URL``), fetched on first use with a timeout and kept in
  Django's cache; the document's issuer must be the one the URL names. An
  ``OIDC_OP_*`` setting overrides a discovered value.
- The ID token's signature, issuer, audience (our client id), expiry, issue
  time and nonce are all verified. The library checks only the signature, the
  expiry when the token has one, and the nonce.
- Every sign-in needs an email address the provider says is verified
  (``email_verified``), the address and the claim read from the same claims:
  the ID token's, or the userinfo answer's when the token carries no address.
  ``OIDC_TRUST_UNVERIFIED_EMAIL`` accepts an address the provider says
  nothing about (some never send the claim).
- A person is the user linked to their identity at the provider (its issuer
  and their subject), stored at their first sign-in; until then, the one
  active user with the address, compared case-insensitively, who is not
  linked to another identity. A user is created (role CSM) only when
  ``OIDC_CREATE_USERS`` is on.
- A refused sign-in goes back to the sign-in page with a message saying why,
  rather than an error page.
- While single sign-on is on, only administrators sign in with a password
  (:func:`password_sign_in_allowed`, used by the sign-in form and the API's
  token endpoint).
"""

from __future__ import annotations

import hashlib
import logging
import re
from dataclasses import dataclass
from typing import Any

import jwt
import requests
from django.conf import settings
from django.contrib import messages
from django.contrib.auth.backends import ModelBackend
from django.contrib.auth.decorators import login_not_required
from django.core.cache import cache
from django.core.exceptions import SuspiciousOperation, ValidationError
from django.core.validators import validate_email
from django.db import IntegrityError, transaction
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import resolve_url
from django.utils.decorators import method_decorator
from mozilla_django_oidc.auth import OIDCAuthenticationBackend
from mozilla_django_oidc.utils import import_from_settings
from mozilla_django_oidc.views import (
    OIDCAuthenticationCallbackView,
    OIDCAuthenticationRequestView,
)
from redis.exceptions import RedisError

from .models import Role, User

logger = logging.getLogger(__name__)

WELL_KNOWN_PATH = "/.well-known/openid-configuration"
# The discovery document and the signing keys are kept this long; an ID token
# signed with a key we have not seen yet makes us fetch the keys again at once.
PROVIDER_CACHE_SECONDS = 60 * 60
# Clocks of the provider and of this server may differ by this much.
CLOCK_SKEW_SECONDS = 60
_CACHE_PREFIX = "oidc"
# What an ID token must carry (OpenID Connect Core §2).
_ID_TOKEN_CLAIMS = ["iss", "sub", "aud", "exp", "iat"]


# --- Switches ---------------------------------------------------------------------


def sso_enabled() -> bool:
    """Whether single sign-on is on: it is when ``OIDC_RP_CLIENT_ID`` is set."""
    return bool(settings.OIDC_RP_CLIENT_ID)


def sso_provider_name() -> str:
    """The name on the sign-in page's button ("Sign in with …"); empty while
    single sign-on is off, so the page shows no button."""
    return settings.OIDC_PROVIDER_NAME if sso_enabled() else ""


def password_sign_in_allowed(user: User) -> bool:
    """Whether ``user`` may sign in with a password (the sign-in page and the
    API's token endpoint). While single sign-on is on only administrators (role
    admin, or superusers) may: they keep a way in when the provider is down or
    misconfigured. Everyone else signs in through the provider."""
    return not sso_enabled() or user.is_cs_admin


def password_sign_in_hint() -> str:
    """The sentence added to a refused password sign-in while single sign-on is
    on; empty while it is off."""
    if not sso_enabled():
        return ""
    return (
        "While single sign-on is on, only administrators sign in with a password; "
        f"everyone else uses “Sign in with {settings.OIDC_PROVIDER_NAME}” on the sign-in page."
    )


# --- The provider's configuration -------------------------------------------------


class ProviderUnavailable(Exception):
    """The provider could not be reached, or answered with something unusable."""


class SignInRefused(Exception):
    """The provider vouched for the person, but Red Account will not sign them
    in; the message says why, in words for them."""


@dataclass(frozen=True)
class Provider:
    """Where the provider's endpoints are, and the issuer its tokens name."""

    issuer: str
    authorization_endpoint: str
    token_endpoint: str
    userinfo_endpoint: str
    jwks_uri: str


# Each Provider field, and the setting that overrides the discovered value.
_OVERRIDES = {
    "issuer": "OIDC_OP_ISSUER",
    "authorization_endpoint": "OIDC_OP_AUTHORIZATION_ENDPOINT",
    "token_endpoint": "OIDC_OP_TOKEN_ENDPOINT",
    "userinfo_endpoint": "OIDC_OP_USER_ENDPOINT",
    "jwks_uri": "OIDC_OP_JWKS_ENDPOINT",
}


def provider() -> Provider:
    """The provider's endpoints: each ``OIDC_OP_*`` setting that is set, the
    rest from the discovery document. Fetches the document only when a value
    is missing and it is not cached. Raises ProviderUnavailable."""
    values = {field: getattr(settings, name, "") for field, name in _OVERRIDES.items()}
    missing = [field for field, value in values.items() if not value]
    if missing and settings.OIDC_OP_DISCOVERY_URL:
        document = discovery_document()
        for field in missing:
            values[field] = document.get(field) or ""
    still_missing = [field for field, value in values.items() if not value]
    # Signing with the client secret (HS256) needs no keys from the provider.
    if still_missing == ["jwks_uri"] and settings.OIDC_RP_SIGN_ALGO.startswith("HS"):
        still_missing = []
    if still_missing:
        raise ProviderUnavailable(
            f"The provider's configuration has no {', '.join(still_missing)} "
            f"(set {', '.join(_OVERRIDES[field] for field in still_missing)})."
        )
    return Provider(**values)


def discovery_document() -> dict[str, Any]:
    """The provider's discovery document (``OIDC_OP_DISCOVERY_URL``), from the
    cache or fetched. Its issuer must be the URL the document was read from,
    less ``/.well-known/openid-configuration`` (OpenID Connect Discovery §4.3),
    or a document served elsewhere could name another provider's endpoints."""
    url = settings.OIDC_OP_DISCOVERY_URL
    key = _cache_key("discovery", url)
    document = _cache_get(key)
    if document is not None:
        return document
    document = _fetch_json(url)
    issuer = document.get("issuer")
    if not isinstance(issuer, str) or issuer.rstrip("/") + WELL_KNOWN_PATH != url:
        raise ProviderUnavailable(
            f"The discovery document at {url} names the issuer {issuer!r}, which does not "
            "match its address (OIDC_OP_DISCOVERY_URL)."
        )
    for field in _OVERRIDES:
        if field in document and not isinstance(document[field], str):
            raise ProviderUnavailable(f"The discovery document at {url} has a malformed {field}.")
    _cache_set(key, document)
    return document


def signing_keys(jwks_uri: str, *, refresh: bool = False) -> list[dict[str, Any]]:
    """The provider's public keys (its JWKS), from the cache unless ``refresh``."""
    key = _cache_key("jwks", jwks_uri)
    if not refresh:
        keys = _cache_get(key)
        if keys is not None:
            return keys
    document = _fetch_json(jwks_uri)
    keys = document.get("keys")
    if not isinstance(keys, list) or not all(isinstance(item, dict) for item in keys):
        raise ProviderUnavailable(f"The key set at {jwks_uri} has no list of keys.")
    _cache_set(key, keys)
    return keys


def forget_provider_configuration() -> None:
    """Drop the cached discovery document and keys of the configured provider,
    so that the next sign-in reads them afresh (say, after the provider's
    configuration changed; a new signing key is picked up without this)."""
    keys = [_cache_key("discovery", settings.OIDC_OP_DISCOVERY_URL)]
    if settings.OIDC_OP_JWKS_ENDPOINT:
        keys.append(_cache_key("jwks", settings.OIDC_OP_JWKS_ENDPOINT))
    elif settings.OIDC_OP_DISCOVERY_URL:
        document = _cache_get(keys[0])
        if document and isinstance(document.get("jwks_uri"), str):
            keys.append(_cache_key("jwks", document["jwks_uri"]))
    try:
        cache.delete_many(keys)
    except (RedisError, OSError):
        logger.warning("Single sign-on: the cache is unreachable; nothing to forget.")


def _fetch_json(url: str) -> dict[str, Any]:
    try:
        response = requests.get(
            url,
            timeout=settings.OIDC_TIMEOUT,
            verify=import_from_settings("OIDC_VERIFY_SSL", True),
            proxies=import_from_settings("OIDC_PROXY", None),
        )
        response.raise_for_status()
        document = response.json()
    except requests.RequestException as error:
        raise ProviderUnavailable(f"{url} could not be read: {error}") from error
    if not isinstance(document, dict):
        raise ProviderUnavailable(f"{url} did not answer with a JSON object.")
    return document


def _cache_key(kind: str, url: str) -> str:
    return f"{_CACHE_PREFIX}:{kind}:{hashlib.sha256(url.encode()).hexdigest()}"


def _cache_get(key: str) -> Any:
    # While the cache (Redis) is unreachable the provider is simply asked again.
    try:
        return cache.get(key)
    except (RedisError, OSError):
        logger.warning("Single sign-on: the cache is unreachable; asking the provider.")
        return None


def _cache_set(key: str, value: Any) -> None:
    try:
        cache.set(key, value, timeout=PROVIDER_CACHE_SECONDS)
    except (RedisError, OSError):
        logger.warning("Single sign-on: the cache is unreachable; nothing kept.")


# --- The authentication backend ---------------------------------------------------


class OIDCBackend(OIDCAuthenticationBackend):
    """Signs a person in from the provider's answer at /oidc/callback/.

    Django offers every backend the credentials of every sign-in; this one's
    ``authenticate`` takes only the callback's (a nonce and a PKCE verifier),
    so a password sign-in never reaches it."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        # Not the library's __init__: it reads every endpoint from the settings,
        # and Django builds a backend for each request of a person signed in
        # with it (get_user). The endpoints are resolved in authenticate().
        self.OIDC_RP_CLIENT_ID = settings.OIDC_RP_CLIENT_ID
        self.OIDC_RP_CLIENT_SECRET = settings.OIDC_RP_CLIENT_SECRET
        self.OIDC_RP_SIGN_ALGO = settings.OIDC_RP_SIGN_ALGO
        self.OIDC_RP_IDP_SIGN_KEY = None
        self.OIDC_OP_TOKEN_ENDPOINT = ""
        self.OIDC_OP_USER_ENDPOINT = ""
        self.OIDC_OP_JWKS_ENDPOINT = ""
        self.issuer = ""
        self.UserModel = User

    def authenticate(
        self,
        request: HttpRequest | None,
        nonce: str | None = None,
        code_verifier: str | None = None,
    ) -> User | None:
        if request is None or not sso_enabled():
            return None
        if not request.GET.get("code") or not request.GET.get("state"):
            return None
        endpoints = provider()
        self.OIDC_OP_TOKEN_ENDPOINT = endpoints.token_endpoint
        self.OIDC_OP_USER_ENDPOINT = endpoints.userinfo_endpoint
        self.OIDC_OP_JWKS_ENDPOINT = endpoints.jwks_uri
        self.issuer = endpoints.issuer
        return super().authenticate(request, nonce=nonce, code_verifier=code_verifier)

    def get_user(self, user_id: Any) -> User | None:
        # The library's get_user would keep a deactivated person signed in.
        return ModelBackend.get_user(self, user_id)

    # The ID token.

    def verify_token(self, token: Any, **kwargs: Any) -> dict[str, Any]:
        """The claims of the ID token, once its signature, issuer, audience,
        expiry, issue time and nonce are verified; SuspiciousOperation if not."""
        claims = self._decode(token, audience=self.OIDC_RP_CLIENT_ID, issuer=self.issuer)
        audiences = claims["aud"] if isinstance(claims["aud"], list) else [claims["aud"]]
        # With several audiences the token must say it was issued to us (Core §3.1.3.7).
        if len(audiences) > 1 and claims.get("azp") != self.OIDC_RP_CLIENT_ID:
            raise SuspiciousOperation("The ID token has several audiences and another azp.")
        nonce = kwargs.get("nonce")
        if not nonce or claims.get("nonce") != nonce:
            raise SuspiciousOperation("The ID token's nonce is not the one of this sign-in.")
        return claims

    def _decode(
        self, token: Any, *, audience: str | None = None, issuer: str | None = None
    ) -> dict[str, Any]:
        if not isinstance(token, str) or not token:
            raise SuspiciousOperation("The provider sent no token.")
        try:
            header = jwt.get_unverified_header(token)
        except jwt.InvalidTokenError as error:
            raise SuspiciousOperation(f"The token is malformed: {error}") from error
        algorithm = header.get("alg")
        # Only the configured algorithm: never "none", never an HMAC keyed with a public key.
        if algorithm != self.OIDC_RP_SIGN_ALGO:
            raise SuspiciousOperation(
                f"The token is signed with {algorithm!r}, not OIDC_RP_SIGN_ALGO "
                f"({self.OIDC_RP_SIGN_ALGO})."
            )
        if algorithm.startswith("HS"):
            key: Any = self.OIDC_RP_CLIENT_SECRET
        else:
            key = self.retrieve_matching_jwk(token)
        is_id_token = audience is not None
        try:
            return jwt.decode(
                token,
                key,
                algorithms=[algorithm],
                audience=audience,
                issuer=issuer,
                leeway=CLOCK_SKEW_SECONDS,
                options={
                    "require": _ID_TOKEN_CLAIMS if is_id_token else ["sub"],
                    "verify_aud": is_id_token,
                    "verify_iss": is_id_token,
                },
            )
        except jwt.InvalidTokenError as error:
            raise SuspiciousOperation(f"The token was refused: {error}") from error

    def retrieve_matching_jwk(self, token: str) -> jwt.PyJWK:
        """The provider's public key that signed ``token``: the one with its key
        id (kid), for signing, with its algorithm. The keys are cached; a key id
        we do not have makes us fetch them again (the provider rotated keys)."""
        header = jwt.get_unverified_header(token)
        candidates: list[dict[str, Any]] = []
        for refresh in (False, True):
            keys = signing_keys(self.OIDC_OP_JWKS_ENDPOINT, refresh=refresh)
            candidates = [item for item in keys if _key_fits(item, header)]
            if candidates:
                break
        if len(candidates) != 1:
            raise SuspiciousOperation(
                f"The provider's key set has {len(candidates)} keys that fit the token "
                f"(kid {header.get('kid')!r}); exactly one must."
            )
        try:
            return jwt.PyJWK(candidates[0], algorithm=header["alg"])
        except jwt.PyJWTError as error:
            raise SuspiciousOperation(f"The provider's key is unusable: {error}") from error

    # The person.

    def get_userinfo(
        self, access_token: str, id_token: str, payload: dict[str, Any]
    ) -> dict[str, Any]:
        """The person's claims from the userinfo endpoint (JSON, or a JWT signed
        like the ID token). Its subject must be the ID token's (Core §5.3.2)."""
        response = requests.get(
            self.OIDC_OP_USER_ENDPOINT,
            headers={"Authorization": f"Bearer {access_token}"},
            verify=import_from_settings("OIDC_VERIFY_SSL", True),
            timeout=settings.OIDC_TIMEOUT,
            proxies=import_from_settings("OIDC_PROXY", None),
        )
        response.raise_for_status()
        content_type = response.headers.get("content-type", "").lower()
        if content_type.startswith("application/jwt"):
            claims = self._decode(response.text)
        else:
            claims = response.json()
        if not isinstance(claims, dict) or claims.get("sub") != payload.get("sub"):
            raise SuspiciousOperation("The userinfo subject is not the ID token's.")
        return claims

    def get_or_create_user(self, access_token: str, id_token: str, payload: dict[str, Any]) -> User:
        userinfo = self.get_userinfo(access_token, id_token, payload)
        return user_for_claims(id_token_claims=payload, userinfo=userinfo)


def _key_fits(jwk: dict[str, Any], header: dict[str, Any]) -> bool:
    if jwk.get("use", "sig") != "sig":
        return False
    if "alg" in jwk and jwk["alg"] != header.get("alg"):
        return False
    return "kid" not in header or jwk.get("kid") == header["kid"]


def _says_true(value: Any) -> bool:
    # Some providers send the claim as the string "true".
    return value is True or (isinstance(value, str) and value.strip().lower() == "true")


def user_for_claims(*, id_token_claims: dict[str, Any], userinfo: dict[str, Any]) -> User:
    """The user the provider vouched for, given the claims of the (verified)
    ID token and of the userinfo answer about the same subject. Raises
    SignInRefused with the reason.

    Every sign-in needs an email address the provider says is verified
    (:func:`verified_email`). A user linked to the provider's identity (issuer
    and subject) is that person, whatever their address; nobody else may have
    the address. Otherwise the one active user with the address, compared
    case-insensitively, is linked to the identity and signed in, unless they
    are linked to another identity already. When nobody has the address a CSM
    is created, only if ``OIDC_CREATE_USERS`` is on."""
    name = settings.OIDC_PROVIDER_NAME
    issuer, subject = id_token_claims["iss"], id_token_claims["sub"]
    if not isinstance(subject, str) or not subject or len(subject) > 255 or len(issuer) > 255:
        raise SignInRefused(
            f"{name} identified you in a way Red Account cannot store. Tell an administrator."
        )
    email = verified_email(id_token_claims=id_token_claims, userinfo=userinfo)
    linked = User.objects.filter(oidc_issuer=issuer, oidc_subject=subject).first()
    with_address = list(User.objects.filter(email__iexact=email, is_active=True))

    if linked is not None:
        if not linked.is_active:
            raise SignInRefused(
                "Your Red Account user is deactivated. Ask an administrator if you need access."
            )
        if any(person.pk != linked.pk for person in with_address):
            logger.warning(
                "Single sign-on: %s %s is linked to user %s, but its address %s is another "
                "active user's.",
                issuer,
                subject,
                linked.pk,
                email,
            )
            raise SignInRefused(
                f"Your {name} account is linked to one Red Account user, and its email "
                f"address {email} belongs to another, so single sign-on cannot tell which "
                "one is you. Ask an administrator to fix this."
            )
        return linked

    if len(with_address) > 1:
        raise SignInRefused(
            f"Several Red Account users have the email address {email}, so single sign-on "
            "cannot tell which one is you. Ask an administrator to fix this."
        )
    if len(with_address) == 1:
        return user_link_to_sso(user=with_address[0], issuer=issuer, subject=subject, email=email)
    if User.objects.filter(email__iexact=email).exists():
        # Never create a second user for someone whose user was deactivated.
        raise SignInRefused(
            f"The Red Account user with the email address {email} is deactivated. "
            "Ask an administrator if you need access."
        )
    if not settings.OIDC_CREATE_USERS:
        raise SignInRefused(
            f"No Red Account user has the email address {email}. Ask an administrator to add you."
        )
    names = {**id_token_claims, **userinfo}
    return user_create_from_sso(
        email=email,
        first_name=_text_claim(names, "given_name"),
        last_name=_text_claim(names, "family_name"),
        issuer=issuer,
        subject=subject,
    )


def verified_email(*, id_token_claims: dict[str, Any], userinfo: dict[str, Any]) -> str:
    """The person's email address, once the provider said it is verified.

    The address and ``email_verified`` are read together from one set of
    claims, never one from each: the ID token's when it carries an address
    (it is signed, and we verified it), otherwise the userinfo answer's.
    ``email_verified`` must be true (or the string "true"). When the claim is
    missing the address is accepted only with ``OIDC_TRUST_UNVERIFIED_EMAIL``
    on; any other value is refused. Raises SignInRefused."""
    name = settings.OIDC_PROVIDER_NAME
    claims = id_token_claims if _text_claim(id_token_claims, "email") else userinfo
    email = claims.get("email")
    if not isinstance(email, str) or not email.strip():
        raise SignInRefused(
            f"{name} did not share your email address, which is how Red Account finds "
            "your user. Ask an administrator to have the provider release it (scope email)."
        )
    email = email.strip()
    try:
        validate_email(email)
    except ValidationError:
        raise SignInRefused(f"{name} sent {email!r}, which is not an email address.") from None
    verified = claims.get("email_verified")
    if verified is None:
        if settings.OIDC_TRUST_UNVERIFIED_EMAIL:
            return email
        raise SignInRefused(
            f"{name} did not say whether your email address {email} is verified, so Red "
            "Account cannot rely on it. Ask an administrator to check the single sign-on "
            "settings."
        )
    if not _says_true(verified):
        raise SignInRefused(
            f"{name} has not verified your email address {email}. Verify it there, "
            "then sign in again."
        )
    return email


def _text_claim(claims: dict[str, Any], name: str) -> str:
    value = claims.get(name)
    return value.strip()[:150] if isinstance(value, str) else ""


def user_link_to_sso(*, user: User, issuer: str, subject: str, email: str) -> User:
    """Links ``user`` to the provider's identity (issuer and subject) at their
    first sign-in through it, so that later sign-ins find them by it. Refused
    when they are linked to another identity already, or when this identity
    is another user's (two first sign-ins at the same moment: the unique
    constraint lets one win). Raises SignInRefused."""
    name = settings.OIDC_PROVIDER_NAME
    try:
        with transaction.atomic():
            updated = User.objects.filter(pk=user.pk, is_active=True, oidc_subject="").update(
                oidc_issuer=issuer, oidc_subject=subject
            )
    except IntegrityError:
        logger.warning(
            "Single sign-on: %s %s could not be linked to user %s: another user has it.",
            issuer,
            subject,
            user.pk,
        )
        raise SignInRefused(
            f"Your {name} account is linked to another Red Account user. "
            "Ask an administrator to fix this."
        ) from None
    if updated:
        user.oidc_issuer, user.oidc_subject = issuer, subject
        logger.info("Single sign-on linked user %s to %s %s.", user.pk, issuer, subject)
        return user
    # Linked already, or deactivated: read what another request may just have written.
    user.refresh_from_db(fields=["is_active", "oidc_issuer", "oidc_subject"])
    if not user.is_active:
        raise SignInRefused(
            f"The Red Account user with the email address {email} is deactivated. "
            "Ask an administrator if you need access."
        )
    if (user.oidc_issuer, user.oidc_subject) == (issuer, subject):
        return user
    logger.warning(
        "Single sign-on: user %s (%s) is linked to %s %s, not to %s %s.",
        user.pk,
        email,
        user.oidc_issuer,
        user.oidc_subject,
        issuer,
        subject,
    )
    raise SignInRefused(
        f"The Red Account user with the email address {email} is linked to another "
        f"{name} account. Sign in with that one, or ask an administrator to check."
    )


def user_create_from_sso(
    *, email: str, first_name: str, last_name: str, issuer: str, subject: str
) -> User:
    """A new CSM for someone the provider vouched for, linked to their identity
    there, with no usable password (they sign in through the provider) and a
    username made from the address.

    Two first sign-ins of the same new person at the same moment cannot both
    create a user: the identity is unique, so the second is refused and the
    person's next sign-in finds the user the first created."""
    try:
        with transaction.atomic():
            user = User(
                username=_free_username(email),
                email=email,
                first_name=first_name,
                last_name=last_name,
                role=Role.CSM,
                oidc_issuer=issuer,
                oidc_subject=subject,
            )
            user.set_unusable_password()
            user.full_clean()
            user.save()
    except (ValidationError, IntegrityError) as error:
        logger.warning("Single sign-on could not create a user for %s: %s", email, error)
        raise SignInRefused(
            f"Red Account could not create a user for {email}. Try again, or ask an "
            "administrator to add you."
        ) from error
    logger.info("Single sign-on created the user %s (%s) as a CSM.", user.username, email)
    return user


_USERNAME_UNSAFE = re.compile(r"[^\w.@+-]")


def _free_username(email: str) -> str:
    """The part of the address before the @, cleaned to what a username may
    hold, with a number added when a user already has it."""
    base = _USERNAME_UNSAFE.sub("", email.split("@", 1)[0].lower())[:140] or "user"
    candidate, number = base, 1
    while User.objects.filter(username__iexact=candidate).exists():
        number += 1
        candidate = f"{base}-{number}"
    return candidate


# --- The views ----------------------------------------------------------------------


def _back_to_sign_in(request: HttpRequest, message: str) -> HttpResponse:
    messages.error(request, message)
    return HttpResponseRedirect(resolve_url(settings.LOGIN_URL))


def _unreachable_message() -> str:
    return (
        f"{settings.OIDC_PROVIDER_NAME} could not be reached or gave an unusable answer. "
        "Try again in a few minutes; if it keeps failing, tell an administrator."
    )


@method_decorator(login_not_required, name="dispatch")
class AuthenticateView(OIDCAuthenticationRequestView):
    """GET /oidc/authenticate/: off to the provider's sign-in page, with a
    fresh state, nonce and PKCE challenge kept in the session."""

    def __init__(self, **kwargs: Any) -> None:
        # Skips the library's __init__, which reads the authorization endpoint
        # from the settings: it may come from the discovery document instead.
        super(OIDCAuthenticationRequestView, self).__init__(**kwargs)
        self.OIDC_RP_CLIENT_ID = settings.OIDC_RP_CLIENT_ID
        self.OIDC_OP_AUTH_ENDPOINT = ""

    def get(self, request: HttpRequest) -> HttpResponse:
        if not sso_enabled():
            raise Http404("Single sign-on is off.")
        try:
            self.OIDC_OP_AUTH_ENDPOINT = provider().authorization_endpoint
        except ProviderUnavailable as error:
            logger.warning("Single sign-on could not start: %s", error)
            return _back_to_sign_in(request, _unreachable_message())
        return super().get(request)


@method_decorator(login_not_required, name="dispatch")
class CallbackView(OIDCAuthenticationCallbackView):
    """GET /oidc/callback/: the provider sends the browser back here. Signs the
    person in, or sends them back to the sign-in page saying why not."""

    failure_message = ""

    def get(self, request: HttpRequest) -> HttpResponse:
        if not sso_enabled():
            raise Http404("Single sign-on is off.")
        name = settings.OIDC_PROVIDER_NAME
        if request.GET.get("error"):
            logger.info(
                "Single sign-on: the provider answered %s (%s).",
                request.GET["error"],
                request.GET.get("error_description", ""),
            )
            self.failure_message = f"{name} did not sign you in. Try again."
        try:
            return super().get(request)
        except SignInRefused as refusal:
            logger.info("Single sign-on refused: %s", refusal)
            message = str(refusal)
        except ProviderUnavailable as error:
            logger.warning("Single sign-on failed: %s", error)
            message = _unreachable_message()
        except requests.RequestException as error:
            logger.warning("Single sign-on failed talking to the provider: %s", error)
            message = _unreachable_message()
        except SuspiciousOperation as error:
            # A token that fails verification, or a state this session never sent.
            logger.warning("Single sign-on refused a suspicious answer: %s", error)
            message = (
                f"The answer from {name} could not be verified, so you were not signed "
                "in. Try again; if it keeps happening, tell an administrator."
            )
        return _back_to_sign_in(request, message)

    def login_failure(self) -> HttpResponse:
        # The library's answer when the provider refused, when this browser's
        # session holds no sign-in in progress, or when no user came of it.
        return _back_to_sign_in(
            self.request,
            self.failure_message
            or (
                f"Signing in with {settings.OIDC_PROVIDER_NAME} did not complete "
                "(it may have taken too long). Try again."
            ),
        )
