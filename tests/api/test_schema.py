"""The OpenAPI schema is valid and complete, the docs are served from our own
static files, and a property-based run of schemathesis finds no 5xx and no
response that breaks the schema."""

from __future__ import annotations

from decimal import Decimal

import pytest
import schemathesis
from django.contrib.staticfiles import finders
from django.core.management import call_command
from django.core.signals import request_finished, request_started
from django.core.wsgi import get_wsgi_application
from django.db import close_old_connections
from django.utils import timezone
from hypothesis import HealthCheck, given, settings
from knox.models import AuthToken
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)

from accounts.models import Account
from health.models import Measure
from health.scoring import score_accounts
from notifications import services as notification_services
from notifications.events import SUBSCRIBABLE
from notifications.models import WebhookDelivery
from risks import services
from risks.models import Playbook, RootCause, Task
from rules import services as rule_services
from rules.evaluation import evaluate_rules
from rules.models import Rule, RuleMatch
from tests import factories

pytestmark = pytest.mark.django_db

EXAMPLES_PER_OPERATION = 10

# The playbooks and tasks API: the fuzz run below must reach each of these.
NEW_TASK_OPERATIONS = {
    "GET /api/v1/playbooks/",
    "POST /api/v1/playbooks/",
    "GET /api/v1/playbooks/{id}/",
    "PUT /api/v1/playbooks/{id}/",
    "PATCH /api/v1/playbooks/{id}/",
    "DELETE /api/v1/playbooks/{id}/",
    "GET /api/v1/playbooks/{id}/preview/",
    "GET /api/v1/tasks/",
    "GET /api/v1/tasks/{id}/",
    "PATCH /api/v1/tasks/{id}/",
    "GET /api/v1/risks/{id}/tasks/",
    "POST /api/v1/risks/{id}/tasks/",
}

# The risk rules API: the fuzz run below must reach each of these too.
NEW_RULE_OPERATIONS = {
    "GET /api/v1/rules/",
    "POST /api/v1/rules/",
    "GET /api/v1/rules/{id}/",
    "PUT /api/v1/rules/{id}/",
    "PATCH /api/v1/rules/{id}/",
    "DELETE /api/v1/rules/{id}/",
    "GET /api/v1/rules/{id}/preview/",
    "POST /api/v1/rules/evaluate/",
    "GET /api/v1/rule-matches/",
    "GET /api/v1/rule-matches/{id}/",
}

# A rule every account matches (they renew within 730 days): it has matches to
# list, so a generated DELETE keeps it (409).
VALID_RULE = {
    "name": "Renewing soon",
    "active": True,
    "conditions": [{"type": "renewal_within", "days": 730}],
    "actions": ["notify"],
}


def test_schema_validates_without_warnings(tmp_path):
    target = tmp_path / "schema.yaml"
    call_command("spectacular", validate=True, fail_on_warn=True, file=str(target))
    text = target.read_text()
    for path in (
        "/api/v1/auth/token/",
        "/api/v1/users/",
        "/api/v1/regions/",
        "/api/v1/segments/",
        "/api/v1/root-causes/",
        "/api/v1/accounts/",
        "/api/v1/risks/",
        "/api/v1/risks/{id}/escalate/",
        "/api/v1/risks/{id}/deescalate/",
        "/api/v1/risks/{id}/close/",
        "/api/v1/risks/{id}/notes/",
        "/api/v1/risks/{id}/timeline/",
        "/api/v1/escalations/",
        "/api/v1/escalations/{id}/approve/",
        "/api/v1/escalations/{id}/reject/",
        "/api/v1/measures/",
        "/api/v1/measures/{id}/",
        "/api/v1/thresholds/",
        "/api/v1/thresholds/{id}/",
        "/api/v1/observations/",
        "/api/v1/accounts/{id}/health/",
        "/api/v1/health-scores/",
        "/api/v1/health-scores/{id}/",
        "/api/v1/health-scores/compute/",
        "/api/v1/risks/{id}/tasks/",
        "/api/v1/tasks/",
        "/api/v1/tasks/{id}/",
        "/api/v1/playbooks/",
        "/api/v1/playbooks/{id}/",
        "/api/v1/playbooks/{id}/preview/",
        "/api/v1/renewals/",
        "/api/v1/webhook-deliveries/",
        "/api/v1/webhook-deliveries/{id}/",
    ):
        assert f"{path}:" in text, path
    # Action items are tasks now: PATCH /tasks/{id}/ replaced them.
    assert "/api/v1/action-items/" not in text


