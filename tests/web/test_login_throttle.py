"""The web sign-in form locks a username for an address after too many failed
attempts, with the same counter as the API's token endpoint."""

from __future__ import annotations

import time
import uuid
from unittest import mock

import pytest
from django.core.cache import cache
from django.test import override_settings
from django.urls import reverse

from accounts import throttle
from tests import factories

pytestmark = pytest.mark.django_db

PASSWORD = "secret-pass-123"
LOCKED = "Too many failed sign-ins. Try again in 15 minutes."


@pytest.fixture
def person():
    """A user no other test (or parallel run) signs in as, so that the counters
    in the shared Redis are this test's alone; cleared afterwards."""
    user = factories.CsmFactory(username=f"pat-{uuid.uuid4().hex[:12]}")
    yield user
    throttle.reset(user.username, "127.0.0.1")


@pytest.fixture
def clock():
    class Clock:
        now = time.time()

    with mock.patch.object(throttle, "_now", side_effect=lambda: Clock.now):
        yield Clock


def sign_in(client, username: str, password: str):
    return client.post(reverse("login"), {"username": username, "password": password})


def form_errors(response) -> list[str]:
    return list(response.context["form"].non_field_errors())


def test_the_fifth_failure_locks_and_says_for_how_long(client, person):
    for _ in range(4):
        response = sign_in(client, person.username, "wrong")
        assert form_errors(response)[0].startswith("Please enter a correct username")
    response = sign_in(client, person.username, "wrong")
    assert response.status_code == 200
    assert form_errors(response) == [LOCKED]
    assert LOCKED in response.content.decode()


def test_while_locked_the_password_is_not_even_checked(client, person):
    for _ in range(5):
        sign_in(client, person.username, "wrong")
    with mock.patch("django.contrib.auth.forms.authenticate") as authenticate:
        response = sign_in(client, person.username, PASSWORD)
    authenticate.assert_not_called()
    assert form_errors(response) == [LOCKED]
    assert "_auth_user_id" not in client.session


def test_the_lock_ends_after_the_lockout(client, person, clock):
    for _ in range(5):
        sign_in(client, person.username, "wrong")
    clock.now += 15 * 60 - 1
    assert form_errors(sign_in(client, person.username, PASSWORD)) == [
        "Too many failed sign-ins. Try again in 1 minute."
    ]
    clock.now += 1
    response = sign_in(client, person.username, PASSWORD)
    assert response.status_code == 302
    assert response["Location"] == reverse("home")


def test_a_successful_sign_in_clears_the_failures(client, person):
    for _ in range(4):
        sign_in(client, person.username, "wrong")
    assert sign_in(client, person.username, PASSWORD).status_code == 302
    assert throttle.failures(person.username, "127.0.0.1") == 0
    client.logout()
    for _ in range(4):
        response = sign_in(client, person.username, "wrong")
    assert form_errors(response)[0].startswith("Please enter a correct username")


def test_the_web_form_and_the_token_endpoint_share_the_counter(client, person):
    for _ in range(3):
        sign_in(client, person.username, "wrong")
    for _ in range(2):
        response = client.post(
            "/api/v1/auth/token/",
            {"username": person.username, "password": "wrong"},
            content_type="application/json",
        )
    assert response.status_code == 429
    assert form_errors(sign_in(client, person.username, PASSWORD)) == [LOCKED]


def test_other_addresses_are_not_locked(client, person):
    for _ in range(5):
        sign_in(client, person.username, "wrong")
    response = client.post(
        reverse("login"),
        {"username": person.username, "password": PASSWORD},
        REMOTE_ADDR="10.0.0.2",
    )
    assert response.status_code == 302


def test_an_empty_password_is_not_counted(client, person):
    response = sign_in(client, person.username, "")
    assert "password" in response.context["form"].errors
    assert throttle.failures(person.username, "127.0.0.1") == 0


@override_settings(LOGIN_FAILURE_LIMIT=3)
def test_the_limit_comes_from_the_settings(client, person):
    for _ in range(2):
        sign_in(client, person.username, "wrong")
    assert form_errors(sign_in(client, person.username, "wrong")) == [LOCKED]


def test_sign_in_still_works_while_redis_is_unreachable(client, csm, settings):
    # Nothing listens on this port: every cache call is refused. (Changing
    # CACHES through the settings fixture resets Django's cache handlers.)
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": "redis://127.0.0.1:6391/0",
            "OPTIONS": {"socket_connect_timeout": 1, "socket_timeout": 1},
        }
    }
    wrong = client.post(reverse("login"), {"username": csm.username, "password": "nope"})
    assert wrong.status_code == 200  # the ordinary error, not a crash
    assert "Please enter a correct username and password" in wrong.content.decode()
    response = client.post(
        reverse("login"), {"username": csm.username, "password": "secret-pass-123"}
    )
    assert response.status_code == 302


def test_an_attempt_counter_left_without_expiry_gets_one(person):
    """If the window key expires between the existence check and the increment,
    Redis creates it without an expiry; the first count of a window sets one."""
    attempts_key, _ = throttle._keys(person.username, "127.0.0.1")
    throttle.reset(person.username, "127.0.0.1")
    cache.set(attempts_key, 0, timeout=None)  # as the race leaves it
    client = cache._cache.get_client(attempts_key, write=True)
    raw_key = cache.make_and_validate_key(attempts_key)
    assert client.ttl(raw_key) == -1

    assert throttle.attempt(person.username, "127.0.0.1") is None

    assert 0 < client.ttl(raw_key) <= throttle.lockout_seconds()
