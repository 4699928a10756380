"""Single sign-on with OpenID Connect (accounts/oidc.py), end to end against
the small provider of tests/oidc_provider.py running on 127.0.0.1: discovery,
the code flow (Django's test client on our side, real HTTP to the provider),
the checks of the ID token, the verified email address, linking people to
their identity at the provider and matching them by it or by email, creating
them, and password sign-in while single sign-on is on or off."""

from __future__ import annotations

import html
import os
import subprocess
import sys
import time
import uuid
from pathlib import Path
from urllib.parse import urlencode

import pytest
import requests
from django.contrib.auth import SESSION_KEY
from django.db import IntegrityError
from django.test import override_settings
from django.urls import reverse
from rest_framework.test import APIClient

from accounts import oidc, throttle
from accounts import services as account_services
from accounts.models import Role, User
from core.exceptions import NotAllowed
from tests import factories
from tests.oidc_provider import (
    HMAC_WITH_PUBLIC_KEY,
    OMIT,
    UNSIGNED,
    WELL_KNOWN_PATH,
    new_signing_key,
    running_provider,
)

pytestmark = pytest.mark.django_db

PASSWORD = "secret-pass-123"
PROVIDER_NAME = "Test ID"
MODEL_BACKEND = "django.contrib.auth.backends.ModelBackend"
OIDC_BACKEND = "accounts.oidc.OIDCBackend"
HINT = (
    "While single sign-on is on, only administrators sign in with a password; "
    "everyone else uses “Sign in with Test ID” on the sign-in page."
)
NOT_VERIFIED = f"The answer from {PROVIDER_NAME} could not be verified"
UNREACHABLE = f"{PROVIDER_NAME} could not be reached or gave an unusable answer"
SUBJECT = "subject-1"  # the test provider's person


# --- fixtures and helpers ---------------------------------------------------------


@pytest.fixture(scope="module")
def running():
    with running_provider() as provider:
        yield provider


@pytest.fixture
def provider(running):
    running.reset()
    yield running
    running.reset()


def sso_settings(provider, **changes) -> dict:
    return {
        "OIDC_RP_CLIENT_ID": provider.client_id,
        "OIDC_RP_CLIENT_SECRET": provider.client_secret,
        "OIDC_OP_DISCOVERY_URL": provider.discovery_url,
        "OIDC_PROVIDER_NAME": PROVIDER_NAME,
        "AUTHENTICATION_BACKENDS": [MODEL_BACKEND, OIDC_BACKEND],
        **changes,
    }


@pytest.fixture
def sso(provider):
    """Single sign-on on, with the test provider, and nothing of it cached."""
    with override_settings(**sso_settings(provider)):
        oidc.forget_provider_configuration()
        yield provider
        oidc.forget_provider_configuration()


def person(**fields) -> User:
    """A user with a name of its own, so that sign-in counters in the shared
    Redis belong to this test alone."""
    fields.setdefault("username", f"pat-{uuid.uuid4().hex[:12]}")
    return factories.CsmFactory(**fields)


def sign_in_with_sso(client, provider, *, next_url: str = ""):
    """Click "Sign in with …": follow the redirects from /oidc/authenticate/
    through the provider (real HTTP) back to our callback; return the
    callback's answer."""
    start = reverse("oidc_authentication_init")
    if next_url:
        start += "?" + urlencode({"next": next_url})
    response = client.get(start)
    assert response.status_code == 302, response.content
    to_provider = response["Location"]
    assert to_provider.startswith(f"{provider.issuer}/authorize?")
    answer = requests.get(to_provider, allow_redirects=False, timeout=10)
    assert answer.status_code == 302, answer.text
    back = answer.headers["Location"]
    assert back.startswith("http://testserver/oidc/callback/?")
    return client.get(back)


def signed_in_user_id(client) -> int | None:
    value = client.session.get(SESSION_KEY)
    return int(value) if value is not None else None


def page_messages(client, response) -> str:
    """The text of the page a redirect leads to (its messages included)."""
    page = client.get(response["Location"])
    assert page.status_code == 200
    return html.unescape(page.content.decode())


def refused_back_to_sign_in(client, response, reason: str) -> None:
    assert response.status_code == 302
    assert response["Location"] == reverse("login")
    assert signed_in_user_id(client) is None
    assert reason in page_messages(client, response)


# --- discovery ----------------------------------------------------------------------


