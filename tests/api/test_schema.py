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

from health.models import Measure
from health.scoring import score_accounts
from risks import services
from risks.models import RootCause
from tests import factories

pytestmark = pytest.mark.django_db

EXAMPLES_PER_OPERATION = 10


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
    ):
        assert f"{path}:" in text, path


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
    cause = RootCause.objects.get(code="low-usage")
    for n in range(3):
        account = factories.AccountFactory(csm=csm, region=region, arr=Decimal("50000"))
        risk = services.risk_open(
            user=csm, account=account, primary_cause=cause, summary=f"s{n}", next_steps="n"
        )
        services.escalation_request(user=csm, risk=risk, reason="Help.")
        factories.ObservationFactory(
            account=account, measure=Measure.objects.get(code="nps"), value=Decimal("30")
        )
    # Scores with parts, so the health endpoints answer with data.
    score_accounts(timezone.now().date())
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
    for operation in operations:

        @given(case=operation.as_strategy())
        @settings(
            max_examples=EXAMPLES_PER_OPERATION,
            deadline=None,
            suppress_health_check=list(HealthCheck),
            derandomize=True,
            database=None,
        )
        def check(case):
            case.call_and_validate(headers=headers, checks=checks)

        try:
            check()
        except Exception as failure:
            raise AssertionError(f"{operation.label}: {failure}") from failure


def test_unknown_api_paths_answer_in_json(client):
    response = client.get("/api/v1/risks/0.5/")
    assert response.status_code == 404
    assert response.json() == {"detail": "Not found."}
    assert client.get("/no-such-page/")["Content-Type"].startswith("text/html")
