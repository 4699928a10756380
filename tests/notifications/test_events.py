"""The signed webhook events, end to end: each of the eight is caused by the
real action (through the services, the rule actions or the daily task job),
delivered to a local receiver with the exact body documented in the OpenAPI
schema's ``webhooks`` section, and signed as Standard Webhooks says. An
endpoint gets only the events it subscribed to, and a repeated trigger is
one event."""

from __future__ import annotations

import base64
import copy
import datetime as dt
import os
from decimal import Decimal
from functools import cache
from typing import Any

import jsonschema
import pytest
from django.utils import timezone
from drf_spectacular.generators import SchemaGenerator
from rest_framework.test import APIClient
from standardwebhooks.webhooks import Webhook

from health.models import HealthScore
from notifications.events import SUBSCRIBABLE
from notifications.models import Channel, OutboundMessage, WebhookEndpoint
from reviews import services as review_services
from risks import integrations, services
from risks import notifications as risk_notifications
from risks.models import RiskRecord, Task, TaskSource
from rules.evaluation import act_on_match, act_on_pending, evaluate_rules
from rules.models import Rule, RuleMatch
from rules.services import clean_rule
from tests import factories
from tests.receivers import Receiver

pytestmark = pytest.mark.django_db

SITE = "https://risk.example.com"
ALL_EVENTS = list(SUBSCRIBABLE)


@pytest.fixture(autouse=True)
def _site_url(settings):
    settings.SITE_URL = SITE


@pytest.fixture
def receiver():
    with Receiver() as running:
        yield running


def new_secret() -> str:
    return "whsec_" + base64.b64encode(os.urandom(24)).decode()


def subscribe(receiver: Receiver, path: str, events: list[str], **fields: Any) -> WebhookEndpoint:
    endpoint = WebhookEndpoint(url=receiver.url + path, events=events, **fields)
    endpoint.set_secret(new_secret())
    endpoint.save()
    return endpoint


@pytest.fixture
def endpoint(receiver) -> WebhookEndpoint:
    """Subscribed to every event type."""
    return subscribe(receiver, "/all", ALL_EVENTS)


@pytest.fixture
def bystander(receiver) -> WebhookEndpoint:
    """Subscribed to nothing the test causes, unless it says so."""
    return subscribe(receiver, "/other", ["webhook.test"])


def arrived(receiver: Receiver, path: str = "/all") -> list[Any]:
    return [request for request in receiver.requests if request.path == path]


# --- the documented schema ---------------------------------------------------------------


@cache
def openapi() -> dict[str, Any]:
    return SchemaGenerator().get_schema(request=None, public=True)


def _closed(schema: Any) -> Any:
    """The schema with every documented object closed to undocumented keys:
    a payload key the documentation lacks fails the validation."""
    if isinstance(schema, dict):
        closed = {key: _closed(value) for key, value in schema.items()}
        if "properties" in closed and "additionalProperties" not in closed:
            closed["additionalProperties"] = False
        return closed
    if isinstance(schema, list):
        return [_closed(item) for item in schema]
    return schema


def assert_documented(body: dict[str, Any]) -> None:
    """``body`` validates against its event type's documented request body."""
    document = openapi()
    operation = document["webhooks"][body["type"]]["post"]
    reference = operation["requestBody"]["content"]["application/json"]["schema"]
    schema = {
        "$ref": reference["$ref"],
        "components": _closed(copy.deepcopy(document["components"])),
    }
    jsonschema.Draft202012Validator(schema).validate(body)


def test_the_schema_documents_every_subscribable_event_with_its_payload():
    webhooks = openapi()["webhooks"]

    assert set(webhooks) == set(SUBSCRIBABLE)
    schemas = openapi()["components"]["schemas"]
    for event_type, description in SUBSCRIBABLE.items():
        operation = webhooks[event_type]["post"]
        assert operation["summary"] == description
        reference = operation["requestBody"]["content"]["application/json"]["schema"]["$ref"]
        envelope = schemas[reference.rsplit("/", 1)[1]]
        assert envelope["required"] == ["data", "timestamp", "type"]
        assert envelope["properties"]["type"]["enum"] == [event_type]
        data = schemas[envelope["properties"]["data"]["$ref"].rsplit("/", 1)[1]]
        assert "account" in data["properties"] or "agenda" in data["properties"]