def test_discovery_gives_the_endpoints_and_is_fetched_once(sso):
    endpoints = oidc.provider()
    assert endpoints == oidc.Provider(
        issuer=sso.issuer,
        authorization_endpoint=f"{sso.issuer}/authorize",
        token_endpoint=f"{sso.issuer}/token",
        userinfo_endpoint=f"{sso.issuer}/userinfo",
        jwks_uri=f"{sso.issuer}/jwks",
    )
    assert oidc.provider() == endpoints
    assert sso.hits[WELL_KNOWN_PATH] == 1


def test_an_endpoint_variable_overrides_the_discovered_one(sso):
    with override_settings(OIDC_OP_TOKEN_ENDPOINT="https://tokens.example.com/token"):
        endpoints = oidc.provider()
    assert endpoints.token_endpoint == "https://tokens.example.com/token"
    assert endpoints.userinfo_endpoint == f"{sso.issuer}/userinfo"


def test_with_every_endpoint_set_discovery_is_not_fetched(provider):
    explicit = sso_settings(
        provider,
        OIDC_OP_DISCOVERY_URL="",
        OIDC_OP_ISSUER=provider.issuer,
        OIDC_OP_AUTHORIZATION_ENDPOINT=f"{provider.issuer}/authorize",
        OIDC_OP_TOKEN_ENDPOINT=f"{provider.issuer}/token",
        OIDC_OP_USER_ENDPOINT=f"{provider.issuer}/userinfo",
        OIDC_OP_JWKS_ENDPOINT=f"{provider.issuer}/jwks",
    )
    with override_settings(**explicit):
        assert oidc.provider().token_endpoint == f"{provider.issuer}/token"
    assert provider.hits[WELL_KNOWN_PATH] == 0


def test_a_discovery_document_naming_another_issuer_is_refused(sso):
    # The provider names its own issuer, which is not this document's address.
    elsewhere = f"{sso.issuer}/tenant-b{WELL_KNOWN_PATH}"
    with (
        override_settings(OIDC_OP_DISCOVERY_URL=elsewhere),
        pytest.raises(oidc.ProviderUnavailable, match="names the issuer"),
    ):
        oidc.provider()


def test_an_unreachable_provider_sends_back_to_sign_in_with_a_message(client, provider):
    closed = sso_settings(
        provider, OIDC_OP_DISCOVERY_URL=f"http://127.0.0.1:9{WELL_KNOWN_PATH}", OIDC_TIMEOUT=2
    )
    with override_settings(**closed):
        response = client.get(reverse("oidc_authentication_init"))
        refused_back_to_sign_in(client, response, f"{PROVIDER_NAME} could not be reached")


# --- the code flow ------------------------------------------------------------------


def test_the_code_flow_signs_in_the_user_with_the_email_in_any_case(client, sso):
    casey = person(email="Casey@Example.COM")
    person(email="someone.else@example.com")

    response = sign_in_with_sso(client, sso)

    assert response.status_code == 302
    assert response["Location"] == reverse("home")
    assert signed_in_user_id(client) == casey.pk
    assert client.get(reverse("home")).status_code == 200
    # The request carried a state, a nonce and a PKCE challenge, and asked
    # for the configured scopes; the provider checked the verifier.
    sent = sso.last_authorization
    assert sent["scope"] == "openid email profile"
    assert sent["state"] and sent["nonce"]
    assert sent["code_challenge_method"] == "S256"
    assert sso.hits["/token"] == 1
    assert sso.hits["/userinfo"] == 1


def test_after_signing_in_the_person_lands_on_the_page_they_asked_for(client, sso):
    person(email="casey@example.com")
    response = sign_in_with_sso(client, sso, next_url="/risks/")
    assert response["Location"] == "/risks/"


def test_a_next_address_on_another_site_is_ignored(client, sso):
    person(email="casey@example.com")
    response = sign_in_with_sso(client, sso, next_url="https://evil.example.com/")
    assert response["Location"] == reverse("home")


def test_an_admin_can_sign_in_with_sso_too(client, sso):
    admin = factories.AdminFactory(username=f"ada-{uuid.uuid4().hex[:8]}")
    sso.person["email"] = admin.email
    sign_in_with_sso(client, sso)
    assert signed_in_user_id(client) == admin.pk


def test_the_keys_are_cached_and_a_new_signing_key_is_fetched_when_it_appears(client, sso):
    person(email="casey@example.com")
    sign_in_with_sso(client, sso)
    client.logout()
    sign_in_with_sso(client, sso)
    assert sso.hits["/jwks"] == 1
    assert sso.hits[WELL_KNOWN_PATH] == 1

    client.logout()
    sso.rotate_key()
    sign_in_with_sso(client, sso)
    assert signed_in_user_id(client) is not None
    assert sso.hits["/jwks"] == 2


