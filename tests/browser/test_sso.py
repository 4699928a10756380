"""Single sign-on in a real browser: a CSM clicks "Sign in with …" on the
sign-in page, continues on the test provider's page (tests/oidc_provider.py,
another site on 127.0.0.1) and lands on the home page signed in, under the
site's Content-Security-Policy, with and without JavaScript, and is linked to
their identity there. A refused sign-in says why on the sign-in page. The
sign-in page with single sign-on on passes axe."""

from __future__ import annotations

import pytest
from django.test import override_settings
from playwright.sync_api import Page, expect

from accounts import oidc
from tests import factories
from tests.oidc_provider import running_provider

pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True),
    pytest.mark.usefixtures("reference_data"),
]

PROVIDER_NAME = "Test ID"
AXE_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]
RUN_AXE = """(tags) => axe.run(document, {
  runOnly: {type: 'tag', values: tags},
  resultTypes: ['violations'],
})"""


@pytest.fixture(scope="module")
def running():
    with running_provider() as provider:
        yield provider


@pytest.fixture
def sso(running, live_server):
    """Single sign-on on, with the provider sending the browser back to the
    live server after its Continue button."""
    running.reset()
    running.redirect_uris = [f"{live_server.url}/oidc/callback/"]
    running.interactive = True
    with override_settings(
        OIDC_RP_CLIENT_ID=running.client_id,
        OIDC_RP_CLIENT_SECRET=running.client_secret,
        OIDC_OP_DISCOVERY_URL=running.discovery_url,
        OIDC_PROVIDER_NAME=PROVIDER_NAME,
        AUTHENTICATION_BACKENDS=[
            "django.contrib.auth.backends.ModelBackend",
            "accounts.oidc.OIDCBackend",
        ],
    ):
        oidc.forget_provider_configuration()
        yield running
        oidc.forget_provider_configuration()
    running.reset()


@pytest.fixture
def casey():
    return factories.CsmFactory(
        username="casey", first_name="Casey", last_name="Jones", email="Casey@Example.com"
    )


def sign_in_through_the_provider(page: Page, live_url: str) -> None:
    page.goto("/login/")
    page.get_by_role("link", name=f"Sign in with {PROVIDER_NAME}").click()
    # The provider's own page, on another site.
    expect(page.get_by_role("heading", name="Test provider")).to_be_visible()
    expect(page.get_by_text("Sign in to Red Account as casey@example.com?")).to_be_visible()
    page.get_by_role("button", name="Continue").click()
    page.wait_for_url(f"{live_url}/")


def test_a_csm_signs_in_through_the_provider_and_lands_on_the_home_page(
    page, live_server, sso, casey, axe_script
):
    page.context.add_init_script(path=axe_script)
    page.goto("/login/")
    violations = page.evaluate(RUN_AXE, AXE_TAGS)["violations"]
    assert [violation["id"] for violation in violations] == []

    sign_in_through_the_provider(page, live_server.url)

    nav = page.get_by_role("navigation", name="Main")
    expect(nav.get_by_text("Casey Jones")).to_be_visible()
    expect(nav.get_by_role("button", name="Sign out")).to_be_visible()
    assert sso.hits["/token"] == 1
    # A Content-Security-Policy violation would show here.
    assert page.console_errors == []
    # Linked to their identity at the provider from now on.
    casey.refresh_from_db()
    assert (casey.oidc_issuer, casey.oidc_subject) == (sso.issuer, "subject-1")


def test_the_sign_in_works_without_javascript(browser, live_server, sso, casey):
    context = browser.new_context(base_url=live_server.url, java_script_enabled=False)
    context.set_default_timeout(10_000)
    page = context.new_page()
    try:
        sign_in_through_the_provider(page, live_server.url)
        expect(page.get_by_role("button", name="Sign out")).to_be_visible()
    finally:
        context.close()


def refused_through_the_provider(page: Page, live_url: str, reason: str) -> None:
    page.goto("/login/")
    page.get_by_role("link", name=f"Sign in with {PROVIDER_NAME}").click()
    page.get_by_role("button", name="Continue").click()
    page.wait_for_url(f"{live_url}/login/")
    expect(page.get_by_role("alert")).to_have_text(reason)


def test_a_refused_sign_in_shows_why_on_the_sign_in_page(page, live_server, sso):
    # Nobody has the provider's email address, and creating users is off.
    refused_through_the_provider(
        page,
        live_server.url,
        "No Red Account user has the email address casey@example.com. "
        "Ask an administrator to add you.",
    )


def test_an_address_the_provider_does_not_say_is_verified_is_refused(page, live_server, sso, casey):
    del sso.person["email_verified"]
    refused_through_the_provider(
        page,
        live_server.url,
        f"{PROVIDER_NAME} did not say whether your email address casey@example.com is "
        "verified, so Red Account cannot rely on it. Ask an administrator to check the "
        "single sign-on settings.",
    )


def test_a_user_linked_to_another_identity_is_refused(page, live_server, sso, casey):
    casey.oidc_issuer, casey.oidc_subject = sso.issuer, "subject-2"
    casey.save(update_fields=["oidc_issuer", "oidc_subject"])
    refused_through_the_provider(
        page,
        live_server.url,
        "The Red Account user with the email address casey@example.com is linked to "
        f"another {PROVIDER_NAME} account. Sign in with that one, or ask an administrator "
        "to check.",
    )
