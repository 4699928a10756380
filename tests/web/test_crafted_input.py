"""Crafted input gets a 400 (or a form error), never a 500: NUL characters in
paths, query strings and forms; dates beyond what any filter can mean; codes
that are not slugs. A property-based fuzz of the pages' query parameters keeps
it that way."""

from __future__ import annotations

import datetime as dt
import importlib

import pytest
from django.apps import apps
from django.urls import reverse
from django.utils.http import content_disposition_header
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from rest_framework.test import APIClient

from accounts.models import Region
from core.dates import OUT_OF_RANGE
from core.middleware import NUL_MESSAGE
from reviews.models import Agenda
from risks.models import RiskRecord
from rules import services as rule_services
from rules.models import Rule
from tests import factories

pytestmark = pytest.mark.django_db

WEEK = "2026-11-30"


@pytest.fixture
def admin_client(client, admin_user):
    client.force_login(admin_user)
    return client


@pytest.fixture
def api(admin_user) -> APIClient:
    client = APIClient()
    client.force_authenticate(admin_user)
    return client


@pytest.mark.parametrize(
    "path",
    [
        "/risks/approvals/?region=%00",
        "/risks/new/?q=%00",
        "/risks/?search=a%00b",
        "/risks/?%00=1",
        f"/reviews/%00/{WEEK}/",
        f"/reviews/EMEA/{WEEK}%00/",
        "/admin/risks/riskrecord/?status=%00",
        "/accounts/?region=%00",
        "/risks/reports/?region=%00",
        "/rules/?q=%00",
        "/rules/new/?name=%00",
    ],
)
def test_nul_in_a_page_address_is_a_400(admin_client, region, path):
    response = admin_client.get(path)

    assert response.status_code == 400
    assert NUL_MESSAGE in response.content.decode()


def test_nul_in_an_api_query_is_a_400_in_json(api):
    response = api.get("/api/v1/risks/?search=%00")

    assert response.status_code == 400
    assert response.json() == {"detail": NUL_MESSAGE}


def test_nul_in_a_submitted_form_is_a_400_and_nothing_changes(client, manager, csm, account):
    risk = factories.RiskRecordFactory(account=account)
    escalation = factories.EscalationFactory(risk=risk, requested_by=csm)
    client.force_login(manager)

    response = client.post(reverse("risks:reject", args=[escalation.pk]), {"note": "No\x00pe"})

    assert response.status_code == 400
    escalation.refresh_from_db()
    assert escalation.status == "pending"


def test_nul_in_a_json_body_is_a_400(api, account, low_usage):
    response = api.post(
        "/api/v1/risks/",
        {
            "account": account.pk,
            "primary_cause": low_usage.code,
            "summary": "Usage\u0000 halved.",
            "next_steps": "Call.",
        },
        format="json",
    )

    assert response.status_code == 400
    assert "NUL" in response.json()["detail"]
    assert not RiskRecord.objects.exists()


@pytest.mark.parametrize(
    "parameter",
    ["opened_before", "opened_after", "closed_before", "closed_after", "renewal_date_before"],
)
@pytest.mark.parametrize("value", ["9999-12-31", "0001-01-01"])
def test_dates_beyond_the_range_are_a_field_error_in_the_api(api, parameter, value):
    response = api.get("/api/v1/risks/", {parameter: value})

    assert response.status_code == 400
    assert response.json() == {parameter: [OUT_OF_RANGE]}


@pytest.mark.parametrize(
    ("path", "status"),
    [
        # The list pages show the filter form with the error next to the field.
        ("/risks/?opened_before=9999-12-31", 200),
        ("/accounts/?renewal_date_after=9999-12-31", 200),
        # Exports and reports refuse the request as a whole.
        ("/risks/export.csv?closed_after=9999-12-31", 400),
        ("/risks/reports/?closed_before=9999-12-31", 400),
        ("/risks/reports/trend/?closed_after=0001-01-01", 400),
    ],
)
def test_dates_beyond_the_range_are_refused_on_the_pages(admin_client, path, status):
    response = admin_client.get(path)

    assert response.status_code == status
    assert OUT_OF_RANGE in response.content.decode()


def test_agenda_api_week_beyond_the_range_is_a_400(api):
    response = api.get("/api/v1/agendas/", {"week_start": "9999-12-27"})

    assert response.status_code == 400
    assert response.json() == {"week_start": [OUT_OF_RANGE]}