def test_a_deactivated_person_is_signed_out_at_their_next_request(client, sso):
    casey = person(email="casey@example.com")
    sign_in_with_sso(client, sso)
    assert client.get(reverse("home")).status_code == 200

    User.objects.filter(pk=casey.pk).update(is_active=False)

    response = client.get(reverse("home"))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login"))


# --- who is signed in ----------------------------------------------------------------


def test_an_unknown_email_is_refused_when_creating_users_is_off(client, sso):
    count = User.objects.count()
    response = sign_in_with_sso(client, sso)
    refused_back_to_sign_in(
        client,
        response,
        "No Red Account user has the email address casey@example.com. "
        "Ask an administrator to add you.",
    )
    assert User.objects.count() == count


def test_an_unknown_email_becomes_a_csm_when_creating_users_is_on(client, sso):
    sso.person.update(email="New.Person@Example.com", given_name="New", family_name="Person")
    with override_settings(OIDC_CREATE_USERS=True):
        response = sign_in_with_sso(client, sso)

    assert response["Location"] == reverse("home")
    created = User.objects.get(email__iexact="new.person@example.com")
    assert created.email == "New.Person@example.com"  # the domain in lower case, as Django keeps it
    assert signed_in_user_id(client) == created.pk
    assert created.role == Role.CSM
    assert created.username == "new.person"
    assert (created.first_name, created.last_name) == ("New", "Person")
    assert not created.has_usable_password()
    assert not created.is_staff and not created.is_superuser
    assert (created.oidc_issuer, created.oidc_subject) == (sso.issuer, SUBJECT)


def test_a_created_username_gets_a_number_when_the_name_is_taken(client, sso):
    factories.UserFactory(username="casey", email="casey@elsewhere.example.com")
    factories.UserFactory(username="Casey-2", email="casey2@elsewhere.example.com")
    with override_settings(OIDC_CREATE_USERS=True):
        sign_in_with_sso(client, sso)
    assert User.objects.get(email="casey@example.com").username == "casey-3"


# --- the email address ----------------------------------------------------------------

NOT_SAID = f"{PROVIDER_NAME} did not say whether your email address casey@example.com is verified"


@pytest.mark.parametrize("said", [False, "false", "yes", 1, "1"])
def test_an_email_the_provider_has_not_verified_is_refused(client, sso, said):
    casey = person(email="casey@example.com")
    sso.person["email_verified"] = said
    with override_settings(OIDC_CREATE_USERS=True):
        response = sign_in_with_sso(client, sso)
    refused_back_to_sign_in(
        client, response, f"{PROVIDER_NAME} has not verified your email address casey@example.com"
    )
    casey.refresh_from_db()
    assert casey.oidc_subject == ""


@pytest.mark.parametrize("said", [True, "true", "TRUE"])
def test_an_email_the_provider_says_is_verified_signs_in(client, sso, said):
    casey = person(email="casey@example.com")
    sso.person["email_verified"] = said
    sign_in_with_sso(client, sso)
    assert signed_in_user_id(client) == casey.pk


def test_an_email_not_said_to_be_verified_never_signs_in_even_a_superuser(client, sso):
    root = factories.AdminFactory(
        username=f"root-{uuid.uuid4().hex[:8]}", email="casey@example.com", is_superuser=True
    )
    del sso.person["email_verified"]
    response = sign_in_with_sso(client, sso)
    refused_back_to_sign_in(client, response, NOT_SAID)
    root.refresh_from_db()
    assert root.oidc_subject == ""


def test_trusting_unverified_email_accepts_an_address_the_provider_says_nothing_about(client, sso):
    casey = person(email="casey@example.com")
    del sso.person["email_verified"]
    with override_settings(OIDC_TRUST_UNVERIFIED_EMAIL=True):
        sign_in_with_sso(client, sso)
    assert signed_in_user_id(client) == casey.pk


def test_trusting_unverified_email_still_refuses_an_address_marked_not_verified(client, sso):
    person(email="casey@example.com")
    sso.person["email_verified"] = False
    with override_settings(OIDC_TRUST_UNVERIFIED_EMAIL=True):
        response = sign_in_with_sso(client, sso)
    refused_back_to_sign_in(client, response, "has not verified your email address")


def test_the_id_tokens_address_wins_over_another_in_userinfo(client, sso):
    casey = person(email="casey@example.com")
    factories.AdminFactory(username=f"ada-{uuid.uuid4().hex[:8]}", email="ada@example.com")
    # Userinfo names an admin's address and says nothing about verifying it.
    sso.userinfo_changes = {"email": "ada@example.com", "email_verified": OMIT}
    sign_in_with_sso(client, sso)
    assert signed_in_user_id(client) == casey.pk


