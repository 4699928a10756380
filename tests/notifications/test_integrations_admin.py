"""Setting up Slack and webhook endpoints in the admin (write-only secrets, the
Send test event button, the delivery log) and the webhook-deliveries API."""

from __future__ import annotations

import pytest
from django.contrib.messages import get_messages
from django.urls import reverse
from rest_framework.test import APIClient

from notifications import services
from notifications.models import OutboundMessage, SlackWebhook, WebhookEndpoint
from notifications.outbox import queue_event, queue_slack
from tests import factories
from tests.receivers import Answer, Receiver

pytestmark = pytest.mark.django_db


@pytest.fixture
def superuser():
    return factories.AdminFactory(username="opsadmin", is_superuser=True, is_staff=True)


@pytest.fixture
def ops_client(client, superuser):
    client.force_login(superuser)
    return client


@pytest.fixture
def receiver():
    with Receiver() as running:
        yield running


def _messages(response) -> list[str]:
    return [str(message) for message in get_messages(response.wsgi_request)]


# --- Webhook endpoints --------------------------------------------------------------


def test_adding_an_endpoint_shows_its_secret_once(ops_client, receiver):
    url = reverse("admin:notifications_webhookendpoint_add")
    response = ops_client.post(
        url,
        {
            "url": receiver.url + "/in",
            "description": "CRM",
            "events": ["risk.opened"],
            "active": "on",
        },
    )
    assert response.status_code == 200
    endpoint = WebhookEndpoint.objects.get()
    secret = response.context["secret"]
    assert endpoint.secret == secret and secret in response.content.decode()
    assert "it is not shown again" in response.content.decode()
    # Not in a message (a cookie) nor anywhere afterwards.
    assert not [m for m in _messages(response) if secret in m]
    assert secret not in str(response.cookies)
    change = ops_client.get(
        reverse("admin:notifications_webhookendpoint_change", args=[endpoint.pk])
    )
    page = change.content.decode()
    assert secret not in page and endpoint.secret_hint in page
    assert "Send test event" in page and "New signing secret" in page


def test_endpoint_errors_show_next_to_their_fields(ops_client):
    response = ops_client.post(
        reverse("admin:notifications_webhookendpoint_add"),
        {"url": "ftp://example.com/x", "description": "", "events": [], "active": "on"},
    )
    assert response.status_code == 200
    errors = response.context["adminform"].form.errors
    assert errors["url"] == ["Only http:// and https:// URLs are allowed."]
    assert WebhookEndpoint.objects.count() == 0


def test_the_send_test_event_button_delivers_to_the_receiver(
    ops_client, superuser, receiver, django_capture_on_commit_callbacks
):
    endpoint, _ = services.endpoint_create(user=superuser, url=receiver.url, events=["risk.closed"])
    with django_capture_on_commit_callbacks(execute=True):
        response = ops_client.post(
            reverse("admin:notifications_webhookendpoint_send_test", args=[endpoint.pk]),
            follow=True,
        )
    assert any("webhook.test event was queued" in m for m in _messages(response))
    (request,) = receiver.requests
    assert request.json["type"] == "webhook.test"
    delivery = OutboundMessage.objects.get(endpoint=endpoint)
    assert (delivery.status, delivery.response_code) == ("sent", 200)
    # GET does nothing.
    ops_client.get(reverse("admin:notifications_webhookendpoint_send_test", args=[endpoint.pk]))
    assert OutboundMessage.objects.count() == 1


def test_a_new_signing_secret_is_shown_once_and_replaces_the_old(ops_client, superuser, receiver):
    endpoint, old = services.endpoint_create(
        user=superuser, url=receiver.url, events=["risk.closed"]
    )
    response = ops_client.post(
        reverse("admin:notifications_webhookendpoint_rotate_secret", args=[endpoint.pk])
    )
    assert response.status_code == 200
    endpoint.refresh_from_db()
    assert endpoint.secret == response.context["secret"] != old
    assert "no longer verifies" in response.content.decode()


def test_the_delivery_log_lists_deliveries_with_their_answers(ops_client, superuser, receiver):
    receiver.answer(Answer(500))
    endpoint, _ = services.endpoint_create(user=superuser, url=receiver.url, events=["risk.opened"])
    queue_event("risk.opened", {"n": 1}, key="one")
    from notifications import delivery

    delivery.drain("webhook", endpoint.pk)
    response = ops_client.get(reverse("admin:notifications_webhookdelivery_changelist"))
    assert response.status_code == 200
    (row,) = response.context["cl"].result_list
    assert (row.kind, row.status, row.response_code, row.attempts) == (
        "risk.opened",
        "pending",
        500,
        1,
    )


def _deliveries(n: int, superuser) -> None:
    endpoint, _ = services.endpoint_create(
        user=superuser, url=f"http://127.0.0.1:9/{n}", events=["risk.opened"]
    )
    for i in range(n):
        queue_event("risk.opened", {"i": i}, key=f"{endpoint.pk}:{i}")