def test_schema_and_docs_are_served_without_a_cdn(client):
    schema = client.get("/api/schema/")
    assert schema.status_code == 200
    docs = client.get("/api/docs/")
    assert docs.status_code == 200
    html = docs.content.decode()
    assert "drf_spectacular_sidecar/swagger-ui-dist/swagger-ui-bundle.js" in html
    assert "cdn." not in html and "unpkg" not in html
    assert "<script>" not in html  # the split view keeps scripts out of the page
    assert "<style" not in html and "style=" not in html  # nothing the CSP refuses
    assert "/static/css/api-docs.css" in html
    assert finders.find("css/api-docs.css")


@pytest.fixture
def api_world():
    """A small world the fuzzer can act in, and an admin token to act with."""
    region = factories.RegionFactory(code="EMEA")
    manager = factories.ManagerFactory(username="fuzz-manager", region=region)
    csm = factories.CsmFactory(username="fuzz-csm", manager=manager, region=region)
    admin = factories.AdminFactory(username="fuzz-admin", is_superuser=True)
    # An endpoint subscribed to everything: the world's events are its deliveries.
    notification_services.endpoint_create(
        user=admin, url="http://127.0.0.1:9/hook", events=list(SUBSCRIBABLE)
    )
    cause = RootCause.objects.get(code="low-usage")
    # A playbook for the cause, so each record below gets tasks to list and mark.
    services.playbook_save(
        user=admin,
        name="Usage rescue",
        root_cause=cause,
        steps=[
            {"title": "Call the sponsor", "owner": "csm", "due_days": 2},
            {"title": "Product review", "owner": "product", "due_days": 5},
        ],
    )
    for n in range(3):
        account = factories.AccountFactory(csm=csm, region=region, arr=Decimal("50000"))
        risk = services.risk_open(
            user=csm, account=account, primary_cause=cause, summary=f"s{n}", next_steps="n"
        )
        services.escalation_request(user=csm, risk=risk, reason="Help.")
        services.task_add(
            user=csm, risk=risk, title=f"t{n}", owner=csm, due_date=timezone.localdate()
        )
        factories.ObservationFactory(
            account=account, measure=Measure.objects.get(code="nps"), value=Decimal("30")
        )
    # Scores with parts, so the health endpoints answer with data.
    score_accounts(timezone.now().date())
    # A rule with a match on each account, for the rules and matches endpoints.
    rule_services.rule_create(user=admin, values=VALID_RULE)
    evaluate_rules()
    return AuthToken.objects.create(user=admin)[1]


def test_api_conforms_to_its_schema(api_world):
    """Every operation, a bounded number of generated requests each, as an admin
    with a token. (schemathesis's pytest plugin does not run under pytest 9, so
    the operations are driven through their Hypothesis strategies directly.)"""
    # The real WSGI handler closes "old" connections at each request, which
    # would close the test's own transaction; Django's test client avoids it
    # the same way.
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    try:
        _fuzz_every_operation(api_world)
    finally:
        request_started.connect(close_old_connections)
        request_finished.connect(close_old_connections)


def _fuzz_every_operation(token: str) -> None:
    api_schema = schemathesis.openapi.from_wsgi("/api/schema/", get_wsgi_application())
    headers = {"Authorization": f"Token {token}"}
    checks = [
        not_a_server_error,
        status_code_conformance,
        content_type_conformance,
        response_schema_conformance,
    ]
    operations = [result.ok() for result in api_schema.get_all_operations()]
    assert len(operations) >= 30
    labels = {operation.label for operation in operations}
    assert labels >= NEW_TASK_OPERATIONS, NEW_TASK_OPERATIONS - labels
    assert labels >= NEW_RULE_OPERATIONS, NEW_RULE_OPERATIONS - labels
    # The operations on existing playbooks, tasks, rules and matches first,
    # before a generated DELETE can remove the playbook; each must have
    # succeeded at least once.
    for label, parameters, must_succeed in _pinned_parameters():
        operation = next(operation for operation in operations if operation.label == label)
        statuses = _check_examples(label, operation.as_strategy(**parameters), headers, checks)
        if must_succeed:
            assert any(200 <= code < 300 for code in statuses), (label, statuses)
    for operation in operations:
        _check_examples(operation.label, operation.as_strategy(), headers, checks)


def _check_examples(label: str, strategy, headers: dict[str, str], checks: list) -> set[int]:
    """Run the generated requests of one strategy; the status codes they got."""
    statuses: set[int] = set()

    @given(case=strategy)
    @settings(
        max_examples=EXAMPLES_PER_OPERATION,
        deadline=None,
        suppress_health_check=list(HealthCheck),
        derandomize=True,
        database=None,
    )
    def check(case):
        statuses.add(case.call_and_validate(headers=headers, checks=checks).status_code)

    try:
        check()
    except Exception as failure:
        raise AssertionError(f"{label}: {failure}") from failure
    return statuses