def test_without_an_address_in_the_id_token_userinfo_gives_it_with_its_verification(client, sso):
    casey = person(email="casey@example.com")
    sso.id_token_changes = {"email": OMIT, "email_verified": OMIT}
    sign_in_with_sso(client, sso)
    assert signed_in_user_id(client) == casey.pk


@pytest.mark.parametrize(
    "id_token_changes, userinfo_changes",
    [
        pytest.param({"email_verified": OMIT}, {}, id="address-in-token-verified-in-userinfo"),
        pytest.param({"email": OMIT}, {"email_verified": OMIT}, id="address-in-userinfo-only"),
    ],
)
def test_a_verification_in_the_other_set_of_claims_does_not_count(
    client, sso, id_token_changes, userinfo_changes
):
    person(email="casey@example.com")
    sso.id_token_changes = id_token_changes
    sso.userinfo_changes = userinfo_changes
    response = sign_in_with_sso(client, sso)
    refused_back_to_sign_in(client, response, NOT_SAID)


def test_a_missing_email_is_refused(client, sso):
    del sso.person["email"]
    response = sign_in_with_sso(client, sso)
    refused_back_to_sign_in(client, response, "did not share your email address")


def test_two_active_users_with_the_email_are_refused(client, sso):
    person(email="casey@example.com")
    person(email="CASEY@example.com")
    response = sign_in_with_sso(client, sso)
    refused_back_to_sign_in(client, response, "Several Red Account users have the email address")


def test_an_inactive_user_with_the_email_is_neither_used_nor_recreated(client, sso):
    person(email="casey@example.com", is_active=False)
    count = User.objects.count()
    with override_settings(OIDC_CREATE_USERS=True):
        response = sign_in_with_sso(client, sso)
    refused_back_to_sign_in(client, response, "is deactivated")
    assert User.objects.count() == count


def test_the_active_user_is_chosen_over_an_inactive_one_with_the_email(client, sso):
    person(email="casey@example.com", is_active=False)
    active = person(email="Casey@example.com")
    sign_in_with_sso(client, sso)
    assert signed_in_user_id(client) == active.pk


# --- the identity at the provider ----------------------------------------------------


def test_the_first_sign_in_links_the_user_to_their_identity_at_the_provider(client, sso):
    casey = person(email="casey@example.com")
    sign_in_with_sso(client, sso)
    casey.refresh_from_db()
    assert (casey.oidc_issuer, casey.oidc_subject) == (sso.issuer, SUBJECT)


def test_a_linked_user_is_found_by_subject_after_their_address_changed_there(client, sso):
    casey = person(email="casey@example.com")
    sign_in_with_sso(client, sso)
    client.logout()

    sso.person["email"] = "casey.jones@newco.example.com"  # no user has it
    sign_in_with_sso(client, sso)

    assert signed_in_user_id(client) == casey.pk
    casey.refresh_from_db()
    assert casey.email == "casey@example.com"


@pytest.mark.parametrize(
    "issuer, subject",
    [
        pytest.param(None, "subject-2", id="another-subject"),
        pytest.param("https://old-provider.example.com", SUBJECT, id="another-issuer"),
    ],
)
def test_a_user_linked_to_another_identity_is_refused_even_with_the_email(
    client, sso, issuer, subject
):
    casey = person(
        email="casey@example.com", oidc_issuer=issuer or sso.issuer, oidc_subject=subject
    )
    response = sign_in_with_sso(client, sso)
    refused_back_to_sign_in(
        client,
        response,
        "The Red Account user with the email address casey@example.com is linked to "
        f"another {PROVIDER_NAME} account.",
    )
    casey.refresh_from_db()
    assert (casey.oidc_issuer, casey.oidc_subject) == (issuer or sso.issuer, subject)


def test_a_subject_linked_to_one_user_with_the_address_of_another_is_refused(client, sso):
    casey = person(email="casey@example.com")
    sign_in_with_sso(client, sso)
    client.logout()
    ada = factories.AdminFactory(username=f"ada-{uuid.uuid4().hex[:8]}", email="ada@example.com")

    sso.person["email"] = "ADA@example.com"
    response = sign_in_with_sso(client, sso)

    refused_back_to_sign_in(
        client,
        response,
        f"Your {PROVIDER_NAME} account is linked to one Red Account user, and its email "
        "address ADA@example.com belongs to another",
    )
    ada.refresh_from_db()
    assert ada.oidc_subject == ""
    assert User.objects.get(oidc_subject=SUBJECT) == casey


