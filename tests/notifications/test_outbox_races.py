"""Sending and writing at once, on real PostgreSQL: a slow receiver holds its
destination's lock while it answers, and that must not hold up the
transactions that write new messages for the same destination."""

from __future__ import annotations

import threading
import time

import pytest
from django.db import connection, transaction

from notifications import delivery, outbox, services
from notifications.models import Channel, OutboundMessage, WebhookEndpoint
from notifications.outbox import queue_event
from tests import factories
from tests.concurrency import run_at_once
from tests.receivers import Receiver


@pytest.fixture
def no_tasks(monkeypatch):
    """Rows are written but not handed to the (in-process) tasks: the test
    drains them itself, at once from several threads."""
    monkeypatch.setattr(outbox, "_enqueue_drain", lambda channel, destination_id: None)


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("no_tasks")
def test_writing_an_event_does_not_wait_for_a_slow_send_to_the_same_endpoint(monkeypatch):
    admin = factories.AdminFactory()
    with Receiver() as receiver:
        endpoint, _ = services.endpoint_create(user=admin, url=receiver.url, events=["risk.opened"])
        queue_event("risk.opened", {"n": 1}, key="first")
        sending = threading.Event()
        real_post = delivery.http.post_json

        def slow_post(*args, **kwargs):
            sending.set()
            time.sleep(2)  # the receiver takes its time; the lock is held
            return real_post(*args, **kwargs)

        monkeypatch.setattr(delivery.http, "post_json", slow_post)
        took: list[float] = []

        def send() -> int:
            return delivery.drain(Channel.WEBHOOK, endpoint.pk)

        def write() -> None:
            assert sending.wait(5)
            started = time.monotonic()
            with transaction.atomic():
                queue_event("risk.opened", {"n": 2}, key="second")
            took.append(time.monotonic() - started)

        _, errors = run_at_once([send, write])

    assert not errors, errors
    assert took[0] < 1.0, f"the write waited {took[0]:.2f} s for the send"
    assert OutboundMessage.objects.filter(endpoint=endpoint).count() == 2


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("no_tasks")
def test_two_drains_of_one_endpoint_send_each_message_once_in_order():
    admin = factories.AdminFactory()
    with Receiver() as receiver:
        endpoint, _ = services.endpoint_create(user=admin, url=receiver.url, events=["risk.opened"])
        for n in range(40):
            queue_event("risk.opened", {"n": n}, key=f"event:{n}")
        results, errors = run_at_once(
            [lambda: delivery.drain(Channel.WEBHOOK, endpoint.pk) for _ in range(4)]
        )
    assert not errors, errors
    assert sum(results) == 40
    assert [request.json["data"]["n"] for request in receiver.requests] == list(range(40))
    assert not WebhookEndpoint.objects.get().failing_since
    connection.close()
