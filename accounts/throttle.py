"""Failed sign-in throttling, shared by the web sign-in form and the API's
token endpoint so that both count against the same limit.

Attempts are counted per (normalised username, client address) in the Django
cache (Redis wherever ``REDIS_URL`` is set, so every process and machine sees
the same counts; in-memory on a newcomer's machine). An attempt is counted
*before* its password is checked, with one atomic increment (Redis ``INCR``),
and only the first ``LOGIN_FAILURE_LIMIT`` attempts of a window get their
password checked: guesses sent in parallel cannot slip past the limit, however
many arrive at once. The attempt that reaches the limit without success locks
the pair for ``LOGIN_LOCKOUT_MINUTES``; a successful sign-in clears the count.

Keying on the pair rather than the username alone means that someone guessing
passwords from one address cannot lock the real person out from theirs.
"""

from __future__ import annotations

import hashlib
import logging
import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import wraps
from typing import Any, TypeVar

from django.conf import settings
from django.core.cache import cache
from django.http import HttpRequest
from redis.exceptions import RedisError

logger = logging.getLogger(__name__)
_T = TypeVar("_T")


def _fail_open(default: Any) -> Callable[[Callable[..., _T]], Callable[..., _T]]:
    """While the cache (Redis) is unreachable, sign-in keeps working without the
    lock rather than locking everyone out: the password check still applies."""

    def decorate(function: Callable[..., _T]) -> Callable[..., _T]:
        @wraps(function)
        def guarded(*args: Any, **kwargs: Any) -> _T:
            try:
                return function(*args, **kwargs)
            except (RedisError, OSError):
                logger.warning("Sign-in throttle skipped: the cache is unreachable.")
                return default

        return guarded

    return decorate


_PREFIX = "login-throttle"


@dataclass(frozen=True)
class Lockout:
    """A locked (username, address) pair and how long it stays locked."""

    seconds_left: int

    @property
    def minutes_left(self) -> int:
        return max(1, math.ceil(self.seconds_left / 60))

    @property
    def message(self) -> str:
        unit = "minute" if self.minutes_left == 1 else "minutes"
        return f"Too many failed sign-ins. Try again in {self.minutes_left} {unit}."


def failure_limit() -> int:
    return settings.LOGIN_FAILURE_LIMIT


def lockout_seconds() -> int:
    return settings.LOGIN_LOCKOUT_MINUTES * 60


def client_ip(request: HttpRequest | None) -> str:
    """The address the request came from: REMOTE_ADDR only.

    X-Forwarded-For is written by the client unless a proxy we control
    overwrites it, so trusting it would let an attacker send a new made-up
    address with every guess and never reach the limit. Behind a reverse proxy
    REMOTE_ADDR is the proxy's address, so the limit then applies per username
    (still effective against guessing; see docs/api.md).
    """
    if request is None:
        return ""
    return request.META.get("REMOTE_ADDR", "") or ""


def _now() -> float:
    # One clock for the whole module, so that tests can move time forward.
    return time.time()


def _keys(username: str, ip: str) -> tuple[str, str]:
    # Usernames are compared case-insensitively here (Carl and carl count
    # together) and hashed so that no username is stored in the cache.
    normalised = (username or "").strip().casefold()
    digest = hashlib.sha256(f"{normalised}\0{ip}".encode()).hexdigest()
    return f"{_PREFIX}:attempts:{digest}", f"{_PREFIX}:locked:{digest}"


@_fail_open(None)
def lockout(username: str, ip: str) -> Lockout | None:
    """The lockout in force for the pair, or None when it may try to sign in."""
    attempts_key, lock_key = _keys(username, ip)
    locked_until = cache.get(lock_key)
    if locked_until is None:
        return None
    # The expiry time is stored as well as set as the cache timeout: the stored
    # time gives "try again in N minutes" and makes the lock end on time even
    # with a cache whose timeouts are coarse.
    seconds_left = math.ceil(locked_until - _now())
    if seconds_left <= 0:
        # The lock is over: the next attempt starts a fresh window.
        cache.delete_many([attempts_key, lock_key])
        return None
    return Lockout(seconds_left=seconds_left)


def _lock(lock_key: str, window: int) -> Lockout:
    # add(): the first to lock sets the end; later ones do not push it back.
    cache.add(lock_key, _now() + window, timeout=window)
    locked_until = cache.get(lock_key)
    seconds_left = window if locked_until is None else math.ceil(locked_until - _now())
    return Lockout(seconds_left=max(1, seconds_left))


def _count(attempts_key: str, window: int) -> int:
    # add() starts a fixed window at the first attempt; incr() is atomic in
    # Redis, so concurrent attempts from any number of processes all count.
    cache.add(attempts_key, 0, timeout=window)
    try:
        count = cache.incr(attempts_key)
    except ValueError:  # the window ended between add() and incr()
        cache.set(attempts_key, 1, timeout=window)
        return 1
    if count == 1:
        # The first attempt of a window. If the key expired just between the
        # existence check and the increment inside incr(), Redis created it
        # without an expiry: give it one, or the pair would stay over the limit.
        cache.touch(attempts_key, timeout=window)
    return count


@_fail_open(None)
def attempt(username: str, ip: str) -> Lockout | None:
    """Count a sign-in attempt before its password is checked. Returns the
    lockout when the pair is locked or this attempt is past the limit (the
    password must then not be checked); None when it may be checked."""
    attempts_key, lock_key = _keys(username, ip)
    locked = lockout(username, ip)
    if locked is not None:
        return locked
    window = lockout_seconds()
    if _count(attempts_key, window) > failure_limit():
        return _lock(lock_key, window)
    return None


@_fail_open(None)
def record_failure(username: str, ip: str) -> Lockout | None:
    """The counted attempt failed. Returns the lockout when the attempts of the
    window have reached the limit (this failure's answer already says so)."""
    attempts_key, lock_key = _keys(username, ip)
    if cache.get(attempts_key, 0) < failure_limit():
        return None
    return _lock(lock_key, lockout_seconds())


@_fail_open(None)
def reset(username: str, ip: str) -> None:
    """Forget failures and any lock of the pair (after a successful sign-in)."""
    cache.delete_many(list(_keys(username, ip)))


@_fail_open(0)
def failures(username: str, ip: str) -> int:
    """Attempts counted in the current window and not yet cleared by a
    success (for tests and diagnostics)."""
    failures_key, _ = _keys(username, ip)
    return cache.get(failures_key, 0)