def test_a_linked_user_who_was_deactivated_is_refused(client, sso):
    casey = person(email="casey@example.com")
    sign_in_with_sso(client, sso)
    client.logout()
    User.objects.filter(pk=casey.pk).update(is_active=False)
    person(email="casey@example.com")  # a new user with the address is not a way in

    response = sign_in_with_sso(client, sso)

    refused_back_to_sign_in(client, response, "Your Red Account user is deactivated.")


def test_linking_an_identity_another_user_took_meanwhile_is_refused(sso):
    # Two first sign-ins at once: the other one linked its user first.
    person(email="casey@example.com", oidc_issuer=sso.issuer, oidc_subject=SUBJECT)
    second = person(email="casey.jones@example.com")
    with pytest.raises(oidc.SignInRefused, match="linked to another Red Account user"):
        oidc.user_link_to_sso(
            user=second, issuer=sso.issuer, subject=SUBJECT, email="casey.jones@example.com"
        )
    second.refresh_from_db()
    assert second.oidc_subject == ""


def test_a_user_another_sign_in_linked_meanwhile_is_kept_only_for_the_same_identity(sso):
    casey = person(email="casey@example.com")
    # Both read before another sign-in linked Casey.
    seen_by_same, seen_by_other = User.objects.get(pk=casey.pk), User.objects.get(pk=casey.pk)
    User.objects.filter(pk=casey.pk).update(oidc_issuer=sso.issuer, oidc_subject=SUBJECT)

    linked = oidc.user_link_to_sso(
        user=seen_by_same, issuer=sso.issuer, subject=SUBJECT, email=casey.email
    )
    assert linked.pk == casey.pk
    with pytest.raises(oidc.SignInRefused, match=f"is linked to another {PROVIDER_NAME} account"):
        oidc.user_link_to_sso(
            user=seen_by_other, issuer=sso.issuer, subject="subject-2", email=casey.email
        )
    casey.refresh_from_db()
    assert casey.oidc_subject == SUBJECT


def test_creating_a_user_for_an_identity_another_user_has_is_refused(sso):
    person(email="holder@example.com", oidc_issuer=sso.issuer, oidc_subject=SUBJECT)
    count = User.objects.count()
    with pytest.raises(oidc.SignInRefused, match=r"could not create a user for new@example\.com"):
        oidc.user_create_from_sso(
            email="new@example.com",
            first_name="New",
            last_name="Person",
            issuer=sso.issuer,
            subject=SUBJECT,
        )
    assert User.objects.count() == count


@pytest.mark.parametrize(
    "issuer, subject",
    [("http://id.example.com", ""), ("", "subject-1")],
    ids=["issuer-without-subject", "subject-without-issuer"],
)
def test_the_database_refuses_half_an_identity(issuer, subject):
    casey = person(email="casey@example.com")
    with pytest.raises(IntegrityError, match="user_oidc_identity_complete"):
        User.objects.filter(pk=casey.pk).update(oidc_issuer=issuer, oidc_subject=subject)


def test_the_identity_is_shown_read_only_in_the_user_admin(client, sso):
    casey = person(email="casey@example.com")
    sign_in_with_sso(client, sso)
    client.logout()
    root = factories.AdminFactory(username=f"root-{uuid.uuid4().hex[:8]}", is_superuser=True)
    client.force_login(root)

    page = client.get(reverse("admin:accounts_user_change", args=[casey.pk]))

    content = page.content.decode()
    assert page.status_code == 200
    assert "Single sign-on subject" in content and SUBJECT in content
    assert sso.issuer in content
    assert 'name="oidc_subject"' not in content and 'name="oidc_issuer"' not in content


def test_an_admin_unlinks_an_identity_and_the_next_sign_in_links_the_new_one(client, sso):
    casey = person(
        email="casey@example.com", oidc_issuer="https://old.example.com", oidc_subject="x"
    )
    root = factories.AdminFactory(username=f"root-{uuid.uuid4().hex[:8]}", is_superuser=True)
    client.force_login(root)
    response = client.post(
        reverse("admin:accounts_user_changelist"),
        {"action": "unlink_sso", "_selected_action": [casey.pk]},
        follow=True,
    )
    assert "1 person(s) unlinked" in response.content.decode()
    casey.refresh_from_db()
    assert (casey.oidc_issuer, casey.oidc_subject) == ("", "")
    client.logout()

    sign_in_with_sso(client, sso)
    casey.refresh_from_db()
    assert signed_in_user_id(client) == casey.pk
    assert (casey.oidc_issuer, casey.oidc_subject) == (sso.issuer, SUBJECT)


