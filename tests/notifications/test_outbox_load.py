"""The outbox under load, with a real Celery worker pool of 4 processes on
Redis and PostgreSQL: 10,000 queued webhook deliveries drain with none sent
twice (counted at the receiver), and an endpoint that answers 500 for a while
and then recovers gets every event, in order."""

from __future__ import annotations

import os
import time
import uuid
from collections import Counter, defaultdict
from datetime import timedelta

import pytest
import redis
from celery import Celery
from django.test import override_settings
from django.utils import timezone

from notifications import services
from notifications.events import SUBSCRIBABLE
from notifications.models import Channel, MessageStatus, OutboundMessage
from notifications.outbox import event_payload
from tests import factories
from tests.receivers import Answer, Receiver
from tests.workers import database_url, start_worker, stop_worker

REDIS_URL = "redis://127.0.0.1:6379/10"
MESSAGES = 10_000
ENDPOINTS = 10
WORKERS = 4
ENCRYPTION_KEY = "load-test-encryption-key"


@pytest.fixture
def broker():
    client = redis.Redis.from_url(REDIS_URL)
    client.flushdb()
    # Not the current app: the tests after this one must keep enqueuing on
    # the project's own broker.
    app = Celery("load-test", broker=REDIS_URL, set_as_current=False)
    yield app
    client.flushdb()
    client.close()


def _worker_env() -> dict[str, str]:
    return {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings.local",
        "DATABASE_URL": database_url(),
        "REDIS_URL": REDIS_URL,
        "EMAIL_URL": "consolemail://",
        "LOG_LEVEL": "WARNING",
        "WEBHOOK_ALLOW_PRIVATE": "true",
        # Retries after about a second, so that recovery fits in a test.
        "WEBHOOK_RETRY_BASE_SECONDS": "1",
        # The worker reads the signing secrets this test process stored.
        "ENCRYPTION_KEY": ENCRYPTION_KEY,
    }


def _queue_rows(endpoints, per_endpoint: int) -> list[OutboundMessage]:
    """Write the deliveries as queue_event would, in one INSERT per batch;
    ``payload.data.n`` numbers each endpoint's events in their order."""
    start = timezone.now() - timedelta(minutes=1)
    rows = []
    for n in range(per_endpoint):
        for endpoint in endpoints:
            event_id = uuid.uuid4()
            rows.append(
                OutboundMessage(
                    dedupe_key=f"webhook:{endpoint.pk}:load:{event_id.hex}",
                    channel=Channel.WEBHOOK,
                    kind="risk.opened",
                    endpoint=endpoint,
                    event_id=event_id,
                    payload=event_payload("risk.opened", {"n": n}, start),
                    created_at=start + timedelta(microseconds=n),
                    next_attempt_at=start,
                )
            )
    return OutboundMessage.objects.bulk_create(rows, batch_size=2000)


def _wait_until_sent(expected: int, timeout: float, log_path) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if OutboundMessage.objects.filter(status=MessageStatus.SENT).count() >= expected:
            return
        time.sleep(0.5)
    unsent = OutboundMessage.objects.exclude(status=MessageStatus.SENT)
    errors = set(unsent.values_list("attempts", "last_error")[:100])
    raise AssertionError(
        f"{unsent.count()} messages not sent in {timeout} s; errors: {errors}\n"
        + log_path.read_text()[-3000:]
    )


@pytest.mark.django_db(transaction=True)
@override_settings(ENCRYPTION_KEY=ENCRYPTION_KEY)
def test_ten_thousand_deliveries_drain_with_four_workers_none_sent_twice(broker, tmp_path):
    admin = factories.AdminFactory()
    with Receiver() as receiver:
        endpoints = [
            services.endpoint_create(
                user=admin, url=f"{receiver.url}/e{i}", events=list(SUBSCRIBABLE)
            )[0]
            for i in range(ENDPOINTS)
        ]
        rows = _queue_rows(endpoints, MESSAGES // ENDPOINTS)
        assert len(rows) == MESSAGES
        # One drain task per message, as each one's commit would enqueue.
        for row in rows:
            broker.send_task("notifications.tasks.drain", args=(Channel.WEBHOOK, row.endpoint_id))

        log_path = tmp_path / "worker.log"
        worker = start_worker(_worker_env(), log_path, pool="prefork", concurrency=WORKERS)
        try:
            _wait_until_sent(MESSAGES, 240, log_path)
        finally:
            stop_worker(worker)

    received = Counter(request.headers["webhook-id"] for request in receiver.requests)
    assert len(receiver.requests) == MESSAGES
    assert len(received) == MESSAGES and max(received.values()) == 1
    assert set(received) == {row.webhook_id for row in rows}
    by_endpoint = defaultdict(list)
    for request in receiver.requests:
        by_endpoint[request.path].append(request.json["data"]["n"])
    assert {path: ns == sorted(ns) for path, ns in by_endpoint.items()} == {
        f"/e{i}": True for i in range(ENDPOINTS)
    }
    assert set(OutboundMessage.objects.values_list("status", "attempts")) == {("sent", 1)}


@pytest.mark.django_db(transaction=True)
@override_settings(ENCRYPTION_KEY=ENCRYPTION_KEY)
def test_a_receiver_that_fails_then_recovers_gets_every_event_in_order(broker, tmp_path):
    admin = factories.AdminFactory()
    with Receiver() as receiver:
        # The first four attempts fail (500), then it answers 200 for good.
        receiver.answer(*[Answer(500, body=b"down")] * 4)
        (endpoint,) = [
            services.endpoint_create(user=admin, url=receiver.url + "/crm", events=["risk.opened"])[
                0
            ]
        ]
        rows = _queue_rows([endpoint], 30)
        for row in rows:
            broker.send_task("notifications.tasks.drain", args=(Channel.WEBHOOK, row.endpoint_id))

        log_path = tmp_path / "worker.log"
        worker = start_worker(_worker_env(), log_path, pool="prefork", concurrency=WORKERS)
        try:
            _wait_until_sent(30, 60, log_path)
        finally:
            stop_worker(worker)

    answered = [(request.json["data"]["n"]) for request in receiver.requests]
    # Event 0 is tried five times (4 failures, then success); the others once,
    # in order, only after it.
    assert answered == [0] * 5 + list(range(1, 30))
    first = OutboundMessage.objects.get(payload__data__n=0)
    assert (first.attempts, first.response_code, first.last_error) == (5, 200, "")
    endpoint.refresh_from_db()
    assert endpoint.active and endpoint.failing_since is None