def _pinned_parameters() -> list[tuple[str, dict, bool]]:
    """Generated ids rarely name an object, so the playbook and task operations
    also run on ones that exist (not DELETE: the others need the playbook):
    (operation, fixed parameters, whether one of its requests must succeed).
    Generated bodies of writes are mostly refused, so the writes also run
    once with a valid body, whose answer is then checked against the schema."""
    playbook = Playbook.objects.get()
    task = Task.objects.select_related("risk").order_by("pk").first()
    on_playbook = {"path_parameters": {"id": playbook.pk}}
    on_task = {"path_parameters": {"id": task.pk}}
    on_risk = {"path_parameters": {"id": task.risk_id}}
    valid_playbook = {
        "name": "Usage rescue",
        "root_cause": "low-usage",
        "steps": [{"title": "Call the sponsor", "owner": "manager", "due_days": 3}],
    }
    valid_task = {"title": "Send the plan", "department": "support", "due_date": "2030-01-31"}
    return [
        ("GET /api/v1/playbooks/{id}/", on_playbook, True),
        ("PUT /api/v1/playbooks/{id}/", on_playbook, False),
        ("PUT /api/v1/playbooks/{id}/", {**on_playbook, "body": valid_playbook}, True),
        ("PATCH /api/v1/playbooks/{id}/", on_playbook, False),
        ("PATCH /api/v1/playbooks/{id}/", {**on_playbook, "body": {"active": True}}, True),
        (
            "GET /api/v1/playbooks/{id}/preview/",
            {**on_playbook, "query": {"account": task.risk.account_id}},
            True,
        ),
        ("GET /api/v1/tasks/{id}/", on_task, True),
        ("PATCH /api/v1/tasks/{id}/", on_task, True),
        ("GET /api/v1/risks/{id}/tasks/", on_risk, True),
        ("POST /api/v1/risks/{id}/tasks/", on_risk, False),
        ("POST /api/v1/risks/{id}/tasks/", {**on_risk, "body": valid_task}, True),
        *_pinned_rule_parameters(),
        *_pinned_renewal_parameters(),
        ("GET /api/v1/webhook-deliveries/", {}, True),
        (
            "GET /api/v1/webhook-deliveries/{id}/",
            {"path_parameters": {"id": WebhookDelivery.objects.order_by("pk").first().pk}},
            True,
        ),
    ]


def _pinned_rule_parameters() -> list[tuple[str, dict, bool]]:
    """The same for the rule of ``api_world`` and one of its matches. Its
    DELETE runs too: the rule has matches, so it is kept (409)."""
    on_rule = {"path_parameters": {"id": Rule.objects.get().pk}}
    on_match = {"path_parameters": {"id": RuleMatch.objects.order_by("pk").first().pk}}
    return [
        ("GET /api/v1/rules/{id}/", on_rule, True),
        ("PUT /api/v1/rules/{id}/", on_rule, False),
        ("PUT /api/v1/rules/{id}/", {**on_rule, "body": VALID_RULE}, True),
        ("PATCH /api/v1/rules/{id}/", on_rule, False),
        ("PATCH /api/v1/rules/{id}/", {**on_rule, "body": {"active": True}}, True),
        ("DELETE /api/v1/rules/{id}/", on_rule, False),
        ("GET /api/v1/rules/{id}/preview/", on_rule, False),
        ("GET /api/v1/rules/{id}/preview/", {**on_rule, "query": {"as_of": "2026-06-30"}}, True),
        ("POST /api/v1/rules/evaluate/", {}, True),
        ("GET /api/v1/rule-matches/{id}/", on_match, True),
    ]


def _pinned_renewal_parameters() -> list[tuple[str, dict, bool]]:
    """A valid renewals upload, whose 200 answer is checked against the schema
    (a renewal, not a churn: the account stays active for the operations after)."""
    account = Account.objects.order_by("pk").first()
    valid_rows = [
        {
            "account": account.pk,
            "renewal_date": "2025-06-30",
            "outcome": "renewed",
            "arr_before": "50000.00",
            "arr_after": 55000,
        }
    ]
    return [
        ("POST /api/v1/renewals/", {"body": valid_rows}, True),
        ("GET /api/v1/renewals/", {}, True),
    ]


def test_unknown_api_paths_answer_in_json(client):
    response = client.get("/api/v1/risks/0.5/")
    assert response.status_code == 404
    assert response.json() == {"detail": "Not found."}
    assert client.get("/no-such-page/")["Content-Type"].startswith("text/html")