def test_only_admins_unlink_identities(sso):
    with pytest.raises(NotAllowed):
        account_services.users_unlink_sso(user=person(role=Role.MANAGER), people=[person()])


# --- the ID token --------------------------------------------------------------------


@pytest.mark.parametrize(
    "knob, value",
    [
        pytest.param("audience", "another-client", id="wrong-aud"),
        pytest.param("audience", ["another-client", "a-third"], id="aud-list-without-us"),
        pytest.param("sign_with_impostor", True, id="bad-signature"),
        pytest.param("token_issuer", "http://127.0.0.1:1", id="wrong-iss"),
        pytest.param("lifetime", -120, id="expired"),
        pytest.param("token_nonce", "another-nonce", id="wrong-nonce"),
        pytest.param("id_token_changes", {"iat": OMIT}, id="no-iat"),
        pytest.param("id_token_changes", {"iat": int(time.time()) + 3600}, id="future-iat"),
        pytest.param("id_token_changes", {"exp": OMIT}, id="no-exp"),
        pytest.param("id_token_changes", {"sub": OMIT}, id="no-sub"),
        pytest.param("id_token_signing", UNSIGNED, id="alg-none"),
        pytest.param("id_token_signing", HMAC_WITH_PUBLIC_KEY, id="hs256-keyed-with-public-key"),
    ],
)
def test_an_id_token_that_fails_verification_is_refused(client, sso, knob, value):
    casey = person(email="casey@example.com")
    setattr(sso, knob, value)
    response = sign_in_with_sso(client, sso)
    refused_back_to_sign_in(client, response, NOT_VERIFIED)
    # The provider gave a token; it was ours that refused it.
    assert sso.token_answers == [(200, "")]
    casey.refresh_from_db()
    assert casey.oidc_subject == ""


def test_an_audience_list_naming_us_needs_azp(client, sso):
    person(email="casey@example.com")
    sso.audience = [sso.client_id, "another-client"]
    response = sign_in_with_sso(client, sso)
    refused_back_to_sign_in(client, response, NOT_VERIFIED)


def test_a_token_signed_with_an_unknown_key_is_refused_after_one_refetch(client, sso):
    person(email="casey@example.com")
    sso.impostor_key = new_signing_key("a-key-nobody-published")
    sso.sign_with_impostor = True
    response = sign_in_with_sso(client, sso)
    refused_back_to_sign_in(client, response, NOT_VERIFIED)
    # Read once, and once more in case the provider had just rotated its keys.
    assert sso.hits["/jwks"] == 2


def test_userinfo_about_another_subject_is_refused(client, sso):
    person(email="casey@example.com")
    sso.userinfo_changes = {"sub": "someone-else"}
    response = sign_in_with_sso(client, sso)
    refused_back_to_sign_in(client, response, f"Signing in with {PROVIDER_NAME} did not complete")


# --- the callback's other answers ------------------------------------------------------


def test_a_refusal_by_the_provider_returns_to_sign_in(client, sso):
    sso.refuse = True
    response = sign_in_with_sso(client, sso)
    refused_back_to_sign_in(client, response, f"{PROVIDER_NAME} did not sign you in")


def test_a_callback_this_browser_did_not_start_returns_to_sign_in(client, sso):
    response = client.get(reverse("oidc_authentication_callback"), {"code": "x", "state": "y"})
    refused_back_to_sign_in(client, response, f"Signing in with {PROVIDER_NAME} did not complete")


def test_a_callback_with_a_state_of_another_sign_in_returns_to_sign_in(client, sso):
    client.get(reverse("oidc_authentication_init"))  # a sign-in in progress
    response = client.get(reverse("oidc_authentication_callback"), {"code": "x", "state": "y"})
    refused_back_to_sign_in(client, response, NOT_VERIFIED)
    assert sso.hits["/token"] == 0


def test_a_callback_replayed_in_the_same_browser_never_reaches_the_provider(client, sso):
    casey = person(email="casey@example.com")
    start = client.get(reverse("oidc_authentication_init"))
    back = requests.get(start["Location"], allow_redirects=False, timeout=10).headers["Location"]
    client.get(back)
    assert signed_in_user_id(client) == casey.pk

    # The sign-in's state was used up with it.
    client.get(back)
    assert sso.token_answers == [(200, "")]