@pytest.mark.parametrize(
    "model",
    [
        "notifications_webhookdelivery",
        "notifications_outboundmessage",
        "notifications_webhookendpoint",
    ],
)
def test_the_changelists_render_with_constant_queries(
    ops_client, superuser, django_assert_max_num_queries, model
):
    url = reverse(f"admin:{model}_changelist")
    _deliveries(2, superuser)
    ops_client.get(url)
    with django_assert_max_num_queries(8) as few:
        assert ops_client.get(url).status_code == 200
    _deliveries(12, superuser)
    with django_assert_max_num_queries(8) as many:
        assert ops_client.get(url).status_code == 200
    assert len(many) == len(few)


# --- Slack ----------------------------------------------------------------------------


def test_a_slack_url_is_entered_once_and_never_shown_back(ops_client, region):
    url = "http://127.0.0.1:9/services/T000/B000/supersecretvalue"
    response = ops_client.post(
        reverse("admin:notifications_slackwebhook_add"),
        {"region": region.pk, "url": url, "active": "on"},
        follow=True,
    )
    assert response.status_code == 200
    slack = SlackWebhook.objects.get(region=region)
    assert slack.url == url
    change = ops_client.get(reverse("admin:notifications_slackwebhook_change", args=[slack.pk]))
    page = change.content.decode()
    assert "supersecretvalue" not in page and "\u2026alue" in page
    listing = ops_client.get(
        reverse("admin:notifications_slackwebhook_changelist")
    ).content.decode()
    assert "supersecretvalue" not in listing

    # Saving without a URL keeps it; a second webhook for the region is refused.
    ops_client.post(
        reverse("admin:notifications_slackwebhook_change", args=[slack.pk]),
        {"region": region.pk, "url": ""},
    )
    slack.refresh_from_db()
    assert slack.url == url and not slack.active
    again = ops_client.post(
        reverse("admin:notifications_slackwebhook_add"), {"region": region.pk, "url": url}
    )
    assert again.context["adminform"].form.errors["region"] == [
        "This region has a Slack webhook already: change that one."
    ]


def test_a_new_slack_webhook_needs_its_url(ops_client, region):
    response = ops_client.post(
        reverse("admin:notifications_slackwebhook_add"), {"region": region.pk, "url": ""}
    )
    assert response.context["adminform"].form.errors["url"] == [
        "Enter the Slack incoming-webhook URL."
    ]
    assert not SlackWebhook.objects.exists()
    assert queue_slack(region_id=region.pk, dedupe_key="x", kind="x", text="x", blocks=[]) is None


# --- The webhook-deliveries API ---------------------------------------------------------


@pytest.mark.parametrize(
    ("who", "status"),
    [
        ("anonymous", 401),
        ("csm", 403),
        ("manager", 403),
        ("reviewer", 403),
        ("admin", 200),
    ],
)
def test_only_admins_read_the_delivery_log(who, status, csm, manager, reviewer, admin_user):
    client = APIClient()
    people = {"csm": csm, "manager": manager, "reviewer": reviewer, "admin": admin_user}
    if who in people:
        client.force_authenticate(people[who])
    assert client.get("/api/v1/webhook-deliveries/").status_code == status


def test_the_api_lists_deliveries_newest_first_with_filters(admin_user, receiver):
    receiver.answer(Answer(410, body=b"gone"))
    a, _ = services.endpoint_create(
        user=admin_user, url=receiver.url + "/a", events=["risk.opened"]
    )
    b, _ = services.endpoint_create(
        user=admin_user, url=receiver.url + "/b", events=["risk.closed"]
    )
    queue_event("risk.opened", {"n": 1}, key="first")
    queue_event("risk.closed", {"n": 2}, key="second")
    from notifications import delivery

    delivery.drain("webhook", a.pk)
    client = APIClient()
    client.force_authenticate(admin_user)

    body = client.get("/api/v1/webhook-deliveries/").json()
    assert [row["event_type"] for row in body["results"]] == ["risk.closed", "risk.opened"]
    failed = body["results"][1]
    assert failed["endpoint"] == a.pk and failed["endpoint_url"] == receiver.url + "/a"
    assert (failed["status"], failed["response_code"], failed["attempts"]) == ("pending", 410, 1)
    assert failed["last_error"] == "HTTP 410: gone"
    assert failed["webhook_id"].startswith("msg_")
    assert failed["payload"]["data"] == {"n": 1}

    only_b = client.get("/api/v1/webhook-deliveries/", {"endpoint": b.pk}).json()
    assert [row["event_type"] for row in only_b["results"]] == ["risk.closed"]
    pending = client.get(
        "/api/v1/webhook-deliveries/", {"status": "pending", "event_type": "risk.opened"}
    )
    assert pending.json()["count"] == 1
    bad = client.get("/api/v1/webhook-deliveries/", {"status": "lost"})
    assert bad.status_code == 400 and "status" in bad.json()
    one = client.get(f"/api/v1/webhook-deliveries/{failed['id']}/").json()
    assert one == failed


def test_the_api_list_has_constant_queries(admin_user, django_assert_max_num_queries):
    client = APIClient()
    client.force_authenticate(admin_user)
    _deliveries(2, admin_user)
    with django_assert_max_num_queries(3) as few:
        client.get("/api/v1/webhook-deliveries/")
    _deliveries(10, admin_user)
    with django_assert_max_num_queries(3) as many:
        client.get("/api/v1/webhook-deliveries/")
    assert len(few) == len(many)
