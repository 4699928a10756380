"""Signing in to the API: the token endpoint, token and session authentication
(with CSRF), and the throttling of failed attempts (accounts/throttle.py)."""

from __future__ import annotations

import datetime as dt
import time
import uuid
from unittest import mock

import pytest
from django.test import override_settings
from django.utils import timezone
from knox.models import AuthToken
from rest_framework.test import APIClient

from accounts import throttle
from tests import factories

pytestmark = pytest.mark.django_db

TOKEN_URL = "/api/v1/auth/token/"
PASSWORD = "secret-pass-123"
ADDRESSES = ("127.0.0.1", "10.0.0.2")


@pytest.fixture
def person():
    """A user with a name no other test (or parallel run) uses, so that the
    failure counters in the shared Redis are this test's alone; they are
    cleared afterwards."""
    user = factories.CsmFactory(username=f"pat-{uuid.uuid4().hex[:12]}")
    yield user
    for address in ADDRESSES:
        throttle.reset(user.username, address)


def ask_token(username: str, password: str, client: APIClient | None = None, **extra):
    client = client or APIClient()
    return client.post(TOKEN_URL, {"username": username, "password": password}, **extra)


class Clock:
    """The throttle's clock, stopped, moved forward by the test."""

    def __init__(self) -> None:
        self.now = time.time()

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture
def clock():
    stopped = Clock()
    with mock.patch.object(throttle, "_now", side_effect=lambda: stopped.now):
        yield stopped


# --- the token endpoint -------------------------------------------------------------


def test_the_right_password_gives_a_token_stored_only_as_a_hash(person, settings):
    before = timezone.now()
    response = ask_token(person.username, PASSWORD)

    assert response.status_code == 200
    assert set(response.data) == {"token", "expiry"}
    token = response.data["token"]
    [stored] = AuthToken.objects.filter(user=person)
    assert stored.token_key == token[: len(stored.token_key)]
    assert token not in stored.digest  # only a hash of it is kept
    expiry = dt.datetime.fromisoformat(response.data["expiry"])
    ttl = dt.timedelta(days=settings.API_TOKEN_TTL_DAYS)
    assert before + ttl <= expiry <= timezone.now() + ttl


def test_each_sign_in_gets_its_own_token_and_both_work(person):
    first = ask_token(person.username, PASSWORD).data["token"]
    second = ask_token(person.username, PASSWORD).data["token"]

    assert first != second
    for token in (first, second):
        assert token_client(token).get(ME_URL).status_code == 200


def test_a_wrong_password_is_400_with_a_clear_message(person):
    response = ask_token(person.username, "wrong")
    assert response.status_code == 400
    assert response.data == {"non_field_errors": ["Unable to sign in with those credentials."]}
    assert not AuthToken.objects.filter(user=person).exists()


def test_an_unknown_username_is_400():
    username = f"nobody-{uuid.uuid4().hex}"
    response = ask_token(username, "whatever")
    assert response.status_code == 400
    assert "non_field_errors" in response.data
    throttle.reset(username, "127.0.0.1")


def test_an_inactive_user_gets_no_token(person):
    person.is_active = False
    person.save()
    response = ask_token(person.username, PASSWORD)
    assert response.status_code == 400
    assert not AuthToken.objects.filter(user=person).exists()


def test_missing_fields_are_400_per_field():
    response = APIClient().post(TOKEN_URL, {}, format="json")
    assert response.status_code == 400
    assert response.data == {
        "username": ["This field is required."],
        "password": ["This field is required."],
    }


def test_the_token_endpoint_needs_no_csrf_token(person):
    client = APIClient(enforce_csrf_checks=True)
    assert ask_token(person.username, PASSWORD, client).status_code == 200


def test_the_token_authenticates_requests_without_csrf(person, admin_user):
    _, token = AuthToken.objects.create(user=admin_user)
    client = APIClient(enforce_csrf_checks=True)
    client.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    assert client.get("/api/v1/users/").status_code == 200
    response = client.post("/api/v1/segments/", {"code": "startup", "name": "Start-up"})
    assert response.status_code == 201


def test_a_wrong_token_is_401():
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION="Token not-a-real-token")
    response = client.get("/api/v1/users/")
    assert response.status_code == 401
    assert response.data == {"detail": "Invalid token."}


def test_no_credentials_is_401():
    response = APIClient().get("/api/v1/regions/")
    assert response.status_code == 401
    assert response.data == {"detail": "Authentication credentials were not provided."}


# --- session authentication -----------------------------------------------------------


@pytest.fixture
def signed_in_admin(admin_user):
    """An admin signed in through the web form, as a browser would be, with
    CSRF checks on."""
    client = APIClient(enforce_csrf_checks=True)
    client.get("/login/")
    response = client.post(
        "/login/",
        {
            "username": admin_user.username,
            "password": PASSWORD,
            "csrfmiddlewaretoken": client.cookies["csrftoken"].value,
        },
        format="multipart",
    )
    assert response.status_code == 302
    yield client
    throttle.reset(admin_user.username, "127.0.0.1")


def test_a_session_reads_without_csrf_token(signed_in_admin):
    assert signed_in_admin.get("/api/v1/regions/").status_code == 200


def test_a_session_write_without_csrf_token_is_403(signed_in_admin):
    response = signed_in_admin.post("/api/v1/segments/", {"code": "startup", "name": "Start-up"})
    assert response.status_code == 403
    assert response.data["detail"].startswith("CSRF Failed")