def test_a_reused_code_is_refused_by_the_provider(client, sso):
    casey = person(email="casey@example.com")
    start = client.get(reverse("oidc_authentication_init"))
    in_progress = client.session["oidc_states"]
    back = requests.get(start["Location"], allow_redirects=False, timeout=10).headers["Location"]
    client.get(back)
    assert signed_in_user_id(client) == casey.pk

    # Someone replays the callback address in a session that still holds the
    # state (and the nonce and PKCE verifier) of that sign-in.
    client.logout()
    session = client.session
    session["oidc_states"] = in_progress
    session.save()
    replayed = client.get(back)

    assert sso.token_answers == [(200, ""), (400, "invalid_grant")]
    refused_back_to_sign_in(client, replayed, UNREACHABLE)


def test_a_password_sign_in_never_reaches_the_provider(client, sso):
    admin = factories.AdminFactory(username=f"ada-{uuid.uuid4().hex[:8]}")
    url = reverse("login") + "?code=x&state=y"
    response = client.post(url, {"username": admin.username, "password": PASSWORD})
    assert response.status_code == 302
    assert signed_in_user_id(client) == admin.pk
    assert sum(sso.hits.values()) == 0


# --- passwords while single sign-on is on ----------------------------------------------


def password_sign_in(client, username: str, password: str = PASSWORD):
    return client.post(reverse("login"), {"username": username, "password": password})


def test_an_admin_signs_in_with_a_password_while_sso_is_on(client, sso):
    admin = factories.AdminFactory(username=f"ada-{uuid.uuid4().hex[:8]}")
    response = password_sign_in(client, admin.username)
    assert response.status_code == 302
    assert signed_in_user_id(client) == admin.pk


def test_a_superuser_signs_in_with_a_password_while_sso_is_on(client, sso):
    root = person(is_superuser=True)
    password_sign_in(client, root.username)
    assert signed_in_user_id(client) == root.pk


def test_the_admin_sign_in_page_follows_the_same_rule(client, sso):
    staff_csm = person(role=Role.CSM, is_staff=True)
    response = client.post(
        reverse("admin:login"), {"username": staff_csm.username, "password": PASSWORD}
    )
    assert response.status_code == 200 and signed_in_user_id(client) is None
    assert "only administrators sign in with a password" in response.content.decode()
    admin = person(role=Role.ADMIN, is_staff=True)
    response = client.post(
        reverse("admin:login"), {"username": admin.username, "password": PASSWORD}
    )
    assert response.status_code == 302 and signed_in_user_id(client) == admin.pk


def test_a_csm_password_sign_in_is_refused_like_a_wrong_password(client, sso):
    csm = person()
    right = password_sign_in(client, csm.username)
    wrong = password_sign_in(client, csm.username, "not-the-password")

    expected = [f"Unable to sign in with that username and password. {HINT}"]
    assert list(right.context["form"].non_field_errors()) == expected
    assert list(wrong.context["form"].non_field_errors()) == expected
    assert signed_in_user_id(client) is None
    # Both count towards the lock, as any failed sign-in does.
    assert throttle.failures(csm.username, "127.0.0.1") == 2
    throttle.reset(csm.username, "127.0.0.1")


def test_a_csm_password_sign_in_is_locked_after_the_limit(client, sso):
    csm = person()
    with override_settings(LOGIN_FAILURE_LIMIT=2):
        password_sign_in(client, csm.username)
        locked = password_sign_in(client, csm.username)
    assert list(locked.context["form"].non_field_errors()) == [
        "Too many failed sign-ins. Try again in 15 minutes."
    ]
    throttle.reset(csm.username, "127.0.0.1")


@pytest.mark.parametrize(
    "factory, allowed",
    [
        (factories.AdminFactory, True),
        (factories.CsmFactory, False),
        (factories.ManagerFactory, False),
        (factories.ReviewerFactory, False),
    ],
)
def test_only_admins_get_an_api_token_with_a_password_while_sso_is_on(sso, factory, allowed):
    user = factory(username=f"api-{uuid.uuid4().hex[:12]}")
    response = APIClient().post(
        reverse("api-token"), {"username": user.username, "password": PASSWORD}
    )
    if allowed:
        assert response.status_code == 200
        assert response.json()["token"]
    else:
        assert response.status_code == 400
        assert response.json() == {
            "non_field_errors": [f"Unable to sign in with those credentials. {HINT}"]
        }
    throttle.reset(user.username, "127.0.0.1")


def test_the_sign_in_page_offers_the_provider_with_the_next_address(client, sso):
    page = client.get(reverse("login"), {"next": "/risks/?tier=2"})
    content = page.content.decode()
    link = f'href="{reverse("oidc_authentication_init")}?next=/risks/%3Ftier%3D2"'
    assert link in content
    assert f"Sign in with {PROVIDER_NAME}</a>" in content
    # A link, not a form: CSP's form-action 'self' would stop a form's
    # redirect to the provider.
    assert "form-action 'self'" in page["Content-Security-Policy"]
    assert content.count("<form") == 1


