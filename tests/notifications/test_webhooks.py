"""Signed webhooks and Slack messages from the outbox: written with their
cause, signed per Standard Webhooks, sent in order per destination, retried
with backoff for 24 hours, endpoints switched off after three days of
failures, and only to addresses that may be called."""

from __future__ import annotations

import datetime as dt
import ipaddress
import json
import socket

import pytest
from django.core import mail
from django.test import override_settings
from django.utils import timezone
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from core import encryption
from core.exceptions import Conflict, InvalidInput, NotAllowed
from notifications import delivery, http, services
from notifications.models import Channel, MessageStatus, OutboundMessage, SlackWebhook
from notifications.outbox import queue_event, queue_slack
from notifications.tasks import send_pending
from tests import factories
from tests.receivers import Answer, Receiver

pytestmark = pytest.mark.django_db

T0 = dt.datetime(2026, 12, 7, 9, 0, tzinfo=dt.UTC)


class Clock:
    """A clock the test moves by hand."""

    def __init__(self, start: dt.datetime = T0) -> None:
        self.now = start

    def __call__(self) -> dt.datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += dt.timedelta(**delta)


@pytest.fixture
def admin():
    return factories.AdminFactory(email="ops@example.com")


@pytest.fixture
def receiver():
    with Receiver() as running:
        yield running


def _endpoint(admin, url, events=("risk.opened",)):
    endpoint, secret = services.endpoint_create(user=admin, url=url, events=list(events))
    return endpoint, secret


def _queue(event_type, key, data=None, at=T0, *, written_at=True):
    """Queue an event as if written at ``at`` (the tests' clocks start there)."""
    rows = queue_event(event_type, data or {"n": key}, key=key, occurred_at=at)
    if written_at:
        OutboundMessage.objects.filter(pk__in=[row.pk for row in rows]).update(
            created_at=at, next_attempt_at=at
        )
        for row in rows:
            row.created_at = row.next_attempt_at = at
    return rows


def _drain(endpoint, clock):
    return delivery.drain(Channel.WEBHOOK, endpoint.pk, now=clock)


# --- Writing events -----------------------------------------------------------------


def test_an_event_is_one_delivery_per_active_subscribed_endpoint(admin, receiver):
    subscribed, _ = _endpoint(admin, receiver.url + "/a", ["risk.opened", "risk.closed"])
    _endpoint(admin, receiver.url + "/b", ["risk.closed"])
    switched_off, _ = _endpoint(admin, receiver.url + "/c", ["risk.opened"])
    services.endpoint_update(user=admin, endpoint=switched_off, active=False)

    written = _queue("risk.opened", "risk.opened:1")
    again = _queue("risk.opened", "risk.opened:1")

    assert [row.endpoint_id for row in written] == [subscribed.pk]
    assert again == []
    row = written[0]
    assert (row.channel, row.kind, row.status) == ("webhook", "risk.opened", "pending")
    assert row.payload == {
        "type": "risk.opened",
        "timestamp": "2026-12-07T09:00:00.000Z",
        "data": {"n": "risk.opened:1"},
    }
    assert row.webhook_id == "msg_" + row.event_id.hex


def test_an_unknown_event_type_is_refused():
    with pytest.raises(ValueError, match=r"risk\.exploded"):
        queue_event("risk.exploded", {}, key="x")


# --- Signing and sending ------------------------------------------------------------


