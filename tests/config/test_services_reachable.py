"""The suite talks to real Redis (docs/operations.md): the cache is Redis-backed."""

from __future__ import annotations

import uuid

from django.conf import settings
from django.core.cache import cache


def test_the_cache_is_redis_and_round_trips():
    assert settings.CACHES["default"]["BACKEND"] == "django.core.cache.backends.redis.RedisCache"
    key = f"redaccount-test-{uuid.uuid4()}"
    cache.set(key, {"tier": 3}, timeout=30)
    assert cache.get(key) == {"tier": 3}
    cache.delete(key)
