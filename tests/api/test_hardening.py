"""What an attacker's or a careless client's request gets: a clear 4xx in JSON,
never a 500 page, and nothing a shared cache may keep."""

from __future__ import annotations

import pytest
import yaml
from django.test import Client
from rest_framework.test import APIClient

from risks import selectors

pytestmark = pytest.mark.django_db

DEEP = "[" * 1000


def _signed_in(user) -> APIClient:
    client = APIClient()
    client.force_authenticate(user)
    return client


def test_deeply_nested_json_to_the_token_endpoint_is_a_400_in_json():
    response = Client().post("/api/v1/auth/token/", DEEP, content_type="application/json")

    assert response.status_code == 400
    assert response["Content-Type"] == "application/json"
    assert "nested too deeply" in response.json()["detail"]


@pytest.mark.parametrize(
    "path", ["/api/v1/risks/", "/api/v1/accounts/", "/api/v1/agendas/generate/"]
)
def test_deeply_nested_json_is_a_400_on_every_json_endpoint(admin_user, path):
    response = _signed_in(admin_user).post(path, DEEP, content_type="application/json")

    assert response.status_code == 400
    assert "nested too deeply" in response.json()["detail"]


def test_an_unexpected_error_under_api_answers_json(admin_user, monkeypatch):
    def broken():
        raise RuntimeError("boom")

    monkeypatch.setattr(selectors, "risk_api_queryset", broken)
    client = Client(raise_request_exception=False)
    client.force_login(admin_user)

    response = client.get("/api/v1/risks/")

    assert response.status_code == 500
    assert response["Content-Type"] == "application/json"
    assert response.json() == {"detail": "Server error."}


@pytest.mark.parametrize(
    "path", ["/", "/risks/", "/risks/export.csv", "/risks/reports/outcomes.csv", "/accounts/"]
)
def test_signed_in_pages_and_exports_are_not_kept_by_caches(client, csm, path):
    client.force_login(csm)

    response = client.get(path)

    assert response.status_code == 200
    assert "no-store" in response["Cache-Control"]
    assert "private" in response["Cache-Control"]


@pytest.mark.parametrize("path", ["/api/v1/risks/", "/api/v1/regions/", "/api/v1/nothing-here/"])
def test_every_api_answer_is_private_and_not_stored(csm, path):
    for client in (APIClient(), _signed_in(csm)):
        response = client.get(path)
        assert "no-store" in response["Cache-Control"], (path, response.status_code)
        assert "private" in response["Cache-Control"]


def test_schema_lists_the_blank_department_that_tasks_use(csm):
    """Tasks (the review's action items among them) have a department or none."""
    client = APIClient()
    client.force_authenticate(csm)
    schema = yaml.safe_load(client.get("/api/schema/").content)

    assert "ActionItem" not in schema["components"]["schemas"]
    department = schema["components"]["schemas"]["Task"]["properties"]["department"]

    refs = [option["$ref"].rsplit("/", 1)[1] for option in department["oneOf"]]
    assert refs == ["DepartmentEnum", "BlankEnum"]
    assert schema["components"]["schemas"]["BlankEnum"]["enum"] == [""]