def test_a_delivery_is_signed_per_standard_webhooks_and_verifies_at_the_receiver(admin, receiver):
    endpoint, secret = _endpoint(admin, receiver.url + "/hook")
    (row,) = _queue(
        "risk.opened", "risk.opened:7", {"risk": {"id": 7, "name": "Zoë & Co"}}, written_at=False
    )
    # Receivers refuse a timestamp far from their own clock: send it now.
    clock = Clock(timezone.now())

    assert _drain(endpoint, clock) == 1

    (request,) = receiver.requests
    assert request.path == "/hook"
    assert request.headers["content-type"] == "application/json"
    assert request.headers["webhook-id"] == row.webhook_id
    assert request.headers["webhook-timestamp"] == str(int(clock.now.timestamp()))
    assert request.headers["webhook-signature"].startswith("v1,")
    assert json.loads(request.body) == {
        "type": "risk.opened",
        "timestamp": "2026-12-07T09:00:00.000Z",
        "data": {"risk": {"id": 7, "name": "Zoë & Co"}},
    }
    headers = {k: v for k, v in request.headers.items() if k.startswith("webhook-")}
    assert Webhook(secret).verify(request.body, headers) == json.loads(request.body)
    with pytest.raises(WebhookVerificationError):
        Webhook(services.new_secret()).verify(request.body, headers)

    row.refresh_from_db()
    assert (row.status, row.attempts, row.response_code) == ("sent", 1, 200)
    assert row.sent_at == clock.now and row.duration_ms is not None
    assert row.last_attempt_at == clock.now


def test_the_signing_secret_is_stored_encrypted_and_shown_only_by_its_end(admin, receiver):
    endpoint, secret = _endpoint(admin, receiver.url)
    endpoint.refresh_from_db()
    assert secret.startswith("whsec_") and len(secret) == 6 + 32
    assert secret not in endpoint.secret_encrypted
    assert endpoint.secret_hint == "\u2026" + secret[-4:]
    assert endpoint.secret == secret

    rotated = services.endpoint_rotate_secret(user=admin, endpoint=endpoint)
    endpoint.refresh_from_db()
    assert rotated != secret and endpoint.secret == rotated


def test_a_secret_that_cannot_be_decrypted_is_a_failed_attempt_not_a_crash(admin, receiver):
    endpoint, _ = _endpoint(admin, receiver.url)
    (row,) = _queue("risk.opened", "risk.opened:1")
    with override_settings(ENCRYPTION_KEY="another key"):
        assert _drain(endpoint, Clock()) == 0
    row.refresh_from_db()
    assert receiver.requests == []
    assert row.status == "pending" and row.attempts == 1
    assert "cannot be read with the current key" in row.last_error


# --- Backoff, order, giving up, switching off ---------------------------------------


@pytest.mark.parametrize(
    ("failures", "rand", "seconds"),
    [
        # min(30 s * 2**(n-1), 4 h), then between half and all of it.
        (1, 0.0, 15),
        (1, 1.0, 30),
        (2, 0.5, 45),
        (3, 0.0, 60),
        (6, 1.0, 960),
        (9, 0.25, 4800),  # ceiling 7680 s: 3840 + 960
        (10, 1.0, 14400),  # 15360 s capped at 4 h
        (14, 0.0, 7200),
    ],
)
def test_the_backoff_doubles_from_30_seconds_to_4_hours_with_jitter(failures, rand, seconds):
    assert delivery.retry_delay(failures, rand=lambda: rand) == dt.timedelta(seconds=seconds)


def test_a_failing_endpoint_is_retried_with_backoff_and_given_up_after_24_hours(
    admin, receiver, monkeypatch
):
    receiver.default = Answer(500, body=b"down")
    monkeypatch.setattr(delivery.random, "random", lambda: 1.0)  # the full delay each time
    endpoint, _ = _endpoint(admin, receiver.url)
    (row,) = _queue("risk.opened", "risk.opened:1")
    clock = Clock()

    waits = []
    while True:
        _drain(endpoint, clock)
        row.refresh_from_db()
        if row.status != "pending":
            break
        waits.append((row.next_attempt_at - clock.now).total_seconds())
        clock.now = row.next_attempt_at

    # 30, 60, …, 7680 s, then 4 h, the last try exactly 24 h after writing.
    assert waits == [30, 60, 120, 240, 480, 960, 1920, 3840, 7680] + [14400] * 4 + [13470]
    assert row.status == "failed" and row.attempts == 15
    assert row.response_code == 500
    assert "HTTP 500: down" in row.last_error and "gave up after 15 attempts" in row.last_error
    assert len(receiver.requests) == 15
    assert clock.now - T0 == dt.timedelta(hours=24)
    endpoint.refresh_from_db()
    assert endpoint.failing_since == T0 and endpoint.active