@pytest.mark.parametrize("code", ["Z/1", "A B", 'Q"1', "N\nL", "tab\tx", "x\x07", "É"])
def test_region_codes_are_slugs(api, code):
    response = api.post(
        "/api/v1/regions/",
        {
            "code": code,
            "name": "Somewhere",
            "timezone": "Europe/Berlin",
            "review_weekday": 2,
            "review_time": "15:00",
        },
        format="json",
    )

    assert response.status_code == 400
    assert "code" in response.json()
    assert not Region.objects.filter(name="Somewhere").exists()


def test_existing_region_codes_are_rewritten_as_slugs_by_the_migration():
    Region.objects.create(
        code="OK", name="Fine", timezone="UTC", review_weekday=0, review_time=dt.time(9)
    )
    bad = Region.objects.create(
        code="fine", name="Bad", timezone="UTC", review_weekday=0, review_time=dt.time(9)
    )
    Region.objects.filter(pk=bad.pk).update(code='Z/1 "x"')
    clash = Region.objects.create(
        code="other", name="Clash", timezone="UTC", review_weekday=0, review_time=dt.time(9)
    )
    Region.objects.filter(pk=clash.pk).update(code="Z/1-x")
    Region.objects.filter(code="Z/1-x").update(code="Z-1-x")

    migration = importlib.import_module("accounts.migrations.0003_region_code_is_a_slug")
    migration.slugify_codes(apps, None)

    bad.refresh_from_db()
    assert bad.code == "Z-1-x-2"
    assert Region.objects.get(name="Fine").code == "OK"
    assert Region.objects.get(name="Clash").code == "Z-1-x"


def test_invite_download_name_is_a_well_formed_header(admin_client, region):
    agenda = Agenda.objects.create(
        region=region,
        week_start=dt.date(2026, 11, 30),
        meeting_at=dt.datetime(2026, 12, 2, 14, tzinfo=dt.UTC),
    )

    response = admin_client.get(reverse("reviews:calendar", args=[region.code, WEEK]))

    assert response.status_code == 200
    assert response["Content-Disposition"] == content_disposition_header(
        True, f"review-{region.code}-{agenda.week_start.isoformat()}.ics"
    )


# --- a fuzz of the pages' query parameters ------------------------------------------------

PAGES = [
    (
        "risks:list",
        [
            "status",
            "tier",
            "region",
            "segment",
            "primary_cause",
            "category",
            "csm",
            "manager",
            "renewal_within",
            "renewal_date_after",
            "opened_before",
            "closed_after",
            "search",
            "ordering",
            "page",
            "page_size",
        ],
    ),
    ("risks:export", ["status", "opened_after", "closed_before", "ordering"]),
    ("risks:approvals", ["region", "page"]),
    ("risks:file", ["q", "account", "partial"]),
    (
        "customer_accounts:list",
        [
            "search",
            "region",
            "segment",
            "csm",
            "renewal_within",
            "has_open_risk",
            "renewal_date_before",
            "ordering",
            "page",
        ],
    ),
    ("reports:outcomes", ["group_by", "closed_after", "closed_before", "region", "segment"]),
    ("reports:open_risk", ["period", "region", "segment"]),
    ("reports:trend", ["closed_after", "closed_before", "region"]),
    ("reports:outcomes_csv", ["group_by", "closed_after"]),
    ("reports:program_effectiveness", ["closed_after", "closed_before", "region", "segment"]),
    ("reports:flag_coverage", ["renewed_after", "renewed_before", "region", "segment"]),
    ("reports:flag_coverage_csv", ["renewed_after", "renewed_before"]),
    (
        "reports:health_calibration",
        ["renewed_after", "renewed_before", "region", "segment", "days_before"],
    ),
    ("reports:health_calibration_csv", ["renewed_before", "days_before"]),
    ("reviews:index", ["region"]),
    (
        "tasks:index",
        ["scope", "owner", "department", "source", "state", "due", "include_closed", "page"],
    ),
    ("home", ["region"]),
    ("rules:index", ["page", "active"]),
    ("rules:new", ["name", "segment", "c1_type"]),
]

hostile_text = st.one_of(
    st.text(max_size=30),
    st.sampled_from(
        [
            "9999-12-31",
            "0001-01-01",
            "2026-02-30",
            "-1",
            "1e309",
            "NaN",
            "' OR 1=1 --",
            "\x00",
            "%00",
            "../../etc",
            "\U0001d518\U0001d52b\U0001d526 🚀",
            "9" * 40,
            "",
            " ",
        ]
    ),
)


