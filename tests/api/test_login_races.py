"""Parallel guesses cannot beat the sign-in lockout: every attempt is counted
before its password is checked, so at most LOGIN_FAILURE_LIMIT passwords are
ever checked per window, however many requests arrive at once. Real threads,
real PostgreSQL connections, the real Redis cache."""

from __future__ import annotations

import threading
import uuid

import pytest
from django.contrib.auth.hashers import check_password as real_check_password
from django.test import Client
from rest_framework.test import APIClient

from accounts import throttle
from tests import factories
from tests.concurrency import run_at_once

pytestmark = [pytest.mark.race, pytest.mark.django_db(transaction=True)]

PASSWORD = "secret-pass-123"


@pytest.fixture
def person():
    user = factories.CsmFactory(username=f"race-{uuid.uuid4().hex[:12]}")
    yield user
    throttle.reset(user.username, "127.0.0.1")


@pytest.fixture
def checked(monkeypatch) -> list[str]:
    """Every password the backend actually checks."""
    seen: list[str] = []
    lock = threading.Lock()

    def counting(password, encoded, *args, **kwargs):
        with lock:
            seen.append(password)
        return real_check_password(password, encoded, *args, **kwargs)

    monkeypatch.setattr("django.contrib.auth.base_user.check_password", counting)
    return seen


def _token_attempt(username: str, password: str):
    def attempt() -> int:
        return (
            APIClient()
            .post(
                "/api/v1/auth/token/", {"username": username, "password": password}, format="json"
            )
            .status_code
        )

    return attempt


def test_twenty_parallel_wrong_passwords_check_at_most_the_limit(person, checked, settings):
    results, errors = run_at_once([_token_attempt(person.username, "wrong") for _ in range(20)])

    assert not errors
    assert len(checked) <= settings.LOGIN_FAILURE_LIMIT
    # Only checked attempts can answer "wrong password"; every other one is locked.
    assert set(results) <= {400, 429}
    assert results.count(400) <= settings.LOGIN_FAILURE_LIMIT - 1
    assert results.count(429) >= 20 - (settings.LOGIN_FAILURE_LIMIT - 1)
    assert throttle.lockout(person.username, "127.0.0.1") is not None


def test_the_right_password_among_parallel_guesses_wins_only_within_the_limit(
    person, checked, settings
):
    attempts = [_token_attempt(person.username, "wrong") for _ in range(19)]
    attempts.append(_token_attempt(person.username, PASSWORD))

    results, errors = run_at_once(attempts)

    assert not errors
    # The right password got a token only if it was among the first attempts
    # counted, i.e. only if its password was checked at all.
    signed_in = PASSWORD in checked
    assert results.count(200) == (1 if signed_in else 0)
    # A success clears the count, as it does one request at a time: the wrong
    # guesses counted after it start a fresh window.
    limit = settings.LOGIN_FAILURE_LIMIT
    assert len(checked) <= (2 * limit if signed_in else limit)


def test_the_web_form_holds_the_same_line(person, checked, settings):
    def web_attempt() -> int:
        return (
            Client().post("/login/", {"username": person.username, "password": "wrong"}).status_code
        )

    results, errors = run_at_once([web_attempt for _ in range(20)])

    assert not errors
    assert results == [200] * 20  # the form shown again, with its error
    assert len(checked) <= settings.LOGIN_FAILURE_LIMIT
    assert throttle.lockout(person.username, "127.0.0.1") is not None