# --- what every delivery carries ------------------------------------------------------------


def time(moment: dt.datetime) -> str:
    """A date-time as the payloads show it (the API's format)."""
    return moment.astimezone(dt.UTC).isoformat().replace("+00:00", "Z")


def stamp(moment: dt.datetime) -> str:
    """The envelope's timestamp: UTC, milliseconds."""
    return moment.astimezone(dt.UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def webhook_id(endpoint: WebhookEndpoint, key: str) -> str:
    """The id the outbox gave the event ``key``'s delivery to ``endpoint``."""
    return OutboundMessage.objects.get(dedupe_key=f"webhook:{endpoint.pk}:{key}").webhook_id


def check_delivery(request: Any, endpoint: WebhookEndpoint, key: str) -> dict[str, Any]:
    """The headers and signature of one delivery; returns its verified body."""
    assert request.headers["content-type"] == "application/json"
    assert request.headers["user-agent"] == "RedAccount-Webhooks/1.0"
    assert request.headers["webhook-id"] == webhook_id(endpoint, key)
    sent_at = int(request.headers["webhook-timestamp"])
    assert abs(sent_at - timezone.now().timestamp()) < 60
    assert request.headers["webhook-signature"].startswith("v1,")
    verified = Webhook(endpoint.secret).verify(request.body, request.headers)
    assert verified == request.json
    assert_documented(request.json)
    return request.json


def test_a_tampered_body_fails_the_signature_check(
    receiver, endpoint, csm, account, low_usage, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        open_record(csm, account, low_usage)

    [request] = arrived(receiver)
    from standardwebhooks.webhooks import WebhookVerificationError

    with pytest.raises(WebhookVerificationError):
        Webhook(endpoint.secret).verify(request.body.replace(b"open", b"shut"), request.headers)
    with pytest.raises(WebhookVerificationError):
        Webhook(new_secret()).verify(request.body, request.headers)


# --- the people, the account and the record ---------------------------------------------------


@pytest.fixture
def account(csm, region):
    return factories.AccountFactory(
        name="Acme GmbH",
        external_id="CRM-ACME",
        region=region,
        segment=factories.SegmentFactory(code="enterprise"),
        arr=Decimal("90000.00"),
        renewal_date=dt.date(2026, 9, 30),
        csm=csm,
    )


def carl(csm) -> dict[str, Any]:
    return {"id": csm.pk, "name": "Carl Example", "email": "carl@example.com"}


def maria(manager) -> dict[str, Any]:
    return {"id": manager.pk, "name": "Maria Example", "email": "maria@example.com"}


def acme(account) -> dict[str, Any]:
    return {
        "id": account.pk,
        "external_id": "CRM-ACME",
        "name": "Acme GmbH",
        "region": "EMEA",
        "segment": "enterprise",
        "arr": "90000.00",
        "renewal_date": "2026-09-30",
        "csm": carl(account.csm),
        "url": f"{SITE}/accounts/{account.pk}/",
    }


def open_record(csm, account, cause) -> RiskRecord:
    return services.risk_open(
        user=csm,
        account=account,
        primary_cause=cause,
        summary="Usage halved since the champion left.",
        next_steps="Call the sponsor.",
        arr_at_risk="80000.00",
    )


def record(risk: RiskRecord, **changes: Any) -> dict[str, Any]:
    """The record's payload shape as it was filed by ``open_record``, with ``changes``."""
    risk.refresh_from_db()
    return {
        "id": risk.pk,
        "status": "open",
        "tier": 1,
        "max_tier": 1,
        "primary_cause": "low-usage",
        "secondary_cause": None,
        "summary": "Usage halved since the champion left.",
        "arr_at_risk": "80000.00",
        "arr_retained": None,
        "opened_at": time(risk.opened_at),
        "tier_changed_at": time(risk.tier_changed_at),
        "closed_at": None,
        "url": f"{SITE}/risks/{risk.pk}/",
        **changes,
    }


# --- risk.opened, risk.closed -----------------------------------------------------------------


def test_filing_a_record_sends_risk_opened_to_subscribers_only(
    receiver, endpoint, bystander, csm, account, low_usage, django_capture_on_commit_callbacks
):
    switched_off = subscribe(receiver, "/off", ALL_EVENTS, active=False)
    closed_only = subscribe(receiver, "/closed", ["risk.closed"])

    with django_capture_on_commit_callbacks(execute=True):
        risk = open_record(csm, account, low_usage)

    [request] = arrived(receiver)
    body = check_delivery(request, endpoint, f"risk.opened:{risk.pk}")
    assert body == {
        "type": "risk.opened",
        "timestamp": stamp(risk.opened_at),
        "data": {
            "risk": record(risk),
            "account": acme(account),
            "opened_by": carl(csm),
            "rule": None,
        },
    }
    assert [request.path for request in receiver.requests] == ["/all"]
    assert not OutboundMessage.objects.filter(endpoint__in=[bystander, switched_off, closed_only])
    # The documentation check is strict: a key it does not document fails it.
    undocumented = copy.deepcopy(body)
    undocumented["data"]["account"]["owner"] = "someone"
    with pytest.raises(jsonschema.ValidationError):
        assert_documented(undocumented)


def test_the_same_event_twice_is_delivered_once(
    receiver, endpoint, csm, account, low_usage, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        risk = open_record(csm, account, low_usage)
    with django_capture_on_commit_callbacks(execute=True):
        integrations.risk_opened(RiskRecord.objects.get(pk=risk.pk))

    assert len(arrived(receiver)) == 1
    assert OutboundMessage.objects.filter(channel=Channel.WEBHOOK).count() == 1


def test_closing_a_record_sends_risk_closed(
    receiver, endpoint, csm, account, low_usage, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        risk = open_record(csm, account, low_usage)
    receiver.requests.clear()
    with django_capture_on_commit_callbacks(execute=True):
        closed = services.risk_close(
            user=csm, risk=risk, outcome="saved", note="Renewed smaller.", arr_retained="60000.00"
        )

    [request] = arrived(receiver)
    body = check_delivery(request, endpoint, f"risk.closed:{risk.pk}")
    assert body == {
        "type": "risk.closed",
        "timestamp": stamp(closed.closed_at),
        "data": {
            "risk": record(
                risk, status="saved", arr_retained="60000.00", closed_at=time(closed.closed_at)
            ),
            "account": acme(account),
            "outcome": "saved",
            "note": "Renewed smaller.",
            "closed_by": carl(csm),
        },
    }


# --- escalations ------------------------------------------------------------------------------


def escalation_shape(escalation, **changes: Any) -> dict[str, Any]:
    escalation.refresh_from_db()
    return {
        "id": escalation.pk,
        "from_tier": 1,
        "to_tier": 2,
        "status": "pending",
        "reason": "The sponsor stopped answering.",
        "requested_by": carl(escalation.requested_by),
        "requested_at": time(escalation.requested_at),
        "decided_by": None,
        "decided_at": None,
        "decision_note": "",
        **changes,
    }


def test_a_csms_request_sends_escalation_requested_and_nothing_else(
    receiver, endpoint, csm, account, low_usage, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        risk = open_record(csm, account, low_usage)
    receiver.requests.clear()
    with django_capture_on_commit_callbacks(execute=True):
        escalation = services.escalation_request(
            user=csm, risk=risk, reason="The sponsor stopped answering."
        )

    [request] = arrived(receiver)
    body = check_delivery(request, endpoint, f"escalation.requested:{escalation.pk}")
    assert body == {
        "type": "escalation.requested",
        "timestamp": stamp(escalation.requested_at),
        "data": {
            "escalation": escalation_shape(escalation),
            "risk": record(risk),
            "account": acme(account),
        },
    }


def test_approving_sends_risk_escalated_then_escalation_decided(
    receiver, endpoint, csm, manager, account, low_usage, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        risk = open_record(csm, account, low_usage)
        escalation = services.escalation_request(
            user=csm, risk=risk, reason="The sponsor stopped answering."
        )
    receiver.requests.clear()
    with django_capture_on_commit_callbacks(execute=True):
        services.escalation_approve(user=manager, escalation=escalation, note="Go ahead.")

    escalated, decided = arrived(receiver)
    escalation.refresh_from_db()
    approved = escalation_shape(
        escalation,
        status="approved",
        decided_by=maria(manager),
        decided_at=time(escalation.decided_at),
        decision_note="Go ahead.",
    )
    at_tier_2 = record(risk, tier=2, max_tier=2)
    assert check_delivery(escalated, endpoint, f"risk.escalated:{risk.pk}:2:{escalation.pk}") == {
        "type": "risk.escalated",
        "timestamp": stamp(escalation.decided_at),
        "data": {
            "risk": at_tier_2,
            "account": acme(account),
            "from_tier": 1,
            "to_tier": 2,
            "escalation": approved,
        },
    }
    assert check_delivery(decided, endpoint, f"escalation.decided:{escalation.pk}") == {
        "type": "escalation.decided",
        "timestamp": stamp(escalation.decided_at),
        "data": {"escalation": approved, "risk": at_tier_2, "account": acme(account)},
    }


def test_rejecting_sends_escalation_decided_only(
    receiver, endpoint, csm, manager, account, low_usage, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        risk = open_record(csm, account, low_usage)
        escalation = services.escalation_request(
            user=csm, risk=risk, reason="The sponsor stopped answering."
        )
    receiver.requests.clear()
    with django_capture_on_commit_callbacks(execute=True):
        services.escalation_reject(user=manager, escalation=escalation, note="Try the CFO first.")

    [request] = arrived(receiver)
    escalation.refresh_from_db()
    assert check_delivery(request, endpoint, f"escalation.decided:{escalation.pk}") == {
        "type": "escalation.decided",
        "timestamp": stamp(escalation.decided_at),
        "data": {
            "escalation": escalation_shape(
                escalation,
                status="rejected",
                decided_by=maria(manager),
                decided_at=time(escalation.decided_at),
                decision_note="Try the CFO first.",
            ),
            "risk": record(risk),
            "account": acme(account),
        },
    }


def test_a_managers_own_escalation_sends_only_risk_escalated(
    receiver, endpoint, csm, manager, account, low_usage, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        risk = open_record(csm, account, low_usage)
    receiver.requests.clear()
    with django_capture_on_commit_callbacks(execute=True):
        escalation = services.escalation_request(
            user=manager, risk=risk, reason="The sponsor stopped answering."
        )

    [request] = arrived(receiver)
    escalation.refresh_from_db()
    body = check_delivery(request, endpoint, f"risk.escalated:{risk.pk}:2:{escalation.pk}")
    assert body["type"] == "risk.escalated"
    assert body["data"]["escalation"] == escalation_shape(
        escalation,
        status="approved",
        requested_by=maria(manager),
        decided_by=maria(manager),
        decided_at=time(escalation.decided_at),
    )
    assert body["data"]["risk"]["tier"] == 2


def test_escalating_again_after_a_deescalation_is_a_new_event(
    receiver, endpoint, csm, manager, account, low_usage, django_capture_on_commit_callbacks
):
    risk = open_record(csm, account, low_usage)
    with django_capture_on_commit_callbacks(execute=True):
        first = services.escalation_request(user=manager, risk=risk, reason="Sponsor gone.")
        services.risk_deescalate(user=manager, risk=risk, to_tier=1, note="Sponsor is back.")
        second = services.escalation_request(user=manager, risk=risk, reason="Gone again.")

    escalated = [r.json for r in arrived(receiver) if r.json["type"] == "risk.escalated"]
    assert [body["data"]["escalation"]["id"] for body in escalated] == [first.pk, second.pk]


# --- agenda.generated ---------------------------------------------------------------------------

WEEK = dt.date(2026, 6, 1)
MEETING = dt.datetime(2026, 6, 3, 13, tzinfo=dt.UTC)  # Wednesday 15:00 in Berlin
NOW = dt.datetime(2026, 6, 2, 8, tzinfo=dt.UTC)


def test_generating_an_agenda_sends_agenda_generated_once(
    receiver, endpoint, bystander, region, account, manager, django_capture_on_commit_callbacks
):
    risk = factories.RiskRecordFactory(
        account=account,
        primary_cause=factories.RootCauseFactory(code="low-usage"),
        summary="Usage halved since the champion left.",
        arr_at_risk=Decimal("80000.00"),
        tier=3,
        max_tier=3,
        opened_at=MEETING - dt.timedelta(days=20),
        tier_changed_at=MEETING - dt.timedelta(days=2),
    )
    with django_capture_on_commit_callbacks(execute=True):
        agenda = review_services.agenda_generate(
            region=region, week_start=WEEK, user=manager, now=NOW
        )
    with django_capture_on_commit_callbacks(execute=True):
        review_services.agenda_generate(region=region, week_start=WEEK, now=NOW)

    [request] = arrived(receiver)
    item = agenda.items.get()
    body = check_delivery(request, endpoint, f"agenda.generated:{agenda.pk}")
    assert body == {
        "type": "agenda.generated",
        "timestamp": "2026-06-02T08:00:00.000Z",
        "data": {
            "agenda": {
                "id": agenda.pk,
                "region": "EMEA",
                "week_start": "2026-06-01",
                "meeting_at": "2026-06-03T13:00:00Z",
                "status": "scheduled",
                "generated_at": "2026-06-02T08:00:00Z",
                "url": f"{SITE}/reviews/EMEA/2026-06-01/",
            },
            "items": [
                {
                    "id": item.pk,
                    "section": "new",
                    "position": 1,
                    "risk": record(
                        risk,
                        tier=3,
                        max_tier=3,
                        opened_at="2026-05-14T13:00:00Z",
                        tier_changed_at="2026-06-01T13:00:00Z",
                    ),
                    "account": acme(account),
                }
            ],
            "generated_by": maria(manager),
        },
    }
    assert not arrived(receiver, "/other")


# --- rule.matched --------------------------------------------------------------------------------

D = dt.date(2026, 6, 30)
RED = {"type": "band_is", "band": "red"}


def red(account, score: int = 31) -> None:
    HealthScore.objects.create(
        account=account,
        as_of=D,
        score=score,
        band="red",
        coverage=Decimal(1),
        computed_at=timezone.now(),
    )
    type(account).objects.filter(pk=account.pk).update(
        health_score=score, health_band="red", health_as_of=D
    )


def make_rule(name: str, actions: list[str], **fields: Any) -> Rule:
    now = timezone.now()
    return Rule.objects.create(
        name=name,
        active=True,
        conditions=[RED],
        actions=actions,
        created_at=now,
        updated_at=now,
        **fields,
    )


def rule_shape(rule: Rule) -> dict[str, Any]:
    return {"id": rule.pk, "name": rule.name, "url": f"{SITE}/rules/{rule.pk}/"}


def test_a_rule_may_have_the_webhook_action_alone():
    cleaned = clean_rule({"name": "Nobody calls", "conditions": [RED], "actions": ["webhook"]})

    assert cleaned["actions"] == ["webhook"]
    assert cleaned["primary_cause"] is None


def test_an_admin_saves_a_webhook_only_rule_through_the_api(admin_user):
    client = APIClient()
    client.force_authenticate(admin_user)

    response = client.post(
        "/api/v1/rules/",
        {"name": "Nobody calls", "conditions": [RED], "actions": ["webhook", "notify"]},
        format="json",
    )

    assert response.status_code == 201, response.json()
    assert response.json()["actions"] == ["notify", "webhook"]
    assert Rule.objects.get().sends_webhook


def test_a_match_of_a_webhook_rule_sends_rule_matched(
    receiver, endpoint, bystander, account, django_capture_on_commit_callbacks
):
    red(account)
    rule = make_rule("Nobody calls", ["webhook"])
    evaluate_rules(as_of=D)
    with django_capture_on_commit_callbacks(execute=True):
        assert act_on_pending() == 1
    match = RuleMatch.objects.get()
    with django_capture_on_commit_callbacks(execute=True):
        assert act_on_match(match) is None  # acted on already

    [request] = arrived(receiver)
    body = check_delivery(request, endpoint, f"rule.matched:{match.pk}")
    assert body == {
        "type": "rule.matched",
        "timestamp": stamp(match.matched_at),
        "data": {
            "rule": rule_shape(rule),
            "match": {
                "id": match.pk,
                "matched_at": time(match.matched_at),
                "as_of": "2026-06-30",
                "outcome": "notified",
            },
            "account": acme(account),
            "evidence": [
                {
                    "text": "Health is red (score 31).",
                    "values": {"type": "band_is", "band": "red", "score": 31},
                }
            ],
            "risk": None,
        },
    }
    assert not RiskRecord.objects.exists()


def test_a_webhook_rule_that_opens_a_record_names_it_in_both_events(
    receiver, endpoint, account, low_usage, django_capture_on_commit_callbacks
):
    red(account)
    rule = make_rule("Red opens", ["open_risk", "webhook"], primary_cause=low_usage)
    evaluate_rules(as_of=D)
    with django_capture_on_commit_callbacks(execute=True):
        act_on_pending()

    opened, matched = arrived(receiver)
    match = RuleMatch.objects.get()
    risk = RiskRecord.objects.get()
    assert check_delivery(opened, endpoint, f"risk.opened:{risk.pk}")["data"]["rule"] == {
        "id": rule.pk,
        "name": "Red opens",
        "match": match.pk,
    }
    body = check_delivery(matched, endpoint, f"rule.matched:{match.pk}")
    assert body["data"]["match"]["outcome"] == "opened"
    assert body["data"]["risk"]["id"] == risk.pk
    assert body["data"]["risk"]["url"] == f"{SITE}/risks/{risk.pk}/"
    assert opened.json["data"]["opened_by"]["name"] == "Red Account rules"


def test_a_rule_without_the_webhook_action_sends_no_rule_matched(
    receiver, endpoint, account, django_capture_on_commit_callbacks
):
    red(account)
    make_rule("Only email", ["notify"])
    evaluate_rules(as_of=D)
    with django_capture_on_commit_callbacks(execute=True):
        assert act_on_pending() == 1

    assert arrived(receiver) == []
    assert RuleMatch.objects.get().outcome == "notified"


# --- task.overdue -----------------------------------------------------------------------------

TODAY = dt.date(2026, 3, 11)


def daily_run(day: dt.date) -> None:
    """The daily task reminder, at 07:30 UTC of ``day``."""
    risk_notifications.task_reminders(now=dt.datetime.combine(day, dt.time(7, 30), tzinfo=dt.UTC))


def test_an_overdue_task_sends_task_overdue_once_per_due_date(
    receiver, endpoint, bystander, csm, account, low_usage, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        risk = open_record(csm, account, low_usage)
    Task.objects.filter(risk=risk).delete()  # the playbook's, if any
    late = factories.TaskFactory(
        risk=risk,
        title="Call the sponsor",
        description="Ask about the renewal.",
        owner=csm,
        due_date=TODAY - dt.timedelta(days=1),
        source=TaskSource.MANUAL,
        created_by=csm,
    )
    factories.TaskFactory(risk=risk, title="Due today", owner=csm, due_date=TODAY)
    factories.TaskFactory(
        risk=risk, title="Done", due_date=TODAY - dt.timedelta(days=3), done_at=timezone.now()
    )
    receiver.requests.clear()

    with django_capture_on_commit_callbacks(execute=True):
        daily_run(TODAY)
    with django_capture_on_commit_callbacks(execute=True):
        daily_run(TODAY)  # the same day again: nothing new

    [request] = arrived(receiver)
    body = check_delivery(request, endpoint, f"task.overdue:{late.pk}:2026-03-10")
    assert body == {
        "type": "task.overdue",
        # Midnight after the due date in Berlin (CET, UTC+1).
        "timestamp": "2026-03-10T23:00:00.000Z",
        "data": {
            "task": {
                "id": late.pk,
                "title": "Call the sponsor",
                "description": "Ask about the renewal.",
                "owner": carl(csm),
                "department": "",
                "due_date": "2026-03-10",
                "url": f"{SITE}/risks/{risk.pk}/",
            },
            "risk": record(risk),
            "account": acme(account),
        },
    }
    assert not arrived(receiver, "/other")

    # The next day the first is still late (nothing new) and the second is late
    # too; then the first's due date moves and passes again: a new event.
    with django_capture_on_commit_callbacks(execute=True):
        daily_run(TODAY + dt.timedelta(days=1))
    Task.objects.filter(pk=late.pk).update(due_date=TODAY + dt.timedelta(days=2))
    with django_capture_on_commit_callbacks(execute=True):
        daily_run(TODAY + dt.timedelta(days=3))
    overdue = [r.json for r in arrived(receiver)]
    assert [(b["data"]["task"]["title"], b["data"]["task"]["due_date"]) for b in overdue] == [
        ("Call the sponsor", "2026-03-10"),
        ("Due today", "2026-03-11"),
        ("Call the sponsor", "2026-03-13"),
    ]


def test_a_task_is_late_by_the_date_in_its_accounts_region(
    receiver, endpoint, csm, low_usage, django_capture_on_commit_callbacks
):
    """At 07:30 UTC on 11 March it is still 10 March in Honolulu (UTC-10)."""
    west = factories.RegionFactory(code="HAWAII", timezone="Pacific/Honolulu")
    account = factories.AccountFactory(region=west, csm=csm)
    with django_capture_on_commit_callbacks(execute=True):
        risk = open_record(csm, account, low_usage)
    Task.objects.filter(risk=risk).delete()
    factories.TaskFactory(risk=risk, title="Due 10 March", due_date=TODAY - dt.timedelta(1))
    factories.TaskFactory(risk=risk, title="Due 9 March", due_date=TODAY - dt.timedelta(2))
    receiver.requests.clear()

    with django_capture_on_commit_callbacks(execute=True):
        daily_run(TODAY)

    titles = [r.json["data"]["task"]["title"] for r in arrived(receiver)]
    assert titles == ["Due 9 March"]


def test_tasks_of_closed_records_send_no_task_overdue(
    receiver, endpoint, csm, account, low_usage, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        risk = open_record(csm, account, low_usage)
        factories.TaskFactory(risk=risk, title="Late", due_date=TODAY - dt.timedelta(days=5))
        services.risk_close(user=csm, risk=risk, outcome="withdrawn", note="False alarm.")
    receiver.requests.clear()

    with django_capture_on_commit_callbacks(execute=True):
        daily_run(TODAY)

    assert arrived(receiver) == []


def test_without_subscribers_the_daily_run_looks_for_no_overdue_task(
    csm, account, low_usage, django_assert_num_queries
):
    risk = open_record(csm, account, low_usage)
    factories.TaskFactory(risk=risk, title="Late", due_date=TODAY - dt.timedelta(days=5))

    with django_assert_num_queries(1):  # the endpoints
        assert integrations.tasks_overdue(now=timezone.now()) == 0


def test_a_daily_run_that_finds_everything_sent_costs_the_same_queries_for_more_tasks(
    endpoint, csm, account, low_usage, django_assert_max_num_queries
):
    risk = open_record(csm, account, low_usage)
    now = dt.datetime.combine(TODAY, dt.time(7, 30), tzinfo=dt.UTC)

    def late_tasks(n: int) -> None:
        for i in range(n):
            factories.TaskFactory(risk=risk, title=f"Late {i}", due_date=TODAY - dt.timedelta(2))
        integrations.tasks_overdue(now=now)  # sends the new ones

    late_tasks(2)
    with django_assert_max_num_queries(5) as few:
        assert integrations.tasks_overdue(now=now) == 0
    late_tasks(8)
    with django_assert_max_num_queries(5) as many:
        assert integrations.tasks_overdue(now=now) == 0
    assert len(few) == len(many)