@pytest.mark.parametrize(("name", "parameters"), PAGES, ids=[page[0] for page in PAGES])
def test_no_query_string_makes_a_page_fail(admin_client, name, parameters):
    url = reverse(name)

    @settings(
        max_examples=25,
        deadline=None,
        derandomize=True,
        suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    )
    @given(st.dictionaries(st.sampled_from(parameters), hostile_text, max_size=4))
    def check(query: dict[str, str]) -> None:
        response = admin_client.get(url, query)
        assert response.status_code < 500, (query, response.status_code)

    check()


def test_a_nul_in_a_cookie_is_a_400_not_a_500(client):
    # Django decodes octal escapes in quoted cookies: this session key holds a NUL.
    response = client.get("/", HTTP_COOKIE='sessionid="abcdefgh\\000ijkl"')

    assert response.status_code == 400


def test_a_nul_in_the_authorization_header_is_a_400_in_json():
    response = APIClient().get("/api/v1/regions/", HTTP_AUTHORIZATION="Token abc\x00def")

    assert response.status_code == 400
    assert response.json() == {"detail": NUL_MESSAGE}


# --- the rule editor: any post is a page with errors, never a 500 -------------------------

RULE_FIELDS = [
    "name",
    "description",
    "segment",
    "region",
    "primary_cause",
    "actions",
    "c1_type",
    "c1_measure",
    "c1_band",
    "c1_value",
    "c1_percent",
    "c1_points",
    "c1_days",
    "c2_type",
    "c2_value",
    "c2_days",
    "version",
]
RULE_TYPES = st.sampled_from(
    ["band_is", "score_drop", "measure_below", "measure_change_below", "event_within", ""]
)


def test_nul_in_the_rule_editor_is_a_400_and_nothing_is_saved(admin_client):
    response = admin_client.post(
        reverse("rules:new"),
        {"name": "Red\x00", "actions": ["open_risk"], "c1_type": "band_is", "c1_band": "red"},
    )

    assert response.status_code == 400
    assert not Rule.objects.exists()


@pytest.mark.parametrize("intent", ["save", "preview"])
@pytest.mark.parametrize(
    "field", ["segment", "region", "primary_cause", "version", "c1_points", "c1_value"]
)
def test_ids_and_numbers_beyond_any_column_are_field_errors(
    admin_client, admin_user, field, intent
):
    rule = rule_services.rule_create(
        user=admin_user,
        values={
            "name": "Existing",
            "conditions": [{"type": "band_is", "band": "red"}],
            "actions": ["notify"],
        },
    )
    data = {
        "name": "Renamed",
        "actions": ["notify"],
        "c1_type": "score_drop" if field == "c1_points" else "measure_below",
        "c1_days": "7",
        "c1_measure": "nope",
        field: "9" * 40,
        "intent": intent,
    }

    response = admin_client.post(reverse("rules:edit", args=[rule.pk]), data)

    assert response.status_code in (400, 409)
    assert Rule.objects.get(pk=rule.pk).name == "Existing"


@pytest.mark.parametrize("intent", ["save", "preview"])
def test_no_post_makes_the_rule_editor_fail(admin_client, admin_user, intent):
    rule = rule_services.rule_create(
        user=admin_user,
        values={
            "name": "Existing",
            "conditions": [{"type": "band_is", "band": "red"}],
            "actions": ["notify"],
        },
    )
    urls = [reverse("rules:new"), reverse("rules:edit", args=[rule.pk])]

    @settings(
        max_examples=25,
        deadline=None,
        derandomize=True,
        suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    )
    @given(
        st.sampled_from(urls),
        st.dictionaries(st.sampled_from(RULE_FIELDS), hostile_text, max_size=6),
        RULE_TYPES,
    )
    def check(url: str, fields: dict[str, str], kind: str) -> None:
        data = {"c1_type": kind, **fields, "intent": intent}
        for headers in ({}, {"HTTP_HX_REQUEST": "true"}):
            response = admin_client.post(url, data, **headers)
            assert response.status_code < 500, (url, data, response.status_code)

    check()


@pytest.mark.parametrize(
    "data",
    [
        {"active": "1", "version": "9" * 40},
        {"active": "maybe"},
        {"active": "\U0001d518", "version": "-1"},
        {},
    ],
)
def test_crafted_switches_of_a_rule_are_refused_not_a_500(admin_client, admin_user, data):
    rule = rule_services.rule_create(
        user=admin_user,
        values={
            "name": "Existing",
            "conditions": [{"type": "band_is", "band": "red"}],
            "actions": ["notify"],
        },
    )

    response = admin_client.post(reverse("rules:active", args=[rule.pk]), data)

    assert response.status_code == 302
    assert Rule.objects.get(pk=rule.pk).active is False