# --- single sign-on off -----------------------------------------------------------------


def test_with_sso_off_there_is_no_button_and_everyone_signs_in_with_a_password(client):
    page = client.get(reverse("login"))
    assert "Sign in with" not in page.content.decode()
    csm = person()
    response = password_sign_in(client, csm.username)
    assert response.status_code == 302
    assert signed_in_user_id(client) == csm.pk


def test_with_sso_off_a_wrong_password_gets_the_usual_message(client):
    csm = person()
    response = password_sign_in(client, csm.username, "nope")
    [error] = response.context["form"].non_field_errors()
    assert error.startswith("Please enter a correct username and password.")
    assert "single sign-on" not in error
    throttle.reset(csm.username, "127.0.0.1")


def test_with_sso_off_a_csm_gets_an_api_token(settings):
    assert settings.AUTHENTICATION_BACKENDS == [MODEL_BACKEND]
    csm = person()
    response = APIClient().post(
        reverse("api-token"), {"username": csm.username, "password": PASSWORD}
    )
    assert response.status_code == 200


def test_with_sso_off_its_addresses_are_not_found(client):
    assert client.get(reverse("oidc_authentication_init")).status_code == 404
    callback = client.get(reverse("oidc_authentication_callback"), {"code": "x", "state": "y"})
    assert callback.status_code == 404


# --- start-up ---------------------------------------------------------------------------

ROOT = Path(__file__).resolve().parents[2]
SSO_ENV = {
    "OIDC_RP_CLIENT_ID": "red-account",
    "OIDC_RP_CLIENT_SECRET": "secret",
    # A closed port: start-up must not try to read it.
    "OIDC_OP_DISCOVERY_URL": f"http://127.0.0.1:9{WELL_KNOWN_PATH}",
}


def load_settings(**env: str) -> subprocess.CompletedProcess:
    """Import the settings in a fresh interpreter with these variables."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith("OIDC_")}
    clean.update(env)
    code = (
        "from django.conf import settings; import django; django.setup(); "
        "from django.urls import reverse; print(reverse('oidc_authentication_callback')); "
        "print(settings.AUTHENTICATION_BACKENDS)"
    )
    return subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        env={**clean, "DJANGO_SETTINGS_MODULE": "config.settings.test"},
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_sso_turns_on_with_the_variables_without_fetching_anything():
    result = load_settings(**SSO_ENV)
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == [
        "/oidc/callback/",
        f"{[MODEL_BACKEND, OIDC_BACKEND]}",
    ]


@pytest.mark.parametrize(
    "changes, message",
    [
        ({"OIDC_RP_CLIENT_SECRET": ""}, "OIDC_RP_CLIENT_SECRET must be set"),
        (
            {"OIDC_OP_DISCOVERY_URL": "", "OIDC_OP_TOKEN_ENDPOINT": "https://id.example.com/t"},
            "needs OIDC_OP_DISCOVERY_URL, or else OIDC_OP_ISSUER, "
            "OIDC_OP_AUTHORIZATION_ENDPOINT, OIDC_OP_USER_ENDPOINT, OIDC_OP_JWKS_ENDPOINT.",
        ),
        (
            {"OIDC_OP_DISCOVERY_URL": "https://id.example.com/"},
            "OIDC_OP_DISCOVERY_URL='https://id.example.com/' must be the address",
        ),
        ({"OIDC_RP_SIGN_ALGO": "none"}, "OIDC_RP_SIGN_ALGO='none' is not one of"),
        ({"OIDC_RP_SCOPES": "openid profile"}, "must include openid and email"),
        ({"OIDC_CREATE_USERS": "maybe"}, "OIDC_CREATE_USERS='maybe' is not a boolean"),
        (
            {"OIDC_TRUST_UNVERIFIED_EMAIL": "sometimes"},
            "OIDC_TRUST_UNVERIFIED_EMAIL='sometimes' is not a boolean",
        ),
        ({"OIDC_OP_JWKS_ENDPOINT": "id.example.com/jwks"}, "OIDC_OP_JWKS_ENDPOINT="),
    ],
    ids=[
        "no-secret",
        "no-endpoints",
        "not-discovery",
        "algorithm",
        "scopes",
        "create",
        "trust-unverified",
        "url",
    ],
)
def test_a_misconfiguration_stops_start_up_naming_the_variable(changes, message):
    result = load_settings(**{**SSO_ENV, **changes})
    assert result.returncode != 0
    assert "ImproperlyConfigured" in result.stderr
    assert message in result.stderr