def test_a_receiver_that_fails_then_recovers_gets_every_event_in_order(admin, receiver):
    receiver.answer(Answer(500), Answer(500), Answer(503))
    endpoint, _ = _endpoint(admin, receiver.url, ["risk.opened", "risk.closed"])
    for n in range(1, 6):
        _queue("risk.opened" if n % 2 else "risk.closed", f"event:{n}", {"n": n})
    clock = Clock()

    assert _drain(endpoint, clock) == 0  # the first fails; the rest wait behind it
    assert len(receiver.requests) == 1
    for _ in range(3):
        clock.now = (
            OutboundMessage.objects.filter(status="pending").order_by("pk")[0].next_attempt_at
        )
        _drain(endpoint, clock)

    arrived = [request.json["data"]["n"] for request in receiver.requests]
    assert arrived == [1, 1, 1, 1, 2, 3, 4, 5]
    assert set(OutboundMessage.objects.values_list("status", flat=True)) == {"sent"}
    endpoint.refresh_from_db()
    assert endpoint.failing_since is None  # a success forgets the failures


def test_a_failure_three_days_after_the_first_switches_the_endpoint_off_and_tells_the_admins(
    admin, receiver, django_capture_on_commit_callbacks
):
    receiver.default = Answer(500)
    endpoint, _ = _endpoint(admin, receiver.url)
    _queue("risk.opened", "event:1")
    clock = Clock()
    _drain(endpoint, clock)
    endpoint.refresh_from_db()
    assert endpoint.failing_since == T0

    _queue("risk.opened", "event:2", at=T0 + dt.timedelta(days=3))
    OutboundMessage.objects.filter(dedupe_key__endswith="event:1").update(status="failed")
    clock.advance(days=3)
    with django_capture_on_commit_callbacks(execute=True):
        _drain(endpoint, clock)

    endpoint.refresh_from_db()
    assert not endpoint.active
    assert endpoint.disabled_at == clock.now
    assert endpoint.disabled_reason == "every attempt failed for three days."
    assert OutboundMessage.objects.get(dedupe_key__endswith="event:2").status == "failed"
    (email,) = mail.outbox
    assert email.to == ["ops@example.com"]
    assert email.subject == f"Webhook endpoint switched off: {endpoint.url}"
    assert "switch the endpoint back on" in email.body
    # Nothing more is written for it until it is switched back on.
    assert _queue("risk.opened", "event:3") == []
    services.endpoint_update(user=admin, endpoint=endpoint, active=True)
    endpoint.refresh_from_db()
    assert endpoint.active and endpoint.failing_since is None and endpoint.disabled_at is None


def test_an_endpoint_down_for_good_is_switched_off_at_its_first_failure_after_three_days(
    admin, receiver, monkeypatch
):
    """An event every 12 hours, every attempt answered 500: each message is
    retried for 24 hours and given up, and the first attempt that fails three
    days after the first failure switches the endpoint off."""
    receiver.default = Answer(500)
    monkeypatch.setattr(delivery.random, "random", lambda: 1.0)
    endpoint, _ = _endpoint(admin, receiver.url)
    for n in range(10):
        _queue("risk.opened", f"event:{n}", at=T0 + dt.timedelta(hours=12 * n))
    clock = Clock()
    while True:
        _drain(endpoint, clock)
        endpoint.refresh_from_db()
        pending = OutboundMessage.objects.filter(status="pending").order_by("created_at")
        if not endpoint.active or not pending.exists():
            break
        clock.now = max(clock.now, pending[0].next_attempt_at)

    assert not endpoint.active and endpoint.failing_since == T0
    three_days = T0 + dt.timedelta(days=3)
    assert three_days <= endpoint.disabled_at < three_days + dt.timedelta(hours=4)
    deliveries = OutboundMessage.objects.filter(channel="webhook")
    attempted = deliveries.exclude(attempts=0)
    assert max(row.last_attempt_at for row in attempted) == endpoint.disabled_at
    assert set(deliveries.values_list("status", flat=True)) == {"failed"}
    assert {row.response_code for row in attempted} == {500}
    assert OutboundMessage.objects.get(channel="email").kind == "webhook_disabled"


