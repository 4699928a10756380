"""Signing in and out, changing the password, and the headers every page carries."""

from __future__ import annotations

import pytest
from django.urls import reverse

from config.middleware import CONTENT_SECURITY_POLICY

pytestmark = pytest.mark.django_db


def test_anonymous_visitors_are_sent_to_sign_in(client):
    response = client.get(reverse("risks:list"))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login") + "?next=")


def test_signing_in_leads_to_the_home_page(client, csm):
    response = client.post(
        reverse("login"), {"username": csm.username, "password": "secret-pass-123"}
    )
    assert response.status_code == 302
    assert response["Location"] == reverse("home")


def test_a_wrong_password_shows_an_error_on_the_form(client, csm):
    response = client.post(reverse("login"), {"username": csm.username, "password": "nope"})
    assert response.status_code == 200
    assert "Please enter a correct username and password" in response.content.decode()


def test_signing_out_needs_a_post_and_ends_the_session(client, csm):
    client.force_login(csm)
    assert client.get(reverse("logout")).status_code == 405
    response = client.post(reverse("logout"))
    assert response.status_code == 302
    assert client.get(reverse("home")).status_code == 302


def test_password_change_keeps_the_user_signed_in(client, csm):
    client.force_login(csm)
    response = client.post(
        reverse("password_change"),
        {
            "old_password": "secret-pass-123",
            "new_password1": "a-much-better-passphrase-42",
            "new_password2": "a-much-better-passphrase-42",
        },
    )
    assert response.status_code == 302
    csm.refresh_from_db()
    assert csm.check_password("a-much-better-passphrase-42")


def test_password_change_errors_are_shown_next_to_the_field(client, csm):
    client.force_login(csm)
    response = client.post(
        reverse("password_change"),
        {"old_password": "wrong", "new_password1": "x", "new_password2": "y"},
    )
    html = response.content.decode()
    assert response.status_code == 200
    assert 'id="id_old_password_error"' in html


@pytest.mark.parametrize("url_name", ["login", "home"])
def test_pages_carry_a_strict_content_security_policy(client, csm, url_name):
    if url_name != "login":
        client.force_login(csm)
    response = client.get(reverse(url_name))
    policy = response["Content-Security-Policy"]
    assert policy == CONTENT_SECURITY_POLICY
    assert "script-src 'self'" in policy
    assert "unsafe-inline" not in policy
    html = response.content.decode()
    # No inline script can run under that policy, so none may be written.
    assert "<script>" not in html
    assert " onclick=" not in html


def test_forms_carry_a_csrf_token(client, csm):
    response = client.get(reverse("login"))
    assert 'name="csrfmiddlewaretoken"' in response.content.decode()


def test_the_404_page_is_friendly(client, csm):
    client.force_login(csm)
    response = client.get("/no-such-page/")
    assert response.status_code == 404
    assert "There is nothing at this address" in response.content.decode()


def test_the_favicon_is_served_without_sign_in(client):
    response = client.get("/favicon.ico")
    assert response.status_code == 301
    assert response["Location"].endswith("favicon.svg")