def test_a_session_write_with_the_csrf_token_succeeds(signed_in_admin):
    response = signed_in_admin.post(
        "/api/v1/segments/",
        {"code": "startup", "name": "Start-up"},
        HTTP_X_CSRFTOKEN=signed_in_admin.cookies["csrftoken"].value,
    )
    assert response.status_code == 201


# --- throttling of the token endpoint -----------------------------------------------


def fail(person, times: int, **extra) -> list[int]:
    return [ask_token(person.username, "wrong", **extra).status_code for _ in range(times)]


def test_five_failures_lock_the_username_for_this_address(person, clock):
    assert fail(person, 4) == [400] * 4
    response = ask_token(person.username, "wrong")
    assert response.status_code == 429
    assert response.data == {"detail": "Too many failed sign-ins. Try again in 15 minutes."}
    assert response["Retry-After"] == "900"


def test_while_locked_even_the_right_password_is_refused(person):
    fail(person, 5)
    response = ask_token(person.username, PASSWORD)
    assert response.status_code == 429
    assert response.data["detail"].startswith("Too many failed sign-ins.")
    assert not AuthToken.objects.filter(user=person).exists()


def test_the_message_counts_down(person, clock):
    fail(person, 5)
    clock.advance(14 * 60 + 1)
    response = ask_token(person.username, PASSWORD)
    assert response.data == {"detail": "Too many failed sign-ins. Try again in 1 minute."}
    assert response["Retry-After"] == "59"


def test_the_lock_ends_after_the_lockout(person, clock):
    fail(person, 5)
    clock.advance(15 * 60 - 1)
    assert ask_token(person.username, PASSWORD).status_code == 429
    clock.advance(1)
    assert ask_token(person.username, PASSWORD).status_code == 200


def test_a_success_clears_the_failures(person):
    assert fail(person, 4) == [400] * 4
    assert ask_token(person.username, PASSWORD).status_code == 200
    assert throttle.failures(person.username, "127.0.0.1") == 0
    assert fail(person, 4) == [400] * 4


def test_clearing_through_the_throttle_unlocks(person):
    fail(person, 5)
    throttle.reset(person.username, "127.0.0.1")
    assert ask_token(person.username, PASSWORD).status_code == 200


def test_the_lock_is_per_address(person):
    fail(person, 5)
    assert ask_token(person.username, PASSWORD, REMOTE_ADDR="10.0.0.2").status_code == 200


def test_forwarded_for_headers_are_not_trusted(person):
    statuses = [
        ask_token(person.username, "wrong", HTTP_X_FORWARDED_FOR=f"203.0.113.{n}").status_code
        for n in range(5)
    ]
    assert statuses == [400, 400, 400, 400, 429]


def test_usernames_are_counted_case_insensitively(person):
    for username in (person.username.upper(), person.username, person.username.title()):
        ask_token(username, "wrong")
    assert throttle.failures(person.username, "127.0.0.1") == 3


@override_settings(LOGIN_FAILURE_LIMIT=2, LOGIN_LOCKOUT_MINUTES=1)
def test_limit_and_lockout_come_from_the_settings(person, clock):
    assert fail(person, 2) == [400, 429]
    response = ask_token(person.username, PASSWORD)
    assert response.data == {"detail": "Too many failed sign-ins. Try again in 1 minute."}
    assert response["Retry-After"] == "60"


# --- expiry and revocation ------------------------------------------------------------------

ME_URL = "/api/v1/regions/"


def token_client(token: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    return client


def test_an_expired_token_is_401(person):
    _, token = AuthToken.objects.create(user=person, expiry=dt.timedelta(seconds=-1))

    response = token_client(token).get(ME_URL)

    assert response.status_code == 401


def test_a_revoked_token_stops_working_and_others_stay(person):
    first = ask_token(person.username, PASSWORD).data["token"]
    second = ask_token(person.username, PASSWORD).data["token"]

    assert token_client(first).post("/api/v1/auth/token/revoke/").status_code == 204

    assert token_client(first).get(ME_URL).status_code == 401
    assert token_client(second).get(ME_URL).status_code == 200


def test_revoke_all_ends_every_token_of_the_person(person):
    tokens = [ask_token(person.username, PASSWORD).data["token"] for _ in range(3)]

    assert token_client(tokens[0]).post("/api/v1/auth/token/revoke-all/").status_code == 204

    assert [token_client(token).get(ME_URL).status_code for token in tokens] == [401] * 3
    assert not AuthToken.objects.filter(user=person).exists()


def test_changing_the_password_through_the_api_revokes_every_token(person, admin_user):
    token = ask_token(person.username, PASSWORD).data["token"]
    admin = APIClient()
    admin.force_authenticate(admin_user)

    response = admin.patch(f"/api/v1/users/{person.pk}/", {"password": "another-Secret-77"})

    assert response.status_code == 200
    assert token_client(token).get(ME_URL).status_code == 401


def test_changing_the_password_on_the_web_revokes_every_token(person, client):
    token = ask_token(person.username, PASSWORD).data["token"]
    client.force_login(person)

    response = client.post(
        "/password/",
        {
            "old_password": PASSWORD,
            "new_password1": "another-Secret-77",
            "new_password2": "another-Secret-77",
        },
    )

    assert response.status_code == 302
    assert token_client(token).get(ME_URL).status_code == 401


def test_saving_a_person_without_a_new_password_keeps_their_tokens(person):
    token = ask_token(person.username, PASSWORD).data["token"]
    person.first_name = "Patricia"
    person.save()

    assert token_client(token).get(ME_URL).status_code == 200