def test_an_endpoint_that_recovered_unseen_is_not_switched_off_by_the_calendar(admin, receiver):
    """Failing since three days ago but nothing tried since: maybe it works
    again. The next event decides (and its success forgets the failures)."""
    endpoint, _ = _endpoint(admin, receiver.url)
    endpoint.failing_since = timezone.now() - dt.timedelta(days=4)
    endpoint.save()

    send_pending()
    endpoint.refresh_from_db()
    assert endpoint.active

    _queue("risk.opened", "event:1", at=timezone.now(), written_at=False)
    send_pending()  # tasks run in-process: the event is due at once
    delivery.drain(Channel.WEBHOOK, endpoint.pk)
    endpoint.refresh_from_db()
    assert endpoint.active and endpoint.failing_since is None
    assert len(receiver.requests) == 1


def test_the_sweep_sends_what_is_due_and_leaves_what_is_not(admin, receiver):
    _endpoint(admin, receiver.url)
    now = timezone.now()
    (due,) = _queue("risk.opened", "due", at=now - dt.timedelta(minutes=1))
    (later,) = _queue("risk.opened", "later", at=now)
    OutboundMessage.objects.filter(pk=later.pk).update(
        next_attempt_at=now + dt.timedelta(minutes=5)
    )

    send_pending()  # tasks run in-process in the tests

    due.refresh_from_db()
    later.refresh_from_db()
    assert (due.status, later.status) == ("sent", "pending")
    assert len(receiver.requests) == 1


def test_a_slack_url_never_shows_in_an_error(admin):
    """A Slack webhook's path is its credential: a failed connection names the
    host only."""
    region = factories.RegionFactory()
    slack = _slack(admin, region, "http://127.0.0.1:9/services/T0/B0/TopSecretToken")
    row = queue_slack(region_id=region.pk, dedupe_key="k", kind="x", text="t", blocks=[])
    delivery.drain(Channel.SLACK, slack.pk, now=Clock(timezone.now()))
    row.refresh_from_db()
    assert row.last_error == "Could not connect to 127.0.0.1: Connection refused."
    assert "TopSecret" not in row.last_error


@override_settings(WEBHOOK_ALLOW_PRIVATE=False)
def test_a_name_that_resolves_to_a_private_address_at_sending_is_refused(
    admin, receiver, monkeypatch
):
    """Checked when saved (public then), and again at each connection, which
    goes to the address it checked: a second answer cannot slip through."""
    answers = iter(["93.184.216.34", "127.0.0.1"])

    def getaddrinfo(host, port, *args, **kwargs):
        assert host == "hooks.example.com"
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (next(answers), port or 0))]

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    endpoint, _ = services.endpoint_create(
        user=admin, url="http://hooks.example.com/in", events=["risk.opened"]
    )
    (row,) = _queue("risk.opened", "x", written_at=False)
    delivery.drain(Channel.WEBHOOK, endpoint.pk, now=Clock(timezone.now()))
    row.refresh_from_db()
    assert row.response_code is None
    assert row.last_error == (
        "Refused: hooks.example.com is a loopback, private or reserved address (127.0.0.1); "
        "only public addresses may receive messages."
    )


@pytest.mark.parametrize(
    ("address", "public"),
    [
        ("8.8.8.8", True),
        ("2606:4700::1111", True),
        ("10.0.0.1", False),
        ("100.64.0.1", False),
        ("::1", False),
        ("fe80::1", False),
        ("fc00::1", False),
        ("::ffff:10.0.0.1", False),
        ("64:ff9b::7f00:1", False),  # NAT64 of 127.0.0.1
        ("2002:7f00:1::", False),  # 6to4 of 127.0.0.1
        ("::127.0.0.1", False),  # IPv4-compatible
        ("2001:0::1", False),  # Teredo
        ("224.0.0.1", False),
    ],
)
def test_which_addresses_are_public(address, public):
    assert http.is_public(ipaddress.ip_address(address)) is public


def test_a_redirect_is_not_followed_and_counts_as_a_failure(admin, receiver):
    receiver.answer(Answer(302, headers={"Location": "http://169.254.169.254/"}))
    endpoint, _ = _endpoint(admin, receiver.url)
    (row,) = _queue("risk.opened", "x")
    _drain(endpoint, Clock())
    row.refresh_from_db()
    assert (row.status, row.response_code, len(receiver.requests)) == ("pending", 302, 1)


# --- Slack ------------------------------------------------------------------------------


def _slack(admin, region, url):
    return services.slack_webhook_create(user=admin, region=region, url=url)


def test_a_slack_message_goes_to_its_region_and_waits_out_a_429(admin, receiver):
    region, elsewhere = factories.RegionFactory(), factories.RegionFactory()
    slack = _slack(admin, region, receiver.url + "/services/T1/B1/abc")
    blocks = [{"type": "section", "text": {"type": "mrkdwn", "text": "*Hi*"}}]
    row = queue_slack(
        region_id=region.pk, dedupe_key="k1", kind="agenda.generated", text="Hi", blocks=blocks
    )
    assert (
        queue_slack(region_id=elsewhere.pk, dedupe_key="k2", kind="x", text="", blocks=[]) is None
    )
    receiver.answer(Answer(429, headers={"Retry-After": "7"}, body=b"rate_limited"))
    clock = Clock(timezone.now())

    delivery.drain(Channel.SLACK, slack.pk, now=clock)
    row.refresh_from_db()
    assert (row.status, row.response_code, row.next_attempt_at) == (
        "pending",
        429,
        clock.now + dt.timedelta(seconds=7),
    )
    clock.advance(seconds=6)
    assert delivery.drain(Channel.SLACK, slack.pk, now=clock) == 0  # not yet
    clock.advance(seconds=1)
    assert delivery.drain(Channel.SLACK, slack.pk, now=clock) == 1

    assert [r.path for r in receiver.requests] == ["/services/T1/B1/abc"] * 2
    assert receiver.requests[1].json == {"text": "Hi", "blocks": blocks}
    row.refresh_from_db()
    assert (row.status, row.attempts) == ("sent", 2)


def test_the_slack_url_is_stored_encrypted_and_never_shown_in_full(admin):
    region = factories.RegionFactory()
    url = "https://hooks.slack.com/services/T0001/B0001/XXXXsecretYYYY"
    slack = _slack(admin, region, url)
    slack.refresh_from_db()
    assert "secret" not in slack.url_encrypted and "secret" not in slack.url_hint
    assert slack.url_hint == "hooks.slack.com/\u2026YYYY"
    assert slack.url == url
    # An empty URL keeps the stored one.
    services.slack_webhook_update(user=admin, slack=slack, url="", active=False)
    slack.refresh_from_db()
    assert slack.url == url and not slack.active


def test_a_switched_off_slack_webhook_gets_nothing(admin, receiver):
    region = factories.RegionFactory()
    slack = _slack(admin, region, receiver.url)
    row = queue_slack(region_id=region.pk, dedupe_key="k", kind="x", text="t", blocks=[])
    SlackWebhook.objects.filter(pk=slack.pk).update(active=False)
    delivery.drain(Channel.SLACK, slack.pk, now=Clock())
    row.refresh_from_db()
    assert (row.status, receiver.requests) == ("failed", [])


# --- Where messages may go ----------------------------------------------------------


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:9/x",
        "https://localhost/x",
        "https://10.1.2.3/x",
        "https://192.168.0.10/x",
        "https://169.254.169.254/latest/meta-data",
        "https://[::1]/x",
        "https://[::ffff:127.0.0.1]/x",
        "https://0.0.0.0/x",
    ],
)
@override_settings(WEBHOOK_ALLOW_PRIVATE=False)
def test_loopback_and_private_addresses_are_refused(admin, url):
    with pytest.raises(InvalidInput) as refused:
        services.endpoint_create(user=admin, url=url, events=["risk.opened"])
    assert "only public addresses" in refused.value.errors["url"][0]


@override_settings(WEBHOOK_REQUIRE_HTTPS=True)
def test_only_https_when_it_is_required(admin):
    with pytest.raises(InvalidInput) as refused:
        services.endpoint_create(user=admin, url="http://93.184.216.34/x", events=["risk.opened"])
    assert refused.value.errors == {"url": ["Only https:// URLs are allowed."]}
    endpoint, _ = services.endpoint_create(
        user=admin, url="https://93.184.216.34/x", events=["risk.opened"]
    )
    assert endpoint.pk


def test_an_address_that_became_private_is_refused_when_sending(admin, receiver):
    endpoint, _ = _endpoint(admin, receiver.url)
    (row,) = _queue("risk.opened", "x")
    with override_settings(WEBHOOK_ALLOW_PRIVATE=False):
        _drain(endpoint, Clock())
    row.refresh_from_db()
    assert receiver.requests == []
    assert row.response_code is None and row.last_error.startswith("Refused: 127.0.0.1 is a")


def test_bad_endpoint_input_is_named_by_its_field(admin, receiver):
    with pytest.raises(InvalidInput) as no_events:
        services.endpoint_create(user=admin, url=receiver.url, events=[])
    assert no_events.value.errors == {"events": ["Choose at least one event."]}
    with pytest.raises(InvalidInput) as unknown:
        services.endpoint_create(user=admin, url=receiver.url, events=["risk.opened", "nope"])
    assert unknown.value.errors == {"events": ["Unknown event type: nope."]}
    with pytest.raises(InvalidInput) as scheme:
        services.endpoint_create(user=admin, url="ftp://example.com/", events=["risk.opened"])
    assert scheme.value.errors == {"url": ["Only http:// and https:// URLs are allowed."]}


@pytest.mark.parametrize("factory", [factories.CsmFactory, factories.ManagerFactory])
def test_only_admins_set_up_integrations(factory, receiver):
    with pytest.raises(NotAllowed):
        services.endpoint_create(user=factory(), url=receiver.url, events=["risk.opened"])
    with pytest.raises(NotAllowed):
        services.slack_webhook_create(
            user=factory(), region=factories.RegionFactory(), url=receiver.url
        )


# --- Send test event ------------------------------------------------------------------


def test_send_test_event_reaches_only_that_endpoint(
    admin, receiver, django_capture_on_commit_callbacks
):
    endpoint, secret = _endpoint(admin, receiver.url + "/one")
    _endpoint(admin, receiver.url + "/two", ["risk.opened", "risk.closed"])
    with django_capture_on_commit_callbacks(execute=True):
        row = services.endpoint_send_test(user=admin, endpoint=endpoint)
    (request,) = receiver.requests
    assert request.path == "/one"
    body = Webhook(secret).verify(request.body, request.headers)
    assert body["type"] == "webhook.test"
    assert body["data"]["endpoint"] == endpoint.pk and body["data"]["sent_by"] == admin.username
    row.refresh_from_db()
    assert row.status == MessageStatus.SENT

    services.endpoint_update(user=admin, endpoint=endpoint, active=False)
    with pytest.raises(Conflict, match="switched off"):
        services.endpoint_send_test(user=admin, endpoint=endpoint)


def test_encryption_round_trips_and_refuses_a_changed_key():
    token = encryption.encrypt("https://hooks.slack.com/services/a/b/c")
    assert encryption.decrypt(token) == "https://hooks.slack.com/services/a/b/c"
    with override_settings(ENCRYPTION_KEY="rotated"), pytest.raises(encryption.SecretUnreadable):
        encryption.decrypt(token)


def test_http_answers_carry_retry_after():
    assert http._retry_after("12") == 12.0
    assert http._retry_after("soon") is None
    assert http._retry_after(None) is None
